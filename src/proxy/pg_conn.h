/* pg_conn.h - one proxied PostgreSQL session: the client socket, its upstream
 * server socket, and the state machine between them (PostgreSQL docs 55.2 "Message
 * Flow": start-up, simple query, extended query, COPY, cancel, termination). */
#ifndef CS_PROXY_PG_CONN_H
#define CS_PROXY_PG_CONN_H

#include <stdint.h>

#include "proxy/pg_proxy.h"

/* Takes ownership of a connected, non-blocking client socket. */
cs_pg_conn *cs_pg_conn_new(cs_pg_proxy *p, int client_fd);
void cs_pg_conn_on_event(cs_pg_conn *c, cs_pg_watch *w, unsigned events);
/* Closes the sockets and moves the connection to the proxy's dead list. */
void cs_pg_conn_close(cs_pg_conn *c);
/* Frees every connection on the dead list (between loop iterations). */
void cs_pg_conn_reap(cs_pg_proxy *p);
/* 1 when (pid, key) is this session's backend key. */
int cs_pg_conn_has_key(const cs_pg_conn *c, uint32_t pid, uint32_t key);
cs_pg_conn *cs_pg_conn_next(const cs_pg_conn *c);
/* A CancelRequest for this session: answers a statement held for a decision with
 * 57014 and cancels its gateway request. Returns 1 when one was held, 0 when the
 * request must be relayed to the server. */
int cs_pg_conn_cancel(cs_pg_conn *c);

#endif
