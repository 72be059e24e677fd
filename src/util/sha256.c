/* sha256.c - SHA-256 through OpenSSL's EVP interface, with the algorithm fetched once
 * and one reusable context per thread: OpenSSL 3's one-shot SHA256() fetches the
 * algorithm on every call, which costs two thirds of the time for short inputs. The
 * context is freed when its thread exits. */
#include "util/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha_key;
static EVP_MD *sha_md;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha_init(void)
{
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha_md == NULL || pthread_key_create(&sha_key, free_ctx) != 0) abort();
}

void cs_sha256(const void *a, size_t alen, const void *b, size_t blen,
               unsigned char out[CS_SHA256_LEN])
{
    pthread_once(&sha_once, sha_init);
    EVP_MD_CTX *ctx = pthread_getspecific(sha_key);
    if (ctx == NULL) {
        if ((ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(sha_key, ctx) != 0) abort();
    }
    if (!EVP_DigestInit_ex(ctx, sha_md, NULL) || (alen && !EVP_DigestUpdate(ctx, a, alen)) ||
        (blen && !EVP_DigestUpdate(ctx, b, blen)) || !EVP_DigestFinal_ex(ctx, out, NULL))
        abort();
}
