/* notify_slack_verify.c - Slack request signing, v0
 * (https://api.slack.com/authentication/verifying-requests-from-slack): X-Slack-Signature = "v0=" +
 * hex HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}"), timestamps more than five minutes
 * from now refused, constant-time comparison, and a memory of recent signatures so that a captured
 * request cannot be replayed inside the window. */
#include "notify/notify_int.h"

#include "crypto/crypto.h"
#include "util/alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_SLOTS 8192

typedef struct seen {
    unsigned char sig[32];
    long long ts;
} seen;

struct cs_slack_replay {
    pthread_mutex_t lock;
    seen *slots;
    size_t n;
};

static int parse_ts(const char *s, long long *out)
{
    if (s == NULL || !*s || strlen(s) > 12) return -1;
    long long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

static int unhex(const char *hex, unsigned char out[32])
{
    size_t bin_len = 0;
    if (strlen(hex) != 64) return -1;
    if (sodium_hex2bin(out, 32, hex, 64, NULL, &bin_len, NULL) != 0 || bin_len != 32) return -1;
    return 0;
}

int cs_slack_verify(const char *secret, const char *timestamp, const char *signature,
                    const char *body, size_t len, long long now_s)
{
    long long ts;
    unsigned char given[32], mac[32];
    if (secret == NULL || timestamp == NULL || signature == NULL) return CS_SLACK_SIG_MISSING;
    if (parse_ts(timestamp, &ts) != 0 || strncmp(signature, "v0=", 3) != 0 ||
        unhex(signature + 3, given) != 0)
        return CS_SLACK_SIG_BAD;
    if (ts < now_s - CS_SLACK_WINDOW_S || ts > now_s + CS_SLACK_WINDOW_S) return CS_SLACK_SIG_STALE;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"v0:", 3);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)":", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    return cs_ct_equal(mac, given, sizeof mac) ? CS_SLACK_SIG_OK : CS_SLACK_SIG_BAD;
}

cs_slack_replay *cs_slack_replay_new(void)
{
    cs_slack_replay *r = cs_calloc(1, sizeof *r);
    r->slots = cs_calloc(REPLAY_SLOTS, sizeof *r->slots);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void cs_slack_replay_free(cs_slack_replay *r)
{
    if (r == NULL) return;
    pthread_mutex_destroy(&r->lock);
    free(r->slots);
    free(r);
}

/* Forgets signatures whose timestamps have left the window: they would be refused
 * as stale anyway. */
static void expire(cs_slack_replay *r, long long now_s)
{
    size_t j = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->slots[i].ts >= now_s - CS_SLACK_WINDOW_S) r->slots[j++] = r->slots[i];
    r->n = j;
}

int cs_slack_replay_check(cs_slack_replay *r, const char *signature, long long ts, long long now_s)
{
    unsigned char sig[32];
    if (unhex(signature + 3, sig) != 0) return CS_SLACK_SIG_BAD;
    int rc = CS_SLACK_SIG_OK;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && rc == CS_SLACK_SIG_OK; i++)
        if (!memcmp(r->slots[i].sig, sig, sizeof sig)) rc = CS_SLACK_SIG_REPLAY;
    if (rc == CS_SLACK_SIG_OK && r->n == REPLAY_SLOTS) expire(r, now_s);
    /* Full of live signatures: refuse rather than forget one that could be replayed. */
    if (rc == CS_SLACK_SIG_OK && r->n == REPLAY_SLOTS) rc = CS_SLACK_SIG_BUSY;
    if (rc == CS_SLACK_SIG_OK) {
        memcpy(r->slots[r->n].sig, sig, sizeof sig);
        r->slots[r->n++].ts = ts;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

const char *cs_slack_sig_reason(int code)
{
    switch (code) {
    case CS_SLACK_SIG_MISSING:
        return "missing-signature";
    case CS_SLACK_SIG_STALE:
        return "stale-timestamp";
    case CS_SLACK_SIG_BAD:
        return "bad-signature";
    case CS_SLACK_SIG_REPLAY:
        return "replayed";
    case CS_SLACK_SIG_BUSY:
        return "replay-cache-full";
    }
    return "ok";
}
