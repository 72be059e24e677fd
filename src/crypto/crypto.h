/* crypto.h - the one place countersign holds keys and handles secrets.
 *
 * keys.c loads the gateway's Ed25519 signing key (a file of mode 0600) and signs on
 * behalf of the others; token.c makes bearer tokens and hashes them (tokens are only
 * ever stored as hashes and compared in constant time); receipt.c issues and opens
 * signed receipts (SPEC §1). Built on libsodium. */
#ifndef CS_CRYPTO_CRYPTO_H
#define CS_CRYPTO_CRYPTO_H

#include <jansson.h>
#include <stddef.h>

#include "util/error.h"

#define CS_PUBKEY_BYTES 32
#define CS_SIG_BYTES 64

typedef struct cs_signer cs_signer;

int cs_crypto_init(void);

/* Creates a new key file (fails if it exists) with mode 0600. */
int cs_signing_key_generate(const char *path, cs_err *err);
/* Loads a key file; refuses files readable by group or others. */
int cs_signing_key_load(const char *path, cs_signer **out, cs_err *err);
void cs_signer_free(cs_signer *s);
/* The same Ed25519 key as the audit log's checkpoint signer (C2SP signed-note), named
 * `name` (the audit origin). The caller wipes it with cs_audit_signer_wipe. */
struct cs_audit_signer;
int cs_signer_audit(const cs_signer *s, const char *name, struct cs_audit_signer *out, cs_err *err);
const unsigned char *cs_signer_public(const cs_signer *s);
void cs_signer_sign(const cs_signer *s, const void *msg, size_t len,
                    unsigned char sig[CS_SIG_BYTES]);
/* 1 when sig is a valid signature of msg under pub. */
int cs_ed25519_verify(const unsigned char pub[CS_PUBKEY_BYTES], const void *msg, size_t len,
                      const unsigned char sig[CS_SIG_BYTES]);

/* Lowercase hex SHA-256 of data into out (65 bytes with the NUL). */
void cs_sha256_hex(const void *data, size_t len, char out[65]);
/* Unpadded base64url; the caller frees. */
char *cs_b64url_encode(const void *data, size_t len);
/* Decodes unpadded base64url into out (at most cap bytes); returns the length or -1. */
long cs_b64url_decode(const char *text, unsigned char *out, size_t cap);
/* Random identifier: prefix + n random bytes in lowercase base32-ish hex. */
char *cs_random_id(const char *prefix, size_t n);

/* A new bearer token "cst_<43 chars>"; the caller frees it after showing it once. */
char *cs_token_new(void);
/* The stored form of a token: hex SHA-256. High-entropy tokens need no slow hash. */
void cs_token_hash(const char *token, char out[65]);
/* Constant-time equality of two equal-length byte strings. */
int cs_ct_equal(const void *a, const void *b, size_t n);

/* Receipts: "csr1.<base64url(canonical JSON claims)>.<base64url(signature)>". */
char *cs_receipt_issue(const cs_signer *s, const json_t *claims);
/* Checks the signature and returns the claims (not_after is the caller's business). */
int cs_receipt_open(const unsigned char pub[CS_PUBKEY_BYTES], const char *receipt, json_t **claims,
                    cs_err *err);

#endif
