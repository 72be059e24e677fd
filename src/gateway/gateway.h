/* gateway.h - the action lifecycle (SPEC §1, §3): submit -> policy decision ->
 * allowed | denied | pending -> approved | denied | expired | cancelled, votes with
 * every separation-of-duties rule, outcomes, receipts, tokens and idempotency.
 *
 * Every channel (HTTP API, CLI through the API, later Slack and the dashboard) goes
 * through these functions, so the rules hold for all of them. State-changing
 * operations are asynchronous: cs_gateway_run() hands an op to the store's writer
 * and op->complete() is called once the change and its audit entry are durable. */
#ifndef CS_GATEWAY_GATEWAY_H
#define CS_GATEWAY_GATEWAY_H

#include <jansson.h>

#include "config/config.h"
#include "gateway/watch.h"
#include "store/writer.h"
#include "util/error.h"

typedef struct cs_gateway cs_gateway;

/* What an operation answers: an HTTP status and a JSON body (an action, or an
 * RFC 9457 problem when problem is 1). */
typedef struct cs_reply {
    int status;
    json_t *body;
    int problem;
    int replayed; /* idempotent replay of an earlier submission */
    char *text;   /* body already serialised (owned); sent instead of body when set */
    const char *allow; /* a 405's Allow field: the methods the resource takes (static text) */
} cs_reply;

enum cs_op_kind {
    CS_OP_SUBMIT,
    CS_OP_APPROVE,
    CS_OP_DENY,
    CS_OP_CANCEL,
    CS_OP_OUTCOME,
    CS_OP_CONSUME,
    CS_OP_TOKEN_CREATE,
    CS_OP_TOKEN_REVOKE,
    CS_OP_EXPIRE,
    CS_OP_EVENT,
    CS_OP_FREEZE,
    CS_OP_UNFREEZE,
    CS_OP_ROLLBACK
};

typedef struct cs_op cs_op;
/* act_, 12 hex digits of time, 16 of randomness, and room to spare */
#define CS_ACTION_ID_MAX 48

struct cs_op {
    cs_write_job job; /* first member: the writer sees the op as a job */
    cs_gateway *gw;
    int kind;
    json_t *who;  /* the authenticated identity */
    char *source; /* client address, for the audit entry */
    char *id;     /* action id or token name */
    json_t *args; /* validated request body */
    char *idem_key;
    json_t *doc; /* prepared action (submit); NULL while op->lazy */
    /* Submit: the new action's id and args_hash ("sha256:<hex>"). An action the policy
     * decided at once is prepared as its texts only (pre_doc, pre_head, pre_tail) and
     * `lazy` is set: its tree is made from the text when something needs it
     * (cs_gw_op_doc), and new_status says what it is until then. */
    char action_id[CS_ACTION_ID_MAX];
    char args_hash[72];
    int lazy;
    const char *new_status;
    char *token; /* new token (token create) */
    long long now_ms;
    int receipt_wanted; /* submit asked for a receipt on an allowed action */
    int changed;        /* the action's state changed: wake its waiters after the commit */
    int notified;       /* outbox rows were added: wake the delivery thread after the commit */
    char hash[65];      /* token hash (token ops) */
    char *actor;        /* who's uid text, made once (cs_gw_actor) */
    char *stored_text;  /* the action as last written (owned) */
    /* Submit: the audit entry around its index and the action's text before its audit
     * index, rendered on the HTTP thread (action.c). Owned, NULL when not prepared. */
    char *pre_head, *pre_tail, *pre_doc;
    json_t *touched;    /* other actions this op changed (a freeze's cancellations) */
    int froze;          /* the op changed the freeze set (reloaded if the commit fails) */
    cs_reply reply;
    void (*complete)(cs_op *op); /* after durable commit; on the committing thread */
    void *ctx;
    /* Set by the caller when the op may commit on its own thread if the gateway is
     * quiet (cs_writer_try_inline): cs_gateway_run then returns with the op complete
     * and ran_inline set, complete() having been called on the caller's thread. */
    int may_inline;
    int ran_inline;
    /* Called just before the op goes to the writer thread (a caller that waits for
     * complete() from another thread gets ready there), unless it ran inline or was
     * refused. */
    void (*queued)(cs_op *op);
};

int cs_gateway_new(const cs_config *cfg, cs_gateway **out, cs_err *err);
/* Starts the writer and the reaper (expiry, long-poll deadlines). */
int cs_gateway_start(cs_gateway *gw, cs_err *err);
/* Fires every waiter and finishes in-flight writes. */
void cs_gateway_stop(cs_gateway *gw);
void cs_gateway_free(cs_gateway *gw);
int cs_gateway_reload_policy(cs_gateway *gw, cs_err *err);
const cs_config *cs_gateway_config(cs_gateway *gw);
cs_watchers *cs_gateway_watchers(cs_gateway *gw);
int cs_gateway_stopping(cs_gateway *gw);
/* Copies the version of the policy set in force ("sha256:..."), for proxies that cache. */
void cs_gateway_policy_version(cs_gateway *gw, char *out, size_t size);
/* A number that changes whenever the set of freezes in force changes (freeze.c): what
 * enforcement points that cache decisions watch, beside the policy version, to drop
 * them (GET /readyz). It starts from the gateway's start time, so a restart does not
 * repeat an earlier run's values. */
unsigned long long cs_gateway_freeze_epoch(cs_gateway *gw);
/* The same for the tokens: changes with every token created, rotated or revoked
 * (tokens.c), so that a revoked principal's cached decisions go with it. */
unsigned long long cs_gateway_token_epoch(cs_gateway *gw);

/* The tamper-evident log (audit_log.h). */
struct cs_audit_log *cs_gateway_audit_log(cs_gateway *gw);
/* Records an event that changes no other state (server start/stop, policy loads) as a
 * System actor; details is stolen. Events that change state (freeze/unfreeze) write
 * their entry in their own op with cs_gw_audit, in the same transaction. */
int cs_gateway_record(cs_gateway *gw, const char *event, json_t *details);

/* Resolves a bearer token to its identity (new reference), or NULL. */
json_t *cs_gateway_authenticate(cs_gateway *gw, const char *token);
/* The current identity of the user `name` (new reference), or NULL when it has no
 * live token: web sessions re-read it on every request, so revoking ends them and
 * group changes apply at once (SPEC §3 rule 4). */
json_t *cs_gateway_find_user(cs_gateway *gw, const char *name);
/* The user whose token carries this Slack user id (new reference), or NULL. */
json_t *cs_gateway_find_slack_user(cs_gateway *gw, const char *slack_id);
/* Queues a job of another subsystem (e.g. an audit entry) on the writer; refused
 * with CS_ECONFLICT while stopping. */
int cs_gateway_submit_job(cs_gateway *gw, cs_write_job *job);
/* The notifier (src/notify/). */
struct cs_notify *cs_gateway_notify(cs_gateway *gw);

/* Builds an op; `args` and `who` are borrowed (a reference is taken). */
cs_op *cs_op_new(cs_gateway *gw, int kind, json_t *who, const char *source, const char *id,
                 json_t *args);
void cs_op_free(cs_op *op);
/* Validates and decides what can be decided without the store (policy evaluation
 * for a submit). Returns 0 and queues the op for the writer (or, with may_inline on
 * a quiet gateway, commits it at once: ran_inline), or fills op->reply with a
 * problem and returns a negative code without queueing. */
int cs_gateway_run(cs_gateway *gw, cs_op *op);
/* Runs an op synchronously without the writer thread (init, tests). */
int cs_gateway_run_now(cs_gateway *gw, cs_op *op);

/* Reads: each fills reply. */
void cs_gateway_get(cs_gateway *gw, const char *id, cs_reply *reply);
void cs_gateway_list(cs_gateway *gw, const char *status, const char *requester, const char *limit,
                     const char *cursor, cs_reply *reply);
void cs_gateway_receipt_verify(cs_gateway *gw, json_t *args, cs_reply *reply);
void cs_gateway_whoami(json_t *who, cs_reply *reply);
/* GET /v1/freeze: {global, agents: [...]} (freeze.c). */
void cs_gateway_freezes(cs_gateway *gw, cs_reply *reply);
/* Prometheus text: countersign_frozen_agents and countersign_frozen_global gauges. */
char *cs_gateway_freeze_metrics(cs_gateway *gw);
/* Prometheus text: countersign_commits_total{thread="http"|"writer"} (transactions
 * by the thread that ran them) and countersign_committed_ops_total (gateway.c). */
char *cs_gateway_commit_metrics(cs_gateway *gw);
/* 1 when the action document's status is pending. */
int cs_action_is_pending(const json_t *doc);
/* approval.expires_at in ms since the epoch, 0 when absent. */
long long cs_action_expires_ms(const json_t *doc);

/* RFC 9457 problem document. type is a short name such as "self-approval". */
json_t *cs_problem(int status, const char *type, const char *title, const char *detail);
void cs_reply_problem(cs_reply *r, int status, const char *type, const char *detail);
/* 405 method-not-allowed with the Allow field RFC 9110 §15.5.6 requires ("GET, POST"). */
void cs_reply_not_allowed(cs_reply *r, const char *allow, const char *detail);
void cs_reply_clear(cs_reply *r);

/* Request-body schema checks shared by every channel (validate.c). */
typedef struct cs_field {
    const char *name;
    int type; /* json_type, or -1 for "string or null" */
    int required;
} cs_field;
int cs_validate_fields(const json_t *body, const cs_field *fields, cs_reply *bad);

long long cs_now_ms(void);
/* RFC 3339 UTC with milliseconds. */
json_t *cs_time_json(long long ms);

#endif
