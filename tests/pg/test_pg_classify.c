/* test_pg_classify.c - statement kinds, target tables, WHERE, fingerprints and
 * multi-statement splitting with the real PostgreSQL parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "proxy/pg_classify.h"

static cs_pg_stmts one(const char *sql)
{
    cs_pg_stmts s;
    cs_err err = {0};
    if (cs_pg_classify(sql, &s, &err) != 0) fail_msg("%s: %s", sql, err.msg);
    assert_int_equal(s.n, 1);
    return s;
}

static void expect(const char *sql, const char *kind, const char *first_table, int has_where)
{
    cs_pg_stmts s = one(sql);
    assert_string_equal(cs_pg_kind_name(s.v[0].kind), kind);
    if (first_table)
        assert_string_equal(json_string_value(json_array_get(s.v[0].tables, 0)), first_table);
    else
        assert_int_equal(json_array_size(s.v[0].tables), 0);
    assert_int_equal(s.v[0].has_where, has_where);
    cs_pg_stmts_free(&s);
}

static void test_kinds(void **state)
{
    expect("SELECT * FROM accounts WHERE id = 1", "select", "public.accounts", 1);
    expect("select 1", "select", NULL, 0);
    expect("INSERT INTO s.t VALUES (1)", "insert", "s.t", 0);
    expect("UPDATE t SET a = 1", "update", "public.t", 0);
    expect("DELETE FROM t WHERE a = 1", "delete", "public.t", 1);
    expect("COPY t TO STDOUT", "copy_to", "public.t", 0);
    expect("COPY (SELECT * FROM t) TO STDOUT", "copy_to", "public.t", 0);
    expect("COPY t FROM STDIN", "copy_from", "public.t", 0);
    expect("DROP TABLE s.t, u", "ddl", "s.t", 0);
    expect("CREATE TABLE x (a int)", "ddl", "public.x", 0);
    expect("ALTER TABLE t ADD COLUMN c int", "ddl", "public.t", 0);
    expect("GRANT SELECT ON t TO bob", "grant", "public.t", 0);
    expect("TRUNCATE a, b", "truncate", "public.a", 0);
    expect("SET search_path = x", "other", NULL, 0);
    expect("BEGIN", "transaction", NULL, 0);
}

static void test_hidden_writes(void **state)
{
    /* A data-modifying CTE makes a SELECT a delete; the CTE name is not a table. */
    cs_pg_stmts s = one("WITH x AS (DELETE FROM d RETURNING *) SELECT * FROM x");
    assert_string_equal(cs_pg_kind_name(s.v[0].kind), "delete");
    assert_int_equal(json_array_size(s.v[0].tables), 1);
    assert_string_equal(json_string_value(json_array_get(s.v[0].tables, 0)), "public.d");
    cs_pg_stmts_free(&s);
    /* EXPLAIN ANALYZE runs its statement. */
    expect("EXPLAIN ANALYZE DELETE FROM t", "delete", "public.t", 0);
    expect("SELECT * INTO newt FROM t", "ddl", "public.newt", 0);
    /* SQL-level PREPARE is decided as the statement it prepares. */
    expect("PREPARE p AS DELETE FROM t WHERE a = $1", "delete", "public.t", 1);
    expect("DECLARE c CURSOR FOR SELECT * FROM t", "select", "public.t", 0);
}

static void test_txn(void **state)
{
    cs_pg_stmts s = one("ROLLBACK TO SAVEPOINT a");
    assert_int_equal(s.v[0].txn, CS_PG_TXN_ROLLBACK_TO);
    cs_pg_stmts_free(&s);
    s = one("commit");
    assert_int_equal(s.v[0].txn, CS_PG_TXN_COMMIT);
    cs_pg_stmts_free(&s);
}

static void test_multi_and_fingerprint(void **state)
{
    cs_pg_stmts s;
    cs_err err = {0};
    assert_int_equal(cs_pg_classify("SELECT 1 FROM a WHERE x = 1; DROP TABLE b", &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].text, "SELECT 1 FROM a WHERE x = 1");
    assert_string_equal(s.v[1].text, " DROP TABLE b");
    assert_string_equal(cs_pg_kind_name(s.v[1].kind), "ddl");
    cs_pg_stmts t;
    assert_int_equal(cs_pg_classify("select 1 from a where x = 42", &t, &err), 0);
    /* Constants do not change the fingerprint; tables do. */
    assert_true(s.v[0].fingerprint == t.v[0].fingerprint);
    assert_true(s.v[0].fingerprint != 0);
    assert_int_equal(strlen(s.v[0].fingerprint_hex), 16);
    cs_pg_stmts_free(&t);
    assert_int_equal(cs_pg_classify("select 1 from other where x = 42", &t, &err), 0);
    assert_true(s.v[0].fingerprint != t.v[0].fingerprint);
    cs_pg_stmts_free(&t);
    cs_pg_stmts_free(&s);
}

static void test_syntax_error(void **state)
{
    cs_pg_stmts s;
    cs_err err = {0};
    assert_int_equal(cs_pg_classify("SELEC 1", &s, &err), CS_EPARSE);
    assert_non_null(strstr(err.msg, "syntax error"));
    assert_int_equal(s.n, 0);
    cs_pg_stmts_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),        cmocka_unit_test(test_hidden_writes),
        cmocka_unit_test(test_txn),          cmocka_unit_test(test_multi_and_fingerprint),
        cmocka_unit_test(test_syntax_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
