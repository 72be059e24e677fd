/* receipts.c - issuing, verifying and consuming receipts (SPEC §1). A receipt is
 * bound to {action id, args_hash, requester, policy version, not_after}; consuming
 * it is a writer-thread step, so exactly one of two racing consumers wins. */
#include "gateway/gateway_int.h"

#include "util/alloc.h"

#include <string.h>

static const cs_field receipt_fields[] = {
    {"receipt", JSON_STRING, 1}, {"args_hash", JSON_STRING, 0}, {NULL, 0, 0}};

/* The signed receipt; *claims receives what it says. */
static char *receipt_issue(cs_gateway *gw, const json_t *doc, long long now_ms, json_t **claims_out)
{
    json_t *r = json_object_get(doc, "requester");
    char *uid = cs_sprintf("%s::\"%s\"", json_string_value(json_object_get(r, "type")),
                           json_string_value(json_object_get(r, "id")));
    char *jti = cs_random_id("", 8);
    json_t *claims = json_pack(
        "{s:i,s:O,s:O,s:s,s:O,s:O,s:I,s:I,s:s}", "v", 1, "action_id", json_object_get(doc, "id"),
        "args_hash", json_object_get(doc, "args_hash"), "requester", uid, "policy_version",
        json_object_get(json_object_get(doc, "policy"), "version"), "status",
        json_object_get(doc, "status"), "issued_at", (json_int_t)(now_ms / 1000), "not_after",
        (json_int_t)(now_ms / 1000 + gw->cfg->receipt_ttl_s), "jti", jti);
    char *out = cs_receipt_issue(gw->signer, claims);
    *claims_out = claims;
    free(uid);
    free(jti);
    return out;
}

int cs_gw_receipt_issue(cs_gateway *gw, cs_op *op)
{
    json_t *claims = NULL;
    char *r = receipt_issue(gw, op->doc, op->now_ms, &claims);
    json_object_set_new(op->doc, "receipt", json_string(r));
    free(r);
    /* The stored text rendered on the HTTP thread has no receipt. */
    free(op->pre_doc);
    op->pre_doc = NULL;
    json_t *d = json_pack("{s:O,s:O,s:O,s:O}", "jti", json_object_get(claims, "jti"), "args_hash",
                          json_object_get(claims, "args_hash"), "policy_version",
                          json_object_get(claims, "policy_version"), "not_after", json_object_get(claims, "not_after"));
    int rc = cs_gw_audit(gw, op, "receipt.issued", d, NULL);
    json_decref(d);
    json_decref(claims);
    return rc;
}

/* Opens and checks a presented receipt; fills reply with a problem on failure. */
static int open_receipt(cs_gateway *gw, json_t *args, cs_reply *reply, json_t **claims)
{
    if (cs_validate_fields(args, receipt_fields, reply) != 0) return CS_EINVAL;
    cs_err err = {0};
    const char *text = json_string_value(json_object_get(args, "receipt"));
    if (cs_receipt_open(cs_signer_public(gw->signer), text, claims, &err) != 0) {
        cs_reply_problem(reply, 400, "invalid-receipt", err.msg);
        return CS_EINVAL;
    }
    if (!json_is_string(json_object_get(*claims, "action_id"))) {
        json_decref(*claims);
        cs_reply_problem(reply, 400, "invalid-receipt", "receipt has no action id");
        return CS_EINVAL;
    }
    return 0;
}

static int expired(const json_t *claims, long long now_ms)
{
    return json_integer_value(json_object_get(claims, "not_after")) < now_ms / 1000;
}

static int same_receipt(const json_t *doc, const char *presented)
{
    const char *stored = json_string_value(json_object_get(doc, "receipt"));
    if (stored == NULL || strlen(stored) != strlen(presented)) return 0;
    return cs_ct_equal(stored, presented, strlen(stored));
}

void cs_gateway_receipt_verify(cs_gateway *gw, json_t *args, cs_reply *reply)
{
    json_t *claims = NULL;
    if (open_receipt(gw, args, reply, &claims) != 0) {
        /* A receipt that does not verify is an answer, not a malformed request. */
        if (reply->body &&
            !strcmp(json_string_value(json_object_get(reply->body, "type")), "invalid-receipt")) {
            json_t *why = json_incref(json_object_get(reply->body, "detail"));
            cs_reply_clear(reply);
            *reply = (cs_reply){.status = 200,
                                .body = json_pack("{s:b,s:o}", "valid", 0, "reason", why)};
        }
        return;
    }
    char *text = NULL;
    const char *aid = json_string_value(json_object_get(claims, "action_id"));
    int rc = gw->store->ops->action_get(gw->store, 0, aid, &text);
    json_t *doc = rc == 0 ? json_loads(text, 0, NULL) : NULL;
    free(text);
    const char *reason = NULL;
    if (doc == NULL)
        reason = "unknown action";
    else if (!same_receipt(doc, json_string_value(json_object_get(args, "receipt"))))
        reason = "not the receipt issued for this action";
    else if (json_object_get(doc, "receipt_revoked_at"))
        reason = "receipt revoked (the agent was frozen)";
    else if (expired(claims, cs_now_ms()))
        reason = "receipt expired";
    json_t *body = json_deep_copy(claims);
    json_object_set_new(body, "valid", json_boolean(reason == NULL));
    json_object_set_new(body, "consumed",
                        json_boolean(doc && json_object_get(doc, "receipt_consumed_at")));
    json_object_set_new(body, "revoked",
                        json_boolean(doc && json_object_get(doc, "receipt_revoked_at")));
    if (reason) json_object_set_new(body, "reason", json_string(reason));
    *reply = (cs_reply){.status = 200, .body = body};
    json_decref(doc);
    json_decref(claims);
}

int cs_gw_prepare_consume(cs_gateway *gw, cs_op *op)
{
    json_t *claims = NULL;
    if (open_receipt(gw, op->args, &op->reply, &claims) != 0) return CS_EINVAL;
    op->now_ms = cs_now_ms();
    free(op->id);
    op->id = cs_strdup(json_string_value(json_object_get(claims, "action_id")));
    json_object_set_new(op->args, "_claims", claims);
    return 0;
}

static int refuse(cs_gateway *gw, cs_op *op, int http, const char *type, const char *detail)
{
    json_t *d = json_pack("{s:s}", "refusal", type);
    int rc = cs_gw_audit(gw, op, "receipt.refused", d, NULL);
    json_decref(d);
    cs_reply_problem(&op->reply, http, type, detail);
    return rc;
}

int cs_gw_apply_consume(cs_gateway *gw, cs_op *op)
{
    char *text = NULL;
    int rc = gw->store->ops->action_get(gw->store, 1, op->id, &text);
    if (rc == CS_ENOTFOUND) {
        cs_reply_problem(&op->reply, 404, "not-found", "no action with this id");
        return 0;
    }
    if (rc) return rc;
    json_decref(op->doc);
    op->doc = json_loads(text, 0, NULL);
    free(text);
    if (op->doc == NULL) return CS_EDB;
    json_t *claims = json_object_get(op->args, "_claims");
    const char *want = json_string_value(json_object_get(op->args, "args_hash"));
    if (!same_receipt(op->doc, json_string_value(json_object_get(op->args, "receipt"))))
        return refuse(gw, op, 409, "invalid-receipt", "not the receipt issued for this action");
    if (json_object_get(op->doc, "receipt_consumed_at"))
        return refuse(gw, op, 409, "receipt-consumed", "this receipt was already consumed");
    if (json_object_get(op->doc, "receipt_revoked_at"))
        return refuse(gw, op, 409, "receipt-revoked",
                      "this receipt was revoked when its agent was frozen");
    if (expired(claims, op->now_ms))
        return refuse(gw, op, 409, "receipt-expired", "this receipt has expired");
    if (want &&
        !json_equal(json_object_get(claims, "args_hash"), json_object_get(op->args, "args_hash")))
        return refuse(gw, op, 409, "args-mismatch",
                      "the receipt was issued for different arguments");
    json_object_set_new(op->doc, "receipt_consumed_at", cs_time_json(op->now_ms));
    long long index;
    json_t *d = json_pack("{s:O,s:O}", "args_hash", json_object_get(claims, "args_hash"), "jti",
                          json_object_get(claims, "jti"));
    rc = cs_gw_audit(gw, op, "receipt.consumed", d, &index);
    json_decref(d);
    if (rc) return rc;
    if ((rc = cs_gw_store_doc(gw, op->doc, 0, op->now_ms)) != 0) return rc;
    json_t *body = json_deep_copy(claims);
    json_object_set_new(body, "consumed", json_true());
    op->reply = (cs_reply){.status = 200, .body = body};
    return 0;
}
