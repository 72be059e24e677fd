/* audit_routes.c - GET /v1/audit/...: the signed checkpoint and verifier key (public),
 * C2SP tlog-tiles hash tiles and entry bundles, inclusion and consistency proofs
 * (bearer token), and the evidence export streamed from the store (human users only,
 * since entries say who did what). See docs/audit.md "HTTP API". */
#include "http/http_int.h"

#include "audit/audit_export.h"
#include "gateway/audit_log.h"
#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#define TILE_MAX (256 * 32 + 256 * 65537)
#define EXPORT_PAGE 256

static const char *query(cs_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void problem(cs_req *r, int status, const char *type, const char *detail)
{
    cs_reply_problem(&r->reply, status, type, detail);
}

static int is_user(const json_t *who)
{
    const char *kind = json_string_value(json_object_get(who, "kind"));
    return kind && !strcmp(kind, "user");
}

/* The normal bearer-token path; `human` also refuses agents. */
static int allowed(cs_req *r, int human)
{
    if (cs_http_authenticate(r) != 0) return 0;
    if (human && !is_user(r->who)) {
        problem(r, 403, "forbidden", "audit entries are readable by users, not agents");
        return 0;
    }
    return 1;
}

static void send_bytes(cs_req *r, int status, const char *ctype, const char *cache,
                       const void *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}

static void text_resource(cs_req *r, int key)
{
    cs_audit_log *log = cs_gateway_audit_log(r->http->gw);
    cs_buf b;
    cs_buf_init(&b, 1024 * 1024);
    int rc = key ? cs_audit_log_vkey(log, &b) : cs_audit_log_checkpoint(log, &b);
    if (rc == 0 && key) rc = cs_buf_putc(&b, '\n');
    if (rc)
        problem(r, 503, "audit-unavailable", "cannot read the audit log");
    else
        send_bytes(r, 200, "text/plain; charset=utf-8", "no-cache", b.data, b.len);
    cs_buf_free(&b);
}

static void tile(cs_req *r, const char *path)
{
    cs_buf b;
    cs_err err = {0};
    cs_buf_init(&b, TILE_MAX);
    int rc = cs_audit_log_tile(cs_gateway_audit_log(r->http->gw), path, strlen(path), &b, &err);
    /* Full tiles never change; a partial one is replaced by a wider or full one. */
    const char *cache =
        strstr(path, ".p/") ? "private, no-cache" : "private, max-age=31536000, immutable";
    if (rc == 0)
        send_bytes(r, 200, "application/octet-stream", cache, b.data ? b.data : "", b.len);
    else if (rc == CS_EPARSE || rc == CS_ENOTFOUND)
        problem(r, 404, "not-found", err.msg[0] ? err.msg : "no such tile");
    else
        problem(r, 503, "audit-unavailable", err.msg[0] ? err.msg : "cannot read the audit log");
    cs_buf_free(&b);
}

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (s == NULL || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19) return -1;
    *out = strtoull(s, &end, 10);
    return 0;
}

static void proof(cs_req *r, const char *index)
{
    unsigned long long i;
    cs_err err = {0};
    json_t *body = NULL;
    if (parse_u64(index, &i) != 0)
        return problem(r, 400, "invalid-parameter", "the index must be a decimal number");
    int rc = cs_audit_log_proof(cs_gateway_audit_log(r->http->gw), i, &body, &err);
    if (rc == CS_ENOTFOUND) return problem(r, 404, "not-found", err.msg);
    if (rc) return problem(r, 503, "audit-unavailable", err.msg);
    /* The entry says who did what: users see it, agents get the hashes only. */
    if (!is_user(r->who))
        json_object_del(body, "entry");
    r->reply = (cs_reply){.status = 200, .body = body};
}

static void consistency(cs_req *r)
{
    unsigned long long from = 0, to = 0;
    cs_err err = {0};
    json_t *body = NULL;
    /* to=0 would read as "the latest" below: a client that sends it asked for a
     * tree of no entries, which no proof reaches. */
    if (parse_u64(query(r, "from"), &from) != 0 ||
        (query(r, "to") && (parse_u64(query(r, "to"), &to) != 0 || to == 0)))
        return problem(r, 400, "invalid-parameter",
                       "from (and optionally to) must be decimal tree sizes");
    int rc = cs_audit_log_consistency(cs_gateway_audit_log(r->http->gw), from, to, &body, &err);
    if (rc == CS_EINVAL) return problem(r, 400, "invalid-parameter", err.msg);
    if (rc) return problem(r, 503, "audit-unavailable", err.msg);
    r->reply = (cs_reply){.status = 200, .body = body};
}

/* A streamed export: pages of rows from the store, formatted as they are sent. */
typedef struct export_stream {
    cs_audit_log *log;
    cs_audit_format fmt;
    cs_audit_scan q;
    cs_buf buf;
    size_t off;
    int done;
} export_stream;

static int export_row(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    export_stream *x = ctx;
    cs_err err = {0};
    x->q.from = index + 1;
    return cs_audit_export_record(x->fmt, (uint64_t)index, entry, len, &x->buf, &err);
}

static ssize_t export_read(void *cls, uint64_t pos, char *out, size_t max)
{
    export_stream *x = cls;
    if (x->off == x->buf.len && !x->done) {
        cs_buf_reset(&x->buf);
        x->off = 0;
        long long before = x->q.from;
        if (cs_audit_log_entries(x->log, &x->q, export_row, x) != 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (x->q.from == before) x->done = 1;
    }
    if (x->off == x->buf.len) return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = x->buf.len - x->off < max ? x->buf.len - x->off : max;
    memcpy(out, x->buf.data + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

static void export_free(void *cls)
{
    export_stream *x = cls;
    cs_buf_free(&x->buf);
    free(x);
}

static int time_param(cs_req *r, const char *name, long long *ms)
{
    const char *v = query(r, name);
    if (v == NULL) return 0;
    if (cs_audit_time_parse(v, ms) == 0) return 0;
    problem(r, 400, "invalid-parameter",
            "since and until are RFC 3339 UTC times (2026-11-21T03:00:00Z), dates or epoch ms");
    json_object_set_new(r->reply.body, "field", json_string(name));
    return -1;
}

static void export(cs_req *r)
{
    cs_audit_format fmt;
    long long since = 0, until = 0;
    if (cs_audit_format_parse(query(r, "format") ? query(r, "format") : "jsonl", &fmt) != 0)
        return problem(r, 400, "invalid-parameter", "format must be jsonl, csv or ocsf");
    if (time_param(r, "since", &since) || time_param(r, "until", &until)) return;
    export_stream *x = cs_calloc(1, sizeof *x);
    x->log = cs_gateway_audit_log(r->http->gw);
    x->fmt = fmt;
    /* Only what the published checkpoint covers: an export is always verifiable. */
    x->q = (cs_audit_scan){.from = 0,
                           .to = (long long)cs_audit_log_size(cs_gateway_audit_log(r->http->gw)),
                           .since_ms = since,
                           .until_ms = until,
                           .limit = EXPORT_PAGE};
    cs_buf_init(&x->buf, 64 * 1024 * 1024);
    cs_audit_export_begin(fmt, &x->buf);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, export_read, x, export_free);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, cs_audit_format_media_type(fmt));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}

static void timestamp(cs_req *r)
{
    json_t *body = NULL;
    int rc = cs_audit_log_timestamp(cs_gateway_audit_log(r->http->gw), &body);
    if (rc == CS_ENOTFOUND)
        return problem(r, 404, "not-found", "no checkpoint has been time-stamped (audit.tsa_url)");
    if (rc) return problem(r, 503, "audit-unavailable", "cannot read the time-stamp");
    r->reply = (cs_reply){.status = 200, .body = body};
}

void cs_http_audit(cs_req *r)
{
    const char *p = r->url + strlen("/v1/audit/");
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return cs_reply_not_allowed(&r->reply, "GET, HEAD", "use GET");
    if (!strcmp(p, "checkpoint")) return text_resource(r, 0);
    if (!strcmp(p, "key")) return text_resource(r, 1);
    if (!strcmp(p, "timestamp")) return timestamp(r);
    if (!strncmp(p, "tile/entries/", 13)) return allowed(r, 1) ? tile(r, p) : (void)0;
    if (!strcmp(p, "export")) return allowed(r, 1) ? export(r) : (void)0;
    if (!allowed(r, 0)) return;
    if (!strncmp(p, "tile/", 5)) return tile(r, p);
    if (!strncmp(p, "proof/", 6)) return proof(r, p + 6);
    if (!strcmp(p, "consistency")) return consistency(r);
    problem(r, 404, "not-found", "no such audit resource");
}
