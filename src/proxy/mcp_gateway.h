/* mcp_gateway.h - the MCP proxy's client for the countersign HTTP API (SPEC §4):
 * submit, long-poll, cancel, consume a receipt, report an outcome.
 *
 * libcurl easy handles are pooled so that calls reuse their keep-alive connection
 * to the gateway. Outcome reports are queued for a background thread so that they
 * never delay the tool result on its way back to the agent. */
#ifndef CS_PROXY_MCP_GATEWAY_H
#define CS_PROXY_MCP_GATEWAY_H

#include <jansson.h>
#include <stdatomic.h>

#include "util/error.h"

typedef struct cs_mcp_gw cs_mcp_gw;

/* url: the gateway base URL; token: the agent's bearer token (copied). */
int cs_mcp_gw_new(const char *url, const char *token, cs_mcp_gw **out, cs_err *err);
/* Sends what is still queued (5 s at most for the whole queue, retries included;
 * what is left then is given up with a warning), then frees everything. */
void cs_mcp_gw_free(cs_mcp_gw *gw);
const char *cs_mcp_gw_url(const cs_mcp_gw *gw);

/* One API call. body may be NULL. abort, when set to non-zero by another thread,
 * ends the transfer within about a second. *status is the HTTP status and *reply
 * the parsed JSON reply (or NULL). Returns 0, or CS_EIO on a transport error (detail
 * in err). */
int cs_mcp_gw_call(cs_mcp_gw *gw, const char *method, const char *path, const json_t *body,
                   long timeout_s, atomic_int *abort, long *status, json_t **reply, cs_err *err);

/* Queues a POST for the background thread (body is stolen); failures are logged.
 * Queued POSTs wait for a moment when no agent waits on the gateway (see
 * mcp_gateway.c), and are sent before cs_mcp_gw_free() returns. Never blocks: when
 * 1024 are queued (a gateway down for a while), the oldest is dropped, with a
 * warning naming its action. */
void cs_mcp_gw_post_later(cs_mcp_gw *gw, const char *path, json_t *body);
/* The caller has acted on the decision it asked for (forwarded the call or
 * answered it): a good moment for queued POSTs. */
void cs_mcp_gw_acted(cs_mcp_gw *gw);

#endif
