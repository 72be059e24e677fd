/* fuzz_mcp_jsonrpc.c - libFuzzer target for the MCP proxy's parsers: the bytes as
 * newline-framed JSON-RPC (through the capped reader), each message classified and,
 * for tools/call, validated into a gated call (oversized lines go through the id
 * scanner); the bytes as an SSE stream whose event data are parsed as JSON-RPC too;
 * and the bytes straight into the id scanner. */
#include "proxy/mcp_hold.h"
#include "proxy/mcp_jsonrpc.h"
#include "proxy/mcp_stream.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static void one(const char *p, size_t n)
{
    cs_rpc_msg m;
    if (cs_rpc_parse(p, n, &m) == 0 && m.kind == CS_RPC_REQUEST &&
        !strcmp(m.method, "tools/call")) {
        cs_mcp_call *c = NULL;
        char *line = NULL;
        if (cs_mcp_call_new(&m, "s", &c, &line) == 0) cs_mcp_call_free(c);
        free(line);
    } else if (m.kind == CS_RPC_INVALID) {
        free(cs_rpc_error_line(m.id, m.parse_error ? CS_RPC_PARSE_ERROR : CS_RPC_INVALID_REQUEST,
                               m.why));
    }
    cs_rpc_msg_clear(&m);
}

static int event(void *ctx, const char *data, size_t len)
{
    one(data, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 60000) return 0; /* fits in a pipe buffer */
    int fds[2];
    if (pipe(fds) != 0) return 0;
    if (cs_write_all(fds[1], data, size) != 0) abort();
    close(fds[1]);
    cs_rpc_reader r;
    cs_rpc_reader_init(&r, fds[0], 1024);
    const char *p;
    size_t n;
    int rc;
    while ((rc = cs_rpc_read(&r, &p, &n)) != CS_EIO)
        if (rc == 0) one(p, n);
    cs_rpc_reader_free(&r);
    close(fds[0]);
    cs_mcp_sse_each((const char *)data, size, event, NULL);
    cs_rpc_idscan scan;
    memset(&scan, 0, sizeof scan);
    cs_rpc_idscan_feed(&scan, (const char *)data, size);
    (void)cs_rpc_idscan_result(&scan);
    return 0;
}
