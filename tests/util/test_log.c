/* test_log.c - the rate-limited log (cs_log_vlimited): a flood of messages a peer
 * can cause becomes a few lines a second and one count of what was held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void limited(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cs_log_vlimited(level, "lib", fmt, ap);
    va_end(ap);
}

/* Runs fn with stderr going to a file; returns what was written (caller frees). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/cs-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    close(fd);
    unlink(path);
    return strdup(buf);
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* Waits for the start of a new second, so that the test's messages share one. */
static void next_second(void)
{
    time_t t = time(NULL);
    while (time(NULL) == t)
        usleep(1000);
}

static void flood(void)
{
    next_second();
    for (int i = 0; i < 50; i++)
        limited(CS_LOG_WARN, "connection %d broke off\n", i);
}

static void after(void)
{
    next_second();
    limited(CS_LOG_WARN, "one more\n");
}

static void below_level(void)
{
    limited(CS_LOG_DEBUG, "not shown");
}

static void flood_then_count(void **state)
{
    char *out = capture(flood);
    assert_int_equal(count(out, "\n"), CS_LOG_LIMIT_PER_SECOND);
    assert_int_equal(count(out, "warn lib: connection "), CS_LOG_LIMIT_PER_SECOND);
    assert_non_null(strstr(out, "lib: connection 0 broke off\n")); /* one newline, ours */
    assert_null(strstr(out, "connection 10 "));
    free(out);
    out = capture(after);
    assert_non_null(strstr(out, "lib: 40 more messages were not logged"));
    assert_non_null(strstr(out, "lib: one more\n"));
    assert_int_equal(count(out, "\n"), 2);
    free(out);
    out = capture(below_level);
    assert_string_equal(out, "");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(flood_then_count)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
