/* helpers.h - shared helpers for the policy tests: build a set from text and evaluate. */
#ifndef CS_TESTS_POLICY_HELPERS_H
#define CS_TESTS_POLICY_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static inline cs_policy_set *set_from(const char *text, const char *entities)
{
    cs_policy_set *set = NULL;
    cs_policy_diags d;
    cs_policy_diags_init(&d);
    int rc = cs_policy_set_parse(text, strlen(text), "test.cedar", entities, &set, &d);
    if (rc < 0)
        for (size_t i = 0; i < d.n; i++)
            fprintf(stderr, "%s:%d:%d: %s\n", d.items[i].file, d.items[i].line, d.items[i].col, d.items[i].msg);
    cs_policy_diags_free(&d);
    assert_int_equal(rc, 0);
    return set;
}

/* First diagnostic as "line:col: msg", or "" when the text parses. */
static inline char *parse_error(const char *text)
{
    cs_policy_set *set = NULL;
    cs_policy_diags d;
    cs_policy_diags_init(&d);
    static char buf[600];
    buf[0] = '\0';
    if (cs_policy_set_parse(text, strlen(text), "t.cedar", NULL, &set, &d) < 0 && d.n > 0)
        snprintf(buf, sizeof buf, "%d:%d: %s", d.items[0].line, d.items[0].col, d.items[0].msg);
    cs_policy_diags_free(&d);
    cs_policy_set_release(set);
    return buf;
}

/* Verdict of the single policy in `policy` for a request with the given context JSON. */
static inline int verdict_ctx(const char *policy, const char *entities, const char *principal,
                              const char *action, const char *resource, const char *context)
{
    cs_policy_set *set = set_from(policy, entities);
    char *pt, *pi, *at, *ai, *rt, *ri;
    assert_int_equal(cs_uid_parse(principal, &pt, &pi, NULL), 0);
    assert_int_equal(cs_uid_parse(action, &at, &ai, NULL), 0);
    assert_int_equal(cs_uid_parse(resource, &rt, &ri, NULL), 0);
    json_t *ctx = context ? json_loads(context, 0, NULL) : NULL;
    cs_policy_request req = {.principal = {pt, pi}, .action = {at, ai}, .resource = {rt, ri}, .context = ctx};
    int v[8] = {0};
    assert_true(cs_policy_set_count(set) <= 8);
    assert_int_equal(cs_policy_eval_each(set, &req, v, NULL), 0);
    free(pt), free(pi), free(at), free(ai), free(rt), free(ri);
    json_decref(ctx);
    cs_policy_set_release(set);
    return v[0];
}

#define T CS_VERDICT_TRUE
#define F CS_VERDICT_FALSE
#define E CS_VERDICT_ERROR

/* Verdict of `permit(principal, action, resource) when { COND };` with context CTX. */
static inline int cond(const char *c, const char *ctx)
{
    char policy[4096];
    snprintf(policy, sizeof policy, "permit(principal, action, resource) when { %s };", c);
    return verdict_ctx(policy,
                       "[{\"uid\":{\"type\":\"User\",\"id\":\"alice\"},\"attrs\":{\"age\":30,\"name\":\"Alice\","
                       "\"manager\":{\"__entity\":{\"type\":\"User\",\"id\":\"bob\"}},\"addr\":{\"city\":\"Paris\"}},"
                       "\"parents\":[{\"type\":\"Group\",\"id\":\"dba\"}],\"tags\":{\"env\":\"prod\"}},"
                       "{\"uid\":{\"type\":\"Group\",\"id\":\"dba\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"staff\"}]},"
                       "{\"uid\":{\"type\":\"Resource\",\"id\":\"prod\"},\"attrs\":{\"tier\":1},\"parents\":[{\"type\":\"Zone\",\"id\":\"eu\"}]}]",
                       "User::\"alice\"", "Action::\"db.read\"", "Resource::\"prod/db/customers\"", ctx);
}

#endif
