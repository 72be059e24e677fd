/* tokens.c - bearer identities: an in-memory map from token hash to identity,
 * loaded from the store at start and updated after each committed change. Tokens
 * themselves are never stored; a lookup hashes the presented token first, so
 * timing reveals nothing about stored values. */
#include "gateway/gateway_int.h"

#include "util/alloc.h"

#include <ctype.h>
#include <string.h>

/* The most groups one identity holds: every policy evaluation of it carries them all
 * as the principal's parents, so an unbounded list would slow every request it makes
 * and every vote it casts. */
#define GROUPS_MAX 256
#define GROUPS_MAX_TEXT "256"

static const cs_field token_fields[] = {
    {"kind", JSON_STRING, 1}, {"name", JSON_STRING, 1},     {"owner", JSON_STRING, 0},
    {"groups", JSON_ARRAY, 0}, {"slack_id", JSON_STRING, 0}, {"admin", JSON_TRUE, 0},
    {NULL, 0, 0},
};

static int ident_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("._-@", *s))) return 0;
    return 1;
}

int cs_gw_tokens_load(cs_gateway *gw, cs_err *err)
{
    json_t *rows = NULL;
    int rc = gw->store->ops->tokens(gw->store, &rows);
    if (rc) return cs_err_set(err, rc, "cannot read tokens");
    gw->tokens = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (json_is_true(json_object_get(row, "revoked"))) continue;
        json_t *id = json_loads(json_string_value(json_object_get(row, "doc")), 0, NULL);
        if (id) json_object_set_new(gw->tokens, json_string_value(json_object_get(row, "hash")), id);
    }
    json_decref(rows);
    return 0;
}

void cs_gw_tokens_free(cs_gateway *gw)
{
    json_decref(gw->tokens);
    gw->tokens = NULL;
}

json_t *cs_gateway_authenticate(cs_gateway *gw, const char *token)
{
    if (token == NULL || strlen(token) > 256) return NULL;
    char hash[65];
    cs_token_hash(token, hash);
    pthread_rwlock_rdlock(&gw->tok_lock);
    json_t *id = json_incref(json_object_get(gw->tokens, hash));
    pthread_rwlock_unlock(&gw->tok_lock);
    return id;
}

/* The first user identity whose `field` equals value (new reference), or NULL. */
static json_t *find_user_by(cs_gateway *gw, const char *field, const char *value)
{
    json_t *found = NULL;
    pthread_rwlock_rdlock(&gw->tok_lock);
    const char *k;
    json_t *v;
    json_object_foreach(gw->tokens, k, v) {
        const char *have = json_string_value(json_object_get(v, field));
        const char *kind = json_string_value(json_object_get(v, "kind"));
        if (have && kind && !strcmp(kind, "user") && !strcmp(have, value)) {
            found = json_incref(v);
            break;
        }
    }
    pthread_rwlock_unlock(&gw->tok_lock);
    return found;
}

json_t *cs_gateway_find_user(cs_gateway *gw, const char *name)
{
    return find_user_by(gw, "name", name);
}

json_t *cs_gateway_find_slack_user(cs_gateway *gw, const char *slack_id)
{
    return find_user_by(gw, "slack_id", slack_id);
}

/* The current hash of a named identity ("" when none). */
static void find_name(cs_gateway *gw, const char *name, char hash[65], json_t **doc)
{
    hash[0] = '\0';
    *doc = NULL;
    pthread_rwlock_rdlock(&gw->tok_lock);
    const char *k;
    json_t *v;
    json_object_foreach(gw->tokens, k, v) {
        if (!strcmp(json_string_value(json_object_get(v, "name")), name)) {
            strcpy(hash, k);
            *doc = json_incref(v);
            break;
        }
    }
    pthread_rwlock_unlock(&gw->tok_lock);
}

/* Slack user ids are upper-case letters and digits; agents never get one, so a
 * Slack click can only ever act as a human (SPEC §3 rule 1). */
static int slack_id_ok(const json_t *args, const char *kind)
{
    const char *s = json_string_value(json_object_get(args, "slack_id"));
    if (s == NULL) return 1;
    size_t n = strlen(s);
    if (strcmp(kind, "user") != 0 || n == 0 || n > 32) return 0;
    for (; *s; s++)
        if (!(isupper((unsigned char)*s) || isdigit((unsigned char)*s))) return 0;
    return 1;
}

int cs_gw_prepare_token(cs_gateway *gw, cs_op *op)
{
    (void)gw;
    if (op->who && !json_is_true(json_object_get(op->who, "admin"))) {
        cs_reply_problem(&op->reply, 403, "not-admin", "only admins manage tokens");
        return CS_EPERM;
    }
    op->now_ms = cs_now_ms();
    if (op->kind == CS_OP_TOKEN_REVOKE) return 0;
    if (cs_validate_fields(op->args, token_fields, &op->reply) != 0) return CS_EINVAL;
    const char *kind = json_string_value(json_object_get(op->args, "kind"));
    const char *name = json_string_value(json_object_get(op->args, "name"));
    const char *owner = json_string_value(json_object_get(op->args, "owner"));
    const char *bad = NULL, *detail = NULL;
    if (strcmp(kind, "agent") && strcmp(kind, "user")) bad = "kind", detail = "field 'kind' must be agent or user";
    else if (!ident_ok(name)) bad = "name", detail = "field 'name' must be 1-64 of [A-Za-z0-9._-@]";
    else if (!strcmp(kind, "agent") && (!owner || !ident_ok(owner))) bad = "owner", detail = "agents need an 'owner' (a user name)";
    else if (!strcmp(kind, "user") && owner) bad = "owner", detail = "users have no owner";
    else if (!strcmp(kind, "agent") && json_is_true(json_object_get(op->args, "admin"))) bad = "admin", detail = "agents cannot be admins";
    else if (!slack_id_ok(op->args, kind)) bad = "slack_id", detail = "field 'slack_id' is a Slack user id (such as U0123ABC) and only users have one";
    size_t i;
    json_t *g, *groups = json_object_get(op->args, "groups");
    if (!bad && json_array_size(groups) > GROUPS_MAX)
        bad = "groups", detail = "field 'groups' holds at most " GROUPS_MAX_TEXT " group names";
    json_array_foreach(groups, i, g)
        if (!bad && (!json_is_string(g) || !ident_ok(json_string_value(g)))) bad = "groups", detail = "field 'groups' must be a list of group names";
    if (bad) {
        cs_reply_problem(&op->reply, 400, "invalid-field", detail);
        json_object_set_new(op->reply.body, "field", json_string(bad));
        return CS_EINVAL;
    }
    /* One Slack account, one countersign user: a click must map to exactly one human. */
    const char *slack = json_string_value(json_object_get(op->args, "slack_id"));
    json_t *holder = slack ? cs_gateway_find_slack_user(gw, slack) : NULL;
    int taken = holder && strcmp(json_string_value(json_object_get(holder, "name")), name) != 0;
    json_decref(holder);
    if (taken) {
        cs_reply_problem(&op->reply, 409, "slack-id-taken", "another user already has this slack_id");
        return CS_ECONFLICT;
    }
    json_t *doc = json_pack("{s:s,s:s,s:o,s:b}", "kind", kind, "name", name, "groups",
                            groups ? json_deep_copy(groups) : json_array(), "admin",
                            json_is_true(json_object_get(op->args, "admin")));
    if (owner) json_object_set_new(doc, "owner", json_string(owner));
    if (json_object_get(op->args, "slack_id")) json_object_set(doc, "slack_id", json_object_get(op->args, "slack_id"));
    json_object_set_new(doc, "created_at", cs_time_json(op->now_ms));
    op->doc = doc;
    op->token = cs_token_new();
    cs_token_hash(op->token, op->hash);
    return 0;
}

/* Creating a token for an existing name rotates it: the old token stops working. */
int cs_gw_apply_token(cs_gateway *gw, cs_op *op)
{
    cs_store *s = gw->store;
    char old[65];
    json_t *old_doc = NULL;
    find_name(gw, op->kind == CS_OP_TOKEN_REVOKE ? op->id : json_string_value(json_object_get(op->doc, "name")), old, &old_doc);
    int rc = 0;
    if (op->kind == CS_OP_TOKEN_REVOKE) {
        if (old_doc == NULL) {
            cs_reply_problem(&op->reply, 404, "not-found", "no token with this name");
            return 0;
        }
        char *text = json_dumps(old_doc, JSON_COMPACT);
        rc = s->ops->token_put(s, op->id, old, text, 1);
        free(text);
        json_t *d = json_pack("{s:s}", "name", op->id);
        if (rc == 0) rc = cs_gw_audit(gw, op, "token.revoked", d, NULL);
        json_decref(d);
        strcpy(op->hash, old);
        if (rc == 0) op->reply = (cs_reply){.status = 200, .body = json_pack("{s:s,s:b}", "name", op->id, "revoked", 1)};
        json_decref(old_doc);
        return rc;
    }
    json_decref(old_doc);
    /* An agent's owner is a human who holds a token now (SPEC §1): a misspelt owner
     * would leave the real one free to approve the agent's requests (SPEC §3 rule 2).
     * Checked here, on the writer, against the tokens as committed. */
    const char *owner = json_string_value(json_object_get(op->doc, "owner"));
    if (owner) {
        char owner_hash[65];
        json_t *owner_doc = NULL;
        find_name(gw, owner, owner_hash, &owner_doc);
        const char *owner_kind = json_string_value(json_object_get(owner_doc, "kind"));
        int is_user = owner_kind && !strcmp(owner_kind, "user");
        json_decref(owner_doc);
        if (!is_user) {
            cs_reply_problem(&op->reply, 422, "unknown-owner",
                             "the owner must be a user who has a token: create the user first");
            json_object_set_new(op->reply.body, "field", json_string("owner"));
            return 0;
        }
    }
    char *text = json_dumps(op->doc, JSON_COMPACT);
    rc = s->ops->token_put(s, json_string_value(json_object_get(op->doc, "name")), op->hash, text, 0);
    free(text);
    json_t *d = json_deep_copy(op->doc);
    json_object_set_new(d, "rotated", json_boolean(old[0] != '\0'));
    json_t *saved = op->doc;
    op->doc = NULL; /* the audit entry has no action id */
    free(op->id);
    op->id = NULL;
    if (rc == 0) rc = cs_gw_audit(gw, op, "token.created", d, NULL);
    op->doc = saved;
    json_decref(d);
    if (rc == 0) {
        json_t *body = json_deep_copy(op->doc);
        json_object_set_new(body, "token", json_string(op->token));
        op->reply = (cs_reply){.status = 201, .body = body};
    }
    return rc;
}

void cs_gw_token_committed(cs_gateway *gw, cs_op *op)
{
    pthread_rwlock_wrlock(&gw->tok_lock);
    const char *name = op->kind == CS_OP_TOKEN_REVOKE ? op->id : json_string_value(json_object_get(op->doc, "name"));
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(gw->tokens, tmp, k, v) if (!strcmp(json_string_value(json_object_get(v, "name")), name))
        json_object_del(gw->tokens, k);
    if (op->kind == CS_OP_TOKEN_CREATE) json_object_set(gw->tokens, op->hash, op->doc);
    gw->token_epoch++;
    pthread_rwlock_unlock(&gw->tok_lock);
}

unsigned long long cs_gateway_token_epoch(cs_gateway *gw)
{
    pthread_rwlock_rdlock(&gw->tok_lock);
    unsigned long long e = gw->token_epoch;
    pthread_rwlock_unlock(&gw->tok_lock);
    return e;
}
