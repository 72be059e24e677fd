/* audit_proof.c - C2SP tlog-proof files (https://c2sp.org/tlog-proof). */
#include "audit/audit_proof.h"

#include "util/alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char HEADER[] = "c2sp.org/tlog-proof@v1\n";

static int put_b64(cs_buf *out, const void *bin, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = cs_malloc(cap);
    sodium_bin2base64(s, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    int rc = cs_buf_puts(out, s);
    free(s);
    return rc;
}

int cs_audit_proof_format(cs_buf *out, uint64_t index, const uint8_t *hashes, size_t count,
                          const void *extra, size_t extra_len, const char *note, size_t note_len)
{
    if (count > CS_AUDIT_PROOF_MAX || extra_len > CS_AUDIT_PROOF_EXTRA_MAX) return CS_EINVAL;
    int rc = cs_buf_puts(out, HEADER);
    if (rc == 0 && extra && extra_len) {
        rc = cs_buf_puts(out, "extra ");
        if (rc == 0) rc = put_b64(out, extra, extra_len);
        if (rc == 0) rc = cs_buf_putc(out, '\n');
    }
    if (rc == 0) rc = cs_buf_printf(out, "index %llu\n", (unsigned long long)index);
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = put_b64(out, hashes + i * CS_AUDIT_HASH_LEN, CS_AUDIT_HASH_LEN);
        if (rc == 0) rc = cs_buf_putc(out, '\n');
    }
    if (rc == 0) rc = cs_buf_putc(out, '\n');
    if (rc == 0) rc = cs_buf_append(out, note, note_len);
    return rc;
}

int cs_audit_proof_build(cs_buf *out, cs_audit_tree *t, uint64_t index, const char *note,
                         size_t note_len, const cs_audit_verifier *key, cs_err *err)
{
    cs_audit_checkpoint cp;
    uint8_t hashes[CS_AUDIT_PROOF_MAX * CS_AUDIT_HASH_LEN], root[CS_AUDIT_HASH_LEN];
    size_t count;
    int rc = cs_audit_checkpoint_open(note, note_len, key, &cp, err);
    if (rc == 0) rc = cs_audit_tree_root(t, cp.size, root, err);
    if (rc == 0 && memcmp(root, cp.root, sizeof root) != 0)
        rc = cs_err_set(err, CS_ECONFLICT, "checkpoint root does not match the tree");
    if (rc == 0) rc = cs_audit_tree_inclusion_proof(t, index, cp.size, hashes, &count, err);
    if (rc == 0 &&
        (rc = cs_audit_proof_format(out, index, hashes, count, NULL, 0, note, note_len)) < 0)
        cs_err_set(err, rc, "proof too big");
    return rc;
}

/* Takes the next line (without its newline) off *s; -1 when there is no newline left. */
static long next_line(const char **s, size_t *left, const char **line)
{
    const char *nl = memchr(*s, '\n', *left);
    if (nl == NULL) return -1;
    *line = *s;
    long n = (long)(nl - *s);
    *left -= (size_t)n + 1;
    *s = nl + 1;
    return n;
}

static int parse_index(const char *s, size_t len, uint64_t *out)
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

/* Strict base64 of exactly `want` bytes (want 0: any length up to max). */
static int decode(const char *s, size_t len, uint8_t *bin, size_t max, size_t want, size_t *got)
{
    const char *end = NULL;
    if (len == 0 ||
        sodium_base642bin(bin, max, s, len, NULL, got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + len)
        return CS_EPARSE;
    if (want && *got != want) return CS_EPARSE;
    size_t cap = sodium_base64_ENCODED_LEN(*got, sodium_base64_VARIANT_ORIGINAL);
    char *again = cs_malloc(cap);
    sodium_bin2base64(again, cap, bin, *got, sodium_base64_VARIANT_ORIGINAL);
    int ok = strlen(again) == len && memcmp(again, s, len) == 0;
    free(again);
    return ok ? 0 : CS_EPARSE;
}

int cs_audit_proof_parse(const char *text, size_t len, cs_audit_proof *p, cs_err *err)
{
    memset(p, 0, sizeof *p);
    const char *s = text, *line;
    size_t left = len, got;
    long n;
    if (len > CS_AUDIT_PROOF_FILE_MAX) return cs_err_set(err, CS_ETOOBIG, "proof file too big");
    if (len < sizeof HEADER - 1 || memcmp(text, HEADER, sizeof HEADER - 1) != 0)
        return cs_err_set(err, CS_EPARSE, "not a c2sp.org/tlog-proof@v1 file");
    s += sizeof HEADER - 1, left -= sizeof HEADER - 1;
    if ((n = next_line(&s, &left, &line)) < 0) goto bad;
    if (n > 6 && memcmp(line, "extra ", 6) == 0) {
        p->extra = cs_malloc(CS_AUDIT_PROOF_EXTRA_MAX);
        if (decode(line + 6, (size_t)n - 6, p->extra, CS_AUDIT_PROOF_EXTRA_MAX, 0, &p->extra_len) <
            0)
            goto bad;
        if ((n = next_line(&s, &left, &line)) < 0) goto bad;
    }
    if (n < 7 || memcmp(line, "index ", 6) != 0 ||
        parse_index(line + 6, (size_t)n - 6, &p->index) < 0)
        goto bad;
    while ((n = next_line(&s, &left, &line)) > 0) {
        if (p->count >= CS_AUDIT_PROOF_MAX ||
            decode(line, (size_t)n, p->hashes + p->count * CS_AUDIT_HASH_LEN, CS_AUDIT_HASH_LEN,
                   CS_AUDIT_HASH_LEN, &got) < 0)
            goto bad;
        p->count++;
    }
    if (n < 0 || left == 0) goto bad; /* needs the blank line and a checkpoint after it */
    p->checkpoint = cs_strndup(s, left);
    p->checkpoint_len = left;
    return 0;
bad:
    cs_audit_proof_free(p);
    return cs_err_set(err, CS_EPARSE, "malformed tlog-proof file");
}

void cs_audit_proof_free(cs_audit_proof *p)
{
    free(p->extra);
    free(p->checkpoint);
    p->extra = NULL;
    p->checkpoint = NULL;
    p->extra_len = p->checkpoint_len = 0;
}

int cs_audit_proof_verify(const cs_audit_proof *p, const void *entry, size_t len,
                          const cs_audit_verifier *key, cs_audit_checkpoint *cp, cs_err *err)
{
    cs_audit_checkpoint local;
    if (cp == NULL) cp = &local;
    int rc = cs_audit_checkpoint_open(p->checkpoint, p->checkpoint_len, key, cp, err);
    if (rc < 0) return rc;
    uint8_t leaf[CS_AUDIT_HASH_LEN];
    cs_audit_leaf_hash(entry, len, leaf);
    if (cs_audit_verify_inclusion(leaf, p->index, cp->size, p->hashes, p->count, cp->root) < 0)
        return cs_err_set(err, CS_EAUTH, "entry is not at index %llu of the checkpoint's tree",
                          (unsigned long long)p->index);
    return 0;
}
