/* notify.h - notifications of SPEC §4: Slack, Microsoft Teams and Standard Webhooks
 * through a durable outbox, and Slack's interactivity endpoint.
 *
 * The gateway calls cs_notify_enqueue() on its writer thread, inside the
 * transaction that stores an action's change, so a notification exists exactly
 * when its event does. A delivery thread (libcurl multi) sends the rows with
 * retries and backoff, records every attempt, and moves rows it cannot deliver in
 * time to a dead-letter state. Votes cast in Slack go through the same gateway
 * operations (and so the same separation-of-duties rules) as the HTTP API. */
#ifndef CS_NOTIFY_NOTIFY_H
#define CS_NOTIFY_NOTIFY_H

#include <jansson.h>
#include <stddef.h>

#include "config/config.h"
#include "store/store.h"
#include "store/writer.h"
#include "util/error.h"

typedef struct cs_notify cs_notify;
struct cs_gateway;

/* Reads the secrets named in the config from the environment. */
int cs_notify_new(struct cs_gateway *gw, const cs_config *cfg, cs_store *store, cs_notify **out,
                  cs_err *err);
/* Starts the delivery thread; it queues its bookkeeping through `writer`. */
int cs_notify_start(cs_notify *n, cs_writer *writer, cs_err *err);
/* Stops the delivery thread (must run before the writer stops). */
void cs_notify_stop(cs_notify *n);
void cs_notify_free(cs_notify *n);
/* Writer thread, inside the transaction: adds an outbox row per target for the
 * event this stored version of an action represents. Actions that never waited
 * for approval notify nobody. */
int cs_notify_enqueue(cs_notify *n, cs_store *s, const json_t *doc, long long now_ms, size_t *added);
/* Writer thread, inside the transaction: an event that is not an action's (the kill
 * switch's agent.frozen / agent.unfrozen) to each target; `key` stands in for the
 * action id (unique per event); payload.text is what Slack shows. */
int cs_notify_enqueue_event(cs_notify *n, cs_store *s, const char *event, const char *key,
                            const json_t *payload, const json_t *targets, long long now_ms);
/* After a commit: new rows may be due. */
void cs_notify_kick(cs_notify *n);

/* Prometheus text for /metrics: outbox rows per state (pending, done, dead). The
 * caller frees; "" when the store cannot say. */
char *cs_notify_metrics(cs_notify *n);

/* POST /integrations/slack/interactions. The HTTP layer hands over the raw body and
 * the two Slack headers; the answer is a status and a body (JSON or empty). */
typedef struct cs_slack_request {
    const char *body;
    size_t len;
    const char *timestamp; /* X-Slack-Request-Timestamp */
    const char *signature; /* X-Slack-Signature */
    const char *peer;      /* client address, for the audit log */
} cs_slack_request;

typedef struct cs_slack_answer {
    int status;
    char *body; /* may be NULL (empty); the caller frees */
    const char *content_type;
} cs_slack_answer;

void cs_notify_slack_interaction(cs_notify *n, const cs_slack_request *req, cs_slack_answer *ans);

#endif
