/* mcp_proxy.h - countersign's MCP proxy (SPEC §4): relays MCP JSON-RPC between an
 * agent (the MCP client) and an MCP server, gating `tools/call` through the gateway
 * and passing everything else through byte for byte. Two transports (MCP
 * 2025-06-18): stdio with the server as a child process (mcp_proxy.c), and
 * Streamable HTTP (mcp_http.c). */
#ifndef CS_PROXY_MCP_PROXY_H
#define CS_PROXY_MCP_PROXY_H

#include <stddef.h>

#include "proxy/mcp_hold.h"

typedef struct cs_mcp_opts {
    size_t max_client_msg;     /* cap on one message from the client */
    size_t max_server_msg;     /* cap on one message from the server */
    long stop_grace_ms;        /* child shutdown: wait this long before each signal */
    const char *allow_origins; /* HTTP: comma-separated Origin values accepted besides loopback */
    unsigned idle_timeout_s;   /* HTTP: a client connection idle this long is closed (0: 60) */
} cs_mcp_opts;

/* stdio mode: runs argv as the server and relays the proxy's stdin/stdout to it
 * until either side ends. Returns the process exit code: 0 when the client closed
 * its side, 1 when the server died first or could not be started. */
int cs_mcp_proxy_stdio(cs_mcp_gate *gate, const cs_mcp_opts *o, char *const argv[]);

/* Streamable HTTP mode: listens on addr (HOST:PORT) and relays to the upstream URL
 * until SIGINT or SIGTERM. Returns the process exit code. */
int cs_mcp_proxy_http(cs_mcp_gate *gate, const cs_mcp_opts *o, const char *addr,
                      const char *upstream);

#endif
