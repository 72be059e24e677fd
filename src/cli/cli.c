/* cli.c - dispatches `countersign VERB ...` to the verb's handler. */
#include "cli/cli.h"

#include "util/utf8.h"

#include <stdio.h>
#include <string.h>

typedef struct cli_verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int text_args; /* its arguments reach the gateway as JSON text (see text_ok) */
} cli_verb;

static const cli_verb verbs[] = {
    {"policy", cs_cmd_policy, "check or evaluate a policy directory", 0},
    {"init", cs_cmd_init, "create a working setup: config, signing key, demo policy and tokens", 0},
    {"serve", cs_cmd_serve, "run the gateway (SIGHUP reloads policy)", 0},
    {"token", cs_cmd_token, "create or revoke API tokens (admins)", 1},
    {"request", cs_cmd_request, "ask the gateway before running an action", 1},
    {"approve", cs_cmd_approve, "approve a pending action", 1},
    {"deny", cs_cmd_deny, "deny a pending action", 1},
    {"list", cs_cmd_list, "list actions", 1},
    {"show", cs_cmd_show, "show one action", 1},
    {"pg-proxy", cs_cmd_pg_proxy, "PostgreSQL wire-protocol proxy that asks before each statement",
     0},
    {"audit", cs_cmd_audit, "verify the audit log, export tiles, proofs and evidence", 0},
    {"exec", cs_cmd_exec, "run a command once the gateway allows or approves it", 1},
    {"mcp-proxy", cs_cmd_mcp_proxy, "gate an MCP server's tool calls (stdio or Streamable HTTP)",
     0},
    {"freeze", cs_cmd_freeze, "stop an agent, or every agent, at once (admins)", 1},
    {"unfreeze", cs_cmd_freeze, "lift a freeze (admins)", 1},
    {"rollback", cs_cmd_rollback, "submit the compensating action of an action [--exec: run it]",
     1},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: countersign VERB [ARGS...]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(to, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
}

/* An argument that is not UTF-8 would silently drop out of the request (a purpose, a
 * reason, one word of an `exec` command line), so that reviewers, the policy and the
 * audit log would see less than what was asked or run (util/utf8.h). Such an argument
 * stops the verb before anything is sent. argv[0] is the verb. */
static int text_ok(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!cs_utf8_valid(argv[i], strlen(argv[i]))) {
            fprintf(stderr,
                    "countersign %s: argument %d is not valid UTF-8; the gateway records text, "
                    "so nothing was sent\n",
                    argv[0], i);
            return 0;
        }
    }
    return 1;
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
        if (!strcmp(argv[1], verbs[i].name)) {
            if (verbs[i].text_args && !text_ok(argc - 1, argv + 1)) return CS_EXIT_USAGE;
            return verbs[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "countersign: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return CS_EXIT_USAGE;
}
