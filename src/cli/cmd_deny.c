/* cmd_deny.c - `countersign deny ID [--reason T]`: one deny vote denies the action. */
#include "cli/cli.h"

int cs_cmd_deny(int argc, char **argv)
{
    return cs_cli_vote(argc, argv, "deny");
}
