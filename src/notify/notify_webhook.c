/* notify_webhook.c - generic webhooks signed per the Standard Webhooks
 * specification (https://www.standardwebhooks.com): headers webhook-id (stable
 * across retries), webhook-timestamp (seconds, per attempt) and webhook-signature
 * "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>"; the secret is
 * "whsec_<base64>" from the environment variable named by secret_env. Body:
 * {type, timestamp, data: the action}. */
#include "notify/notify_int.h"

#include "gateway/gateway.h"
#include "util/alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET_MAX 128

static const json_t *find_hook(const cs_config *cfg, const char *name)
{
    size_t i;
    json_t *w;
    json_array_foreach(
        cfg->webhooks, i,
        w) if (!strcmp(json_string_value(json_object_get(w, "name")), name)) return w;
    return NULL;
}

/* whsec_<base64> -> key bytes; returns the length or -1. */
static long load_secret(const char *text, unsigned char *key, size_t cap)
{
    if (!strncmp(text, "whsec_", 6)) text += 6;
    size_t len = 0;
    if (sodium_base642bin(key, cap, text, strlen(text), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len == 0)
        return -1;
    return (long)len;
}

/* "v1," + base64 HMAC-SHA256 over "{id}.{timestamp}.{body}". */
char *cs_webhook_signature(const unsigned char *key, size_t key_len, const char *id, long long ts,
                           const char *body)
{
    char tsbuf[24];
    snprintf(tsbuf, sizeof tsbuf, "%lld", ts);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tsbuf, strlen(tsbuf));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return cs_sprintf("v1,%s", b64);
}

static int webhook_build(cs_notify *n, const cs_notify_msg *m, cs_notify_req *req, cs_err *err)
{
    const json_t *hook = find_hook(n->cfg, m->dest);
    if (hook == NULL)
        return cs_err_set(err, CS_EINVAL, "no notify.webhooks entry named '%s'", m->dest);
    const char *var = json_string_value(json_object_get(hook, "secret_env"));
    const char *secret = var ? getenv(var) : NULL;
    unsigned char key[SECRET_MAX];
    long key_len = secret ? load_secret(secret, key, sizeof key) : -1;
    if (key_len < 0)
        return cs_err_set(err, CS_EINVAL,
                          "webhook '%s' needs secret_env naming a variable with whsec_<base64>",
                          m->dest);
    json_t *msg = json_pack("{s:s,s:o,s:O}", "type", m->event, "timestamp",
                            cs_time_json(m->created_at), "data", m->action);
    req->body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    long long now = (long long)time(NULL);
    char *sig = cs_webhook_signature(key, (size_t)key_len, m->msg_id, now, req->body);
    sodium_memzero(key, sizeof key);
    char *h_id = cs_sprintf("webhook-id: %s", m->msg_id),
         *h_ts = cs_sprintf("webhook-timestamp: %lld", now),
         *h_sig = cs_sprintf("webhook-signature: %s", sig);
    req->url = cs_strdup(json_string_value(json_object_get(hook, "url")));
    req->headers = curl_slist_append(NULL, "Content-Type: application/json");
    req->headers = curl_slist_append(req->headers, h_id);
    req->headers = curl_slist_append(req->headers, h_ts);
    req->headers = curl_slist_append(req->headers, h_sig);
    req->headers = curl_slist_append(req->headers, "Expect:");
    free(h_id);
    free(h_ts);
    free(h_sig);
    free(sig);
    return 0;
}

/* Subscribers get the lifecycle, not each intermediate vote. */
static int webhook_wants(const char *event)
{
    return strcmp(event, "action.voted") != 0;
}

const cs_channel cs_channel_webhook = {"webhook", webhook_wants, webhook_build, NULL};
