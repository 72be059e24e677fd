/* pg_wire.h - PostgreSQL frontend/backend protocol v3 message framing and the few
 * message bodies the proxy reads or writes (PostgreSQL docs, "Frontend/Backend
 * Protocol": 55.2 Message Flow, 55.7 Message Formats, 55.8 Error and Notice Fields).
 *
 * Every length comes from a peer and is checked before use: a message whose length
 * is below its header or above the cap is a protocol error, never an allocation. */
#ifndef CS_PROXY_PG_WIRE_H
#define CS_PROXY_PG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

#define CS_PG_STARTUP_MAX 10000           /* PostgreSQL's own limit for startup packets */
#define CS_PG_MSG_MAX (256 * 1024 * 1024) /* larger typed messages are refused */

/* Startup-phase request codes (55.7: SSLRequest, GSSENCRequest, CancelRequest). */
#define CS_PG_CODE_CANCEL 80877102u
#define CS_PG_CODE_SSL 80877103u
#define CS_PG_CODE_GSSENC 80877104u
#define CS_PG_PROTO_3 196608u

/* One typed message: type byte, Int32 length (itself included), body. */
typedef struct cs_pg_msg {
    char type;
    const char *body;
    size_t len;   /* body length */
    size_t total; /* bytes on the wire: 1 + 4 + len */
} cs_pg_msg;

/* Looks for a complete typed message at p[0..n). Returns 1 with m filled, 0 when
 * more bytes are needed (m->type and m->total are set once the header is there), or
 * CS_EINVAL for a length below 4 or above max. */
int cs_pg_msg_next(const char *p, size_t n, size_t max, cs_pg_msg *m, cs_err *err);

enum cs_pg_startup_kind { CS_PG_SSL, CS_PG_GSSENC, CS_PG_CANCEL, CS_PG_STARTUP };

typedef struct cs_pg_startup {
    int kind;
    uint32_t pid, key; /* CancelRequest */
    const char *user;  /* StartupMessage parameters, pointing into the packet */
    const char *database;
    size_t total; /* packet length */
} cs_pg_startup;

/* Parses an untyped startup-phase packet at p[0..n). Returns 1 when complete and
 * valid, 0 when more bytes are needed, CS_EINVAL for a bad length, an unknown
 * code, a protocol other than 3.x or malformed parameters. The packet must stay
 * in place while user/database are used. */
int cs_pg_startup_next(const char *p, size_t n, cs_pg_startup *out, cs_err *err);

/* A cursor over a message body; any read past the end sets bad. */
typedef struct cs_pg_reader {
    const char *p;
    size_t n, off;
    int bad;
} cs_pg_reader;

void cs_pg_reader_init(cs_pg_reader *r, const char *p, size_t n);
const char *cs_pg_get_str(cs_pg_reader *r); /* NUL-terminated string inside the body */
uint32_t cs_pg_get_u32(cs_pg_reader *r);
uint16_t cs_pg_get_u16(cs_pg_reader *r);
char cs_pg_get_byte(cs_pg_reader *r);

uint32_t cs_pg_u32(const char *p);
/* Looks up an ErrorResponse/NoticeResponse field (e.g. 'C' code, 'M' message). */
const char *cs_pg_field(const cs_pg_msg *m, char code);

/* Builders: each appends one complete message to out. */
int cs_pg_put_msg(cs_buf *out, char type, const void *body, size_t len);
int cs_pg_put_error(cs_buf *out, const char *sqlstate, const char *message, const char *detail,
                    const char *hint);
int cs_pg_put_notice(cs_buf *out, const char *message, const char *detail, const char *hint);
int cs_pg_put_ready(cs_buf *out, char txn_status);
int cs_pg_put_fatal(cs_buf *out, const char *sqlstate, const char *message);
/* Frontend messages the proxy originates. */
int cs_pg_put_query(cs_buf *out, const char *sql);
int cs_pg_put_parse(cs_buf *out, const char *name, const char *sql, const char *params,
                    size_t params_len);

#endif
