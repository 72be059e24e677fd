/* mcp_hold.h - gating one MCP `tools/call` (MCP 2025-06-18 "Tools", "Progress",
 * "Cancellation") through the countersign gateway (SPEC §4 MCP proxy).
 *
 * A call becomes the action `mcp.call` on `mcp/<name>/<tool>` with context
 * {tool, arguments}. Allowed calls are forwarded; denied ones get a tool error
 * result with the policy's explanation; pending ones are held (long-poll, with
 * progress notifications when the client gave a progress token) until decided or
 * until the hold budget runs out.
 *
 * Retry binding: a held call is remembered under a key derived from
 * (name, tool, canonical arguments). A later call with the same key picks up the
 * same pending action instead of asking again; once approved its receipt is
 * consumed before forwarding, so an approval runs exactly one call. Different
 * arguments give a different key, hence a new request. The binding lives in the
 * proxy process (see docs/mcp-proxy.md). */
#ifndef CS_PROXY_MCP_HOLD_H
#define CS_PROXY_MCP_HOLD_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "proxy/mcp_gateway.h"
#include "proxy/mcp_jsonrpc.h"

typedef struct cs_mcp_gate_cfg {
    const char *name;         /* server name in the resource mcp/<name>/<tool> */
    long long hold_budget_ms; /* how long a call is held before "retry later" */
    long long progress_ms;    /* interval between progress notifications */
    const char *public_url;   /* base of approval links: <public_url>/a/<id> */
} cs_mcp_gate_cfg;

typedef struct cs_mcp_gate cs_mcp_gate;

/* One tools/call request. */
typedef struct cs_mcp_call {
    struct cs_mcp_call *next; /* the gate's list of held calls */
    char scope[96];           /* session the id belongs to ("" for stdio) */
    char id_key[160];
    json_t *id;
    char *tool;
    json_t *arguments;
    json_t *progress_token; /* NULL when the client gave none */
    char bind_key[65];
    char action_id[80];
    atomic_int cancelled; /* notifications/cancelled from the client */
    atomic_int aborted;   /* the transport is going away */
    atomic_int stop;      /* either of the two: ends gateway calls early */
    int tracked;          /* on the gate's list (under the gate's lock) */
    double progress;
} cs_mcp_call;

enum cs_mcp_verdict_kind {
    CS_MCP_FORWARD = 1, /* send the request on; report the outcome for action_id */
    CS_MCP_RESPOND,     /* answer the client with `response` instead */
    CS_MCP_HOLD,        /* pending: call cs_mcp_gate_hold() */
    CS_MCP_SILENT,      /* cancelled by the client: no response (MCP cancellation) */
};

typedef struct cs_mcp_verdict {
    int kind;
    char *response; /* JSON-RPC line (RESPOND) */
} cs_mcp_verdict;

/* Sends one message (a newline-terminated line) to the client. */
typedef void (*cs_mcp_notify_fn)(void *ctx, const char *line);

int cs_mcp_gate_new(const cs_mcp_gate_cfg *cfg, cs_mcp_gw *gw, cs_mcp_gate **out, cs_err *err);
void cs_mcp_gate_free(cs_mcp_gate *g);

/* Validates a tools/call message into a call, or fills *response with the JSON-RPC
 * error line for the client and returns CS_EINVAL. */
int cs_mcp_call_new(const cs_rpc_msg *m, const char *scope, cs_mcp_call **out, char **response);
void cs_mcp_call_free(cs_mcp_call *c);

/* Puts the call on the gate's list, so that a notifications/cancelled finds it even
 * before begin() runs (begin() does it too; doing it twice is harmless). */
void cs_mcp_gate_track(cs_mcp_gate *g, cs_mcp_call *c);
/* Decides what can be decided at once: retry binding, then a submit. The result is
 * FORWARD, RESPOND or HOLD. */
void cs_mcp_gate_begin(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_verdict *v);
/* Holds a pending call until it is decided, cancelled, aborted or out of budget;
 * progress notifications go through notify. The result is FORWARD, RESPOND or SILENT. */
void cs_mcp_gate_hold(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_notify_fn notify, void *ctx,
                      cs_mcp_verdict *v);
/* Forgets a call that begin() left HOLD when the caller cannot hold it after all
 * (its pending request stays, so an identical retry can still pick it up). */
void cs_mcp_gate_drop(cs_mcp_gate *g, cs_mcp_call *c);
/* begin, then hold when needed. */
void cs_mcp_gate_run(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_notify_fn notify, void *ctx,
                     cs_mcp_verdict *v);

/* notifications/cancelled for (scope, id_key): returns 1 when it named a held call
 * (which is then cancelled at the gateway and ends without a response). */
int cs_mcp_gate_cancel(cs_mcp_gate *g, const char *scope, const char *id_key);
/* Ends every held call (transport closing): each returns a JSON-RPC error, and its
 * pending action is cancelled at the gateway. */
void cs_mcp_gate_abort_all(cs_mcp_gate *g);

/* Reports the outcome of a forwarded call from the upstream response message
 * (asynchronously): failed when it is a JSON-RPC error or has isError: true. */
void cs_mcp_gate_outcome(cs_mcp_gate *g, const char *action_id, const cs_rpc_msg *response,
                         const char *raw, size_t len);

/* The caller has acted on a verdict (forwarded the call, or answered it): queued
 * outcome reports may go to the gateway now. */
void cs_mcp_gate_acted(cs_mcp_gate *g);

void cs_mcp_verdict_clear(cs_mcp_verdict *v);

#endif
