/* gateway.c - the gateway object: store, signing key, policy set, token map,
 * waiters, the writer, and the reaper thread that expires pending actions and
 * ends long-polls at their deadline. */
#include "gateway/gateway_int.h"

#include "notify/notify.h"

#include "util/alloc.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REAPER_TICK_MS 100

static int load_policy(const char *dir, cs_policy_set **out, cs_err *err)
{
    cs_policy_diags diags;
    cs_policy_diags_init(&diags);
    int rc = cs_policy_set_load_dir(dir, out, &diags);
    if (rc != 0) {
        if (diags.n > 0)
            cs_err_set(err, rc, "%s:%d:%d: %s", diags.items[0].file ? diags.items[0].file : dir,
                       diags.items[0].line, diags.items[0].col, diags.items[0].msg);
        else
            cs_err_set(err, rc, "%s: cannot load policy", dir);
        for (size_t i = 0; i < diags.n; i++)
            cs_error("policy: %s:%d:%d: %s", diags.items[i].file ? diags.items[i].file : dir,
                     diags.items[i].line, diags.items[i].col, diags.items[i].msg);
    }
    cs_policy_diags_free(&diags);
    return rc;
}

int cs_gateway_new(const cs_config *cfg, cs_gateway **out, cs_err *err)
{
    cs_gateway *gw = cs_calloc(1, sizeof *gw);
    gw->cfg = cfg;
    pthread_mutex_init(&gw->policy_lock, NULL);
    pthread_rwlock_init(&gw->tok_lock, NULL);
    pthread_rwlock_init(&gw->run_lock, NULL);
    pthread_mutex_init(&gw->reaper_lock, NULL);
    pthread_cond_init(&gw->reaper_cond, NULL);
    pthread_mutex_init(&gw->freeze_lock, NULL);
    /* The epochs start from this start's time, so that a restart never reports the
     * values of the run before it (a proxy would then keep what it cached then). */
    gw->freeze_epoch = gw->token_epoch = (unsigned long long)cs_now_ms();
    gw->limiter = cs_limiter_new();
    gw->watchers = cs_watchers_new();
    int rc = cs_crypto_init();
    if (rc == 0) rc = cs_signing_key_load(cfg->signing_key, &gw->signer, err);
    if (rc == 0) rc = load_policy(cfg->policy_dir, &gw->policy, err);
    if (rc == 0) rc = cs_store_open(cfg->storage, cfg->database, &gw->store, err);
    if (rc == 0) rc = cs_audit_log_open(gw->store, gw->signer, cfg->audit_origin, &gw->audit, err);
    if (rc == 0) rc = cs_gw_tokens_load(gw, err);
    if (rc == 0) rc = cs_gw_freeze_load(gw, err);
    if (rc == 0) rc = cs_notify_new(gw, cfg, gw->store, &gw->notify, err);
    if (rc != 0) {
        cs_gateway_free(gw);
        return rc;
    }
    *out = gw;
    return 0;
}

/* Submits expire ops for every pending action past its deadline. */
static void sweep_expired(cs_gateway *gw, long long now)
{
    long long seen = atomic_load(&gw->next_expiry);
    json_t *ids = NULL;
    if (gw->store->ops->expired(gw->store, now, &ids) != 0) return;
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        cs_op *op = cs_op_new(gw, CS_OP_EXPIRE, NULL, "system", json_string_value(id), NULL);
        op->now_ms = now;
        op->complete = cs_op_free;
        if (cs_gateway_run(gw, op) != 0) cs_op_free(op);
    }
    json_decref(ids);
    long long next = 0;
    gw->store->ops->next_expiry(gw->store, &next);
    /* Ones just queued still show as pending: look again shortly, not in a loop. */
    if (next == 0 || next < now + 250) next = next == 0 ? now + 60000 : now + 250;
    /* A pending action committed meanwhile may have lowered it: keep that. */
    atomic_compare_exchange_strong(&gw->next_expiry, &seen, next);
}

static void *reaper_main(void *arg)
{
    cs_gateway *gw = arg;
    pthread_setname_np(pthread_self(), "cs-reaper");
    pthread_mutex_lock(&gw->reaper_lock);
    while (!atomic_load(&gw->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAPER_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&gw->reaper_cond, &gw->reaper_lock, &ts);
        if (atomic_load(&gw->stopping)) break;
        pthread_mutex_unlock(&gw->reaper_lock);
        long long now = cs_now_ms();
        cs_watch_tick(gw->watchers, now);
        if (now >= atomic_load(&gw->next_expiry)) sweep_expired(gw, now);
        pthread_mutex_lock(&gw->reaper_lock);
    }
    pthread_mutex_unlock(&gw->reaper_lock);
    return NULL;
}

int cs_gateway_start(cs_gateway *gw, cs_err *err)
{
    long long key = 0;
    int rc = gw->store->ops->action_last_key(gw->store, &key);
    if (rc) return cs_err_set(err, rc, "cannot read the last action key");
    atomic_store(&gw->last_key, key);
    if ((rc = cs_writer_start(gw->store, &gw->writer, err)) != 0) return rc;
    atomic_store(&gw->next_expiry, 0); /* sweep at once: actions that expired while down */
    if (pthread_create(&gw->reaper, NULL, reaper_main, gw) != 0)
        return cs_err_set(err, CS_EINTERNAL, "cannot start the reaper thread");
    gw->reaper_started = 1;
    cs_gw_record_start(gw);
    if ((rc = cs_notify_start(gw->notify, gw->writer, err)) != 0) return rc;
    return cs_timestamper_start(gw, &gw->tsa, err);
}

void cs_gateway_stop(cs_gateway *gw)
{
    if (gw->writer && !atomic_load(&gw->stopping)) cs_gateway_record(gw, "server.stopped", json_object());
    pthread_rwlock_wrlock(&gw->run_lock);
    atomic_store(&gw->stopping, 1);
    pthread_rwlock_unlock(&gw->run_lock);
    if (gw->reaper_started) {
        pthread_mutex_lock(&gw->reaper_lock);
        pthread_cond_signal(&gw->reaper_cond);
        pthread_mutex_unlock(&gw->reaper_lock);
        pthread_join(gw->reaper, NULL);
        gw->reaper_started = 0;
    }
    cs_timestamper_stop(gw->tsa);
    gw->tsa = NULL;
    cs_watch_fire_all(gw->watchers);
    cs_notify_stop(gw->notify); /* before the writer: it records deliveries through it */
    cs_writer_stop(gw->writer);
    gw->writer = NULL;
}

void cs_gateway_free(cs_gateway *gw)
{
    if (gw == NULL) return;
    if (gw->writer || gw->reaper_started) cs_gateway_stop(gw);
    cs_notify_free(gw->notify);
    cs_audit_log_free(gw->audit);
    cs_store_close(gw->store);
    cs_policy_set_release(gw->policy);
    cs_signer_free(gw->signer);
    cs_gw_tokens_free(gw);
    cs_gw_freeze_free(gw);
    cs_limiter_free(gw->limiter);
    pthread_mutex_destroy(&gw->freeze_lock);
    cs_watchers_free(gw->watchers);
    pthread_mutex_destroy(&gw->policy_lock);
    pthread_rwlock_destroy(&gw->tok_lock);
    pthread_rwlock_destroy(&gw->run_lock);
    pthread_mutex_destroy(&gw->reaper_lock);
    pthread_cond_destroy(&gw->reaper_cond);
    free(gw);
}

int cs_gateway_reload_policy(cs_gateway *gw, cs_err *err)
{
    cs_policy_set *set = NULL;
    int rc = load_policy(gw->cfg->policy_dir, &set, err);
    if (rc != 0) { /* the old set stays */
        cs_gateway_record(gw, "policy.load_refused", json_pack("{s:s,s:s}", "policy_dir", gw->cfg->policy_dir, "error", err->msg));
        return rc;
    }
    pthread_mutex_lock(&gw->policy_lock);
    cs_policy_set *old = gw->policy;
    gw->policy = set;
    pthread_mutex_unlock(&gw->policy_lock);
    cs_policy_set_release(old);
    cs_info("policy reloaded: %s", cs_policy_set_version(set));
    cs_gateway_record(gw, "policy.loaded", json_pack("{s:s,s:s,s:s}", "policy_version", cs_policy_set_version(set),
                                                     "policy_dir", gw->cfg->policy_dir, "trigger", "reload"));
    return 0;
}

cs_policy_set *cs_gw_policy(cs_gateway *gw)
{
    pthread_mutex_lock(&gw->policy_lock);
    cs_policy_set *s = cs_policy_set_retain(gw->policy);
    pthread_mutex_unlock(&gw->policy_lock);
    return s;
}

const cs_config *cs_gateway_config(cs_gateway *gw)
{
    return gw->cfg;
}

cs_watchers *cs_gateway_watchers(cs_gateway *gw)
{
    return gw->watchers;
}

int cs_gateway_stopping(cs_gateway *gw)
{
    return atomic_load(&gw->stopping);
}

void cs_gateway_policy_version(cs_gateway *gw, char *out, size_t size)
{
    cs_policy_set *s = cs_gw_policy(gw);
    snprintf(out, size, "%s", cs_policy_set_version(s));
    cs_policy_set_release(s);
}

cs_op *cs_op_new(cs_gateway *gw, int kind, json_t *who, const char *source, const char *id,
                 json_t *args)
{
    cs_op *op = cs_calloc(1, sizeof *op);
    op->gw = gw;
    op->kind = kind;
    op->who = json_incref(who);
    op->source = cs_strdup(source ? source : "");
    op->id = id ? cs_strdup(id) : NULL;
    op->args = json_incref(args);
    return op;
}

void cs_op_free(cs_op *op)
{
    if (op == NULL) return;
    json_decref(op->who);
    json_decref(op->args);
    json_decref(op->doc);
    json_decref(op->touched);
    free(op->source);
    free(op->id);
    free(op->idem_key);
    free(op->stored_text);
    free(op->pre_head);
    free(op->pre_tail);
    free(op->pre_doc);
    free(op->actor);
    if (op->token) {
        memset(op->token, 0, strlen(op->token));
        free(op->token);
    }
    cs_reply_clear(&op->reply);
    free(op);
}

static const void *make_doc(void *ctx)
{
    return cs_gw_op_doc(ctx);
}

static void op_done(cs_write_job *job, int rc)
{
    cs_op *op = (cs_op *)job;
    cs_gateway *gw = op->gw;
    if (rc != 0) {
        cs_reply_problem(&op->reply, 503, "storage-error",
                         "the change could not be stored; nothing was changed");
        /* The freeze set in memory was changed in apply: go back to what is stored. */
        if (op->froze && cs_gw_freeze_load(gw, NULL) != 0)
            cs_error("freeze: cannot reload the freezes in force");
    } else {
        size_t i;
        json_t *t;
        json_array_foreach(op->touched, i, t)
            cs_watch_notify(gw->watchers, json_string_value(json_object_get(t, "id")), t);
        if (op->froze) cs_notify_kick(gw->notify);
        if (op->kind == CS_OP_TOKEN_CREATE || op->kind == CS_OP_TOKEN_REVOKE) {
            if (op->reply.status / 100 == 2) cs_gw_token_committed(gw, op);
        }
        if (op->changed && op->lazy) {
            /* Decided at once and never waited for: a waiter on its id would be one
             * that guessed it, and gets the document made for it. */
            cs_watch_notify_made(gw->watchers, op->action_id, make_doc, op);
        } else if (op->changed && op->doc) {
            const char *id = json_string_value(json_object_get(op->doc, "id"));
            long long exp = cs_action_expires_ms(op->doc);
            if (cs_action_is_pending(op->doc) && exp < atomic_load(&gw->next_expiry))
                atomic_store(&gw->next_expiry, exp);
            if (id) {
                /* Waiters answer from this document instead of each reading the store. */
                cs_watch_notify(gw->watchers, id, op->doc);
            }
            if (op->notified) cs_notify_kick(gw->notify);
        }
    }
    if (op->complete) op->complete(op);
}

static int prepare(cs_gateway *gw, cs_op *op)
{
    switch (op->kind) {
    case CS_OP_SUBMIT:
        return cs_gw_prepare_submit(gw, op);
    case CS_OP_APPROVE:
    case CS_OP_DENY:
    case CS_OP_CANCEL:
    case CS_OP_OUTCOME:
        return cs_gw_prepare_simple(gw, op);
    case CS_OP_CONSUME:
        return cs_gw_prepare_consume(gw, op);
    case CS_OP_TOKEN_CREATE:
    case CS_OP_TOKEN_REVOKE:
        return cs_gw_prepare_token(gw, op);
    case CS_OP_EXPIRE:
    case CS_OP_EVENT:
        op->now_ms = cs_now_ms();
        return 0;
    case CS_OP_FREEZE:
    case CS_OP_UNFREEZE:
        return cs_gw_prepare_freeze(gw, op);
    case CS_OP_ROLLBACK:
        return cs_gw_prepare_rollback(gw, op);
    }
    return CS_EINTERNAL;
}

int cs_gateway_run(cs_gateway *gw, cs_op *op)
{
    int rc = prepare(gw, op);
    if (rc != 0) return rc;
    op->job.apply = cs_gw_apply;
    op->job.done = op_done;
    pthread_rwlock_rdlock(&gw->run_lock);
    if (atomic_load(&gw->stopping) || gw->writer == NULL) {
        pthread_rwlock_unlock(&gw->run_lock);
        cs_reply_problem(&op->reply, 503, "stopping", "the gateway is shutting down");
        return CS_ECONFLICT;
    }
    if (op->may_inline) {
        op->ran_inline = 1; /* before done(): complete() sees it */
        if (cs_writer_try_inline(gw->writer, &op->job)) {
            pthread_rwlock_unlock(&gw->run_lock);
            return 0;
        }
        op->ran_inline = 0;
    }
    if (op->queued) op->queued(op);
    cs_writer_submit(gw->writer, &op->job);
    pthread_rwlock_unlock(&gw->run_lock);
    return 0;
}

char *cs_gateway_commit_metrics(cs_gateway *gw)
{
    cs_writer_stats st = {0};
    pthread_rwlock_rdlock(&gw->run_lock);
    if (gw->writer) cs_writer_stats_get(gw->writer, &st);
    pthread_rwlock_unlock(&gw->run_lock);
    return cs_sprintf("# TYPE countersign_commits_total counter\n"
                      "countersign_commits_total{thread=\"http\"} %lld\n"
                      "countersign_commits_total{thread=\"writer\"} %lld\n"
                      "# TYPE countersign_committed_ops_total counter\n"
                      "countersign_committed_ops_total %lld\n",
                      st.batches_inline, st.batches_writer, st.jobs);
}

int cs_gateway_submit_job(cs_gateway *gw, cs_write_job *job)
{
    pthread_rwlock_rdlock(&gw->run_lock);
    int ok = !atomic_load(&gw->stopping) && gw->writer != NULL;
    if (ok) cs_writer_submit(gw->writer, job);
    pthread_rwlock_unlock(&gw->run_lock);
    return ok ? 0 : CS_ECONFLICT;
}

struct cs_notify *cs_gateway_notify(cs_gateway *gw)
{
    return gw->notify;
}

int cs_gateway_run_now(cs_gateway *gw, cs_op *op)
{
    int rc = prepare(gw, op);
    if (rc != 0) return rc;
    op->job.apply = cs_gw_apply;
    op->job.done = op_done;
    return cs_writer_run_now(gw->store, &op->job);
}

void cs_gateway_get(cs_gateway *gw, const char *id, cs_reply *reply)
{
    char *text = NULL;
    int rc = gw->store->ops->action_get(gw->store, 0, id, &text);
    if (rc == CS_ENOTFOUND)
        return cs_reply_problem(reply, 404, "not-found", "no action with this id");
    json_t *doc = rc == 0 ? json_loads(text, 0, NULL) : NULL;
    if (doc == NULL) {
        free(text);
        return cs_reply_problem(reply, 503, "storage-error", "cannot read the action");
    }
    *reply = (cs_reply){.status = 200, .body = doc, .text = text};
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    if (s == NULL || !*s) return -1;
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

void cs_gateway_list(cs_gateway *gw, const char *status, const char *requester, const char *limit,
                     const char *cursor, cs_reply *reply)
{
    static const char *const statuses[] = {"allowed",  "denied",  "pending",
                                           "approved", "expired", "cancelled"};
    long long lim = 50, before = 0;
    if (status) {
        int ok = 0;
        for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
            ok |= !strcmp(status, statuses[i]);
        if (!ok) {
            cs_reply_problem(
                reply, 400, "invalid-parameter",
                "status must be one of allowed, denied, pending, approved, expired, cancelled");
            json_object_set_new(reply->body, "field", json_string("status"));
            return;
        }
    }
    if (limit && parse_ll(limit, 1, 500, &lim) != 0) {
        cs_reply_problem(reply, 400, "invalid-parameter", "limit must be an integer from 1 to 500");
        json_object_set_new(reply->body, "field", json_string("limit"));
        return;
    }
    if (cursor && parse_ll(cursor, 1, (1LL << 62), &before) != 0) {
        cs_reply_problem(reply, 400, "invalid-parameter",
                         "cursor is not one this server handed out");
        json_object_set_new(reply->body, "field", json_string("cursor"));
        return;
    }
    cs_list_query q = {status, requester, before, (int)lim};
    json_t *docs = NULL;
    long long next = 0;
    if (gw->store->ops->action_list(gw->store, &q, &docs, &next) != 0)
        return cs_reply_problem(reply, 503, "storage-error", "cannot list actions");
    json_t *items = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) json_array_append_new(items, cs_gw_public(d));
    json_decref(docs);
    json_t *body = json_pack("{s:o}", "items", items);
    json_object_set_new(body, "next_cursor", next ? json_sprintf("%lld", next) : json_null());
    *reply = (cs_reply){.status = 200, .body = body};
}

void cs_gateway_whoami(json_t *who, cs_reply *reply)
{
    json_t *body = json_deep_copy(who);
    *reply = (cs_reply){.status = 200, .body = body};
}
