/* test_notify_unit.c - the pieces of src/notify/ that need no daemon: Slack's v0
 * signature (against the example in Slack's documentation), the replay memory, the
 * interaction payload parser, routing and event names, and the Slack message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "notify/notify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* https://api.slack.com/authentication/verifying-requests-from-slack */
static const char doc_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char doc_ts[] = "1531420618";
static const char doc_body[] = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
                               "testteamnow&channel_id=G8PSS9T3V&channel_name="
                               "foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
                               "collect&text=&response_url=https%3A%2F%2Fhooks"
                               ".slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%"
                               "2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121"
                               ".803a0bc887a14d10d2c447fce8b6703c";
static const char doc_sig[] = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

static void test_slack_documented_example(void **state)
{
    size_t n = strlen(doc_body);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, doc_sig, doc_body, n, 1531420618),
                     CS_SLACK_SIG_OK);
    /* the window is five minutes either way */
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, doc_sig, doc_body, n, 1531420618 + 300),
                     CS_SLACK_SIG_OK);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, doc_sig, doc_body, n, 1531420618 + 301),
                     CS_SLACK_SIG_STALE);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, doc_sig, doc_body, n, 1531420618 - 301),
                     CS_SLACK_SIG_STALE);
    /* one flipped digit, one byte more of body, another secret, another timestamp */
    char sig[80];
    snprintf(sig, sizeof sig, "%s", doc_sig);
    sig[strlen(sig) - 1] = '2';
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, sig, doc_body, n, 1531420618),
                     CS_SLACK_SIG_BAD);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, doc_sig, doc_body, n - 1, 1531420618),
                     CS_SLACK_SIG_BAD);
    assert_int_equal(cs_slack_verify("8f742231b10e8888abcd99yyyzzz85a6", doc_ts, doc_sig, doc_body,
                                     n, 1531420618),
                     CS_SLACK_SIG_BAD);
    assert_int_equal(cs_slack_verify(doc_secret, "1531420619", doc_sig, doc_body, n, 1531420618),
                     CS_SLACK_SIG_BAD);
    /* malformed headers */
    assert_int_equal(cs_slack_verify(doc_secret, NULL, doc_sig, doc_body, n, 1531420618),
                     CS_SLACK_SIG_MISSING);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, NULL, doc_body, n, 1531420618),
                     CS_SLACK_SIG_MISSING);
    assert_int_equal(cs_slack_verify(doc_secret, "15314206x8", doc_sig, doc_body, n, 1531420618),
                     CS_SLACK_SIG_BAD);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, doc_sig + 3, doc_body, n, 1531420618),
                     CS_SLACK_SIG_BAD);
    assert_int_equal(
        cs_slack_verify(doc_secret, doc_ts,
                        "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                        doc_body, n, 1531420618),
        CS_SLACK_SIG_BAD);
    assert_int_equal(cs_slack_verify(doc_secret, doc_ts, "v0=a2114d", doc_body, n, 1531420618),
                     CS_SLACK_SIG_BAD);
}

static void test_replay_memory(void **state)
{
    cs_slack_replay *r = cs_slack_replay_new();
    assert_int_equal(cs_slack_replay_check(r, doc_sig, 1531420618, 1531420618), CS_SLACK_SIG_OK);
    assert_int_equal(cs_slack_replay_check(r, doc_sig, 1531420618, 1531420700),
                     CS_SLACK_SIG_REPLAY);
    /* A full memory of live signatures refuses rather than forgets. */
    char sig[80];
    int busy = 0;
    for (int i = 0; i < 9000 && !busy; i++) {
        snprintf(sig, sizeof sig, "v0=%064x", i + 1);
        busy = cs_slack_replay_check(r, sig, 1531420618, 1531420618) == CS_SLACK_SIG_BUSY;
    }
    assert_true(busy);
    /* Once their timestamps leave the window, room is made again. */
    assert_int_equal(cs_slack_replay_check(
                         r, "v0=00000000000000000000000000000000000000000000000000000000000fffff",
                         1531420618 + 400, 1531420618 + 400),
                     CS_SLACK_SIG_OK);
    cs_slack_replay_free(r);
}

static char *form(const char *json)
{
    size_t n = strlen(json);
    char *out = malloc(9 + n * 3), *o = out;
    o += sprintf(o, "payload=");
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%%%02X", (unsigned char)json[i]);
    return out;
}

static int parse(const char *json, cs_slack_interaction *in)
{
    char *body = form(json);
    cs_err err = {0};
    int rc = cs_slack_interaction_parse(body, strlen(body), in, &err);
    free(body);
    return rc;
}

static void test_payload_parser(void **state)
{
    cs_slack_interaction in;
    assert_int_equal(
        parse("{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"channel\":{\"id\":\"C1\"},"
              "\"trigger_id\":\"1.2.ab\",\"actions\":[{\"action_id\":\"cs_approve\",\"value\":"
              "\"act_1\"}]}",
              &in),
        0);
    assert_int_equal(in.type, CS_SLACK_BLOCK_ACTION);
    assert_int_equal(in.verb, CS_SLACK_APPROVE);
    assert_string_equal(in.user_id, "U1");
    assert_string_equal(in.channel_id, "C1");
    assert_string_equal(in.action_id, "act_1");
    assert_string_equal(in.trigger_id, "1.2.ab");
    assert_int_equal(parse("{\"type\":\"view_submission\",\"user\":{\"id\":\"U1\"},\"view\":{"
                           "\"callback_id\":\"cs_deny\","
                           "\"private_metadata\":\"act_9 "
                           "C7\",\"state\":{\"values\":{\"reason\":{\"reason\":{\"value\":"
                           "\"too risky\"}}}}}}",
                           &in),
                     0);
    assert_int_equal(in.verb, CS_SLACK_DENY);
    assert_string_equal(in.action_id, "act_9");
    assert_string_equal(in.channel_id, "C7");
    assert_string_equal(in.reason, "too risky");
    /* What must be refused before anything acts. */
    const char *bad[] = {
        "[]",
        "{}",
        "{\"type\":\"block_actions\"}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[]}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"cs_"
        "approve\"}]}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"rm_"
        "rf\",\"value\":\"a\"}]}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U "
        "1\"},\"actions\":[{\"action_id\":\"cs_approve\",\"value\":\"a\"}]}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"cs_"
        "approve\",\"value\":\"a\\\"b\"}]}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"actions\":[{\"action_id\":\"cs_"
        "deny\",\"value\":\"a\"}]}",
        "{\"type\":\"block_actions\",\"user\":{\"id\":\"U1\"},\"user\":{\"id\":\"U2\"},\"actions\":"
        "[]}",
        "{\"type\":\"view_submission\",\"user\":{\"id\":\"U1\"},\"view\":{\"callback_id\":"
        "\"other\",\"private_metadata\":\"a\"}}",
        "{\"type\":\"shortcut\",\"user\":{\"id\":\"U1\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(parse(bad[i], &in), 0);
    cs_err err = {0};
    const char *raw[] = {
        "", "payload", "payload=%", "payload=%4", "payload=%zz", "payload=%00", "other=1"};
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        assert_int_not_equal(cs_slack_interaction_parse(raw[i], strlen(raw[i]), &in, &err), 0);
}

static void test_routes_and_events(void **state)
{
    cs_config cfg = {0};
    cfg.routes =
        json_pack("{s:[s,s],s:[s]}", "dba", "slack:#db", "teams:dba", "sre", "webhook:siem");
    cfg.public_url = "https://cs.example";
    json_t *doc = json_pack("{s:s,s:{s:[{s:[s],s:s},{s:[s,s]}],s:[]}}", "status", "pending",
                            "approval", "requirements", "groups", "dba", "notify",
                            " slack:#x ,webhook:siem,,slack:#x", "groups", "dba", "sre", "votes");
    json_t *t = cs_notify_targets(&cfg, doc);
    char *s = json_dumps(t, JSON_COMPACT);
    /* @notify wins for its policy; the other one falls back to its groups' routes */
    assert_string_equal(s, "[\"slack:#x\",\"webhook:siem\",\"slack:#db\",\"teams:dba\"]");
    free(s);
    json_decref(t);
    assert_string_equal(cs_notify_event(doc), "action.pending");
    json_array_append_new(json_object_get(json_object_get(doc, "approval"), "votes"),
                          json_object());
    assert_string_equal(cs_notify_event(doc), "action.voted");
    const char *st[][2] = {{"approved", "action.approved"},
                           {"denied", "action.denied"},
                           {"expired", "action.expired"},
                           {"cancelled", "action.cancelled"}};
    for (size_t i = 0; i < 4; i++) {
        json_object_set_new(doc, "status", json_string(st[i][0]));
        assert_string_equal(cs_notify_event(doc), st[i][1]);
    }
    json_object_set_new(doc, "status", json_string("approved"));
    json_object_set_new(doc, "outcome", json_object());
    assert_string_equal(cs_notify_event(doc), "action.executed");
    json_t *allowed = json_pack("{s:s}", "status", "allowed");
    assert_null(cs_notify_event(allowed)); /* decided at once: nobody is notified */
    assert_true(cs_channel_slack.wants("action.voted"));
    assert_false(cs_channel_teams.wants("action.voted"));
    assert_false(cs_channel_webhook.wants("action.voted"));
    assert_true(cs_channel_webhook.wants("action.executed"));
    assert_ptr_equal(cs_channel_find("teams:dba"), &cs_channel_teams);
    assert_null(cs_channel_find("pager:x"));
    json_decref(allowed);
    json_decref(doc);
    json_decref(cfg.routes);
}

/* mrkdwn is escaped, so a requester cannot smuggle links or mentions in. */
static void test_slack_message_escapes(void **state)
{
    cs_config cfg = {0};
    cfg.public_url = "https://cs.example";
    json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{s:s},s:{s:i,s:[s],s:[],s:[]}}", "id",
                          "act_1", "status", "pending", "action", "db.export", "resource",
                          "prod/db", "purpose", "<!channel> & <https://evil|click>", "requester",
                          "type", "Agent", "id", "bot", "context", "ticket", "<@U1>", "approval",
                          "quorum", 1, "groups", "dba", "votes", "requirements");
    json_t *blocks = cs_slack_blocks(&cfg, a);
    char *s = json_dumps(blocks, 0);
    assert_null(strstr(s, "<!channel>"));
    assert_null(strstr(s, "<@U1>"));
    assert_non_null(strstr(s, "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"));
    assert_non_null(strstr(s, "https://cs.example/a/act_1"));
    free(s);
    json_decref(blocks);
    json_decref(a);
}

/* A long resource with multi-byte characters is cut on a character boundary, so
 * the message stays valid JSON with its header and buttons. */
static void test_slack_message_long_utf8(void **state)
{
    cs_config cfg = {0};
    cfg.public_url = "https://cs.example";
    char res[400] = "prod/";
    for (int i = 0; i < 60; i++)
        strcat(res, "é"); /* 2 bytes each: the 80-byte cut lands mid-character */
    json_t *votes = json_array();
    for (int i = 0; i < 40; i++)
        json_array_append_new(
            votes, json_pack("{s:s,s:s,s:s}", "voter", "someone", "vote", "approve", "reason",
                             "a fairly long reason that repeats itself, over and over"));
    json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:{s:i,s:[s],s:o,s:[]}}", "id", "act_1", "status",
                          "pending", "action", "db.export", "resource", res, "approval", "quorum",
                          50, "groups", "dba", "votes", votes, "requirements");
    json_t *blocks = cs_slack_blocks(&cfg, a);
    size_t i;
    json_t *b;
    int header = 0, actions = 0;
    json_array_foreach(blocks, i, b)
    {
        const char *t = json_string_value(json_object_get(b, "type"));
        header += !strcmp(t, "header");
        actions += !strcmp(t, "actions") && json_array_size(json_object_get(b, "elements")) == 3;
        json_t *text = json_object_get(json_object_get(b, "text"), "text");
        if (text) assert_true(strlen(json_string_value(text)) < 3000);
    }
    assert_int_equal(header, 1);
    assert_int_equal(actions, 1);
    char *fallback = cs_slack_fallback_text(a);
    assert_non_null(fallback);
    free(fallback);
    json_decref(blocks);
    json_decref(a);
}

static void test_webhook_signature_shape(void **state)
{
    const unsigned char key[] = "0123456789abcdef";
    char *a = cs_webhook_signature(key, 16, "msg_1", 1700000000, "{}");
    char *b = cs_webhook_signature(key, 16, "msg_1", 1700000001, "{}");
    assert_int_equal(strncmp(a, "v1,", 3), 0);
    assert_int_equal(strlen(a), 3 + 44); /* base64 of 32 bytes */
    assert_string_not_equal(a, b);       /* the timestamp is signed */
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_documented_example),
        cmocka_unit_test(test_replay_memory),
        cmocka_unit_test(test_payload_parser),
        cmocka_unit_test(test_routes_and_events),
        cmocka_unit_test(test_slack_message_escapes),
        cmocka_unit_test(test_webhook_signature_shape),
        cmocka_unit_test(test_slack_message_long_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
