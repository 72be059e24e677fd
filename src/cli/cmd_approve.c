/* cmd_approve.c - `countersign approve ID [--reason T]`: a vote for the action. */
#include "cli/cli.h"

int cs_cmd_approve(int argc, char **argv)
{
    return cs_cli_vote(argc, argv, "approve");
}
