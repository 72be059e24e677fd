/* client.c - libcurl client used by the CLI verbs. */
#include "cli/client.h"

#include "cli/cli.h"
#include "util/alloc.h"
#include "util/buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (16 * 1024 * 1024)

static volatile int *abort_flag;

void cs_client_set_abort(volatile int *flag)
{
    abort_flag = flag;
}

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return abort_flag && *abort_flag ? 1 : 0;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return cs_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

int cs_client_call(const char *method, const char *path, const json_t *body, const char *idem_key,
                   long timeout_s, long *status, json_t **out)
{
    const char *base = getenv("COUNTERSIGN_URL");
    const char *token = getenv("COUNTERSIGN_TOKEN");
    if (base == NULL || !*base) base = "http://127.0.0.1:8080";
    *out = NULL;
    char *url = cs_sprintf("%s%s", base, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cs_buf reply;
    cs_buf_init(&reply, REPLY_MAX);
    struct curl_slist *h = NULL;
    char *auth = NULL, *idem = NULL;
    if (token && *token) {
        auth = cs_sprintf("Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (text) h = curl_slist_append(h, "Content-Type: application/json");
    if (idem_key) {
        idem = cs_sprintf("Idempotency-Key: %s", idem_key);
        h = curl_slist_append(h, idem);
    }
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    else if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    CURLcode cr = curl_easy_perform(c);
    int rc = 0;
    if (cr == CURLE_ABORTED_BY_CALLBACK) {
        rc = -1;
    } else if (cr != CURLE_OK) {
        fprintf(stderr, "countersign: %s: %s\n", url, curl_easy_strerror(cr));
        rc = -1;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        *out = json_loadb(reply.data ? reply.data : "", reply.len, 0, NULL);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(idem);
    free(text);
    free(url);
    cs_buf_free(&reply);
    return rc;
}

void cs_client_print_problem(long status, const json_t *p)
{
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *detail = json_string_value(json_object_get(p, "detail"));
    const char *title = json_string_value(json_object_get(p, "title"));
    fprintf(stderr, "countersign: %ld %s: %s\n", status, type ? type : "error",
            detail  ? detail
            : title ? title
                    : "request failed");
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void cs_client_print_action(const json_t *a, int as_json)
{
    if (as_json) {
        char *t = json_dumps(a, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
        return;
    }
    json_t *req = json_object_get(a, "requester");
    printf("%s  %s  %s %s\n", str(a, "id"), str(a, "status"), str(a, "action"), str(a, "resource"));
    printf("  requester: %s::\"%s\"", str(req, "type"), str(req, "id"));
    if (json_object_get(req, "owner")) printf(" (owner %s)", str(req, "owner"));
    printf("\n");
    if (*str(a, "purpose")) printf("  purpose:   %s\n", str(a, "purpose"));
    json_t *pol = json_object_get(a, "policy");
    if (*str(pol, "explanation")) printf("  policy:    %s\n", str(pol, "explanation"));
    json_t *ap = json_object_get(a, "approval");
    if (ap) {
        json_t *votes = json_object_get(ap, "votes");
        size_t i, n = 0;
        json_t *v, *g;
        json_array_foreach(votes, i, v) n += !strcmp(str(v, "vote"), "approve");
        printf("  approval:  %zu of %lld from", n,
               (long long)json_integer_value(json_object_get(ap, "quorum")));
        json_array_foreach(json_object_get(ap, "groups"), i, g) printf(" %s", json_string_value(g));
        printf(", expires %s\n", str(ap, "expires_at"));
        json_array_foreach(votes, i, v)
            printf("    %s by %s%s%s\n", str(v, "vote"), str(v, "voter"),
                   *str(v, "reason") ? ": " : "", str(v, "reason"));
    }
    if (json_object_get(a, "receipt")) printf("  receipt:   %s\n", str(a, "receipt"));
    printf("  args_hash: %s\n", str(a, "args_hash"));
}

int cs_client_exit_for(const json_t *a)
{
    const char *s = str(a, "status");
    if (!strcmp(s, "allowed") || !strcmp(s, "approved")) return CS_EXIT_OK;
    if (!strcmp(s, "pending")) return CS_EXIT_PENDING;
    return CS_EXIT_DENIED;
}

int cs_client_seconds(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > CS_CLIENT_SECONDS_MAX) return -1;
    *out = v;
    return 0;
}
