/* pg_names.c - confirmed prepared statements and portals of a session, and the
 * pending operations of each forwarded batch (PostgreSQL docs 55.2.3 "Extended
 * Query": Parse, Bind, Close and their completion messages). */
#include "proxy/pg_names.h"

#include "util/alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct cs_pg_names {
    json_t *stmts;   /* statement name -> SQL */
    json_t *portals; /* portal name -> SQL of the statement it was bound to */
};

struct cs_pg_batch {
    cs_pg_names *names;
    json_t *stmts, *portals; /* this batch's view; JSON null = closed */
    json_t *ops;             /* [[type, name, sql or null], ...] in message order */
    size_t next;             /* first op not yet confirmed */
};

cs_pg_names *cs_pg_names_new(void)
{
    cs_pg_names *n = cs_calloc(1, sizeof *n);
    n->stmts = json_object();
    n->portals = json_object();
    return n;
}

void cs_pg_names_free(cs_pg_names *n)
{
    if (n == NULL) return;
    json_decref(n->stmts);
    json_decref(n->portals);
    free(n);
}

cs_pg_batch *cs_pg_batch_new(cs_pg_names *n)
{
    cs_pg_batch *b = cs_calloc(1, sizeof *b);
    b->names = n;
    b->stmts = json_object();
    b->portals = json_object();
    b->ops = json_array();
    return b;
}

void cs_pg_batch_free(cs_pg_batch *b)
{
    if (b == NULL) return;
    json_decref(b->stmts);
    json_decref(b->portals);
    json_decref(b->ops);
    free(b);
}

/* The batch's view first, then what the server confirmed. */
static const char *lookup(json_t *mine, json_t *confirmed, const char *name)
{
    json_t *v = json_object_get(mine, name);
    if (v) return json_string_value(v); /* NULL when closed in this batch */
    return json_string_value(json_object_get(confirmed, name));
}

static void add_op(cs_pg_batch *b, const char *type, const char *name, const char *sql)
{
    json_array_append_new(b->ops, json_pack("[s,s,s*]", type, name, sql));
}

int cs_pg_batch_parse(cs_pg_batch *b, const char *name, const char *sql, cs_err *err)
{
    if (*name && !json_object_get(b->names->stmts, name) &&
        json_object_size(b->names->stmts) >= CS_PG_NAMES_MAX)
        return cs_err_set(err, CS_ETOOBIG,
                          "countersign tracks at most %d prepared statements per session",
                          CS_PG_NAMES_MAX);
    json_object_set_new(b->stmts, name, json_string(sql));
    add_op(b, "P", name, sql);
    return 0;
}

int cs_pg_batch_bind(cs_pg_batch *b, const char *portal, const char *stmt, cs_err *err)
{
    if (*portal && !json_object_get(b->names->portals, portal) &&
        json_object_size(b->names->portals) >= CS_PG_NAMES_MAX)
        return cs_err_set(err, CS_ETOOBIG, "countersign tracks at most %d portals per session",
                          CS_PG_NAMES_MAX);
    const char *sql = lookup(b->stmts, b->names->stmts, stmt);
    json_object_set_new(b->portals, portal, sql ? json_string(sql) : json_null());
    add_op(b, "B", portal, sql);
    return 0;
}

void cs_pg_batch_close(cs_pg_batch *b, char kind, const char *name)
{
    json_object_set_new(kind == 'S' ? b->stmts : b->portals, name, json_null());
    add_op(b, kind == 'S' ? "CS" : "CP", name, NULL);
}

const char *cs_pg_batch_portal_sql(cs_pg_batch *b, const char *portal)
{
    return lookup(b->portals, b->names->portals, portal);
}

int cs_pg_batch_waiting(const cs_pg_batch *b)
{
    return b && b->next < json_array_size(b->ops);
}

static void apply(cs_pg_names *n, const char *type, const char *name, const char *sql)
{
    if (!strcmp(type, "P"))
        json_object_set_new(n->stmts, name, json_string(sql));
    else if (!strcmp(type, "B") && sql)
        json_object_set_new(n->portals, name, json_string(sql));
    else if (!strcmp(type, "B"))
        json_object_del(n->portals, name);
    else if (!strcmp(type, "CS"))
        json_object_del(n->stmts, name);
    else
        json_object_del(n->portals, name);
}

int cs_pg_batch_confirm(cs_pg_batch *b, char response)
{
    if (!cs_pg_batch_waiting(b)) return 0;
    json_t *op = json_array_get(b->ops, b->next++);
    const char *type = json_string_value(json_array_get(op, 0));
    char want = type[0] == 'P' ? '1' : type[0] == 'B' ? '2' : '3';
    /* Responses come in message order; anything else means we lost track, and the
     * safe answer is to forget the name rather than trust it. */
    if (want == response)
        apply(b->names, type, json_string_value(json_array_get(op, 1)),
              json_string_value(json_array_get(op, 2)));
    else
        apply(b->names, type[0] == 'P' || !strcmp(type, "CS") ? "CS" : "CP",
              json_string_value(json_array_get(op, 1)), NULL);
    return 1;
}
