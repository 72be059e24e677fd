/* action.c - submit, vote (with every rule of SPEC §3), cancel, outcome and expiry.
 *
 * The policy is evaluated on the calling (HTTP) thread; everything that reads and
 * changes stored state runs in cs_gw_apply() on the writer thread, inside the
 * group-commit transaction, so two votes can never race past a rule. */
#include "gateway/gateway_int.h"

#include "gateway/action_text.h"

#include "notify/notify.h"

#include "util/alloc.h"
#include "util/iso_time.h"
#include "util/jcs.h"
#include "util/log.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const cs_field submit_fields[] = {
    {"action", JSON_STRING, 1},
    {"resource", JSON_STRING, 1},
    {"context", JSON_OBJECT, 0},
    {"purpose", -1, 0},
    {"on_behalf_of", -1, 0},
    {"receipt", JSON_TRUE, 0},
    {"source", JSON_STRING, 0},
    {"rollback", JSON_OBJECT, 0},
    {NULL, 0, 0},
};
static const cs_field rollback_fields[] = {
    {"action", JSON_STRING, 1},  {"resource", JSON_STRING, 1}, {"context", JSON_OBJECT, 0},
    {"command", JSON_ARRAY, 0}, {NULL, 0, 0},
};
static const cs_field vote_fields[] = {{"reason", -1, 0}, {NULL, 0, 0}};
static const cs_field outcome_fields[] = {
    {"status", JSON_STRING, 1}, {"exit_code", JSON_INTEGER, 0},   {"detail", -1, 0},
    {"output_sha256", -1, 0},   {"duration_ms", JSON_INTEGER, 0}, {NULL, 0, 0},
};

/* type::"name", Cedar's entity uid form (names are checked at creation: no quotes);
 * a missing part is empty. Concatenated, not formatted: it is built twice per submit. */
static char *cedar_uid(const char *type, const char *name)
{
    size_t t = type ? strlen(type) : 0, n = name ? strlen(name) : 0;
    char *s = cs_malloc(t + n + 5);
    if (t) memcpy(s, type, t);
    memcpy(s + t, "::\"", 3);
    if (n) memcpy(s + t + 3, name, n);
    memcpy(s + t + 3 + n, "\"", 2);
    return s;
}

char *cs_gw_uid(const json_t *who)
{
    if (who == NULL) return cs_strdup("System::\"countersign\"");
    const char *kind = json_string_value(json_object_get(who, "kind"));
    const char *name = json_string_value(json_object_get(who, "name"));
    return cedar_uid(kind && !strcmp(kind, "agent") ? "Agent" : "User", name);
}

json_t *cs_gw_public(const json_t *doc)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) if (k[0] != '_') json_object_set(out, k, v);
    return out;
}

int cs_action_is_pending(const json_t *doc)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    return st && !strcmp(st, "pending");
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("._-@", *s))) return 0;
    return 1;
}

/* Dotted verbs: segments of [a-z0-9_-], separated by single dots. */
static int action_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..")) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || strchr("._-", *s)))
            return 0;
    return 1;
}

/* Slash paths: non-empty segments of printable characters, none of them "." or "..":
 * every prefix of a resource is its parent, so "prod/../secret" would sit under
 * "prod" for the policy while naming something else to whoever reads it as a path. */
static int resource_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 1024 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//")) return 0;
    for (const char *seg = s;; seg++) {
        size_t k = strcspn(seg, "/");
        if ((k == 1 && seg[0] == '.') || (k == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
        seg += k;
        if (*seg == '\0') break;
    }
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\') return 0;
    return 1;
}

static int field_bad(cs_op *op, const char *field, const char *detail)
{
    cs_reply_problem(&op->reply, 400, "invalid-field", detail);
    json_object_set_new(op->reply.body, "field", json_string(field));
    return CS_EINVAL;
}

int cs_gw_check_rollback(cs_op *op, const json_t *rb)
{
    cs_reply bad = {0};
    if (cs_validate_fields(rb, rollback_fields, &bad) != 0) {
        const char *detail = json_string_value(json_object_get(bad.body, "detail"));
        char *d = cs_sprintf("rollback: %s", detail ? detail : "invalid");
        cs_reply_clear(&bad);
        field_bad(op, "rollback", d);
        free(d);
        return CS_EINVAL;
    }
    if (!action_ok(json_string_value(json_object_get(rb, "action"))))
        return field_bad(op, "rollback", "rollback.action must be a dotted verb such as db.restore");
    if (!resource_ok(json_string_value(json_object_get(rb, "resource"))))
        return field_bad(op, "rollback", "rollback.resource must be a slash path");
    json_t *cmd = json_object_get(rb, "command");
    size_t i, n = json_array_size(cmd);
    json_t *a;
    if (cmd && (n == 0 || n > 256))
        return field_bad(op, "rollback", "rollback.command must be an argv array of 1 to 256 strings");
    json_array_foreach(cmd, i, a) {
        if (!json_is_string(a) || json_string_length(a) > 4096)
            return field_bad(op, "rollback", "rollback.command must hold strings of at most 4096 bytes");
    }
    char *canon = cs_jcs_dumps(rb);
    size_t len = canon ? strlen(canon) : 0;
    free(canon);
    if (len == 0 || len > CS_CONTEXT_MAX) return field_bad(op, "rollback", "rollback is larger than 64 KiB");
    return 0;
}

/* The Cedar context: the request's context plus purpose, source and time (UTC;
 * weekday 0 = Sunday, as in struct tm). */
static json_t *policy_context(const json_t *args, long long now_ms)
{
    json_t *ctx = json_deep_copy(json_object_get(args, "context"));
    if (ctx == NULL) ctx = json_object();
    const char *purpose = json_string_value(json_object_get(args, "purpose"));
    if (purpose) json_object_set_new(ctx, "purpose", json_string(purpose));
    /* The enforcement point that asked (SPEC §2); declared by the client, "api" when absent. */
    const char *source = json_string_value(json_object_get(args, "source"));
    json_object_set_new(ctx, "source", json_string(source ? source : "api"));
    int hour, weekday;
    cs_utc_hour_weekday(now_ms, &hour, &weekday);
    /* Built member by member: json_pack parses its format on every call. */
    json_t *when = json_object();
    json_object_set_new_nocheck(when, "hour", json_integer(hour));
    json_object_set_new_nocheck(when, "weekday", json_integer(weekday));
    json_object_set_new_nocheck(ctx, "time", when);
    return ctx;
}

static json_t *requester_json(const json_t *who)
{
    const char *kind = json_string_value(json_object_get(who, "kind"));
    int agent = kind && !strcmp(kind, "agent");
    json_t *r = json_object();
    json_object_set_new_nocheck(r, "type", json_string_nocheck(agent ? "Agent" : "User"));
    json_object_set_nocheck(r, "id", json_object_get(who, "name"));
    if (agent) json_object_set_nocheck(r, "owner", json_object_get(who, "owner"));
    return r;
}

static int decide(cs_gateway *gw, cs_op *op, const json_t *who, json_t *ctx, cs_decision *d,
                  cs_policy_set **set_out)
{
    const char *kind = json_string_value(json_object_get(who, "kind"));
    int agent = kind && !strcmp(kind, "agent");
    json_t *groups = json_object_get(who, "groups");
    size_t ng = json_array_size(groups);
    const char **gv = cs_calloc(ng ? ng : 1, sizeof *gv);
    for (size_t i = 0; i < ng; i++)
        gv[i] = json_string_value(json_array_get(groups, i));
    /* {"owner": {"__entity": {"type": "User", "id": owner}}}, built member by member:
     * json_pack parses its format on every call. */
    json_t *attrs = NULL, *owner = json_object_get(who, "owner");
    if (agent && json_is_string(owner)) {
        json_t *ent = json_object(), *ref = json_object();
        json_object_set_new_nocheck(ent, "type", json_string_nocheck("User"));
        json_object_set_nocheck(ent, "id", owner);
        json_object_set_new_nocheck(ref, "__entity", ent);
        attrs = json_object();
        json_object_set_new_nocheck(attrs, "owner", ref);
    }
    cs_policy_request req = {
        .principal = {agent ? "Agent" : "User", json_string_value(json_object_get(who, "name"))},
        .action = {"Action", json_string_value(json_object_get(op->args, "action"))},
        .resource = {"Resource", json_string_value(json_object_get(op->args, "resource"))},
        .principal_groups = gv,
        .n_principal_groups = ng,
        .principal_attrs = attrs,
        .context = ctx,
    };
    cs_policy_set *set = cs_gw_policy(gw);
    cs_err err = {0};
    int rc = cs_policy_decide(set, &req, d, &err);
    free(gv);
    json_decref(attrs);
    if (rc != 0) {
        cs_policy_set_release(set);
        if (rc == CS_EINVAL) {
            /* The request's context is not a Cedar record (a float, a bad entity or
             * extension escape): the client's mistake, nothing is stored. */
            cs_reply_problem(&op->reply, 400, "invalid-context", err.msg);
            json_object_set_new(op->reply.body, "field", json_string("context"));
        } else {
            cs_reply_problem(&op->reply, 500, "policy-error", err.msg);
        }
        return rc;
    }
    *set_out = set;
    return 0;
}

/* The approval block of a pending action: one requirement per @approval policy. */
static json_t *approval_json(cs_gateway *gw, const cs_decision *d, long long now_ms,
                             long long *expires)
{
    json_t *reqs = json_array(), *all_groups = json_array();
    long long timeout = -1;
    int quorum = 1;
    for (size_t i = 0; i < d->n_approvals; i++) {
        const cs_approval_req *a = &d->approvals[i];
        json_t *g = json_array();
        for (size_t j = 0; j < a->n_groups; j++) {
            json_array_append_new(g, json_string(a->groups[j]));
            int seen = 0;
            for (size_t k = 0; k < json_array_size(all_groups); k++)
                seen |= !strcmp(json_string_value(json_array_get(all_groups, k)), a->groups[j]);
            if (!seen) json_array_append_new(all_groups, json_string(a->groups[j]));
        }
        json_t *r = json_pack("{s:s,s:o,s:i}", "policy", a->policy_id ? a->policy_id : "", "groups",
                              g, "quorum", a->quorum < 1 ? 1 : a->quorum);
        if (a->reason) json_object_set_new(r, "reason", json_string(a->reason));
        if (a->notify) json_object_set_new(r, "notify", json_string(a->notify));
        json_array_append_new(reqs, r);
        long long t = a->timeout_s < 0 ? gw->cfg->default_timeout_s : a->timeout_s;
        if (timeout < 0 || t < timeout) timeout = t;
        if (a->quorum > quorum) quorum = a->quorum;
    }
    if (timeout < 0) timeout = gw->cfg->default_timeout_s;
    *expires = now_ms + timeout * 1000;
    return json_pack("{s:o,s:i,s:o,s:[],s:o}", "groups", all_groups, "quorum", quorum,
                     "requirements", reqs, "votes", "expires_at", cs_time_json(*expires));
}

/* {version, matched, explanation} (SPEC §4), plus errors when a policy errored.
 * The approval requirements live in the action's "approval" block. */
static json_t *policy_json(const cs_decision *d, const cs_policy_set *set)
{
    json_t *p = json_object();
    json_object_set_new(p, "version", json_string(cs_policy_set_version(set)));
    json_object_set_new(p, "matched", cs_policy_matches_json(d->determining, d->n_determining));
    json_object_set_new(p, "explanation", json_string(d->explanation ? d->explanation : ""));
    if (d->n_errors > 0) json_object_set_new(p, "errors", cs_decision_errors_json(d));
    return p;
}

/* Checks the request's fields beyond their JSON types. */
static int validate_submit(cs_op *op)
{
    if (cs_validate_fields(op->args, submit_fields, &op->reply) != 0) return CS_EINVAL;
    const char *action = json_string_value(json_object_get(op->args, "action"));
    const char *resource = json_string_value(json_object_get(op->args, "resource"));
    const char *obo = json_string_value(json_object_get(op->args, "on_behalf_of"));
    const char *purpose = json_string_value(json_object_get(op->args, "purpose"));
    if (!action_ok(action))
        return field_bad(op, "action", "field 'action' must be a dotted verb such as db.export");
    if (!resource_ok(resource))
        return field_bad(op, "resource",
                         "field 'resource' must be a slash path such as prod/db/customers "
                         "(no empty, \".\" or \"..\" segments)");
    if (obo && !name_ok(obo, 64))
        return field_bad(op, "on_behalf_of", "field 'on_behalf_of' must be a user name");
    if (purpose && strlen(purpose) > 4096)
        return field_bad(op, "purpose", "field 'purpose' is longer than 4096 bytes");
    const char *source = json_string_value(json_object_get(op->args, "source"));
    if (source && strcmp(source, "api") && strcmp(source, "mcp") && strcmp(source, "pg") &&
        strcmp(source, "exec"))
        return field_bad(op, "source", "field 'source' must be api, mcp, pg or exec");
    json_t *rollback = json_object_get(op->args, "rollback");
    if (rollback && cs_gw_check_rollback(op, rollback) != 0) return CS_EINVAL;
    json_t *context = json_object_get(op->args, "context");
    if (context == NULL) return 0;
    char *canon = cs_jcs_dumps(context);
    int too_big = canon == NULL || strlen(canon) > CS_CONTEXT_MAX;
    free(canon);
    if (too_big) {
        cs_reply_problem(&op->reply, 413, "context-too-large",
                         "field 'context' is larger than 64 KiB");
        json_object_set_new(op->reply.body, "field", json_string("context"));
        return CS_ETOOBIG;
    }
    return 0;
}

/* What the requester asks, as reviewers and the log see it: the decision envelope's
 * parts, from which its canonical text (args_hash) and the new action's texts are
 * written (action_text.c). */
static cs_new_action new_action(const cs_op *op)
{
    const json_t *args = op->args, *who = op->who;
    const char *kind = json_string_value(json_object_get(who, "kind"));
    int agent = kind && !strcmp(kind, "agent");
    const char *source = json_string_value(json_object_get(args, "source"));
    return (cs_new_action){
        .requester_type = agent ? "Agent" : "User",
        .requester_id = json_string_value(json_object_get(who, "name")),
        .owner = agent ? json_object_get(who, "owner") : NULL,
        .action = json_string_value(json_object_get(args, "action")),
        .resource = json_string_value(json_object_get(args, "resource")),
        .context = json_object_get(args, "context"),
        .purpose = json_object_get(args, "purpose"),
        .on_behalf_of = json_object_get(args, "on_behalf_of"),
        .rollback = json_object_get(args, "rollback"),
        .rollback_of = op->kind == CS_OP_ROLLBACK ? op->id : NULL,
        .source = source ? source : "api",
        .now_ms = op->now_ms,
    };
}

/* The hex SHA-256 of the envelope's canonical text: the action's args_hash. */
static int envelope_hash(const cs_new_action *a, char hash[65])
{
    cs_buf b;
    cs_buf_init_reserve(&b, (size_t)1 << 30, 512);
    int rc = cs_new_action_envelope(a, &b);
    if (rc == 0) cs_sha256_hex(b.data, b.len, hash);
    cs_buf_free(&b);
    return rc;
}

/* The envelope as an object, for the document tree of an action that keeps one. */
static json_t *envelope_json(const cs_op *op)
{
    json_t *args = op->args, *context = json_object_get(args, "context");
    json_t *purpose = json_object_get(args, "purpose"),
           *obo = json_object_get(args, "on_behalf_of");
    json_t *env = json_object();
    json_object_set_new_nocheck(env, "requester", requester_json(op->who));
    json_object_set_nocheck(env, "action", json_object_get(args, "action"));
    json_object_set_nocheck(env, "resource", json_object_get(args, "resource"));
    json_object_set_new_nocheck(env, "context", context ? json_incref(context) : json_object());
    json_object_set_nocheck(env, "purpose", purpose ? purpose : json_null());
    json_object_set_nocheck(env, "on_behalf_of", obo ? obo : json_null());
    /* Present only when given, so that other requests hash as before. */
    if (json_object_get(args, "rollback"))
        json_object_set(env, "rollback", json_object_get(args, "rollback"));
    if (op->kind == CS_OP_ROLLBACK) json_object_set_new(env, "rollback_of", json_string(op->id));
    return env;
}

/* A new action's id (store.h): its key, the time in ms shifted left 16 bits plus a
 * counter, then 48 random bits. Keys only grow: past the last one handed out (or
 * stored, at start), even if the clock steps back, so ids sort by creation and the
 * store appends each row at its table's right edge, with the id as the row's key. */
static void new_action_id(cs_gateway *gw, long long now_ms, char out[CS_ACTION_ID_MAX])
{
    long long first = now_ms << 16, last = atomic_load(&gw->last_key), key;
    do {
        key = first > last ? first : last + 1;
    } while (!atomic_compare_exchange_weak(&gw->last_key, &last, key));
    char prefix[4 + CS_ACTION_KEY_DIGITS + 1] = "act_";
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < CS_ACTION_KEY_DIGITS; i++)
        prefix[4 + i] = hex[((unsigned long long)key >> (4 * (CS_ACTION_KEY_DIGITS - 1 - i))) & 15];
    char *id = cs_random_id(prefix, 6);
    snprintf(out, CS_ACTION_ID_MAX, "%s", id);
    free(id);
}

/* The new action: envelope, hash, decision and, when pending, what it waits for. */
static json_t *action_doc(cs_gateway *gw, const cs_op *op, json_t *envelope, const char *hash,
                          const cs_decision *d, const cs_policy_set *set)
{
    const char *status = d->kind == CS_DECISION_ALLOW     ? "allowed"
                         : d->kind == CS_DECISION_PENDING ? "pending"
                                                          : "denied";
    json_t *doc = json_object();
    json_object_set_new(doc, "id", json_string(op->action_id));
    json_object_set_new(doc, "status", json_string(status));
    json_object_update(doc, envelope);
    char tagged[7 + 65] = "sha256:";
    memcpy(tagged + 7, hash, 65);
    json_object_set_new(doc, "args_hash", json_string(tagged));
    const char *source = json_string_value(json_object_get(op->args, "source"));
    json_object_set_new(doc, "source", json_string(source ? source : "api"));
    json_object_set_new(doc, "policy", policy_json(d, set));
    long long expires = 0;
    if (d->kind == CS_DECISION_PENDING)
        json_object_set_new(doc, "approval", approval_json(gw, d, op->now_ms, &expires));
    json_object_set_new(doc, "created_at", cs_time_json(op->now_ms));
    json_object_set_new(doc, "decided_at",
                        d->kind == CS_DECISION_PENDING ? json_null() : cs_time_json(op->now_ms));
    return doc;
}

/* The members of the action.submitted entry's details, in canonical (RFC 8785) key
 * order: what was asked and what the policy said, null when absent; the kill switch and
 * the rollback links only when the action has them. */
static const struct {
    const char *key;
    int required;
} submit_keys[] = {
    {"action", 1},       {"approval", 0}, {"args_hash", 1}, {"context", 1},
    {"frozen", 0},       {"on_behalf_of", 1}, {"policy", 1}, {"purpose", 1},
    {"requester", 1},    {"resource", 1}, {"rollback", 0}, {"rollback_of", 0},
    {"status", 1},
};
#define SUBMIT_KEYS (sizeof submit_keys / sizeof submit_keys[0])

/* The action.submitted entry's details as an object. */
static json_t *submit_details(const json_t *doc)
{
    json_t *details = json_object();
    for (size_t i = 0; i < SUBMIT_KEYS; i++) {
        json_t *v = json_object_get(doc, submit_keys[i].key);
        if (v || submit_keys[i].required)
            json_object_set(details, submit_keys[i].key, v ? v : json_null());
    }
    return details;
}

/* The same details written straight in their canonical form, without the object;
 * NULL when a value cannot be written (the writer then renders the entry itself). */
static char *submit_details_text(const json_t *doc)
{
    cs_buf b;
    cs_buf_init_reserve(&b, (size_t)1 << 30, 768);
    int rc = cs_buf_putc(&b, '{'), first = 1;
    for (size_t i = 0; i < SUBMIT_KEYS && rc == 0; i++) {
        const char *key = submit_keys[i].key;
        json_t *v = json_object_get(doc, key);
        if (v == NULL && !submit_keys[i].required) continue;
        if (!first) rc = cs_buf_putc(&b, ',');
        first = 0;
        if (!rc) rc = cs_jcs_write_string(key, strlen(key), &b);
        if (!rc) rc = cs_buf_putc(&b, ':');
        if (!rc) rc = v ? cs_jcs_write(v, &b) : cs_buf_puts(&b, "null");
    }
    if (!rc) rc = cs_buf_putc(&b, '}');
    if (rc) {
        cs_buf_free(&b);
        return NULL;
    }
#ifndef NDEBUG
    for (size_t i = 1; i < SUBMIT_KEYS; i++) /* the table is in canonical order */
        assert(strcmp(submit_keys[i - 1].key, submit_keys[i].key) < 0);
    json_t *details = submit_details(doc);
    char *full = cs_jcs_dumps(details);
    assert(full && strcmp(full, b.data) == 0); /* the same text as through the object */
    free(full);
    json_decref(details);
#endif
    return cs_buf_steal(&b);
}

const char *cs_gw_actor(cs_op *op)
{
    if (op->actor == NULL) op->actor = cs_gw_uid(op->who);
    return op->actor;
}

char *cs_gw_requester_uid(const json_t *doc)
{
    json_t *r = json_object_get(doc, "requester");
    return cedar_uid(json_string_value(json_object_get(r, "type")),
                     json_string_value(json_object_get(r, "id")));
}

/* The action.submitted row of op: its entry's parts when rendered on the HTTP thread,
 * else its details. */
static cs_audit_row submitted_row(cs_op *op, const json_t *details)
{
    return (cs_audit_row){"action.submitted", op->now_ms, cs_gw_actor(op), op->source,
                          op->action_id, details, op->pre_head, op->pre_tail, NULL};
}

/* HTTP thread: renders the action.submitted entry (all but its index) and the stored
 * text of the new action (all but its audit index), so that the writer only splices
 * the index in. Whatever changes the document later drops what no longer holds
 * (cs_gw_unrender, cs_gw_receipt_issue), and the writer renders that itself. */
static void prerender_submit(cs_op *op)
{
    char *details = submit_details_text(op->doc);
    cs_audit_row row = submitted_row(op, NULL);
    row.details_text = details;
    if (details == NULL || cs_audit_entry_parts(&row, &op->pre_head, &op->pre_tail) != 0)
        op->pre_head = op->pre_tail = NULL;
    else
        op->pre_doc = cs_json_dumps(op->doc);
    free(details);
}

void cs_gw_unrender(cs_op *op)
{
    free(op->pre_head);
    free(op->pre_tail);
    free(op->pre_doc);
    op->pre_head = op->pre_tail = op->pre_doc = NULL;
}

/* The stored text of op->doc after set_audit_index(doc, index), from pre_doc. */
static char *splice_audit_index(const char *pre_doc, long long index)
{
    size_t n = strlen(pre_doc);
    if (n < 2 || pre_doc[n - 1] != '}') return NULL;
    char tail[64];
    int tn = snprintf(tail, sizeof tail, "%s\"audit\":{\"index\":%lld}}", n > 2 ? "," : "", index);
    char *t = cs_malloc(n - 1 + (size_t)tn + 1);
    memcpy(t, pre_doc, n - 1);
    memcpy(t + n - 1, tail, (size_t)tn + 1);
    return t;
}

/* HTTP thread, for an action the policy decided at once: its stored text (all but its
 * audit index) and its action.submitted entry (all but its index), written from its
 * parts; no document tree is made (op->lazy, cs_gw_op_doc). */
static int render_decided(cs_op *op, const cs_new_action *a)
{
    cs_buf doc, details;
    cs_buf_init_reserve(&doc, (size_t)1 << 30, 960);
    cs_buf_init_reserve(&details, (size_t)1 << 30, 768);
    int rc = cs_new_action_doc(a, &doc);
    if (rc == 0) rc = cs_new_action_details(a, &details);
    cs_audit_row row = submitted_row(op, NULL);
    row.details_text = details.data;
    if (rc == 0) rc = cs_audit_entry_parts(&row, &op->pre_head, &op->pre_tail);
    cs_buf_free(&details);
    if (rc) {
        op->pre_head = op->pre_tail = NULL;
        cs_buf_free(&doc);
        return rc;
    }
    op->pre_doc = cs_buf_steal(&doc);
    op->lazy = 1;
    return 0;
}

#ifndef NDEBUG
/* The texts written from the parts are exactly those of the document tree. */
static void check_decided(cs_gateway *gw, cs_op *op, const char *hash, const cs_decision *d,
                          const cs_policy_set *set)
{
    json_t *envelope = envelope_json(op);
    char *canon = cs_jcs_dumps(envelope);
    char h[65];
    cs_sha256_hex(canon, strlen(canon), h);
    assert(strcmp(h, hash) == 0);
    json_t *doc = action_doc(gw, op, envelope, hash, d, set);
    char *text = cs_json_dumps(doc);
    assert(strcmp(text, op->pre_doc) == 0);
    char *details = submit_details_text(doc);
    cs_audit_row row = submitted_row(op, NULL);
    row.pre_head = row.pre_tail = NULL;
    row.details_text = details;
    char *head = NULL, *tail = NULL;
    assert(cs_audit_entry_parts(&row, &head, &tail) == 0);
    assert(strcmp(head, op->pre_head) == 0 && strcmp(tail, op->pre_tail) == 0);
    free(head);
    free(tail);
    free(details);
    free(text);
    free(canon);
    json_decref(doc);
    json_decref(envelope);
}
#endif

int cs_gw_prepare_submit(cs_gateway *gw, cs_op *op)
{
    int rc = validate_submit(op);
    if (rc != 0) return rc;
    op->now_ms = cs_now_ms();
    op->receipt_wanted = json_is_true(json_object_get(op->args, "receipt"));
    cs_new_action a = new_action(op);
    char hash[65];
    if (envelope_hash(&a, hash) != 0) {
        cs_reply_problem(&op->reply, 500, "internal-error", "the request could not be rendered");
        return CS_EINTERNAL;
    }
    json_t *ctx = policy_context(op->args, op->now_ms);
    cs_decision d;
    cs_policy_set *set = NULL;
    rc = decide(gw, op, op->who, ctx, &d, &set);
    json_decref(ctx);
    if (rc != 0) return rc;
    new_action_id(gw, op->now_ms, op->action_id);
    snprintf(op->args_hash, sizeof op->args_hash, "sha256:%s", hash);
    /* Decided at once, no receipt to sign into it: the texts are all it needs. */
    if (op->kind == CS_OP_SUBMIT && d.kind != CS_DECISION_PENDING && !op->receipt_wanted) {
        a.id = op->action_id;
        a.status = d.kind == CS_DECISION_ALLOW ? "allowed" : "denied";
        a.args_hash = op->args_hash;
        a.policy_version = cs_policy_set_version(set);
        a.decision = &d;
        if (render_decided(op, &a) == 0) op->new_status = a.status;
#ifndef NDEBUG
        if (op->lazy) check_decided(gw, op, hash, &d, set);
#endif
    }
    if (!op->lazy) {
        json_t *envelope = envelope_json(op);
        op->doc = action_doc(gw, op, envelope, hash, &d, set);
        json_decref(envelope);
        if (op->kind == CS_OP_SUBMIT) prerender_submit(op);
    }
    cs_decision_free(&d);
    cs_policy_set_release(set);
    return 0;
}

json_t *cs_gw_op_doc(cs_op *op)
{
    if (op->doc == NULL && op->lazy) {
        /* The stored text once written (it has the audit index), else the one before. */
        const char *text = op->stored_text ? op->stored_text : op->pre_doc;
        op->doc = json_loads(text, 0, NULL);
        if (op->doc == NULL) cs_error("gateway: the text of %s does not parse", op->action_id);
        op->lazy = 0;
    }
    return op->doc;
}

const char *cs_gw_op_status(const cs_op *op)
{
    return op->doc ? json_string_value(json_object_get(op->doc, "status")) : op->new_status;
}

int cs_gw_prepare_simple(cs_gateway *gw, cs_op *op)
{
    (void)gw;
    const cs_field *fields = op->kind == CS_OP_OUTCOME ? outcome_fields : vote_fields;
    if (op->args == NULL) op->args = json_object();
    if (cs_validate_fields(op->args, fields, &op->reply) != 0) return CS_EINVAL;
    const char *reason = json_string_value(json_object_get(op->args, "reason"));
    if (reason && strlen(reason) > 4096)
        return field_bad(op, "reason", "field 'reason' is longer than 4096 bytes");
    if (op->kind == CS_OP_OUTCOME) {
        const char *st = json_string_value(json_object_get(op->args, "status"));
        if (strcmp(st, "succeeded") && strcmp(st, "failed"))
            return field_bad(op, "status", "field 'status' must be succeeded or failed");
        const char *sha = json_string_value(json_object_get(op->args, "output_sha256"));
        if (sha && (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64))
            return field_bad(op, "output_sha256",
                             "field 'output_sha256' must be 64 lowercase hex digits");
        const char *det = json_string_value(json_object_get(op->args, "detail"));
        if (det && strlen(det) > 8192)
            return field_bad(op, "detail", "field 'detail' is longer than 8192 bytes");
    }
    op->now_ms = cs_now_ms();
    return 0;
}

int cs_gw_audit(cs_gateway *gw, cs_op *op, const char *type, const json_t *details,
                long long *index)
{
    const char *aid = op->doc        ? json_string_value(json_object_get(op->doc, "id"))
                      : op->action_id[0] ? op->action_id
                                         : op->id;
    cs_audit_row row = {type, op->now_ms, cs_gw_actor(op), op->source, aid, details, NULL, NULL, NULL};
    return gw->store->ops->audit_append(gw->store, &row, index);
}

/* Stores op->doc as `text` (owned; NULL: serialised here) and queues its notifications.
 * An action decided at once without its tree (op->lazy) is stored from its text; it
 * waited for nobody, so there is nobody to notify (cs_notify_event). */
static int put_action(cs_gateway *gw, cs_op *op, char *text)
{
    json_t *doc = op->doc;
    const char *status = cs_gw_op_status(op);
    char *req = doc ? cs_gw_requester_uid(doc) : NULL;
    if (text == NULL) text = cs_json_dumps(doc);
    cs_action_row row = {
        .id = doc ? json_string_value(json_object_get(doc, "id")) : op->action_id,
        .status = status,
        /* A new action's requester is the identity that submitted it. */
        .requester = req ? req : cs_gw_actor(op),
        .idem_key = op->kind == CS_OP_SUBMIT ? op->idem_key : NULL,
        .expires_at = !strcmp(status, "pending") ? cs_action_expires_ms(doc) : 0,
        .created_at = op->now_ms,
        .doc = text,
    };
    int rc = gw->store->ops->action_put(gw->store, &row);
    free(req);
    op->changed = 1;
    /* The stored text is also the reply: one serialisation per change. */
    free(op->stored_text);
    op->stored_text = text;
    /* Notifications are outbox rows in this same transaction (src/notify/). */
    size_t added = 0;
    if (rc == 0 && doc) rc = cs_notify_enqueue(gw->notify, gw->store, doc, op->now_ms, &added);
    if (added) op->notified = 1; /* wake the delivery thread only when there is work */
    return rc;
}

/* The reply body: the text just stored, handed over (or a fresh dump when nothing was
 * stored). */
static char *take_text(cs_op *op)
{
    char *t = op->stored_text ? op->stored_text : cs_json_dumps(op->doc);
    op->stored_text = NULL;
    return t;
}

static void set_audit_index(json_t *doc, long long index)
{
    json_t *audit = json_object();
    json_object_set_new_nocheck(audit, "index", json_integer((json_int_t)index));
    json_object_set_new_nocheck(doc, "audit", audit);
}

int cs_gw_apply_submit(cs_gateway *gw, cs_op *op)
{
    cs_store *s = gw->store;
    json_t *doc = op->doc;
    if (op->idem_key) {
        char *text = NULL;
        int rc = s->ops->action_by_idem(s, 1, cs_gw_actor(op), op->idem_key, &text);
        if (rc == 0) {
            json_t *old = json_loads(text, 0, NULL);
            free(text);
            if (old == NULL) return CS_EDB;
            const char *was = json_string_value(json_object_get(old, "args_hash"));
            if (was && !strcmp(was, op->args_hash)) {
                op->reply = (cs_reply){.status = 201, .body = cs_gw_public(old), .replayed = 1};
            } else {
                cs_reply_problem(&op->reply, 422, "idempotency-key-reused",
                                 "this Idempotency-Key was used for a different request");
            }
            json_decref(old);
            return 0;
        }
        if (rc != CS_ENOTFOUND) return rc;
    }
    /* Frozen agents' requests are stored denials; limits may freeze the agent now. */
    int rc = cs_gw_submit_guard(gw, op);
    if (rc) return rc;
    doc = op->doc; /* made from the text meanwhile if the guard changed the action */
    long long index = 0;
    json_t *details = op->pre_head ? NULL : submit_details(doc);
    cs_audit_row row = submitted_row(op, details);
    rc = gw->store->ops->audit_append(gw->store, &row, &index);
    json_decref(details);
    if (rc) return rc;
    if (doc) set_audit_index(doc, index);
    const char *status = cs_gw_op_status(op);
    if (!strcmp(status, "allowed") && op->receipt_wanted &&
        (rc = cs_gw_receipt_issue(gw, op)) != 0)
        return rc;
    char *text = op->pre_doc ? splice_audit_index(op->pre_doc, index) : NULL;
#ifndef NDEBUG
    if (text && doc) { /* the splice is exactly what rendering the document again writes */
        char *full = cs_json_dumps(doc);
        assert(strcmp(full, text) == 0);
        free(full);
    }
#endif
    if ((rc = put_action(gw, op, text)) != 0) return rc;
    op->reply = (cs_reply){.status = 201, .text = take_text(op)};
    return 0;
}

/* Loads the action into op->doc; 404 problem when unknown. */
static int load(cs_gateway *gw, cs_op *op)
{
    char *text = NULL;
    int rc = gw->store->ops->action_get(gw->store, 1, op->id, &text);
    if (rc == CS_ENOTFOUND) {
        cs_reply_problem(&op->reply, 404, "not-found", "no action with this id");
        return CS_ENOTFOUND;
    }
    if (rc) return rc;
    op->doc = json_loads(text, 0, NULL);
    free(text);
    return op->doc ? 0 : CS_EDB;
}

/* Records a terminal state and its audit entry. */
static int finish_action(cs_gateway *gw, cs_op *op, const char *status, const char *type,
                         json_t *details)
{
    json_object_set_new(op->doc, "status", json_string(status));
    json_object_set_new(op->doc, "decided_at", cs_time_json(op->now_ms));
    json_object_set_new(details, "status", json_string(status));
    json_object_set(details, "args_hash", json_object_get(op->doc, "args_hash"));
    long long index = 0;
    int rc = cs_gw_audit(gw, op, type, details, &index);
    if (rc) return rc;
    set_audit_index(op->doc, index);
    return 0;
}

/* Pending and past its deadline: expire it now (fail closed, SPEC §3 rule 7). */
static int expire_if_due(cs_gateway *gw, cs_op *op, int *expired)
{
    *expired = 0;
    if (!cs_action_is_pending(op->doc)) return 0;
    if (cs_action_expires_ms(op->doc) > op->now_ms) return 0;
    json_t *saved_who = op->who;
    op->who = NULL; /* the system expires it, whoever triggered the check */
    json_t *details = json_object();
    int rc = finish_action(gw, op, "expired", "action.expired", details);
    json_decref(details);
    op->who = saved_who;
    if (rc == 0) rc = put_action(gw, op, NULL);
    *expired = 1;
    return rc;
}

static int refuse_vote(cs_gateway *gw, cs_op *op, int http, const char *type, const char *detail)
{
    json_t *details = json_pack(
        "{s:s,s:s,s:O}", "vote", op->kind == CS_OP_APPROVE ? "approve" : "deny", "refusal", type,
        "reason",
        json_object_get(op->args, "reason") ? json_object_get(op->args, "reason") : json_null());
    int rc = cs_gw_audit(gw, op, "action.vote_refused", details, NULL);
    json_decref(details);
    cs_reply_problem(&op->reply, http, type, detail);
    return rc;
}

static int has_group(const json_t *groups, const char *g)
{
    size_t i;
    json_t *v;
    json_array_foreach(groups, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), g)) return 1;
    return 0;
}

/* The voter's groups that appear among the approver groups. */
static json_t *eligible_groups(const json_t *who, const json_t *approval)
{
    json_t *out = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(who, "groups"), i,
                       g) if (has_group(json_object_get(approval, "groups"), json_string_value(g)))
        json_array_append(out, g);
    return out;
}

/* Every requirement met: its quorum of distinct approvers from its groups. */
static int quorum_met(const json_t *approval)
{
    size_t i, j, k;
    json_t *req, *vote, *g;
    json_array_foreach(json_object_get(approval, "requirements"), i, req)
    {
        json_int_t have = 0;
        json_array_foreach(json_object_get(approval, "votes"), j, vote)
        {
            if (strcmp(json_string_value(json_object_get(vote, "vote")), "approve")) continue;
            int counts = 0;
            json_array_foreach(json_object_get(vote, "groups"), k, g) counts |=
                has_group(json_object_get(req, "groups"), json_string_value(g));
            have += counts;
        }
        if (have < json_integer_value(json_object_get(req, "quorum"))) return 0;
    }
    return 1;
}

typedef struct refusal {
    int http;
    const char *type, *detail;
} refusal;

static const refusal R_AGENT = {403, "agent-cannot-approve",
                                "agents can never approve or deny actions"};
static const refusal R_PENDING = {409, "not-pending", "the action is no longer pending"};
static const refusal R_SELF = {
    403, "self-approval",
    "nobody votes on an action they requested or that was requested on their behalf"};
static const refusal R_OWNER = {403, "owner-approval",
                                "nobody votes on an action requested by an agent they own"};
static const refusal R_DUP = {409, "duplicate-vote", "you have already voted on this action"};
static const refusal R_GROUP = {403, "not-in-approver-group",
                                "you are not in any approver group of this action"};

/* SPEC §3 rules 6, 2 and 3, then membership (rule 4, with the voter's groups as
 * they are now): the first one this vote breaks, or NULL with *groups set to the
 * voter's groups that count. Rule 1 (agents) is checked before. */
static const refusal *vote_refusal(const cs_op *op, json_t **groups)
{
    const char *voter = json_string_value(json_object_get(op->who, "name"));
    json_t *requester = json_object_get(op->doc, "requester");
    const char *rtype = json_string_value(json_object_get(requester, "type"));
    const char *rid = json_string_value(json_object_get(requester, "id"));
    const char *owner = json_string_value(json_object_get(requester, "owner"));
    const char *obo = json_string_value(json_object_get(op->doc, "on_behalf_of"));
    json_t *approval = json_object_get(op->doc, "approval");
    if (!cs_action_is_pending(op->doc)) return &R_PENDING;
    /* Users and agents share one namespace of names (a token for an existing name
     * replaces it, whatever its kind), so the requester's name is compared whatever
     * its type: an agent's name re-issued to a person is still the requester. */
    if (!strcmp(rid, voter) || (obo && !strcmp(obo, voter))) return &R_SELF;
    if (!strcmp(rtype, "Agent") && owner && !strcmp(owner, voter)) return &R_OWNER;
    size_t i;
    json_t *v;
    json_array_foreach(
        json_object_get(approval, "votes"), i,
        v) if (!strcmp(json_string_value(json_object_get(v, "voter")), voter)) return &R_DUP;
    *groups = eligible_groups(op->who, approval);
    if (json_array_size(*groups) > 0) return NULL;
    json_decref(*groups);
    *groups = NULL;
    return &R_GROUP;
}

/* Records an accepted vote and, when it decides the action, the decision. */
static int record_vote(cs_gateway *gw, cs_op *op, json_t *groups)
{
    json_t *approval = json_object_get(op->doc, "approval");
    json_t *reason = json_object_get(op->args, "reason");
    json_t *vote =
        json_pack("{s:O,s:s,s:O,s:o,s:o}", "voter", json_object_get(op->who, "name"), "vote",
                  op->kind == CS_OP_APPROVE ? "approve" : "deny", "reason",
                  reason ? reason : json_null(), "groups", groups, "at", cs_time_json(op->now_ms));
    /* The channel is the source's scheme: api, web, slack, ... */
    json_object_set_new(vote, "channel", json_stringn(op->source, strcspn(op->source, ":")));
    json_array_append_new(json_object_get(approval, "votes"), vote);
    int rc = cs_gw_audit(gw, op, "action.vote", vote, NULL);
    if (rc == 0 && op->kind == CS_OP_DENY) { /* rule 5: one deny decides */
        json_t *d = json_pack("{s:O}", "by", json_object_get(op->who, "name"));
        rc = finish_action(gw, op, "denied", "action.denied", d);
        json_decref(d);
    } else if (rc == 0 && quorum_met(approval)) {
        json_t *d = json_pack("{s:O}", "votes", json_object_get(approval, "votes"));
        rc = finish_action(gw, op, "approved", "action.approved", d);
        json_decref(d);
        if (rc == 0) rc = cs_gw_receipt_issue(gw, op);
    }
    return rc;
}

static int apply_vote(cs_gateway *gw, cs_op *op)
{
    int rc = load(gw, op), expired = 0;
    if (rc) return rc == CS_ENOTFOUND ? 0 : rc;
    if (strcmp(json_string_value(json_object_get(op->who, "kind")), "user") != 0)
        return refuse_vote(gw, op, R_AGENT.http, R_AGENT.type, R_AGENT.detail);
    if ((rc = expire_if_due(gw, op, &expired)) != 0) return rc;
    json_t *groups = NULL;
    const refusal *no = vote_refusal(op, &groups);
    if (no) return refuse_vote(gw, op, no->http, no->type, no->detail);
    rc = record_vote(gw, op, groups);
    if (rc == 0) rc = put_action(gw, op, NULL);
    if (rc == 0) op->reply = (cs_reply){.status = 200, .text = take_text(op)};
    return rc;
}

/* Any other refused attempt on an action: an audit entry too (SPEC §3 rule 8). */
static int refuse_op(cs_gateway *gw, cs_op *op, int http, const char *type, const char *detail)
{
    json_t *d = json_pack("{s:s,s:s}", "operation", op->kind == CS_OP_CANCEL ? "cancel" : "outcome",
                          "refusal", type);
    int rc = cs_gw_audit(gw, op, "action.refused", d, NULL);
    json_decref(d);
    cs_reply_problem(&op->reply, http, type, detail);
    return rc;
}

static int apply_cancel(cs_gateway *gw, cs_op *op)
{
    int rc = load(gw, op), expired = 0;
    if (rc) return rc == CS_ENOTFOUND ? 0 : rc;
    char *theirs = cs_gw_requester_uid(op->doc);
    int same = !strcmp(cs_gw_actor(op), theirs);
    free(theirs);
    if (!same) {
        return refuse_op(gw, op, 403, "not-requester", "only the requester may cancel an action");
    }
    if ((rc = expire_if_due(gw, op, &expired)) != 0) return rc;
    if (!cs_action_is_pending(op->doc))
        return refuse_op(gw, op, 409, "not-pending", "the action is no longer pending");
    json_t *d = json_pack("{s:O}", "reason",
                          json_object_get(op->args, "reason") ? json_object_get(op->args, "reason")
                                                              : json_null());
    rc = finish_action(gw, op, "cancelled", "action.cancelled", d);
    json_decref(d);
    if (rc == 0) rc = put_action(gw, op, NULL);
    if (rc == 0) op->reply = (cs_reply){.status = 200, .text = take_text(op)};
    return rc;
}

static int apply_outcome(cs_gateway *gw, cs_op *op)
{
    int rc = load(gw, op);
    if (rc) return rc == CS_ENOTFOUND ? 0 : rc;
    json_t *requester = json_object_get(op->doc, "requester");
    const char *name = json_string_value(json_object_get(op->who, "name"));
    if (strcmp(json_string_value(json_object_get(requester, "id")), name) != 0 &&
        !json_is_true(json_object_get(op->who, "admin"))) {
        return refuse_op(gw, op, 403, "not-requester", "only the requester reports an outcome");
    }
    const char *st = json_string_value(json_object_get(op->doc, "status"));
    if (strcmp(st, "allowed") && strcmp(st, "approved")) {
        return refuse_op(gw, op, 409, "not-runnable",
                         "outcomes are reported for allowed or approved actions only");
    }
    if (json_object_get(op->doc, "outcome")) {
        return refuse_op(gw, op, 409, "outcome-exists", "an outcome was already reported");
    }
    json_t *out = json_deep_copy(op->args);
    json_object_set_new(out, "reported_at", cs_time_json(op->now_ms));
    json_object_set_new(op->doc, "outcome", out);
    long long index = 0;
    if ((rc = cs_gw_audit(gw, op, "action.outcome", out, &index)) != 0) return rc;
    if ((rc = put_action(gw, op, NULL)) != 0) return rc;
    op->reply = (cs_reply){.status = 200, .text = take_text(op)};
    return 0;
}

static int apply_expire(cs_gateway *gw, cs_op *op)
{
    int rc = load(gw, op), expired = 0;
    if (rc) return rc == CS_ENOTFOUND ? 0 : rc;
    rc = expire_if_due(gw, op, &expired);
    if (rc == 0) op->reply = (cs_reply){.status = 200, .text = take_text(op)};
    return rc;
}

int cs_gw_apply(cs_store *s, cs_write_job *job)
{
    (void)s;
    cs_op *op = (cs_op *)job;
    cs_gateway *gw = op->gw;
    switch (op->kind) {
    case CS_OP_SUBMIT:
        return cs_gw_apply_submit(gw, op);
    case CS_OP_APPROVE:
    case CS_OP_DENY:
        return apply_vote(gw, op);
    case CS_OP_CANCEL:
        return apply_cancel(gw, op);
    case CS_OP_OUTCOME:
        return apply_outcome(gw, op);
    case CS_OP_EXPIRE:
        return apply_expire(gw, op);
    case CS_OP_CONSUME:
        return cs_gw_apply_consume(gw, op);
    case CS_OP_TOKEN_CREATE:
    case CS_OP_TOKEN_REVOKE:
        return cs_gw_apply_token(gw, op);
    case CS_OP_EVENT:
        return cs_gw_apply_event(gw, op);
    case CS_OP_FREEZE:
    case CS_OP_UNFREEZE:
        return cs_gw_apply_freeze(gw, op);
    case CS_OP_ROLLBACK:
        return cs_gw_apply_rollback(gw, op);
    }
    return CS_EINTERNAL;
}
