/* pg_shape.h - the "shape" of a SQL text: the text with numeric and string literals
 * replaced by '?', comments dropped and whitespace collapsed (lexical rules of the
 * PostgreSQL docs 4.1 "Lexical Structure"), and a cache from shapes to the
 * classification the real parser gave. Two texts with the same shape differ only in
 * literal values, so they have the same statement kinds, tables and fingerprints:
 * the hot path skips libpg_query for statements it has seen the shape of. */
#ifndef CS_PROXY_PG_SHAPE_H
#define CS_PROXY_PG_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CS_PG_SHAPE_STMTS 8 /* texts with more statements are not cached */

/* Writes the shape of sql into out. Returns 0, or -1 when the text holds something
 * the lexer leaves to the real parser (backslashes, dollar quoting, U& strings,
 * unterminated literals or comments): such texts are never cached, and out is left
 * empty. */
int cs_pg_shape(const char *sql, cs_buf *out);

typedef struct cs_pg_shape_info {
    int n;
    struct {
        int kind, txn;
        uint64_t fingerprint;
    } stmt[CS_PG_SHAPE_STMTS];
} cs_pg_shape_info;

typedef struct cs_pg_shapes cs_pg_shapes;
cs_pg_shapes *cs_pg_shapes_new(unsigned slots);
void cs_pg_shapes_free(cs_pg_shapes *s);
/* The classification recorded for a shape, or NULL. */
const cs_pg_shape_info *cs_pg_shapes_get(cs_pg_shapes *s, const char *shape, size_t len);
void cs_pg_shapes_put(cs_pg_shapes *s, const char *shape, size_t len, const cs_pg_shape_info *info);

#endif
