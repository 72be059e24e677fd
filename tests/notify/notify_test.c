/* notify_test.c - see notify_test.h. */
#include "notify_test.h"

#include <curl/curl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char nt_policy[] =
    "@id(\"export-needs-dba\") @approval(\"dba\") @quorum(\"2\") @reason(\"Exports of customer "
    "data need two DBAs\")\n"
    "@notify(\"slack:#db-approvals,teams:dba,webhook:siem\")\n"
    "permit (principal, action == Action::\"db.export\", resource in Resource::\"prod\");\n"
    "@id(\"deploy-needs-one\") @approval(\"dba\")\n"
    "permit (principal, action == Action::\"deploy.apply\", resource in Resource::\"prod\");\n"
    "@id(\"unroutable\") @approval(\"dba\") @notify(\"webhook:nowhere\")\n"
    "permit (principal, action == Action::\"test.dead\", resource);\n"
    "@id(\"quick-expiry\") @approval(\"dba\") @timeout(\"1s\") "
    "@notify(\"slack:#db-approvals,webhook:siem\")\n"
    "permit (principal, action == Action::\"test.expire\", resource);\n"
    "@id(\"routine-reads\")\n"
    "permit (principal, action == Action::\"db.read\", resource);\n";

static void write_file(const char *path, const char *mode, const char *text)
{
    FILE *f = fopen(path, mode);
    if (f == NULL || fputs(text, f) < 0) abort();
    fclose(f);
}

void nt_start(td *d, fake_peer *f)
{
    nt_start_with(d, f, "1h");
}

void nt_start_with(td *d, fake_peer *f, const char *dead_letter_after)
{
    td_start(d);
    td_stop(d);
    char path[400], cfg[2048];
    snprintf(path, sizeof path, "%s/data/policy/demo.cedar", d->dir);
    write_file(path, "w", nt_policy);
    int p = fake_port(f);
    snprintf(cfg, sizeof cfg,
             "notify:\n"
             "  slack:\n"
             "    api_url: http://127.0.0.1:%d/api\n"
             "    bot_token_env: SLACK_BOT_TOKEN\n"
             "    signing_secret_env: SLACK_SIGNING_SECRET\n"
             "  teams:\n"
             "    webhooks: { dba: TEAMS_DBA_WEBHOOK_URL }\n"
             "  webhooks:\n"
             "    - { name: siem, url: \"http://127.0.0.1:%d/hook/siem\", secret_env: "
             "SIEM_WEBHOOK_SECRET }\n"
             "  routes:\n"
             "    dba: [ \"slack:#deploys\" ]\n"
             "  dead_letter_after: %s\n",
             p, p, dead_letter_after);
    snprintf(path, sizeof path, "%s/data/countersign.yaml", d->dir);
    write_file(path, "a", cfg);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/teams/dba", p);
    setenv("SLACK_BOT_TOKEN", NT_BOT_TOKEN, 1);
    setenv("SLACK_SIGNING_SECRET", NT_SLACK_SECRET, 1);
    setenv("TEAMS_DBA_WEBHOOK_URL", url, 1);
    setenv("SIEM_WEBHOOK_SECRET", NT_WEBHOOK_SECRET, 1);
    td_serve(d);
}

static void make_token(td *d, json_t *body)
{
    char *text = json_dumps(body, 0);
    td_resp r = td_req(d, "POST", "/v1/tokens", "admin", text, NULL, NULL);
    free(text);
    if (r.status != 201) {
        fprintf(stderr, "token create: %ld %s\n", r.status, r.text);
        abort();
    }
    json_object_set(d->tokens, json_string_value(json_object_get(body, "name")),
                    json_object_get(r.json, "token"));
    td_resp_free(&r);
    json_decref(body);
}

void nt_user(td *d, const char *name, const char *group, const char *slack_id)
{
    json_t *b = json_pack("{s:s,s:s,s:[s]}", "kind", "user", "name", name, "groups", group);
    if (slack_id) json_object_set_new(b, "slack_id", json_string(slack_id));
    make_token(d, b);
}

void nt_agent(td *d, const char *name, const char *owner)
{
    make_token(d, json_pack("{s:s,s:s,s:s}", "kind", "agent", "name", name, "owner", owner));
}

char *nt_submit(td *d, const char *who, const char *action, const char *resource)
{
    json_t *a = td_submit(d, who, action, resource);
    char *id = strdup(json_string_value(json_object_get(a, "id")));
    json_decref(a);
    return id;
}

char *nt_form(const char *payload)
{
    size_t n = strlen(payload);
    char *out = malloc(8 + n * 3 + 1), *o = out;
    o += sprintf(o, "payload=");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)payload[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.~", c))
            *o++ = (char)c;
        else if (c == ' ')
            *o++ = '+';
        else
            o += sprintf(o, "%%%02X", c);
    }
    *o = '\0';
    return out;
}

td_resp nt_slack_post(td *d, const char *body, const char *secret, long long ts)
{
    char base[64];
    snprintf(base, sizeof base, "v0:%lld:", ts);
    unsigned char mac[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)base, strlen(base));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return nt_slack_post_raw(d, body, hex, ts);
}

static size_t sink(char *p, size_t size, size_t nmemb, void *ud)
{
    char **s = ud;
    size_t old = *s ? strlen(*s) : 0, n = size * nmemb;
    *s = realloc(*s, old + n + 1);
    memcpy(*s + old, p, n);
    (*s)[old + n] = '\0';
    return n;
}

td_resp nt_slack_post_raw(td *d, const char *body, const char *sig_hex, long long ts)
{
    char url[256], sig[128], tsh[64];
    snprintf(url, sizeof url, "%s/integrations/slack/interactions", d->url);
    snprintf(sig, sizeof sig, "X-Slack-Signature: v0=%s", sig_hex);
    snprintf(tsh, sizeof tsh, "X-Slack-Request-Timestamp: %lld", ts);
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    if (sig_hex) h = curl_slist_append(h, sig);
    h = curl_slist_append(h, tsh);
    h = curl_slist_append(h, "Expect:");
    td_resp r = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.text);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (r.text == NULL) r.text = strdup("");
    r.headers = strdup("");
    return r;
}

char *nt_click(const char *user, const char *action_id, const char *value)
{
    json_t *p = json_pack("{s:s,s:{s:s,s:s},s:{s:s},s:{s:s},s:s,s:[{s:s,s:s,s:s}]}", "type",
                          "block_actions", "user", "id", user, "username", "someone", "team", "id",
                          "T0FAKE", "channel", "id", "C0FAKE", "trigger_id", "1234.5678.abcdef",
                          "actions", "action_id", action_id, "value", value, "type", "button");
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    char *form = nt_form(text);
    free(text);
    return form;
}

char *nt_deny_submission(const char *user, const char *id, const char *reason)
{
    char meta[128];
    snprintf(meta, sizeof meta, "%s C0FAKE", id);
    json_t *p = json_pack("{s:s,s:{s:s},s:{s:s,s:s,s:{s:{s:{s:{s:s,s:s}}}}}}", "type",
                          "view_submission", "user", "id", user, "view", "callback_id", "cs_deny",
                          "private_metadata", meta, "state", "values", "reason", "reason", "type",
                          "plain_text_input", "value", reason);
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    char *form = nt_form(text);
    free(text);
    return form;
}

long nt_outbox_count(td *d, const char *state)
{
    char path[400];
    snprintf(path, sizeof path, "%s/data/countersign.db", d->dir);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) abort();
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM outbox WHERE state=?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

long nt_wait_audit(td *d, const char *type, const char *action_id, long n)
{
    for (int i = 0; i < 3000; i++) {
        long got = td_audit_count(d, type, action_id);
        if (got >= n) return got;
        usleep(20000);
    }
    fprintf(stderr, "audit: %ld %s entries never came\n", n, type);
    abort();
}

long long nt_sql(td *d, const char *sql)
{
    char path[400];
    snprintf(path, sizeof path, "%s/data/countersign.db", d->dir);
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) abort();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) abort();
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}
