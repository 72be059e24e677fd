/* test_notify_slack.c - Slack end to end against a real daemon and a fake Slack
 * API: the posted message, its updates after each vote, clicks that vote through
 * the same SoD rules as the API, the deny modal, and refused signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "notify_test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The block of a given type, or NULL. */
static json_t *block(const json_t *msg, const char *type)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(msg, "blocks"), i,
                       b) if (!strcmp(str(b, "type"), type)) return b;
    return NULL;
}

/* Every text of the message's blocks joined, to look for phrases. */
static char *all_text(const json_t *msg)
{
    char *s = json_dumps(json_object_get(msg, "blocks"), 0);
    return s;
}

static void expect_status(td *d, const char *id, const char *status)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s", id);
    td_resp r = td_req(d, "GET", path, "admin", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), status);
    td_resp_free(&r);
}

static void api_vote(td *d, const char *who, const char *id, const char *verb)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s/%s", id, verb);
    td_resp r = td_req(d, "POST", path, who, "{}", NULL, NULL);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
}

/* A pending export is posted once with the envelope and both buttons, then updated
 * after each vote; the final update shows the outcome and has no buttons. */
static void test_post_then_update_per_vote(void **state)
{
    env *e = *state;
    char *id = nt_submit(&e->d, "demo-agent", "db.export", "prod/db/customers");
    json_t *posts = fake_wait(e->f, "/api/chat.postMessage", 1);
    json_t *p = json_array_get(posts, 0);
    json_t *msg = json_object_get(p, "json");
    assert_string_equal(str(json_object_get(p, "headers"), "authorization"),
                        "Bearer " NT_BOT_TOKEN);
    assert_non_null(strstr(str(json_object_get(p, "headers"), "content-type"), "application/json"));
    assert_string_equal(str(msg, "channel"), "#db-approvals");
    assert_non_null(strstr(str(msg, "text"), "db.export on prod/db/customers"));
    assert_string_equal(str(json_object_get(block(msg, "header"), "text"), "text"),
                        "db.export on prod/db/customers");
    char *text = all_text(msg);
    assert_non_null(strstr(text, "*Requester*\\nAgent demo-agent (owner alice)"));
    assert_non_null(strstr(text, "*Approvals*\\n0 of 2 from dba"));
    assert_non_null(strstr(text, "Exports of customer data need two DBAs"));
    free(text);
    json_t *els = json_object_get(block(msg, "actions"), "elements");
    assert_int_equal(json_array_size(els), 3);
    assert_string_equal(str(json_array_get(els, 0), "action_id"), "cs_approve");
    assert_string_equal(str(json_array_get(els, 0), "value"), id);
    assert_string_equal(str(json_array_get(els, 0), "style"), "primary");
    assert_string_equal(str(json_array_get(els, 1), "action_id"), "cs_deny");
    assert_string_equal(str(json_array_get(els, 1), "value"), id);
    char url[256];
    snprintf(url, sizeof url, NT_PUBLIC_URL "/a/%s", id);
    assert_string_equal(str(json_array_get(els, 2), "url"), url);
    json_decref(posts);

    api_vote(&e->d, "bob", id, "approve");
    json_t *ups = fake_wait(e->f, "/api/chat.update", 1);
    msg = json_object_get(json_array_get(ups, 0), "json");
    assert_string_equal(str(msg, "channel"), "C0FAKE");
    assert_string_equal(str(msg, "ts"), "1700000000.000001");
    text = all_text(msg);
    assert_non_null(strstr(text, "*Approvals*\\n1 of 2 from dba"));
    assert_non_null(strstr(text, "bob approved"));
    free(text);
    assert_non_null(block(msg, "actions"));
    json_decref(ups);

    api_vote(&e->d, "carol", id, "approve");
    ups = fake_wait(e->f, "/api/chat.update", 2);
    msg = json_object_get(json_array_get(ups, 1), "json");
    assert_string_equal(str(msg, "ts"), "1700000000.000001");
    text = all_text(msg);
    assert_non_null(strstr(text, "*Approved*"));
    assert_non_null(strstr(text, "carol approved"));
    free(text);
    assert_null(block(msg, "actions"));
    json_decref(ups);
    posts = fake_requests(e->f, "/api/chat.postMessage");
    assert_int_equal(json_array_size(posts), 1); /* updates, never a second post */
    json_decref(posts);
    free(id);
}

/* The owner of an agent clicks Approve on the agent's request: refused with a clear
 * ephemeral message and an audit entry; a DBA's click then approves it. */
static void test_click_owner_refused_then_dba_approves(void **state)
{
    env *e = *state;
    nt_user(&e->d, "dave", "dba", "UDAVE");
    nt_user(&e->d, "erin", "dba", "UERIN");
    nt_agent(&e->d, "dave-bot", "dave");
    char *id = nt_submit(&e->d, "dave-bot", "deploy.apply", "prod/web");
    json_t *posts = fake_wait(e->f, "/api/chat.postMessage", 1);
    assert_string_equal(str(json_object_get(json_array_get(posts, 0), "json"), "channel"),
                        "#deploys"); /* notify.routes */
    json_decref(posts);

    char *body = nt_click("UDAVE", "cs_approve", id);
    td_resp r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, (long long)time(NULL));
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    free(body);
    json_t *eph = fake_wait(e->f, "/api/chat.postEphemeral", 1);
    json_t *m = json_object_get(json_array_get(eph, 0), "json");
    assert_string_equal(str(m, "channel"), "C0FAKE");
    assert_string_equal(str(m, "user"), "UDAVE");
    assert_non_null(strstr(str(m, "text"), "refused your approval"));
    assert_non_null(strstr(str(m, "text"), "requested by an agent they own"));
    assert_non_null(strstr(str(m, "text"), "owner-approval"));
    json_decref(eph);
    assert_int_equal(td_audit_count(&e->d, "action.vote_refused", id), 1);
    expect_status(&e->d, id, "pending");

    body = nt_click("UERIN", "cs_approve", id);
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, (long long)time(NULL));
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    free(body);
    json_t *ups = fake_wait(e->f, "/api/chat.update", 1);
    json_t *msg = json_object_get(json_array_get(ups, 0), "json");
    char *text = all_text(msg);
    assert_non_null(strstr(text, "*Approved*"));
    assert_non_null(strstr(text, "erin approved"));
    free(text);
    assert_null(block(msg, "actions"));
    json_decref(ups);
    expect_status(&e->d, id, "approved");
    assert_int_equal(td_audit_count(&e->d, "action.vote", id), 1);
    free(id);
}

/* Deny opens a modal for the reason; its submission denies with that reason. */
static void test_deny_asks_for_reason(void **state)
{
    env *e = *state;
    nt_user(&e->d, "erin", "dba", "UERIN");
    char *id = nt_submit(&e->d, "demo-agent", "deploy.apply", "prod/web");
    json_decref(fake_wait(e->f, "/api/chat.postMessage", 1));
    char *body = nt_click("UERIN", "cs_deny", id);
    td_resp r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, (long long)time(NULL));
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    free(body);
    json_t *opens = fake_wait(e->f, "/api/views.open", 1);
    json_t *m = json_object_get(json_array_get(opens, 0), "json");
    assert_string_equal(str(m, "trigger_id"), "1234.5678.abcdef");
    json_t *view = json_object_get(m, "view");
    assert_string_equal(str(view, "type"), "modal");
    assert_string_equal(str(view, "callback_id"), "cs_deny");
    char meta[128];
    snprintf(meta, sizeof meta, "%s C0FAKE", id);
    assert_string_equal(str(view, "private_metadata"), meta);
    json_decref(opens);
    expect_status(&e->d, id, "pending"); /* the click alone decides nothing */

    body = nt_deny_submission("UERIN", id, "not during the change freeze");
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, (long long)time(NULL));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.text, ""); /* an empty 200 closes the modal */
    td_resp_free(&r);
    free(body);
    json_t *ups = fake_wait(e->f, "/api/chat.update", 1);
    char *text = all_text(json_object_get(json_array_get(ups, 0), "json"));
    assert_non_null(strstr(text, "*Denied*"));
    assert_non_null(strstr(text, "erin denied: not during the change freeze"));
    free(text);
    json_decref(ups);
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s", id);
    r = td_req(&e->d, "GET", path, "admin", NULL, NULL, NULL);
    assert_string_equal(td_str(r.json, "status"), "denied");
    json_t *v = json_array_get(json_object_get(json_object_get(r.json, "approval"), "votes"), 0);
    assert_string_equal(str(v, "voter"), "erin");
    assert_string_equal(str(v, "reason"), "not during the change freeze");
    td_resp_free(&r);
    free(id);
}

/* Forged, stale, replayed and unsigned requests: 401, an audit entry each, and no
 * vote. An unlinked Slack user is told so and recorded too. */
static void test_refused_requests(void **state)
{
    env *e = *state;
    nt_user(&e->d, "erin", "dba", "UERIN");
    char *id = nt_submit(&e->d, "demo-agent", "deploy.apply", "prod/web");
    char *body = nt_click("UERIN", "cs_approve", id);
    long long now = (long long)time(NULL);

    td_resp r = nt_slack_post(&e->d, body, "not-the-signing-secret", now);
    assert_int_equal(r.status, 401);
    td_resp_free(&r);
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, now - 301);
    assert_int_equal(r.status, 401);
    td_resp_free(&r);
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, now + 301);
    assert_int_equal(r.status, 401);
    td_resp_free(&r);
    r = nt_slack_post_raw(&e->d, body, NULL, now);
    assert_int_equal(r.status, 401);
    td_resp_free(&r);
    assert_int_equal(nt_wait_audit(&e->d, "integration.refused", NULL, 4), 4);
    expect_status(&e->d, id, "pending");

    /* The genuine request counts once; the same bytes again are a replay. */
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, now);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, now);
    assert_int_equal(r.status, 401);
    td_resp_free(&r);
    assert_int_equal(nt_wait_audit(&e->d, "integration.refused", NULL, 5), 5);
    json_decref(fake_wait(e->f, "/api/chat.update", 1));
    expect_status(&e->d, id, "approved");
    assert_int_equal(td_audit_count(&e->d, "action.vote", id), 1);
    free(body);

    /* Signed, but from a Slack user nobody linked to a countersign user. */
    char *id2 = nt_submit(&e->d, "demo-agent", "deploy.apply", "prod/api");
    body = nt_click("UNOBODY", "cs_approve", id2);
    r = nt_slack_post(&e->d, body, NT_SLACK_SECRET, now);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    json_t *eph = fake_wait(e->f, "/api/chat.postEphemeral", 1);
    json_t *m = json_object_get(json_array_get(eph, 0), "json");
    assert_string_equal(str(m, "user"), "UNOBODY");
    assert_non_null(strstr(str(m, "text"), "not linked to a countersign user"));
    json_decref(eph);
    assert_int_equal(nt_wait_audit(&e->d, "integration.refused", NULL, 6), 6);
    expect_status(&e->d, id2, "pending");

    /* Signed garbage is refused without a crash. */
    r = nt_slack_post(&e->d, "payload=%7Bnot-json", NT_SLACK_SECRET, now);
    assert_int_equal(r.status, 400);
    td_resp_free(&r);
    free(body);
    free(id);
    free(id2);
}

/* slack_id belongs to users only, one user per Slack account. */
static void test_slack_id_rules(void **state)
{
    env *e = *state;
    nt_user(&e->d, "erin", "dba", "UERIN");
    const char *bodies[][2] = {
        {"{\"kind\":\"agent\",\"name\":\"x-bot\",\"owner\":\"erin\",\"slack_id\":\"UBOT\"}", "400"},
        {"{\"kind\":\"user\",\"name\":\"x\",\"slack_id\":\"u-lower\"}", "400"},
        {"{\"kind\":\"user\",\"name\":\"mallory\",\"slack_id\":\"UERIN\"}", "409"},
        {"{\"kind\":\"user\",\"name\":\"erin\",\"groups\":[\"dba\"],\"slack_id\":\"UERIN\"}",
         "201"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        td_resp r = td_req(&e->d, "POST", "/v1/tokens", "admin", bodies[i][0], NULL, NULL);
        assert_int_equal(r.status, atol(bodies[i][1]));
        td_resp_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_post_then_update_per_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_click_owner_refused_then_dba_approves, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deny_asks_for_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slack_id_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
