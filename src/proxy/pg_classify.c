/* pg_classify.c - statement classification over libpg_query's JSON parse tree
 * (PostgreSQL 15 grammar; node names as in src/include/nodes/parsenodes.h). */
#include "proxy/pg_classify.h"

#include "util/alloc.h"

#include <inttypes.h>
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLES 64
#define MAX_DEPTH 200

static const char *const kind_names[] = {"select",   "insert",    "update",     "delete",
                                         "copy_to",  "copy_from", "ddl",        "grant",
                                         "truncate", "other",     "transaction"};

const char *cs_pg_kind_name(int kind)
{
    return kind >= 0 && kind <= CS_PG_TXN ? kind_names[kind] : "other";
}

/* Unqualified names are reported in "public": the proxy does not know the session's
 * search_path. */
static char *table_name(const char *schema, const char *rel)
{
    return cs_sprintf("%s.%s", schema && *schema ? schema : "public", rel);
}

static const char *cte_name(json_t *cte)
{
    const char *s = json_string_value(json_object_get(cte, "ctename"));
    return s ? s : "";
}

static void add_table(json_t *tables, json_t *ctes, const char *schema, const char *rel)
{
    if (rel == NULL || json_array_size(tables) >= MAX_TABLES) return;
    if ((schema == NULL || !*schema) && json_object_get(ctes, rel)) return; /* a CTE, not a table */
    char *name = table_name(schema, rel);
    size_t i;
    json_t *v;
    json_array_foreach(tables, i, v) if (!strcmp(json_string_value(v), name))
    {
        free(name);
        return;
    }
    json_array_append_new(tables, json_string(name));
    free(name);
}

typedef struct walk_state {
    json_t *tables;
    json_t *ctes;
    int writes; /* strongest nested data-modifying statement, or -1 */
} walk_state;

static void note_write(walk_state *w, const char *node)
{
    int k = !strcmp(node, "DeleteStmt")                                 ? CS_PG_DELETE
            : !strcmp(node, "UpdateStmt") || !strcmp(node, "MergeStmt") ? CS_PG_UPDATE
            : !strcmp(node, "InsertStmt")                               ? CS_PG_INSERT
                                                                        : -1;
    /* delete > update > insert: the most destructive one names the statement. */
    int rank[] = {[CS_PG_INSERT] = 1, [CS_PG_UPDATE] = 2, [CS_PG_DELETE] = 3};
    if (k >= 0 && (w->writes < 0 || rank[k] > rank[w->writes])) w->writes = k;
}

/* First pass: CTE names (so that references to them are not taken for tables) and
 * nested data-modifying statements. */
static void walk_ctes(walk_state *w, json_t *node, int depth)
{
    if (depth > MAX_DEPTH) return;
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_array(node)) {
        json_array_foreach(node, i, v) walk_ctes(w, v, depth + 1);
        return;
    }
    if (!json_is_object(node)) return;
    json_object_foreach(node, k, v)
    {
        if (!strcmp(k, "CommonTableExpr")) json_object_set_new(w->ctes, cte_name(v), json_true());
        note_write(w, k);
        walk_ctes(w, v, depth + 1);
    }
}

/* Second pass: every RangeVar is a table. */
static void walk(walk_state *w, json_t *node, int depth)
{
    if (depth > MAX_DEPTH) return;
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_array(node)) {
        json_array_foreach(node, i, v) walk(w, v, depth + 1);
        return;
    }
    if (!json_is_object(node)) return;
    json_object_foreach(node, k, v)
    {
        /* Typed fields (a statement's "relation") hold a RangeVar without its wrapper. */
        if (!strcmp(k, "RangeVar") ||
            ((!strcmp(k, "relation") || !strcmp(k, "rel")) && json_object_get(v, "relname")))
            add_table(w->tables, w->ctes, json_string_value(json_object_get(v, "schemaname")),
                      json_string_value(json_object_get(v, "relname")));
        else
            walk(w, v, depth + 1);
    }
}

static int prefix(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

static int txn_kind(json_t *t)
{
    const char *k = json_string_value(json_object_get(t, "kind"));
    if (k == NULL) return CS_PG_TXN_OTHER;
    if (!strcmp(k, "TRANS_STMT_BEGIN") || !strcmp(k, "TRANS_STMT_START")) return CS_PG_TXN_BEGIN;
    if (!strcmp(k, "TRANS_STMT_COMMIT")) return CS_PG_TXN_COMMIT;
    if (!strcmp(k, "TRANS_STMT_ROLLBACK")) return CS_PG_TXN_ROLLBACK;
    if (!strcmp(k, "TRANS_STMT_ROLLBACK_TO")) return CS_PG_TXN_ROLLBACK_TO;
    return CS_PG_TXN_OTHER;
}

/* The kind of a top-level node (name + body). */
static int node_kind(const char *name, json_t *body, cs_pg_stmt *st)
{
    /* EXPLAIN (ANALYZE runs it), PREPARE and DECLARE CURSOR are their inner statement. */
    if (!strcmp(name, "ExplainStmt") || !strcmp(name, "PrepareStmt") ||
        !strcmp(name, "DeclareCursorStmt")) {
        const char *inner;
        json_t *q;
        json_object_foreach(json_object_get(body, "query"), inner, q) return node_kind(inner, q,
                                                                                       st);
        return CS_PG_OTHER;
    }
    if (!strcmp(name, "SelectStmt") || !strcmp(name, "UpdateStmt") || !strcmp(name, "DeleteStmt"))
        st->has_where = json_object_get(body, "whereClause") != NULL;
    if (!strcmp(name, "SelectStmt"))
        return json_object_get(body, "intoClause") ? CS_PG_DDL : CS_PG_SELECT;
    if (!strcmp(name, "InsertStmt")) return CS_PG_INSERT;
    if (!strcmp(name, "UpdateStmt") || !strcmp(name, "MergeStmt")) return CS_PG_UPDATE;
    if (!strcmp(name, "DeleteStmt")) return CS_PG_DELETE;
    if (!strcmp(name, "CopyStmt"))
        return json_is_true(json_object_get(body, "is_from")) ? CS_PG_COPY_FROM : CS_PG_COPY_TO;
    if (!strcmp(name, "TruncateStmt")) return CS_PG_TRUNCATE;
    if (!strcmp(name, "GrantStmt") || !strcmp(name, "GrantRoleStmt") ||
        !strcmp(name, "AlterDefaultPrivilegesStmt"))
        return CS_PG_GRANT;
    if (!strcmp(name, "TransactionStmt")) {
        st->txn = txn_kind(body);
        return CS_PG_TXN;
    }
    if (prefix(name, "Create") || prefix(name, "Alter") || prefix(name, "Drop") ||
        !strcmp(name, "RenameStmt") || !strcmp(name, "IndexStmt") || !strcmp(name, "ViewStmt") ||
        !strcmp(name, "CommentStmt") || !strcmp(name, "ReindexStmt") ||
        !strcmp(name, "ClusterStmt") || !strcmp(name, "VacuumStmt"))
        return CS_PG_DDL;
    return CS_PG_OTHER;
}

/* DROP names its objects as lists of strings ([schema,] name). */
static void drop_tables(json_t *body, json_t *tables, json_t *ctes)
{
    const char *rt = json_string_value(json_object_get(body, "removeType"));
    if (rt == NULL ||
        (strcmp(rt, "OBJECT_TABLE") && strcmp(rt, "OBJECT_VIEW") && strcmp(rt, "OBJECT_MATVIEW") &&
         strcmp(rt, "OBJECT_FOREIGN_TABLE") && strcmp(rt, "OBJECT_SEQUENCE")))
        return;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(body, "objects"), i, o)
    {
        json_t *items = json_object_get(json_object_get(o, "List"), "items");
        size_t n = json_array_size(items);
        const char *rel = n ? json_string_value(json_object_get(
                                  json_object_get(json_array_get(items, n - 1), "String"), "sval"))
                            : NULL;
        const char *schema =
            n > 1 ? json_string_value(json_object_get(
                        json_object_get(json_array_get(items, n - 2), "String"), "sval"))
                  : NULL;
        add_table(tables, ctes, schema, rel);
    }
}

/* The statement's own target table goes first. */
static void target_first(const char *name, json_t *body, walk_state *w)
{
    json_t *rel = json_object_get(body, "relation");
    if (rel && json_object_get(rel, "RangeVar")) rel = json_object_get(rel, "RangeVar");
    /* SELECT INTO and CREATE TABLE AS target the table they create. */
    json_t *into = json_object_get(body, "intoClause");
    if (into == NULL) into = json_object_get(body, "into");
    if (rel == NULL && into) rel = json_object_get(into, "rel");
    if (rel)
        add_table(w->tables, w->ctes, json_string_value(json_object_get(rel, "schemaname")),
                  json_string_value(json_object_get(rel, "relname")));
    if (!strcmp(name, "DropStmt")) drop_tables(body, w->tables, w->ctes);
}

static void fingerprint(cs_pg_stmt *st)
{
    PgQueryFingerprintResult f = pg_query_fingerprint(st->text);
    st->fingerprint = f.error ? 0 : f.fingerprint;
    snprintf(st->fingerprint_hex, sizeof st->fingerprint_hex, "%016" PRIx64, st->fingerprint);
    pg_query_free_fingerprint_result(f);
}

static void classify_one(json_t *raw, const char *sql, size_t sql_len, cs_pg_stmt *st)
{
    json_t *stmt = json_object_get(raw, "stmt");
    json_int_t loc = json_integer_value(json_object_get(raw, "stmt_location"));
    json_t *len_j = json_object_get(raw, "stmt_len");
    size_t start = loc > 0 && (size_t)loc <= sql_len ? (size_t)loc : 0;
    size_t len = len_j && json_integer_value(len_j) > 0 ? (size_t)json_integer_value(len_j)
                                                        : sql_len - start;
    if (len > sql_len - start) len = sql_len - start;
    st->text = cs_strndup(sql + start, len);
    st->tables = json_array();
    st->kind = CS_PG_OTHER;
    walk_state w = {.tables = st->tables, .ctes = json_object(), .writes = -1};
    const char *name;
    json_t *body;
    json_object_foreach(stmt, name, body)
    {
        st->kind = node_kind(name, body, st);
        walk_ctes(&w, body, 0);
        target_first(name, body, &w);
        walk(&w, body, 0);
        break;
    }
    if ((st->kind == CS_PG_SELECT || st->kind == CS_PG_OTHER) && w.writes >= 0) st->kind = w.writes;
    json_decref(w.ctes);
    fingerprint(st);
}

int cs_pg_classify(const char *sql, cs_pg_stmts *out, cs_err *err)
{
    memset(out, 0, sizeof *out);
    PgQueryParseResult r = pg_query_parse(sql);
    int rc = 0;
    json_t *tree = NULL;
    if (r.error) {
        rc = cs_err_set(err, CS_EPARSE, "%s", r.error->message);
        goto out;
    }
    tree = json_loads(r.parse_tree, JSON_DECODE_ANY, NULL);
    json_t *stmts = json_object_get(tree, "stmts");
    if (tree == NULL) {
        rc = cs_err_set(err, CS_EINTERNAL, "unreadable parse tree");
        goto out;
    }
    out->n = json_array_size(stmts);
    out->v = cs_calloc(out->n ? out->n : 1, sizeof *out->v);
    size_t sql_len = strlen(sql), i;
    json_t *raw;
    json_array_foreach(stmts, i, raw) classify_one(raw, sql, sql_len, &out->v[i]);
out:
    json_decref(tree);
    pg_query_free_parse_result(r);
    return rc;
}

void cs_pg_stmts_free(cs_pg_stmts *s)
{
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->v[i].tables);
        free(s->v[i].text);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}
