/* test_watch.c - the waiters of gateway/watch.c: a change fires the watches of its
 * action and the any-action watches, once each; cs_watch_notify_made makes the
 * document only when a watch of that action waits, and always counts the change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "gateway/watch.h"

#include <stdio.h>
#include <string.h>

typedef struct seen {
    int fired, timed_out;
    const void *doc;
} seen;

static void fired(cs_watch *w, int timed_out)
{
    seen *s = w->ctx;
    s->fired++;
    s->timed_out = timed_out;
    s->doc = w->doc;
}

static void watch_init(cs_watch *w, const char *id, seen *s, long long deadline_ms)
{
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    w->deadline_ms = deadline_ms;
    w->fn = fired;
    w->ctx = s;
}

static int made;
static const char the_doc[] = "the document";

static const void *make(void *ctx)
{
    made++;
    return ctx;
}

static void test_notify_fires_once(void **state)
{
    (void)state;
    cs_watchers *ws = cs_watchers_new();
    seen a = {0}, other = {0}, any = {0};
    cs_watch wa, wo, wany;
    watch_init(&wa, "act_a", &a, 0);
    watch_init(&wo, "act_b", &other, 0);
    watch_init(&wany, CS_WATCH_ANY, &any, 0);
    cs_watch_add(ws, &wa);
    cs_watch_add(ws, &wo);
    cs_watch_add(ws, &wany);
    unsigned long g = cs_watch_generation(ws);
    cs_watch_notify(ws, "act_a", the_doc);
    assert_int_equal(a.fired, 1);
    assert_ptr_equal(a.doc, the_doc);
    assert_int_equal(any.fired, 1);
    assert_int_equal(other.fired, 0);
    assert_int_equal(cs_watch_generation(ws), g + 1);
    /* Fired watches are gone: a second change reaches only the one left. */
    cs_watch_notify(ws, "act_a", the_doc);
    assert_int_equal(a.fired, 1);
    assert_int_equal(cs_watch_count(ws), 1);
    assert_int_equal(cs_watch_cancel(ws, &wo), 1);
    assert_int_equal(cs_watch_cancel(ws, &wa), 0);
    cs_watchers_free(ws);
}

static void test_notify_made_only_for_a_waiter(void **state)
{
    (void)state;
    cs_watchers *ws = cs_watchers_new();
    seen any = {0}, a = {0};
    cs_watch wany, wa;
    made = 0;
    /* Nobody waits: nothing is made, the change is still counted. */
    unsigned long g = cs_watch_generation(ws);
    cs_watch_notify_made(ws, "act_a", make, (void *)the_doc);
    assert_int_equal(made, 0);
    assert_int_equal(cs_watch_generation(ws), g + 1);
    /* An any-action watch alone gets the change without a document. */
    watch_init(&wany, CS_WATCH_ANY, &any, 0);
    cs_watch_add(ws, &wany);
    cs_watch_notify_made(ws, "act_a", make, (void *)the_doc);
    assert_int_equal(made, 0);
    assert_int_equal(any.fired, 1);
    assert_null(any.doc);
    /* A watch of the action: the document is made once, for it and the others. */
    seen any2 = {0};
    watch_init(&wany, CS_WATCH_ANY, &any2, 0);
    watch_init(&wa, "act_a", &a, 0);
    cs_watch_add(ws, &wany);
    cs_watch_add(ws, &wa);
    cs_watch_notify_made(ws, "act_a", make, (void *)the_doc);
    assert_int_equal(made, 1);
    assert_int_equal(a.fired, 1);
    assert_ptr_equal(a.doc, the_doc);
    assert_ptr_equal(any2.doc, the_doc);
    assert_int_equal(cs_watch_count(ws), 0);
    cs_watchers_free(ws);
}

static void test_deadline(void **state)
{
    (void)state;
    cs_watchers *ws = cs_watchers_new();
    seen early = {0}, late = {0};
    cs_watch we, wl;
    watch_init(&we, "act_a", &early, 1000);
    watch_init(&wl, "act_a", &late, 5000);
    cs_watch_add(ws, &we);
    cs_watch_add(ws, &wl);
    cs_watch_tick(ws, 1000);
    assert_int_equal(early.fired, 1);
    assert_int_equal(early.timed_out, 1);
    assert_int_equal(late.fired, 0);
    cs_watch_fire_all(ws);
    assert_int_equal(late.fired, 1);
    cs_watchers_free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notify_fires_once),
        cmocka_unit_test(test_notify_made_only_for_a_waiter),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
