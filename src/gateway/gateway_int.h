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
    cs_watchers *watchers;
    pthread_t reaper;
    int reaper_started;
    atomic_int stopping;
    pthread_rwlock_t run_lock; /* submissions vs. stopping the writer */
    atomic_llong next_expiry;
    pthread_mutex_t reaper_lock;
    pthread_cond_t reaper_cond;
    struct cs_notify *notify; /* outbox and channels (src/notify/) */
};

/* The policy set in force (new reference). */
cs_policy_set *cs_gw_policy(cs_gateway *gw);

/* action.c */
int cs_gw_prepare_submit(cs_gateway *gw, cs_op *op);
int cs_gw_prepare_simple(cs_gateway *gw, cs_op *op);
int cs_gw_apply(cs_store *s, cs_write_job *job);
/* The public view of a stored action (drops internal "_" keys). */
json_t *cs_gw_public(const json_t *doc);
char *cs_gw_uid(const json_t *who); /* Agent::"name" / User::"name" */
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

#endif
