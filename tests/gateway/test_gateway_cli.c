/* test_gateway_cli.c - the CLI verbs against a real daemon: output, --json and the
 * exit codes of SPEC §4 (0 allowed/approved, 1 denied/expired/cancelled, 2 usage
 * or transport error, 3 still pending after --wait). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static void test_cli_flow(void **state)
{
    td *d = *state;
    char *out = NULL;
    const char *allowed[] = {"request", "--action", "db.read", "--resource", "prod/db/a", NULL};
    assert_int_equal(td_cli(d, "demo-agent", &out, allowed), 0);
    assert_non_null(strstr(out, "allowed"));
    free(out);
    const char *denied[] = {"request",    "--action", "iam.role.update",
                            "--resource", "prod/iam", NULL};
    assert_int_equal(td_cli(d, "demo-agent", NULL, denied), 1);
    const char *pending[] = {"request", "--action", "db.export", "--resource", "prod/db/a",
                             "--wait",  "1",        "--json",    NULL};
    assert_int_equal(td_cli(d, "demo-agent", &out, pending), 3);
    json_t *a = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(a);
    assert_string_equal(td_str(a, "status"), "pending");
    const char *id = td_str(a, "id");
    const char *show[] = {"show", id, NULL};
    assert_int_equal(td_cli(d, "bob", &out, show), 0);
    assert_non_null(strstr(out, "0 of 2 from dba"));
    free(out);
    const char *owner_vote[] = {"approve", id, NULL};
    assert_int_equal(td_cli(d, "alice", NULL, owner_vote), 1);
    const char *bob_vote[] = {"approve", id, "--reason", "looks fine", NULL};
    assert_int_equal(td_cli(d, "bob", NULL, bob_vote), 0);
    const char *carol_vote[] = {"approve", id, NULL};
    assert_int_equal(td_cli(d, "carol", &out, carol_vote), 0);
    assert_non_null(strstr(out, "approved"));
    free(out);
    const char *list[] = {"list", "--status", "approved", "--json", NULL};
    assert_int_equal(td_cli(d, "bob", &out, list), 0);
    json_t *items = json_loads(out, 0, NULL);
    free(out);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    json_decref(a);
    /* deny through the CLI: exit 0 for the voter, the action is denied */
    const char *p2[] = {"request",   "--action", "db.export", "--resource",
                        "prod/db/b", "--json",   NULL};
    assert_int_equal(td_cli(d, "demo-agent", &out, p2), 3);
    a = json_loads(out, 0, NULL);
    free(out);
    const char *deny[] = {"deny", td_str(a, "id"), "--reason", "no", NULL};
    assert_int_equal(td_cli(d, "carol", NULL, deny), 0);
    const char *show2[] = {"show", td_str(a, "id"), "--json", NULL};
    assert_int_equal(td_cli(d, "bob", &out, show2), 0);
    assert_non_null(strstr(out, "\"denied\""));
    free(out);
    json_decref(a);
}

static void test_cli_tokens_and_errors(void **state)
{
    td *d = *state;
    char *out = NULL;
    const char *create[] = {"token", "create", "--user", "dave", "--group", "ops", NULL};
    assert_int_equal(td_cli(d, "bob", NULL, create), 1); /* not an admin */
    assert_int_equal(td_cli(d, "admin", &out, create), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(strncmp(out, "cst_", 4), 0);
    json_object_set_new(d->tokens, "dave", json_string(out));
    free(out);
    const char *who[] = {"show", "act_missing", NULL};
    assert_int_equal(td_cli(d, "dave", NULL, who), 2);
    const char *usage[] = {"request", "--action", "db.read", NULL};
    assert_int_equal(td_cli(d, "dave", NULL, usage), 2);
    /* A wait past a year (or past what a long holds) is a usage error, not an
     * overflowed deadline that ends the wait at once. */
    const char *huge_wait[] = {"request",
                               "--action",
                               "db.read",
                               "--resource",
                               "prod/db/x",
                               "--wait",
                               "99999999999999999999",
                               NULL};
    assert_int_equal(td_cli(d, "demo-agent", NULL, huge_wait), 2);
    const char *year_wait[] = {"request",   "--action", "db.read",  "--resource",
                               "prod/db/x", "--wait",   "31622400", NULL};
    assert_int_equal(td_cli(d, "demo-agent", NULL, year_wait), 0); /* allowed at once */
    const char *agent_bad[] = {"token", "create", "--agent", "x", NULL};
    assert_int_equal(td_cli(d, "admin", NULL, agent_bad), 2);
    /* Text JSON cannot carry would drop out of the request (a purpose nobody sees, a
     * reason missing from the log): refused before anything is sent. */
    long before = td_audit_count(d, "action.submitted", NULL);
    const char *bad_purpose[] = {"request",   "--action",  "db.read",     "--resource",
                                 "prod/db/x", "--purpose", "export \xff", NULL};
    assert_int_equal(td_cli(d, "demo-agent", NULL, bad_purpose), 2);
    const char *bad_action[] = {"request", "--action", "db.\xc3", "--resource", "prod/db/x", NULL};
    assert_int_equal(td_cli(d, "demo-agent", NULL, bad_action), 2);
    json_t *pending = td_submit(d, "demo-agent", "db.export", "prod/db/orders");
    const char *bad_reason[] = {"deny", td_str(pending, "id"), "--reason", "\xed\xa0\x80", NULL};
    assert_int_equal(td_cli(d, "bob", NULL, bad_reason), 2);
    before++; /* the pending one */
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s", td_str(pending, "id"));
    td_resp still = td_req(d, "GET", path, "bob", NULL, NULL, NULL);
    assert_string_equal(td_str(still.json, "status"), "pending");
    td_resp_free(&still);
    json_decref(pending);
    assert_int_equal(td_audit_count(d, "action.submitted", NULL), before);
    const char *utf8_purpose[] = {"request",   "--action",  "db.read",     "--resource",
                                  "prod/db/x", "--purpose", "caf\xc3\xa9", NULL};
    assert_int_equal(td_cli(d, "demo-agent", NULL, utf8_purpose), 0);
    assert_int_equal(td_audit_count(d, "action.submitted", NULL), before + 1);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/data/countersign.yaml", d->dir);
    const char *check[] = {"serve", "--config", cfg, "--check", NULL};
    assert_int_equal(td_cli(d, NULL, NULL, check), 0);
    FILE *f = fopen(cfg, "a");
    fputs("approvals:\n  default_timout: 5m\n", f); /* a typo'd key */
    fclose(f);
    assert_int_equal(td_cli(d, NULL, NULL, check), 1);
    td_stop(d);
    const char *down[] = {"request", "--action", "db.read", "--resource", "a", NULL};
    assert_int_equal(td_cli(d, "dave", NULL, down), 2); /* transport error */
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        TD_TEST(test_cli_flow),
        TD_TEST(test_cli_tokens_and_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
