/* test_audit_export.c - evidence export formatting: RFC 4180 quoting, OCSF classes and
 * profiles per event, the controls table, time parsing of since/until. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "audit/audit_export.h"

static const char entry_fmt[] =
    "{\"action_id\":\"act_1\",\"actor\":{\"kind\":\"user\",\"name\":\"bob\"},"
    "\"details\":{\"status\":\"%s\",\"reason\":\"a \\\"quoted\\\", comma\\nline\"},"
    "\"event\":\"%s\",\"index\":7,\"source\":\"api:10.0.0.1\","
    "\"time\":\"2026-11-21T03:00:00.123Z\",\"v\":1}";

static json_t *record(cs_audit_format f, const char *event, const char *status, cs_buf *b)
{
    char e[1024];
    cs_err err = {0};
    snprintf(e, sizeof e, entry_fmt, status, event);
    cs_buf_reset(b);
    assert_int_equal(cs_audit_export_record(f, 7, e, strlen(e), b, &err), 0);
    assert_true(b->len > 0 && b->data[b->len - 1] == '\n');
    return f == CS_AUDIT_CSV ? NULL : json_loads(b->data, 0, NULL);
}

static void test_csv_quoting(void **state)
{
    cs_buf b;
    cs_buf_init(&b, 1 << 20);
    assert_int_equal(cs_audit_export_begin(CS_AUDIT_CSV, &b), 0);
    assert_string_equal(
        b.data, "index,time,event,actor_kind,actor_name,source,action_id,status,soc2,iso27001_2022,"
                "nist_800_53,details\r\n");
    record(CS_AUDIT_CSV, "action.vote", "pending", &b);
    /* The details field holds a quote, a comma and a newline: quoted, quotes doubled. */
    assert_non_null(strstr(b.data, "\"{\"\"reason\"\":\"\"a \\\"\"quoted\\\"\", "
                                   "comma\\nline\"\",\"\"status\"\":\"\"pending\"\"}\"\r\n"));
    assert_non_null(strstr(
        b.data, "7,2026-11-21T03:00:00.123Z,action.vote,user,bob,api:10.0.0.1,act_1,pending,"));
    cs_err err = {0};
    assert_int_equal(cs_audit_export_record(CS_AUDIT_CSV, 1, "[1]", 3, &b, &err), CS_EPARSE);
    assert_int_equal(cs_audit_export_record(CS_AUDIT_JSONL, 1, "{", 1, &b, &err), CS_EPARSE);
    cs_buf_free(&b);
}

static void test_ocsf_classes(void **state)
{
    static const struct {
        const char *event, *status;
        int cls, activity, disposition;
    } cases[] = {
        {"action.submitted", "allowed", 6003, 1, 1},
        {"action.submitted", "denied", 6003, 1, 2},
        {"action.vote", "approved", 6003, 3, 1},
        {"action.vote_refused", "pending", 6003, 3, 2},
        {"token.created", "", 3001, 1, -1},
        {"token.revoked", "", 3001, 6, -1},
        {"receipt.refused", "", 2004, 1, -1},
        {"server.started", "", 6002, 3, -1},
        {"freeze.set", "", 3001, 9, -1},
    };
    cs_buf b;
    cs_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = record(CS_AUDIT_OCSF, cases[i].event, cases[i].status, &b);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), cases[i].cls);
        assert_int_equal(json_integer_value(json_object_get(o, "activity_id")), cases[i].activity);
        assert_int_equal(json_integer_value(json_object_get(o, "type_uid")),
                         cases[i].cls * 100 + cases[i].activity);
        assert_int_equal(json_integer_value(json_object_get(o, "time")), 1795230000123LL);
        json_t *md = json_object_get(o, "metadata");
        assert_int_equal(json_integer_value(json_object_get(md, "sequence")), 7);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(o, "src_endpoint"), "ip")),
            "10.0.0.1");
        if (cases[i].disposition >= 0) {
            assert_string_equal(
                json_string_value(json_array_get(json_object_get(md, "profiles"), 0)),
                "security_control");
            assert_int_equal(json_integer_value(json_object_get(o, "disposition_id")),
                             cases[i].disposition);
        }
        assert_non_null(json_object_get(json_object_get(json_object_get(o, "unmapped"), "controls"),
                                        "nist_800_53"));
        json_decref(o);
    }
    cs_buf_free(&b);
}

static int has(const char *const *ids, const char *id)
{
    for (; *ids; ids++)
        if (!strcmp(*ids, id)) return 1;
    return 0;
}

static void test_controls(void **state)
{
    cs_audit_controls c;
    cs_audit_controls_for("action.vote", &c);
    assert_true(has(c.nist, "AC-5") && has(c.nist, "AC-3(2)") && has(c.soc2, "CC6.3") &&
                has(c.iso27001, "A.5.3"));
    cs_audit_controls_for("policy.loaded", &c);
    assert_true(has(c.nist, "CM-3") && has(c.iso27001, "A.8.32") && has(c.soc2, "CC8.1"));
    cs_audit_controls_for("token.revoked", &c);
    assert_true(has(c.soc2, "CC6.1") && has(c.nist, "AC-5"));
    /* Every event, even an unknown one, evidences the log's own protection. */
    static const char *const events[] = {"action.submitted",
                                         "action.expired",
                                         "receipt.consumed",
                                         "server.stopped",
                                         "freeze.cleared",
                                         "something.new",
                                         NULL};
    for (int i = 0; events[i]; i++) {
        cs_audit_controls_for(events[i], &c);
        assert_true(has(c.nist, "AU-9"));
        assert_true(has(c.iso27001, "A.8.15"));
    }
    json_t *o;
    cs_buf b;
    cs_buf_init(&b, 1 << 20);
    o = record(CS_AUDIT_JSONL, "action.vote", "pending", &b);
    assert_int_equal(json_integer_value(json_object_get(o, "index")), 7);
    assert_true(json_array_size(json_object_get(json_object_get(o, "controls"), "soc2")) == 3);
    json_decref(o);
    cs_buf_free(&b);
}

static void test_time_parse(void **state)
{
    long long ms = 0;
    assert_int_equal(cs_audit_time_parse("2026-11-21", &ms), 0);
    assert_int_equal(ms, 1795219200000LL);
    assert_int_equal(cs_audit_time_parse("2026-11-21T03:00:00Z", &ms), 0);
    assert_int_equal(ms, 1795230000000LL);
    assert_int_equal(cs_audit_time_parse("2026-11-21T03:00:00.5Z", &ms), 0);
    assert_int_equal(ms, 1795230000500LL);
    assert_int_equal(cs_audit_time_parse("1795230000123", &ms), 0);
    assert_int_equal(ms, 1795230000123LL);
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "2026-11-21T03:00:00",
                                      "2026-11-21T03:00:00+01:00",
                                      "2026-11-21T03:00:00.Z",
                                      "2026-11-21 03:00:00Z",
                                      "2026-13-01",
                                      NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(cs_audit_time_parse(bad[i], &ms), CS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting), cmocka_unit_test(test_ocsf_classes),
        cmocka_unit_test(test_controls), cmocka_unit_test(test_time_parse)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
