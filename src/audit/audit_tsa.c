/* audit_tsa.c - RFC 3161 Time-Stamp Protocol client for checkpoints (see audit_tsa.h):
 * the request and the checks of the reply through OpenSSL's TS, the transport libcurl. */
#include "audit/audit_tsa.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TSA_TIMEOUT_SECONDS 20L

/* TimeStampReq {version 1, messageImprint SHA-256(data), nonce, certReq TRUE}. */
static TS_REQ *make_request(const void *data, size_t len)
{
    unsigned char digest[32], nonce_bytes[8];
    unsigned int dlen = 0;
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *nonce = NULL;
    int ok = req && mi && alg && EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) &&
             X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) &&
             TS_MSG_IMPRINT_set_algo(mi, alg) && TS_MSG_IMPRINT_set_msg(mi, digest, (int)dlen) &&
             TS_REQ_set_version(req, 1) && TS_REQ_set_msg_imprint(req, mi) &&
             RAND_bytes(nonce_bytes, sizeof nonce_bytes) == 1 &&
             (bn = BN_bin2bn(nonce_bytes, sizeof nonce_bytes, NULL)) != NULL &&
             (nonce = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && TS_REQ_set_nonce(req, nonce) &&
             TS_REQ_set_cert_req(req, 1);
    ASN1_INTEGER_free(nonce);
    BN_free(bn);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    if (!ok) {
        TS_REQ_free(req);
        return NULL;
    }
    return req;
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    return cs_buf_append(ctx, p, size * n) == 0 ? size * n : 0;
}

static int post(const char *url, const unsigned char *body, long len, cs_buf *out, cs_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/timestamp-query");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TSA_TIMEOUT_SECONDS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) return cs_err_set(err, CS_EIO, "TSA %s: %s", url, curl_easy_strerror(cc));
    if (status != 200) return cs_err_set(err, CS_EIO, "TSA %s: HTTP %ld", url, status);
    return 0;
}

static X509_STORE *load_store(const char *ca_file)
{
    X509_STORE *st = X509_STORE_new();
    if (st && X509_STORE_load_file(st, ca_file) == 1) return st;
    X509_STORE_free(st);
    return NULL;
}

static void format_time(const ASN1_GENERALIZEDTIME *t, char out[40])
{
    struct tm tm;
    out[0] = '\0';
    if (t && ASN1_TIME_to_tm(t, &tm) == 1) strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Checks the reply against the request: status granted, version, imprint, nonce, and
 * the signature and chain when a CA file is given. */
static int check(TS_REQ *req, const cs_buf *der, const char *ca_file, char gen_time[40],
                 cs_err *err)
{
    const unsigned char *p = (const unsigned char *)der->data;
    TS_RESP *resp = d2i_TS_RESP(NULL, &p, (long)der->len);
    if (resp == NULL) return cs_err_set(err, CS_EPARSE, "the TSA's reply is not a TimeStampResp");
    TS_VERIFY_CTX *ctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
    int rc = 0;
    if (ca_file) {
        X509_STORE *st = load_store(ca_file);
        if (st == NULL) {
            rc = cs_err_set(err, CS_EIO, "%s: cannot load the TSA's CA certificates", ca_file);
            goto out;
        }
        TS_VERIFY_CTX_set_store(ctx, st);
        TS_VERIFY_CTX_add_flags(ctx, TS_VFY_SIGNATURE);
    }
    if (TS_RESP_verify_response(ctx, resp) != 1) {
        unsigned long e = ERR_get_error();
        rc = cs_err_set(err, CS_EAUTH, "the TSA's reply does not verify: %s",
                        e ? ERR_reason_error_string(e) : "bad status, imprint or nonce");
        goto out;
    }
    format_time(TS_TST_INFO_get_time(TS_RESP_get_tst_info(resp)), gen_time);
out:
    ERR_clear_error();
    TS_VERIFY_CTX_free(ctx);
    TS_RESP_free(resp);
    return rc;
}

int cs_audit_tsa_stamp(const char *url, const void *data, size_t len, const char *ca_file,
                       cs_buf *resp, char gen_time[40], cs_err *err)
{
    TS_REQ *req = make_request(data, len);
    if (req == NULL) return cs_err_set(err, CS_EINTERNAL, "cannot build a time-stamp request");
    unsigned char *der = NULL;
    int n = i2d_TS_REQ(req, &der);
    int rc = n > 0 ? post(url, der, n, resp, err)
                   : cs_err_set(err, CS_EINTERNAL, "cannot encode the request");
    if (rc == 0) rc = check(req, resp, ca_file, gen_time, err);
    OPENSSL_free(der);
    TS_REQ_free(req);
    return rc;
}
