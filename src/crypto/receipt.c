/* receipt.c - signed receipts (SPEC §1): the claims are canonical JSON (RFC 8785)
 * so that any verifier re-derives the same signed bytes. */
#include "crypto/crypto.h"

#include "util/alloc.h"
#include "util/jcs.h"

#include <string.h>

#define RECEIPT_PREFIX "csr1."
#define RECEIPT_MAX 8192

char *cs_receipt_issue(const cs_signer *s, const json_t *claims)
{
    char *canon = cs_jcs_dumps(claims);
    if (canon == NULL) return NULL;
    unsigned char sig[CS_SIG_BYTES];
    cs_signer_sign(s, canon, strlen(canon), sig);
    char *p = cs_b64url_encode(canon, strlen(canon));
    char *g = cs_b64url_encode(sig, sizeof sig);
    char *r = cs_sprintf("%s%s.%s", RECEIPT_PREFIX, p, g);
    free(canon);
    free(p);
    free(g);
    return r;
}

int cs_receipt_open(const unsigned char pub[CS_PUBKEY_BYTES], const char *receipt, json_t **claims,
                    cs_err *err)
{
    int rc = 0;
    size_t len = strlen(receipt);
    unsigned char *payload = NULL;
    if (len > RECEIPT_MAX || strncmp(receipt, RECEIPT_PREFIX, strlen(RECEIPT_PREFIX)) != 0)
        return cs_err_set(err, CS_EINVAL, "not a countersign receipt");
    const char *p = receipt + strlen(RECEIPT_PREFIX);
    const char *dot = strchr(p, '.');
    if (dot == NULL) return cs_err_set(err, CS_EINVAL, "malformed receipt");
    char *ptext = cs_strndup(p, (size_t)(dot - p));
    payload = cs_malloc(len + 1);
    long plen = cs_b64url_decode(ptext, payload, len);
    unsigned char sig[CS_SIG_BYTES + 1];
    long slen = cs_b64url_decode(dot + 1, sig, sizeof sig);
    if (plen < 0 || slen != CS_SIG_BYTES) {
        rc = cs_err_set(err, CS_EINVAL, "malformed receipt");
        goto out;
    }
    if (!cs_ed25519_verify(pub, payload, (size_t)plen, sig)) {
        rc = cs_err_set(err, CS_EPERM, "receipt signature does not verify");
        goto out;
    }
    json_error_t je;
    json_t *c = json_loadb((const char *)payload, (size_t)plen, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(c)) {
        json_decref(c);
        rc = cs_err_set(err, CS_EINVAL, "receipt claims are not an object");
        goto out;
    }
    *claims = c;
out:
    free(ptext);
    free(payload);
    return rc;
}
