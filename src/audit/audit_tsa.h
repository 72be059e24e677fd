/* audit_tsa.h - RFC 3161 time-stamps of signed checkpoints from a Time Stamping
 * Authority (OpenSSL's TS), so that a checkpoint provably existed at a time vouched for
 * by a third party. The token is the DER TimeStampResp; anyone checks it with
 * `openssl ts -verify -data checkpoint -in checkpoint.tsr -CAfile tsa.pem`. */
#ifndef CS_AUDIT_TSA_H
#define CS_AUDIT_TSA_H

#include "util/buf.h"
#include "util/error.h"

#include <stddef.h>

#define CS_AUDIT_TSA_RESP_MAX (64 * 1024)

/* Asks the TSA at url (HTTP POST, application/timestamp-query) to stamp SHA-256(data)
 * with a random nonce and certReq. The reply must be granted and carry our imprint and
 * nonce; when ca_file is not NULL its signature and certificate chain are verified
 * too. Appends the DER TimeStampResp to resp and writes the TSA's genTime (RFC 3339)
 * to gen_time. Returns 0, CS_EIO (transport), CS_EAUTH (a reply that does not verify)
 * or CS_EPARSE. */
int cs_audit_tsa_stamp(const char *url, const void *data, size_t len, const char *ca_file,
                       cs_buf *resp, char gen_time[40], cs_err *err);

#endif
