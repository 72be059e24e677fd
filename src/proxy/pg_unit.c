/* pg_unit.c - the client side of a session (PostgreSQL docs 55.2.2 "Simple Query",
 * 55.2.3 "Extended Query", 55.2.4 "Pipelining"): client bytes are cut into units (a
 * Query, a FunctionCall, or an extended-query batch up to Sync or Flush); each unit
 * is decided before any of it is forwarded, so a denial never leaves the server half
 * way through a batch. Units are handled strictly in order; a synthetic answer
 * (denial, 25P02) is written only once the server has answered everything forwarded
 * before it, so the client sees responses in the order it asked. */
#include "proxy/pg_conn_int.h"

#include "proxy/pg_shape.h"
#include "util/alloc.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>

void cs_pg_unit_clear(cs_pg_conn *c)
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

static void decide_next(cs_pg_conn *c);

void cs_pg_unit_refuse(cs_pg_conn *c, const char *state, const char *msg, const char *detail)
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
    if (c->unit_end == 'H')
        c->skip_to_sync = 1;
    else
        put_ready(c);
    io_consume(&c->cin, c->unit_len);
    cs_pg_unit_clear(c);
    return 1;
}

static sent *sent_push(cs_pg_conn *c, int syncs, int swallow)
{
    sent *s = cs_calloc(1, sizeof *s);
    s->syncs = syncs;
    s->swallow = swallow;
    cs_buf_init(&s->tags, 4096);
    if (c->sent_tail)
        c->sent_tail->next = s;
    else
        c->sent_head = s;
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
    cs_pg_unit_clear(c);
}

/* Resource path segment: identifiers may contain '/', quotes and anything else; a
 * name that is "." or ".." (a quoted identifier can be) has its dots encoded too,
 * as the gateway refuses those segments. */
static void put_segment(cs_buf *b, const char *s)
{
    if (!strcmp(s, ".") || !strcmp(s, "..")) {
        cs_buf_puts(b, s[1] ? "%2E%2E" : "%2E");
        return;
    }
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x21 || ch == 0x7f || ch == '/' || ch == '%' || ch == '"' || ch == '\\')
            cs_buf_printf(b, "%%%02X", ch);
        else
            cs_buf_putc(b, (char)ch);
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
        while (tl > 0 && ((unsigned char)st->text[tl] & 0xC0) == 0x80)
            tl--;
    }
    json_t *ctx = json_pack("{s:s,s:O,s:b,s:s,s:s%,s:s,s:s}", "statement",
                            cs_pg_kind_name(st->kind), "tables", st->tables, "has_where",
                            st->has_where, "fingerprint", st->fingerprint_hex, "text", st->text, tl,
                            "db_user", c->user, "database", c->database);
    if (ctx == NULL) { /* text cut inside a UTF-8 sequence, or not UTF-8 at all */
        ctx = json_pack("{s:s,s:O,s:b,s:s,s:s,s:s}", "statement", cs_pg_kind_name(st->kind),
                        "tables", st->tables, "has_where", st->has_where, "fingerprint",
                        st->fingerprint_hex, "db_user", c->user, "database", c->database);
        json_object_set_new(ctx, "text", json_string("(not valid UTF-8)"));
    }
    if (tl < strlen(st->text)) json_object_set_new(ctx, "text_truncated", json_true());
    char *res = resource_for(c, st);
    json_t *body = json_pack("{s:s,s:s,s:o,s:s}", "action", "sql.execute", "resource", res,
                             "context", ctx, "source", "pg");
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
    json_array_foreach(json_object_get(ap, "votes"), i, vote)
    {
        votes += !strcmp(vstr(vote, "vote", NULL), "approve");
    }
    cs_buf groups;
    cs_buf_init(&groups, 4096);
    json_array_foreach(json_object_get(ap, "groups"), i, g)
        cs_buf_printf(&groups, "%s%s", i ? ", " : "", json_string_value(g));
    char *msg = cs_sprintf(
        "countersign: %s %s is held for approval (%s): %zu of %lld approvals from %s, expires %s",
        vstr(v->action, "action", NULL), vstr(v->action, "resource", NULL), v->id, votes,
        (long long)json_integer_value(json_object_get(ap, "quorum")),
        groups.data ? groups.data : "", vstr(ap, "expires_at", NULL));
    char *hint = cs_sprintf("approve with `countersign approve %s` or at %s/a/%s", v->id,
                            c->px->opt.approve_url, v->id);
    cs_pg_put_notice(&c->notices, msg, first ? v->reason : NULL, hint);
    free(msg);
    free(hint);
    cs_buf_free(&groups);
}

/* "countersign denied ... (request ID): reason", naming the request and why. */
static char *refusal_message(const cs_pg_verdict *v)
{
    const char *res = vstr(v->action, "resource", NULL);
    if (v->kind == CS_PG_V_FAILED)
        return cs_sprintf("countersign could not decide on this statement, so it was refused: %s",
                          v->reason);
    if (!strcmp(v->status, "expired"))
        return cs_sprintf("countersign: request %s for sql.execute on %s expired without approval",
                          v->id, res);
    if (!strcmp(v->status, "cancelled"))
        return cs_sprintf("countersign: request %s for sql.execute on %s was cancelled", v->id,
                          res);
    /* Denied by policy, or by an approver's vote (whose reason is in the votes). */
    const char *why = v->reason;
    const json_t *deny = NULL, *vote;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(v->action, "approval"), "votes"), i, vote)
    {
        if (!strcmp(vstr(vote, "vote", NULL), "deny")) deny = vote;
    }
    if (deny)
        return cs_sprintf("countersign denied sql.execute on %s (request %s): denied by %s%s%s",
                          res, v->id, vstr(deny, "voter", NULL),
                          *vstr(deny, "reason", NULL) ? ": " : "", vstr(deny, "reason", NULL));
    return cs_sprintf("countersign denied sql.execute on %s (request %s)%s%s", res, v->id,
                      *why ? ": " : "", why);
}

static void on_verdict(void *ud, const cs_pg_verdict *v)
{
    cs_pg_conn *c = ud;
    if (v->kind == CS_PG_V_PENDING) {
        hold_notice(c, v, c->held_id[0] == '\0');
        snprintf(c->held_id, sizeof c->held_id, "%s", v->id);
        cs_pg_conn_kick(c);
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
            cs_pg_cache_put(c->px->cache, c->principal, st->fingerprint, v->policy_version,
                            c->ask_generation, cs_mono_ms());
        }
        c->next_stmt++;
        decide_next(c);
    } else {
        c->px->denied++;
        char *msg = refusal_message(v);
        cs_pg_unit_refuse(c, "42501", msg, NULL);
        free(msg);
    }
    cs_pg_conn_kick(c);
}

/* Asks about each statement of the unit in turn; cached allowed decisions and
 * transaction control need no request. */
static void decide_next(cs_pg_conn *c)
{
    long long now = cs_mono_ms();
    while (c->next_stmt < c->stmts.n) {
        cs_pg_stmt *st = &c->stmts.v[c->next_stmt];
        if (st->kind == CS_PG_TXN ||
            cs_pg_cache_hit(c->px->cache, c->principal, st->fingerprint, now)) {
            c->next_stmt++;
            continue;
        }
        json_t *body = request_body(c, st);
        c->held_id[0] = '\0';
        c->ask_generation = cs_pg_cache_generation(c->px->cache);
        c->ask = cs_pg_ask_submit(c->px->decider, c->token, body, on_verdict, c);
        json_decref(body);
        return;
    }
    forward_unit(c, io_ptr(&c->cin), c->unit_len);
}

static int is_txn_end(const cs_pg_stmts *s)
{
    return s->n == 1 && s->v[0].kind == CS_PG_TXN &&
           (s->v[0].txn == CS_PG_TXN_COMMIT || s->v[0].txn == CS_PG_TXN_ROLLBACK ||
            s->v[0].txn == CS_PG_TXN_ROLLBACK_TO);
}

/* The hot path: a text whose shape was classified before and whose every statement
 * is transaction control or has a cached allowed decision needs neither the parser
 * nor the gateway. */
static int shape_allows(cs_pg_conn *c, const char *sql, cs_buf *shape)
{
    if (c->px->shapes == NULL || cs_pg_shape(sql, shape) != 0) return 0;
    const cs_pg_shape_info *info = cs_pg_shapes_get(c->px->shapes, shape->data, shape->len);
    if (info == NULL) return 0;
    long long now = cs_mono_ms();
    for (int i = 0; i < info->n; i++)
        if (info->stmt[i].kind != CS_PG_TXN &&
            !cs_pg_cache_hit(c->px->cache, c->principal, info->stmt[i].fingerprint, now))
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
    cs_buf *shape = &c->px->shape_buf; /* one loop thread: a scratch buffer is enough */
    cs_buf_reset(shape);
    if (fast && shape_allows(c, sql, shape)) return 0;
    if (cs_pg_classify(sql, &more, &err) != 0) {
        cs_pg_unit_refuse(c, "42601", err.msg,
                          "countersign refuses statements its PostgreSQL parser cannot read");
        return -1;
    }
    if (fast && c->px->shapes) shape_remember(c, shape, &more);
    c->stmts.v = cs_realloc(c->stmts.v, (c->stmts.n + more.n + 1) * sizeof *c->stmts.v);
    memcpy(c->stmts.v + c->stmts.n, more.v, more.n * sizeof *more.v);
    c->stmts.n += more.n;
    free(more.v);
    return 0;
}

static int bad_msg(cs_pg_conn *c, const char *what)
{
    char *m = cs_sprintf("malformed %s message", what);
    cs_pg_unit_refuse(c, "08P01", m, NULL);
    free(m);
    return -1;
}

static int names_full(cs_pg_conn *c, const cs_err *err)
{
    cs_pg_unit_refuse(c, "54000", err->msg, NULL);
    return -1;
}

/* An Execute: the SQL its portal runs joins the unit's statements. A portal the
 * proxy never saw created is refused: it cannot say what it would run. */
static int collect_execute(cs_pg_conn *c, const char *portal, int fast)
{
    const char *sql = cs_pg_batch_portal_sql(c->batch, portal);
    if (sql == NULL) {
        char *m = cs_sprintf("countersign: portal \"%s\" is not known to the proxy", portal);
        cs_pg_unit_refuse(
            c, "34000", m,
            "Only portals bound to statements prepared through the proxy can be executed.");
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
            if (t == NULL)
                return cs_pg_unit_refuse(c, "22021", "statement text is not valid UTF-8", NULL), -1;
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
    if (c->unit_end != 'Q' && collect_extended(c, io_ptr(&c->cin), c->unit_len, 0) == 0 &&
        is_txn_end(&c->stmts)) {
        if (c->stmts.v[0].txn != CS_PG_TXN_ROLLBACK_TO) {
            sent_push(c, 1, 1);
            cs_pg_put_query(&c->sout.b, "ROLLBACK");
        }
        c->aborted = 0;
        forward_unit(c, io_ptr(&c->cin), c->unit_len);
        return;
    }
    cs_pg_stmts_free(&c->stmts);
    cs_pg_unit_refuse(
        c, "25P02",
        "current transaction is aborted, commands ignored until end of transaction block", NULL);
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
            cs_pg_unit_refuse(c, "08P01", "malformed Query message", NULL);
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
        c->stmts.v[0] = (cs_pg_stmt){
            .kind = CS_PG_OTHER, .tables = json_array(), .text = cs_strdup("(function call)")};
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
            if (off != m.total)
                return cs_err_set(err, CS_EINVAL, "message '%c' inside an extended-query batch",
                                  m.type);
        } else if (m.type == 0 || !strchr("PBDECSH", m.type)) {
            return cs_err_set(err, CS_EINVAL, "invalid frontend message type %d",
                              (unsigned char)m.type);
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

int cs_pg_unit_process(cs_pg_conn *c)
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
            if (rc < 0) return cs_pg_conn_fail(c, "08P01", "invalid message length"), 1;
            if (rc == 0) break;
            progress = 1;
            continue;
        }
        cs_pg_msg first = {0};
        cs_err err = {0};
        int rc = scan_unit(c, &first, &err);
        if (rc < 0) {
            cs_pg_conn_fail(c, "08P01", err.msg);
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
