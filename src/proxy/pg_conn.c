/* pg_conn.c - per-session state machine (PostgreSQL docs 55.2 "Message Flow").
 *
 * Client bytes are cut into units: one Query, one FunctionCall, or an extended-query
 * batch up to and including Sync or Flush. A unit is decided before any of it is
 * forwarded, so a denial never leaves the server half-way through a batch. Units
 * are handled strictly in order; a synthetic answer (denial, 25P02) is written only
 * once the server has answered everything forwarded before it, so the client sees
 * responses in the order it asked. Server bytes are relayed message by message;
 * large rows stream through without being buffered whole. */
#include "proxy/pg_conn.h"

#include "proxy/pg_classify.h"
#include "proxy/pg_names.h"
#include "proxy/pg_shape.h"
#include "proxy/pg_wire.h"
#include "util/alloc.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define HIGH_WATER (4 * 1024 * 1024)     /* stop reading the other side above this */
#define HOLD_READ_MAX (1024 * 1024)      /* client bytes buffered while a unit is held */
#define IN_MAX ((size_t)CS_PG_MSG_MAX * 2) /* a unit may hold a few large messages */
#define TEXT_MAX (16 * 1024)             /* statement text sent in the context */

enum phase { PH_STARTUP, PH_AUTH, PH_READY, PH_CANCEL_RELAY, PH_CLOSED };

typedef struct io {
    cs_buf b;
    size_t off;
} io;

/* A forwarded unit waiting for its ReadyForQuery. */
typedef struct sent {
    int syncs;   /* ReadyForQuery messages still expected */
    int swallow; /* an injected ROLLBACK whose answers the client must not see */
    json_t *ids; /* approved actions whose outcome is reported when it completes */
    cs_pg_batch *batch; /* Parse/Bind/Close waiting for the server's confirmation */
    cs_buf tags;
    char *error;
    struct sent *next;
} sent;

struct cs_pg_conn {
    cs_pg_proxy *px;
    cs_pg_watch cw, sw;
    unsigned cev, sev; /* events registered for the client / server socket */
    int phase, connecting, close_after_flush;
    io cin, cout, sin, sout;
    char *user, *database, *token, *principal;
    uint32_t pid, key;
    int have_key;
    char txn;         /* transaction status the client last saw */
    int aborted;      /* the proxy aborted the client's transaction block */
    int skip_to_sync; /* discard until Sync after a synthetic error mid-batch */
    size_t s_pass;    /* bytes of a server message still streaming through */
    int s_drop;       /* ... and whether they are swallowed */
    cs_buf notices;   /* notices waiting for a message boundary */
    /* The unit being decided. */
    int holding;
    size_t unit_len;
    char unit_end;
    cs_pg_stmts stmts;
    size_t next_stmt;
    json_t *approved;
    cs_pg_ask *ask;
    char held_id[64];
    int synth;
    char synth_state[6];
    char *synth_msg, *synth_detail;
    int outstanding;
    char last_stype; /* type of the last complete server message */
    sent *sent_head, *sent_tail;
    cs_pg_names *names; /* prepared statements and portals the server confirmed */
    cs_pg_batch *batch; /* the held unit's Parse/Bind/Close */
    cs_pg_conn *next, *prev;
};

static void kick(cs_pg_conn *c);

/* ---- buffers ---- */

static size_t io_len(const io *q)
{
    return q->b.len - q->off;
}

static const char *io_ptr(const io *q)
{
    return q->b.data + q->off;
}

static void io_consume(io *q, size_t n)
{
    q->off += n;
    if (q->off == q->b.len) {
        q->off = 0;
        cs_buf_reset(&q->b);
    } else if (q->off > 65536 && q->off > q->b.len / 2) {
        memmove(q->b.data, q->b.data + q->off, q->b.len - q->off);
        q->b.len -= q->off;
        q->off = 0;
    }
}

/* ---- lifecycle ---- */

cs_pg_conn *cs_pg_conn_new(cs_pg_proxy *p, int client_fd)
{
    cs_pg_conn *c = cs_calloc(1, sizeof *c);
    c->px = p;
    c->cw = (cs_pg_watch){.kind = CS_PG_W_CLIENT, .fd = client_fd, .owner = c};
    c->sw = (cs_pg_watch){.kind = CS_PG_W_SERVER, .fd = -1, .owner = c};
    cs_buf_init(&c->cin.b, IN_MAX);
    cs_buf_init(&c->cout.b, (size_t)-1 / 2);
    cs_buf_init(&c->sin.b, IN_MAX);
    cs_buf_init(&c->sout.b, (size_t)-1 / 2);
    cs_buf_init(&c->notices, 1024 * 1024);
    c->txn = 'I';
    c->names = cs_pg_names_new();
    c->next = p->conns;
    if (p->conns) p->conns->prev = c;
    p->conns = c;
    kick(c);
    return c;
}

static void sent_free(sent *s)
{
    json_decref(s->ids);
    cs_pg_batch_free(s->batch);
    cs_buf_free(&s->tags);
    free(s->error);
    free(s);
}

static void unit_clear(cs_pg_conn *c)
{
    cs_pg_stmts_free(&c->stmts);
    cs_pg_batch_free(c->batch);
    c->batch = NULL;
    json_decref(c->approved);
    c->approved = NULL;
    free(c->synth_msg);
    free(c->synth_detail);
    c->synth_msg = c->synth_detail = NULL;
    c->synth = 0;
    c->holding = 0;
    c->next_stmt = 0;
    c->ask = NULL;
    c->held_id[0] = '\0';
}

void cs_pg_conn_close(cs_pg_conn *c)
{
    if (c->phase == PH_CLOSED) return;
    c->phase = PH_CLOSED;
    /* A statement held for approval is withdrawn: nobody is waiting for it. */
    if (c->ask) cs_pg_ask_drop(c->ask, 1);
    c->ask = NULL;
    if (c->cw.fd >= 0) close(c->cw.fd);
    if (c->sw.fd >= 0) close(c->sw.fd);
    c->cw.fd = c->sw.fd = -1;
    cs_pg_proxy *p = c->px;
    if (c->prev) c->prev->next = c->next;
    else p->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = NULL;
    c->next = p->dead;
    p->dead = c;
}

static void conn_free(cs_pg_conn *c)
{
    unit_clear(c);
    cs_buf_free(&c->cin.b);
    cs_buf_free(&c->cout.b);
    cs_buf_free(&c->sin.b);
    cs_buf_free(&c->sout.b);
    cs_buf_free(&c->notices);
    while (c->sent_head) {
        sent *s = c->sent_head;
        c->sent_head = s->next;
        sent_free(s);
    }
    cs_pg_names_free(c->names);
    free(c->user);
    free(c->database);
    free(c->principal);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    free(c);
}

void cs_pg_conn_reap(cs_pg_proxy *p)
{
    while (p->dead) {
        cs_pg_conn *c = p->dead;
        p->dead = c->next;
        conn_free(c);
    }
}

cs_pg_conn *cs_pg_conn_next(const cs_pg_conn *c)
{
    return c->next;
}

int cs_pg_conn_has_key(const cs_pg_conn *c, uint32_t pid, uint32_t key)
{
    return c->have_key && c->phase != PH_CLOSED && c->pid == pid && c->key == key;
}

/* A fatal error for the client, then close once it has been written. */
static void fail(cs_pg_conn *c, const char *sqlstate, const char *msg)
{
    cs_debug("pg-proxy: closing session: %s", msg);
    if (c->s_pass == 0) cs_pg_put_fatal(&c->cout.b, sqlstate, msg);
    c->close_after_flush = 1;
    if (c->ask) cs_pg_ask_drop(c->ask, 1);
    c->ask = NULL;
}

/* The server side is gone: tell the client (unless the server already said why in
 * a fatal error), stop watching the socket and close once the client has it all. */
static void server_gone(cs_pg_conn *c, const char *msg)
{
    if (c->sw.fd >= 0) {
        close(c->sw.fd);
        c->sw.fd = -1;
        c->sev = 0;
    }
    c->connecting = 0;
    if (c->last_stype == 'E') {
        c->close_after_flush = 1;
        if (c->ask) cs_pg_ask_drop(c->ask, 1);
        c->ask = NULL;
        return;
    }
    fail(c, "08006", msg);
}

/* ---- synthetic answers ---- */

static void set_synth(cs_pg_conn *c, const char *state, const char *msg, const char *detail)
{
    c->synth = 1;
    snprintf(c->synth_state, sizeof c->synth_state, "%s", state);
    free(c->synth_msg);
    free(c->synth_detail);
    c->synth_msg = cs_strdup(msg);
    c->synth_detail = detail && *detail ? cs_strdup(detail) : NULL;
    c->ask = NULL;
}

static void put_ready(cs_pg_conn *c)
{
    char st = c->aborted ? 'E' : c->txn;
    cs_pg_put_ready(&c->cout.b, st);
    c->txn = st;
}

/* Writes the held unit's synthetic error once the server has caught up. */
static int emit_synth(cs_pg_conn *c)
{
    if (!c->synth || c->outstanding > 0 || c->s_pass > 0) return 0;
    cs_pg_put_error(&c->cout.b, c->synth_state, c->synth_msg, c->synth_detail, NULL);
    /* Inside a transaction block an error aborts the block, as in PostgreSQL. */
    if (c->txn == 'T' || c->txn == 'E') c->aborted = 1;
    if (c->unit_end == 'H') c->skip_to_sync = 1;
    else put_ready(c);
    io_consume(&c->cin, c->unit_len);
    unit_clear(c);
    return 1;
}

/* ---- forwarding ---- */

static sent *sent_push(cs_pg_conn *c, int syncs, int swallow)
{
    sent *s = cs_calloc(1, sizeof *s);
    s->syncs = syncs;
    s->swallow = swallow;
    cs_buf_init(&s->tags, 4096);
    if (c->sent_tail) c->sent_tail->next = s;
    else c->sent_head = s;
    c->sent_tail = s;
    c->outstanding += syncs;
    return s;
}

static int count_syncs(const char *p, size_t n)
{
    int syncs = 0;
    cs_pg_msg m;
    while (n > 0 && cs_pg_msg_next(p, n, CS_PG_MSG_MAX, &m, NULL) == 1) {
        syncs += m.type == 'S' || m.type == 'Q' || m.type == 'F';
        p += m.total;
        n -= m.total;
    }
    return syncs;
}

/* Sends the held unit (or replacement bytes) to the server. */
static void forward_unit(cs_pg_conn *c, const char *bytes, size_t len)
{
    cs_buf_append(&c->sout.b, bytes, len);
    int syncs = count_syncs(bytes, len);
    /* A Flush-terminated batch gets an entry too: its confirmations and outcome
     * arrive before the answers to anything sent after it. */
    if (syncs > 0 || c->batch || c->approved) {
        sent *s = sent_push(c, syncs, 0);
        s->ids = c->approved;
        s->batch = c->batch;
        c->approved = NULL;
        c->batch = NULL;
    }
    io_consume(&c->cin, c->unit_len);
    unit_clear(c);
}

/* ---- decisions ---- */

/* Resource path segment: identifiers may contain '/', quotes and anything else. */
static void put_segment(cs_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x21 || ch == 0x7f || ch == '/' || ch == '%' || ch == '"' || ch == '\\') cs_buf_printf(b, "%%%02X", ch);
        else cs_buf_putc(b, (char)ch);
    }
}

static char *resource_for(cs_pg_conn *c, const cs_pg_stmt *st)
{
    cs_buf b;
    cs_buf_init(&b, 8192);
    cs_buf_puts(&b, "pg/");
    put_segment(&b, c->px->opt.name);
    cs_buf_putc(&b, '/');
    put_segment(&b, c->database);
    const char *first = json_string_value(json_array_get(st->tables, 0));
    if (first) {
        cs_buf_putc(&b, '/');
        put_segment(&b, first);
    }
    return cs_buf_steal(&b);
}

static json_t *request_body(cs_pg_conn *c, const cs_pg_stmt *st)
{
    size_t tl = strlen(st->text);
    if (tl > TEXT_MAX) { /* cut on a UTF-8 character boundary */
        tl = TEXT_MAX;
        while (tl > 0 && ((unsigned char)st->text[tl] & 0xC0) == 0x80) tl--;
    }
    json_t *ctx = json_pack("{s:s,s:O,s:b,s:s,s:s%,s:s,s:s}", "statement", cs_pg_kind_name(st->kind), "tables",
                            st->tables, "has_where", st->has_where, "fingerprint", st->fingerprint_hex, "text",
                            st->text, tl, "db_user", c->user, "database",
                            c->database);
    if (ctx == NULL) { /* text cut inside a UTF-8 sequence, or not UTF-8 at all */
        ctx = json_pack("{s:s,s:O,s:b,s:s,s:s,s:s}", "statement", cs_pg_kind_name(st->kind), "tables", st->tables,
                        "has_where", st->has_where, "fingerprint", st->fingerprint_hex, "db_user", c->user, "database",
                        c->database);
        json_object_set_new(ctx, "text", json_string("(not valid UTF-8)"));
    }
    if (tl < strlen(st->text)) json_object_set_new(ctx, "text_truncated", json_true());
    char *res = resource_for(c, st);
    json_t *body = json_pack("{s:s,s:s,s:o,s:s}", "action", "sql.execute", "resource", res, "context", ctx, "source", "pg");
    free(res);
    return body;
}

static const char *vstr(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2) v = json_object_get(v, path2);
    const char *s = json_string_value(v);
    return s ? s : "";
}

static void hold_notice(cs_pg_conn *c, const cs_pg_verdict *v, int first)
{
    const json_t *ap = json_object_get(v->action, "approval");
    size_t votes = 0, i;
    json_t *vote, *g;
    json_array_foreach(json_object_get(ap, "votes"), i, vote) votes += !strcmp(vstr(vote, "vote", NULL), "approve");
    cs_buf groups;
    cs_buf_init(&groups, 4096);
    json_array_foreach(json_object_get(ap, "groups"), i, g) cs_buf_printf(&groups, "%s%s", i ? ", " : "", json_string_value(g));
    char *msg = cs_sprintf("countersign: %s %s is held for approval (%s): %zu of %lld approvals from %s, expires %s",
                           vstr(v->action, "action", NULL), vstr(v->action, "resource", NULL), v->id, votes,
                           (long long)json_integer_value(json_object_get(ap, "quorum")), groups.data ? groups.data : "",
                           vstr(ap, "expires_at", NULL));
    char *hint = cs_sprintf("approve with `countersign approve %s` or at %s/a/%s", v->id, c->px->opt.approve_url, v->id);
    cs_pg_put_notice(&c->notices, msg, first ? v->reason : NULL, hint);
    free(msg);
    free(hint);
    cs_buf_free(&groups);
}

static void decide_next(cs_pg_conn *c);

/* "countersign denied ... (request ID): reason", naming the request and why. */
static char *refusal_message(const cs_pg_verdict *v)
{
    const char *res = vstr(v->action, "resource", NULL);
    if (v->kind == CS_PG_V_FAILED)
        return cs_sprintf("countersign could not decide on this statement, so it was refused: %s", v->reason);
    if (!strcmp(v->status, "expired"))
        return cs_sprintf("countersign: request %s for sql.execute on %s expired without approval", v->id, res);
    if (!strcmp(v->status, "cancelled"))
        return cs_sprintf("countersign: request %s for sql.execute on %s was cancelled", v->id, res);
    /* Denied by policy, or by an approver's vote (whose reason is in the votes). */
    const char *why = v->reason;
    size_t i;
    json_t *vote;
    json_array_foreach(json_object_get(json_object_get(v->action, "approval"), "votes"), i, vote)
        if (!strcmp(vstr(vote, "vote", NULL), "deny")) {
            char *m = cs_sprintf("countersign denied sql.execute on %s (request %s): denied by %s%s%s", res, v->id,
                                 vstr(vote, "voter", NULL), *vstr(vote, "reason", NULL) ? ": " : "",
                                 vstr(vote, "reason", NULL));
            return m;
        }
    return cs_sprintf("countersign denied sql.execute on %s (request %s)%s%s", res, v->id, *why ? ": " : "", why);
}

static void on_verdict(void *ud, const cs_pg_verdict *v)
{
    cs_pg_conn *c = ud;
    if (v->kind == CS_PG_V_PENDING) {
        hold_notice(c, v, c->held_id[0] == '\0');
        snprintf(c->held_id, sizeof c->held_id, "%s", v->id);
        kick(c);
        return;
    }
    c->ask = NULL;
    c->px->decided++;
    cs_pg_stmt *st = &c->stmts.v[c->next_stmt];
    if (v->kind == CS_PG_V_ALLOWED) {
        if (!strcmp(v->status, "approved")) {
            if (c->approved == NULL) c->approved = json_array();
            json_array_append_new(c->approved, json_string(v->id));
        } else {
            cs_pg_cache_put(c->px->cache, c->principal, st->fingerprint, v->policy_version, cs_pg_now_ms());
        }
        c->next_stmt++;
        decide_next(c);
    } else {
        c->px->denied++;
        char *msg = refusal_message(v);
        set_synth(c, "42501", msg, NULL);
        free(msg);
    }
    kick(c);
}

/* Asks about each statement of the unit in turn; cached allowed decisions and
 * transaction control need no request. */
static void decide_next(cs_pg_conn *c)
{
    long long now = cs_pg_now_ms();
    while (c->next_stmt < c->stmts.n) {
        cs_pg_stmt *st = &c->stmts.v[c->next_stmt];
        if (st->kind == CS_PG_TXN || cs_pg_cache_hit(c->px->cache, c->principal, st->fingerprint, now)) {
            c->next_stmt++;
            continue;
        }
        json_t *body = request_body(c, st);
        c->held_id[0] = '\0';
        c->ask = cs_pg_ask_submit(c->px->decider, c->token, body, on_verdict, c);
        json_decref(body);
        return;
    }
    forward_unit(c, io_ptr(&c->cin), c->unit_len);
}

/* ---- units ---- */

static int is_txn_end(const cs_pg_stmts *s)
{
    return s->n == 1 && s->v[0].kind == CS_PG_TXN &&
           (s->v[0].txn == CS_PG_TXN_COMMIT || s->v[0].txn == CS_PG_TXN_ROLLBACK || s->v[0].txn == CS_PG_TXN_ROLLBACK_TO);
}

/* The hot path: a text whose shape was classified before and whose every statement
 * is transaction control or has a cached allowed decision needs neither the parser
 * nor the gateway. */
static int shape_allows(cs_pg_conn *c, const char *sql, cs_buf *shape)
{
    if (c->px->shapes == NULL || cs_pg_shape(sql, shape) != 0) return 0;
    const cs_pg_shape_info *info = cs_pg_shapes_get(c->px->shapes, shape->data, shape->len);
    if (info == NULL) return 0;
    long long now = cs_pg_now_ms();
    for (int i = 0; i < info->n; i++)
        if (info->stmt[i].kind != CS_PG_TXN && !cs_pg_cache_hit(c->px->cache, c->principal, info->stmt[i].fingerprint, now))
            return 0;
    return 1;
}

static void shape_remember(cs_pg_conn *c, const cs_buf *shape, const cs_pg_stmts *st)
{
    if (shape->len == 0 || st->n > CS_PG_SHAPE_STMTS) return;
    cs_pg_shape_info info = {.n = (int)st->n};
    for (size_t i = 0; i < st->n; i++) {
        info.stmt[i].kind = st->v[i].kind;
        info.stmt[i].txn = st->v[i].txn;
        info.stmt[i].fingerprint = st->v[i].fingerprint;
    }
    cs_pg_shapes_put(c->px->shapes, shape->data, shape->len, &info);
}

/* Adds the statements of sql to the unit's list (none when fast and the shape says
 * they are all allowed); a parse error refuses the unit. */
static int add_sql(cs_pg_conn *c, const char *sql, int fast)
{
    cs_pg_stmts more;
    cs_err err = {0};
    cs_buf shape;
    cs_buf_init(&shape, 1 << 20);
    if (fast && shape_allows(c, sql, &shape)) {
        cs_buf_free(&shape);
        return 0;
    }
    if (cs_pg_classify(sql, &more, &err) != 0) {
        cs_buf_free(&shape);
        set_synth(c, "42601", err.msg, "countersign refuses statements its PostgreSQL parser cannot read");
        return -1;
    }
    if (fast && c->px->shapes) shape_remember(c, &shape, &more);
    cs_buf_free(&shape);
    c->stmts.v = cs_realloc(c->stmts.v, (c->stmts.n + more.n + 1) * sizeof *c->stmts.v);
    memcpy(c->stmts.v + c->stmts.n, more.v, more.n * sizeof *more.v);
    c->stmts.n += more.n;
    free(more.v);
    return 0;
}

static int bad_msg(cs_pg_conn *c, const char *what)
{
    char *m = cs_sprintf("malformed %s message", what);
    set_synth(c, "08P01", m, NULL);
    free(m);
    return -1;
}

static int names_full(cs_pg_conn *c, const cs_err *err)
{
    set_synth(c, "54000", err->msg, NULL);
    return -1;
}

/* An Execute: the SQL its portal runs joins the unit's statements. A portal the
 * proxy never saw created is refused: it cannot say what it would run. */
static int collect_execute(cs_pg_conn *c, const char *portal, int fast)
{
    const char *sql = cs_pg_batch_portal_sql(c->batch, portal);
    if (sql == NULL) {
        char *m = cs_sprintf("countersign: portal \"%s\" is not known to the proxy", portal);
        set_synth(c, "34000", m, "Only portals bound to statements prepared through the proxy can be executed.");
        free(m);
        return -1;
    }
    return add_sql(c, sql, fast);
}

/* Walks an extended-query batch: Parse names SQL, Bind names portals, Close drops
 * them, and every Execute adds the statement its portal runs. */
static int collect_extended(cs_pg_conn *c, const char *p, size_t n, int fast)
{
    cs_pg_msg m;
    if (c->batch == NULL) c->batch = cs_pg_batch_new(c->names);
    while (n > 0 && cs_pg_msg_next(p, n, CS_PG_MSG_MAX, &m, NULL) == 1) {
        cs_pg_reader r;
        cs_err err = {0};
        cs_pg_reader_init(&r, m.body, m.len);
        if (m.type == 'P') {
            const char *name = cs_pg_get_str(&r), *sql = cs_pg_get_str(&r);
            if (r.bad) return bad_msg(c, "Parse");
            json_t *t = json_string(sql);
            if (t == NULL) return set_synth(c, "22021", "statement text is not valid UTF-8", NULL), -1;
            json_decref(t);
            if (cs_pg_batch_parse(c->batch, name, sql, &err) != 0) return names_full(c, &err);
        } else if (m.type == 'B') {
            const char *portal = cs_pg_get_str(&r), *stmt = cs_pg_get_str(&r);
            if (r.bad) return bad_msg(c, "Bind");
            if (cs_pg_batch_bind(c->batch, portal, stmt, &err) != 0) return names_full(c, &err);
        } else if (m.type == 'C') {
            char kind = cs_pg_get_byte(&r);
            const char *name = cs_pg_get_str(&r);
            if (r.bad || (kind != 'S' && kind != 'P')) return bad_msg(c, "Close");
            cs_pg_batch_close(c->batch, kind, name);
        } else if (m.type == 'E') {
            const char *portal = cs_pg_get_str(&r);
            if (r.bad) return bad_msg(c, "Execute");
            if (collect_execute(c, portal, fast) != 0) return -1;
        }
        p += m.total;
        n -= m.total;
    }
    return 0;
}

/* In a transaction block the proxy aborted: only its end goes to the server. */
static void aborted_unit(cs_pg_conn *c, const char *sql)
{
    if (c->unit_end == 'Q' && sql && add_sql(c, sql, 0) == 0 && is_txn_end(&c->stmts)) {
        int to = c->stmts.v[0].txn == CS_PG_TXN_ROLLBACK_TO;
        c->aborted = 0;
        if (to) {
            forward_unit(c, io_ptr(&c->cin), c->unit_len);
        } else {
            /* COMMIT of a failed block rolls back, as PostgreSQL does. */
            cs_buf q;
            cs_buf_init(&q, 64);
            cs_pg_put_query(&q, "ROLLBACK");
            forward_unit(c, q.data, q.len);
            cs_buf_free(&q);
        }
        return;
    }
    if (c->unit_end != 'Q' && collect_extended(c, io_ptr(&c->cin), c->unit_len, 0) == 0 && is_txn_end(&c->stmts)) {
        if (c->stmts.v[0].txn != CS_PG_TXN_ROLLBACK_TO) {
            sent_push(c, 1, 1);
            cs_pg_put_query(&c->sout.b, "ROLLBACK");
        }
        c->aborted = 0;
        forward_unit(c, io_ptr(&c->cin), c->unit_len);
        return;
    }
    cs_pg_stmts_free(&c->stmts);
    set_synth(c, "25P02", "current transaction is aborted, commands ignored until end of transaction block", NULL);
}

static void start_unit(cs_pg_conn *c, const cs_pg_msg *first)
{
    c->holding = 1;
    c->px->statements++;
    const char *sql = NULL;
    if (first->type == 'Q') {
        cs_pg_reader r;
        cs_pg_reader_init(&r, first->body, first->len);
        sql = cs_pg_get_str(&r);
        if (r.bad) {
            set_synth(c, "08P01", "malformed Query message", NULL);
            return;
        }
    }
    if (c->aborted) {
        aborted_unit(c, sql);
        return;
    }
    if (first->type == 'F') {
        /* The fast-path interface can call any function: decide it as "other". */
        c->stmts.v = cs_calloc(1, sizeof *c->stmts.v);
        c->stmts.n = 1;
        c->stmts.v[0] = (cs_pg_stmt){.kind = CS_PG_OTHER, .tables = json_array(), .text = cs_strdup("(function call)")};
        strcpy(c->stmts.v[0].fingerprint_hex, "0000000000000000");
    } else if (sql) {
        if (add_sql(c, sql, 1) != 0) return;
    } else if (collect_extended(c, io_ptr(&c->cin), c->unit_len, 1) != 0) {
        return;
    }
    decide_next(c);
}

/* Finds the unit at the head of the client buffer: 1 when complete, 0 when more
 * bytes are needed, negative on a protocol error. */
static int scan_unit(cs_pg_conn *c, cs_pg_msg *first, cs_err *err)
{
    const char *p = io_ptr(&c->cin);
    size_t n = io_len(&c->cin), off = 0;
    for (;;) {
        cs_pg_msg m;
        int rc = cs_pg_msg_next(p + off, n - off, CS_PG_MSG_MAX, &m, err);
        if (rc <= 0) return rc;
        if (off == 0) *first = m;
        off += m.total;
        if (m.type != 0 && strchr("QFdcfX", m.type)) {
            if (off != m.total) return cs_err_set(err, CS_EINVAL, "message '%c' inside an extended-query batch", m.type);
        } else if (m.type == 0 || !strchr("PBDECSH", m.type)) {
            return cs_err_set(err, CS_EINVAL, "invalid frontend message type %d", (unsigned char)m.type);
        } else if (m.type != 'S' && m.type != 'H') {
            continue; /* Parse, Bind, Describe, Execute, Close: the batch goes on */
        }
        c->unit_len = off;
        c->unit_end = m.type;
        return 1;
    }
}

/* Skips what follows a synthetic error in an unfinished batch, up to its Sync. */
static int skip_batch(cs_pg_conn *c)
{
    cs_pg_msg m;
    int rc = cs_pg_msg_next(io_ptr(&c->cin), io_len(&c->cin), CS_PG_MSG_MAX, &m, NULL);
    if (rc <= 0) return rc;
    io_consume(&c->cin, m.total);
    if (m.type == 'S') {
        c->skip_to_sync = 0;
        put_ready(c);
    }
    return 1;
}

static int process_client_ready(cs_pg_conn *c)
{
    int progress = 0;
    while (c->phase == PH_READY && !c->close_after_flush) {
        if (c->holding) {
            if (!emit_synth(c)) break;
            progress = 1;
            continue;
        }
        if (c->skip_to_sync) {
            int rc = skip_batch(c);
            if (rc < 0) return fail(c, "08P01", "invalid message length"), 1;
            if (rc == 0) break;
            progress = 1;
            continue;
        }
        cs_pg_msg first = {0};
        cs_err err = {0};
        int rc = scan_unit(c, &first, &err);
        if (rc < 0) {
            fail(c, "08P01", err.msg);
            return 1;
        }
        if (rc == 0) break;
        progress = 1;
        if (strchr("dcf", c->unit_end)) { /* COPY data flows without decisions */
            forward_unit(c, io_ptr(&c->cin), c->unit_len);
        } else if (c->unit_end == 'X') {
            forward_unit(c, io_ptr(&c->cin), c->unit_len);
            c->close_after_flush = 1;
        } else {
            start_unit(c, &first);
        }
    }
    return progress;
}

/* ---- start-up ---- */

static const char *token_for(cs_pg_conn *c)
{
    const char *env = json_string_value(json_object_get(c->px->opt.users, c->user));
    if (env) {
        const char *t = getenv(env);
        return t && *t ? t : NULL;
    }
    return c->px->opt.token && *c->px->opt.token ? c->px->opt.token : NULL;
}

static void on_startup(cs_pg_conn *c, const cs_pg_startup *s)
{
    c->user = cs_strdup(s->user);
    c->database = cs_strdup(s->database);
    const char *tok = token_for(c);
    const char *env = json_string_value(json_object_get(c->px->opt.users, c->user));
    if (tok == NULL) {
        char *m = env ? cs_sprintf("countersign: environment variable %s (pg.users) holds no token for database user \"%s\"", env, c->user)
                      : cs_sprintf("countersign: no principal for database user \"%s\" (set pg.users or COUNTERSIGN_TOKEN)", c->user);
        fail(c, "28000", m);
        free(m);
        return;
    }
    c->token = cs_strdup(tok);
    c->principal = env ? cs_sprintf("env:%s", env) : cs_strdup("proxy-token");
    cs_err err = {0};
    int fd = cs_pg_proxy_connect_upstream(c->px, &err);
    if (fd < 0) {
        fail(c, "08006", err.msg);
        return;
    }
    c->sw.fd = fd;
    c->connecting = 1;
    cs_buf_append(&c->sout.b, io_ptr(&c->cin), s->total);
    c->phase = PH_AUTH;
}

static void relay_cancel(cs_pg_conn *c, const char *packet)
{
    cs_err err = {0};
    int fd = cs_pg_proxy_connect_upstream(c->px, &err);
    if (fd < 0) {
        cs_warn("pg-proxy: cannot relay a cancel request: %s", err.msg);
        c->close_after_flush = 1;
        return;
    }
    c->sw.fd = fd;
    c->connecting = 1;
    cs_buf_append(&c->sout.b, packet, 16);
    c->phase = PH_CANCEL_RELAY;
}

static void on_cancel(cs_pg_conn *c, const cs_pg_startup *s, const char *packet)
{
    cs_pg_conn *target = cs_pg_proxy_find(c->px, s->pid, s->key);
    if (target && cs_pg_conn_cancel(target)) {
        c->close_after_flush = 1; /* PostgreSQL answers a cancel request with nothing */
        return;
    }
    if (target) relay_cancel(c, packet);
    else c->close_after_flush = 1; /* unknown key: ignored, as the server would */
}

static int process_startup(cs_pg_conn *c)
{
    cs_pg_startup s;
    cs_err err = {0};
    int rc = cs_pg_startup_next(io_ptr(&c->cin), io_len(&c->cin), &s, &err);
    if (rc < 0) {
        fail(c, "08P01", err.msg);
        return 1;
    }
    if (rc == 0) return 0;
    if (s.kind == CS_PG_SSL || s.kind == CS_PG_GSSENC) {
        /* No TLS or GSS encryption at the proxy: the client goes on in the clear. */
        cs_buf_putc(&c->cout.b, 'N');
    } else if (s.kind == CS_PG_CANCEL) {
        on_cancel(c, &s, io_ptr(&c->cin));
    } else {
        on_startup(c, &s);
    }
    io_consume(&c->cin, s.total);
    return 1;
}

/* During authentication client messages (passwords, SASL) pass through framed. */
static int process_client_auth(cs_pg_conn *c)
{
    int progress = 0;
    for (;;) {
        cs_pg_msg m;
        cs_err err = {0};
        int rc = cs_pg_msg_next(io_ptr(&c->cin), io_len(&c->cin), 64 * 1024, &m, &err);
        if (rc < 0) return fail(c, "08P01", err.msg), 1;
        if (rc == 0) return progress;
        cs_buf_append(&c->sout.b, io_ptr(&c->cin), m.total);
        io_consume(&c->cin, m.total);
        progress = 1;
    }
}

static int process_client(cs_pg_conn *c)
{
    if (c->close_after_flush) return 0;
    switch (c->phase) {
    case PH_STARTUP: return process_startup(c);
    case PH_AUTH: return process_client_auth(c);
    case PH_READY: return process_client_ready(c);
    default: return 0;
    }
}

/* ---- server side ---- */

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
    sent_free(s);
}

/* ReadyForQuery ends the oldest batch that ended in Sync, and every Flush-ended
 * batch before it; what they did not get confirmed did not happen. */
static void on_ready_for_query(cs_pg_conn *c, const cs_pg_msg *m)
{
    while (c->sent_head && c->sent_head->syncs == 0) sent_pop(c);
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
    } else if (m->type == 'C' && s) {
        cs_buf_printf(&s->tags, "%s%.*s", s->tags.len ? "; " : "", (int)strnlen(m->body, m->len), m->body);
    } else if (m->type == 'E' && s && s->error == NULL) {
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
    return type == 'Z' || type == 'C' || type == 'E' || type == 'K' || type == 'R' || type == '1' || type == '2' ||
           type == '3';
}

static int process_server(cs_pg_conn *c)
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
            fail(c, "08P01", "countersign: the server sent an invalid message");
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

/* ---- sockets ---- */

static void flush_notices(cs_pg_conn *c)
{
    if (c->notices.len == 0 || c->s_pass > 0) return;
    cs_buf_append(&c->cout.b, c->notices.data, c->notices.len);
    cs_buf_reset(&c->notices);
}

/* Writes as much of q as the socket takes. Returns -1 on a broken socket. */
static int write_some(int fd, io *q)
{
    while (io_len(q) > 0) {
        ssize_t n = write(fd, io_ptr(q), io_len(q));
        if (n > 0) {
            io_consume(q, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n < 0 && errno == EINTR) continue;
        return -1;
    }
    return 0;
}

/* Reads what is available into q. Returns 0, or -1 on EOF or error. */
static int read_some(int fd, io *q)
{
    char buf[65536];
    for (int i = 0; i < 4; i++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (cs_buf_append(&q->b, buf, (size_t)n) != 0) return -1;
            if ((size_t)n < sizeof buf) return 0;
            continue;
        }
        if (n == 0) return -1;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno != EINTR) return -1;
    }
    return 0;
}

static void watch(cs_pg_conn *c, cs_pg_watch *w, unsigned *cur, unsigned want)
{
    if (w->fd < 0 || *cur == want) return;
    struct epoll_event ev = {.events = want, .data.ptr = w};
    int op = *cur == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (op == EPOLL_CTL_ADD && want == 0) return;
    epoll_ctl(c->px->epfd, op, w->fd, &ev);
    *cur = want;
}

static void update_events(cs_pg_conn *c)
{
    unsigned cw = 0, sw = 0;
    int reading = !c->close_after_flush && io_len(&c->sout) < HIGH_WATER &&
                  (!c->holding || io_len(&c->cin) < HOLD_READ_MAX) && c->phase != PH_CANCEL_RELAY;
    if (reading) cw |= EPOLLIN;
    if (io_len(&c->cout) > 0) cw |= EPOLLOUT;
    if (io_len(&c->cout) < HIGH_WATER && !c->close_after_flush) sw |= EPOLLIN;
    if (io_len(&c->sout) > 0 || c->connecting) sw |= EPOLLOUT;
    watch(c, &c->cw, &c->cev, cw);
    watch(c, &c->sw, &c->sev, sw);
}

/* Runs both directions until nothing moves, writes what it can, and re-arms. */
static void kick(cs_pg_conn *c)
{
    if (c->phase == PH_CLOSED) return;
    for (int i = 0; i < 64; i++) {
        int moved = process_server(c);
        moved |= process_client(c);
        flush_notices(c);
        if (!moved) break;
    }
    int done = 0;
    if (c->cw.fd >= 0 && write_some(c->cw.fd, &c->cout) != 0) done = 1;
    if (!done && c->sw.fd >= 0 && !c->connecting && write_some(c->sw.fd, &c->sout) != 0) {
        if (c->phase == PH_CANCEL_RELAY) done = 1;
        else server_gone(c, "countersign: lost the connection to the server");
    }
    if (c->phase == PH_CANCEL_RELAY && !c->connecting && io_len(&c->sout) == 0) done = 1;
    if (c->close_after_flush && io_len(&c->cout) == 0 && (c->sw.fd < 0 || io_len(&c->sout) == 0)) done = 1;
    if (done) cs_pg_conn_close(c);
    else update_events(c);
}

static void on_server_event(cs_pg_conn *c, unsigned events)
{
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(c->sw.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
            char *m = cs_sprintf("countersign: cannot connect to the upstream server: %s", strerror(soerr));
            if (c->phase == PH_CANCEL_RELAY) c->close_after_flush = 1;
            else server_gone(c, m);
            free(m);
            kick(c);
            return;
        }
        c->connecting = 0;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (read_some(c->sw.fd, &c->sin) != 0) {
            process_server(c);
            if (c->phase == PH_CANCEL_RELAY) {
                cs_pg_conn_close(c);
                return;
            }
            server_gone(c, "server closed the connection unexpectedly");
        }
    }
    kick(c);
}

void cs_pg_conn_on_event(cs_pg_conn *c, cs_pg_watch *w, unsigned events)
{
    if (c->phase == PH_CLOSED) return;
    if (w->kind == CS_PG_W_SERVER) {
        on_server_event(c, events);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (read_some(c->cw.fd, &c->cin) != 0) {
            /* The client went away: send Terminate so the server ends cleanly. */
            if (c->phase == PH_READY && c->sw.fd >= 0 && io_len(&c->sout) == 0) {
                static const char term[] = {'X', 0, 0, 0, 4};
                if (write(c->sw.fd, term, sizeof term) < 0) cs_debug("pg-proxy: terminate: %s", strerror(errno));
            }
            cs_pg_conn_close(c);
            return;
        }
    }
    kick(c);
}

int cs_pg_conn_cancel(cs_pg_conn *c)
{
    if (!c->holding || c->synth || c->ask == NULL) return 0;
    cs_pg_ask_drop(c->ask, 1);
    c->ask = NULL;
    char *detail = c->held_id[0] ? cs_sprintf("countersign cancelled the pending request %s", c->held_id) : NULL;
    set_synth(c, "57014", "canceling statement due to user request", detail);
    free(detail);
    kick(c);
    return 1;
}
