/* pg_conn.c - one proxied session's sockets and life cycle (PostgreSQL docs 55.2.1
 * "Start-up", 55.2.7 "Canceling Requests in Progress", 55.2.10 "Termination"):
 * start-up packets, authentication relayed as framed messages, non-blocking reads
 * and writes with back-pressure, cancel requests, and closing. The client's units
 * are in pg_unit.c, the server's answers in pg_relay.c. */
#include "proxy/pg_conn_int.h"

#include "util/alloc.h"
#include "util/log.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

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
    cs_pg_conn_kick(c);
    return c;
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
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = NULL;
    c->next = p->dead;
    p->dead = c;
}

static void conn_free(cs_pg_conn *c)
{
    cs_pg_tls_conn_free(c->tls);
    cs_pg_unit_clear(c);
    cs_buf_free(&c->cin.b);
    cs_buf_free(&c->cout.b);
    cs_buf_free(&c->sin.b);
    cs_buf_free(&c->sout.b);
    cs_buf_free(&c->notices);
    while (c->sent_head) {
        sent *s = c->sent_head;
        c->sent_head = s->next;
        cs_pg_sent_free(s);
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
void cs_pg_conn_fail(cs_pg_conn *c, const char *sqlstate, const char *msg)
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
    cs_pg_conn_fail(c, "08006", msg);
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
    /* Both go into every request's context (and the database into its resource): a
     * name that is not UTF-8 could not be recorded, and each statement would end in
     * an error from the gateway. Refused here, once, saying why. */
    if (!cs_utf8_valid(c->user, strlen(c->user)) ||
        !cs_utf8_valid(c->database, strlen(c->database))) {
        cs_pg_conn_fail(c, "22021",
                        "countersign: the user and database names must be UTF-8: every "
                        "decision records them");
        return;
    }
    const char *tok = token_for(c);
    const char *env = json_string_value(json_object_get(c->px->opt.users, c->user));
    if (tok == NULL) {
        char *m = env ? cs_sprintf("countersign: environment variable %s (pg.users) holds no token "
                                   "for database user \"%s\"",
                                   env, c->user)
                      : cs_sprintf("countersign: no principal for database user \"%s\" (set "
                                   "pg.users or COUNTERSIGN_TOKEN)",
                                   c->user);
        cs_pg_conn_fail(c, "28000", m);
        free(m);
        return;
    }
    c->token = cs_strdup(tok);
    /* The cache key of this session's decisions: who asks, and everything besides the
     * fingerprint that a policy sees (the database is in the resource, the user in
     * the context). */
    c->principal = cs_sprintf("%s%s\x1f%s\x1f%s", env ? "env:" : "proxy-token", env ? env : "",
                              c->user, c->database);
    cs_err err = {0};
    int fd = cs_pg_proxy_connect_upstream(c->px, &err);
    if (fd < 0) {
        cs_pg_conn_fail(c, "08006", err.msg);
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
    if (target)
        relay_cancel(c, packet);
    else
        c->close_after_flush = 1; /* unknown key: ignored, as the server would */
}

static int process_startup(cs_pg_conn *c)
{
    cs_pg_startup s;
    cs_err err = {0};
    int rc = cs_pg_startup_next(io_ptr(&c->cin), io_len(&c->cin), &s, &err);
    if (rc < 0) {
        cs_pg_conn_fail(c, "08P01", err.msg);
        return 1;
    }
    if (rc == 0) return 0;
    if (s.kind == CS_PG_SSL && c->px->tls && c->tls == NULL) {
        /* Bytes after the request would be read as if they had come over TLS. */
        if (io_len(&c->cin) != s.total) {
            cs_pg_conn_fail(c, "08P01", "received unencrypted data after SSL request");
            return 1;
        }
        cs_buf_putc(&c->cout.b, 'S');
        c->tls_start = 1;
    } else if (s.kind == CS_PG_SSL || s.kind == CS_PG_GSSENC) {
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
        if (rc < 0) return cs_pg_conn_fail(c, "08P01", err.msg), 1;
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
    case PH_STARTUP:
        return process_startup(c);
    case PH_AUTH:
        return process_client_auth(c);
    case PH_READY:
        return cs_pg_unit_process(c);
    default:
        return 0;
    }
}

/* ---- sockets ---- */

/* Writes as much of q as the socket takes. Returns -1 on a broken socket. */
static int write_some(int fd, cs_pg_tls_conn *tls, io *q)
{
    while (io_len(q) > 0) {
        ssize_t n =
            tls ? cs_pg_tls_write(tls, io_ptr(q), io_len(q)) : write(fd, io_ptr(q), io_len(q));
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

/* Reads what is available into q. Returns 0, or -1 on EOF or error. Over TLS it
 * also drains what OpenSSL already decrypted: no socket event would announce it. */
static int read_some(int fd, cs_pg_tls_conn *tls, io *q)
{
    char buf[65536];
    for (int i = 0; i < 4 || (tls && cs_pg_tls_pending(tls)); i++) {
        ssize_t n = tls ? cs_pg_tls_read(tls, buf, sizeof buf) : read(fd, buf, sizeof buf);
        if (n > 0) {
            if (cs_buf_append(&q->b, buf, (size_t)n) != 0) return -1;
            if ((size_t)n < sizeof buf && !(tls && cs_pg_tls_pending(tls))) return 0;
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

/* Whether the client's bytes are wanted now (back-pressure, holds, TLS start). */
static int reading_client(const cs_pg_conn *c)
{
    return !c->close_after_flush && !c->tls_start && io_len(&c->sout) < HIGH_WATER &&
           (!c->holding || io_len(&c->cin) < HOLD_READ_MAX) && c->phase != PH_CANCEL_RELAY;
}

static void update_events(cs_pg_conn *c)
{
    unsigned cw = 0, sw = 0;
    if (reading_client(c) || c->tls_handshaking) cw |= EPOLLIN;
    if ((io_len(&c->cout) > 0 && !c->tls_handshaking) || (c->tls && cs_pg_tls_wants_write(c->tls)))
        cw |= EPOLLOUT;
    if (io_len(&c->cout) < HIGH_WATER && !c->close_after_flush) sw |= EPOLLIN;
    if (io_len(&c->sout) > 0 || c->connecting) sw |= EPOLLOUT;
    watch(c, &c->cw, &c->cev, cw);
    watch(c, &c->sw, &c->sev, sw);
}

/* Advances the TLS handshake; -1 when it failed (the session is then closed: a
 * client mid-handshake cannot read an error message). */
static int tls_step(cs_pg_conn *c)
{
    cs_err err = {0};
    int rc = cs_pg_tls_handshake(c->tls, &err);
    if (rc < 0) {
        cs_debug("pg-proxy: %s", err.msg);
        return -1;
    }
    c->tls_handshaking = rc == CS_PG_TLS_AGAIN;
    return 0;
}

/* 'S' is written: from here on the client speaks TLS. */
static int tls_begin(cs_pg_conn *c)
{
    c->tls_start = 0;
    c->tls = cs_pg_tls_accept(c->px->tls, c->cw.fd);
    c->tls_handshaking = 1;
    return tls_step(c);
}

/* Runs both directions until nothing moves, writes what it can, and re-arms. */
void cs_pg_conn_kick(cs_pg_conn *c)
{
    if (c->phase == PH_CLOSED) return;
    for (int i = 0; i < 64; i++) {
        int moved = cs_pg_relay_process(c);
        moved |= process_client(c);
        cs_pg_relay_flush_notices(c);
        /* Bytes OpenSSL decrypted while reading was paused get no socket event. */
        if (!moved && c->tls && !c->tls_handshaking && reading_client(c) &&
            cs_pg_tls_pending(c->tls)) {
            if (read_some(c->cw.fd, c->tls, &c->cin) != 0) {
                cs_pg_conn_close(c);
                return;
            }
            moved = 1;
        }
        if (!moved) break;
    }
    int done = 0;
    if (c->cw.fd >= 0 && !c->tls_handshaking && write_some(c->cw.fd, c->tls, &c->cout) != 0)
        done = 1;
    if (!done && c->tls_start && io_len(&c->cout) == 0) done = tls_begin(c) != 0;
    if (!done && c->sw.fd >= 0 && !c->connecting && write_some(c->sw.fd, NULL, &c->sout) != 0) {
        if (c->phase == PH_CANCEL_RELAY)
            done = 1;
        else
            server_gone(c, "countersign: lost the connection to the server");
    }
    if (c->phase == PH_CANCEL_RELAY && !c->connecting && io_len(&c->sout) == 0) done = 1;
    if (c->close_after_flush && io_len(&c->cout) == 0 && (c->sw.fd < 0 || io_len(&c->sout) == 0))
        done = 1;
    if (done)
        cs_pg_conn_close(c);
    else
        update_events(c);
}

static void on_server_event(cs_pg_conn *c, unsigned events)
{
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        getsockopt(c->sw.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
            char *m = cs_sprintf("countersign: cannot connect to the upstream server: %s",
                                 strerror(soerr));
            if (c->phase == PH_CANCEL_RELAY)
                c->close_after_flush = 1;
            else
                server_gone(c, m);
            free(m);
            cs_pg_conn_kick(c);
            return;
        }
        c->connecting = 0;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (read_some(c->sw.fd, NULL, &c->sin) != 0) {
            cs_pg_relay_process(c);
            if (c->phase == PH_CANCEL_RELAY) {
                cs_pg_conn_close(c);
                return;
            }
            server_gone(c, "server closed the connection unexpectedly");
        }
    }
    cs_pg_conn_kick(c);
}

void cs_pg_conn_on_event(cs_pg_conn *c, cs_pg_watch *w, unsigned events)
{
    if (c->phase == PH_CLOSED) return;
    if (w->kind == CS_PG_W_SERVER) {
        on_server_event(c, events);
        return;
    }
    if (c->tls_handshaking) {
        if (tls_step(c) != 0) {
            cs_pg_conn_close(c);
            return;
        }
        if (c->tls_handshaking) {
            cs_pg_conn_kick(c);
            return;
        }
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || (c->tls && cs_pg_tls_pending(c->tls))) {
        if (read_some(c->cw.fd, c->tls, &c->cin) != 0) {
            /* The client went away: send Terminate so the server ends cleanly. */
            if (c->phase == PH_READY && c->sw.fd >= 0 && io_len(&c->sout) == 0) {
                static const char term[] = {'X', 0, 0, 0, 4};
                if (write(c->sw.fd, term, sizeof term) < 0)
                    cs_debug("pg-proxy: terminate: %s", strerror(errno));
            }
            cs_pg_conn_close(c);
            return;
        }
    }
    cs_pg_conn_kick(c);
}

int cs_pg_conn_cancel(cs_pg_conn *c)
{
    if (!c->holding || c->synth || c->ask == NULL) return 0;
    cs_pg_ask_drop(c->ask, 1);
    c->ask = NULL;
    char *detail = c->held_id[0]
                       ? cs_sprintf("countersign cancelled the pending request %s", c->held_id)
                       : NULL;
    cs_pg_unit_refuse(c, "57014", "canceling statement due to user request", detail);
    free(detail);
    cs_pg_conn_kick(c);
    return 1;
}
