/* audit_http.h - a verification source that fetches a C2SP tlog-tiles log over HTTP(S)
 * (or file://) with libcurl, e.g. from a gateway's /v1/audit/ or a static mirror. */
#ifndef CS_AUDIT_HTTP_H
#define CS_AUDIT_HTTP_H

#include "audit/audit_verify.h"

typedef struct cs_audit_http cs_audit_http;

/* base_url is the prefix the tlog-tiles paths are appended to, for example
 * "http://127.0.0.1:8080/v1/audit" (a trailing slash is optional). */
cs_audit_http *cs_audit_http_new(const char *base_url);
void cs_audit_http_free(cs_audit_http *h);
/* A bearer token for servers that require one (the gateway's /v1/audit/ does for tiles);
 * NULL clears it. The token is copied and wiped on free. */
void cs_audit_http_set_bearer(cs_audit_http *h, const char *token);
void cs_audit_http_source(cs_audit_http *h, cs_audit_source *src);

/* cs_audit_verify_dir for a log served at base_url. */
int cs_audit_verify_url(const char *base_url, const char *vkey, const char *trusted_path,
                        cs_audit_report *report, cs_err *err);

#endif
