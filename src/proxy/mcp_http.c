/* mcp_http.c - the Streamable HTTP relay (MCP 2025-06-18, also 2025-03-26): one
 * endpoint taking POST (client messages), GET (server-initiated SSE stream) and
 * DELETE (end of session), relayed to the upstream URL with libcurl; answers,
 * SSE streams and Mcp-Session-Id are passed through.
 *
 * Threads: libmicrohttpd runs a thread per client connection; each upstream
 * exchange runs on a worker thread feeding a cs_mcp_stream that the connection
 * thread drains. A held tools/call is answered at once with an SSE stream that
 * carries progress notifications, then the upstream answer, so it blocks nothing
 * else. */
#include "proxy/mcp_proxy.h"

#include "proxy/mcp_pool.h"
#include "proxy/mcp_stream.h"
#include "util/alloc.h"
#include "util/log.h"

#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CURL_POOL_MAX 16
#define SSE_SETTLE_US 1000
#define WORKERS_MAX 1024
/* Client connections at once (a thread each). A connection that sends nothing for
 * the idle timeout while it should (between requests, or in the middle of one) is
 * closed, so stalled clients free their threads; once a request is in, it has no
 * timeout until it completes (see on_request). */
#define CONNECTIONS_MAX 1024

typedef struct httpd {
    cs_mcp_gate *gate;
    const cs_mcp_opts *o;
    const char *upstream;
    pthread_mutex_t mu;
    cs_mcp_pool *pool;            /* upstream transfers and held calls */
    CURL *handles[CURL_POOL_MAX]; /* idle upstream handles, with their keep-alive connections */
    int nhandles;
    cs_mcp_stream **live; /* streams a client is reading */
    size_t nlive, caplive;
} httpd;

static unsigned idle_timeout(const httpd *h)
{
    return h->o->idle_timeout_s ? h->o->idle_timeout_s : 60u;
}

typedef struct hreq {
    cs_buf body;
    int too_big;
    int lengths; /* Content-Length fields in the request */
} hreq;

typedef struct reader_ctx {
    httpd *h;
    cs_mcp_stream *s;
    int fd;
} reader_ctx;

/* Request headers the upstream MCP endpoint needs. */
static const char *const forwarded[] = {"accept",
                                        "content-type",
                                        "mcp-session-id",
                                        "mcp-protocol-version",
                                        "last-event-id",
                                        "authorization",
                                        NULL};

static enum MHD_Result add_forwarded(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    cs_mcp_stream *s = cls;
    for (int i = 0; forwarded[i]; i++) {
        if (strcasecmp(key, forwarded[i]) || value == NULL) continue;
        char *line = cs_sprintf("%s: %s", key, value);
        s->req_headers = curl_slist_append(s->req_headers, line);
        free(line);
    }
    return MHD_YES;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static int accepts_sse(struct MHD_Connection *conn)
{
    const char *a = header(conn, "Accept");
    return a && strstr(a, "text/event-stream") != NULL;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                    const char *text)
{
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        n--;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result respond_line(struct MHD_Connection *conn, unsigned status, char *line)
{
    enum MHD_Result rc = respond_text(conn, status, "application/json", line);
    free(line);
    return rc;
}

static enum MHD_Result count_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) ((hreq *)cls)->lengths++;
    return MHD_YES;
}

/* Several Content-Length fields leave the body's end in doubt (RFC 9112 §6.3): a
 * proxy in front of this one may have cut the body by another of them and sent the
 * rest as a request of its own. Refused, and the connection is closed. */
static enum MHD_Result refuse_framing(struct MHD_Connection *conn)
{
    char *line = cs_rpc_error_line(NULL, CS_RPC_INVALID_REQUEST,
                                   "countersign mcp-proxy: send one Content-Length header, not "
                                   "several");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(line), line, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(conn, 400, r);
    MHD_destroy_response(r);
    return rc;
}

static void live_add(httpd *h, cs_mcp_stream *s);
static void live_del(httpd *h, cs_mcp_stream *s);

/* Every stream is listed until its client side lets go, so that stopping reaches it. */
static cs_mcp_stream *new_stream(httpd *h, struct MHD_Connection *conn, const char *method,
                                 const hreq *r)
{
    cs_mcp_stream *s = cs_mcp_stream_new(h->upstream, method, h->o->max_server_msg);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_forwarded, s);
    s->req_headers = curl_slist_append(s->req_headers, "Expect:");
    if (r->body.len) {
        s->body = cs_strndup(r->body.data, r->body.len);
        s->body_len = r->body.len;
    }
    live_add(h, s);
    return s;
}

static void client_release(httpd *h, cs_mcp_stream *s)
{
    live_del(h, s);
    cs_mcp_stream_release(s);
}

static void live_add(httpd *h, cs_mcp_stream *s)
{
    pthread_mutex_lock(&h->mu);
    h->live = cs_grow(h->live, &h->caplive, h->nlive + 1, sizeof *h->live);
    h->live[h->nlive++] = s;
    pthread_mutex_unlock(&h->mu);
}

static void live_del(httpd *h, cs_mcp_stream *s)
{
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->nlive; i++)
        if (h->live[i] == s) {
            h->live[i] = h->live[--h->nlive];
            break;
        }
    pthread_mutex_unlock(&h->mu);
}

typedef struct work {
    httpd *h;
    cs_mcp_stream *s;
} work;

static CURL *take_handle(httpd *h)
{
    pthread_mutex_lock(&h->mu);
    CURL *c = h->nhandles ? h->handles[--h->nhandles] : NULL;
    pthread_mutex_unlock(&h->mu);
    return c ? c : curl_easy_init();
}

static void give_handle(httpd *h, CURL *c)
{
    pthread_mutex_lock(&h->mu);
    if (h->nhandles < CURL_POOL_MAX) h->handles[h->nhandles++] = c, c = NULL;
    pthread_mutex_unlock(&h->mu);
    if (c) curl_easy_cleanup(c);
}

static void fetch(httpd *h, cs_mcp_stream *s)
{
    CURL *c = take_handle(h);
    cs_mcp_stream_fetch(s, c);
    give_handle(h, c);
}

static void fetch_worker(void *arg)
{
    work *w = arg;
    fetch(w->h, w->s);
    cs_mcp_stream_release(w->s);
    free(w);
}

static void event_to_stream(void *ctx, const char *line)
{
    cs_mcp_stream_event(ctx, line);
}

/* A held call: progress events, then the upstream answer (or an error result). */
static void held_worker(void *arg)
{
    work *w = arg;
    cs_mcp_stream *s = w->s;
    cs_mcp_call *c = s->call;
    cs_mcp_verdict v;
    cs_mcp_gate_hold(w->h->gate, c, event_to_stream, s, &v);
    if (v.kind == CS_MCP_FORWARD) {
        snprintf(s->action_id, sizeof s->action_id, "%s", c->action_id);
        snprintf(s->id_key, sizeof s->id_key, "%s", c->id_key);
        s->gate = w->h->gate;
        fetch(w->h, s);
    } else {
        if (v.kind == CS_MCP_RESPOND) cs_mcp_stream_event(s, v.response);
        cs_mcp_stream_finish(s);
    }
    cs_mcp_verdict_clear(&v);
    pthread_mutex_lock(&s->mu);
    s->call = NULL;
    pthread_mutex_unlock(&s->mu);
    cs_mcp_call_free(c);
    cs_mcp_stream_release(s);
    free(w);
}

/* Hands the stream's worker side to a pool thread. At the thread cap the stream
 * fails at once (the client gets an error) instead of waiting. */
static void start_worker(httpd *h, cs_mcp_stream *s, void (*fn)(void *))
{
    work *w = cs_calloc(1, sizeof *w);
    *w = (work){h, s};
    if (cs_mcp_pool_run(h->pool, fn, w) == 0) return;
    free(w);
    pthread_mutex_lock(&s->mu);
    s->failed = 1;
    snprintf(s->err, sizeof s->err, "too many requests in flight");
    cs_mcp_call *c = s->call;
    s->call = NULL;
    pthread_mutex_unlock(&s->mu);
    if (c) {
        char *line = cs_rpc_error_line(c->id, CS_RPC_INTERNAL_ERROR,
                                       "countersign mcp-proxy: too many requests in flight");
        cs_mcp_stream_event(s, line);
        free(line);
        cs_mcp_gate_drop(h->gate, c);
        cs_mcp_call_free(c);
    }
    cs_mcp_stream_finish(s);
    cs_mcp_stream_release(s);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    reader_ctx *rc = cls;
    long n = cs_mcp_stream_read(rc->s, buf, max, rc->fd);
    if (n > 0) return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void free_stream(void *cls)
{
    reader_ctx *rc = cls;
    cs_mcp_stream_abandon(rc->s); /* ends the upstream side if it is still running */
    client_release(rc->h, rc->s);
    free(rc);
}

static void add_headers(struct MHD_Response *r, const struct curl_slist *hs)
{
    for (; hs; hs = hs->next) {
        const char *colon = strchr(hs->data, ':');
        if (colon == NULL) continue;
        char *name = cs_strndup(hs->data, (size_t)(colon - hs->data));
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        MHD_add_response_header(r, name, v);
        free(name);
    }
}

static int client_fd(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static enum MHD_Result queue_streamed(httpd *h, struct MHD_Connection *conn, cs_mcp_stream *s,
                                      unsigned status)
{
    reader_ctx *rc = cs_calloc(1, sizeof *rc);
    *rc = (reader_ctx){h, s, client_fd(conn)};
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               read_stream, rc, free_stream);
    pthread_mutex_lock(&s->mu);
    if (s->wrap_sse) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    } else {
        add_headers(r, s->up_headers);
    }
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result res = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return res;
}

/* 502 with a JSON-RPC error naming what happened to the upstream (s->mu held; this
 * releases it and the stream). */
static enum MHD_Result server_gone(httpd *h, struct MHD_Connection *conn, cs_mcp_stream *s,
                                   const json_t *id, const char *what)
{
    char *why = cs_sprintf("countersign mcp-proxy: the MCP server %s: %s", what, s->err);
    pthread_mutex_unlock(&s->mu);
    client_release(h, s);
    enum MHD_Result rc = respond_line(conn, 502, cs_rpc_error_line(id, CS_RPC_SERVER_GONE, why));
    free(why);
    return rc;
}

/* Relays the upstream answer: SSE as it arrives, anything else once complete. */
static enum MHD_Result relay(httpd *h, struct MHD_Connection *conn, cs_mcp_stream *s,
                             const json_t *id)
{
    start_worker(h, s, fetch_worker);
    int fd = client_fd(conn);
    if (cs_mcp_stream_wait(s, 0, fd) != 0) {
        client_release(h, s);
        return MHD_NO;
    }
    pthread_mutex_lock(&s->mu);
    if (s->failed && s->up_status == 0) return server_gone(h, conn, s, id, "could not be reached");
    /* An event stream is relayed as it arrives, unless it is complete within a
     * millisecond of its headers (a single answer, the usual case for a POST, comes in
     * one piece right behind them): then it goes out whole, with a length, like a JSON
     * answer. One write to the client instead of a chunk per event and the last
     * chunk, and no wake-up of this thread for each. A stream that takes longer (a
     * tool sending progress) starts at most 1 ms later; one that outruns the backlog
     * limit meanwhile waits for its reader, so it streams too. */
    int sse = !strncasecmp(s->up_ctype, "text/event-stream", 17);
    if (sse) s->streaming = 1;
    if (sse && !cs_mcp_stream_settles_within(s, SSE_SETTLE_US)) {
        long status = s->up_status;
        pthread_mutex_unlock(&s->mu);
        return queue_streamed(h, conn, s, (unsigned)status);
    }
    pthread_mutex_unlock(&s->mu);
    if (cs_mcp_stream_wait(s, 1, fd) != 0) {
        client_release(h, s);
        return MHD_NO;
    }
    pthread_mutex_lock(&s->mu);
    if (s->failed) /* broke off in the middle of a JSON answer */
        return server_gone(h, conn, s, id, "failed before answering");
    struct MHD_Response *r = MHD_create_response_from_buffer(
        s->out.len, s->out.data ? s->out.data : "", MHD_RESPMEM_MUST_COPY);
    add_headers(r, s->up_headers);
    long status = s->up_status;
    pthread_mutex_unlock(&s->mu);
    client_release(h, s);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* A held call: answered at once with an SSE stream the worker fills. */
static enum MHD_Result hold_streamed(httpd *h, struct MHD_Connection *conn, const hreq *r,
                                     cs_mcp_call *c)
{
    cs_mcp_stream *s = new_stream(h, conn, "POST", r);
    s->wrap_sse = 1;
    s->streaming = 1;
    s->call = c;
    start_worker(h, s, held_worker);
    return queue_streamed(h, conn, s, 200);
}

static enum MHD_Result forward_call(httpd *h, struct MHD_Connection *conn, const hreq *r,
                                    cs_mcp_call *c)
{
    cs_mcp_stream *s = new_stream(h, conn, "POST", r);
    s->gate = h->gate;
    snprintf(s->action_id, sizeof s->action_id, "%s", c->action_id);
    snprintf(s->id_key, sizeof s->id_key, "%s", c->id_key);
    enum MHD_Result rc = relay(h, conn, s, c->id);
    cs_mcp_call_free(c);
    return rc;
}

static enum MHD_Result gated(httpd *h, struct MHD_Connection *conn, const hreq *r,
                             const cs_rpc_msg *m)
{
    const char *sid = header(conn, "Mcp-Session-Id");
    cs_mcp_call *c = NULL;
    char *line = NULL;
    if (cs_mcp_call_new(m, sid ? sid : "", &c, &line) != 0) return respond_line(conn, 200, line);
    cs_mcp_verdict v;
    cs_mcp_gate_begin(h->gate, c, &v);
    if (v.kind == CS_MCP_HOLD && accepts_sse(conn)) return hold_streamed(h, conn, r, c);
    if (v.kind == CS_MCP_HOLD)
        cs_mcp_gate_hold(h->gate, c, NULL, NULL, &v); /* no SSE: no progress */
    if (v.kind == CS_MCP_FORWARD) {
        enum MHD_Result fr = forward_call(h, conn, r, c);
        cs_mcp_gate_acted(h->gate);
        return fr;
    }
    cs_mcp_call_free(c);
    enum MHD_Result rc;
    if (v.kind == CS_MCP_RESPOND)
        rc = respond_text(conn, 200, "application/json", v.response);
    else
        rc = respond_text(conn, 202, NULL, ""); /* cancelled by the client: no answer */
    cs_mcp_verdict_clear(&v);
    return rc;
}

static int batch_has_call(const json_t *batch)
{
    size_t i;
    json_t *el;
    json_array_foreach(batch, i, el)
    {
        const char *method = json_string_value(json_object_get(el, "method"));
        if (method && !strcmp(method, "tools/call")) return 1;
    }
    return 0;
}

/* Relays a client message; a request's answer is watched for (see settle()). */
static enum MHD_Result relay_message(httpd *h, struct MHD_Connection *conn, const hreq *r,
                                     const cs_rpc_msg *m)
{
    cs_mcp_stream *s = new_stream(h, conn, "POST", r);
    if (m->kind == CS_RPC_REQUEST) snprintf(s->id_key, sizeof s->id_key, "%s", m->id_key);
    return relay(h, conn, s, m->id);
}

/* A POSTed message: gate tools/call, end held calls on cancellation, relay the rest. */
static enum MHD_Result post_message(httpd *h, struct MHD_Connection *conn, const hreq *r)
{
    cs_rpc_msg m;
    enum MHD_Result rc;
    if (cs_rpc_parse(r->body.data ? r->body.data : "", r->body.len, &m) != 0) {
        char *why = cs_sprintf("countersign mcp-proxy: %s", m.why);
        rc = respond_line(
            conn, 400,
            cs_rpc_error_line(m.id, m.parse_error ? CS_RPC_PARSE_ERROR : CS_RPC_INVALID_REQUEST,
                              why));
        free(why);
    } else if (m.kind == CS_RPC_REQUEST && !strcmp(m.method, "tools/call")) {
        rc = gated(h, conn, r, &m);
    } else if (m.kind == CS_RPC_BATCH && batch_has_call(m.root)) {
        rc = respond_line(
            conn, 400,
            cs_rpc_error_line(
                NULL, CS_RPC_INVALID_REQUEST,
                "countersign: tools/call cannot be sent inside a batch; send it on its own"));
    } else {
        const char *sid = header(conn, "Mcp-Session-Id");
        char key[160];
        json_t *rid = json_object_get(json_object_get(m.root, "params"), "requestId");
        int held = m.kind == CS_RPC_NOTIFICATION && !strcmp(m.method, "notifications/cancelled") &&
                   rid && cs_rpc_id_key(rid, key, sizeof key) == 0 &&
                   cs_mcp_gate_cancel(h->gate, sid ? sid : "", key);
        rc = held ? respond_text(conn, 202, NULL, "") : relay_message(h, conn, r, &m);
    }
    cs_rpc_msg_clear(&m);
    return rc;
}

/* DNS-rebinding defence (MCP 2025-06-18 Streamable HTTP, "Security Warning"): a
 * request from a browser carries Origin; only loopback origins and the ones named
 * with --allow-origin get through. Requests without Origin are not from a browser. */
static int origin_ok(const httpd *h, const char *origin)
{
    if (origin == NULL) return 1;
    const char *host = strstr(origin, "://");
    if (host) {
        host += 3;
        static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]", NULL};
        for (int i = 0; loopback[i]; i++) {
            size_t n = strlen(loopback[i]);
            if (!strncmp(host, loopback[i], n) && (host[n] == '\0' || host[n] == ':')) return 1;
        }
    }
    const char *list = h->o->allow_origins;
    size_t n = strlen(origin);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        size_t k = strcspn(p, ",");
        if (k == n && !strncmp(p, origin, n)) return 1;
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    httpd *h = cls;
    hreq *r = *con_cls;
    if (r == NULL) {
        r = cs_calloc(1, sizeof *r);
        cs_buf_init(&r->body, h->o->max_client_msg);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_length, r);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && cs_buf_append(&r->body, upload, *upload_size) != 0) r->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    /* The request is in. From here until it completes the connection is not idle,
     * however long the gate, the upstream or a quiet SSE stream take (this thread
     * waits on them, and libmicrohttpd would count that as idle time). */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    if (r->lengths > 1) return refuse_framing(conn);
    if (!origin_ok(h, header(conn, "Origin")))
        return respond_line(conn, 403,
                            cs_rpc_error_line(NULL, CS_RPC_INVALID_REQUEST,
                                              "countersign mcp-proxy: this Origin is not allowed "
                                              "(see --allow-origin)"));
    if (r->too_big) {
        char *why = cs_sprintf("countersign mcp-proxy: message larger than %zu bytes",
                               h->o->max_client_msg);
        enum MHD_Result rc =
            respond_line(conn, 413, cs_rpc_error_line(NULL, CS_RPC_INVALID_REQUEST, why));
        free(why);
        return rc;
    }
    if (!strcmp(method, "POST")) return post_message(h, conn, r);
    return relay(h, conn, new_stream(h, conn, method, r), NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    hreq *r = *con_cls;
    if (r == NULL) return;
    httpd *h = cls;
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, idle_timeout(h)); /* idle again */
    cs_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

static struct MHD_Daemon *listen_on(httpd *h, const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) return NULL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *hp = host;
    if (*hp == '[' && hp[strlen(hp) - 1] == ']') hp[strlen(hp) - 1] = '\0', hp++;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    if (getaddrinfo(*hp ? hp : NULL, colon + 1, &hints, &ai) != 0) return NULL;
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                         cs_log_library, "libmicrohttpd", MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                         MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout(h),
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX, MHD_OPTION_END);
    freeaddrinfo(ai);
    return d;
}

/* Stop: every stream is abandoned (so connection threads return), held calls end
 * and their requests are cancelled, then the daemon and the pool threads finish. */
static void shutdown_all(httpd *h, struct MHD_Daemon *d)
{
    MHD_quiesce_daemon(d);
    cs_mcp_gate_abort_all(h->gate);
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->nlive; i++)
        cs_mcp_stream_abandon(h->live[i]);
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(d);
    cs_mcp_pool_free(h->pool);
    for (int i = 0; i < h->nhandles; i++)
        curl_easy_cleanup(h->handles[i]);
}

int cs_mcp_proxy_http(cs_mcp_gate *gate, const cs_mcp_opts *o, const char *addr,
                      const char *upstream)
{
    if (strncmp(upstream, "http://", 7) && strncmp(upstream, "https://", 8)) {
        cs_error("mcp-proxy: --upstream must be an http:// or https:// URL");
        return 2;
    }
    httpd h = {.gate = gate, .o = o, .upstream = upstream};
    pthread_mutex_init(&h.mu, NULL);
    h.pool = cs_mcp_pool_new(WORKERS_MAX);
    /* Signals are taken with sigwait() here; every thread started later has them blocked. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct MHD_Daemon *d = listen_on(&h, addr);
    if (d == NULL) {
        cs_error("mcp-proxy: cannot listen on %s", addr);
        cs_mcp_pool_free(h.pool);
        pthread_mutex_destroy(&h.mu);
        return 2;
    }
    cs_info("mcp-proxy: listening on http://%s, relaying to %s", addr, upstream);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    cs_info("mcp-proxy: stopping");
    shutdown_all(&h, d);
    free(h.live);
    pthread_mutex_destroy(&h.mu);
    return 0;
}
