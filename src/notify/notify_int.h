/* notify_int.h - what the files of src/notify/ share: the notifier object, the
 * channel vtable (one file per channel: notify_slack.c, notify_teams.c,
 * notify_webhook.c) and the request/response types the delivery thread speaks. */
#ifndef CS_NOTIFY_INT_H
#define CS_NOTIFY_INT_H

#include "notify/notify.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#define CS_NOTIFY_RESP_MAX (256 * 1024) /* cap on any peer's answer */
#define CS_SLACK_BODY_MAX (64 * 1024)   /* cap on an interaction request */

typedef struct cs_slack_replay cs_slack_replay;
typedef struct cs_notify_call cs_notify_call;

struct cs_notify {
    struct cs_gateway *gw;
    const cs_config *cfg;
    cs_store *store;
    cs_writer *writer;
    char *slack_token;  /* bot token (xoxb-...), NULL when Slack is not configured */
    char *slack_secret; /* signing secret, NULL when interactivity is not configured */
    long long dead_after_ms;
    pthread_t thread;
    int started;
    atomic_int stopping;
    atomic_int kicked;
    pthread_mutex_t lock; /* guards inflight, calls and multi's lifetime */
    CURLM *multi;
    /* Outbox rows being sent or waiting for their bookkeeping. An entry stays after
     * its result commits (done = the commit's sequence number) until a scan that
     * started after that commit has run: an older scan's snapshot may still show the
     * row as due, and must not send it again. */
    struct cs_inflight {
        long long id;
        unsigned long long done; /* 0 while in flight */
    } *inflight;
    size_t n_inflight, cap_inflight;
    unsigned long long done_seq; /* results committed so far */
    cs_notify_call *calls; /* immediate, non-durable Slack calls (views.open, ephemeral) */
    void **active;         /* transfers in the multi handle (delivery thread only) */
    size_t n_active, cap_active;
    cs_slack_replay *replay;
};

/* One HTTP request a channel wants sent. */
typedef struct cs_notify_req {
    char *url;
    struct curl_slist *headers;
    char *body;
} cs_notify_req;

void cs_notify_req_free(cs_notify_req *r);

/* An outbox row as the delivery thread hands it to a channel. */
typedef struct cs_notify_msg {
    long long id;
    const char *msg_id;
    const char *target; /* full target, e.g. slack:#db-approvals */
    const char *dest;   /* the part after the scheme */
    const char *action_id;
    const char *event;
    json_t *action;  /* the action as it was at the event */
    const char *ref; /* what the channel remembered for this action, or NULL */
    int attempts;
    long long created_at;
} cs_notify_msg;

enum { CS_NOTIFY_OK, CS_NOTIFY_RETRY, CS_NOTIFY_FAIL };

typedef struct cs_notify_result {
    int outcome;
    char *ref; /* to remember for this (action, target), or NULL */
    char error[256];
} cs_notify_result;

typedef struct cs_channel {
    const char *scheme;
    /* 1 when the channel announces this event. */
    int (*wants)(const char *event);
    /* Builds the request; a negative return is a permanent failure (detail in err). */
    int (*build)(cs_notify *n, const cs_notify_msg *m, cs_notify_req *req, cs_err *err);
    /* Reads a 2xx answer (the delivery thread handles transport errors, 429 and
     * 5xx itself). NULL: any 2xx is success. */
    void (*result)(cs_notify *n, const cs_notify_msg *m, const char *body, cs_notify_result *out);
} cs_channel;

extern const cs_channel cs_channel_slack;
extern const cs_channel cs_channel_teams;
extern const cs_channel cs_channel_webhook;
const cs_channel *cs_channel_find(const char *target);

/* notify_webhook.c: "v1,<base64 HMAC-SHA256(key, id.ts.body)>" */
char *cs_webhook_signature(const unsigned char *key, size_t key_len, const char *id, long long ts,
                           const char *body);

/* notify_route.c */
/* The targets of an action: each approval requirement's @notify, else the
 * notify.routes of its approver groups; deduplicated, in order. */
json_t *cs_notify_targets(const cs_config *cfg, const json_t *doc);
/* The event a stored version of an action announces, or NULL. */
const char *cs_notify_event(const json_t *doc);

/* notify_outbox.c: an immediate Slack Web API call (not durable; for answers to a
 * click that only make sense within seconds). Takes ownership of body. */
void cs_notify_slack_call(cs_notify *n, const char *method, json_t *body);
void cs_notify_calls_free(cs_notify *n);

/* notify_slack.c */
/* The Block Kit message for an action in its current state. */
json_t *cs_slack_blocks(const cs_config *cfg, const json_t *action);
char *cs_slack_fallback_text(const json_t *action);
/* A JSON POST to the Slack Web API method with the bot token. */
int cs_slack_api_req(cs_notify *n, const char *method, const json_t *body, cs_notify_req *req,
                     cs_err *err);

/* notify_slack_verify.c: X-Slack-Signature (v0) */
enum {
    CS_SLACK_SIG_OK = 0,
    CS_SLACK_SIG_MISSING = 1,
    CS_SLACK_SIG_STALE,
    CS_SLACK_SIG_BAD,
    CS_SLACK_SIG_REPLAY,
    CS_SLACK_SIG_BUSY
};
#define CS_SLACK_WINDOW_S 300
/* Checks timestamp (within 5 minutes of now_s) and signature in constant time. */
int cs_slack_verify(const char *secret, const char *timestamp, const char *signature,
                    const char *body, size_t len, long long now_s);
cs_slack_replay *cs_slack_replay_new(void);
void cs_slack_replay_free(cs_slack_replay *r);
/* Remembers a verified signature; CS_SLACK_SIG_REPLAY when it was seen before. */
int cs_slack_replay_check(cs_slack_replay *r, const char *signature, long long ts, long long now_s);
const char *cs_slack_sig_reason(int code);

/* notify_slack_payload.c: the interaction payload, parsed into a typed struct
 * before anything acts on it. */
enum { CS_SLACK_BLOCK_ACTION = 1, CS_SLACK_VIEW_SUBMISSION };
enum { CS_SLACK_APPROVE = 1, CS_SLACK_DENY, CS_SLACK_OPEN };
#define CS_SLACK_ID_MAX 64
#define CS_SLACK_TRIGGER_MAX 256
#define CS_SLACK_REASON_MAX 4096
typedef struct cs_slack_interaction {
    int type;
    int verb; /* block actions: approve, deny or open (the link button) */
    char user_id[CS_SLACK_ID_MAX + 1];
    char channel_id[CS_SLACK_ID_MAX + 1];
    char action_id[CS_SLACK_ID_MAX + 1]; /* countersign action id */
    char trigger_id[CS_SLACK_TRIGGER_MAX + 1];
    char reason[CS_SLACK_REASON_MAX + 1]; /* view submission */
} cs_slack_interaction;
int cs_slack_interaction_parse(const char *body, size_t len, cs_slack_interaction *out,
                               cs_err *err);

#endif
