/* mcp_jsonrpc.h - JSON-RPC 2.0 framing and classification for the MCP proxy
 * (MCP 2025-06-18 "Base Protocol" and stdio transport: newline-delimited UTF-8
 * JSON-RPC messages, no embedded newlines).
 *
 * The proxy parses every message to decide what to do with it, but forwards the
 * bytes it read, never a re-serialization. Every message from a peer is read into a
 * capped buffer; an oversized one becomes a JSON-RPC error, not an allocation. */
#ifndef CS_PROXY_MCP_JSONRPC_H
#define CS_PROXY_MCP_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"

/* JSON-RPC 2.0 error codes. */
enum {
    CS_RPC_PARSE_ERROR = -32700,
    CS_RPC_INVALID_REQUEST = -32600,
    CS_RPC_INVALID_PARAMS = -32602,
    CS_RPC_INTERNAL_ERROR = -32603,
    CS_RPC_SERVER_GONE = -32000, /* implementation-defined: the upstream server went away */
};

enum cs_rpc_kind {
    CS_RPC_INVALID = 0, /* not JSON, or not a JSON-RPC 2.0 message */
    CS_RPC_REQUEST,     /* method + id */
    CS_RPC_NOTIFICATION,
    CS_RPC_RESPONSE, /* result or error + id */
    CS_RPC_BATCH,    /* a JSON array (JSON-RPC batch, MCP 2025-03-26) */
};

typedef struct cs_rpc_msg {
    int kind;
    json_t *root;       /* the whole parsed message (owned) */
    const char *method; /* borrowed from root; requests and notifications */
    json_t *id;         /* borrowed; requests and responses */
    char id_key[160];   /* the id as compact JSON text ("7", "\"abc\""): a map key */
    int parse_error;    /* 1: not JSON at all (-32700), 0: JSON but invalid (-32600) */
    char why[200];      /* what is wrong, for CS_RPC_INVALID */
} cs_rpc_msg;

/* Parses one message. Always fills m (kind CS_RPC_INVALID on bad input); returns 0
 * for a valid message, CS_EPARSE otherwise. Free with cs_rpc_msg_clear(). */
int cs_rpc_parse(const char *data, size_t len, cs_rpc_msg *m);
void cs_rpc_msg_clear(cs_rpc_msg *m);

/* Writes id as compact JSON into key (at most n bytes); 0, or CS_ETOOBIG. */
int cs_rpc_id_key(const json_t *id, char *key, size_t n);

/* Serialized messages, newline-terminated, caller frees. id may be NULL (-> null). */
char *cs_rpc_error_line(const json_t *id, int code, const char *message);
char *cs_rpc_result_line(const json_t *id, json_t *result /* stolen */);
/* A CallToolResult carrying one text block and isError: true. */
char *cs_rpc_tool_error_line(const json_t *id, const char *text);
/* notifications/progress for token with a strictly increasing progress value. */
char *cs_rpc_progress_line(const json_t *token, double progress, const char *message);

/* Finds the top-level "id" of a JSON-RPC message fed in pieces, without keeping
 * the message: how an oversized message still gets an error answer naming its
 * request. A string id is kept with its quotes; ids longer than the buffer are
 * given up on. */
typedef struct cs_rpc_idscan {
    int depth, in_str, esc, state, is_id, capture, done;
    char key[4];
    size_t keylen;
    char id[160]; /* compact JSON text of the id once done */
    size_t idlen;
} cs_rpc_idscan;

void cs_rpc_idscan_feed(cs_rpc_idscan *s, const char *p, size_t n);
/* The id as JSON text (for cs_rpc_id_key comparisons), or NULL when none was seen. */
const char *cs_rpc_idscan_result(cs_rpc_idscan *s);

/* Newline-delimited framing over a file descriptor with a per-message cap. */
typedef struct cs_rpc_reader {
    int fd;
    int wake_fd;    /* when readable, reads end as at end of input (-1: none) */
    cs_buf line;    /* the message being assembled (capped) */
    char in[65536]; /* read buffer */
    size_t in_len, in_pos;
    int overflow; /* discarding the rest of an oversized line */
    int eof;
    cs_rpc_idscan scan; /* the oversized message's id (see big_id) */
    const char *big_id; /* after CS_ETOOBIG: that message's id as JSON text, or NULL */
} cs_rpc_reader;

void cs_rpc_reader_init(cs_rpc_reader *r, int fd, size_t max);
void cs_rpc_reader_free(cs_rpc_reader *r);
/* Next message (without its newline; blank lines skipped) in *data and *len, valid until
 * the next call. Returns 0, CS_ETOOBIG once per oversized message (its bytes are
 * discarded up to the newline; r->big_id names its id when one was found), or
 * CS_EIO at end of input or on a read error. */
int cs_rpc_read(cs_rpc_reader *r, const char **data, size_t *len);

/* Writes all of data to fd, retrying short writes and EINTR; 0 or CS_EIO. */
int cs_write_all(int fd, const void *data, size_t len);
/* Writes data and then a newline in one writev() when the pipe takes it all (the
 * reader wakes once, for a whole message); 0 or CS_EIO. */
int cs_write_line(int fd, const void *data, size_t len);

#endif
