/* mcp_pool.h - the MCP proxy's worker threads: a pool that reuses idle threads and
 * starts a new one whenever none is idle, so that a task that waits long (a held
 * tool call, an SSE stream) never delays another. A cap bounds the thread count. */
#ifndef CS_PROXY_MCP_POOL_H
#define CS_PROXY_MCP_POOL_H

#include <stddef.h>

typedef struct cs_mcp_pool cs_mcp_pool;

cs_mcp_pool *cs_mcp_pool_new(size_t max_threads);
/* Runs fn(arg) on a pool thread. Returns 0, or CS_ETOOBIG when max_threads are all
 * busy (fn is then not called). */
int cs_mcp_pool_run(cs_mcp_pool *p, void (*fn)(void *arg), void *arg);
/* Runs what is queued, waits for every task to finish, joins the threads, frees. */
void cs_mcp_pool_free(cs_mcp_pool *p);

#endif
