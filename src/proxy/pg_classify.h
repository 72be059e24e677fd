/* pg_classify.h - turns SQL text into the facts a policy decides on, using the real
 * PostgreSQL parser (libpg_query): statement kind, tables, WHERE presence and the
 * fingerprint, one entry per statement of a multi-statement query. */
#ifndef CS_PROXY_PG_CLASSIFY_H
#define CS_PROXY_PG_CLASSIFY_H

#include <jansson.h>
#include <stdint.h>

#include "util/error.h"

/* Kinds as they appear in context.statement. CS_PG_TXN (BEGIN, COMMIT, ROLLBACK,
 * SAVEPOINT ...) touches no data and is not put through policy. */
enum cs_pg_kind {
    CS_PG_SELECT,
    CS_PG_INSERT,
    CS_PG_UPDATE,
    CS_PG_DELETE,
    CS_PG_COPY_TO,
    CS_PG_COPY_FROM,
    CS_PG_DDL,
    CS_PG_GRANT,
    CS_PG_TRUNCATE,
    CS_PG_OTHER,
    CS_PG_TXN
};

/* Transaction-control detail for CS_PG_TXN statements. */
enum cs_pg_txn {
    CS_PG_TXN_NONE,
    CS_PG_TXN_BEGIN,
    CS_PG_TXN_COMMIT,
    CS_PG_TXN_ROLLBACK,
    CS_PG_TXN_ROLLBACK_TO,
    CS_PG_TXN_OTHER
};

typedef struct cs_pg_stmt {
    int kind;
    int txn; /* enum cs_pg_txn */
    int has_where;
    uint64_t fingerprint;
    char fingerprint_hex[17];
    json_t *tables; /* ["schema.table", ...], target first; unqualified names get "public." */
    char *text;     /* this statement's text */
} cs_pg_stmt;

typedef struct cs_pg_stmts {
    cs_pg_stmt *v;
    size_t n;
} cs_pg_stmts;

/* Parses sql (NUL-terminated). A syntax error fills err with the parser's message
 * and returns CS_EPARSE: such a statement would fail on the server too, and the
 * proxy refuses it without asking. */
int cs_pg_classify(const char *sql, cs_pg_stmts *out, cs_err *err);
void cs_pg_stmts_free(cs_pg_stmts *s);
const char *cs_pg_kind_name(int kind);

#endif
