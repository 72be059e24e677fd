/* test_store_audit.c - the SQLite store's audit rows inside a write transaction: a
 * scan on the writer's connection of the entries the transaction appended (the audit
 * log's before-commit pass) is answered from kept copies; it must give exactly what
 * the rows give, also after an op's savepoint was rolled back, and nothing of a
 * rolled-back transaction may survive into the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/store.h"
#include "tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
    char text[4096];
    int n;
} seen;

static int collect(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    seen *s = ctx;
    size_t used = strlen(s->text);
    snprintf(s->text + used, sizeof s->text - used, "%lld@%lld:%.*s|", index, time_ms, (int)len,
             entry);
    s->n++;
    return 0;
}

static void append(cs_store *s, const char *type, long long t, long long want_index)
{
    cs_audit_row row = {type, t, "User::\"bob\"", "api", "act_1", NULL, NULL, NULL, NULL};
    long long index = -1;
    assert_int_equal(s->ops->audit_append(s, &row, &index), 0);
    assert_int_equal(index, want_index);
}

/* The same range from the kept copies (w = 1, plain range) and from the rows (a time
 * filter that keeps every row forces the SQL path): both must hold want_n entries and
 * the same text; the kept view is left in *kept for further checks. */
static void same_views(cs_store *s, long long from, int want_n, seen *kept)
{
    seen rows;
    memset(kept, 0, sizeof *kept);
    memset(&rows, 0, sizeof rows);
    cs_audit_scan all = {.from = from, .to = -1};
    cs_audit_scan filtered = {.from = from, .to = -1, .since_ms = 1};
    assert_int_equal(s->ops->audit_scan(s, 1, &all, collect, kept), 0);
    assert_int_equal(s->ops->audit_scan(s, 1, &filtered, collect, &rows), 0);
    assert_int_equal(kept->n, want_n);
    assert_string_equal(kept->text, rows.text);
}

static void test_kept_entries_match_rows(void **state)
{
    (void)state;
    cs_store *s = NULL;
    cs_err err = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    assert_int_equal(cs_store_open("sqlite", path, &s, &err), 0);
    seen kept;

    /* One batch: op 1 appends two entries, op 2 appends one and is rolled back, op 3
     * appends one. */
    assert_int_equal(s->ops->begin(s), 0);
    assert_int_equal(s->ops->savepoint(s), 0);
    append(s, "a.one", 10, 0);
    append(s, "a.two", 11, 1);
    assert_int_equal(s->ops->release(s), 0);
    assert_int_equal(s->ops->savepoint(s), 0);
    append(s, "b.failed", 12, 2);
    assert_int_equal(s->ops->rollback_to(s), 0);
    assert_int_equal(s->ops->savepoint(s), 0);
    append(s, "c.one", 13, 2);
    assert_int_equal(s->ops->release(s), 0);
    same_views(s, 0, 3, &kept);
    assert_null(strstr(kept.text, "b.failed"));
    same_views(s, 1, 2, &kept); /* from the middle */
    cs_audit_scan part = {.from = 1, .to = 2};
    memset(&kept, 0, sizeof kept);
    assert_int_equal(s->ops->audit_scan(s, 1, &part, collect, &kept), 0);
    assert_int_equal(kept.n, 1);
    assert_non_null(strstr(kept.text, "a.two"));
    assert_int_equal(s->ops->commit(s), 0);

    /* A rolled-back transaction leaves nothing behind, in the rows or in memory. */
    assert_int_equal(s->ops->begin(s), 0);
    append(s, "d.rolled", 14, 3);
    assert_int_equal(s->ops->rollback(s), 0);
    assert_int_equal(s->ops->begin(s), 0);
    append(s, "e.one", 15, 3);
    same_views(s, 0, 4, &kept); /* starts before this transaction: the rows */
    same_views(s, 3, 1, &kept);
    assert_null(strstr(kept.text, "d.rolled"));
    assert_int_equal(s->ops->commit(s), 0);
    cs_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_entries_match_rows, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
