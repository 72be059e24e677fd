/* fuzz_cedar_entities.c - libFuzzer target: arbitrary bytes as entities.json, then one
 * decision against a policy that walks the hierarchy, attributes and tags. */
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *policy =
    "permit(principal in Group::\"g\", action, resource in Resource::\"prod\")"
    " when { principal has a && principal.a == resource.b && principal.hasTag(\"t\") };";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    cs_policy_set *set = NULL;
    if (cs_policy_set_parse(policy, strlen(policy), "p.cedar", text, &set, NULL) == 0) {
        cs_policy_request req = {.principal = {"User", "u"}, .action = {"Action", "a"},
                                 .resource = {"Resource", "prod/x/y"}};
        cs_decision dec;
        if (cs_policy_decide(set, &req, &dec, NULL) == 0) cs_decision_free(&dec);
        cs_policy_set_release(set);
    }
    free(text);
    return 0;
}
