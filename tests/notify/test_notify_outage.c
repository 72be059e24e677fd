/* test_notify_outage.c - Slack goes away (connections dropped), countersign is
 * restarted meanwhile, Slack comes back rate-limiting (429 + Retry-After), then
 * recovers: every message arrives exactly once, updates go to the right messages,
 * and every attempt is recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "notify_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 3

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The action id a posted message is about (the Approve button's value). */
static const char *posted_id(const json_t *req)
{
    size_t i;
    json_t *b;
    json_array_foreach(
        json_object_get(json_object_get(req, "json"), "blocks"), i,
        b) if (!strcmp(str(b, "type"),
                       "actions")) return str(json_array_get(json_object_get(b, "elements"), 0),
                                              "value");
    return NULL;
}

static void wait_outbox_drained(td *d)
{
    for (int i = 0; i < 3000 && nt_outbox_count(d, "pending") != 0; i++)
        usleep(20000);
    assert_int_equal(nt_outbox_count(d, "pending"), 0);
}

static void test_outage_exactly_once(void **state)
{
    td d;
    fake_peer *f = fake_start();
    nt_start(&d, f);
    fake_set_down(f, "/api/", 0);
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char res[64];
        snprintf(res, sizeof res, "prod/web%d", i);
        ids[i] = nt_submit(&d, "demo-agent", "deploy.apply", res);
    }
    fake_wait_refused(f, N);
    td_stop(&d); /* restart in the middle of the outage */
    assert_int_equal(nt_outbox_count(&d, "pending"), N);
    td_serve(&d);
    fake_set_down(f, "/api/", 1);
    long before = fake_refused(f);
    fake_wait_refused(f, before + N);
    fake_set_down(f, NULL, 0);

    json_t *posts = fake_wait(f, "/api/chat.postMessage", N);
    for (int i = 0; i < N; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/actions/%s/approve", ids[i]);
        td_resp r = td_req(&d, "POST", path, "bob", "{}", NULL, NULL);
        assert_int_equal(r.status, 200);
        td_resp_free(&r);
    }
    json_decref(fake_wait(f, "/api/chat.update", N));
    wait_outbox_drained(&d);
    json_decref(posts);
    posts = fake_requests(f, "/api/chat.postMessage");
    json_t *ups = fake_requests(f, "/api/chat.update");
    assert_int_equal(json_array_size(posts), N);
    assert_int_equal(json_array_size(ups), N);
    /* Each action was posted once, and its update went to its own message. */
    for (int i = 0; i < N; i++) {
        int seen = 0;
        size_t j;
        json_t *p;
        json_array_foreach(posts, j, p) seen += posted_id(p) && !strcmp(posted_id(p), ids[i]);
        assert_int_equal(seen, 1);
    }
    char ts[N][32];
    for (int i = 0; i < N; i++)
        snprintf(ts[i], sizeof ts[i], "1700000000.%06d", i + 1);
    for (int i = 0; i < N; i++) {
        int hits = 0;
        size_t j;
        json_t *u;
        json_array_foreach(ups, j, u) hits += !strcmp(str(json_object_get(u, "json"), "ts"), ts[i]);
        assert_int_equal(hits, 1);
    }
    /* The failed attempts were recorded on the rows that went through them. */
    assert_true(nt_sql(&d, "SELECT MIN(attempts) FROM outbox WHERE event='action.pending'") >= 3);
    assert_int_equal(nt_sql(&d, "SELECT COUNT(*) FROM outbox WHERE state='done'"), 2 * N);
    json_decref(posts);
    json_decref(ups);
    for (int i = 0; i < N; i++)
        free(ids[i]);
    td_cleanup(&d);
    fake_stop(f);
}

/* Slack stays down longer than notify.dead_letter_after: the post gives up into
 * the dead-letter state with its last error and an audit entry, after several
 * recorded attempts; the webhook of the same action is delivered regardless. */
static void test_gives_up_after_dead_letter_after(void **state)
{
    td d;
    fake_peer *f = fake_start();
    nt_start_with(&d, f, "2s");
    fake_set_down(f, "/api/", 0);
    char *id = nt_submit(&d, "demo-agent", "db.export", "prod/db/customers");
    json_decref(fake_wait(f, "/hook/siem", 1));
    assert_int_equal(nt_wait_audit(&d, "notification.dead", id, 1), 1);
    assert_int_equal(
        nt_sql(&d, "SELECT COUNT(*) FROM outbox WHERE state='dead' AND target='slack:#db-approvals'"
                   " AND last_error LIKE 'transport:%' AND attempts >= 2"),
        1);
    json_t *posts = fake_requests(f, "/api/chat.postMessage");
    assert_int_equal(json_array_size(posts), 0);
    json_decref(posts);
    free(id);
    td_cleanup(&d);
    fake_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_outage_exactly_once),
                                       cmocka_unit_test(test_gives_up_after_dead_letter_after)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
