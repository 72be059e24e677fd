/* cmd_show.c - `countersign show ID [--json]`: one action. */
#include "cli/cli.h"
#include "cli/client.h"

#include <stdio.h>
#include <string.h>

int cs_cmd_show(int argc, char **argv)
{
    int as_json = 0;
    const char *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (id == NULL && argv[i][0] != '-')
            id = argv[i];
        else
            id = NULL, i = argc;
    }
    if (id == NULL || strlen(id) > 64 || strchr(id, '/') || strchr(id, '?')) {
        fprintf(stderr, "usage: countersign show ID [--json]\n");
        return CS_EXIT_USAGE;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s", id);
    long status = 0;
    json_t *out = NULL;
    if (cs_client_call("GET", path, NULL, NULL, 30, &status, &out) != 0) return CS_EXIT_USAGE;
    if (status != 200) {
        cs_client_print_problem(status, out);
        json_decref(out);
        return CS_EXIT_USAGE;
    }
    cs_client_print_action(out, as_json);
    json_decref(out);
    return CS_EXIT_OK;
}
