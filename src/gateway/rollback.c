/* rollback.c - POST /v1/actions/{id}/rollback (docs/freeze.md#rollback): submits the
 * compensating action an allowed or approved request carried in `rollback`, as a
 * new action with `rollback_of`, through policy like any other request. The link is
 * in both audit entries: the new action's action.submitted names the original, and
 * an action.rollback_requested entry on the original names the new action. */
#include "gateway/gateway_int.h"

#include "util/alloc.h"
#include "util/buf.h"

#include <string.h>

static const cs_field rollback_args[] = {{"purpose", -1, 0}, {NULL, 0, 0}};

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The original's requester, or a human admin, may ask for its rollback. */
static int may_roll_back(const json_t *who, const json_t *orig)
{
    const json_t *r = json_object_get(orig, "requester");
    char *mine = cs_gw_uid(who);
    char *theirs = cs_sprintf("%s::\"%s\"", str(r, "type"), str(r, "id"));
    int ok = !strcmp(mine, theirs);
    free(mine);
    free(theirs);
    const char *kind = str(who, "kind");
    return ok || (!strcmp(kind, "user") && json_is_true(json_object_get(who, "admin")));
}

/* The submit body of the compensating action: its context gains the command line
 * (as exec records it), so the receipt's args_hash covers the command that runs. */
static json_t *submit_args(const json_t *orig, const json_t *given)
{
    const json_t *rb = json_object_get(orig, "rollback");
    json_t *ctx = json_deep_copy(json_object_get(rb, "context"));
    if (ctx == NULL) ctx = json_object();
    json_t *cmd = json_object_get(rb, "command");
    if (cmd) {
        cs_buf line;
        cs_buf_init(&line, 1 << 20);
        size_t i;
        json_t *a;
        json_array_foreach(cmd, i, a)
            cs_buf_printf(&line, "%s%s", i ? " " : "", json_string_value(a));
        json_object_set_new(ctx, "command", json_string(line.data ? line.data : ""));
        json_object_set(ctx, "argv", cmd);
        cs_buf_free(&line);
    }
    json_t *purpose = json_object_get(given, "purpose");
    json_t *args =
        json_pack("{s:O,s:O,s:o,s:b}", "action", json_object_get(rb, "action"), "resource",
                  json_object_get(rb, "resource"), "context", ctx, "receipt", 1);
    if (json_is_string(purpose))
        json_object_set(args, "purpose", purpose);
    else
        json_object_set_new(args, "purpose", json_sprintf("rollback of %s", str(orig, "id")));
    return args;
}

/* Checks that `orig` can be rolled back by op->who; fills a problem otherwise. */
static int check_original(cs_op *op, const json_t *orig)
{
    const char *st = str(orig, "status");
    if (!json_is_object(json_object_get(orig, "rollback"))) {
        cs_reply_problem(&op->reply, 409, "no-rollback", "this action carries no rollback");
        return CS_ECONFLICT;
    }
    if (strcmp(st, "allowed") && strcmp(st, "approved")) {
        cs_reply_problem(&op->reply, 409, "not-runnable",
                         "only an allowed or approved action is rolled back");
        return CS_ECONFLICT;
    }
    if (!may_roll_back(op->who, orig)) {
        cs_reply_problem(&op->reply, 403, "not-permitted",
                         "only the requester or an admin asks for a rollback");
        return CS_EPERM;
    }
    return 0;
}

int cs_gw_prepare_rollback(cs_gateway *gw, cs_op *op)
{
    if (op->args == NULL) op->args = json_object();
    if (cs_validate_fields(op->args, rollback_args, &op->reply) != 0) return CS_EINVAL;
    cs_reply got = {0};
    cs_gateway_get(gw, op->id, &got);
    if (got.status != 200) {
        op->reply = got;
        return CS_ENOTFOUND;
    }
    int rc = check_original(op, got.body);
    if (rc == 0) {
        json_t *args = submit_args(got.body, op->args);
        json_decref(op->args);
        op->args = args;
        rc = cs_gw_prepare_submit(gw, op);
    }
    cs_reply_clear(&got);
    return rc;
}

/* An earlier rollback of this action that is pending, allowed or approved. */
static int live_rollback(cs_gateway *gw, const json_t *orig, char **which)
{
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(orig, "rollbacks"), i, id)
    {
        char *text = NULL;
        if (gw->store->ops->action_get(gw->store, 1, json_string_value(id), &text) != 0) continue;
        json_t *d = json_loads(text, 0, NULL);
        free(text);
        const char *st = str(d, "status");
        int live = !strcmp(st, "pending") || !strcmp(st, "allowed") || !strcmp(st, "approved");
        json_decref(d);
        if (live) {
            *which = cs_strdup(json_string_value(id));
            return 1;
        }
    }
    return 0;
}

static int refuse(cs_gateway *gw, cs_op *op, const char *other)
{
    json_t *d = json_pack("{s:s,s:s}", "refusal", "rollback-exists", "rollback", other);
    int rc = cs_gw_audit_as(gw, op, cs_gw_actor(op), "action.rollback_refused", op->id, d, NULL);
    json_decref(d);
    cs_reply_problem(&op->reply, 409, "rollback-exists",
                     "a rollback of this action is already pending, allowed or approved");
    json_object_set_new(op->reply.body, "rollback", json_string(other));
    return rc;
}

int cs_gw_apply_rollback(cs_gateway *gw, cs_op *op)
{
    char *text = NULL, *other = NULL;
    int rc = gw->store->ops->action_get(gw->store, 1, op->id, &text);
    if (rc) return rc == CS_ENOTFOUND ? 0 : rc;
    json_t *orig = json_loads(text, 0, NULL);
    free(text);
    if (orig == NULL) return CS_EDB;
    if (live_rollback(gw, orig, &other)) {
        rc = refuse(gw, op, other);
        goto out;
    }
    if ((rc = cs_gw_apply_submit(gw, op)) != 0 || op->reply.status != 201) goto out;
    json_t *list = json_object_get(orig, "rollbacks");
    if (list == NULL) json_object_set_new(orig, "rollbacks", list = json_array());
    json_array_append(list, json_object_get(op->doc, "id"));
    json_t *d = json_pack("{s:O,s:O}", "rollback", json_object_get(op->doc, "id"), "status",
                          json_object_get(op->doc, "status"));
    rc = cs_gw_audit_as(gw, op, cs_gw_actor(op), "action.rollback_requested", op->id, d, NULL);
    json_decref(d);
    if (rc == 0) rc = cs_gw_store_doc(gw, orig, 0, op->now_ms);
out:
    free(other);
    json_decref(orig);
    return rc;
}
