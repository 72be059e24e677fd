/* notify.c - the notifier object: secrets from the environment (SPEC §7), the
 * channel table, and teardown. */
#include "notify/notify_int.h"

#include "util/alloc.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

static const cs_channel *const channels[] = {&cs_channel_slack, &cs_channel_teams,
                                             &cs_channel_webhook};

const cs_channel *cs_channel_find(const char *target)
{
    const char *colon = strchr(target, ':');
    if (colon == NULL) return NULL;
    size_t n = (size_t)(colon - target);
    for (size_t i = 0; i < sizeof channels / sizeof channels[0]; i++)
        if (strlen(channels[i]->scheme) == n && !memcmp(channels[i]->scheme, target, n))
            return channels[i];
    return NULL;
}

/* A secret from the variable the config names; NULL when not configured. */
static int secret(const char *var, const char *what, char **out, cs_err *err)
{
    *out = NULL;
    if (var == NULL) return 0;
    const char *v = getenv(var);
    if (v == NULL || !*v)
        return cs_err_set(err, CS_EINVAL, "%s: environment variable %s is not set", what, var);
    *out = cs_strdup(v);
    return 0;
}

static void wipe(char *s)
{
    if (s == NULL) return;
    memset(s, 0, strlen(s));
    free(s);
}

int cs_notify_new(struct cs_gateway *gw, const cs_config *cfg, cs_store *store, cs_notify **out,
                  cs_err *err)
{
    cs_notify *n = cs_calloc(1, sizeof *n);
    n->gw = gw;
    n->cfg = cfg;
    n->store = store;
    n->dead_after_ms = cfg->notify_dead_letter_after_s * 1000;
    pthread_mutex_init(&n->lock, NULL);
    int rc = secret(cfg->slack_bot_token_env, "notify.slack.bot_token_env", &n->slack_token, err);
    if (rc == 0)
        rc = secret(cfg->slack_signing_secret_env, "notify.slack.signing_secret_env",
                    &n->slack_secret, err);
    if (rc != 0) {
        cs_notify_free(n);
        return rc;
    }
    n->multi = curl_multi_init();
    n->replay = cs_slack_replay_new();
    *out = n;
    return 0;
}

char *cs_notify_metrics(cs_notify *n)
{
    json_t *counts = NULL;
    if (n == NULL || n->store->ops->outbox_counts == NULL ||
        n->store->ops->outbox_counts(n->store, &counts) != 0) {
        json_decref(counts);
        return cs_strdup("");
    }
    static const char *const states[] = {"pending", "done", "dead"};
    char *text = cs_strdup("# TYPE countersign_notify_outbox gauge\n");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        char *more = cs_sprintf("%scountersign_notify_outbox{state=\"%s\"} %lld\n", text, states[i],
                                (long long)json_integer_value(json_object_get(counts, states[i])));
        free(text);
        text = more;
    }
    json_decref(counts);
    return text;
}

void cs_notify_free(cs_notify *n)
{
    if (n == NULL) return;
    cs_notify_stop(n);
    pthread_mutex_lock(&n->lock);
    CURLM *m = n->multi;
    n->multi = NULL;
    pthread_mutex_unlock(&n->lock);
    if (m) curl_multi_cleanup(m);
    cs_notify_calls_free(n);
    cs_slack_replay_free(n->replay);
    wipe(n->slack_token);
    wipe(n->slack_secret);
    free(n->inflight);
    free(n->active);
    pthread_mutex_destroy(&n->lock);
    free(n);
}
