/* notify_slack_interact.c - POST /integrations/slack/interactions (SPEC §4): the
 * signature is verified before a byte of the body is parsed; the answer goes out at
 * once (Slack wants one within 3 seconds) and the vote runs through the gateway's
 * own approve/deny operations, so every separation-of-duties rule applies exactly
 * as for the API. Refusals come back as an ephemeral message; Deny first asks for
 * a reason in a modal (views.open) and votes on its submission. */
#include "notify/notify_int.h"

#include "gateway/gateway.h"
#include "util/alloc.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct audit_job {
    cs_write_job job;
    json_t *details;
    char *source;
} audit_job;

typedef struct vote_ctx {
    cs_notify *n;
    char channel[CS_SLACK_ID_MAX + 1];
    char user[CS_SLACK_ID_MAX + 1];
} vote_ctx;

static int audit_apply(cs_store *s, cs_write_job *job)
{
    audit_job *j = (audit_job *)job;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cs_audit_row row = {"integration.refused",
                        (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                        "Integration::\"slack\"",
                        j->source,
                        NULL,
                        j->details,
                        NULL,
                        NULL,
                        NULL};
    return s->ops->audit_append(s, &row, NULL);
}

static void audit_done(cs_write_job *job, int rc)
{
    audit_job *j = (audit_job *)job;
    if (rc) cs_error("slack: cannot record a rejected interaction: %s", cs_strerror(rc));
    json_decref(j->details);
    free(j->source);
    free(j);
}

/* Every rejected interaction is an audit entry (SPEC §3 rule 8 in spirit: an
 * attempt that did not count still leaves a trace). */
static void audit_rejected(cs_notify *n, const char *peer, const char *reason,
                           const char *slack_user)
{
    audit_job *j = cs_calloc(1, sizeof *j);
    j->details = json_pack("{s:s,s:s}", "integration", "slack", "reason", reason);
    if (slack_user) json_object_set_new(j->details, "slack_user", json_string(slack_user));
    j->source = cs_sprintf("slack:%s", peer ? peer : "");
    j->job.apply = audit_apply;
    j->job.done = audit_done;
    if (cs_gateway_submit_job(n->gw, &j->job) != 0) audit_done(&j->job, 0);
}

static void ephemeral(cs_notify *n, const char *channel, const char *user, const char *text)
{
    if (!channel || !*channel) {
        cs_warn("slack: cannot tell %s (no channel): %s", user, text);
        return;
    }
    cs_notify_slack_call(
        n, "chat.postEphemeral",
        json_pack("{s:s,s:s,s:s}", "channel", channel, "user", user, "text", text));
}

static void vote_complete(cs_op *op)
{
    vote_ctx *c = op->ctx;
    if (op->reply.status >= 400) {
        json_t *b = op->reply.body;
        const char *detail = json_string_value(json_object_get(b, "detail"));
        const char *type = json_string_value(json_object_get(b, "type"));
        char *text = cs_sprintf(":no_entry: countersign refused your %s on %s: %s (%s)",
                                op->kind == CS_OP_APPROVE ? "approval" : "denial", op->id,
                                detail ? detail : "refused", type ? type : "error");
        ephemeral(c->n, c->channel, c->user, text);
        free(text);
    }
    free(c);
    cs_op_free(op);
}

static void vote(cs_notify *n, const cs_slack_interaction *in, json_t *who)
{
    json_t *args = json_object();
    if (in->reason[0]) json_object_set_new(args, "reason", json_string(in->reason));
    char *source = cs_sprintf("slack:%s", in->user_id);
    int kind = in->verb == CS_SLACK_APPROVE ? CS_OP_APPROVE : CS_OP_DENY;
    cs_op *op = cs_op_new(n->gw, kind, who, source, in->action_id, args);
    free(source);
    json_decref(args);
    vote_ctx *c = cs_calloc(1, sizeof *c);
    c->n = n;
    memcpy(c->channel, in->channel_id, sizeof c->channel);
    memcpy(c->user, in->user_id, sizeof c->user);
    op->ctx = c;
    op->complete = vote_complete;
    if (cs_gateway_run(n->gw, op) != 0) vote_complete(op); /* refused before the writer */
}

/* Deny asks why first: a modal whose submission carries the reason. */
static void open_deny_modal(cs_notify *n, const cs_slack_interaction *in)
{
    char *meta = cs_sprintf("%s %s", in->action_id, in->channel_id);
    char title[160];
    snprintf(title, sizeof title, "Why deny %s?", in->action_id);
    json_t *view =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:[{s:s,s:s,s:{s:s,s:s},s:{s:s,"
                  "s:s,s:b,s:i}}]}",
                  "type", "modal", "callback_id", "cs_deny", "private_metadata", meta, "title",
                  "type", "plain_text", "text", "Deny request", "submit", "type", "plain_text",
                  "text", "Deny", "close", "type", "plain_text", "text", "Cancel", "blocks", "type",
                  "input", "block_id", "reason", "label", "type", "plain_text", "text", title,
                  "element", "type", "plain_text_input", "action_id", "reason", "multiline", 1,
                  "max_length", CS_SLACK_REASON_MAX);
    free(meta);
    cs_notify_slack_call(n, "views.open",
                         json_pack("{s:s,s:o}", "trigger_id", in->trigger_id, "view", view));
}

static void answer(cs_slack_answer *ans, int status, const char *text)
{
    ans->status = status;
    ans->body = text ? cs_strdup(text) : NULL;
    ans->content_type = "text/plain; charset=utf-8";
}

static void act(cs_notify *n, const cs_slack_interaction *in, const char *peer)
{
    if (in->verb == CS_SLACK_OPEN) return; /* the link button opens the page in the browser */
    json_t *who = cs_gateway_find_slack_user(n->gw, in->user_id);
    if (who == NULL) {
        audit_rejected(n, peer, "unmapped-slack-user", in->user_id);
        char *text = cs_sprintf(
            "Your Slack account (%s) is not linked to a countersign user, so your vote was not "
            "counted. An admin can link it with `countersign token create --user NAME "
            "--slack-id %s`.",
            in->user_id, in->user_id);
        ephemeral(n, in->channel_id, in->user_id, text);
        free(text);
        return;
    }
    if (in->type == CS_SLACK_BLOCK_ACTION && in->verb == CS_SLACK_DENY)
        open_deny_modal(n, in);
    else
        vote(n, in, who);
    json_decref(who);
}

void cs_notify_slack_interaction(cs_notify *n, const cs_slack_request *req, cs_slack_answer *ans)
{
    if (n == NULL || n->slack_secret == NULL)
        return answer(ans, 404,
                      "Slack interactivity is not configured (notify.slack.signing_secret_env)\n");
    long long now = (long long)time(NULL);
    int v =
        cs_slack_verify(n->slack_secret, req->timestamp, req->signature, req->body, req->len, now);
    if (v == CS_SLACK_SIG_OK)
        v = cs_slack_replay_check(n->replay, req->signature, atoll(req->timestamp), now);
    if (v != CS_SLACK_SIG_OK) {
        cs_warn("slack: interaction from %s refused: %s", req->peer ? req->peer : "?",
                cs_slack_sig_reason(v));
        audit_rejected(n, req->peer, cs_slack_sig_reason(v), NULL);
        return answer(ans, v == CS_SLACK_SIG_BUSY ? 503 : 401, "request signature refused\n");
    }
    cs_slack_interaction in;
    cs_err err = {0};
    if (cs_slack_interaction_parse(req->body, req->len, &in, &err) != 0) {
        cs_warn("slack: unusable interaction: %s", err.msg);
        return answer(ans, 400, "unsupported interaction\n");
    }
    act(n, &in, req->peer);
    answer(ans, 200,
           NULL); /* empty 200: acknowledged; for a modal submission it closes the modal */
}
