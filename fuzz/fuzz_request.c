/* fuzz_request.c - libFuzzer target: arbitrary bytes as the JSON body of an API write
 * (submit, approve, deny, cancel, outcome, receipt consume, rollback; the first byte
 * picks which), parsed as the HTTP layer parses bodies and run through the gateway's
 * whole validation and decision step (field checks, context limits, hashing, Cedar
 * evaluation of the context against the demo policy) on a real gateway built by
 * `countersign init` in a temporary directory. The writer is not started, so nothing
 * is stored: every input must end in a precise 4xx problem or in the 503 that a
 * stopped writer gives to a valid request, never in a crash or a 500. */
#include "cli/cli.h"
#include "config/config.h"
#include "gateway/gateway.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cs_gateway *gw;
static cs_config cfg;
static json_t *agent, *user;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/cs-fuzz-request-XXXXXX";
    if (mkdtemp(dir) == NULL) abort();
    char data[256], conf[300];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(conf, sizeof conf, "%s/countersign.yaml", data);
    char *init[] = {"countersign", "init", "--dir", data, "--json", NULL};
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w"); /* the demo tokens */
    int rc = cs_cli_main(5, init);
    fclose(stdout);
    stdout = saved;
    cs_err err = {0};
    if (rc != 0 || cs_config_load(conf, &cfg, &err) != 0 || cs_gateway_new(&cfg, &gw, &err) != 0) {
        fprintf(stderr, "fuzz_request: cannot build the gateway: %s\n", err.msg);
        abort();
    }
    agent = json_pack("{s:s,s:s,s:s,s:[]}", "kind", "agent", "name", "demo-agent", "owner", "alice",
                      "groups");
    user = json_pack("{s:s,s:s,s:[s]}", "kind", "user", "name", "bob", "groups", "dba");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int kinds[] = {CS_OP_SUBMIT,  CS_OP_APPROVE, CS_OP_DENY,    CS_OP_CANCEL,
                                CS_OP_OUTCOME, CS_OP_CONSUME, CS_OP_ROLLBACK};
    if (size < 1 || size > (1 << 20)) return 0;
    int kind = kinds[data[0] % (sizeof kinds / sizeof kinds[0])];
    json_error_t je;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
    if (body == NULL || !json_is_object(body)) {
        json_decref(body); /* malformed-json / invalid-body, answered by the HTTP layer */
        return 0;
    }
    json_t *who = kind == CS_OP_SUBMIT || kind == CS_OP_CANCEL || kind == CS_OP_OUTCOME ||
                          kind == CS_OP_CONSUME
                      ? agent
                      : user;
    const char *id = kind == CS_OP_SUBMIT || kind == CS_OP_CONSUME ? NULL : "act_0000000000000000";
    cs_op *op = cs_op_new(gw, kind, who, "127.0.0.1", id, body);
    json_decref(body);
    int rc = cs_gateway_run(gw, op);
    /* Not started: a request that passes every check stops at the writer (503). */
    if (rc == 0) __builtin_trap();
    int st = op->reply.status;
    if (!(st >= 400 && st < 500) && st != 503) __builtin_trap();
    if (op->reply.body == NULL || !json_is_string(json_object_get(op->reply.body, "type")))
        __builtin_trap();
    cs_op_free(op);
    return 0;
}
