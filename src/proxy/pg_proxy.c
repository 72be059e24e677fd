/* pg_proxy.c - listening socket, epoll loop and upstream addressing for the
 * PostgreSQL proxy (PostgreSQL docs 55.2.1 "Start-up", 55.2.7 "Canceling Requests
 * in Progress"). One thread serves every session; gateway calls share the loop. */
#include "proxy/pg_proxy.h"

#include "proxy/pg_conn.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#define PROBE_EVERY_MS 1000
#define MAX_EVENTS 256

/* "host:port", "[v6]:port" or "/path/to/socket" into a socket address. */
static int resolve(const char *spec, struct sockaddr_storage *ss, socklen_t *len, cs_err *err)
{
    memset(ss, 0, sizeof *ss);
    if (spec[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (strlen(spec) >= sizeof un->sun_path)
            return cs_err_set(err, CS_EINVAL, "socket path too long: %s", spec);
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, spec);
        *len = sizeof *un;
        return 0;
    }
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof host || !colon[1])
        return cs_err_set(err, CS_EINVAL, "expected HOST:PORT, got '%s'", spec);
    size_t hl = (size_t)(colon - spec);
    if (spec[0] == '[' && hl > 2 && spec[hl - 1] == ']') {
        memcpy(host, spec + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        memcpy(host, spec, hl);
        host[hl] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) return cs_err_set(err, CS_EINVAL, "%s: %s", spec, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void nodelay(int fd, int family)
{
    int one = 1;
    if (family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int cs_pg_proxy_connect_upstream(cs_pg_proxy *p, cs_err *err)
{
    int fam = p->upstream.ss_family;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return cs_err_set(err, CS_EIO, "socket: %s", strerror(errno));
    nodelay(fd, fam);
    if (connect(fd, (struct sockaddr *)&p->upstream, p->upstream_len) != 0 &&
        errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return cs_err_set(err, CS_EIO, "cannot connect to the upstream server %s: %s",
                          p->opt.upstream, strerror(e));
    }
    return fd;
}

static int open_listener(cs_pg_proxy *p, cs_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = resolve(p->opt.listen, &ss, &len, err);
    if (rc != 0) return rc;
    if (ss.ss_family == AF_UNIX) unlink(((struct sockaddr_un *)&ss)->sun_path);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        rc = cs_err_set(err, CS_EIO, "cannot listen on %s: %s", p->opt.listen, strerror(errno));
        if (fd >= 0) close(fd);
        return rc;
    }
    p->listen_w = (cs_pg_watch){.kind = CS_PG_W_LISTEN, .fd = fd, .owner = p};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->listen_w};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

int cs_pg_proxy_new(const cs_pg_options *o, cs_pg_proxy **out, cs_err *err)
{
    cs_pg_proxy *p = cs_calloc(1, sizeof *p);
    p->opt = *o;
    p->listen_w.fd = p->wake_w.fd = -1;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    int rc = resolve(o->upstream, &p->upstream, &p->upstream_len, err);
    if (rc == 0 && o->tls_cert) rc = cs_pg_tls_new(o->tls_cert, o->tls_key, &p->tls, err);
    if (rc == 0) rc = open_listener(p, err);
    if (rc != 0) {
        cs_pg_proxy_free(p);
        return rc;
    }
    int wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->wake_w = (cs_pg_watch){.kind = CS_PG_W_WAKE, .fd = wfd, .owner = p};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->wake_w};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, wfd, &ev);
    p->decider = cs_pg_decider_new(o->gateway_url, p->epfd);
    p->cache = cs_pg_cache_new(o->cache_slots, o->cache_ttl_ms);
    if (o->cache_slots) p->shapes = cs_pg_shapes_new(8192);
    cs_buf_init(&p->shape_buf, 1 << 20);
    *out = p;
    return 0;
}

int cs_pg_proxy_port(const cs_pg_proxy *p)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(p->listen_w.fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

cs_pg_conn *cs_pg_proxy_find(cs_pg_proxy *p, uint32_t pid, uint32_t key)
{
    for (cs_pg_conn *c = p->conns; c; c = cs_pg_conn_next(c))
        if (cs_pg_conn_has_key(c, pid, key)) return c;
    return NULL;
}

static void on_accept(cs_pg_proxy *p)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd =
            accept4(p->listen_w.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                cs_warn("pg-proxy: accept: %s", strerror(errno));
            return;
        }
        nodelay(fd, ss.ss_family);
        cs_pg_conn_new(p, fd);
    }
}

static void on_version(void *ud, const char *version, const cs_pg_epochs *epochs)
{
    cs_pg_proxy *p = ud;
    p->probing = 0;
    cs_pg_cache_set_version(p->cache, version, epochs, cs_mono_ms());
}

/* The cache trusts a policy version only while the gateway keeps confirming it. */
static void maybe_probe(cs_pg_proxy *p, long long now)
{
    if (p->opt.cache_slots == 0 || p->probing || now < p->next_probe_ms) return;
    p->probing = 1;
    p->next_probe_ms = now + PROBE_EVERY_MS;
    cs_pg_probe_version(p->decider, on_version, p);
}

static int loop_timeout(cs_pg_proxy *p, long long now)
{
    long t = cs_pg_decider_timeout_ms(p->decider);
    if (p->opt.cache_slots) {
        long long until = p->next_probe_ms - now;
        if (until < 0) until = 0;
        if (t < 0 || until < t) t = (long)until;
    }
    return t < 0 || t > 1000 ? 1000 : (int)t;
}

static void dispatch(cs_pg_proxy *p, struct epoll_event *ev)
{
    cs_pg_watch *w = ev->data.ptr;
    switch (w->kind) {
    case CS_PG_W_LISTEN:
        on_accept(p);
        break;
    case CS_PG_W_CURL:
        cs_pg_decider_on_event(p->decider, w, ev->events);
        break;
    case CS_PG_W_WAKE: {
        uint64_t v;
        if (read(w->fd, &v, sizeof v) < 0) cs_debug("pg-proxy: wake: %s", strerror(errno));
        break;
    }
    default:
        cs_pg_conn_on_event(w->owner, w, ev->events);
        break;
    }
}

int cs_pg_proxy_run(cs_pg_proxy *p)
{
    struct epoll_event evs[MAX_EVENTS];
    while (!p->stop) {
        long long now = cs_mono_ms();
        maybe_probe(p, now);
        int n = epoll_wait(p->epfd, evs, MAX_EVENTS, loop_timeout(p, now));
        if (n < 0 && errno != EINTR) {
            cs_error("pg-proxy: epoll_wait: %s", strerror(errno));
            return CS_EIO;
        }
        for (int i = 0; i < n; i++)
            dispatch(p, &evs[i]);
        cs_pg_decider_tick(p->decider);
        cs_pg_conn_reap(p);
    }
    return 0;
}

void cs_pg_proxy_stop(cs_pg_proxy *p)
{
    p->stop = 1;
    uint64_t one = 1;
    if (p->wake_w.fd >= 0 && write(p->wake_w.fd, &one, sizeof one) < 0) p->stop = 1;
}

void cs_pg_proxy_free(cs_pg_proxy *p)
{
    if (p == NULL) return;
    while (p->conns)
        cs_pg_conn_close(p->conns);
    cs_pg_conn_reap(p);
    cs_pg_decider_free(p->decider);
    cs_pg_cache_free(p->cache);
    cs_pg_shapes_free(p->shapes);
    cs_buf_free(&p->shape_buf);
    cs_pg_tls_free(p->tls);
    if (p->listen_w.fd >= 0) close(p->listen_w.fd);
    if (p->wake_w.fd >= 0) close(p->wake_w.fd);
    if (p->epfd >= 0) close(p->epfd);
    free(p);
}
