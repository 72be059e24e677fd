/* config.c - table-driven countersign.yaml loader over libyaml's document API. */
#include "config/config.h"

#include "util/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum key_type {
    K_STRING,
    K_PATH,
    K_DURATION,
    K_INT,
    K_ENVNAME,
    K_STORAGE,
    K_ENVMAP,
    K_WEBHOOKS,
    K_ROUTES,
    K_LIMITS,
    K_TARGETS
};

typedef struct key_spec {
    const char *path; /* dotted key path */
    int type;
    size_t offset;
} key_spec;

#define F(field) offsetof(cs_config, field)
static const key_spec keys[] = {
    {"listen", K_STRING, F(listen)},
    {"public_url", K_STRING, F(public_url)},
    {"data_dir", K_PATH, F(data_dir)},
    {"storage", K_STORAGE, F(storage)},
    {"database", K_PATH, F(database)},
    {"policy_dir", K_PATH, F(policy_dir)},
    {"signing_key", K_PATH, F(signing_key)},
    {"approvals.default_timeout", K_DURATION, F(default_timeout_s)},
    {"approvals.hold_budget", K_DURATION, F(hold_budget_s)},
    {"approvals.receipt_ttl", K_DURATION, F(receipt_ttl_s)},
    {"approvals.max_wait", K_DURATION, F(max_wait_s)},
    {"audit.origin", K_STRING, F(audit_origin)},
    {"audit.tsa_url", K_STRING, F(audit_tsa_url)},
    {"audit.tsa_ca_file", K_PATH, F(audit_tsa_ca_file)},
    {"audit.tsa_interval", K_DURATION, F(audit_tsa_interval_s)},
    {"http.threads", K_INT, F(http_threads)},
    {"http.max_connections", K_INT, F(http_max_connections)},
    {"notify.slack.api_url", K_STRING, F(slack_api_url)},
    {"notify.slack.bot_token_env", K_ENVNAME, F(slack_bot_token_env)},
    {"notify.slack.signing_secret_env", K_ENVNAME, F(slack_signing_secret_env)},
    {"notify.teams.webhooks", K_ENVMAP, F(teams_webhooks)},
    {"notify.webhooks", K_WEBHOOKS, F(webhooks)},
    {"notify.routes", K_ROUTES, F(routes)},
    {"pg.users", K_ENVMAP, F(pg_users)},
    {"notify.dead_letter_after", K_DURATION, F(notify_dead_letter_after_s)},
    {"limits", K_LIMITS, F(limits)},
    {"freeze.notify", K_TARGETS, F(freeze_notify)},
};
#undef F

typedef struct loader {
    const char *file;
    char *base; /* folder of the file */
    yaml_document_t doc;
    cs_config *c;
    cs_err *err;
    int path_set[sizeof keys / sizeof keys[0]];
} loader;

int cs_parse_duration(const char *text, long long *secs)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)text[0])) return CS_EINVAL;
    long long v = strtoll(text, &end, 10);
    if (errno) return CS_EINVAL;
    long long mul = 1;
    if (*end == '\0' || !strcmp(end, "s"))
        mul = 1;
    else if (!strcmp(end, "m"))
        mul = 60;
    else if (!strcmp(end, "h"))
        mul = 3600;
    else if (!strcmp(end, "d"))
        mul = 86400;
    else
        return CS_EINVAL;
    if (v > (1LL << 40) / mul) return CS_EINVAL;
    *secs = v * mul;
    return 0;
}

static int bad(loader *L, yaml_node_t *n, const char *fmt, const char *what)
{
    char msg[300];
    snprintf(msg, sizeof msg, fmt, what);
    return cs_err_set(L->err, CS_EINVAL, "%s:%zu: %s", L->file, n->start_mark.line + 1, msg);
}

static const char *scalar(yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int env_name_ok(const char *s)
{
    if (!s || !(isupper((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (; *s; s++)
        if (!(isupper((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

static char *resolve(loader *L, const char *p)
{
    if (p[0] == '/') return cs_strdup(p);
    if (!strcmp(p, ".")) return cs_strdup(L->base);
    return cs_sprintf("%s/%s", L->base, p);
}

static int set_string_map(loader *L, yaml_node_t *n, const char *key, json_t **slot, int env)
{
    if (n->type != YAML_MAPPING_NODE) return bad(L, n, "%s must be a mapping", key);
    json_t *m = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        const char *ks = scalar(k), *vs = scalar(v);
        if (!ks || !vs || (env && !env_name_ok(vs))) {
            json_decref(m);
            return bad(L, v, "%s values must be environment variable names", key);
        }
        json_object_set_new(m, ks, json_string(vs));
    }
    json_decref(*slot);
    *slot = m;
    return 0;
}

static int set_routes(loader *L, yaml_node_t *n, json_t **slot)
{
    if (n->type != YAML_MAPPING_NODE) return bad(L, n, "%s must be a mapping", "notify.routes");
    json_t *m = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        if (!scalar(k) || v->type != YAML_SEQUENCE_NODE) {
            json_decref(m);
            return bad(L, v, "%s entries must be lists of targets", "notify.routes");
        }
        json_t *list = json_array();
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
             i++) {
            yaml_node_t *t = yaml_document_get_node(&L->doc, *i);
            if (!scalar(t) || !strchr(scalar(t), ':')) {
                json_decref(list);
                json_decref(m);
                return bad(L, t, "%s targets look like slack:#channel", "notify.routes");
            }
            json_array_append_new(list, json_string(scalar(t)));
        }
        json_object_set_new(m, scalar(k), list);
    }
    json_decref(*slot);
    *slot = m;
    return 0;
}

static int set_webhooks(loader *L, yaml_node_t *n, json_t **slot)
{
    if (n->type != YAML_SEQUENCE_NODE) return bad(L, n, "%s must be a list", "notify.webhooks");
    json_t *list = json_array();
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        yaml_node_t *w = yaml_document_get_node(&L->doc, *i);
        if (w->type != YAML_MAPPING_NODE) goto fail_item;
        json_t *o = json_object();
        json_array_append_new(list, o);
        for (yaml_node_pair_t *p = w->data.mapping.pairs.start; p < w->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
            const char *ks = scalar(k), *vs = scalar(v);
            if (!ks || !vs ||
                (strcmp(ks, "name") && strcmp(ks, "url") && strcmp(ks, "secret_env"))) {
                json_decref(list);
                return bad(L, k, "unknown key '%s' in notify.webhooks", ks ? ks : "?");
            }
            if (!strcmp(ks, "secret_env") && !env_name_ok(vs)) {
                json_decref(list);
                return bad(L, v, "%s must name an environment variable", "secret_env");
            }
            json_object_set_new(o, ks, json_string(vs));
        }
        if (!json_object_get(o, "name") || !json_object_get(o, "url")) {
            json_decref(list);
            return bad(L, w, "%s entries need name and url", "notify.webhooks");
        }
        continue;
    fail_item:
        json_decref(list);
        return bad(L, w, "%s entries must be mappings", "notify.webhooks");
    }
    json_decref(*slot);
    *slot = list;
    return 0;
}

/* freeze.notify: a list of slack:... and webhook:... targets. */
static int set_targets(loader *L, yaml_node_t *n, const char *key, json_t **slot)
{
    if (n->type != YAML_SEQUENCE_NODE) return bad(L, n, "%s must be a list of targets", key);
    json_t *list = json_array();
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        yaml_node_t *t = yaml_document_get_node(&L->doc, *i);
        const char *ts = scalar(t);
        if (!ts || (strncmp(ts, "slack:", 6) && strncmp(ts, "webhook:", 8)) || strlen(ts) < 7) {
            json_decref(list);
            return bad(L, t, "%s targets look like slack:#channel or webhook:NAME", key);
        }
        json_array_append_new(list, json_string(ts));
    }
    json_decref(*slot);
    *slot = list;
    return 0;
}

static int limit_int(loader *L, yaml_node_t *v, const char *key, long long *out)
{
    const char *s = scalar(v);
    char *end = NULL;
    long long x = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || x <= 0 || x > 1000000000)
        return bad(L, v, "limits: %s must be a positive integer", key);
    *out = x;
    return 0;
}

/* Calls fn for each key/value of a mapping. */
typedef int (*pair_fn)(loader *L, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);
static int each_pair(loader *L, yaml_node_t *n, const char *what, pair_fn fn, void *ctx)
{
    if (n->type != YAML_MAPPING_NODE) return bad(L, n, "%s must be a mapping", what);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        if (!scalar(k)) return bad(L, k, "%s", "keys must be scalars");
        int rc = fn(L, scalar(k), k, v, ctx);
        if (rc) return rc;
    }
    return 0;
}

static int denials_pair(loader *L, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    cs_limits *lim = ctx;
    if (!strcmp(key, "count")) return limit_int(L, v, "denials.count", &lim->denials);
    if (strcmp(key, "window")) return bad(L, k, "unknown key '%s' in limits.denials", key);
    if (!scalar(v) || cs_parse_duration(scalar(v), &lim->denials_window_s) != 0 ||
        lim->denials_window_s <= 0)
        return bad(L, v, "%s must be a duration such as 10m", "limits.denials.window");
    return 0;
}

static int class_pair(loader *L, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    cs_limit_class *c = ctx;
    if (!strcmp(key, "per_hour")) return limit_int(L, v, "classes.per_hour", &c->per_hour);
    if (strcmp(key, "action")) return bad(L, k, "unknown key '%s' in limits.classes", key);
    if (!scalar(v) || !*scalar(v))
        return bad(L, v, "%s must be an action name", "limits.classes.action");
    free(c->action);
    c->action = cs_strdup(scalar(v));
    return 0;
}

static int set_classes(loader *L, yaml_node_t *n, cs_limits *lim)
{
    if (n->type != YAML_SEQUENCE_NODE) return bad(L, n, "%s must be a list", "limits.classes");
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
        yaml_node_t *item = yaml_document_get_node(&L->doc, *i);
        lim->classes = cs_realloc(lim->classes, (lim->n_classes + 1) * sizeof *lim->classes);
        cs_limit_class *c = &lim->classes[lim->n_classes++];
        memset(c, 0, sizeof *c);
        int rc = each_pair(L, item, "limits.classes entries", class_pair, c);
        if (rc) return rc;
        if (c->action == NULL || c->per_hour == 0)
            return bad(L, item, "%s entries need action and per_hour", "limits.classes");
    }
    return 0;
}

static int limits_pair(loader *L, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);

static int agents_pair(loader *L, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    cs_config *c = ctx;
    for (size_t i = 0; i < c->n_agent_limits; i++)
        if (!strcmp(c->agent_limits[i].agent, key))
            return bad(L, k, "duplicate agent '%s' in limits.agents", key);
    c->agent_limits =
        cs_realloc(c->agent_limits, (c->n_agent_limits + 1) * sizeof *c->agent_limits);
    cs_agent_limits *a = &c->agent_limits[c->n_agent_limits++];
    memset(a, 0, sizeof *a);
    a->agent = cs_strdup(key);
    return each_pair(L, v, "limits.agents entries", limits_pair, &a->limits);
}

static int limits_pair(loader *L, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    cs_limits *lim = ctx;
    if (!strcmp(key, "requests_per_minute")) return limit_int(L, v, key, &lim->requests_per_minute);
    if (!strcmp(key, "concurrent_pending")) return limit_int(L, v, key, &lim->concurrent_pending);
    if (!strcmp(key, "classes")) return set_classes(L, v, lim);
    if (!strcmp(key, "agents") && lim == &L->c->limits)
        return each_pair(L, v, "limits.agents", agents_pair, L->c);
    if (strcmp(key, "denials")) return bad(L, k, "unknown key '%s' in limits", key);
    int rc = each_pair(L, v, "limits.denials", denials_pair, lim);
    if (rc == 0 && (lim->denials == 0 || lim->denials_window_s == 0))
        return bad(L, v, "%s needs count and window", "limits.denials");
    return rc;
}

static int set_value(loader *L, const key_spec *k, yaml_node_t *n)
{
    char *base = (char *)L->c + k->offset;
    const char *s = scalar(n);
    if (k->type <= K_STORAGE && s == NULL) return bad(L, n, "%s must be a scalar", k->path);
    switch (k->type) {
    case K_STRING:
    case K_PATH:
        free(*(char **)base);
        *(char **)base = k->type == K_PATH ? resolve(L, s) : cs_strdup(s);
        return 0;
    case K_ENVNAME:
        if (!env_name_ok(s)) return bad(L, n, "%s must name an environment variable", k->path);
        free(*(char **)base);
        *(char **)base = cs_strdup(s);
        return 0;
    case K_STORAGE:
        if (strcmp(s, "sqlite") && strncmp(s, "postgres://", 11) && strncmp(s, "postgresql://", 13))
            return bad(L, n, "%s must be sqlite or a postgres:// URL", k->path);
        free(*(char **)base);
        *(char **)base = cs_strdup(s);
        return 0;
    case K_DURATION:
        if (cs_parse_duration(s, (long long *)base) != 0)
            return bad(L, n, "%s must be a duration such as 15m or 50s", k->path);
        return 0;
    case K_INT: {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end || end == s || v <= 0 || v > 1000000)
            return bad(L, n, "%s must be a positive integer", k->path);
        *(long long *)base = v;
        return 0;
    }
    case K_ENVMAP:
        return set_string_map(L, n, k->path, (json_t **)base, 1);
    case K_WEBHOOKS:
        return set_webhooks(L, n, (json_t **)base);
    case K_ROUTES:
        return set_routes(L, n, (json_t **)base);
    case K_LIMITS:
        return each_pair(L, n, "limits", limits_pair, base);
    case K_TARGETS:
        return set_targets(L, n, k->path, (json_t **)base);
    }
    return CS_EINTERNAL;
}

/* Walks a mapping; a key is either a leaf of the table or a prefix of some entries. */
static int walk(loader *L, yaml_node_t *map, const char *prefix)
{
    if (map->type != YAML_MAPPING_NODE)
        return bad(L, map, "%s must be a mapping", prefix[0] ? prefix : "the document");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        if (!scalar(k)) return bad(L, k, "%s", "keys must be scalars");
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", scalar(k));
        int found = 0, rc;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (!strcmp(keys[i].path, path)) {
                if (L->path_set[i]) return bad(L, k, "duplicate key '%s'", path);
                L->path_set[i] = 1;
                if ((rc = set_value(L, &keys[i], v)) != 0) return rc;
                found = 1;
                break;
            }
            size_t pl = strlen(path);
            if (!strncmp(keys[i].path, path, pl) && keys[i].path[pl] == '.') found = 2;
        }
        if (found == 2 && (rc = walk(L, v, path)) != 0) return rc;
        if (!found) return bad(L, k, "unknown key '%s'", path);
    }
    return 0;
}

static void defaults(cs_config *c, const char *base)
{
    memset(c, 0, sizeof *c);
    c->listen = cs_strdup("127.0.0.1:8080");
    c->public_url = cs_strdup("http://127.0.0.1:8080");
    c->data_dir = cs_strdup(base);
    c->storage = cs_strdup("sqlite");
    c->policy_dir = cs_sprintf("%s/policy", base);
    c->default_timeout_s = 15 * 60;
    c->hold_budget_s = 50;
    c->receipt_ttl_s = 15 * 60;
    c->max_wait_s = 300;
    c->audit_origin = cs_strdup("countersign.example/demo");
    c->audit_tsa_interval_s = 60;
    c->http_threads = 2;
    c->http_max_connections = 16384;
    c->slack_api_url = cs_strdup("https://slack.com/api");
    c->notify_dead_letter_after_s = 24 * 3600;
}

int cs_config_load(const char *path, cs_config *out, cs_err *err)
{
    loader L = {.file = path, .c = out, .err = err};
    char *copy = cs_strdup(path);
    L.base = cs_strdup(dirname(copy));
    free(copy);
    defaults(out, L.base);
    out->path = cs_strdup(path);
    int rc = 0, have_doc = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        rc = cs_err_set(err, CS_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &L.doc)) {
        rc = cs_err_set(err, CS_EPARSE, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                        parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        fclose(f);
        goto out;
    }
    have_doc = 1;
    yaml_parser_delete(&parser);
    fclose(f);
    yaml_node_t *root = yaml_document_get_root_node(&L.doc);
    if (root != NULL && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
        rc = walk(&L, root, "");
    if (rc == 0) {
        if (out->database == NULL) out->database = cs_sprintf("%s/countersign.db", out->data_dir);
        if (out->signing_key == NULL)
            out->signing_key = cs_sprintf("%s/signing.key", out->data_dir);
    }
out:
    if (have_doc) yaml_document_delete(&L.doc);
    free(L.base);
    if (rc != 0) cs_config_free(out);
    return rc;
}

static void limits_free(cs_limits *l)
{
    for (size_t i = 0; i < l->n_classes; i++)
        free(l->classes[i].action);
    free(l->classes);
}

const cs_limits *cs_config_limits_for(const cs_config *c, const char *agent)
{
    for (size_t i = 0; i < c->n_agent_limits; i++)
        if (!strcmp(c->agent_limits[i].agent, agent)) return &c->agent_limits[i].limits;
    return &c->limits;
}

void cs_config_free(cs_config *c)
{
    limits_free(&c->limits);
    for (size_t i = 0; i < c->n_agent_limits; i++) {
        free(c->agent_limits[i].agent);
        limits_free(&c->agent_limits[i].limits);
    }
    free(c->agent_limits);
    json_decref(c->freeze_notify);
    free(c->path);
    free(c->listen);
    free(c->public_url);
    free(c->data_dir);
    free(c->storage);
    free(c->database);
    free(c->policy_dir);
    free(c->signing_key);
    free(c->audit_origin);
    free(c->audit_tsa_url);
    free(c->audit_tsa_ca_file);
    free(c->slack_api_url);
    free(c->slack_bot_token_env);
    free(c->slack_signing_secret_env);
    json_decref(c->teams_webhooks);
    json_decref(c->webhooks);
    json_decref(c->routes);
    json_decref(c->pg_users);
    memset(c, 0, sizeof *c);
}
