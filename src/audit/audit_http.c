/* audit_http.c - fetching C2SP tlog-tiles resources (https://c2sp.org/tlog-tiles) with
 * libcurl for the offline verifier: 404 is "absent", every body is capped. */
#include "audit/audit_http.h"

#include "util/alloc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_SECONDS 60L

struct cs_audit_http {
    char *base;
    CURL *curl;
    char *bearer; /* sent as Authorization: Bearer, never to a redirect's other host */
};

cs_audit_http *cs_audit_http_new(const char *base_url)
{
    cs_audit_http *h = cs_calloc(1, sizeof *h);
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    h->base = cs_strndup(base_url, n);
    h->curl = curl_easy_init();
    if (h->curl == NULL) abort(); /* only fails without memory; see util/alloc.h */
    return h;
}

void cs_audit_http_free(cs_audit_http *h)
{
    if (h == NULL) return;
    curl_easy_cleanup(h->curl);
    cs_audit_http_set_bearer(h, NULL);
    free(h->base);
    free(h);
}

void cs_audit_http_set_bearer(cs_audit_http *h, const char *token)
{
    if (h->bearer) {
        memset(h->bearer, 0, strlen(h->bearer));
        free(h->bearer);
    }
    h->bearer = token && *token ? cs_strdup(token) : NULL;
}

typedef struct sink {
    cs_buf *out;
    int too_big;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    if (cs_buf_append(s->out, p, size * n) < 0) {
        s->too_big = 1;
        return 0; /* aborts the transfer */
    }
    return size * n;
}

static int http_fetch(void *ctx, const char *path, size_t max, cs_buf *out, cs_err *err)
{
    cs_audit_http *h = ctx;
    char *url = cs_sprintf("%s/%s", h->base, path);
    size_t saved_max = out->max, start = out->len;
    out->max = out->len + max;
    sink s = {out, 0};
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TIMEOUT_SECONDS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (h->bearer) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->bearer);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (s.too_big)
        rc = cs_err_set(err, CS_ETOOBIG, "%s: over %zu bytes", url, max);
    else if (cc == CURLE_FILE_COULDNT_READ_FILE)
        rc = cs_err_set(err, CS_ENOTFOUND, "%s: not found", url);
    else if (cc != CURLE_OK)
        rc = cs_err_set(err, CS_EIO, "%s: %s", url, curl_easy_strerror(cc));
    else if (status == 404 || status == 410)
        rc = cs_err_set(err, CS_ENOTFOUND, "%s: HTTP %ld", url, status);
    else if (status != 0 && (status < 200 || status > 299))
        rc = cs_err_set(err, CS_EIO, "%s: HTTP %ld", url, status);
    if (rc < 0) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    out->max = saved_max;
    free(url);
    return rc;
}

void cs_audit_http_source(cs_audit_http *h, cs_audit_source *src)
{
    src->fetch = http_fetch;
    src->ctx = h;
}

int cs_audit_verify_url(const char *base_url, const char *vkey, const char *trusted_path,
                        cs_audit_report *report, cs_err *err)
{
    cs_audit_http *h = cs_audit_http_new(base_url);
    cs_audit_source src;
    cs_audit_http_source(h, &src);
    int rc = cs_audit_verify_source(&src, vkey, trusted_path, report, err);
    cs_audit_http_free(h);
    return rc;
}
