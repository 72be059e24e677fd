/* pg_proxy.h - the PostgreSQL proxy's event loop: one epoll set for the listening
 * socket, every client and server socket, and the gateway client's sockets
 * (PostgreSQL docs 55.2 "Message Flow" for what flows through it). */
#ifndef CS_PROXY_PG_PROXY_H
#define CS_PROXY_PG_PROXY_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/pg_cache.h"
#include "proxy/pg_decide.h"
#include "proxy/pg_shape.h"
#include "proxy/pg_tls.h"
#include "util/error.h"

/* What epoll's data.ptr points at: the first member of anything registered. */
enum { CS_PG_W_LISTEN, CS_PG_W_CLIENT, CS_PG_W_SERVER, CS_PG_W_CURL, CS_PG_W_WAKE };
typedef struct cs_pg_watch {
    int kind;
    int fd;
    void *owner;
} cs_pg_watch;

typedef struct cs_pg_options {
    const char *listen;      /* host:port or a unix socket path */
    const char *upstream;    /* host:port or a unix socket path */
    const char *name;        /* resource path segment: pg/<name>/<database>/... */
    const char *gateway_url; /* $COUNTERSIGN_URL */
    const char *token;       /* the proxy's own agent token ($COUNTERSIGN_TOKEN); may be NULL */
    const char *approve_url; /* base of approval links in notices */
    json_t *users;           /* {database user: env var name} (borrowed), may be NULL */
    const char *tls_cert;    /* PEM certificate chain and key: TLS for clients, or NULL */
    const char *tls_key;
    unsigned cache_slots; /* 0 disables the allowed-decision cache */
    long long cache_ttl_ms;
} cs_pg_options;

typedef struct cs_pg_conn cs_pg_conn;

typedef struct cs_pg_proxy {
    cs_pg_options opt;
    int epfd;
    cs_pg_watch listen_w;
    cs_pg_watch wake_w; /* eventfd written by cs_pg_proxy_stop() */
    struct sockaddr_storage upstream;
    socklen_t upstream_len;
    cs_pg_decider *decider;
    cs_pg_cache *cache;
    cs_pg_shapes *shapes;    /* NULL when the cache is off */
    cs_buf shape_buf;        /* scratch for statement shapes */
    cs_pg_tls *tls;          /* NULL without --tls-cert */
    cs_pg_conn *conns;       /* live connections */
    cs_pg_conn *dead;        /* closed, freed at the end of the loop iteration */
    long long next_probe_ms; /* policy version probe */
    int probing;
    volatile sig_atomic_t stop;
    unsigned long long statements, decided, denied;
} cs_pg_proxy;

int cs_pg_proxy_new(const cs_pg_options *o, cs_pg_proxy **out, cs_err *err);
/* Runs until cs_pg_proxy_stop(); returns 0. */
int cs_pg_proxy_run(cs_pg_proxy *p);
/* Async-signal-safe. */
void cs_pg_proxy_stop(cs_pg_proxy *p);
void cs_pg_proxy_free(cs_pg_proxy *p);
/* The actual listening address (host:port), for tests that listen on port 0. */
int cs_pg_proxy_port(const cs_pg_proxy *p);

/* For pg_conn.c: a non-blocking socket connecting to the upstream server. */
int cs_pg_proxy_connect_upstream(cs_pg_proxy *p, cs_err *err);
/* The connection whose backend key is (pid, key), or NULL. */
cs_pg_conn *cs_pg_proxy_find(cs_pg_proxy *p, uint32_t pid, uint32_t key);

#endif
