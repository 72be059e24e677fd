/* mcp_http.c - the Streamable HTTP relay (MCP 2025-06-18 / 2025-03-26 transports). */
#include "proxy/mcp_proxy.h"

#include "util/log.h"

int cs_mcp_proxy_http(cs_mcp_gate *gate, const cs_mcp_opts *o, const char *addr, const char *upstream)
{
    cs_error("mcp-proxy: Streamable HTTP mode is not built yet");
    return 2;
}
