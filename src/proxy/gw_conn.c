/* gw_conn.c - the proxy's kept-alive plain HTTP/1.1 connection to the gateway. */
#include "proxy/gw_conn.h"

#include "proxy/http_reply.h"
#include "util/alloc.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 10000
#define ABORT_POLL_MS 100
#define READ_CHUNK (64 * 1024)

struct cs_gw_conn {
    int fd;     /* -1: none open; open only after a request, so the gateway may have closed it */
    cs_buf in;  /* bytes of the answer being read */
    cs_buf req; /* the request being sent */
};

int cs_gw_target_parse(const char *url, cs_gw_target *t)
{
    memset(t, 0, sizeof *t);
    if (strncmp(url, "http://", 7) != 0) return CS_EINVAL;
    const char *a = url + 7, *slash = strchr(a, '/');
    size_t an = slash ? (size_t)(slash - a) : strlen(a);
    if (an == 0 || an >= sizeof t->authority || memchr(a, '@', an) || strpbrk(url, "?#"))
        return CS_EINVAL;
    memcpy(t->authority, a, an);
    const char *hp = a, *he, *port = NULL;
    if (*a == '[') {
        const char *rb = memchr(a, ']', an);
        if (rb == NULL) return CS_EINVAL;
        hp = a + 1;
        he = rb;
        if (rb + 1 < a + an) {
            if (rb[1] != ':') return CS_EINVAL;
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(a, ':', an);
        he = colon ? colon : a + an;
        if (colon) port = colon + 1;
    }
    size_t hn = (size_t)(he - hp), pn = port ? (size_t)(a + an - port) : 0;
    if (hn == 0 || hn >= sizeof t->host || (port && (pn == 0 || pn > 5))) return CS_EINVAL;
    memcpy(t->host, hp, hn);
    for (size_t i = 0; i < pn; i++)
        if (port[i] < '0' || port[i] > '9') return CS_EINVAL;
    if (port)
        memcpy(t->port, port, pn);
    else
        strcpy(t->port, "80");
    if (slash) {
        size_t pl = strlen(slash);
        while (pl > 0 && slash[pl - 1] == '/')
            pl--;
        if (pl >= sizeof t->prefix) return CS_EINVAL;
        memcpy(t->prefix, slash, pl);
    }
    return 0;
}

cs_gw_conn *cs_gw_conn_new(void)
{
    cs_gw_conn *c = cs_calloc(1, sizeof *c);
    c->fd = -1;
    cs_buf_init(&c->req, (size_t)64 << 20);
    return c;
}

static void conn_close(cs_gw_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

void cs_gw_conn_free(cs_gw_conn *c)
{
    if (c == NULL) return;
    conn_close(c);
    cs_buf_free(&c->in);
    if (c->req.data) memset(c->req.data, 0, c->req.cap); /* it held the token */
    cs_buf_free(&c->req);
    free(c);
}

/* Waits for events on c->fd until the deadline, in slices that look at abort:
 * 1 ready, CS_EIO with err set on timeout, abort or a poll failure. */
static int wait_fd(cs_gw_conn *c, short events, long long deadline, atomic_int *abort,
                   const char *what, cs_err *err)
{
    for (;;) {
        if (abort && atomic_load(abort)) return cs_err_set(err, CS_EIO, "%s: aborted", what);
        long long left = deadline - cs_mono_ms();
        if (left <= 0) return cs_err_set(err, CS_EIO, "%s: timed out", what);
        struct pollfd p = {.fd = c->fd, .events = events};
        int n = poll(&p, 1, (int)(left < ABORT_POLL_MS ? left : ABORT_POLL_MS));
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return cs_err_set(err, CS_EIO, "%s: %s", what, strerror(errno));
    }
}

static int open_conn(cs_gw_conn *c, const cs_gw_target *t, long long deadline, atomic_int *abort,
                     cs_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(t->host, t->port, &hints, &res);
    if (g != 0) return cs_err_set(err, CS_EIO, "%s: %s", t->authority, gai_strerror(g));
    long long cdl = cs_mono_ms() + CONNECT_TIMEOUT_MS;
    if (cdl > deadline) cdl = deadline;
    int rc = cs_err_set(err, CS_EIO, "%s: no address", t->authority);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->fd < 0) {
            rc = cs_err_set(err, CS_EIO, "%s: socket: %s", t->authority, strerror(errno));
            continue;
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            rc = cs_err_set(err, CS_EIO, "%s: connect: %s", t->authority, strerror(errno));
            conn_close(c);
            continue;
        }
        rc = wait_fd(c, POLLOUT, cdl, abort, t->authority, err);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (rc == 1 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(res);
            return 0;
        }
        if (rc == 1)
            rc = cs_err_set(err, CS_EIO, "%s: connect: %s", t->authority, strerror(soerr ? soerr : errno));
        conn_close(c);
        if (abort && atomic_load(abort)) break;
    }
    freeaddrinfo(res);
    return rc;
}

/* Whether a send or receive failure says the gateway closed the connection. */
static bool closed_errno(int e)
{
    return e == ECONNRESET || e == EPIPE;
}

/* Sends c->req: 0, or CS_EIO (*stale: the gateway had closed the connection before
 * one byte went out). */
static int send_all(cs_gw_conn *c, long long deadline, atomic_int *abort, const char *who,
                    bool *stale, cs_err *err)
{
    size_t off = 0;
    *stale = false;
    while (off < c->req.len) {
        ssize_t n = send(c->fd, c->req.data + off, c->req.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c, POLLOUT, deadline, abort, who, err);
            if (rc < 0) return rc;
            continue;
        }
        *stale = off == 0 && closed_errno(errno);
        return cs_err_set(err, CS_EIO, "%s: send: %s", who, strerror(errno));
    }
    return 0;
}

/* Reads the answer to the request just sent: 0 with *status and reply filled, or an
 * error (*stale: the gateway closed the connection before one byte of an answer). */
static int read_answer(cs_gw_conn *c, long long deadline, atomic_int *abort, const char *who,
                       long *status, cs_buf *reply, bool *stale, cs_err *err)
{
    cs_buf_reset(&c->in);
    c->in.max = reply->max + CS_HTTP_REPLY_HEAD_MAX + 64 * 1024; /* the body plus framing */
    *stale = false;
    for (;;) {
        size_t room = cs_buf_spare(&c->in, READ_CHUNK);
        if (room == 0) return cs_err_set(err, CS_ETOOBIG, "%s: answer over %zu bytes", who, reply->max);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, room, 0);
        int eof = 0;
        if (n > 0) {
            c->in.len += (size_t)n;
            c->in.data[c->in.len] = '\0';
        } else if (n == 0) {
            eof = 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(c, POLLIN, deadline, abort, who, err);
            if (rc < 0) return rc;
            continue;
        } else {
            *stale = c->in.len == 0 && closed_errno(errno);
            return cs_err_set(err, CS_EIO, "%s: recv: %s", who, strerror(errno));
        }
        if (eof && c->in.len == 0) {
            *stale = true;
            return cs_err_set(err, CS_EIO, "%s: connection closed", who);
        }
        cs_http_reply r;
        int rc = cs_http_reply_parse(c->in.data, c->in.len, eof, &r, reply);
        if (rc == 0) continue;
        if (rc == CS_ETOOBIG) return cs_err_set(err, rc, "%s: answer over %zu bytes", who, reply->max);
        if (rc < 0) return cs_err_set(err, rc, "%s: not an HTTP/1.1 answer", who);
        *status = r.status;
        /* Bytes past the answer would be a reply to nothing: do not reuse. */
        if (!r.keep_alive || r.used != c->in.len || eof) conn_close(c);
        return 0;
    }
}

int cs_gw_conn_request(cs_gw_conn *c, const cs_gw_target *t, const char *method, const char *path,
                       const char *head_extra, const char *body, long timeout_ms,
                       atomic_int *abort, long *status, cs_buf *reply, cs_err *err)
{
    *status = 0;
    long long deadline = cs_mono_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
    size_t bn = body ? strlen(body) : 0;
    cs_buf_reset(&c->req);
    int rc = cs_buf_printf(&c->req, "%s %s%s HTTP/1.1\r\nHost: %s\r\n%s", method, t->prefix, path,
                           t->authority, head_extra ? head_extra : "");
    if (rc == 0 && (body || !strcmp(method, "POST")))
        rc = cs_buf_printf(&c->req, "%sContent-Length: %zu\r\n",
                           body ? "Content-Type: application/json\r\n" : "", bn);
    if (rc == 0) rc = cs_buf_append(&c->req, "\r\n", 2);
    if (rc == 0 && bn) rc = cs_buf_append(&c->req, body, bn);
    if (rc != 0) return cs_err_set(err, CS_ETOOBIG, "%s: request too large", t->authority);
    size_t reply_len = reply->len;
    /* A reused connection the gateway closed while it was idle fails before any
     * answer comes back: then (only then) the request goes once more on a new one. */
    for (;;) { /* twice at most: the second time the connection is new */
        bool reused = c->fd >= 0;
        if (c->fd < 0 && (rc = open_conn(c, t, deadline, abort, err)) != 0) return rc;
        bool stale = false;
        rc = send_all(c, deadline, abort, t->authority, &stale, err);
        if (rc == 0) rc = read_answer(c, deadline, abort, t->authority, status, reply, &stale, err);
        if (rc == 0) return 0;
        conn_close(c);
        reply->len = reply_len;
        if (reply->data) reply->data[reply_len] = '\0';
        /* Not after a timeout or an abort: the gateway may be working on the request. */
        if (!(reused && stale) || (abort && atomic_load(abort))) return rc;
    }
}
