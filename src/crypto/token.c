/* token.c - bearer tokens: 32 random bytes, shown once, stored as SHA-256. */
#include "crypto/crypto.h"

#include "util/alloc.h"

#include <sodium.h>
#include <string.h>

char *cs_token_new(void)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char *b64 = cs_b64url_encode(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    char *tok = cs_sprintf("cst_%s", b64);
    sodium_memzero(b64, strlen(b64));
    free(b64);
    return tok;
}

void cs_token_hash(const char *token, char out[65])
{
    cs_sha256_hex(token, strlen(token), out);
}

int cs_ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}
