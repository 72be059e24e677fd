/* test_pg_shape.c - literal-blind shapes: literals become '?', everything that
 * could change what the statement touches stays, and anything the lexer cannot
 * read as the server would (backslashes, dollar quotes, U& escapes, unterminated
 * literals or comments) refuses a shape so the full parser runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "proxy/pg_shape.h"

static const char *shape(const char *sql)
{
    static cs_buf b;
    static int init;
    if (!init) cs_buf_init(&b, 1 << 20), init = 1;
    return cs_pg_shape(sql, &b) == 0 ? (b.data ? b.data : "") : NULL;
}

static void same(const char *a, const char *b)
{
    char x[512];
    const char *sa = shape(a);
    assert_non_null(sa);
    strcpy(x, sa);
    const char *sb = shape(b);
    assert_non_null(sb);
    assert_string_equal(x, sb);
}

static void differ(const char *a, const char *b)
{
    char x[512];
    const char *sa = shape(a);
    assert_non_null(sa);
    strcpy(x, sa);
    const char *sb = shape(b);
    assert_non_null(sb);
    assert_string_not_equal(x, sb);
}

static void test_literals(void **state)
{
    assert_string_equal(shape("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;"),
                        "SELECT abalance FROM pgbench_accounts WHERE aid = ?;");
    same("SELECT * FROM t WHERE a = 'x' AND b = 1.5e3",
         "SELECT * FROM t WHERE a = 'it''s' AND b = 7");
    same("select 1 /* note /* nested */ */ from t -- trailing", "select 2  from t");
    assert_string_equal(shape("SELECT $1, t1.c2 FROM t1"), "SELECT $1, t1.c2 FROM t1");
}

static void test_what_matters_stays(void **state)
{
    differ("SELECT * FROM a", "SELECT * FROM b");
    differ("SELECT * FROM \"a b\"", "SELECT * FROM \"a c\"");
    differ("SELECT 1from accounts", "SELECT 1from secrets"); /* digits never swallow a keyword */
    differ("DELETE FROM t WHERE a = 1", "DELETE FROM t");
    differ("SELECT $1", "SELECT $2");
}

static void test_refusals(void **state)
{
    assert_null(shape("SELECT E'a\\'b'"));
    assert_null(shape("SELECT $$ x $$"));
    assert_null(shape("SELECT $tag$ x $tag$"));
    assert_null(shape("SELECT U&'d!0061t' UESCAPE '!'"));
    assert_null(shape("SELECT * FROM U&\"d!0061t\" UESCAPE '!'"));
    assert_null(shape("SELECT 'unterminated"));
    assert_null(shape("SELECT \"unterminated"));
    assert_null(shape("SELECT 1 /* open"));
    /* A refusal leaves no partial shape behind. */
    cs_buf b;
    cs_buf_init(&b, 1024);
    assert_int_equal(cs_pg_shape("SELECT 1 FROM t; SELECT $$x$$", &b), -1);
    assert_int_equal(b.len, 0);
    cs_buf_free(&b);
}

static void test_cache(void **state)
{
    cs_pg_shapes *s = cs_pg_shapes_new(64);
    cs_pg_shape_info info = {.n = 1};
    info.stmt[0].kind = 3;
    info.stmt[0].fingerprint = 99;
    assert_null(cs_pg_shapes_get(s, "a", 1));
    cs_pg_shapes_put(s, "a", 1, &info);
    const cs_pg_shape_info *got = cs_pg_shapes_get(s, "a", 1);
    assert_non_null(got);
    assert_int_equal(got->stmt[0].fingerprint, 99);
    assert_null(cs_pg_shapes_get(s, "b", 1));
    cs_pg_shapes_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_what_matters_stays),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
