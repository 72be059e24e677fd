/* mcp_stream.h - one relayed HTTP exchange of the Streamable HTTP proxy (MCP
 * 2025-06-18 / 2025-03-26 "Streamable HTTP"): the upstream request made with
 * libcurl on a worker thread, and the bytes waiting for the client's response.
 *
 * The worker writes (upstream body, or SSE events of a held call); the client's
 * connection thread reads. A stream is reference counted: the worker holds one
 * reference, the client side another. */
#ifndef CS_PROXY_MCP_STREAM_H
#define CS_PROXY_MCP_STREAM_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "proxy/mcp_hold.h"
#include "util/buf.h"

typedef struct cs_mcp_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    /* the upstream request */
    char *url, *method;
    struct curl_slist *req_headers;
    char *body;
    size_t body_len;
    /* the upstream response */
    long up_status;
    char up_ctype[128];
    struct curl_slist *up_headers; /* relayed response headers, "Name: value" */
    int headers_done, done, failed;
    char err[256];
    /* bytes for the client: out[out_pos..] */
    cs_buf out;
    size_t out_pos;
    int streaming;   /* the client side reads as it arrives: apply backpressure */
    int wrap_sse;    /* held call: the client gets SSE; a JSON upstream answer is wrapped */
    cs_buf json;     /* wrap_sse: a JSON upstream body, assembled */
    atomic_int gone; /* client disconnected or proxy stopping */
    /* the relayed request's id ("" for notifications, GET, DELETE): its answer is
     * looked for, and owed in band when the upstream fails on an SSE stream */
    char id_key[160];
    cs_buf seen; /* copy of the upstream body (capped) to find the answer */
    int answered;
    /* outcome reporting for a forwarded tools/call */
    cs_mcp_gate *gate;
    char action_id[80];
    cs_mcp_call *call; /* held call run by the worker (NULL otherwise) */
} cs_mcp_stream;

cs_mcp_stream *cs_mcp_stream_new(const char *url, const char *method, size_t max_msg);
void cs_mcp_stream_release(cs_mcp_stream *s);
/* The worker side: performs the upstream request with c (reset first; kept by the
 * caller, so that its connection can serve the next request), filling the stream. */
void cs_mcp_stream_fetch(cs_mcp_stream *s, CURL *c);
/* Appends one SSE "message" event carrying a JSON-RPC line. */
void cs_mcp_stream_event(cs_mcp_stream *s, const char *line);
/* Marks the stream finished and wakes the reader. */
void cs_mcp_stream_finish(cs_mcp_stream *s);
/* Client side: copies up to max bytes; blocks while nothing is there. Returns the
 * count, 0 at the end, -1 when the stream failed or the client is gone. */
long cs_mcp_stream_read(cs_mcp_stream *s, char *buf, size_t max, int client_fd);
/* Client side: waits for the upstream headers (or the whole answer when until_done)
 * while watching the client; -1 when the client hung up or the proxy stops. */
int cs_mcp_stream_wait(cs_mcp_stream *s, int until_done, int client_fd);
/* Waits at most usec more for the upstream answer to be complete; 1 when it is (and
 * did not fail). Called with s->mu held, as it is after the headers are in. */
int cs_mcp_stream_settles_within(cs_mcp_stream *s, long usec);
/* The client went away (or the proxy stops): the worker ends soon after. */
void cs_mcp_stream_abandon(cs_mcp_stream *s);

/* Calls fn with the data of each event in an SSE text (data lines joined by "\n"),
 * until fn returns non-zero (which is then returned). */
int cs_mcp_sse_each(const char *p, size_t n, int (*fn)(void *ctx, const char *data, size_t len),
                    void *ctx);

#endif
