/* cmd_freeze.c - the kill switch from the command line (docs/freeze.md):
 * `countersign freeze [AGENT] [--reason T] [--json]`, `countersign unfreeze [AGENT]
 * [--json]` (admins), and `countersign freeze --list [--json]` for what is frozen.
 * Without AGENT the freeze is global: every agent, never a human. */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int usage(const char *verb)
{
    if (!strcmp(verb, "freeze"))
        fprintf(
            stderr,
            "usage: countersign freeze [AGENT] [--reason T] [--json] | freeze --list [--json]\n");
    else
        fprintf(stderr, "usage: countersign unfreeze [AGENT] [--json]\n");
    return CS_EXIT_USAGE;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void print_record(const json_t *f)
{
    const char *agent = str(f, "agent");
    printf("%s  %s  since %s  by %s%s: %s\n", str(f, "id"), *agent ? agent : "(every agent)",
           str(f, "at"), str(f, "by"),
           json_is_true(json_object_get(f, "automatic")) ? " (automatic)" : "", str(f, "reason"));
}

static int list(int as_json)
{
    long status = 0;
    json_t *out = NULL;
    if (cs_client_call("GET", "/v1/freeze", NULL, NULL, 30, &status, &out) != 0)
        return CS_EXIT_USAGE;
    if (status != 200) {
        cs_client_print_problem(status, out);
        json_decref(out);
        return CS_EXIT_USAGE;
    }
    if (as_json) {
        char *text = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    } else {
        json_t *g = json_object_get(out, "global");
        size_t i;
        json_t *f;
        if (json_is_object(g)) print_record(g);
        json_array_foreach(json_object_get(out, "agents"), i, f) print_record(f);
        if (!json_is_object(g) && json_array_size(json_object_get(out, "agents")) == 0)
            printf("nothing is frozen\n");
    }
    json_decref(out);
    return CS_EXIT_OK;
}

static void print_result(const char *verb, const json_t *out, int as_json)
{
    if (as_json) {
        char *text = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        return;
    }
    const json_t *f = json_object_get(out, !strcmp(verb, "freeze") ? "freeze" : "unfrozen");
    const char *agent = str(f, "agent");
    if (!strcmp(verb, "freeze"))
        printf("frozen: %s (%s); %zu pending request(s) cancelled, %zu receipt(s) revoked\n",
               *agent ? agent : "every agent", str(f, "id"),
               json_array_size(json_object_get(f, "cancelled")),
               json_array_size(json_object_get(f, "revoked")));
    else
        printf("unfrozen: %s\n", *agent ? agent : "every agent (the global freeze is lifted)");
}

int cs_cmd_freeze(int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, 0, 'r'},
        {"list", no_argument, 0, 'l'},
        {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    const char *verb = argv[0], *reason = NULL;
    int as_json = 0, do_list = 0, unfreeze = !strcmp(verb, "unfreeze"), c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r' && !unfreeze)
            reason = optarg;
        else if (c == 'l' && !unfreeze)
            do_list = 1;
        else if (c == 'j')
            as_json = 1;
        else
            return usage(verb);
    }
    if (argc - optind > 1 || (do_list && (reason || optind < argc))) return usage(verb);
    if (do_list) return list(as_json);
    json_t *body = json_object();
    if (optind < argc) json_object_set_new(body, "agent", json_string(argv[optind]));
    if (reason) json_object_set_new(body, "reason", json_string(reason));
    long status = 0;
    json_t *out = NULL;
    int rc = cs_client_call("POST", unfreeze ? "/v1/unfreeze" : "/v1/freeze", body, NULL, 30,
                            &status, &out);
    json_decref(body);
    if (rc != 0) return CS_EXIT_USAGE;
    if (status != 200) {
        cs_client_print_problem(status, out);
        json_decref(out);
        return status == 409 ? CS_EXIT_DENIED : CS_EXIT_USAGE;
    }
    print_result(verb, out, as_json);
    json_decref(out);
    return CS_EXIT_OK;
}
