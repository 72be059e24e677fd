/* keys.c - the gateway's Ed25519 signing key: generated once by `init`, loaded once
 * at start, and used only through cs_signer_sign(). */
#include "crypto/crypto.h"

#include "audit/audit_note.h"
#include "util/alloc.h"
#include "util/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC "countersign-ed25519-seed-v1 "

struct cs_signer {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

int cs_crypto_init(void)
{
    return sodium_init() < 0 ? CS_EINTERNAL : 0;
}

int cs_signing_key_generate(const char *path, cs_err *err)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    char *b64 = cs_b64url_encode(seed, sizeof seed);
    sodium_memzero(seed, sizeof seed);
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        rc = cs_err_set(err, CS_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%s%s\n", KEY_MAGIC, b64);
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
        rc = cs_err_set(err, CS_EIO, "%s: %s", path, strerror(errno));
    sodium_memzero(line, sizeof line);
    close(fd);
out:
    sodium_memzero(b64, strlen(b64));
    free(b64);
    return rc;
}

int cs_signing_key_load(const char *path, cs_signer **out, cs_err *err)
{
    int rc = 0;
    char line[256] = {0};
    unsigned char seed[64];
    FILE *f = fopen(path, "r");
    if (f == NULL) return cs_err_set(err, CS_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        rc = cs_err_set(err, CS_EPERM, "%s: signing key must have mode 0600", path);
        goto out;
    }
    if (fgets(line, sizeof line, f) == NULL || strncmp(line, KEY_MAGIC, strlen(KEY_MAGIC)) != 0) {
        rc = cs_err_set(err, CS_EPARSE, "%s: not a countersign signing key", path);
        goto out;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (cs_b64url_decode(line + strlen(KEY_MAGIC), seed, sizeof seed) != crypto_sign_SEEDBYTES) {
        rc = cs_err_set(err, CS_EPARSE, "%s: bad key encoding", path);
        goto out;
    }
    cs_signer *s = sodium_malloc(sizeof *s);
    if (s == NULL) abort();
    crypto_sign_seed_keypair(s->pk, s->sk, seed);
    *out = s;
out:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(line, sizeof line);
    fclose(f);
    return rc;
}

void cs_signer_free(cs_signer *s)
{
    if (s) sodium_free(s);
}

int cs_signer_audit(const cs_signer *s, const char *name, cs_audit_signer *out, cs_err *err)
{
    /* libsodium's secret key is seed || public key: the seed is all the note signer needs. */
    return cs_audit_signer_from_seed(out, name, s->sk, err);
}

const unsigned char *cs_signer_public(const cs_signer *s)
{
    return s->pk;
}

void cs_signer_sign(const cs_signer *s, const void *msg, size_t len,
                    unsigned char sig[CS_SIG_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, s->sk);
}

int cs_ed25519_verify(const unsigned char pub[CS_PUBKEY_BYTES], const void *msg, size_t len,
                      const unsigned char sig[CS_SIG_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, pub) == 0;
}

void cs_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[CS_SHA256_LEN];
    cs_sha256(data, len, NULL, 0, h);
    sodium_bin2hex(out, 65, h, sizeof h);
}

char *cs_b64url_encode(const void *data, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = cs_malloc(n);
    sodium_bin2base64(s, n, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

long cs_b64url_decode(const char *text, unsigned char *out, size_t cap)
{
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, cap, text, strlen(text), NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        (end && *end))
        return -1;
    return (long)n;
}

/* Random bytes for ids from a per-thread pool refilled from the kernel 512 bytes at a
 * time: one getrandom per 64 ids instead of one per id. Bytes are wiped as they are
 * handed out; a forked child (only the forking thread survives) drops its copy. */
static _Thread_local unsigned char pool[512];
static _Thread_local size_t pool_left;

static void pool_drop(void)
{
    sodium_memzero(pool, sizeof pool);
    pool_left = 0;
}

static void pool_init(void)
{
    pthread_atfork(NULL, NULL, pool_drop);
}

static void pooled_random(unsigned char *out, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, pool_init);
    if (n > sizeof pool) {
        randombytes_buf(out, n);
        return;
    }
    if (pool_left < n) {
        randombytes_buf(pool, sizeof pool);
        pool_left = sizeof pool;
    }
    unsigned char *from = pool + sizeof pool - pool_left;
    memcpy(out, from, n);
    sodium_memzero(from, n);
    pool_left -= n;
}

char *cs_random_id(const char *prefix, size_t n)
{
    unsigned char raw[32];
    if (n > sizeof raw) n = sizeof raw;
    pooled_random(raw, n);
    size_t pn = strlen(prefix);
    char *id = cs_malloc(pn + 2 * n + 1);
    memcpy(id, prefix, pn);
    sodium_bin2hex(id + pn, 2 * n + 1, raw, n);
    return id;
}
