/* mcp_stdio.h - the MCP server as a child process (MCP 2025-06-18 stdio transport):
 * launched with posix_spawn, its stdin and stdout are pipes to the proxy, its
 * stderr is the proxy's; shut down by closing its stdin, then SIGTERM, then SIGKILL,
 * and always reaped. */
#ifndef CS_PROXY_MCP_STDIO_H
#define CS_PROXY_MCP_STDIO_H

#include <sys/types.h>

#include "util/error.h"

typedef struct cs_mcp_child {
    pid_t pid;
    int to_child;   /* its stdin (write end), -1 once closed */
    int from_child; /* its stdout (read end) */
    int status;     /* wait status once reaped */
    int reaped;
} cs_mcp_child;

/* Starts argv[0] (searched in PATH) with argv. */
int cs_mcp_child_spawn(char *const argv[], cs_mcp_child *c, cs_err *err);
/* Closes the child's stdin (the stdio transport's shutdown signal). */
void cs_mcp_child_close_input(cs_mcp_child *c);
/* Waits up to grace_ms after closing its stdin, then SIGTERM (and as long again),
 * then SIGKILL; reaps it. Returns the exit code (128+signal when killed). */
int cs_mcp_child_stop(cs_mcp_child *c, long grace_ms);
/* Closes the remaining descriptors. */
void cs_mcp_child_free(cs_mcp_child *c);

#endif
