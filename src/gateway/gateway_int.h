/* gateway_int.h - what the gateway's files share; not for other subsystems. */
#ifndef CS_GATEWAY_INT_H
#define CS_GATEWAY_INT_H

#include "crypto/crypto.h"
#include "gateway/audit_log.h"
#include "gateway/gateway.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/writer.h"

#include <pthread.h>
#include <stdatomic.h>

#define CS_CONTEXT_MAX (64 * 1024)

struct cs_gateway {
    const cs_config *cfg;
    cs_store *store;
    cs_writer *writer;
    cs_signer *signer;
    cs_audit_log *audit;
    struct cs_timestamper *tsa; /* RFC 3161 stamps of checkpoints, when audit.tsa_url is set */
    pthread_mutex_t policy_lock;
    cs_policy_set *policy;
    pthread_rwlock_t tok_lock;
    json_t *tokens; /* hash -> identity */
    unsigned long long token_epoch; /* bumped with every committed token change (under tok_lock) */
    cs_watchers *watchers;
    pthread_t reaper;
    int reaper_started;
    atomic_int stopping;
    pthread_rwlock_t run_lock; /* submissions vs. stopping the writer */
    atomic_llong next_expiry;
    atomic_llong last_key; /* the last action key handed out (store.h: action ids) */
    pthread_mutex_t reaper_lock;
    pthread_cond_t reaper_cond;
    struct cs_notify *notify; /* outbox and channels (src/notify/) */
    pthread_mutex_t freeze_lock;
    json_t *frozen; /* scope (agent name, "*" for all agents) -> freeze record (freeze.c) */
    unsigned long long freeze_epoch; /* bumped with every change of `frozen` (under its lock) */
    struct cs_limiter *limiter; /* automatic-freeze counters (limits.c) */
};

/* The policy set in force (new reference). */
cs_policy_set *cs_gw_policy(cs_gateway *gw);

/* action.c */
int cs_gw_prepare_submit(cs_gateway *gw, cs_op *op);
int cs_gw_prepare_simple(cs_gateway *gw, cs_op *op);
int cs_gw_apply(cs_store *s, cs_write_job *job);
int cs_gw_apply_submit(cs_gateway *gw, cs_op *op);
/* Checks a request's `rollback` block (the compensating action); 0 or a 400 problem. */
int cs_gw_check_rollback(cs_op *op, const json_t *rb);
/* The public view of a stored action (drops internal "_" keys). */
json_t *cs_gw_public(const json_t *doc);
char *cs_gw_uid(const json_t *who); /* Agent::"name" / User::"name" */
/* op->who's uid text, kept in the op: made on the HTTP thread for a submit, so the
 * writer does not format it again. */
const char *cs_gw_actor(cs_op *op);
/* The uid text of an action document's requester (new string). */
char *cs_gw_requester_uid(const json_t *doc);
/* op->doc, made from the op's stored text first when it was prepared as text only
 * (op->lazy); NULL only when that text does not parse (logged). */
json_t *cs_gw_op_doc(cs_op *op);
/* The status of op's action: its document's, or what it was prepared as. */
const char *cs_gw_op_status(const cs_op *op);
/* op->doc changed after cs_gw_prepare_submit rendered its entry and stored text on the
 * HTTP thread (a frozen agent's denial): drop them, the writer renders them itself. */
void cs_gw_unrender(cs_op *op);
int cs_gw_audit(cs_gateway *gw, cs_op *op, const char *type, const json_t *details,
                long long *index);

/* tokens.c */
int cs_gw_tokens_load(cs_gateway *gw, cs_err *err);
void cs_gw_tokens_free(cs_gateway *gw);
int cs_gw_prepare_token(cs_gateway *gw, cs_op *op);
int cs_gw_apply_token(cs_gateway *gw, cs_op *op);
void cs_gw_token_committed(cs_gateway *gw, cs_op *op);

/* receipts.c */
/* Issues op->doc's receipt and records receipt.issued. */
int cs_gw_receipt_issue(cs_gateway *gw, cs_op *op);
int cs_gw_prepare_consume(cs_gateway *gw, cs_op *op);
int cs_gw_apply_consume(cs_gateway *gw, cs_op *op);

/* timestamper.c */
typedef struct cs_timestamper cs_timestamper;
int cs_timestamper_start(cs_gateway *gw, cs_timestamper **out, cs_err *err);
void cs_timestamper_stop(cs_timestamper *t);

/* events.c */
int cs_gw_apply_event(cs_gateway *gw, cs_op *op);
/* Queues server.started and policy.loaded (writer running). */
void cs_gw_record_start(cs_gateway *gw);

/* freeze.c: the kill switch */
int cs_gw_freeze_load(cs_gateway *gw, cs_err *err);
void cs_gw_freeze_free(cs_gateway *gw);
int cs_gw_prepare_freeze(cs_gateway *gw, cs_op *op);
int cs_gw_apply_freeze(cs_gateway *gw, cs_op *op);
/* Writer thread, in apply_submit before anything is issued: a frozen agent's request
 * becomes a stored denial; otherwise the limits are counted (and may freeze it). */
int cs_gw_submit_guard(cs_gateway *gw, cs_op *op);
/* Writer thread: freezes an agent (or every agent for "*") with all the effects, in
 * the op's transaction. record (borrowed) gains the ids `cancelled` and `revoked`. */
int cs_gw_freeze_scope(cs_gateway *gw, cs_op *op, const char *scope, json_t *record);
/* Marks a submitted action as denied because of this freeze. */
int cs_gw_deny_frozen(cs_op *op, const json_t *record);
/* Stores another action than op->doc (no waiters woken); notify adds outbox rows. */
int cs_gw_store_doc(cs_gateway *gw, json_t *doc, int notify, long long now_ms);
/* Audit entry with an explicit actor and action id. */
int cs_gw_audit_as(cs_gateway *gw, cs_op *op, const char *actor, const char *type,
                   const char *action_id, const json_t *details, long long *index);

/* rollback.c: POST /v1/actions/{id}/rollback */
int cs_gw_prepare_rollback(cs_gateway *gw, cs_op *op);
int cs_gw_apply_rollback(cs_gateway *gw, cs_op *op);

/* limits.c: automatic freeze */
struct cs_limiter *cs_limiter_new(void);
void cs_limiter_free(struct cs_limiter *l);
/* Counts a submitted action of an agent; freezes the agent when a limit is exceeded. */
int cs_gw_limits_apply(cs_gateway *gw, cs_op *op);

#endif
