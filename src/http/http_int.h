/* http_int.h - shared between the HTTP server's files. */
#ifndef CS_HTTP_INT_H
#define CS_HTTP_INT_H

#include "http/http.h"

#include "gateway/watch.h"
#include "util/buf.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

struct cs_web;

struct cs_http {
    struct MHD_Daemon *d;
    cs_gateway *gw;
    struct cs_web *web; /* dashboard sessions (src/web/) */
    atomic_long requests;
    atomic_int stopping; /* new requests are answered 503 while the server stops */
    /* One response shared by every long-poll woken by the same change: thousands
     * of waiters cost one serialisation, not one store read each. */
    pthread_mutex_t shared_lock;
    json_t *shared_doc;
    struct MHD_Response *shared_resp;
};

enum req_state { RS_READ, RS_WAIT_OP, RS_WAIT_POLL, RS_DONE };

typedef struct cs_req {
    cs_http *http;
    struct MHD_Connection *conn;
    int state;
    const char *method;
    char *url;
    cs_buf body;
    int too_big;
    size_t received; /* body bytes read so far, kept or dropped */
    json_t *who;
    cs_op *op;
    cs_watch watch;
    json_t *changed; /* the action as the change that woke a long-poll left it */
    char addr[80];
    cs_reply reply;
    /* Set by a page that renders its own response after an op or poll (src/web/). */
    void (*on_resume)(struct cs_req *r);
    int op_suspended; /* suspended for the writer thread (cs_http_op_suspended) */
    /* Content-Length and Authorization fields in the request, counted in one pass when
     * it arrives (server.c): both are singletons, and a request with several is refused. */
    int n_length, n_auth;
} cs_req;

/* routes.c: decides what to answer; may start an async op or a long-poll. */
void cs_http_route(cs_req *r);
/* After a resume: turns the finished op or poll into r->reply. */
void cs_http_resumed(cs_req *r);
/* sse.c: starts an event stream for an action (queues the response itself). */
enum MHD_Result cs_http_sse(cs_req *r, const char *id);

/* Queues reply as r's response; its text is handed over (reply->text is NULL after). */
enum MHD_Result cs_http_send(cs_req *r, cs_reply *reply);
/* Decodes %HH escapes in s in place, as libmicrohttpd's default does (anything else
 * stays as it is); returns the new length and sets *nul when one decoded to a NUL. */
size_t cs_http_unescape(char *s, int *nul);
/* server.c: 1 when this MHD thread has served only r's connection for a while, so
 * that r's op may commit on it (gateway.h, may_inline). */
int cs_http_thread_solo(const cs_req *r);
/* server.c: r's connection sleeps until the writer thread has committed its op; the
 * MHD thread counts it as a client it serves until it is handled again. */
void cs_http_op_suspended(cs_req *r);
/* routes.c: who is asking (r->who), from the bearer token or the dashboard's
 * session; 0, or -1 with the problem (400 for several Authorization headers, 401)
 * already in r's reply. */
int cs_http_authenticate(cs_req *r);
/* routes.c: starts a state-changing op for r (suspends until it is durable). */
void cs_http_start_op(cs_req *r, int kind, const char *id, json_t *args);
/* audit_routes.c: GET /v1/audit/... (authenticates by itself: checkpoint and key are public). */
void cs_http_audit(cs_req *r);
/* slack.c: POST /integrations/slack/interactions (Slack signs it; no bearer token). */
void cs_http_slack(cs_req *r);

#endif
