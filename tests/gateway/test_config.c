/* test_config.c - countersign.yaml: defaults, durations, relative paths, and
 * errors naming file:line for unknown keys and bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char path[] = "/tmp/cs-config-XXXXXX";

static int load_text(const char *text, cs_config *c, cs_err *err)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = cs_config_load(path, c, err);
    unlink(path);
    strcpy(path, "/tmp/cs-config-XXXXXX");
    return rc;
}

static void test_good(void **state)
{
    cs_config c;
    cs_err err = {0};
    assert_int_equal(
        load_text("listen: 127.0.0.1:9999\npolicy_dir: pol\napprovals:\n  default_timeout: 30m\n"
                  "  hold_budget: 45s\nnotify:\n  slack:\n    bot_token_env: SLACK_BOT_TOKEN\n"
                  "  teams:\n    webhooks: { dba: TEAMS_DBA }\n  webhooks:\n"
                  "    - { name: siem, url: https://x/hook, secret_env: SIEM_SECRET }\n"
                  "  routes:\n    dba: [ \"slack:#db\", \"teams:dba\" ]\n",
                  &c, &err),
        0);
    assert_string_equal(c.listen, "127.0.0.1:9999");
    assert_int_equal(c.default_timeout_s, 1800);
    assert_int_equal(c.hold_budget_s, 45);
    assert_string_equal(c.policy_dir, "/tmp/pol");
    assert_string_equal(c.database, "/tmp/countersign.db");
    assert_string_equal(c.slack_bot_token_env, "SLACK_BOT_TOKEN");
    cs_config_free(&c);
}

static void test_errors(void **state)
{
    cs_config c;
    cs_err err = {0};
    assert_int_not_equal(load_text("listen: a:1\napprovals:\n  default_timout: 15m\n", &c, &err),
                         0);
    assert_non_null(strstr(err.msg, ":3: unknown key 'approvals.default_timout'"));
    assert_int_not_equal(load_text("approvals:\n  default_timeout: soon\n", &c, &err), 0);
    assert_non_null(strstr(err.msg, ":2: approvals.default_timeout must be a duration"));
    assert_int_not_equal(
        load_text("notify:\n  slack:\n    bot_token_env: xoxb-secret-value\n", &c, &err), 0);
    assert_non_null(strstr(err.msg, ":3:"));
    assert_int_not_equal(load_text("storage: mysql\n", &c, &err), 0);
    assert_int_not_equal(load_text("listen: [unclosed\n", &c, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
