/* cmd_init.c - `countersign init [--dir DIR] [--json]`: a working setup in DIR
 * (default ./countersign-data): countersign.yaml, an Ed25519 signing key (0600), a
 * demo policy, and demo identities whose tokens are printed once. */
#include "cli/cli.h"

#include "config/config.h"
#include "crypto/crypto.h"
#include "gateway/gateway.h"
#include "util/alloc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char config_yaml[] =
    "# countersign configuration (SPEC §7). Relative paths are relative to this file.\n"
    "listen: 127.0.0.1:8080\n"
    "public_url: http://127.0.0.1:8080\n"
    "data_dir: .\n"
    "storage: sqlite\n"
    "policy_dir: policy\n"
    "approvals:\n"
    "  default_timeout: 15m\n"
    "  hold_budget: 50s\n"
    "audit:\n"
    "  origin: countersign.example/demo\n";

static const char demo_cedar[] =
    "// Demo policy written by `countersign init`.\n"
    "\n"
    "// Routine reads run at once.\n"
    "@id(\"routine-reads\")\n"
    "permit (\n"
    "  principal,\n"
    "  action in [Action::\"db.read\", Action::\"db.query\", Action::\"fs.read\", "
    "Action::\"http.get\"],\n"
    "  resource\n"
    ");\n"
    "\n"
    "// Exports of production data wait for two DBAs.\n"
    "@id(\"export-needs-dba\")\n"
    "@approval(\"dba\")\n"
    "@quorum(\"2\")\n"
    "@timeout(\"30m\")\n"
    "@reason(\"Exports of production data need two DBAs\")\n"
    "permit (principal, action == Action::\"db.export\", resource in Resource::\"prod\");\n"
    "\n"
    "// Nobody changes IAM roles in production through a request.\n"
    "@id(\"no-prod-iam\")\n"
    "@reason(\"IAM changes in production are forbidden\")\n"
    "forbid (principal, action == Action::\"iam.role.update\", resource in Resource::\"prod\");\n";

static const char demo_entities[] =
    "[\n"
    "  {\"uid\": {\"type\": \"Group\", \"id\": \"dba\"}, \"attrs\": {}, \"parents\": []},\n"
    "  {\"uid\": {\"type\": \"Group\", \"id\": \"admins\"}, \"attrs\": {}, \"parents\": []},\n"
    "  {\"uid\": {\"type\": \"Resource\", \"id\": \"prod/db/customers\"},\n"
    "   \"attrs\": {\"classification\": \"confidential\"}, \"parents\": []}\n"
    "]\n";

static int write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "wx");
    if (f == NULL) {
        fprintf(stderr, "countersign: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    chmod(path, mode);
    return ok ? 0 : -1;
}

/* The demo identities: {kind, name, owner, groups, admin}. */
static const struct {
    const char *kind, *name, *owner, *group;
    int admin;
} demo[] = {
    {"user", "admin", NULL, "admins", 1},      {"user", "alice", NULL, NULL, 0},
    {"user", "bob", NULL, "dba", 0},           {"user", "carol", NULL, "dba", 0},
    {"agent", "demo-agent", "alice", NULL, 0},
};

static int make_tokens(const char *cfg_path, json_t *tokens)
{
    cs_config cfg;
    cs_err err = {0};
    cs_gateway *gw = NULL;
    if (cs_config_load(cfg_path, &cfg, &err) != 0 || cs_gateway_new(&cfg, &gw, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        if (cfg.path) cs_config_free(&cfg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof demo / sizeof demo[0] && rc == 0; i++) {
        json_t *args = json_pack("{s:s,s:s,s:[],s:b}", "kind", demo[i].kind, "name", demo[i].name,
                                 "groups", "admin", demo[i].admin);
        if (demo[i].owner) json_object_set_new(args, "owner", json_string(demo[i].owner));
        if (demo[i].group)
            json_array_append_new(json_object_get(args, "groups"), json_string(demo[i].group));
        cs_op *op = cs_op_new(gw, CS_OP_TOKEN_CREATE, NULL, "init", NULL, args);
        rc = cs_gateway_run_now(gw, op);
        if (rc == 0 && op->reply.status == 201)
            json_object_set_new(tokens, demo[i].name, json_string(op->token));
        else {
            fprintf(stderr, "countersign: cannot create token for %s\n", demo[i].name);
            rc = -1;
        }
        cs_op_free(op);
        json_decref(args);
    }
    cs_gateway_free(gw);
    cs_config_free(&cfg);
    return rc;
}

int cs_cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *dir = "countersign-data";
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'j')
            as_json = 1;
        else {
            fprintf(stderr, "usage: countersign init [--dir DIR] [--json]\n");
            return CS_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: countersign init [--dir DIR] [--json]\n");
        return CS_EXIT_USAGE;
    }
    char *cfg = cs_sprintf("%s/countersign.yaml", dir), *key = cs_sprintf("%s/signing.key", dir);
    char *pol = cs_sprintf("%s/policy", dir), *cedar = cs_sprintf("%s/policy/demo.cedar", dir);
    char *ent = cs_sprintf("%s/policy/entities.json", dir);
    int code = CS_EXIT_USAGE;
    json_t *tokens = json_object();
    cs_err err = {0};
    struct stat st;
    if (stat(cfg, &st) == 0) {
        fprintf(stderr, "countersign: %s exists; not overwriting an existing setup\n", cfg);
        goto out;
    }
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || (mkdir(pol, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "countersign: cannot create %s: %s\n", dir, strerror(errno));
        goto out;
    }
    if (cs_crypto_init() != 0 || cs_signing_key_generate(key, &err) != 0) {
        fprintf(stderr, "countersign: %s\n", err.msg);
        goto out;
    }
    if (write_file(cedar, demo_cedar, 0644) || write_file(ent, demo_entities, 0644) ||
        write_file(cfg, config_yaml, 0644))
        goto out;
    if (make_tokens(cfg, tokens) != 0) goto out;
    if (as_json) {
        json_t *o = json_pack("{s:s,s:O}", "url", "http://127.0.0.1:8080", "tokens", tokens);
        char *t = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", t);
        free(t);
        json_decref(o);
    } else {
        printf("Initialised countersign in %s (config %s)\n", dir, cfg);
        printf("url: http://127.0.0.1:8080\ntokens (shown once; keep them):\n");
        const char *k;
        json_t *v;
        json_object_foreach(tokens, k, v) printf("  %-11s %s\n", k, json_string_value(v));
    }
    code = CS_EXIT_OK;
out:
    json_decref(tokens);
    free(cfg);
    free(key);
    free(pol);
    free(cedar);
    free(ent);
    return code;
}
