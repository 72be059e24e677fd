/* cmd_policy.c - `countersign policy check [DIR]` and `countersign policy eval ...`:
 * validate a policy directory, or evaluate one request against it offline. */
#include "cli/cli.h"

#include "policy/policy.h"
#include "util/alloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *default_dir(void)
{
    const char *env = getenv("COUNTERSIGN_POLICY_DIR");
    if (env && *env) return env;
    struct stat st;
    if (stat("countersign-data/policy", &st) == 0 && S_ISDIR(st.st_mode)) return "countersign-data/policy";
    return "policy";
}

static void print_diags(const cs_policy_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const cs_policy_diag *g = &d->items[i];
        if (g->line > 0) fprintf(stderr, "%s:%d:%d: error: %s\n", g->file, g->line, g->col, g->msg);
        else fprintf(stderr, "%s: error: %s\n", g->file, g->msg);
    }
}

static int load(const char *dir, cs_policy_set **set)
{
    cs_policy_diags d;
    cs_policy_diags_init(&d);
    int rc = cs_policy_set_load_dir(dir, set, &d);
    if (rc < 0) {
        print_diags(&d);
        fprintf(stderr, "countersign: %zu error%s in %s\n", d.n, d.n == 1 ? "" : "s", dir);
    }
    cs_policy_diags_free(&d);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : default_dir();
    if (argc > 2) {
        fprintf(stderr, "usage: countersign policy check [DIR]\n");
        return CS_EXIT_USAGE;
    }
    cs_policy_set *set;
    if (load(dir, &set) < 0) return CS_EXIT_DENIED;
    printf("%s: %zu polic%s OK (version %s)\n", dir, cs_policy_set_count(set),
           cs_policy_set_count(set) == 1 ? "y" : "ies", cs_policy_set_version(set));
    cs_policy_set_release(set);
    return CS_EXIT_OK;
}

/* Accepts `Type::"id"` or a bare id with the given default type. */
static int parse_ref(const char *text, const char *default_type, char **type, char **id)
{
    if (strstr(text, "::\"") == NULL) {
        *type = cs_strdup(default_type);
        *id = cs_strdup(text);
        return 0;
    }
    cs_err err = {0};
    if (cs_uid_parse(text, type, id, &err) < 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void print_human(const cs_decision *d, const cs_policy_set *set)
{
    printf("decision: %s\n", cs_decision_kind_name(d->kind));
    for (size_t i = 0; i < d->n_determining; i++)
        printf("matched:  %s (%s%s)\n", d->determining[i].id,
               d->determining[i].effect == CS_EFFECT_FORBID ? "forbid" : "permit",
               d->determining[i].approval ? ", needs approval" : "");
    for (size_t i = 0; i < d->n_approvals; i++) {
        const cs_approval_req *ap = &d->approvals[i];
        printf("approval: %d distinct human%s from group%s ", ap->quorum, ap->quorum == 1 ? "" : "s",
               ap->n_groups == 1 ? "" : "s");
        for (size_t g = 0; g < ap->n_groups; g++) printf("%s%s", g ? ", " : "", ap->groups[g]);
        if (ap->timeout_s >= 0) printf(", expires after %llds", ap->timeout_s);
        if (ap->notify) printf(", notify %s", ap->notify);
        printf("\n");
    }
    for (size_t i = 0; i < d->n_errors; i++) printf("error:    %s: %s\n", d->errors[i].id, d->errors[i].msg);
    printf("explanation: %s\n", d->explanation);
    printf("policy version: %s\n", cs_policy_set_version(set));
}

static void eval_usage(void)
{
    fprintf(stderr, "usage: countersign policy eval --principal 'Agent::\"a\"' --action ACTION --resource PATH\n"
                    "           [--context JSON] [--group G]... [--dir DIR] [--json]\n");
}

static int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"principal", required_argument, 0, 'p'}, {"action", required_argument, 0, 'a'},
        {"resource", required_argument, 0, 'r'},  {"context", required_argument, 0, 'c'},
        {"dir", required_argument, 0, 'd'},       {"group", required_argument, 0, 'g'},
        {"json", no_argument, 0, 'j'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *principal = NULL, *action = NULL, *resource = NULL, *context = NULL, *dir = NULL;
    const char *groups[64];
    size_t n_groups = 0;
    int json_out = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': principal = optarg; break;
        case 'a': action = optarg; break;
        case 'r': resource = optarg; break;
        case 'c': context = optarg; break;
        case 'd': dir = optarg; break;
        case 'g':
            if (n_groups == 64) {
                fprintf(stderr, "countersign: too many --group options\n");
                return CS_EXIT_USAGE;
            }
            groups[n_groups++] = optarg;
            break;
        case 'j': json_out = 1; break;
        default: eval_usage(); return CS_EXIT_USAGE;
        }
    }
    if (!principal || !action || !resource || optind != argc) {
        eval_usage();
        return CS_EXIT_USAGE;
    }
    int exit_code = CS_EXIT_USAGE;
    char *pt = NULL, *pi = NULL, *at = NULL, *ai = NULL, *rt = NULL, *ri = NULL;
    json_t *ctx = NULL;
    cs_policy_set *set = NULL;
    if (parse_ref(principal, "User", &pt, &pi) < 0 || parse_ref(action, "Action", &at, &ai) < 0 ||
        parse_ref(resource, "Resource", &rt, &ri) < 0)
        goto out;
    if (context) {
        json_error_t jerr;
        ctx = json_loads(context, JSON_REJECT_DUPLICATES, &jerr);
        if (ctx == NULL || !json_is_object(ctx)) {
            fprintf(stderr, "countersign: --context must be a JSON object%s%s\n", ctx ? "" : ": ", ctx ? "" : jerr.text);
            goto out;
        }
    }
    if (load(dir ? dir : default_dir(), &set) < 0) {
        exit_code = CS_EXIT_DENIED;
        goto out;
    }
    cs_policy_request req = {
        .principal = {pt, pi}, .action = {at, ai}, .resource = {rt, ri},
        .principal_groups = groups, .n_principal_groups = n_groups, .context = ctx,
    };
    cs_decision d;
    cs_err err = {0};
    if (cs_policy_decide(set, &req, &d, &err) < 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        goto out;
    }
    if (json_out) {
        json_t *o = cs_decision_to_json(&d, set);
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else {
        print_human(&d, set);
    }
    exit_code = d.kind == CS_DECISION_ALLOW ? CS_EXIT_OK : d.kind == CS_DECISION_PENDING ? CS_EXIT_PENDING : CS_EXIT_DENIED;
    cs_decision_free(&d);
out:
    free(pt), free(pi), free(at), free(ai), free(rt), free(ri);
    json_decref(ctx);
    cs_policy_set_release(set);
    return exit_code;
}

int cs_cmd_policy(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check")) return cmd_check(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "eval")) return cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "usage: countersign policy check [DIR]\n"
                    "       countersign policy eval --principal P --action A --resource R [--context JSON] [--dir DIR] [--json]\n");
    return CS_EXIT_USAGE;
}
