/* audit_note.c - C2SP signed-note (https://c2sp.org/signed-note): Ed25519 signatures
 * (type 0x01), key ids, verifier and signer key text. */
#include "audit/audit_note.h"

#include "util/alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALG_ED25519 0x01
#define SIG_LEN 64
/* "— " : U+2014 EM DASH, then a space */
static const char SIG_PREFIX[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4

/* Decodes one UTF-8 sequence; returns its length, or 0 when it is invalid (overlong,
 * surrogate, beyond U+10FFFF or truncated). */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (len == 0) return 0;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((c & 0xe0) == 0xc0)
        n = 2, v = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, v = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

/* Unicode White_Space characters, as Go's unicode.IsSpace sees them. */
static int is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

int cs_audit_key_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > CS_AUDIT_NAME_MAX) return 0;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f || cp == '+' || is_space(cp)) return 0;
        i += n;
    }
    return 1;
}

/* Note text: UTF-8 with no ASCII control character but newline. */
static int note_text_valid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\n')) return 0;
        i += n;
    }
    return 1;
}

uint32_t cs_audit_key_id(const char *name, const uint8_t pub[32])
{
    crypto_hash_sha256_state st;
    uint8_t sum[crypto_hash_sha256_BYTES];
    const unsigned char sep[2] = {'\n', ALG_ED25519};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pub, 32);
    crypto_hash_sha256_final(&st, sum);
    return (uint32_t)sum[0] << 24 | (uint32_t)sum[1] << 16 | (uint32_t)sum[2] << 8 | sum[3];
}

static int put_base64(cs_buf *out, const uint8_t *bin, size_t len)
{
    char tmp[256];
    if (sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) > sizeof tmp)
        return CS_EINVAL;
    sodium_bin2base64(tmp, sizeof tmp, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return cs_buf_puts(out, tmp);
}

/* Strict standard base64 (padded, canonical) of at most `max` bytes. */
static int get_base64(const char *s, size_t len, uint8_t *bin, size_t max, size_t *outlen)
{
    const char *end = NULL;
    if (len == 0 ||
        sodium_base642bin(bin, max, s, len, NULL, outlen, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != s + len)
        return CS_EPARSE;
    /* Reject non-canonical encodings (stray bits in the last character). */
    size_t cap = sodium_base64_ENCODED_LEN(*outlen, sodium_base64_VARIANT_ORIGINAL);
    char *again = cs_malloc(cap);
    sodium_bin2base64(again, cap, bin, *outlen, sodium_base64_VARIANT_ORIGINAL);
    int ok = strlen(again) == len && memcmp(again, s, len) == 0;
    free(again);
    return ok ? 0 : CS_EPARSE;
}

static int parse_hex8(const char *s, size_t len, uint32_t *out)
{
    if (len != 8) return CS_EPARSE;
    uint32_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return CS_EPARSE;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

int cs_audit_signer_from_seed(cs_audit_signer *s, const char *name, const uint8_t seed[32],
                              cs_err *err)
{
    size_t len = strlen(name);
    if (!cs_audit_key_name_valid(name, len))
        return cs_err_set(err, CS_EINVAL, "invalid key name \"%.64s\"", name);
    if (sodium_init() < 0) return cs_err_set(err, CS_EINTERNAL, "libsodium initialisation failed");
    memcpy(s->name, name, len + 1);
    crypto_sign_seed_keypair(s->pub, s->sec, seed);
    s->key_id = cs_audit_key_id(s->name, s->pub);
    return 0;
}

int cs_audit_signer_generate(cs_audit_signer *s, const char *name, cs_err *err)
{
    uint8_t seed[32];
    if (sodium_init() < 0) return cs_err_set(err, CS_EINTERNAL, "libsodium initialisation failed");
    randombytes_buf(seed, sizeof seed);
    int rc = cs_audit_signer_from_seed(s, name, seed, err);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* Splits "a+b+..." : returns the length up to the next '+' (or the end). */
static size_t field_len(const char *s, size_t len)
{
    const char *p = memchr(s, '+', len);
    return p ? (size_t)(p - s) : len;
}

int cs_audit_signer_parse(cs_audit_signer *s, const char *skey, size_t len, cs_err *err)
{
    static const char prefix[] = "PRIVATE+KEY+";
    uint8_t key[33];
    size_t keylen = 0;
    uint32_t id;
    int rc = CS_EPARSE;
    while (len > 0 && (skey[len - 1] == '\n' || skey[len - 1] == '\r'))
        len--;
    if (len < sizeof prefix - 1 || memcmp(skey, prefix, sizeof prefix - 1) != 0) goto out;
    skey += sizeof prefix - 1, len -= sizeof prefix - 1;
    size_t nlen = field_len(skey, len);
    if (nlen == len || !cs_audit_key_name_valid(skey, nlen)) goto out;
    const char *hex = skey + nlen + 1;
    size_t rest = len - nlen - 1, hlen = field_len(hex, rest);
    if (hlen == rest || parse_hex8(hex, hlen, &id) < 0) goto out;
    if (get_base64(hex + hlen + 1, rest - hlen - 1, key, sizeof key, &keylen) < 0 || keylen != 33 ||
        key[0] != ALG_ED25519)
        goto out;
    char name[CS_AUDIT_NAME_MAX + 1];
    memcpy(name, skey, nlen);
    name[nlen] = '\0';
    if ((rc = cs_audit_signer_from_seed(s, name, key + 1, err)) < 0) goto out;
    if (s->key_id != id) {
        cs_audit_signer_wipe(s);
        rc = cs_err_set(err, CS_EINVAL, "private key id does not match its key");
    }
out:
    sodium_memzero(key, sizeof key);
    if (rc == CS_EPARSE)
        cs_err_set(err, rc, "malformed private key (want PRIVATE+KEY+name+id+key)");
    return rc;
}

int cs_audit_signer_skey(const cs_audit_signer *s, cs_buf *out)
{
    uint8_t key[33];
    key[0] = ALG_ED25519;
    crypto_sign_ed25519_sk_to_seed(key + 1, s->sec);
    int rc = cs_buf_printf(out, "PRIVATE+KEY+%s+%08x+", s->name, s->key_id);
    if (rc == 0) rc = put_base64(out, key, sizeof key);
    sodium_memzero(key, sizeof key);
    return rc;
}

void cs_audit_signer_verifier(const cs_audit_signer *s, cs_audit_verifier *v)
{
    memcpy(v->name, s->name, sizeof v->name);
    memcpy(v->pub, s->pub, sizeof v->pub);
    v->key_id = s->key_id;
}

int cs_audit_signer_vkey(const cs_audit_signer *s, cs_buf *out)
{
    cs_audit_verifier v;
    cs_audit_signer_verifier(s, &v);
    return cs_audit_verifier_vkey(&v, out);
}

void cs_audit_signer_wipe(cs_audit_signer *s)
{
    sodium_memzero(s, sizeof *s);
}

int cs_audit_verifier_vkey(const cs_audit_verifier *v, cs_buf *out)
{
    uint8_t key[33];
    key[0] = ALG_ED25519;
    memcpy(key + 1, v->pub, 32);
    int rc = cs_buf_printf(out, "%s+%08x+", v->name, v->key_id);
    return rc == 0 ? put_base64(out, key, sizeof key) : rc;
}

int cs_audit_verifier_parse(cs_audit_verifier *v, const char *vkey, size_t len, cs_err *err)
{
    uint8_t key[64];
    size_t keylen = 0;
    uint32_t id;
    while (len > 0 && (vkey[len - 1] == '\n' || vkey[len - 1] == '\r'))
        len--;
    size_t nlen = field_len(vkey, len);
    if (nlen == len || !cs_audit_key_name_valid(vkey, nlen)) goto bad;
    const char *hex = vkey + nlen + 1;
    size_t rest = len - nlen - 1, hlen = field_len(hex, rest);
    if (hlen == rest || parse_hex8(hex, hlen, &id) < 0) goto bad;
    if (get_base64(hex + hlen + 1, rest - hlen - 1, key, sizeof key, &keylen) < 0 || keylen == 0)
        goto bad;
    if (key[0] != ALG_ED25519 || keylen != 33)
        return cs_err_set(err, CS_EINVAL, "verifier key is not an Ed25519 (type 0x01) key");
    memcpy(v->name, vkey, nlen);
    v->name[nlen] = '\0';
    memcpy(v->pub, key + 1, 32);
    v->key_id = cs_audit_key_id(v->name, v->pub);
    if (v->key_id != id)
        return cs_err_set(err, CS_EINVAL, "verifier key id does not match its key");
    return 0;
bad:
    return cs_err_set(err, CS_EPARSE, "malformed verifier key (want name+id+base64key)");
}

int cs_audit_note_sign(const cs_audit_signer *s, const char *text, size_t len, cs_buf *out,
                       cs_err *err)
{
    if (len == 0 || text[len - 1] != '\n' || !note_text_valid(text, len))
        return cs_err_set(err, CS_EINVAL,
                          "note text must be UTF-8 without controls, ending in a newline");
    uint8_t sig[4 + SIG_LEN];
    sig[0] = (uint8_t)(s->key_id >> 24), sig[1] = (uint8_t)(s->key_id >> 16);
    sig[2] = (uint8_t)(s->key_id >> 8), sig[3] = (uint8_t)s->key_id;
    crypto_sign_detached(sig + 4, NULL, (const unsigned char *)text, len, s->sec);
    int rc = cs_buf_append(out, text, len);
    if (rc == 0) rc = cs_buf_printf(out, "\n%s%s ", SIG_PREFIX, s->name);
    if (rc == 0) rc = put_base64(out, sig, sizeof sig);
    if (rc == 0) rc = cs_buf_putc(out, '\n');
    return rc < 0 ? cs_err_set(err, rc, "signed note too big") : 0;
}

/* Finds the last "\n\n" in msg; returns its offset or -1. */
static long last_blank_line(const char *msg, size_t len)
{
    for (size_t i = len; i >= 2; i--)
        if (msg[i - 2] == '\n' && msg[i - 1] == '\n') return (long)(i - 2);
    return -1;
}

/* Checks one signature line (without its newline) against the verifiers. Returns 1 when
 * a known key signed validly, 0 for an unknown key, or a negative code. */
static int check_sig_line(const char *line, size_t len, const char *text, size_t text_len,
                          const cs_audit_verifier *v, size_t nv, cs_err *err)
{
    if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
        return cs_err_set(err, CS_EPARSE, "malformed signature line");
    line += SIG_PREFIX_LEN, len -= SIG_PREFIX_LEN;
    const char *sp = memchr(line, ' ', len);
    if (sp == NULL) return cs_err_set(err, CS_EPARSE, "malformed signature line");
    size_t nlen = (size_t)(sp - line);
    /* Room for the signatures of other algorithms by other keys, which are skipped. */
    uint8_t sig[4096];
    size_t siglen = 0;
    if (!cs_audit_key_name_valid(line, nlen) ||
        get_base64(sp + 1, len - nlen - 1, sig, sizeof sig, &siglen) < 0 || siglen < 5)
        return cs_err_set(err, CS_EPARSE, "malformed signature line");
    uint32_t id = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 | (uint32_t)sig[2] << 8 | sig[3];
    for (size_t i = 0; i < nv; i++) {
        if (v[i].key_id != id || strlen(v[i].name) != nlen || memcmp(v[i].name, line, nlen) != 0)
            continue;
        if (siglen != 4 + SIG_LEN ||
            crypto_sign_verify_detached(sig + 4, (const unsigned char *)text, text_len, v[i].pub) !=
                0)
            return cs_err_set(err, CS_EAUTH, "invalid signature by key %s+%08x", v[i].name, id);
        return 1;
    }
    return 0;
}

int cs_audit_note_open(const char *msg, size_t len, const cs_audit_verifier *v, size_t nv,
                       cs_audit_note *note, cs_err *err)
{
    memset(note, 0, sizeof *note);
    if (len > CS_AUDIT_NOTE_MAX)
        return cs_err_set(err, CS_ETOOBIG, "note over %d bytes", CS_AUDIT_NOTE_MAX);
    if (!note_text_valid(msg, len))
        return cs_err_set(err, CS_EPARSE, "note is not UTF-8 text without control characters");
    long split = last_blank_line(msg, len);
    if (split < 0) return cs_err_set(err, CS_EPARSE, "note has no signature block");
    size_t text_len = (size_t)split + 1;
    const char *sigs = msg + split + 2;
    size_t left = len - (size_t)split - 2;
    if (left == 0 || sigs[left - 1] != '\n')
        return cs_err_set(err, CS_EPARSE, "malformed signature block");
    unsigned verified = 0, unknown = 0, lines = 0;
    while (left > 0) {
        const char *nl = memchr(sigs, '\n', left);
        size_t ll = (size_t)(nl - sigs);
        if (++lines > CS_AUDIT_NOTE_MAX_SIGS)
            return cs_err_set(err, CS_EPARSE, "too many signatures");
        int rc = check_sig_line(sigs, ll, msg, text_len, v, nv, err);
        if (rc < 0) return rc;
        if (rc == 1)
            verified++;
        else
            unknown++;
        sigs += ll + 1, left -= ll + 1;
    }
    if (verified == 0) return cs_err_set(err, CS_EAUTH, "note is not signed by a known key");
    note->text = cs_strndup(msg, text_len);
    note->text_len = text_len;
    note->verified = verified;
    note->unverified = unknown;
    return 0;
}

void cs_audit_note_free(cs_audit_note *note)
{
    free(note->text);
    note->text = NULL;
    note->text_len = 0;
}
