/* vote.c - what `approve` and `deny` share: POST /v1/actions/ID/{approve,deny}. */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cs_cli_vote(int argc, char **argv, const char *verb)
{
    static const struct option opts[] = {
        {"reason", required_argument, 0, 'r'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *reason = NULL;
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            reason = optarg;
        else if (c == 'j')
            as_json = 1;
        else
            goto usage;
    }
    if (optind != argc - 1 || strlen(argv[optind]) > 64 || strchr(argv[optind], '/')) goto usage;
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s/%s", argv[optind], verb);
    json_t *body = json_object();
    if (reason) json_object_set_new(body, "reason", json_string(reason));
    long status = 0;
    json_t *out = NULL;
    int rc = cs_client_call("POST", path, body, NULL, 30, &status, &out);
    json_decref(body);
    if (rc != 0) return CS_EXIT_USAGE;
    if (status != 200) {
        cs_client_print_problem(status, out);
        if (as_json && out) {
            char *t = json_dumps(out, JSON_INDENT(2));
            printf("%s\n", t);
            free(t);
        }
        json_decref(out);
        return CS_EXIT_DENIED;
    }
    cs_client_print_action(out, as_json);
    json_decref(out);
    return CS_EXIT_OK;
usage:
    fprintf(stderr, "usage: countersign %s ID [--reason T] [--json]\n", verb);
    return CS_EXIT_USAGE;
}
