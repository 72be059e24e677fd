/* cmd_request.c - `countersign request --action A --resource R [--context JSON]
 * [--purpose T] [--on-behalf-of U] [--receipt] [--idempotency-key K] [--wait S] [--json]
 * [--rollback JSON]`: asks the gateway; with --wait, long-polls until decided or S seconds pass. */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: countersign request --action A --resource R [--context JSON] [--purpose T]\n"
            "         [--on-behalf-of USER] [--receipt] [--idempotency-key K] [--wait S] [--json]\n"
            "         [--rollback JSON]\n");
    return CS_EXIT_USAGE;
}

/* Long-polls GET /v1/actions/ID?wait= until decided or the deadline. */
static int wait_for(json_t **action, long wait_s)
{
    time_t deadline = time(NULL) + wait_s;
    char path[256];
    for (;;) {
        long left = (long)(deadline - time(NULL));
        if (left <= 0 || json_is_true(json_object_get(*action, "_done"))) return 0;
        if (strcmp(json_string_value(json_object_get(*action, "status")), "pending")) return 0;
        if (left > 300) left = 300;
        snprintf(path, sizeof path, "/v1/actions/%s?wait=%ld",
                 json_string_value(json_object_get(*action, "id")), left);
        long status = 0;
        json_t *out = NULL;
        if (cs_client_call("GET", path, NULL, NULL, left + 30, &status, &out) != 0) return -1;
        if (status != 200) {
            cs_client_print_problem(status, out);
            json_decref(out);
            return -1;
        }
        json_decref(*action);
        *action = out;
    }
}

int cs_cmd_request(int argc, char **argv)
{
    static const struct option opts[] = {
        {"action", required_argument, 0, 'a'},
        {"resource", required_argument, 0, 'r'},
        {"context", required_argument, 0, 'c'},
        {"purpose", required_argument, 0, 'p'},
        {"on-behalf-of", required_argument, 0, 'o'},
        {"receipt", no_argument, 0, 'R'},
        {"idempotency-key", required_argument, 0, 'k'},
        {"wait", required_argument, 0, 'w'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {"rollback", required_argument, 0, 'b'},
        {0, 0, 0, 0},
    };
    const char *action = NULL, *resource = NULL, *context = NULL, *purpose = NULL, *obo = NULL,
               *key = NULL, *rollback = NULL;
    int receipt = 0, as_json = 0, c;
    long wait_s = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            action = optarg;
            break;
        case 'r':
            resource = optarg;
            break;
        case 'c':
            context = optarg;
            break;
        case 'p':
            purpose = optarg;
            break;
        case 'o':
            obo = optarg;
            break;
        case 'R':
            receipt = 1;
            break;
        case 'k':
            key = optarg;
            break;
        case 'b':
            rollback = optarg;
            break;
        case 'w':
            if (cs_client_seconds(optarg, &wait_s) != 0) return usage();
            break;
        case 'j':
            as_json = 1;
            break;
        default:
            return usage();
        }
    }
    if (!action || !resource || optind != argc) return usage();
    json_t *body = json_pack("{s:s,s:s}", "action", action, "resource", resource);
    if (context) {
        json_error_t je;
        json_t *ctx = json_loads(context, 0, &je);
        if (!json_is_object(ctx)) {
            if (ctx == NULL)
                fprintf(stderr, "countersign: --context must be a JSON object (%s)\n", je.text);
            else
                fprintf(stderr, "countersign: --context must be a JSON object, not an array or a "
                                "single value\n");
            json_decref(ctx);
            json_decref(body);
            return CS_EXIT_USAGE;
        }
        json_object_set_new(body, "context", ctx);
    }
    if (purpose) json_object_set_new(body, "purpose", json_string(purpose));
    if (obo) json_object_set_new(body, "on_behalf_of", json_string(obo));
    if (receipt) json_object_set_new(body, "receipt", json_true());
    if (rollback) {
        json_t *rb = json_loads(rollback, 0, NULL);
        if (!json_is_object(rb)) {
            fprintf(stderr, "countersign: --rollback must be a JSON object\n");
            json_decref(rb);
            json_decref(body);
            return CS_EXIT_USAGE;
        }
        json_object_set_new(body, "rollback", rb);
    }
    long status = 0;
    json_t *out = NULL;
    int rc = cs_client_call("POST", "/v1/actions", body, key, 30, &status, &out);
    json_decref(body);
    if (rc != 0) return CS_EXIT_USAGE;
    if (status != 201) {
        cs_client_print_problem(status, out);
        json_decref(out);
        return CS_EXIT_USAGE;
    }
    if (wait_s > 0 && cs_client_exit_for(out) == CS_EXIT_PENDING)
        fprintf(stderr, "countersign: %s is pending approval; waiting up to %ld s\n",
                json_string_value(json_object_get(out, "id")), wait_s);
    if (wait_s > 0 && wait_for(&out, wait_s) != 0) {
        json_decref(out);
        return CS_EXIT_USAGE;
    }
    cs_client_print_action(out, as_json);
    int code = cs_client_exit_for(out);
    json_decref(out);
    return code;
}
