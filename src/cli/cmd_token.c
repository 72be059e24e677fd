/* cmd_token.c - `countersign token create (--agent NAME --owner USER | --user NAME
 * [--slack-id ID]) [--group G]... [--admin] [--json]` and `countersign token revoke NAME`
 * (admins only, through the API). */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: countersign token create (--agent NAME --owner USER | --user NAME "
                    "[--slack-id ID])\n"
                    "                                [--group G]... [--admin] [--json]\n"
                    "       countersign token revoke NAME\n");
    return CS_EXIT_USAGE;
}

static int create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"agent", required_argument, 0, 'a'}, {"user", required_argument, 0, 'u'},
        {"owner", required_argument, 0, 'o'}, {"slack-id", required_argument, 0, 's'},
        {"group", required_argument, 0, 'g'}, {"admin", no_argument, 0, 'A'},
        {"json", no_argument, 0, 'j'},        {0, 0, 0, 0}};
    const char *agent = NULL, *user = NULL, *owner = NULL, *slack = NULL;
    int admin = 0, as_json = 0, c;
    json_t *groups = json_array();
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            agent = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'o':
            owner = optarg;
            break;
        case 's':
            slack = optarg;
            break;
        case 'g':
            json_array_append_new(groups, json_string(optarg));
            break;
        case 'A':
            admin = 1;
            break;
        case 'j':
            as_json = 1;
            break;
        default:
            json_decref(groups);
            return usage();
        }
    }
    if (optind != argc || !!agent == !!user || (agent && !owner) || (user && owner) ||
        (agent && slack)) {
        json_decref(groups);
        return usage();
    }
    json_t *body = json_pack("{s:s,s:s,s:o}", "kind", agent ? "agent" : "user", "name",
                             agent ? agent : user, "groups", groups);
    if (owner) json_object_set_new(body, "owner", json_string(owner));
    if (slack) json_object_set_new(body, "slack_id", json_string(slack));
    if (admin) json_object_set_new(body, "admin", json_true());
    long status = 0;
    json_t *out = NULL;
    int rc = cs_client_call("POST", "/v1/tokens", body, NULL, 30, &status, &out);
    json_decref(body);
    if (rc != 0) return CS_EXIT_USAGE;
    if (status != 201) {
        cs_client_print_problem(status, out);
        json_decref(out);
        return CS_EXIT_DENIED;
    }
    if (as_json) {
        char *t = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
    } else {
        printf("%s\n", json_string_value(json_object_get(out, "token")));
        fprintf(stderr, "token for %s \"%s\" (shown once; store it now)\n",
                agent ? "agent" : "user", agent ? agent : user);
    }
    json_decref(out);
    return CS_EXIT_OK;
}

static int revoke(int argc, char **argv)
{
    if (argc != 2 || strchr(argv[1], '/') || strlen(argv[1]) > 64) return usage();
    char path[128];
    snprintf(path, sizeof path, "/v1/tokens/%s", argv[1]);
    long status = 0;
    json_t *out = NULL;
    if (cs_client_call("DELETE", path, NULL, NULL, 30, &status, &out) != 0) return CS_EXIT_USAGE;
    int code = CS_EXIT_OK;
    if (status != 200) {
        cs_client_print_problem(status, out);
        code = CS_EXIT_DENIED;
    } else {
        printf("revoked %s\n", argv[1]);
    }
    json_decref(out);
    return code;
}

int cs_cmd_token(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create")) return create(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "revoke")) return revoke(argc - 1, argv + 1);
    return usage();
}
