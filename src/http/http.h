/* http.h - the HTTP API of SPEC §4 on libmicrohttpd.
 *
 * A small pool of polling threads serves every connection. Nothing blocks them:
 * writes are handed to the gateway's writer and the connection is suspended until
 * the change is durable; long-polls and SSE streams are suspended until their
 * action changes or their deadline passes. Errors are RFC 9457 problem+json. */
#ifndef CS_HTTP_HTTP_H
#define CS_HTTP_HTTP_H

#include "gateway/gateway.h"
#include "util/error.h"

#define CS_HTTP_BODY_MAX (1024 * 1024)
/* Bodies up to this size over the cap are read and dropped before the 413. */
#define CS_HTTP_DRAIN_MAX (16 * 1024 * 1024)

typedef struct cs_http cs_http;

/* listen: "host:port" (IPv4, or [v6]:port). */
int cs_http_start(cs_gateway *gw, const char *listen, int threads, int max_conns, cs_http **out,
                  cs_err *err);
/* Stops accepting, lets the gateway finish in-flight writes, answers everyone still
 * waiting, then closes. The gateway is stopped by this call. */
void cs_http_stop(cs_http *h);

#endif
