/* fuzz_cedar_parse.c - libFuzzer target: arbitrary bytes as a Cedar policy file. When
 * it parses, evaluate it once so the evaluator sees what the parser accepts. */
#include "policy/policy.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_policy_set *set = NULL;
    cs_policy_diags d;
    cs_policy_diags_init(&d);
    if (cs_policy_set_parse((const char *)data, size, "fuzz.cedar", NULL, &set, &d) == 0) {
        json_t *ctx = json_pack("{s:i,s:s,s:[i,i]}", "n", 5, "s", "prod-db", "l", 1, 2);
        cs_policy_request req = {.principal = {"User", "alice"}, .action = {"Action", "db.read"},
                                 .resource = {"Resource", "prod/db/x"}, .context = ctx};
        cs_decision dec;
        if (cs_policy_decide(set, &req, &dec, NULL) == 0) cs_decision_free(&dec);
        json_decref(ctx);
        cs_policy_set_release(set);
    }
    cs_policy_diags_free(&d);
    return 0;
}
