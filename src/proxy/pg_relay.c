/* pg_relay.c - the server side of a session (PostgreSQL docs 55.2 "Message Flow",
 * 55.7 "Message Formats"): server messages are relayed one by one, large rows and
 * COPY data stream through without being buffered whole; ReadyForQuery ends the
 * oldest forwarded batch (and reports the outcome of approved statements in it);
 * ParseComplete/BindComplete/CloseComplete confirm the batch's names; the answers to
 * a ROLLBACK the proxy injected are swallowed. */
#include "proxy/pg_conn_int.h"

#include "util/alloc.h"

#include <stdlib.h>

void cs_pg_sent_free(sent *s)
{
    json_decref(s->ids);
    cs_pg_batch_free(s->batch);
    cs_buf_free(&s->tags);
    free(s->error);
    free(s);
}

static void report_outcome(cs_pg_conn *c, sent *s)
{
    size_t i;
    json_t *id;
    json_array_foreach(s->ids, i, id)
    {
        json_t *body = json_pack("{s:s,s:s}", "status", s->error ? "failed" : "succeeded", "detail",
                                 s->error ? s->error : (s->tags.data ? s->tags.data : ""));
        char *path = cs_sprintf("/v1/actions/%s/outcome", json_string_value(id));
        cs_pg_post(c->px->decider, c->token, path, body);
        free(path);
        json_decref(body);
    }
}

static void sent_pop(cs_pg_conn *c)
{
    sent *s = c->sent_head;
    c->sent_head = s->next;
    if (c->sent_head == NULL) c->sent_tail = NULL;
    report_outcome(c, s);
    cs_pg_sent_free(s);
}

/* ReadyForQuery ends the oldest batch that ended in Sync, and every Flush-ended
 * batch before it; what they did not get confirmed did not happen. */
static void on_ready_for_query(cs_pg_conn *c, const cs_pg_msg *m)
{
    while (c->sent_head && c->sent_head->syncs == 0)
        sent_pop(c);
    sent *s = c->sent_head;
    if (s == NULL) return;
    if (!s->swallow && m->len == 1) c->txn = m->body[0];
    if (--s->syncs > 0) return;
    sent_pop(c);
}

/* ParseComplete, BindComplete, CloseComplete: the oldest waiting operation. */
static void on_confirmation(cs_pg_conn *c, char type)
{
    for (sent *s = c->sent_head; s; s = s->next)
        if (cs_pg_batch_confirm(s->batch, type)) return;
}

/* One complete server message: note what matters, then relay it. */
static void server_msg(cs_pg_conn *c, const cs_pg_msg *m)
{
    sent *s = c->sent_head;
    int drop = s && s->swallow && m->type != 'N' && m->type != 'A' && m->type != 'S';
    if (c->phase == PH_AUTH) {
        if (m->type == 'K' && m->len == 8) {
            c->pid = cs_pg_u32(m->body);
            c->key = cs_pg_u32(m->body + 4);
            c->have_key = 1;
        }
        if (m->type == 'Z' && m->len == 1) {
            c->phase = PH_READY;
            c->txn = m->body[0];
        }
    } else if (m->type == '1' || m->type == '2' || m->type == '3') {
        on_confirmation(c, m->type);
    } else if (m->type == 'C' && s && s->ids) { /* tags only matter for outcome reports */
        cs_buf_printf(&s->tags, "%s%.*s", s->tags.len ? "; " : "", (int)strnlen(m->body, m->len),
                      m->body);
    } else if (m->type == 'E' && s && s->ids && s->error == NULL) {
        const char *msg = cs_pg_field(m, 'M');
        s->error = cs_strdup(msg ? msg : "error");
    }
    if (!drop) cs_buf_append(&c->cout.b, m->body - 5, m->total);
    c->last_stype = m->type;
    if (m->type == 'Z' && c->phase == PH_READY && c->outstanding > 0 && s) {
        c->outstanding--;
        on_ready_for_query(c, m);
    }
}

static int interesting(char type)
{
    return type == 'Z' || type == 'C' || type == 'E' || type == 'K' || type == 'R' || type == '1' ||
           type == '2' || type == '3';
}

int cs_pg_relay_process(cs_pg_conn *c)
{
    int progress = 0;
    while (io_len(&c->sin) > 0 && !c->close_after_flush) {
        progress = 1;
        if (c->s_pass > 0) {
            size_t n = io_len(&c->sin) < c->s_pass ? io_len(&c->sin) : c->s_pass;
            if (!c->s_drop) cs_buf_append(&c->cout.b, io_ptr(&c->sin), n);
            io_consume(&c->sin, n);
            c->s_pass -= n;
            continue;
        }
        cs_pg_msg m;
        cs_err err = {0};
        int rc = cs_pg_msg_next(io_ptr(&c->sin), io_len(&c->sin), CS_PG_MSG_MAX, &m, &err);
        if (rc < 0) {
            cs_pg_conn_fail(c, "08P01", "countersign: the server sent an invalid message");
            return 1;
        }
        if (rc == 0) {
            if (m.total == 0 || interesting(m.type)) return 0;
            /* A large row or copy chunk: relay what is here and stream the rest. */
            c->s_drop = c->sent_head && c->sent_head->swallow;
            c->s_pass = m.total;
            continue;
        }
        server_msg(c, &m);
        io_consume(&c->sin, m.total);
    }
    return progress;
}

void cs_pg_relay_flush_notices(cs_pg_conn *c)
{
    if (c->notices.len == 0 || c->s_pass > 0) return;
    cs_buf_append(&c->cout.b, c->notices.data, c->notices.len);
    cs_buf_reset(&c->notices);
}
