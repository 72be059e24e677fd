/* freeze.c - the kill switch (docs/freeze.md): freezing an agent, or every agent,
 * records the freeze, cancels its pending actions, revokes its unconsumed receipts
 * and makes its new requests stored denials, all in one writer transaction with
 * their audit entries and outbox rows. The set of freezes in force is kept in
 * memory (read on every submit) and durably in the store. */
#include "gateway/gateway_int.h"

#include "notify/notify.h"

#include "util/alloc.h"
#include "util/jcs.h"
#include "util/log.h"

#include <ctype.h>
#include <string.h>

#define GLOBAL_SCOPE "*"

static const cs_field freeze_fields[] = {{"agent", -1, 0}, {"reason", -1, 0}, {NULL, 0, 0}};

int cs_gw_freeze_load(cs_gateway *gw, cs_err *err)
{
    json_t *rows = NULL, *frozen = json_object();
    int rc = gw->store->ops->freezes(gw->store, &rows);
    if (rc) {
        json_decref(rows);
        json_decref(frozen);
        return cs_err_set(err, rc, "cannot read the freezes in force");
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_t *rec = json_loads(json_string_value(json_object_get(row, "doc")), 0, NULL);
        if (rec) json_object_set_new(frozen, json_string_value(json_object_get(row, "scope")), rec);
    }
    json_decref(rows);
    pthread_mutex_lock(&gw->freeze_lock);
    json_t *old = gw->frozen;
    gw->frozen = frozen;
    gw->freeze_epoch++;
    pthread_mutex_unlock(&gw->freeze_lock);
    json_decref(old);
    return 0;
}

void cs_gw_freeze_free(cs_gateway *gw)
{
    json_decref(gw->frozen);
    gw->frozen = NULL;
}

static int is_agent(const json_t *who)
{
    const char *kind = json_string_value(json_object_get(who, "kind"));
    return kind && !strcmp(kind, "agent");
}

/* The freeze covering this identity (new reference), or NULL. Humans are never
 * frozen, so people can repair things during a global freeze. */
static json_t *frozen_for(cs_gateway *gw, const json_t *who)
{
    if (!is_agent(who)) return NULL;
    const char *name = json_string_value(json_object_get(who, "name"));
    pthread_mutex_lock(&gw->freeze_lock);
    json_t *rec = json_object_get(gw->frozen, name);
    if (rec == NULL) rec = json_object_get(gw->frozen, GLOBAL_SCOPE);
    json_incref(rec);
    pthread_mutex_unlock(&gw->freeze_lock);
    return rec;
}

void cs_gateway_freezes(cs_gateway *gw, cs_reply *reply)
{
    json_t *agents = json_array(), *global = NULL;
    pthread_mutex_lock(&gw->freeze_lock);
    const char *k;
    json_t *v;
    json_object_foreach(gw->frozen, k, v)
    {
        if (!strcmp(k, GLOBAL_SCOPE))
            global = json_deep_copy(v);
        else
            json_array_append_new(agents, json_deep_copy(v));
    }
    pthread_mutex_unlock(&gw->freeze_lock);
    json_t *body =
        json_pack("{s:o,s:o}", "global", global ? global : json_null(), "agents", agents);
    *reply = (cs_reply){.status = 200, .body = body};
}

unsigned long long cs_gateway_freeze_epoch(cs_gateway *gw)
{
    pthread_mutex_lock(&gw->freeze_lock);
    unsigned long long e = gw->freeze_epoch;
    pthread_mutex_unlock(&gw->freeze_lock);
    return e;
}

char *cs_gateway_freeze_metrics(cs_gateway *gw)
{
    pthread_mutex_lock(&gw->freeze_lock);
    size_t n = json_object_size(gw->frozen);
    int global = json_object_get(gw->frozen, GLOBAL_SCOPE) != NULL;
    pthread_mutex_unlock(&gw->freeze_lock);
    return cs_sprintf("# TYPE countersign_frozen_agents gauge\ncountersign_frozen_agents %zu\n"
                      "# TYPE countersign_frozen_global gauge\ncountersign_frozen_global %d\n",
                      n - (size_t)global, global);
}

int cs_gw_audit_as(cs_gateway *gw, cs_op *op, const char *actor, const char *type,
                   const char *action_id, const json_t *details, long long *index)
{
    cs_audit_row row = {type, op->now_ms, actor, op->source, action_id, details, NULL, NULL, NULL};
    return gw->store->ops->audit_append(gw->store, &row, index);
}

int cs_gw_deny_frozen(cs_op *op, const json_t *record)
{
    json_t *doc = cs_gw_op_doc(op); /* before unrender: it may be made from the text */
    if (doc == NULL) return CS_EDB;
    long long now_ms = op->now_ms;
    cs_gw_unrender(op);
    const char *agent = json_string_value(json_object_get(record, "agent"));
    const char *reason = json_string_value(json_object_get(record, "reason"));
    char *why = agent ? cs_sprintf("frozen: agent %s is frozen (%s)", agent,
                                   reason ? reason : "no reason given")
                      : cs_sprintf("frozen: every agent is frozen (%s)",
                                   reason ? reason : "no reason given");
    json_object_set_new(doc, "status", json_string("denied"));
    json_object_del(doc, "approval");
    json_object_set_new(doc, "decided_at", cs_time_json(now_ms));
    json_t *policy = json_object_get(doc, "policy");
    if (policy) json_object_set_new(policy, "explanation", json_string(why));
    json_object_set_new(doc, "frozen",
                        json_pack("{s:O,s:O,s:O}", "id", json_object_get(record, "id"), "agent",
                                  json_object_get(record, "agent"), "reason",
                                  json_object_get(record, "reason")));
    free(why);
    return 0;
}

/* Stores a changed action; `notify` announces it (a cancellation updates the
 * approvers' Slack message; a revoked receipt changes nothing they see). */
int cs_gw_store_doc(cs_gateway *gw, json_t *doc, int notify, long long now_ms)
{
    char *req = cs_gw_requester_uid(doc);
    char *text = cs_json_dumps(doc); /* the one writer of stored action text */
    const char *status = json_string_value(json_object_get(doc, "status"));
    cs_action_row row = {.id = json_string_value(json_object_get(doc, "id")),
                         .status = status,
                         .requester = req,
                         .doc = text};
    int rc = gw->store->ops->action_put(gw->store, &row);
    free(req);
    free(text);
    if (rc == 0 && notify) rc = cs_notify_enqueue(gw->notify, gw->store, doc, now_ms, NULL);
    return rc;
}

/* A pending action of the frozen agent: cancelled, naming the freeze. */
static int cancel_doc(cs_gateway *gw, cs_op *op, const char *actor, json_t *doc,
                      const json_t *record)
{
    char *why = cs_sprintf("frozen: %s", json_string_value(json_object_get(record, "reason")));
    json_object_set_new(doc, "status", json_string("cancelled"));
    json_object_set_new(doc, "decided_at", cs_time_json(op->now_ms));
    json_object_set_new(doc, "frozen",
                        json_pack("{s:O,s:O,s:O}", "id", json_object_get(record, "id"), "agent",
                                  json_object_get(record, "agent"), "reason",
                                  json_object_get(record, "reason")));
    json_t *d =
        json_pack("{s:s,s:O,s:s,s:O}", "reason", why, "freeze", json_object_get(record, "id"),
                  "status", "cancelled", "args_hash", json_object_get(doc, "args_hash"));
    free(why);
    long long index = 0;
    const char *id = json_string_value(json_object_get(doc, "id"));
    int rc = cs_gw_audit_as(gw, op, actor, "action.cancelled", id, d, &index);
    json_decref(d);
    if (rc) return rc;
    json_object_set_new(doc, "audit", json_pack("{s:I}", "index", (json_int_t)index));
    if ((rc = cs_gw_store_doc(gw, doc, 1, op->now_ms)) != 0) return rc;
    if (op->touched == NULL) op->touched = json_array();
    json_array_append(op->touched, doc);
    return 0;
}

/* A decided action whose receipt was not consumed yet: consume and verify refuse it. */
static int revoke_doc(cs_gateway *gw, cs_op *op, const char *actor, json_t *doc,
                      const json_t *record)
{
    json_object_set_new(doc, "receipt_revoked_at", cs_time_json(op->now_ms));
    json_object_set_new(doc, "receipt_revoked",
                        json_pack("{s:O,s:O}", "freeze", json_object_get(record, "id"), "reason",
                                  json_object_get(record, "reason")));
    json_t *d = json_pack("{s:O,s:O}", "freeze", json_object_get(record, "id"), "args_hash",
                          json_object_get(doc, "args_hash"));
    int rc = cs_gw_audit_as(gw, op, actor, "receipt.revoked",
                            json_string_value(json_object_get(doc, "id")), d, NULL);
    json_decref(d);
    return rc ? rc : cs_gw_store_doc(gw, doc, 0, op->now_ms);
}

/* Slack direct messages to the agent's owner and to every admin whose token carries
 * a Slack id (humans only; each person once). */
static void add_people_targets(cs_gateway *gw, const char *agent, json_t *targets)
{
    pthread_rwlock_rdlock(&gw->tok_lock);
    const char *owner = NULL, *k;
    json_t *v;
    json_object_foreach(gw->tokens, k, v)
    {
        if (agent && is_agent(v) && !strcmp(json_string_value(json_object_get(v, "name")), agent))
            owner = json_string_value(json_object_get(v, "owner"));
    }
    json_object_foreach(gw->tokens, k, v)
    {
        const char *sid = json_string_value(json_object_get(v, "slack_id"));
        const char *name = json_string_value(json_object_get(v, "name"));
        int wanted = json_is_true(json_object_get(v, "admin")) || (owner && !strcmp(name, owner));
        if (sid == NULL || is_agent(v) || !wanted) continue;
        char *t = cs_sprintf("slack:%s", sid);
        int seen = 0;
        size_t i;
        json_t *have;
        json_array_foreach(targets, i, have) seen |= !strcmp(json_string_value(have), t);
        if (!seen) json_array_append_new(targets, json_string(t));
        free(t);
    }
    pthread_rwlock_unlock(&gw->tok_lock);
}

/* agent.frozen / agent.unfrozen to freeze.notify, the owner and the admins (outbox rows). */
static int notify_freeze(cs_gateway *gw, cs_op *op, const char *event, json_t *record)
{
    json_t *targets = json_array();
    if (gw->cfg->freeze_notify) json_array_extend(targets, gw->cfg->freeze_notify);
    const char *agent = json_string_value(json_object_get(record, "agent"));
    add_people_targets(gw, agent, targets);
    const char *by = json_string_value(json_object_get(record, "by"));
    char *text = !strcmp(event, "agent.frozen")
                     ? cs_sprintf("countersign: %s%s frozen by %s: %s",
                                  agent ? "agent " : "every agent", agent ? agent : "", by,
                                  json_string_value(json_object_get(record, "reason")))
                     : cs_sprintf("countersign: %s%s unfrozen by %s",
                                  agent ? "agent " : "every agent", agent ? agent : "",
                                  json_string_value(json_object_get(record, "unfrozen_by")));
    json_t *payload = json_deep_copy(record);
    json_object_set_new(payload, "text", json_string(text));
    free(text);
    char *key = cs_sprintf("%s%s", json_string_value(json_object_get(record, "id")),
                           strcmp(event, "agent.frozen") ? ":unfrozen" : "");
    int rc =
        cs_notify_enqueue_event(gw->notify, gw->store, event, key, payload, targets, op->now_ms);
    free(key);
    json_decref(payload);
    json_decref(targets);
    return rc;
}

/* The freeze in force from now on, for the submits that follow on the writer thread
 * and the readers of GET /v1/freeze (the commit's failure reloads from the store). */
static void remember(cs_gateway *gw, cs_op *op, const char *scope, const json_t *record)
{
    json_t *kept = json_deep_copy(record);
    json_object_del(kept, "cancelled");
    json_object_del(kept, "revoked");
    pthread_mutex_lock(&gw->freeze_lock);
    json_object_set_new(gw->frozen, scope, kept);
    gw->freeze_epoch++;
    pthread_mutex_unlock(&gw->freeze_lock);
    op->froze = 1;
}

int cs_gw_freeze_scope(cs_gateway *gw, cs_op *op, const char *scope, json_t *record)
{
    const char *actor = json_string_value(json_object_get(record, "by"));
    char *text = json_dumps(record, JSON_COMPACT);
    int rc = gw->store->ops->freeze_put(gw->store, scope, text);
    free(text);
    char *requester = strcmp(scope, GLOBAL_SCOPE) ? cs_sprintf("Agent::\"%s\"", scope) : NULL;
    json_t *docs = NULL, *cancelled = json_array(), *revoked = json_array();
    if (rc == 0) rc = gw->store->ops->freeze_targets(gw->store, requester, &docs);
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (rc) break;
        int pending = cs_action_is_pending(doc);
        rc = pending ? cancel_doc(gw, op, actor, doc, record)
                     : revoke_doc(gw, op, actor, doc, record);
        json_array_append(pending ? cancelled : revoked, json_object_get(doc, "id"));
    }
    if (rc == 0) {
        json_t *d = json_deep_copy(record);
        json_object_set(d, "cancelled", cancelled);
        json_object_set(d, "revoked", revoked);
        /* details.agent is absent for a global freeze (docs/audit.md). */
        if (json_is_null(json_object_get(d, "agent"))) json_object_del(d, "agent");
        rc = cs_gw_audit_as(gw, op, actor, "freeze.set", NULL, d, NULL);
        json_decref(d);
    }
    if (rc == 0) rc = notify_freeze(gw, op, "agent.frozen", record);
    if (rc == 0) {
        json_object_set_new(record, "cancelled", cancelled);
        json_object_set_new(record, "revoked", revoked);
        cancelled = revoked = NULL;
        remember(gw, op, scope, record);
        cs_info("freeze: %s frozen by %s: %s", scope, actor,
                json_string_value(json_object_get(record, "reason")));
    }
    json_decref(cancelled);
    json_decref(revoked);
    json_decref(docs);
    free(requester);
    return rc;
}

/* An agent name that a live token carries. */
static int agent_known(cs_gateway *gw, const char *name)
{
    int found = 0;
    pthread_rwlock_rdlock(&gw->tok_lock);
    const char *k;
    json_t *v;
    json_object_foreach(gw->tokens, k, v) found |=
        is_agent(v) && !strcmp(json_string_value(json_object_get(v, "name")), name);
    pthread_rwlock_unlock(&gw->tok_lock);
    return found;
}

int cs_gw_prepare_freeze(cs_gateway *gw, cs_op *op)
{
    if (is_agent(op->who) || !json_is_true(json_object_get(op->who, "admin"))) {
        cs_reply_problem(&op->reply, 403, "not-admin", "only admins freeze and unfreeze agents");
        return CS_EPERM;
    }
    if (op->args == NULL) op->args = json_object();
    if (cs_validate_fields(op->args, freeze_fields, &op->reply) != 0) return CS_EINVAL;
    const char *agent = json_string_value(json_object_get(op->args, "agent"));
    const char *reason = json_string_value(json_object_get(op->args, "reason"));
    if (reason && strlen(reason) > 4096) {
        cs_reply_problem(&op->reply, 400, "invalid-field",
                         "field 'reason' is longer than 4096 bytes");
        json_object_set_new(op->reply.body, "field", json_string("reason"));
        return CS_EINVAL;
    }
    size_t n = agent ? strlen(agent) : 1;
    for (size_t i = 0; agent && i < n; i++)
        if (!(isalnum((unsigned char)agent[i]) || strchr("._-@", agent[i]))) n = 0;
    if (n == 0 || n > 64) {
        cs_reply_problem(&op->reply, 400, "invalid-field", "field 'agent' must be an agent name");
        json_object_set_new(op->reply.body, "field", json_string("agent"));
        return CS_EINVAL;
    }
    /* Unfreezing a name whose token is gone must stay possible; freezing needs a known agent. */
    if (agent && op->kind == CS_OP_FREEZE && !agent_known(gw, agent)) {
        cs_reply_problem(&op->reply, 404, "unknown-agent", "no agent token carries this name");
        json_object_set_new(op->reply.body, "field", json_string("agent"));
        return CS_ENOTFOUND;
    }
    op->now_ms = cs_now_ms();
    return 0;
}

static int apply_unfreeze(cs_gateway *gw, cs_op *op, const char *scope, json_t *current)
{
    char *actor = cs_gw_uid(op->who);
    json_t *record = json_deep_copy(current);
    json_object_set_new(record, "unfrozen_by", json_string(actor));
    json_object_set_new(record, "unfrozen_at", cs_time_json(op->now_ms));
    int rc = gw->store->ops->freeze_put(gw->store, scope, NULL);
    json_t *d = json_deep_copy(record);
    if (json_is_null(json_object_get(d, "agent"))) json_object_del(d, "agent");
    if (rc == 0) rc = cs_gw_audit_as(gw, op, actor, "freeze.cleared", NULL, d, NULL);
    json_decref(d);
    if (rc == 0) rc = notify_freeze(gw, op, "agent.unfrozen", record);
    if (rc == 0) {
        pthread_mutex_lock(&gw->freeze_lock);
        json_object_del(gw->frozen, scope);
        gw->freeze_epoch++;
        pthread_mutex_unlock(&gw->freeze_lock);
        op->froze = 1;
        op->reply = (cs_reply){.status = 200, .body = json_pack("{s:O}", "unfrozen", record)};
    }
    json_decref(record);
    free(actor);
    return rc;
}

int cs_gw_apply_freeze(cs_gateway *gw, cs_op *op)
{
    const char *agent = json_string_value(json_object_get(op->args, "agent"));
    const char *scope = agent ? agent : GLOBAL_SCOPE;
    pthread_mutex_lock(&gw->freeze_lock);
    json_t *current = json_incref(json_object_get(gw->frozen, scope));
    pthread_mutex_unlock(&gw->freeze_lock);
    int rc = 0;
    if (op->kind == CS_OP_UNFREEZE) {
        if (current)
            rc = apply_unfreeze(gw, op, scope, current);
        else
            cs_reply_problem(&op->reply, 409, "not-frozen",
                             agent ? "this agent is not frozen" : "there is no global freeze");
    } else if (current) {
        cs_reply_problem(&op->reply, 409, "already-frozen",
                         agent ? "this agent is already frozen" : "every agent is already frozen");
        json_object_set(op->reply.body, "freeze", current);
    } else {
        char *actor = cs_gw_uid(op->who), *id = cs_random_id("frz_", 12);
        const char *reason = json_string_value(json_object_get(op->args, "reason"));
        json_t *record =
            json_pack("{s:s,s:O,s:b,s:s,s:s,s:o,s:b}", "id", id, "agent",
                      agent ? json_object_get(op->args, "agent") : json_null(), "global",
                      agent == NULL, "reason", reason ? reason : "frozen by an admin", "by", actor,
                      "at", cs_time_json(op->now_ms), "automatic", 0);
        free(actor);
        free(id);
        rc = cs_gw_freeze_scope(gw, op, scope, record);
        if (rc == 0)
            op->reply = (cs_reply){.status = 200, .body = json_pack("{s:O}", "freeze", record)};
        json_decref(record);
    }
    json_decref(current);
    return rc;
}

int cs_gw_submit_guard(cs_gateway *gw, cs_op *op)
{
    json_t *rec = frozen_for(gw, op->who);
    if (rec == NULL) return is_agent(op->who) ? cs_gw_limits_apply(gw, op) : 0;
    int rc = cs_gw_deny_frozen(op, rec);
    json_decref(rec);
    return rc;
}
