/* audit_checkpoint.c - C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint). */
#include "audit/audit_checkpoint.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define ROOT_B64_LEN 44

int cs_audit_checkpoint_format(const cs_audit_checkpoint *cp, cs_buf *out)
{
    char b64[ROOT_B64_LEN + 1];
    sodium_bin2base64(b64, sizeof b64, cp->root, CS_AUDIT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
    return cs_buf_printf(out, "%s\n%llu\n%s\n%s", cp->origin, (unsigned long long)cp->size, b64,
                         cp->extensions);
}

/* Returns the length of the line at s (without its newline) or -1 if there is no newline. */
static long line_len(const char *s, size_t left)
{
    const char *nl = memchr(s, '\n', left);
    return nl ? (long)(nl - s) : -1;
}

static int parse_size(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) return CS_EPARSE;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return CS_EPARSE;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return CS_EPARSE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_root(const char *s, size_t len, uint8_t root[CS_AUDIT_HASH_LEN])
{
    size_t n = 0;
    const char *end = NULL;
    if (len != ROOT_B64_LEN ||
        sodium_base642bin(root, CS_AUDIT_HASH_LEN, s, len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + len || n != CS_AUDIT_HASH_LEN)
        return CS_EPARSE;
    char again[ROOT_B64_LEN + 1];
    sodium_bin2base64(again, sizeof again, root, CS_AUDIT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
    return memcmp(again, s, len) == 0 ? 0 : CS_EPARSE;
}

int cs_audit_checkpoint_parse(const char *text, size_t len, cs_audit_checkpoint *cp, cs_err *err)
{
    memset(cp, 0, sizeof *cp);
    const char *s = text;
    size_t left = len;
    long n = line_len(s, left);
    if (n <= 0 || n > CS_AUDIT_ORIGIN_MAX || memchr(s, '\0', (size_t)n))
        return cs_err_set(err, CS_EPARSE, "checkpoint: bad origin line");
    memcpy(cp->origin, s, (size_t)n);
    s += n + 1, left -= (size_t)n + 1;
    if ((n = line_len(s, left)) < 0 || parse_size(s, (size_t)n, &cp->size) < 0)
        return cs_err_set(err, CS_EPARSE, "checkpoint: bad tree size line");
    s += n + 1, left -= (size_t)n + 1;
    if ((n = line_len(s, left)) < 0 || parse_root(s, (size_t)n, cp->root) < 0)
        return cs_err_set(err, CS_EPARSE, "checkpoint: bad root hash line");
    s += n + 1, left -= (size_t)n + 1;
    if (left > CS_AUDIT_EXTENSIONS_MAX)
        return cs_err_set(err, CS_EPARSE, "checkpoint: extension lines over %d bytes",
                          CS_AUDIT_EXTENSIONS_MAX);
    for (size_t off = 0; off < left;) {
        n = line_len(s + off, left - off);
        if (n <= 0 || memchr(s + off, '\0', (size_t)n))
            return cs_err_set(err, CS_EPARSE, "checkpoint: bad extension line");
        off += (size_t)n + 1;
    }
    memcpy(cp->extensions, s, left);
    return 0;
}

int cs_audit_checkpoint_sign(const cs_audit_signer *s, const cs_audit_checkpoint *cp, cs_buf *out,
                             cs_err *err)
{
    cs_buf body;
    cs_buf_init(&body, CS_AUDIT_ORIGIN_MAX + CS_AUDIT_EXTENSIONS_MAX + 128);
    int rc = cs_audit_checkpoint_format(cp, &body);
    if (rc < 0)
        cs_err_set(err, rc, "checkpoint too big");
    else
        rc = cs_audit_note_sign(s, body.data, body.len, out, err);
    cs_buf_free(&body);
    return rc;
}

int cs_audit_checkpoint_of(const cs_audit_signer *s, cs_audit_tree *t, cs_audit_checkpoint *cp,
                           cs_err *err)
{
    memset(cp, 0, sizeof *cp);
    snprintf(cp->origin, sizeof cp->origin, "%s", s->name);
    cp->size = cs_audit_tree_size(t);
    return cs_audit_tree_root(t, cp->size, cp->root, err);
}

int cs_audit_checkpoint_make(const cs_audit_signer *s, cs_audit_tree *t, cs_buf *out,
                             cs_audit_checkpoint *cp, cs_err *err)
{
    cs_audit_checkpoint local;
    if (cp == NULL) cp = &local;
    int rc = cs_audit_checkpoint_of(s, t, cp, err);
    return rc < 0 ? rc : cs_audit_checkpoint_sign(s, cp, out, err);
}

int cs_audit_checkpoint_open(const char *msg, size_t len, const cs_audit_verifier *v,
                             cs_audit_checkpoint *cp, cs_err *err)
{
    cs_audit_note note;
    int rc = cs_audit_note_open(msg, len, v, 1, &note, err);
    if (rc < 0) return rc;
    rc = cs_audit_checkpoint_parse(note.text, note.text_len, cp, err);
    if (rc == 0 && strcmp(cp->origin, v->name) != 0)
        rc = cs_err_set(err, CS_EAUTH, "checkpoint origin \"%s\" is not the key name \"%s\"",
                        cp->origin, v->name);
    cs_audit_note_free(&note);
    return rc;
}
