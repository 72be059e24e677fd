/* pg_conn_int.h - what the PostgreSQL proxy's session files share (pg_conn.c the
 * sockets and start-up, pg_unit.c the client's units and their decisions,
 * pg_relay.c the server's answers); not for other subsystems. */
#ifndef CS_PROXY_PG_CONN_INT_H
#define CS_PROXY_PG_CONN_INT_H

#include "proxy/pg_classify.h"
#include "proxy/pg_conn.h"
#include "proxy/pg_names.h"
#include "proxy/pg_wire.h"
#include "util/buf.h"

#include <string.h>

#define HIGH_WATER (4 * 1024 * 1024)       /* stop reading the other side above this */
#define HOLD_READ_MAX (1024 * 1024)        /* client bytes buffered while a unit is held */
#define IN_MAX ((size_t)CS_PG_MSG_MAX * 2) /* a unit may hold a few large messages */
#define TEXT_MAX (8 * 1024)                /* statement text sent in the context */

enum phase { PH_STARTUP, PH_AUTH, PH_READY, PH_CANCEL_RELAY, PH_CLOSED };

typedef struct io {
    cs_buf b;
    size_t off;
} io;

/* A forwarded unit waiting for its ReadyForQuery. */
typedef struct sent {
    int syncs;          /* ReadyForQuery messages still expected */
    int swallow;        /* an injected ROLLBACK whose answers the client must not see */
    json_t *ids;        /* approved actions whose outcome is reported when it completes */
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
    cs_pg_tls_conn *tls; /* client-side TLS, once the handshake started */
    int tls_start;       /* 'S' queued: start TLS once it is written */
    int tls_handshaking;
    io cin, cout, sin, sout;
    char *user, *database, *token;
    char *principal; /* cache key: principal, database user, database */
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
    unsigned ask_generation; /* the decision cache's generation when it was asked */
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

static inline size_t io_len(const io *q)
{
    return q->b.len - q->off;
}

static inline const char *io_ptr(const io *q)
{
    return q->b.data + q->off;
}

static inline void io_consume(io *q, size_t n)
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

/* pg_conn.c */
/* Runs both directions until nothing moves, writes what it can, and re-arms. */
void cs_pg_conn_kick(cs_pg_conn *c);
/* A fatal error for the client, then close once it has been written. */
void cs_pg_conn_fail(cs_pg_conn *c, const char *sqlstate, const char *msg);

/* pg_unit.c */
/* Cuts client bytes into units and moves them on: returns 1 when something moved. */
int cs_pg_unit_process(cs_pg_conn *c);
/* Answers the held unit with an error (written once the server caught up). */
void cs_pg_unit_refuse(cs_pg_conn *c, const char *state, const char *msg, const char *detail);
void cs_pg_unit_clear(cs_pg_conn *c);

/* pg_relay.c */
/* Relays complete (or streaming) server messages: returns 1 when something moved. */
int cs_pg_relay_process(cs_pg_conn *c);
/* Queued notices go out at a message boundary. */
void cs_pg_relay_flush_notices(cs_pg_conn *c);
void cs_pg_sent_free(sent *s);

#endif
