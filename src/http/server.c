/* server.c - libmicrohttpd daemon, request lifecycle and capped body reading. */
#include "http/http_int.h"

#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "web/web.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* An op may commit on the MHD thread that read it only while that thread serves one
 * client: blocked for the commit, it would keep every other connection it serves
 * waiting, and their requests out of the batch they could have shared (routes.c).
 * Each MHD thread remembers the connection of its last request, when it last saw a
 * request from another one, and when it last saw any. A thread that saw no request
 * for SOLO_NS serves no other client just then, so a request on a new connection
 * (a client that does not keep its connection, the CLI) is as alone as one on a
 * kept one. Neither is a thread with a connection waiting for the writer thread:
 * its answer is this thread's to send as soon as it is resumed. */
#define SOLO_NS 2000000LL /* 2 ms */
static _Thread_local const struct MHD_Connection *tl_conn;
static _Thread_local long long tl_switched_ns, tl_last_ns;
static _Thread_local int tl_waiting; /* this thread's connections suspended for a commit */

static void note_request(const struct MHD_Connection *conn)
{
    long long now = cs_mono_ns();
    if (conn != tl_conn) {
        tl_switched_ns = now - tl_last_ns >= SOLO_NS ? now - SOLO_NS : now;
        tl_conn = conn;
    }
    tl_last_ns = now;
}

int cs_http_thread_solo(const cs_req *r)
{
    return r->conn == tl_conn && tl_waiting == 0 && cs_mono_ns() - tl_switched_ns >= SOLO_NS;
}

void cs_http_op_suspended(cs_req *r)
{
    r->op_suspended = 1;
    tl_waiting++;
}

/* Called on the connection's MHD thread: the first call after a suspension is the
 * resumed one (or the end of the connection). */
static void op_resumed(cs_req *r)
{
    if (!r->op_suspended) return;
    r->op_suspended = 0;
    tl_waiting--;
}

enum MHD_Result cs_http_send(cs_req *r, cs_reply *reply)
{
    /* The reply's own text is handed over, not copied. */
    char *text = reply->text   ? reply->text
                 : reply->body ? json_dumps(reply->body, JSON_COMPACT)
                               : cs_strdup("{}");
    reply->text = NULL;
    size_t len = strlen(text);
    text = cs_realloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            reply->problem ? "application/problem+json" : "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (reply->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (reply->replayed) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    if (reply->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, reply->allow);
    /* Several Content-Length fields: the end of this request is in doubt, so is the
     * start of the next one (see framing_in_doubt). */
    if (r->n_length > 1) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)reply->status, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
    return ret;
}

static enum MHD_Result send_problem(cs_req *r, int status, const char *type, const char *detail)
{
    cs_reply rep = {0};
    cs_reply_problem(&rep, status, type, detail);
    enum MHD_Result ret = cs_http_send(r, &rep);
    cs_reply_clear(&rep);
    return ret;
}

static enum MHD_Result send_shared(cs_req *r)
{
    cs_http *h = r->http;
    pthread_mutex_lock(&h->shared_lock);
    if (h->shared_doc != r->changed) {
        if (h->shared_resp) MHD_destroy_response(h->shared_resp);
        json_decref(h->shared_doc);
        char *text = json_dumps(r->changed, JSON_COMPACT);
        size_t len = strlen(text);
        text = cs_realloc(text, len + 2);
        text[len++] = '\n';
        text[len] = '\0';
        h->shared_resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(h->shared_resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(h->shared_resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        h->shared_doc = json_incref(r->changed);
    }
    /* Queued under the lock: MHD takes its own reference before we could replace it. */
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, h->shared_resp);
    pthread_mutex_unlock(&h->shared_lock);
    r->state = RS_DONE;
    return ret;
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (ci == NULL || ci->client_addr == NULL) return;
    char host[64] = "";
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, host,
                  sizeof host);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, host,
                  sizeof host);
    snprintf(out, n, "api:%s", host);
}

/* What libmicrohttpd keeps for us per connection (its socket context): the client's
 * address, made once when the connection starts instead of on every request it
 * carries (keep-alive clients send thousands), and whether the request being read
 * had an encoded NUL in its URL or query (unescape). */
typedef struct conn_ctx {
    char addr[sizeof((cs_req *)0)->addr];
    int nul;
} conn_ctx;

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_ctx *c = cs_calloc(1, sizeof *c);
        client_addr(conn, c->addr, sizeof c->addr);
        *socket_context = c;
    } else {
        free(*socket_context);
        *socket_context = NULL;
    }
}

static conn_ctx *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t cs_http_unescape(char *s, int *nul)
{
    char *w = s;
    *nul = 0;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0) {
            *w = (char)(hi * 16 + lo);
            *nul |= *w == '\0';
            w++;
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* libmicrohttpd's decoding of the URL's path and of each query key and value, done by
 * cs_http_unescape, which also notes an encoded NUL: the text handed to the routes
 * would end there, so "/v1/actions/ID%00x" would name ID. The request is then refused
 * (on_request) instead of read up to the NUL. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    int nul;
    size_t n = cs_http_unescape(s, &nul);
    conn_ctx *c = nul ? conn_of(conn) : NULL;
    if (c) c->nul = 1;
    return n;
}

static enum MHD_Result count_fields(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    cs_req *r = cls;
    (void)kind;
    (void)value;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        r->n_length++;
    else if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION))
        r->n_auth++;
    return MHD_YES;
}

/* A request with several Content-Length fields has no agreed end (RFC 9112 §6.3):
 * libmicrohttpd reads the body by one of them, while a proxy in front may have
 * forwarded it by another and sent the rest as a request of its own (request
 * smuggling). Such a request is refused and its connection closed (cs_http_send). */
static int framing_in_doubt(const cs_req *r)
{
    return r->n_length > 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    cs_http *h = cls;
    cs_req *r = *con_cls;
    if (r) op_resumed(r);
    if (r == NULL) {
        r = cs_calloc(1, sizeof *r);
        r->http = h;
        r->conn = conn;
        r->method = method;
        r->url = cs_strdup(url);
        cs_buf_init(&r->body, CS_HTTP_BODY_MAX);
        conn_ctx *c = conn_of(conn);
        if (c)
            memcpy(r->addr, c->addr, sizeof r->addr);
        else
            client_addr(conn, r->addr, sizeof r->addr);
        int nul = c && c->nul;
        if (c) c->nul = 0;
        *con_cls = r;
        note_request(conn);
        atomic_fetch_add(&h->requests, 1);
        if (atomic_load(&h->stopping))
            return send_problem(r, 503, "stopping", "the gateway is shutting down");
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_fields, r);
        if (framing_in_doubt(r))
            return send_problem(r, 400, "invalid-header",
                                "send one Content-Length header, not several");
        if (nul)
            return send_problem(r, 400, "invalid-url",
                                "the URL or a query parameter holds an encoded NUL (%00)");
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* A body declared over the cap is refused. Up to CS_HTTP_DRAIN_MAX it is read
         * and dropped first: answering while the client is still sending makes the
         * server close a socket with unread data, the kernel then resets the
         * connection, and the client may lose the 413 before it reads it. */
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > CS_HTTP_DRAIN_MAX)
            return send_problem(r, 413, "payload-too-large",
                                "the request body is larger than 1 MiB");
        if (declared > CS_HTTP_BODY_MAX) r->too_big = 1;
        return MHD_YES;
    }
    if (r->state == RS_DONE) {
        /* A response went out early (413); drop whatever the client still sends. */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        r->received += *upload_size;
        if (!r->too_big && cs_buf_append(&r->body, upload, *upload_size) != 0) r->too_big = 1;
        *upload_size = 0;
        /* A chunked body that goes on past the drain cap: no answer can be queued
         * mid-body, so the connection is closed. */
        return r->received > CS_HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
    }
    if (r->state == RS_READ) {
        if (r->too_big)
            return send_problem(r, 413, "payload-too-large",
                                "the request body is larger than 1 MiB");
        cs_http_route(r);
        if (r->state == RS_READ) {
            enum MHD_Result ret = cs_http_send(r, &r->reply);
            cs_reply_clear(&r->reply);
            return ret;
        }
        return MHD_YES; /* suspended, or the route queued its own response */
    }
    if ((r->state == RS_WAIT_OP || r->state == RS_WAIT_POLL) && r->on_resume) {
        r->on_resume(r);
        return MHD_YES;
    }
    if (r->state == RS_WAIT_POLL && r->changed) return send_shared(r);
    if (r->state == RS_WAIT_OP || r->state == RS_WAIT_POLL) {
        cs_http_resumed(r);
        enum MHD_Result ret = cs_http_send(r, &r->reply);
        cs_reply_clear(&r->reply);
        return ret;
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cs_req *r = *con_cls;
    if (r == NULL) return;
    op_resumed(r);
    cs_buf_free(&r->body);
    json_decref(r->who);
    json_decref(r->changed);
    cs_op_free(r->op);
    cs_reply_clear(&r->reply);
    free(r->url);
    free(r);
    *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, cs_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
        return cs_err_set(err, CS_EINVAL, "listen address '%s' must be host:port", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &res) != 0 || res == NULL)
        return cs_err_set(err, CS_EINVAL, "cannot resolve listen address '%s'", listen);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int cs_http_start(cs_gateway *gw, const char *listen, int threads, int max_conns, cs_http **out,
                  cs_err *err)
{
    struct sockaddr_storage ss;
    int rc = parse_listen(listen, &ss, err);
    if (rc) return rc;
    cs_http *h = cs_calloc(1, sizeof *h);
    h->gw = gw;
    h->web = cs_web_new(gw);
    pthread_mutex_init(&h->shared_lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned short port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                                   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    /* libmicrohttpd's messages through our log, held to a few a second: most are one
     * line per connection a client broke off, which any peer can cause by the thousand. */
    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, cs_log_library,
        "libmicrohttpd", MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(threads > 0 ? threads : 2), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(max_conns > 0 ? max_conns : 16384), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)4096, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (h->d == NULL) {
        cs_web_free(h->web);
        pthread_mutex_destroy(&h->shared_lock);
        free(h);
        return cs_err_set(err, CS_EIO, "cannot listen on %s", listen);
    }
    *out = h;
    return 0;
}

void cs_http_stop(cs_http *h)
{
    if (h == NULL) return;
    /* Not MHD_quiesce_daemon: with a thread pool in epoll mode it races the workers,
     * which drop the listen socket from their epoll sets themselves once they see the
     * daemon quiesced, and then panics (abort) on the failed removal. New requests get
     * 503 instead until MHD_stop_daemon closes the socket. */
    atomic_store(&h->stopping, 1);
    /* Answers every waiter and finishes queued writes; their connections resume. */
    cs_gateway_stop(h->gw);
    for (int i = 0; i < 300; i++) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (di == NULL || di->num_connections == 0) break;
        usleep(10000);
    }
    MHD_stop_daemon(h->d);
    cs_web_free(h->web);
    if (h->shared_resp) MHD_destroy_response(h->shared_resp);
    json_decref(h->shared_doc);
    pthread_mutex_destroy(&h->shared_lock);
    free(h);
}
