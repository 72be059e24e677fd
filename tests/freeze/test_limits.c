/* test_limits.c - the automatic-freeze counters of gateway/limits.c with a
 * simulated clock: windows slide (old requests stop counting), each limit reports
 * its figures, and agents are counted apart. Includes the file to reach its
 * static functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "gateway/limits.c"

static void test_window_slides(void **state)
{
    window w;
    window_init(&w, 60 * 1000);
    long long t0 = 1700000000000LL;
    for (int i = 0; i < 5; i++) assert_int_equal(window_add(&w, t0 + i * 1000, 1), i + 1);
    /* 59 s after the first request every one still counts. */
    assert_int_equal(window_add(&w, t0 + 59 * 1000, 0), 5);
    /* 61 s after the first, the two that are 60 s old or more are out, the others are not. */
    assert_int_equal(window_add(&w, t0 + 61 * 1000, 0), 3);
    /* Long after, nothing is left but the new request. */
    assert_int_equal(window_add(&w, t0 + 3600 * 1000, 1), 1);
}

static void test_window_many_in_one_slot(void **state)
{
    window w;
    window_init(&w, 3600 * 1000);
    long long t0 = 1700000000000LL;
    for (int i = 0; i < 1000; i++) window_add(&w, t0 + i, 1);
    assert_int_equal(window_add(&w, t0 + 30 * 60 * 1000, 0), 1000);
    assert_int_equal(window_add(&w, t0 + 3601 * 1000 + 60 * 1000, 0), 0);
}

/* What count() is told of a request: its action and its status. */
#define OK "db.read", "allowed"
#define EXP "db.export", "pending"
#define DEN "iam.x", "denied"

static void test_limits_report_figures(void **state)
{
    cs_limit_class cls = {"db.export", 2};
    cs_limits lim = {.requests_per_minute = 3, .denials = 1, .denials_window_s = 600, .classes = &cls, .n_classes = 1};
    struct cs_limiter *l = cs_limiter_new();
    long long t = 1700000000000LL;
    breach b = {0};
    count(l, &lim, "a", OK, t, &b);
    count(l, &lim, "a", EXP, t, &b);
    count(l, &lim, "a", EXP, t, &b);
    assert_string_equal(b.limit, "");
    count(l, &lim, "a", EXP, t + 61 * 1000, &b); /* the minute moved on; the hour did not */
    assert_string_equal(b.reason, "classes[db.export].per_hour: 3 in the last hour, limit 2");
    breach c = {0};
    count(l, &lim, "b", DEN, t, &c); /* another agent: its own counters */
    assert_string_equal(c.limit, "");
    count(l, &lim, "b", DEN, t, &c);
    assert_string_equal(c.reason, "denials: 2 denials in the last 600 s, limit 1");
    breach d = {0};
    for (int i = 0; i < 4; i++) count(l, &lim, "c", OK, t, &d);
    assert_string_equal(d.reason, "requests_per_minute: 4 in the last 60 s, limit 3");
    assert_int_equal(d.seen, 4);
    assert_int_equal(d.max, 3);
    cs_limiter_free(l);
}

static void test_many_agents(void **state)
{
    cs_limits lim = {.requests_per_minute = 1};
    struct cs_limiter *l = cs_limiter_new();
    char name[32];
    for (int i = 0; i < 2000; i++) {
        breach b = {0};
        snprintf(name, sizeof name, "agent-%d", i);
        count(l, &lim, name, OK, 1700000000000LL, &b);
        assert_string_equal(b.limit, "");
    }
    breach b = {0};
    count(l, &lim, "agent-1234", OK, 1700000000000LL, &b);
    assert_string_equal(b.limit, "requests_per_minute");
    cs_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_window_many_in_one_slot),
        cmocka_unit_test(test_limits_report_figures),
        cmocka_unit_test(test_many_agents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
