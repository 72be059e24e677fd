/* test_iso_time.c - cs_iso_time (src/util/iso_time.c) writes exactly what the
 * snprintf format it replaced writes, over the whole range of years and at the
 * edges (the epoch, leap days, the turn of a year, the last millisecond of 9999,
 * times before the epoch and after 9999). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/iso_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void reference(long long ms, char out[64])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void same_as_reference(long long ms)
{
    char want[64], got[64];
    reference(ms, want);
    size_t n = cs_iso_time(ms, got);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
}

/* A time in [0, 10000-01-01) from a xorshift64 generator. */
static long long random_ms(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (long long)(*x % 253402300800000ULL);
}

static void edges(void **state)
{
    (void)state;
    const long long cases[] = {
        0,               /* the epoch */
        1,               /* its first millisecond */
        951782399999,    /* 2000-02-28T23:59:59.999Z */
        951782400000,    /* 2000-02-29 */
        1798761599999,   /* 2026-12-31T23:59:59.999Z */
        1798761600000,   /* 2027-01-01 */
        253402300799999, /* 9999-12-31T23:59:59.999Z */
        253402300800000, /* 10000-01-01: snprintf's wider year */
        -1,              /* before the epoch: snprintf's fields */
        -86400001,
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_as_reference(cases[i]);
    char out[64];
    assert_int_equal(cs_iso_time(1795264040045LL, out), CS_ISO_TIME_LEN);
    assert_string_equal(out, "2026-11-21T12:27:20.045Z");
}

static void random_times(void **state)
{
    (void)state;
    unsigned long long x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++)
        same_as_reference(random_ms(&x));
}

/* Every day from the epoch to 2400 (four leap centuries' worth of rules), at a time
 * that moves through the day, by the date arithmetic that replaced gmtime_r. */
static void every_day(void **state)
{
    (void)state;
    for (long long day = 0; day < 157000; day++)
        same_as_reference(day * 86400000LL + (day * 7919 % 86400) * 1000 + day % 1000);
}

static void hour_and_weekday(void **state)
{
    (void)state;
    unsigned long long x = 0x243f6a8885a308d3ULL;
    for (int i = 0; i < 200000; i++) {
        long long ms = random_ms(&x);
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        int hour = -1, weekday = -1;
        cs_utc_hour_weekday(ms, &hour, &weekday);
        assert_int_equal(hour, tm.tm_hour);
        assert_int_equal(weekday, tm.tm_wday);
        /* Before the epoch too (whole seconds, where gmtime_r's t is exact). */
        long long before = -(ms / 1000) * 1000;
        t = (time_t)(before / 1000);
        gmtime_r(&t, &tm);
        cs_utc_hour_weekday(before, &hour, &weekday);
        assert_int_equal(hour, tm.tm_hour);
        assert_int_equal(weekday, tm.tm_wday);
    }
    int hour, weekday;
    cs_utc_hour_weekday(-1, &hour, &weekday); /* 1969-12-31T23:59:59.999Z, a Wednesday */
    assert_int_equal(hour, 23);
    assert_int_equal(weekday, 3);
    cs_utc_hour_weekday(0, &hour, &weekday);
    assert_int_equal(weekday, 4);                              /* 1970-01-01 was a Thursday */
    cs_utc_hour_weekday(1796601600000LL - 1, &hour, &weekday); /* 2026-12-06T23:59:59.999Z */
    assert_int_equal(hour, 23);
    assert_int_equal(weekday, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edges),
        cmocka_unit_test(random_times),
        cmocka_unit_test(every_day),
        cmocka_unit_test(hour_and_weekday),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
