/* config.h - countersign.yaml (SPEC §7), parsed with libyaml against a table of keys.
 *
 * Unknown keys and bad values are errors naming file:line. Relative paths are
 * resolved against the folder of the file. Secrets are never in the file: keys
 * ending in _env name environment variables. */
#ifndef CS_CONFIG_CONFIG_H
#define CS_CONFIG_CONFIG_H

#include <jansson.h>

#include "util/error.h"

/* Automatic freeze (docs/freeze.md): limits per agent; 0 means no limit. */
typedef struct cs_limit_class {
    char *action;       /* an action name, e.g. db.export */
    long long per_hour; /* at most this many requests of it in the last hour */
} cs_limit_class;

typedef struct cs_limits {
    long long requests_per_minute;
    long long denials, denials_window_s; /* at most `denials` denials within the window */
    long long concurrent_pending;
    cs_limit_class *classes;
    size_t n_classes;
} cs_limits;

typedef struct cs_agent_limits {
    char *agent;
    cs_limits limits; /* replaces the defaults for this agent */
} cs_agent_limits;

typedef struct cs_config {
    char *path;
    char *listen;
    char *public_url;
    char *data_dir;    /* resolved */
    char *storage;     /* "sqlite" or a postgres:// URL */
    char *database;    /* sqlite file, resolved (default data_dir/countersign.db) */
    char *policy_dir;  /* resolved */
    char *signing_key; /* resolved (default data_dir/signing.key) */
    long long default_timeout_s;
    long long hold_budget_s;
    long long receipt_ttl_s;
    long long max_wait_s;
    char *audit_origin;
    char *audit_tsa_url;             /* RFC 3161 TSA; NULL: no time-stamps */
    char *audit_tsa_ca_file;         /* resolved; NULL: replies are checked but not their signature */
    long long audit_tsa_interval_s;  /* at most one stamp per interval */
    long long http_threads;
    long long http_max_connections;
    char *slack_api_url;
    char *slack_bot_token_env;
    char *slack_signing_secret_env;
    json_t *teams_webhooks; /* {route: env var name} */
    json_t *webhooks;       /* [{name, url, secret_env}] */
    json_t *routes;         /* {route: ["slack:#x", ...]} */
    json_t *pg_users;       /* {database user: env var holding its countersign token} */
    long long notify_dead_letter_after_s; /* undelivered notifications give up after this */
    cs_limits limits;                     /* limits.* : every agent's */
    cs_agent_limits *agent_limits;        /* limits.agents.NAME */
    size_t n_agent_limits;
    json_t *freeze_notify; /* ["slack:#security", "webhook:siem"]: freeze events */
} cs_config;

/* Fills out with defaults, then what the file says. On error out is left freed. */
int cs_config_load(const char *path, cs_config *out, cs_err *err);
void cs_config_free(cs_config *c);
/* "15m", "50s", "2h", "1d", "300" (seconds) -> seconds. */
int cs_parse_duration(const char *text, long long *secs);
/* The limits that apply to an agent: its own entry, else the defaults. */
const cs_limits *cs_config_limits_for(const cs_config *c, const char *agent);

#endif
