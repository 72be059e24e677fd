/* pg_names.h - the prepared statements and portals of one session, as the server
 * has them (PostgreSQL docs 55.2.3 "Extended Query"). The proxy decides on the SQL
 * an Execute runs; it must never believe in a statement the server did not create.
 * So a batch's Parse/Bind/Close messages are only applied when the server confirms
 * them (ParseComplete, BindComplete, CloseComplete, in order); within the batch
 * itself they are visible at once, since after a failure the server skips the rest
 * of the batch anyway. */
#ifndef CS_PROXY_PG_NAMES_H
#define CS_PROXY_PG_NAMES_H

#include "util/error.h"

#define CS_PG_NAMES_MAX 10000 /* prepared statements or portals per session */

typedef struct cs_pg_names cs_pg_names;
typedef struct cs_pg_batch cs_pg_batch;

cs_pg_names *cs_pg_names_new(void);
void cs_pg_names_free(cs_pg_names *n);

cs_pg_batch *cs_pg_batch_new(cs_pg_names *n);
void cs_pg_batch_free(cs_pg_batch *b);
/* Parse: CS_ETOOBIG (err filled) when the session has too many statements. */
int cs_pg_batch_parse(cs_pg_batch *b, const char *name, const char *sql, cs_err *err);
int cs_pg_batch_bind(cs_pg_batch *b, const char *portal, const char *stmt, cs_err *err);
/* Close: kind 'S' statement or 'P' portal. */
void cs_pg_batch_close(cs_pg_batch *b, char kind, const char *name);
/* The SQL a portal runs, as this batch would leave it, or NULL when unknown. */
const char *cs_pg_batch_portal_sql(cs_pg_batch *b, const char *portal);
/* A server confirmation ('1', '2' or '3') for the batch's next operation; returns
 * 0 when the batch has no operation waiting for one. */
int cs_pg_batch_confirm(cs_pg_batch *b, char response);
int cs_pg_batch_waiting(const cs_pg_batch *b);

#endif
