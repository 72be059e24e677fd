/* gw_conn.h - a kept-alive plain HTTP/1.1 connection to the gateway: the MCP
 * proxy's fast path when COUNTERSIGN_URL is an http:// URL and no HTTP proxy is
 * set in the environment (libcurl serves every other case).
 *
 * Each gated tools/call waits for one request to the gateway; libcurl spends about
 * 30 µs of CPU per request on its general machinery (URL parsing, the multi state
 * machine, header handling), on this path every time. This sends one prebuilt
 * request with one send() and reads the answer with recv() into a capped buffer,
 * framed by http_reply.c. docs/mcp-proxy.md has the figures. */
#ifndef CS_PROXY_GW_CONN_H
#define CS_PROXY_GW_CONN_H

#include <stdatomic.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/error.h"

/* Where an http:// URL points: host and port to connect to, the Host header, and
 * the path prefix every request path is appended to. */
typedef struct cs_gw_target {
    char host[256];     /* a name or address, IPv6 without its brackets */
    char port[8];
    char authority[272]; /* the Host header: as written in the URL */
    char prefix[512];    /* "" or "/base" (no trailing slash) */
} cs_gw_target;

/* 0 with t filled for "http://host[:port][/prefix]" (no user info, query or
 * fragment); CS_EINVAL for anything else (https, a proxy's job, a bad URL). */
int cs_gw_target_parse(const char *url, cs_gw_target *t);

typedef struct cs_gw_conn cs_gw_conn;

cs_gw_conn *cs_gw_conn_new(void);
void cs_gw_conn_free(cs_gw_conn *c);

/* One request. head_extra: more header lines, each ending in CRLF (may be ""). body
 * may be NULL (no Content-Type, Content-Length 0 for POST). Connects first when c has
 * no open connection; a kept-alive connection the gateway has closed meanwhile is
 * noticed (reset or closed before one byte of an answer) and the request is sent
 * once more on a new one; a timeout or an abort never sends it again. Gives up at timeout_ms, or within 100 ms of *abort becoming non-zero.
 * The answer's status goes to *status and its body to reply (cap: reply's max).
 * Returns 0, CS_EIO (cannot connect, connection lost, timed out, aborted), CS_EPARSE
 * (not an HTTP/1.1 answer) or CS_ETOOBIG (over the cap); err says which. After an
 * error the connection is closed; the next request opens a new one. */
int cs_gw_conn_request(cs_gw_conn *c, const cs_gw_target *t, const char *method, const char *path,
                       const char *head_extra, const char *body, long timeout_ms,
                       atomic_int *abort, long *status, cs_buf *reply, cs_err *err);

#endif
