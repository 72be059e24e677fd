/* cmd_rollback.c - `countersign rollback ID [--purpose T] [--exec] [--timeout S]
 * [--json]`: submits the compensating action that ID carried in `rollback` (a new
 * action with rollback_of: ID, decided by policy like any other). With --exec it
 * then waits as `countersign exec` does and runs the stored rollback.command once
 * the rollback is allowed or approved; the receipt is single use, so the command
 * runs at most once however often this is called. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/exec_run.h"

#include "util/alloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: countersign rollback ID [--purpose T] [--exec [--timeout S]] [--json]\n");
    return CS_EXIT_USAGE;
}

static int id_ok(const char *id)
{
    return *id && strlen(id) <= 64 && !strpbrk(id, "/?#% ");
}

/* An existing rollback named by a 409 rollback-exists: carry on with it. */
static int fetch(const char *id, json_t **a)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s", id);
    long status = 0;
    if (cs_client_call("GET", path, NULL, NULL, 30, &status, a) != 0) return -1;
    if (status == 200) return 0;
    cs_client_print_problem(status, *a);
    return -1;
}

static int submit(const char *id, const char *purpose, int executing, json_t **a)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s/rollback", id);
    json_t *body = json_object();
    if (purpose) json_object_set_new(body, "purpose", json_string(purpose));
    long status = 0;
    int rc = cs_client_call("POST", path, body, NULL, 30, &status, a);
    json_decref(body);
    if (rc != 0) return CS_EXIT_USAGE;
    if (status == 201) return CS_EXIT_OK;
    cs_client_print_problem(status, *a);
    const char *type = json_string_value(json_object_get(*a, "type"));
    const char *other = json_string_value(json_object_get(*a, "rollback"));
    if (executing && status == 409 && type && !strcmp(type, "rollback-exists") && other &&
        id_ok(other)) {
        char *keep = cs_strdup(other);
        json_decref(*a);
        *a = NULL;
        fprintf(stderr, "countersign: continuing with %s\n", keep);
        rc = fetch(keep, a);
        free(keep);
        return rc == 0 ? CS_EXIT_OK : CS_EXIT_USAGE;
    }
    return status == 409 ? CS_EXIT_DENIED : CS_EXIT_USAGE;
}

/* The compensating command: context.argv of the rollback action (covered by its args_hash). */
static char **command_of(const json_t *a)
{
    json_t *argv = json_object_get(json_object_get(a, "context"), "argv");
    size_t n = json_array_size(argv);
    if (n == 0) return NULL;
    char **out = cs_calloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(argv, i));
        out[i] = cs_strdup(s ? s : "");
    }
    return out;
}

static int run(json_t **a, long timeout_s)
{
    char **cmd = command_of(*a);
    if (cmd == NULL) {
        fprintf(stderr, "countersign: the rollback %s has no command to run\n",
                json_string_value(json_object_get(*a, "id")));
        return CS_EXIT_USAGE;
    }
    int rc = cs_exec_await(a, timeout_s);
    if (rc == CS_EXIT_OK) rc = cs_exec_run_approved(*a, cmd);
    for (char **p = cmd; *p; p++)
        free(*p);
    free(cmd);
    return rc;
}

int cs_cmd_rollback(int argc, char **argv)
{
    static const struct option opts[] = {
        {"purpose", required_argument, 0, 'p'},
        {"exec", no_argument, 0, 'x'},
        {"timeout", required_argument, 0, 't'},
        {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    const char *purpose = NULL;
    int executing = 0, as_json = 0, c;
    long timeout_s = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            purpose = optarg;
            break;
        case 'x':
            executing = 1;
            break;
        case 'j':
            as_json = 1;
            break;
        case 't':
            if (cs_client_seconds(optarg, &timeout_s) != 0 || timeout_s == 0) return usage();
            break;
        default:
            return usage();
        }
    }
    if (optind != argc - 1 || !id_ok(argv[optind]) || (timeout_s && !executing)) return usage();
    json_t *a = NULL;
    int rc = submit(argv[optind], purpose, executing, &a);
    if (rc == CS_EXIT_OK && executing)
        rc = run(&a, timeout_s);
    else if (rc == CS_EXIT_OK) {
        cs_client_print_action(a, as_json);
        rc = cs_client_exit_for(a);
    }
    json_decref(a);
    return rc;
}
