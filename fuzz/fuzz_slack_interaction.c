/* fuzz_slack_interaction.c - libFuzzer target: arbitrary bytes as the body of a Slack
 * interaction (form-urlencoded, `payload=` JSON), through the parser that runs after
 * the signature check, and through the signature check itself with headers cut
 * from the input. */
#include "notify/notify_int.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_slack_interaction in;
    cs_err err = {0};
    if (cs_slack_interaction_parse((const char *)data, size, &in, &err) == 0) {
        /* What the parser hands on must be bounded, terminated text. */
        if (strlen(in.user_id) > CS_SLACK_ID_MAX || strlen(in.action_id) > CS_SLACK_ID_MAX ||
            strlen(in.reason) > CS_SLACK_REASON_MAX)
            __builtin_trap();
    }
    char ts[16] = {0}, sig[80] = {0};
    size_t a = size < sizeof ts - 1 ? size : sizeof ts - 1;
    memcpy(ts, data, a);
    size_t b = size - a < sizeof sig - 1 ? size - a : sizeof sig - 1;
    memcpy(sig, data + a, b);
    (void)cs_slack_verify("fuzz-secret", ts, sig, (const char *)data, size, 1531420618);
    return 0;
}
