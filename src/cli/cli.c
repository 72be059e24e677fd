/* cli.c - dispatches `countersign VERB ...` to the verb's handler. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

typedef struct cli_verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_verb;

static const cli_verb verbs[] = {
    {"policy", cs_cmd_policy, "check or evaluate a policy directory"},
    {"init", cs_cmd_init, "create a working setup: config, signing key, demo policy and tokens"},
    {"serve", cs_cmd_serve, "run the gateway (SIGHUP reloads policy)"},
    {"token", cs_cmd_token, "create or revoke API tokens (admins)"},
    {"request", cs_cmd_request, "ask the gateway before running an action"},
    {"approve", cs_cmd_approve, "approve a pending action"},
    {"deny", cs_cmd_deny, "deny a pending action"},
    {"list", cs_cmd_list, "list actions"},
    {"show", cs_cmd_show, "show one action"},
    {"pg-proxy", cs_cmd_pg_proxy, "PostgreSQL wire-protocol proxy that asks before each statement"},
    {"audit", cs_cmd_audit, "verify the audit log, export tiles, proofs and evidence"},
    {"exec", cs_cmd_exec, "run a command once the gateway allows or approves it"},
    {"mcp-proxy", cs_cmd_mcp_proxy, "gate an MCP server's tool calls (stdio or Streamable HTTP)"},
    {"freeze", cs_cmd_freeze, "stop an agent, or every agent, at once (admins)"},
    {"unfreeze", cs_cmd_freeze, "lift a freeze (admins)"},
    {"rollback", cs_cmd_rollback, "submit the compensating action of an action [--exec: run it]"},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: countersign VERB [ARGS...]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(to, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
}

int cs_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(argv[1], verbs[i].name)) return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "countersign: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return CS_EXIT_USAGE;
}
