/* sha256.h - SHA-256 of one or two pieces, through OpenSSL (its SHA extensions
 * where the CPU has them: ~6x libsodium's portable code for a 300-byte input here). */
#ifndef CS_UTIL_SHA256_H
#define CS_UTIL_SHA256_H

#include <stddef.h>

#define CS_SHA256_LEN 32

/* SHA-256 of a followed by b into out; either may be empty (NULL with length 0).
 * Safe from any thread; aborts only when OpenSSL cannot allocate (util/alloc.h). */
void cs_sha256(const void *a, size_t alen, const void *b, size_t blen,
               unsigned char out[CS_SHA256_LEN]);

#endif
