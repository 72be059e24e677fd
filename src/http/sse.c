/* sse.c - Server-Sent Events of an action's status changes (GET .../events).
 *
 * The stream is a libmicrohttpd callback response. When it has nothing to send it
 * registers a watch and suspends the connection from inside the callback; the
 * watch resumes it on the next change (or after 15 s, for a keep-alive comment).
 * The stream ends after the event that reports a final status. */
#include "http/http_int.h"

#include "util/alloc.h"

#include <string.h>

#define KEEPALIVE_MS 15000

typedef struct sse {
    cs_http *http;
    struct MHD_Connection *conn;
    char id[80];
    cs_watch watch;
    cs_buf out;
    size_t sent;
    int need_read, keepalive, done;
    char last[64]; /* status and vote count of the last event */
} sse;

static void fired(cs_watch *w, int timed_out)
{
    sse *s = w->ctx;
    if (timed_out)
        s->keepalive = 1;
    else
        s->need_read = 1;
    MHD_resume_connection(s->conn);
}

static void read_state(sse *s)
{
    cs_reply rep = {0};
    cs_gateway_get(s->http->gw, s->id, &rep);
    s->need_read = 0;
    if (rep.status != 200) {
        s->done = 1;
        cs_reply_clear(&rep);
        return;
    }
    char sig[64];
    json_t *votes = json_object_get(json_object_get(rep.body, "approval"), "votes");
    snprintf(sig, sizeof sig, "%s/%zu", json_string_value(json_object_get(rep.body, "status")),
             json_array_size(votes));
    if (strcmp(sig, s->last) != 0) {
        snprintf(s->last, sizeof s->last, "%s", sig);
        char *data = json_dumps(rep.body, JSON_COMPACT);
        cs_buf_printf(&s->out, "event: status\ndata: %s\n\n", data);
        free(data);
    }
    if (!cs_action_is_pending(rep.body)) s->done = 1;
    cs_reply_clear(&rep);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse *s = cls;
    (void)pos;
    if (s->sent == s->out.len) {
        cs_buf_reset(&s->out);
        s->sent = 0;
        if (cs_gateway_stopping(s->http->gw))
            s->done = 1;
        else if (s->need_read)
            read_state(s);
        else if (s->keepalive) {
            cs_buf_puts(&s->out, ": keep-alive\n\n");
            s->keepalive = 0;
        }
    }
    if (s->sent < s->out.len) {
        size_t n = s->out.len - s->sent;
        if (n > max) n = max;
        memcpy(buf, s->out.data + s->sent, n);
        s->sent += n;
        return (ssize_t)n;
    }
    if (s->done) return MHD_CONTENT_READER_END_OF_STREAM;
    snprintf(s->watch.id, sizeof s->watch.id, "%s", s->id);
    s->watch.deadline_ms = cs_now_ms() + KEEPALIVE_MS;
    s->watch.fn = fired;
    s->watch.ctx = s;
    MHD_suspend_connection(s->conn);
    cs_watch_add(cs_gateway_watchers(s->http->gw), &s->watch);
    /* A change between the last read and the registration: look once more. */
    cs_reply rep = {0};
    cs_gateway_get(s->http->gw, s->id, &rep);
    char sig[64];
    json_t *votes = json_object_get(json_object_get(rep.body, "approval"), "votes");
    snprintf(sig, sizeof sig, "%s/%zu",
             rep.status == 200 ? json_string_value(json_object_get(rep.body, "status")) : "gone",
             json_array_size(votes));
    if (strcmp(sig, s->last) != 0 && cs_watch_cancel(cs_gateway_watchers(s->http->gw), &s->watch)) {
        s->need_read = 1;
        MHD_resume_connection(s->conn);
    }
    cs_reply_clear(&rep);
    return 0;
}

static void release(void *cls)
{
    sse *s = cls;
    cs_watch_cancel(cs_gateway_watchers(s->http->gw), &s->watch);
    cs_buf_free(&s->out);
    free(s);
}

enum MHD_Result cs_http_sse(cs_req *r, const char *id)
{
    cs_reply rep = {0};
    cs_gateway_get(r->http->gw, id, &rep);
    if (rep.status != 200) {
        r->reply = rep;
        return MHD_YES; /* the caller sends the problem */
    }
    cs_reply_clear(&rep);
    sse *s = cs_calloc(1, sizeof *s);
    s->http = r->http;
    s->conn = r->conn;
    snprintf(s->id, sizeof s->id, "%s", id);
    cs_buf_init(&s->out, 1 << 20);
    s->need_read = 1;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, release);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->state = RS_DONE;
    return ret;
}
