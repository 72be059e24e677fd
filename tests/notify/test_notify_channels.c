/* test_notify_channels.c - Teams and Standard Webhooks end to end: the Adaptive
 * Card and its follow-up, webhook events for the whole lifecycle verified by the
 * `standardwebhooks` npm package, and a notification that cannot be delivered
 * ending in the dead-letter state with an audit entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "notify_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

typedef struct env {
    td d;
    fake_peer *f;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    e->f = fake_start();
    nt_start(&e->d, e->f);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    td_cleanup(&e->d);
    fake_stop(e->f);
    free(e);
    return 0;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void post(td *d, const char *who, const char *id, const char *verb, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s/%s", id, verb);
    td_resp r = td_req(d, "POST", path, who, body, NULL, NULL);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
}

static json_t *card(const json_t *req)
{
    json_t *att = json_array_get(json_object_get(json_object_get(req, "json"), "attachments"), 0);
    assert_string_equal(str(att, "contentType"), "application/vnd.microsoft.card.adaptive");
    return json_object_get(att, "content");
}

static char *run_verifier(const char *file)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "WEBHOOK_SECRET='%s' node '%s/tests/notify/verify_webhooks.js' '%s'",
             NT_WEBHOOK_SECRET, getenv("CS_SOURCE_DIR"), file);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[512];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return out;
}

static void test_teams_and_webhooks(void **state)
{
    env *e = *state;
    char *id = nt_submit(&e->d, "demo-agent", "db.export", "prod/db/customers");
    json_t *teams = fake_wait(e->f, "/teams/dba", 1);
    json_t *c = card(json_array_get(teams, 0));
    assert_string_equal(str(c, "type"), "AdaptiveCard");
    assert_string_equal(str(c, "version"), "1.4");
    assert_string_equal(str(json_array_get(json_object_get(c, "body"), 0), "text"),
                        "Approval needed: db.export on prod/db/customers");
    char *facts = json_dumps(json_array_get(json_object_get(c, "body"), 1), 0);
    assert_non_null(
        strstr(facts, "{\"title\": \"Requester\", \"value\": \"Agent demo-agent (owner alice)\"}"));
    assert_non_null(strstr(facts, "{\"title\": \"Approvals\", \"value\": \"0 of 2\"}"));
    free(facts);
    json_t *open = json_array_get(json_object_get(c, "actions"), 0);
    assert_string_equal(str(open, "type"), "Action.OpenUrl");
    char url[256];
    snprintf(url, sizeof url, NT_PUBLIC_URL "/a/%s", id);
    assert_string_equal(str(open, "url"), url);
    json_decref(teams);

    post(&e->d, "bob", id, "approve", "{}");
    post(&e->d, "carol", id, "approve", "{}");
    post(&e->d, "demo-agent", id, "outcome", "{\"status\":\"succeeded\",\"exit_code\":0}");
    json_t *hooks = fake_wait(e->f, "/hook/siem", 3);
    teams = fake_wait(e->f, "/teams/dba", 2);
    assert_int_equal(json_array_size(teams),
                     2); /* the card and its outcome; votes are not posted */
    assert_string_equal(
        str(json_array_get(json_object_get(card(json_array_get(teams, 1)), "body"), 0), "text"),
        "Approved: db.export on prod/db/customers");
    json_decref(teams);

    /* Each delivery has its own id; the body is {type, timestamp, data}. */
    json_t *h0 = json_array_get(hooks, 0), *h1 = json_array_get(hooks, 1);
    assert_int_equal(strncmp(str(json_object_get(h0, "headers"), "webhook-id"), "msg_", 4), 0);
    assert_string_not_equal(str(json_object_get(h0, "headers"), "webhook-id"),
                            str(json_object_get(h1, "headers"), "webhook-id"));
    assert_string_equal(str(json_object_get(json_object_get(h0, "json"), "data"), "id"), id);
    char file[] = "/tmp/cs-webhooks-XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    json_dumpf(hooks, f, 0);
    fclose(f);
    assert_string_equal(run_verifier(file), "action.pending,action.approved,action.executed\n");
    unlink(file);
    json_decref(hooks);
    free(id);
}

/* A target nobody configured cannot be delivered: the row goes to the dead-letter
 * state at once, with an audit entry saying so; the other rows are unaffected. */
static void test_dead_letter(void **state)
{
    env *e = *state;
    char *id = nt_submit(&e->d, "demo-agent", "test.dead", "anything");
    assert_int_equal(nt_wait_audit(&e->d, "notification.dead", id, 1), 1);
    assert_int_equal(nt_outbox_count(&e->d, "dead"), 1);
    td_resp r = td_req(&e->d, "GET", "/metrics", NULL, NULL, NULL, NULL);
    assert_non_null(strstr(r.text, "countersign_notify_outbox{state=\"dead\"} 1\n"));
    td_resp_free(&r);
    free(id);
}

/* Nobody decides: the expiry (fail closed) reaches Slack and the webhook too. */
static void test_expiry_is_announced(void **state)
{
    env *e = *state;
    char *id = nt_submit(&e->d, "demo-agent", "test.expire", "prod/x");
    json_t *ups = fake_wait(e->f, "/api/chat.update", 1);
    char *text =
        json_dumps(json_object_get(json_object_get(json_array_get(ups, 0), "json"), "blocks"), 0);
    assert_non_null(strstr(text, "*Expired* without a decision"));
    assert_null(strstr(text, "cs_approve"));
    free(text);
    json_decref(ups);
    json_t *hooks = fake_wait(e->f, "/hook/siem", 2);
    assert_string_equal(str(json_object_get(json_array_get(hooks, 1), "json"), "type"),
                        "action.expired");
    assert_string_equal(
        str(json_object_get(json_object_get(json_array_get(hooks, 1), "json"), "data"), "id"), id);
    json_decref(hooks);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_teams_and_webhooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_is_announced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
