/* fuzz_policy_request.c - libFuzzer target: arbitrary bytes as a request document
 * {"ptype": "<type>", "principal": "<id>", "groups": [...], "resource": "<path>",
 * "action": "<verb>", "attrs": {...}, "context": {...}} decided against a fixed policy
 * set. "ptype" is the principal's entity type (default "User"; "Agent" reaches the
 * `principal is Agent` policy); a missing or non-string field takes its default. The
 * context and attributes go through the JSON conversion a request takes; the decision
 * (scope index, its arena) must agree with evaluating every policy without the index. */
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *policies =
    "@id(\"ctx\") permit(principal, action, resource) when { context has n && context.n > 3 };\n"
    "@id(\"ip\") forbid(principal, action in Action::\"all\", resource in Resource::\"prod\")\n"
    "  unless { context.src.isInRange(ip(\"10.0.0.0/8\")) };\n"
    "@id(\"set\") @approval(\"dba, ops\") @quorum(\"2\") @notify(\"slack:#x\") @reason(\"r\")\n"
    "permit(principal in Group::\"dba\", action == Action::\"db.export\", resource)\n"
    "  when { [\"a\", \"b\", \"a\"].contains(context.kind) };\n"
    "@id(\"owner\") permit(principal is Agent, action in [Action::\"db.read\", Action::\"db.read\"], resource)\n"
    "  when { principal.owner == User::\"alice\" && context.rec == {x: [1, 2], y: \"z\"} };\n"
    "@id(\"eq\") permit(principal == User::\"u\", action, resource == Resource::\"prod/db\");\n"
    "@id(\"dec\") permit(principal, action, resource in Resource::\"dev\")\n"
    "  when { context.d.lessThan(decimal(\"1.5\")) };\n";

static const char *entities =
    "[{\"uid\":{\"type\":\"User\",\"id\":\"u\"},\"attrs\":{\"age\":3},\"parents\":[{\"type\":\"Group\",\"id\":\"dba\"}]},"
    "{\"uid\":{\"type\":\"Action\",\"id\":\"db.export\"},\"attrs\":{},\"parents\":[{\"type\":\"Action\",\"id\":\"all\"}]},"
    "{\"uid\":{\"type\":\"Resource\",\"id\":\"prod/db\"},\"attrs\":{},\"parents\":[{\"type\":\"Resource\",\"id\":\"dev\"}]}]";

static cs_policy_set *set;

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (set == NULL && cs_policy_set_parse(policies, strlen(policies), "fuzz.cedar", entities, &set, NULL) != 0)
        abort();
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (doc == NULL) return 0;
    json_t *groups = json_object_get(doc, "groups");
    const char *gv[8];
    size_t ng = 0;
    for (size_t i = 0; i < json_array_size(groups) && ng < 8; i++)
        if (json_is_string(json_array_get(groups, i))) gv[ng++] = json_string_value(json_array_get(groups, i));
    cs_policy_request req = {
        .principal = {str_or(doc, "ptype", "User"), str_or(doc, "principal", "u")},
        .action = {"Action", str_or(doc, "action", "db.export")},
        .resource = {"Resource", str_or(doc, "resource", "prod/db")},
        .principal_groups = gv,
        .n_principal_groups = ng,
        .principal_attrs = json_object_get(doc, "attrs"),
        .context = json_object_get(doc, "context"),
    };
    size_t n = cs_policy_set_count(set);
    int verdicts[16];
    cs_decision d;
    int rc_each = cs_policy_eval_each(set, &req, verdicts, NULL);
    int rc = cs_policy_decide(set, &req, &d, NULL);
    if ((rc == 0) != (rc_each == 0)) abort(); /* both refuse a bad request, or neither */
    if (rc == 0) {
        size_t k = 0, errors = 0;
        for (size_t i = 0; i < n; i++) {
            if (verdicts[i] == CS_VERDICT_ERROR) errors++;
            if (verdicts[i] != CS_VERDICT_TRUE) continue;
            if (k >= d.n_satisfied || strcmp(d.satisfied[k].id, cs_policy_set_id(set, i)) != 0) abort();
            k++;
        }
        if (k != d.n_satisfied || errors != d.n_errors || d.explanation == NULL) abort();
        json_decref(cs_decision_to_json(&d, set));
        cs_decision_free(&d);
    }
    json_decref(doc);
    return 0;
}
