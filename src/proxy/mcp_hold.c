/* mcp_hold.c - gating a tools/call through the gateway: retry binding, submit, hold
 * with long-poll and progress (MCP 2025-06-18 "Progress"), cancellation, receipt
 * consumption and outcome reports (SPEC §4 MCP proxy). */
#include "proxy/mcp_hold.h"

#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/jcs.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TOOL_NAME_MAX 128

struct cs_mcp_gate {
    char *name;
    char *public_url;
    long long budget_ms, progress_ms;
    cs_mcp_gw *gw;
    pthread_mutex_t mu;
    json_t *bindings; /* bind key -> action id of a pending or approved action */
    cs_mcp_call *held;
};

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int cs_mcp_gate_new(const cs_mcp_gate_cfg *cfg, cs_mcp_gw *gw, cs_mcp_gate **out, cs_err *err)
{
    if (cfg->name == NULL || !*cfg->name || strchr(cfg->name, '/') || strchr(cfg->name, '"') ||
        strchr(cfg->name, '\\'))
        return cs_err_set(err, CS_EINVAL,
                          "--name must be a non-empty name without '/', '\"' or '\\'");
    cs_mcp_gate *g = cs_calloc(1, sizeof *g);
    g->name = cs_strdup(cfg->name);
    g->public_url = cs_strdup(cfg->public_url ? cfg->public_url : cs_mcp_gw_url(gw));
    g->budget_ms = cfg->hold_budget_ms;
    g->progress_ms = cfg->progress_ms > 0 ? cfg->progress_ms : 5000;
    g->gw = gw;
    pthread_mutex_init(&g->mu, NULL);
    g->bindings = json_object();
    *out = g;
    return 0;
}

void cs_mcp_gate_free(cs_mcp_gate *g)
{
    if (g == NULL) return;
    json_decref(g->bindings);
    pthread_mutex_destroy(&g->mu);
    free(g->name);
    free(g->public_url);
    free(g);
}

/* A tool name becomes one segment of the resource path. */
static int tool_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TOOL_NAME_MAX || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/' || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

/* The retry-binding key: SHA-256 of the canonical (RFC 8785) {tool, arguments}, so
 * key order and number spelling do not matter. (One gate serves one server.) */
static int bind_key_of(const char *tool, const json_t *args, char out[65])
{
    json_t *k = json_pack("{s:s,s:O}", "tool", tool, "arguments", args);
    char *canon = cs_jcs_dumps(k);
    json_decref(k);
    if (canon == NULL) return CS_EINVAL;
    cs_sha256_hex(canon, strlen(canon), out);
    free(canon);
    return 0;
}

int cs_mcp_call_new(const cs_rpc_msg *m, const char *scope, cs_mcp_call **out, char **response)
{
    json_t *params = json_object_get(m->root, "params");
    json_t *name = json_object_get(params, "name");
    json_t *args = json_object_get(params, "arguments");
    *out = NULL;
    if (!json_is_object(params) || !json_is_string(name)) {
        *response = cs_rpc_error_line(m->id, CS_RPC_INVALID_PARAMS,
                                      "tools/call needs params.name (a string)");
        return CS_EINVAL;
    }
    if (args && !json_is_object(args) && !json_is_null(args)) {
        *response = cs_rpc_error_line(m->id, CS_RPC_INVALID_PARAMS,
                                      "tools/call params.arguments must be an object");
        return CS_EINVAL;
    }
    if (!tool_name_ok(json_string_value(name))) {
        *response = cs_rpc_tool_error_line(
            m->id, "countersign: this tool name cannot be checked against policy "
                   "(1-128 characters without '/', '\"', '\\' or control characters, "
                   "and not \".\" or \"..\"); "
                   "the call was not run.");
        return CS_EINVAL;
    }
    cs_mcp_call *c = cs_calloc(1, sizeof *c);
    snprintf(c->scope, sizeof c->scope, "%s", scope ? scope : "");
    memcpy(c->id_key, m->id_key, sizeof c->id_key);
    c->id = json_incref(m->id);
    c->tool = cs_strdup(json_string_value(name));
    c->arguments = json_is_object(args) ? json_incref(args) : json_object();
    if (bind_key_of(c->tool, c->arguments, c->bind_key) != 0) {
        *response = cs_rpc_error_line(m->id, CS_RPC_INVALID_PARAMS,
                                      "tools/call arguments cannot be canonicalized");
        cs_mcp_call_free(c);
        return CS_EINVAL;
    }
    json_t *tok = json_object_get(json_object_get(params, "_meta"), "progressToken");
    if (json_is_string(tok) || json_is_integer(tok)) c->progress_token = json_incref(tok);
    *out = c;
    return 0;
}

void cs_mcp_call_free(cs_mcp_call *c)
{
    if (c == NULL) return;
    json_decref(c->id);
    json_decref(c->arguments);
    json_decref(c->progress_token);
    free(c->tool);
    free(c);
}

void cs_mcp_verdict_clear(cs_mcp_verdict *v)
{
    free(v->response);
    memset(v, 0, sizeof *v);
}

static void respond(cs_mcp_verdict *v, char *line)
{
    v->kind = CS_MCP_RESPOND;
    v->response = line;
}

void cs_mcp_gate_track(cs_mcp_gate *g, cs_mcp_call *c)
{
    pthread_mutex_lock(&g->mu);
    if (!c->tracked) {
        c->next = g->held;
        g->held = c;
        c->tracked = 1;
    }
    pthread_mutex_unlock(&g->mu);
}

static void untrack(cs_mcp_gate *g, cs_mcp_call *c)
{
    pthread_mutex_lock(&g->mu);
    for (cs_mcp_call **p = &g->held; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    c->tracked = 0;
    pthread_mutex_unlock(&g->mu);
}

static void bind_set(cs_mcp_gate *g, const char *key, const char *aid)
{
    pthread_mutex_lock(&g->mu);
    if (aid)
        json_object_set_new(g->bindings, key, json_string(aid));
    else
        json_object_del(g->bindings, key);
    pthread_mutex_unlock(&g->mu);
}

/* Removes the binding only while it still names aid (a newer request may own it). */
static void bind_drop(cs_mcp_gate *g, const char *key, const char *aid)
{
    pthread_mutex_lock(&g->mu);
    if (!strcmp(str(g->bindings, key), aid)) json_object_del(g->bindings, key);
    pthread_mutex_unlock(&g->mu);
}

/* ---- texts the agent's model reads ---- */

static int approvals_so_far(const json_t *doc)
{
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(doc, "approval"), "votes"), i, v) n +=
        !strcmp(str(v, "vote"), "approve");
    return n;
}

/* "Request act_x is waiting for approval: <explanation> 0 of 1 approvals so far.
 *  Approve at <public_url>/a/act_x." */
static char *pending_text(cs_mcp_gate *g, const json_t *doc)
{
    json_t *ap = json_object_get(doc, "approval");
    return cs_sprintf(
        "countersign request %s is waiting for approval: %s %d of %lld approvals so far. "
        "Approve at %s/a/%s",
        str(doc, "id"), str(json_object_get(doc, "policy"), "explanation"), approvals_so_far(doc),
        (long long)json_integer_value(json_object_get(ap, "quorum")), g->public_url,
        str(doc, "id"));
}

static char *denied_text(const json_t *doc)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(doc, "approval"), "votes"), i, v)
    {
        if (strcmp(str(v, "vote"), "deny")) continue;
        return cs_sprintf(
            "countersign: this call was denied by %s%s%s (request %s). It was not run.",
            str(v, "voter"), *str(v, "reason") ? ": " : "", str(v, "reason"), str(doc, "id"));
    }
    return cs_sprintf(
        "countersign: this call was denied by policy (request %s). %s It was not run.",
        str(doc, "id"), str(json_object_get(doc, "policy"), "explanation"));
}

static void respond_status(cs_mcp_verdict *v, const cs_mcp_call *c, const json_t *doc)
{
    const char *st = str(doc, "status");
    char *text;
    if (!strcmp(st, "denied"))
        text = denied_text(doc);
    else if (!strcmp(st, "expired"))
        text =
            cs_sprintf("countersign: request %s expired without a decision; the call was not run. "
                       "Call again to ask again.",
                       str(doc, "id"));
    else
        text = cs_sprintf(
            "countersign: request %s is %s; the call was not run. Call again to ask again.",
            str(doc, "id"), st);
    respond(v, cs_rpc_tool_error_line(c->id, text));
    free(text);
}

/* A gateway failure: transport errors, 401 and 5xx are JSON-RPC errors (the tool
 * was not reached); other refusals are tool errors the model can read. */
static void respond_gateway(cs_mcp_verdict *v, const cs_mcp_call *c, long status,
                            const json_t *reply, const cs_err *err)
{
    char *text;
    if (status == 0)
        text = cs_sprintf("countersign: cannot reach the gateway (%s); the call was not run.",
                          err->msg);
    else
        text = cs_sprintf("countersign: the gateway refused to check this call (HTTP %ld %s: %s); "
                          "it was not run.",
                          status, str(reply, "type"), str(reply, "detail"));
    if (status == 0 || status == 401 || status >= 500)
        respond(v, cs_rpc_error_line(c->id, CS_RPC_INTERNAL_ERROR, text));
    else
        respond(v, cs_rpc_tool_error_line(c->id, text));
    free(text);
}

/* ---- gateway steps ---- */

/* The arguments as the policy sees them. Cedar has neither floating-point numbers
 * nor null, and the gateway refuses a context holding either (invalid-context), so a
 * tool argument such as {"temperature": 0.7} or {"cursor": null} would fail every
 * call. Each JSON float becomes a string in its shortest round-trip form ("0.7"; RFC
 * 8785's number form). A null is left out: an object member that is null is absent,
 * as if not given (`has` is false), and a null array item is dropped (arrays are
 * Cedar sets: no positions to keep). A one-member object keyed "__entity" or "__extn"
 * becomes its canonical JSON text too: tool arguments are the agent's data, and must
 * never reach the policy as an entity reference or extension value of the agent's
 * choosing (nor fail the call when malformed). Everything else is as the agent sent it.
 * Returns a new reference, NULL for a null. Copy on write: a subtree without floats
 * or nulls is shared, and only the containers on the way to a change are rebuilt. */
static json_t *policy_arguments(json_t *v);

static json_t *policy_object(json_t *v)
{
    json_t *out = NULL, *x;
    const char *k;
    json_object_foreach(v, k, x)
    {
        json_t *y = policy_arguments(x);
        if (y == x) {
            json_decref(y);
            continue;
        }
        if (out == NULL) out = json_copy(v); /* shallow: members are shared */
        if (y)
            json_object_set_new(out, k, y);
        else
            json_object_del(out, k);
    }
    return out ? out : json_incref(v);
}

static json_t *policy_array(json_t *v)
{
    json_t *out = NULL, *x;
    size_t i;
    json_array_foreach(v, i, x)
    {
        json_t *y = policy_arguments(x);
        if (y == x && out == NULL) {
            json_decref(y);
            continue;
        }
        if (out == NULL) {
            out = json_array();
            for (size_t j = 0; j < i; j++)
                json_array_append(out, json_array_get(v, j));
        }
        if (y) json_array_append_new(out, y);
    }
    return out ? out : json_incref(v);
}

/* A one-member object {"__entity": ...} or {"__extn": ...}: the gateway would read it
 * as a Cedar entity reference or extension value, not as the agent's data. */
static bool escape_shaped(json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1) return false;
    const char *k = json_object_iter_key(json_object_iter(v));
    return !strcmp(k, "__entity") || !strcmp(k, "__extn");
}

static json_t *policy_arguments(json_t *v)
{
    if (json_is_null(v)) return NULL;
    if (json_is_real(v) || escape_shaped(v)) {
        /* Cannot fail: bind_key_of() has canonicalized these arguments already. */
        char *text = cs_jcs_dumps(v);
        json_t *s = json_string(text);
        free(text);
        return s;
    }
    if (json_is_object(v)) return policy_object(v);
    if (json_is_array(v)) return policy_array(v);
    return json_incref(v);
}

static json_t *submit(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_verdict *v)
{
    char *resource = cs_sprintf("mcp/%s/%s", g->name, c->tool);
    json_t *body = json_pack("{s:s,s:s,s:{s:s,s:o},s:s}", "action", "mcp.call", "resource",
                             resource, "context", "tool", c->tool, "arguments",
                             policy_arguments(c->arguments), "source", "mcp");
    free(resource);
    long status = 0;
    json_t *doc = NULL;
    cs_err err = {0};
    int rc = cs_mcp_gw_call(g->gw, "POST", "/v1/actions", body, 30, &c->stop, &status, &doc, &err);
    json_decref(body);
    if (rc != 0 || status != 201 || !json_is_string(json_object_get(doc, "id"))) {
        respond_gateway(v, c, rc ? 0 : status, doc, &err);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static json_t *get_action(cs_mcp_gate *g, cs_mcp_call *c, const char *aid, long wait_s,
                          long *status, cs_err *err)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s?wait=%ld", aid, wait_s);
    json_t *doc = NULL;
    if (cs_mcp_gw_call(g->gw, "GET", path, NULL, wait_s + 30, &c->stop, status, &doc, err) != 0)
        *status = 0;
    return doc;
}

/* Redeems the receipt of an approved action: 0, CS_ECONFLICT when it was already
 * used (or has expired), CS_EIO when the gateway could not be asked. */
static int consume(cs_mcp_gate *g, cs_mcp_call *c, const json_t *doc)
{
    json_t *body = json_pack("{s:O,s:O}", "receipt", json_object_get(doc, "receipt"), "args_hash",
                             json_object_get(doc, "args_hash"));
    long status = 0;
    json_t *reply = NULL;
    cs_err err = {0};
    int rc = cs_mcp_gw_call(g->gw, "POST", "/v1/receipts/consume", body, 30, &c->stop, &status,
                            &reply, &err);
    json_decref(body);
    json_decref(reply);
    if (rc != 0) return CS_EIO;
    if (status == 200) return 0;
    return status == 409 || status == 400 ? CS_ECONFLICT : CS_EIO;
}

static void cancel_later(cs_mcp_gate *g, const char *aid, const char *reason)
{
    char *path = cs_sprintf("/v1/actions/%s/cancel", aid);
    cs_mcp_gw_post_later(g->gw, path, json_pack("{s:s}", "reason", reason));
    free(path);
}

static void set_action_id(cs_mcp_gate *g, cs_mcp_call *c, const char *aid)
{
    pthread_mutex_lock(&g->mu);
    snprintf(c->action_id, sizeof c->action_id, "%s", aid);
    pthread_mutex_unlock(&g->mu);
}

/* Acts on a fresh decision (from a submit). */
static void apply_decision(cs_mcp_gate *g, cs_mcp_call *c, const json_t *doc, cs_mcp_verdict *v)
{
    const char *st = str(doc, "status");
    set_action_id(g, c, str(doc, "id"));
    if (!strcmp(st, "allowed")) {
        v->kind = CS_MCP_FORWARD;
    } else if (!strcmp(st, "pending")) {
        bind_set(g, c->bind_key, str(doc, "id"));
        v->kind = CS_MCP_HOLD;
    } else {
        respond_status(v, c, doc);
    }
}

/* An identical earlier call left a pending or approved action: use it. Returns 1
 * when that settled the call, 0 when a new request is needed. */
static int use_binding(cs_mcp_gate *g, cs_mcp_call *c, const char *aid, cs_mcp_verdict *v)
{
    long status = 0;
    cs_err err = {0};
    json_t *doc = get_action(g, c, aid, 0, &status, &err);
    int done = 1;
    const char *st = str(doc, "status");
    if (status == 0 || status >= 500 || status == 401) {
        respond_gateway(v, c, status, doc, &err);
    } else if (status != 200) {
        bind_drop(g, c->bind_key, aid);
        done = 0;
    } else if (!strcmp(st, "pending")) {
        set_action_id(g, c, aid);
        v->kind = CS_MCP_HOLD;
    } else if (!strcmp(st, "approved")) {
        int rc = consume(g, c, doc);
        bind_drop(g, c->bind_key, aid);
        if (rc == 0)
            set_action_id(g, c, aid), v->kind = CS_MCP_FORWARD;
        else if (rc == CS_EIO)
            respond_gateway(v, c, 0, NULL, &(cs_err){.msg = "consuming the receipt failed"});
        else
            done = 0; /* already used: this call asks afresh */
    } else {
        bind_drop(g, c->bind_key, aid);
        if (!strcmp(st, "denied"))
            respond_status(v, c, doc);
        else
            done = 0;
    }
    json_decref(doc);
    return done;
}

void cs_mcp_gate_begin(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_verdict *v)
{
    memset(v, 0, sizeof *v);
    cs_mcp_gate_track(g, c);
    char aid[80] = "";
    pthread_mutex_lock(&g->mu);
    snprintf(aid, sizeof aid, "%s", str(g->bindings, c->bind_key));
    pthread_mutex_unlock(&g->mu);
    if (!*aid || !use_binding(g, c, aid, v)) {
        json_t *doc = submit(g, c, v);
        if (doc) apply_decision(g, c, doc, v);
        json_decref(doc);
    }
    if (atomic_load(&c->cancelled)) {
        /* Cancelled while we were asking: nothing runs, nobody is asked to approve,
         * and (as MCP asks) the cancelled request gets no answer. */
        if (v->kind == CS_MCP_HOLD) cancel_later(g, c->action_id, "cancelled by the MCP client");
        cs_mcp_verdict_clear(v);
        v->kind = CS_MCP_SILENT;
    }
    if (v->kind != CS_MCP_HOLD) untrack(g, c);
}

static long wait_seconds(long long ms)
{
    long s = (long)((ms + 999) / 1000);
    return s < 1 ? 1 : s > 300 ? 300 : s;
}

/* The hold budget ran out: say which request is pending and to retry. */
static void respond_budget(cs_mcp_gate *g, cs_mcp_call *c, const json_t *doc, cs_mcp_verdict *v)
{
    char *p = pending_text(g, doc);
    char *text = cs_sprintf(
        "countersign: this call needs approval and was not run yet. %s. When it is approved, "
        "retry the same call with the same arguments: it will then run once.",
        p);
    respond(v, cs_rpc_tool_error_line(c->id, text));
    free(text);
    free(p);
}

/* One decided state seen while holding. */
static void held_decided(cs_mcp_gate *g, cs_mcp_call *c, const json_t *doc, cs_mcp_verdict *v)
{
    if (!strcmp(str(doc, "status"), "approved") && !atomic_load(&c->cancelled)) {
        int rc = consume(g, c, doc);
        bind_drop(g, c->bind_key, c->action_id);
        if (rc == 0)
            v->kind = CS_MCP_FORWARD;
        else if (rc == CS_ECONFLICT)
            respond(v, cs_rpc_tool_error_line(
                           c->id, "countersign: the approval for this call was already used by "
                                  "an identical call; call again to ask again."));
        else
            respond_gateway(v, c, 0, NULL, &(cs_err){.msg = "consuming the receipt failed"});
        return;
    }
    bind_drop(g, c->bind_key, c->action_id);
    if (atomic_load(&c->cancelled))
        v->kind = CS_MCP_SILENT;
    else
        respond_status(v, c, doc);
}

/* Why the hold ends before the next poll, if it does: cancelled, aborted, or out of
 * budget (once there is a pending state to describe). */
static void hold_check(cs_mcp_gate *g, cs_mcp_call *c, long long left, const json_t *last,
                       cs_mcp_verdict *v)
{
    if (atomic_load(&c->cancelled))
        v->kind = CS_MCP_SILENT;
    else if (atomic_load(&c->aborted))
        respond(v, cs_rpc_error_line(c->id, CS_RPC_SERVER_GONE,
                                     "countersign: the proxy is shutting down; "
                                     "the held call was cancelled and not run"));
    else if (left <= 0 && last)
        respond_budget(g, c, last, v);
}

static void send_progress(cs_mcp_gate *g, cs_mcp_call *c, const json_t *doc,
                          cs_mcp_notify_fn notify, void *ctx)
{
    char *text = pending_text(g, doc);
    char *line = cs_rpc_progress_line(c->progress_token, ++c->progress, text);
    notify(ctx, line);
    free(line);
    free(text);
}

void cs_mcp_gate_hold(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_notify_fn notify, void *ctx,
                      cs_mcp_verdict *v)
{
    memset(v, 0, sizeof *v);
    long long deadline = cs_mono_ms() + g->budget_ms, last_progress = 0;
    int progress = c->progress_token && notify, first = 1, votes = -1;
    json_t *last = NULL;
    while (v->kind == 0) {
        long long left = deadline - cs_mono_ms();
        hold_check(g, c, left, last, v);
        if (v->kind) break;
        long status = 0,
             wait = first ? 0
                          : wait_seconds(progress && left > g->progress_ms ? g->progress_ms : left);
        cs_err err = {0};
        json_t *doc = get_action(g, c, c->action_id, wait, &status, &err);
        first = 0;
        if (status != 200 || strcmp(str(doc, "status"), "pending")) {
            /* A call this proxy stopped (cancelled by the client, or its server gone)
             * ends for that reason in hold_check(), even when the long-poll came back
             * with a decision first (often the cancellation the stop itself sent). */
            if (status == 200 && !atomic_load(&c->stop))
                held_decided(g, c, doc, v);
            else if (!atomic_load(&c->stop))
                respond_gateway(v, c, status, doc, &err);
            json_decref(doc);
            continue;
        }
        json_decref(last);
        last = doc;
        /* Progress every interval, and at once when a vote moved the quorum. */
        int now_votes = approvals_so_far(doc);
        if (progress &&
            (now_votes != votes || cs_mono_ms() - last_progress >= g->progress_ms - 50)) {
            send_progress(g, c, doc, notify, ctx);
            last_progress = cs_mono_ms();
        }
        votes = now_votes;
    }
    json_decref(last);
    untrack(g, c);
}

void cs_mcp_gate_drop(cs_mcp_gate *g, cs_mcp_call *c)
{
    untrack(g, c);
}

void cs_mcp_gate_run(cs_mcp_gate *g, cs_mcp_call *c, cs_mcp_notify_fn notify, void *ctx,
                     cs_mcp_verdict *v)
{
    cs_mcp_gate_begin(g, c, v);
    if (v->kind == CS_MCP_HOLD) cs_mcp_gate_hold(g, c, notify, ctx, v);
}

/* Cancellations are queued once g->mu is released: the queue takes the gateway
 * client's lock, which is no business of the held list's. */
int cs_mcp_gate_cancel(cs_mcp_gate *g, const char *scope, const char *id_key)
{
    int found = 0;
    char aid[sizeof((cs_mcp_call *)0)->action_id] = "";
    pthread_mutex_lock(&g->mu);
    for (cs_mcp_call *c = g->held; c && !found; c = c->next) {
        if (strcmp(c->scope, scope) || strcmp(c->id_key, id_key)) continue;
        found = 1;
        atomic_store(&c->cancelled, 1);
        atomic_store(&c->stop, 1);
        memcpy(aid, c->action_id, sizeof aid);
    }
    pthread_mutex_unlock(&g->mu);
    if (aid[0]) cancel_later(g, aid, "cancelled by the MCP client");
    return found;
}

void cs_mcp_gate_abort_all(cs_mcp_gate *g)
{
    json_t *aids = json_array();
    pthread_mutex_lock(&g->mu);
    for (cs_mcp_call *c = g->held; c; c = c->next) {
        atomic_store(&c->aborted, 1);
        atomic_store(&c->stop, 1);
        if (c->action_id[0]) json_array_append_new(aids, json_string(c->action_id));
    }
    pthread_mutex_unlock(&g->mu);
    size_t i;
    json_t *aid;
    json_array_foreach(aids, i, aid)
        cancel_later(g, json_string_value(aid), "the MCP proxy or its server stopped");
    json_decref(aids);
}

void cs_mcp_gate_acted(cs_mcp_gate *g)
{
    cs_mcp_gw_acted(g->gw);
}

void cs_mcp_gate_outcome(cs_mcp_gate *g, const char *action_id, const cs_rpc_msg *response,
                         const char *raw, size_t len)
{
    json_t *error = json_object_get(response->root, "error");
    json_t *result = json_object_get(response->root, "result");
    int failed = error != NULL || json_is_true(json_object_get(result, "isError"));
    char sha[65];
    cs_sha256_hex(raw, len, sha);
    json_t *body =
        json_pack("{s:s,s:s}", "status", failed ? "failed" : "succeeded", "output_sha256", sha);
    if (error) {
        const char *m = json_string_value(json_object_get(error, "message"));
        char *d =
            cs_sprintf("JSON-RPC error %lld: %.2000s",
                       (long long)json_integer_value(json_object_get(error, "code")), m ? m : "");
        json_object_set_new(body, "detail", json_string(d));
        free(d);
    } else if (failed) {
        json_object_set_new(body, "detail", json_string("the tool returned isError: true"));
    }
    char *path = cs_sprintf("/v1/actions/%s/outcome", action_id);
    cs_mcp_gw_post_later(g->gw, path, body);
    free(path);
}
