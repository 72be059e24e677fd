/* http_reply.h - framing of one HTTP/1.1 response (RFC 9112) as read off a
 * connection: the status line, the headers that decide where the message ends
 * (Content-Length, Transfer-Encoding: chunked, Connection) and the body.
 *
 * Fed the bytes received so far, it says whether the response is complete; it
 * never reads past len, holds no state between calls, and refuses what it does not
 * understand (obsolete line folding, transfer codings other than chunked, two
 * different lengths) rather than guessing where the message ends. Fuzzed by
 * fuzz/fuzz_http_reply.c. */
#ifndef CS_PROXY_HTTP_REPLY_H
#define CS_PROXY_HTTP_REPLY_H

#include <stddef.h>

#include "util/buf.h"

/* Limits: the status line and headers together, and one chunk-size line. */
#define CS_HTTP_REPLY_HEAD_MAX (64 * 1024)
#define CS_HTTP_REPLY_LINE_MAX 1024

typedef struct cs_http_reply {
    int status;     /* 200..599 (1xx interim responses are skipped) */
    int keep_alive; /* the connection may carry the next request */
    size_t used;    /* bytes of data this response took, interim ones included */
} cs_http_reply;

/* Looks at data[0..len), the bytes received for one request so far; eof: the peer
 * has closed its side (ends a response that has neither length nor chunks). Returns
 * 1 when the response is complete (r filled, the body appended to body, decoded
 * from its chunks), 0 when more bytes are needed, CS_EPARSE for a malformed or
 * unsupported response (or one cut short by eof), CS_ETOOBIG when the head or the
 * body is over its limit (body's cap). On anything but 1, body is left as it was. */
int cs_http_reply_parse(const char *data, size_t len, int eof, cs_http_reply *r, cs_buf *body);

#endif
