/* web_events.c - GET /web/events: a Server-Sent Events stream that says
 * "something changed" whenever any action is submitted, voted on or decided.
 * The dashboard's inbox then reads the list again through the API, so the
 * stream itself carries no action data and needs no per-user filtering.
 *
 * Same shape as the per-action stream (src/http/sse.c): when there is nothing to
 * send, the stream registers a CS_WATCH_ANY watch and suspends its connection.
 * The watchers' generation counter closes the gap between sending an event and
 * registering again: a change in between is seen and sent at once. */
#include "web/web_int.h"

#include "util/alloc.h"

#include <string.h>

#define KEEPALIVE_MS 15000

typedef struct stream {
    cs_http *http;
    struct MHD_Connection *conn;
    cs_watch watch;
    char out[64];
    size_t len, sent;
    unsigned long seen; /* the generation the client knows about */
    int fired, keepalive, started;
} stream;

static void fired(cs_watch *w, int timed_out)
{
    stream *s = w->ctx;
    if (timed_out)
        s->keepalive = 1;
    else
        s->fired = 1;
    MHD_resume_connection(s->conn);
}

/* Fills s->out with the next message, if any. */
static void next_message(stream *s)
{
    cs_watchers *ws = cs_gateway_watchers(s->http->gw);
    unsigned long gen = cs_watch_generation(ws);
    s->len = s->sent = 0;
    if (!s->started || s->fired || gen != s->seen) {
        s->len = (size_t)snprintf(s->out, sizeof s->out, "event: change\ndata: %lu\n\n", gen);
        s->seen = gen;
        s->started = 1;
        s->fired = 0;
    } else if (s->keepalive) {
        s->len = (size_t)snprintf(s->out, sizeof s->out, ": keep-alive\n\n");
        s->keepalive = 0;
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    if (cs_gateway_stopping(s->http->gw)) return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->sent == s->len) next_message(s);
    if (s->sent < s->len) {
        size_t n = s->len - s->sent;
        if (n > max) n = max;
        memcpy(buf, s->out + s->sent, n);
        s->sent += n;
        return (ssize_t)n;
    }
    cs_watchers *ws = cs_gateway_watchers(s->http->gw);
    snprintf(s->watch.id, sizeof s->watch.id, "%s", CS_WATCH_ANY);
    s->watch.deadline_ms = cs_now_ms() + KEEPALIVE_MS;
    s->watch.fn = fired;
    s->watch.ctx = s;
    MHD_suspend_connection(s->conn);
    cs_watch_add(ws, &s->watch);
    if (cs_watch_generation(ws) != s->seen && cs_watch_cancel(ws, &s->watch))
        MHD_resume_connection(s->conn);
    return 0;
}

static void release(void *cls)
{
    stream *s = cls;
    cs_watch_cancel(cs_gateway_watchers(s->http->gw), &s->watch);
    free(s);
}

void cs_web_events(cs_req *r)
{
    if (strcmp(r->method, "GET") != 0) {
        cs_reply_not_allowed(&r->reply, "GET", "use GET");
        return;
    }
    const char *sid = cs_web_cookie(r);
    json_t *who = sid ? cs_web_session_lookup(r->http->web, sid, NULL) : NULL;
    if (who == NULL) {
        cs_reply_problem(&r->reply, 401, "unauthenticated", "sign in at /web/signin");
        return;
    }
    json_decref(who);
    stream *s = cs_calloc(1, sizeof *s);
    s->http = r->http;
    s->conn = r->conn;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, reader, s, release);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
}
