/* test_policy_decide.c - the three-outcome combination (forbid > approval > permit >
 * default deny), approval requirements, explanations, request entities (groups, owner),
 * and the scope index agreeing with evaluating every policy. */
#include "helpers.h"

#include "util/alloc.h"

#include <unistd.h>

static const char *demo =
    "@id(\"reads\") permit(principal, action in [Action::\"db.read\"], resource);\n"
    "@id(\"export-needs-dba\") @approval(\"dba\") @quorum(\"2\") @timeout(\"30m\") @notify(\"slack:#db\")\n"
    "@reason(\"Exports need two DBAs\")\n"
    "permit(principal, action == Action::\"db.export\", resource in Resource::\"prod\");\n"
    "@id(\"export-sec\") @approval(\"sec, ciso\")\n"
    "permit(principal, action == Action::\"db.export\", resource in Resource::\"prod/db/pii\");\n"
    "@id(\"no-iam\") @reason(\"IAM in prod is forbidden\")\n"
    "forbid(principal, action == Action::\"iam.role.update\", resource in Resource::\"prod\");\n"
    "@id(\"iam-ok\") permit(principal, action == Action::\"iam.role.update\", resource);\n"
    "@id(\"owner-only\") permit(principal is Agent, action == Action::\"deploy.apply\", resource)\n"
    "  when { principal.owner == User::\"alice\" && principal in Group::\"deployers\" };\n"
    "@id(\"broken\") permit(principal, action == Action::\"deploy.apply\", resource) when { context.x > 1 };\n";

static void decide(const cs_policy_set *set, const char *ptype, const char *pid, const char *action,
                   const char *resource, const char **groups, size_t ng, const char *attrs, cs_decision *d)
{
    json_t *ja = attrs ? json_loads(attrs, 0, NULL) : NULL;
    cs_policy_request req = {.principal = {ptype, pid}, .action = {"Action", action}, .resource = {"Resource", resource},
                             .principal_groups = groups, .n_principal_groups = ng, .principal_attrs = ja};
    cs_err err = {0};
    assert_int_equal(cs_policy_decide(set, &req, d, &err), 0);
    json_decref(ja);
}

static void three_outcomes(void **state)
{
    (void)state;
    cs_policy_set *set = set_from(demo, NULL);
    cs_decision d;

    decide(set, "Agent", "a", "db.read", "prod/db/x", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_ALLOW);
    assert_int_equal(d.n_determining, 1);
    assert_string_equal(d.determining[0].id, "reads");
    assert_non_null(strstr(d.explanation, "Allowed by policy 'reads'"));
    cs_decision_free(&d);

    decide(set, "Agent", "a", "db.export", "prod/db/customers", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_PENDING);
    assert_int_equal(d.n_approvals, 1);
    assert_string_equal(d.approvals[0].policy_id, "export-needs-dba");
    assert_int_equal(d.approvals[0].quorum, 2);
    assert_int_equal(d.approvals[0].timeout_s, 1800);
    assert_string_equal(d.approvals[0].groups[0], "dba");
    assert_string_equal(d.approvals[0].notify, "slack:#db");
    assert_string_equal(d.approvals[0].reason, "Exports need two DBAs");
    assert_non_null(strstr(d.explanation, "requires 2 approvals from dba (Exports need two DBAs)"));
    cs_decision_free(&d);

    /* Two approval policies: both must be met. */
    decide(set, "Agent", "a", "db.export", "prod/db/pii/t", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_PENDING);
    assert_int_equal(d.n_approvals, 2);
    assert_string_equal(d.approvals[1].policy_id, "export-sec");
    assert_int_equal(d.approvals[1].n_groups, 2);
    assert_string_equal(d.approvals[1].groups[1], "ciso");
    assert_int_equal(d.approvals[1].quorum, 1);
    assert_int_equal(d.approvals[1].timeout_s, -1);
    cs_decision_free(&d);

    /* forbid beats permit. */
    decide(set, "User", "root", "iam.role.update", "prod/iam", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_DENY);
    assert_int_equal(d.n_satisfied, 2);
    assert_int_equal(d.n_determining, 1);
    assert_string_equal(d.determining[0].id, "no-iam");
    assert_non_null(strstr(d.explanation, "Denied by forbid policy 'no-iam' (IAM in prod is forbidden)"));
    cs_decision_free(&d);
    decide(set, "User", "root", "iam.role.update", "staging/iam", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_ALLOW);
    cs_decision_free(&d);

    /* default deny, with the erroring policy named. */
    decide(set, "Agent", "a", "deploy.apply", "prod/web", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_DENY);
    assert_int_equal(d.n_determining, 0);
    assert_int_equal(d.n_errors, 2);
    assert_non_null(strstr(d.explanation, "default deny"));
    assert_non_null(strstr(d.explanation, "'broken'"));
    cs_decision_free(&d);
    cs_policy_set_release(set);
}

static void request_entities_groups_and_owner(void **state)
{
    (void)state;
    cs_policy_set *set = set_from(demo, NULL);
    cs_decision d;
    const char *groups[] = {"deployers"};
    decide(set, "Agent", "bot", "deploy.apply", "prod/web", groups, 1,
           "{\"owner\": {\"__entity\": {\"type\": \"User\", \"id\": \"alice\"}}}", &d);
    assert_int_equal(d.kind, CS_DECISION_ALLOW);
    assert_string_equal(d.determining[0].id, "owner-only");
    cs_decision_free(&d);
    decide(set, "Agent", "bot", "deploy.apply", "prod/web", groups, 1,
           "{\"owner\": {\"__entity\": {\"type\": \"User\", \"id\": \"mallory\"}}}", &d);
    assert_int_equal(d.kind, CS_DECISION_DENY);
    cs_decision_free(&d);
    cs_policy_set_release(set);
}

static void decision_json(void **state)
{
    (void)state;
    cs_policy_set *set = set_from(demo, NULL);
    cs_decision d;
    decide(set, "Agent", "a", "db.export", "prod/db/customers", NULL, 0, NULL, &d);
    json_t *j = cs_decision_to_json(&d, set);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "pending");
    assert_string_equal(json_string_value(json_object_get(j, "policy_version")), cs_policy_set_version(set));
    json_t *ap = json_array_get(json_object_get(j, "approvals"), 0);
    assert_int_equal(json_integer_value(json_object_get(ap, "quorum")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(ap, "groups"), 0)), "dba");
    json_decref(j);
    cs_decision_free(&d);
    cs_policy_set_release(set);
}

/* A decision lives in its own arena (cs_decision.mem): every list and string must be
 * complete and in place, whatever the mix of satisfied, approval and erroring policies. */
static void decision_holds_every_part(void **state)
{
    (void)state;
    cs_policy_set *set = set_from(
        "@id(\"a1\") @approval(\"dba, security ,oncall\") @quorum(\"3\") @notify(\"slack:#a\") @reason(\"first\")\n"
        "permit(principal, action, resource in Resource::\"prod\");\n"
        "@id(\"p\") permit(principal, action, resource);\n"
        "@id(\"e1\") permit(principal, action, resource) when { context.missing };\n"
        "@id(\"a2\") @approval(\"x\") permit(principal, action == Action::\"db.export\", resource);\n"
        "@id(\"e2\") forbid(principal, action, resource) when { 1 + \"s\" == 2 };\n",
        NULL);
    cs_decision d;
    decide(set, "User", "u", "db.export", "prod/db", NULL, 0, NULL, &d);
    assert_non_null(d.mem.head);
    assert_int_equal(d.kind, CS_DECISION_PENDING);
    assert_int_equal(d.n_satisfied, 3);
    assert_string_equal(d.satisfied[0].id, "a1");
    assert_string_equal(d.satisfied[0].reason, "first");
    assert_true(d.satisfied[0].approval);
    assert_string_equal(d.satisfied[1].id, "p");
    assert_null(d.satisfied[1].reason);
    assert_string_equal(d.satisfied[2].id, "a2");
    assert_int_equal(d.n_determining, 2);
    assert_string_equal(d.determining[1].id, "a2");
    assert_int_equal(d.n_approvals, 2);
    assert_int_equal(d.approvals[0].n_groups, 3);
    assert_string_equal(d.approvals[0].groups[0], "dba");
    assert_string_equal(d.approvals[0].groups[1], "security");
    assert_string_equal(d.approvals[0].groups[2], "oncall");
    assert_int_equal(d.approvals[0].quorum, 3);
    assert_string_equal(d.approvals[0].notify, "slack:#a");
    assert_string_equal(d.approvals[1].policy_id, "a2");
    assert_string_equal(d.approvals[1].groups[0], "x");
    assert_null(d.approvals[1].notify);
    assert_null(d.approvals[1].reason);
    assert_int_equal(d.n_errors, 2);
    assert_string_equal(d.errors[0].id, "e1");
    assert_non_null(strstr(d.errors[0].msg, "missing"));
    assert_string_equal(d.errors[1].id, "e2");
    assert_string_equal(d.explanation,
                        "Needs approval: policy 'a1' requires 3 approvals from dba, security or oncall (first). "
                        "Needs approval: policy 'a2' requires 1 approval from x. "
                        "Policy 'e1' was ignored because it failed to evaluate: attribute \"missing\" does not exist. "
                        "Policy 'e2' was ignored because it failed to evaluate: type error: + expects Long, got String.");
    cs_decision_free(&d);
    assert_null(d.mem.head);
    assert_int_equal(d.n_satisfied, 0);
    cs_decision_free(&d); /* freeing twice is harmless: the first cleared it */

    decide(set, "User", "u", "db.read", "staging/x", NULL, 0, NULL, &d);
    assert_int_equal(d.kind, CS_DECISION_ALLOW);
    assert_null(d.approvals);
    assert_string_equal(d.explanation,
                        "Allowed by policy 'p'. Policy 'e1' was ignored because it failed to evaluate: attribute "
                        "\"missing\" does not exist. Policy 'e2' was ignored because it failed to evaluate: type "
                        "error: + expects Long, got String.");
    cs_decision_free(&d);
    cs_policy_set_release(set);

    /* A decision assembled by hand allocates its parts in its arena, and is freed the same way. */
    cs_decision h = {.kind = CS_DECISION_ALLOW, .n_satisfied = 1};
    cs_arena_init(&h.mem, 0);
    h.explanation = cs_arena_strndup(&h.mem, "x", 1);
    h.satisfied = cs_arena_alloc(&h.mem, sizeof *h.satisfied);
    h.satisfied[0].id = cs_arena_strndup(&h.mem, "hand", 4);
    cs_decision_free(&h);
    assert_null(h.satisfied);
}

static void version_tracks_content(void **state)
{
    (void)state;
    cs_policy_set *a = set_from("permit(principal, action, resource);", NULL);
    cs_policy_set *b = set_from("permit(principal, action, resource);", NULL);
    cs_policy_set *c = set_from("forbid(principal, action, resource);", NULL);
    assert_string_equal(cs_policy_set_version(a), cs_policy_set_version(b));
    assert_string_not_equal(cs_policy_set_version(a), cs_policy_set_version(c));
    assert_int_equal(strlen(cs_policy_set_version(a)), 7 + 64);
    cs_policy_set *r = cs_policy_set_retain(a);
    cs_policy_set_release(a);
    assert_string_equal(cs_policy_set_id(r, 0), "policy0");
    cs_policy_set_release(r);
    cs_policy_set_release(b);
    cs_policy_set_release(c);
}

/* The index is an optimisation: every decision must equal a scan of every policy. */
static void index_agrees_with_full_scan(void **state)
{
    (void)state;
    static const char *actions[] = {"db.read", "db.export", "db.write", "iam.role.update", "deploy.apply", "mcp.call"};
    static const char *resources[] = {"prod", "prod/db", "prod/db/customers", "prod/web", "staging", "staging/db/x", "dev/a"};
    char *text = cs_strdup("");
    unsigned seed = 12345;
    for (int i = 0; i < 400; i++) {
        seed = seed * 1103515245 + 12345;
        const char *a = actions[(seed >> 8) % 6], *a2 = actions[(seed >> 12) % 6];
        const char *r = resources[(seed >> 16) % 7];
        const char *eff = (seed >> 20) % 5 == 0 ? "forbid" : "permit";
        char *p;
        switch ((seed >> 24) % 8) {
        case 0: p = cs_sprintf("%s(principal, action == Action::\"%s\", resource in Resource::\"%s\");", eff, a, r); break;
        case 1: p = cs_sprintf("%s(principal, action in [Action::\"%s\", Action::\"%s\"], resource == Resource::\"%s\");", eff, a, a2, r); break;
        case 2: p = cs_sprintf("%s(principal in Group::\"g%u\", action, resource in Resource::\"%s\");", eff, seed % 3, r); break;
        case 3: p = cs_sprintf("%s(principal, action == Action::\"%s\", resource) when { context.n > %u };", eff, a, seed % 10); break;
        case 4: p = cs_sprintf("%s(principal, action in Action::\"all\", resource is Resource);", eff); break;
        case 5: p = cs_sprintf("%s(principal == User::\"p\", action in [Action::\"%s\", Action::\"%s\"], resource);", eff, a, a); break;
        case 6: p = cs_sprintf("%s(principal is User in Group::\"g%u\", action == Action::\"all\", resource in Resource::\"%s\");", eff, seed % 3, r); break;
        default: p = cs_sprintf("%s(principal is Agent, action, resource) when { resource in Resource::\"%s\" };", eff, r); break;
        }
        char *t = cs_sprintf("%s%s\n", text, p);
        free(text);
        free(p);
        text = t;
    }
    /* User::"p" is in the store (its keys are computed at load); Agent::"p" is not. */
    cs_policy_set *set = set_from(text, "[{\"uid\":{\"type\":\"User\",\"id\":\"p\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"g0\"}]},"
                                        "{\"uid\":{\"type\":\"Resource\",\"id\":\"prod/db\"},\"attrs\":{},\"parents\":[{\"type\":\"Resource\",\"id\":\"dev/a\"}]},"
                                        "{\"uid\":{\"type\":\"Action\",\"id\":\"db.read\"},\"attrs\":{},\"parents\":[{\"type\":\"Action\",\"id\":\"all\"}]},"
                                        "{\"uid\":{\"type\":\"Action\",\"id\":\"mcp.call\"},\"attrs\":{},\"parents\":[{\"type\":\"Action\",\"id\":\"all\"}]}]");
    free(text);
    size_t n = cs_policy_set_count(set);
    int *v = cs_malloc(n * sizeof *v);
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245 + 12345;
        const char *groups[] = {(seed >> 4) % 2 ? "g1" : "g2"};
        char ctx[32];
        snprintf(ctx, sizeof ctx, "{\"n\": %u}", (seed >> 6) % 12);
        json_t *jc = (seed >> 9) % 4 ? json_loads(ctx, 0, NULL) : json_object();
        cs_policy_request req = {.principal = {(seed >> 10) % 2 ? "Agent" : "User", "p"},
                                 .action = {"Action", actions[(seed >> 12) % 6]},
                                 .resource = {"Resource", resources[(seed >> 16) % 7]},
                                 .principal_groups = groups, .n_principal_groups = (seed >> 14) % 3 ? 1 : 0,
                                 .context = jc};
        cs_decision d;
        assert_int_equal(cs_policy_decide(set, &req, &d, NULL), 0);
        assert_int_equal(cs_policy_eval_each(set, &req, v, NULL), 0);
        size_t n_true = 0, n_err = 0, k = 0;
        for (size_t j = 0; j < n; j++) {
            if (v[j] == CS_VERDICT_TRUE) {
                assert_true(k < d.n_satisfied);
                assert_string_equal(d.satisfied[k].id, cs_policy_set_id(set, j));
                k++;
                n_true++;
            }
            n_err += v[j] == CS_VERDICT_ERROR;
        }
        assert_int_equal(n_true, d.n_satisfied);
        assert_int_equal(n_err, d.n_errors);
        cs_decision_free(&d);
        json_decref(jc);
    }
    free(v);
    cs_policy_set_release(set);
}

static void load_dir_and_entities_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/cs-policy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *a = cs_sprintf("%s/a.cedar", dir), *e = cs_sprintf("%s/entities.json", dir);
    FILE *f = fopen(a, "w");
    fputs("permit(principal in Group::\"g\", action, resource);", f);
    fclose(f);
    f = fopen(e, "w");
    fputs("[{\"uid\":{\"type\":\"User\",\"id\":\"u\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]}]", f);
    fclose(f);
    cs_policy_set *set = NULL;
    assert_int_equal(cs_policy_set_load_dir(dir, &set, NULL), 0);
    cs_policy_request req = {.principal = {"User", "u"}, .action = {"Action", "x"}, .resource = {"Resource", "r"}};
    cs_decision d;
    assert_int_equal(cs_policy_decide(set, &req, &d, NULL), 0);
    assert_int_equal(d.kind, CS_DECISION_ALLOW);
    cs_decision_free(&d);
    cs_policy_set_release(set);

    const char *bad[] = {
        "{}", "[1]", "[{\"uid\":{\"type\":\"User\"}}]", "[{\"uid\":{\"type\":\"User\",\"id\":\"u\"},\"attrs\":{}}]", "[{\"uid\":{\"type\":\"A B\",\"id\":\"u\"},\"attrs\":{},\"parents\":[]}]",
        "[{\"uid\":{\"type\":\"Group\",\"id\":\"a\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"a\"}]}]",
        "[{\"uid\":{\"type\":\"Action\",\"id\":\"a\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]}]",
        "[{\"uid\":{\"type\":\"User\",\"id\":\"u\"}},{\"uid\":{\"type\":\"User\",\"id\":\"u\"}}]",
        "[{\"uid\":{\"type\":\"User\",\"id\":\"u\"},\"attrs\":{\"x\":1.5}}]",
        "[{\"uid\":{\"type\":\"User\",\"id\":\"u\"},\"attrs\":{\"x\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"nope\"}}}}]",
        "[{\"uid\":{\"type\":\"User\",\"id\":\"u\"},\"parents\":{}}]", "[{\"uid\"", "[{\"a\":1,\"a\":2}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(e, "w");
        fputs(bad[i], f);
        fclose(f);
        cs_policy_diags diags;
        cs_policy_diags_init(&diags);
        set = NULL;
        if (cs_policy_set_load_dir(dir, &set, &diags) == 0) fail_msg("entities %s should be refused", bad[i]);
        assert_true(diags.n >= 1);
        assert_non_null(strstr(diags.items[0].file, "entities.json"));
        cs_policy_diags_free(&diags);
    }
    unlink(a);
    unlink(e);
    rmdir(dir);
    free(a);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_outcomes),         cmocka_unit_test(request_entities_groups_and_owner),
        cmocka_unit_test(decision_json),          cmocka_unit_test(decision_holds_every_part),
        cmocka_unit_test(version_tracks_content),
        cmocka_unit_test(index_agrees_with_full_scan), cmocka_unit_test(load_dir_and_entities_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
