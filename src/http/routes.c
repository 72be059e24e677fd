/* routes.c - the router: method + path -> handler, authentication, content type
 * and JSON parsing before any handler sees the body. */
#include "http/http_int.h"

#include "notify/notify.h"
#include "util/alloc.h"
#include "web/web.h"

#include <stdlib.h>
#include <string.h>

#define ID_MAX 64

static void problem(cs_req *r, int status, const char *type, const char *detail)
{
    cs_reply_problem(&r->reply, status, type, detail);
}

static const char *header(cs_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static const char *query(cs_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int cs_http_authenticate(cs_req *r)
{
    /* Authorization is a singleton field (RFC 9110 §5.3): two of them (one added on
     * the way, say) leave it open which identity is asking, so neither is used. */
    if (r->n_auth > 1) { /* counted when the request arrived (server.c) */
        problem(r, 400, "invalid-header", "send one Authorization header, not several");
        return -1;
    }
    const char *auth = header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && !strncasecmp(auth, "Bearer ", 7)) r->who = cs_gateway_authenticate(r->http->gw, auth + 7);
    else if (cs_web_session_auth(r) != 0) return -1; /* a session cookie without its CSRF token */
    if (r->who == NULL) {
        problem(r, 401, "unauthenticated", "send Authorization: Bearer <token> with a valid token");
        return -1;
    }
    return 0;
}

/* Parses the body as a JSON object. Empty bodies are {} when allowed. */
static json_t *body_json(cs_req *r, int empty_ok)
{
    if (r->body.len == 0 && empty_ok) return json_object();
    const char *ct = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = strlen("application/json");
    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0 || (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
        problem(r, 415, "unsupported-media-type", "send the body as application/json");
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        char detail[300];
        snprintf(detail, sizeof detail, "line %d column %d: %s", je.line, je.column, je.text);
        problem(r, 400, "malformed-json", detail);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        problem(r, 400, "invalid-body", "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

static void op_complete(cs_op *op)
{
    cs_req *r = op->ctx;
    if (!op->ran_inline) MHD_resume_connection(r->conn);
}

static void op_queued(cs_op *op)
{
    cs_req *r = op->ctx;
    cs_http_op_suspended(r);
    MHD_suspend_connection(r->conn);
}

/* Starts a state-changing op: validation errors answer at once; so does an op that
 * commits on this thread (a quiet gateway); otherwise the connection sleeps until
 * the writer thread has made the change durable. */
static void start_op(cs_req *r, int kind, const char *id, json_t *args)
{
    cs_op *op = cs_op_new(r->http->gw, kind, r->who, r->addr, id, args);
    op->complete = op_complete;
    op->queued = op_queued;
    op->may_inline = cs_http_thread_solo(r);
    op->ctx = r;
    if (kind == CS_OP_SUBMIT) {
        const char *key = header(r, "Idempotency-Key");
        if (key) {
            size_t n = strlen(key);
            int ok = n > 0 && n <= 255;
            for (size_t i = 0; i < n && ok; i++) ok = key[i] > 0x20 && key[i] < 0x7f;
            if (!ok) {
                problem(r, 400, "invalid-header", "Idempotency-Key must be 1-255 visible ASCII characters");
                cs_op_free(op);
                return;
            }
            op->idem_key = cs_strdup(key);
        }
    }
    r->op = op;
    r->state = RS_WAIT_OP;
    if (cs_gateway_run(r->http->gw, op) != 0 || op->ran_inline) {
        /* Refused before the writer, or already durable: answer now, as on a resume. */
        if (r->on_resume) {
            r->on_resume(r); /* renders and queues its own response */
            return;
        }
        cs_http_resumed(r);
        r->state = RS_READ;
    }
}

void cs_http_start_op(cs_req *r, int kind, const char *id, json_t *args)
{
    start_op(r, kind, id, args);
}

static void poll_fired(cs_watch *w, int timed_out)
{
    cs_req *r = w->ctx;
    r->changed = json_incref((json_t *)w->doc);
    MHD_resume_connection(r->conn);
}

static void get_action(cs_req *r, const char *id)
{
    cs_gateway *gw = r->http->gw;
    const char *wait = query(r, "wait");
    long long secs = 0;
    if (wait) {
        char *end;
        secs = strtoll(wait, &end, 10);
        if (!*wait || *end || secs < 0 || secs > cs_gateway_config(gw)->max_wait_s) {
            problem(r, 400, "invalid-parameter", "wait must be a number of seconds from 0 to 300");
            json_object_set_new(r->reply.body, "field", json_string("wait"));
            return;
        }
    }
    cs_gateway_get(gw, id, &r->reply);
    if (secs == 0 || r->reply.status != 200 || !cs_action_is_pending(r->reply.body) || cs_gateway_stopping(gw)) return;
    cs_reply_clear(&r->reply);
    /* Suspend first, then register, then look again: a change between the first
     * read and the registration is caught by the second read. */
    snprintf(r->watch.id, sizeof r->watch.id, "%s", id);
    r->watch.deadline_ms = cs_now_ms() + secs * 1000;
    r->watch.fn = poll_fired;
    r->watch.ctx = r;
    r->state = RS_WAIT_POLL;
    MHD_suspend_connection(r->conn);
    cs_watch_add(cs_gateway_watchers(gw), &r->watch);
    cs_reply check = {0};
    cs_gateway_get(gw, id, &check);
    if (check.status != 200 || !cs_action_is_pending(check.body)) {
        if (cs_watch_cancel(cs_gateway_watchers(gw), &r->watch)) MHD_resume_connection(r->conn);
    }
    cs_reply_clear(&check);
}

void cs_http_resumed(cs_req *r)
{
    if (r->state == RS_WAIT_OP) {
        r->reply = r->op->reply;
        memset(&r->op->reply, 0, sizeof r->op->reply);
        cs_op_free(r->op);
        r->op = NULL;
    } else if (r->changed == NULL) {
        cs_gateway_get(r->http->gw, r->watch.id, &r->reply);
    }
}

/* Splits /v1/actions/{id}/{verb}; returns 1 when the URL has this shape. */
static int action_path(const char *url, char *id, const char **verb)
{
    const char *p = url + strlen("/v1/actions/");
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n > ID_MAX) return 0;
    memcpy(id, p, n);
    id[n] = '\0';
    *verb = slash ? slash + 1 : "";
    return 1;
}

static void with_body(cs_req *r, int kind, const char *id, int empty_ok)
{
    json_t *args = body_json(r, empty_ok);
    if (args == NULL) return;
    start_op(r, kind, id, args);
    json_decref(args);
}

/* Prometheus text format: a few gauges and counters. */
static void metrics(cs_req *r)
{
    char *notify = cs_notify_metrics(cs_gateway_notify(r->http->gw));
    char *frozen = cs_gateway_freeze_metrics(r->http->gw);
    char *commits = cs_gateway_commit_metrics(r->http->gw);
    char *text = cs_sprintf("# TYPE countersign_http_requests_total counter\n"
                            "countersign_http_requests_total %ld\n"
                            "# TYPE countersign_waiters gauge\n"
                            "countersign_waiters %ld\n%s%s%s",
                            atomic_load(&r->http->requests), cs_watch_count(cs_gateway_watchers(r->http->gw)), notify,
                            frozen, commits);
    free(notify);
    free(frozen);
    free(commits);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}

static int method_is(cs_req *r, const char *m)
{
    return !strcmp(r->method, m);
}

/* GET, or HEAD: RFC 9110 §9.3.2, the same answer without its content
 * (libmicrohttpd leaves the body out and keeps its Content-Length). */
static int method_reads(cs_req *r)
{
    return method_is(r, "GET") || method_is(r, "HEAD");
}

static void route_actions(cs_req *r)
{
    char id[ID_MAX + 1];
    const char *verb;
    if (!strcmp(r->url, "/v1/actions")) {
        if (method_is(r, "POST")) return with_body(r, CS_OP_SUBMIT, NULL, 0);
        if (method_reads(r))
            return cs_gateway_list(r->http->gw, query(r, "status"), query(r, "requester"), query(r, "limit"),
                                   query(r, "cursor"), &r->reply);
        return cs_reply_not_allowed(&r->reply, "GET, HEAD, POST", "use GET or POST");
    }
    if (!action_path(r->url, id, &verb)) return problem(r, 404, "not-found", "no such resource");
    if (!*verb) {
        if (!method_reads(r)) return cs_reply_not_allowed(&r->reply, "GET, HEAD", "use GET");
        return get_action(r, id);
    }
    if (!strcmp(verb, "events")) {
        if (!method_is(r, "GET")) return cs_reply_not_allowed(&r->reply, "GET", "use GET");
        cs_http_sse(r, id);
        return;
    }
    static const struct {
        const char *verb;
        int kind;
    } verbs[] = {{"approve", CS_OP_APPROVE}, {"deny", CS_OP_DENY}, {"cancel", CS_OP_CANCEL}, {"outcome", CS_OP_OUTCOME},
                 {"rollback", CS_OP_ROLLBACK}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(verb, verbs[i].verb)) continue;
        if (!method_is(r, "POST")) return cs_reply_not_allowed(&r->reply, "POST", "use POST");
        return with_body(r, verbs[i].kind, id, verbs[i].kind != CS_OP_OUTCOME);
    }
    problem(r, 404, "not-found", "no such resource");
}

void cs_http_route(cs_req *r)
{
    const char *u = r->url;
    if (!strcmp(u, "/healthz") || !strcmp(u, "/readyz") || !strcmp(u, "/metrics") || !strcmp(u, "/v1/whoami")) {
        if (!method_reads(r)) return cs_reply_not_allowed(&r->reply, "GET, HEAD", "use GET");
    }
    if (!strcmp(u, "/healthz") || !strcmp(u, "/readyz")) {
        char version[96];
        cs_gateway_policy_version(r->http->gw, version, sizeof version);
        r->reply = (cs_reply){.status = cs_gateway_stopping(r->http->gw) ? 503 : 200,
                              .body = json_pack("{s:s,s:s,s:I,s:I}", "status", cs_gateway_stopping(r->http->gw) ? "stopping" : "ok",
                                                "policy_version", version, "freeze_epoch",
                                                (json_int_t)cs_gateway_freeze_epoch(r->http->gw),
                                                "token_epoch",
                                                (json_int_t)cs_gateway_token_epoch(r->http->gw))};
        return;
    }
    if (!strcmp(u, "/metrics")) return metrics(r);
    if (cs_web_route(r)) return; /* dashboard, approval page, sign-in (src/web/) */
    if (!strncmp(u, "/v1/audit/", 10)) return cs_http_audit(r);
    if (!strcmp(u, "/integrations/slack/interactions")) return cs_http_slack(r);
    if (cs_http_authenticate(r) != 0) return;
    if (cs_gateway_stopping(r->http->gw)) return problem(r, 503, "stopping", "the gateway is shutting down");
    if (!strcmp(u, "/v1/whoami")) return cs_gateway_whoami(r->who, &r->reply);
    if (!strcmp(u, "/v1/actions") || !strncmp(u, "/v1/actions/", 12)) return route_actions(r);
    if (!strcmp(u, "/v1/receipts/verify") || !strcmp(u, "/v1/receipts/consume")) {
        if (!method_is(r, "POST")) return cs_reply_not_allowed(&r->reply, "POST", "use POST");
        json_t *args = body_json(r, 0);
        if (args == NULL) return;
        if (!strcmp(u, "/v1/receipts/verify")) cs_gateway_receipt_verify(r->http->gw, args, &r->reply);
        else start_op(r, CS_OP_CONSUME, NULL, args);
        json_decref(args);
        return;
    }
    if (!strcmp(u, "/v1/freeze") && method_reads(r)) return cs_gateway_freezes(r->http->gw, &r->reply);
    if (!strcmp(u, "/v1/freeze") || !strcmp(u, "/v1/unfreeze")) {
        if (!method_is(r, "POST"))
            return cs_reply_not_allowed(&r->reply, !strcmp(u, "/v1/freeze") ? "GET, HEAD, POST" : "POST",
                                        "use POST (or GET /v1/freeze)");
        return with_body(r, !strcmp(u, "/v1/freeze") ? CS_OP_FREEZE : CS_OP_UNFREEZE, NULL, 0);
    }
    if (!strcmp(u, "/v1/tokens")) {
        if (!method_is(r, "POST")) return cs_reply_not_allowed(&r->reply, "POST", "use POST");
        return with_body(r, CS_OP_TOKEN_CREATE, NULL, 0);
    }
    if (!strncmp(u, "/v1/tokens/", 11) && strlen(u) > 11 && strlen(u) < 11 + ID_MAX && !strchr(u + 11, '/')) {
        if (!method_is(r, "DELETE")) return cs_reply_not_allowed(&r->reply, "DELETE", "use DELETE");
        return start_op(r, CS_OP_TOKEN_REVOKE, u + 11, NULL);
    }
    problem(r, 404, "not-found", "no such resource");
}
