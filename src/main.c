/* main.c - the countersign binary: hands argv to the CLI dispatcher. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cs_cli_main(argc, argv);
}
