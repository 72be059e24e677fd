/* notify_slack.c - the Slack channel (SPEC §4): a Block Kit message per action
 * posted with chat.postMessage, then rewritten with chat.update after each vote
 * and at the outcome; the buttons go away once the action is no longer pending.
 * Slack Web API: https://api.slack.com/methods (base URL notify.slack.api_url). */
#include "notify/notify_int.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "util/utf8.h"

#include <string.h>

#define FIELD_MAX 1900 /* Slack's limit on a section field is 2000 characters */
#define CONTEXT_KEYS 8 /* the context fields shown in the message */
#define CONTEXT_VALUE_MAX 200
#define SECTION_SOFT_MAX 2400 /* Slack refuses section texts over 3000 characters */

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* mrkdwn needs &, < and > escaped; everything is cut at max bytes (on a UTF-8
 * boundary) so that a long purpose cannot make Slack refuse the message. */
static void esc(cs_buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '&')
            cs_buf_puts(b, "&amp;");
        else if (s[i] == '<')
            cs_buf_puts(b, "&lt;");
        else if (s[i] == '>')
            cs_buf_puts(b, "&gt;");
        else
            cs_buf_putc(b, s[i]);
    }
    if (n < strlen(s)) cs_buf_puts(b, "…");
}

static json_t *mrkdwn(cs_buf *b)
{
    json_t *t = json_pack("{s:s,s:s}", "type", "mrkdwn", "text", b->data ? b->data : " ");
    cs_buf_reset(b);
    return t;
}

static json_t *field(const char *label, const char *value)
{
    cs_buf b;
    cs_buf_init(&b, 4096);
    cs_buf_printf(&b, "*%s*\n", label);
    esc(&b, *value ? value : "—", FIELD_MAX);
    json_t *t = mrkdwn(&b);
    cs_buf_free(&b);
    return t;
}

static void requester_text(const json_t *action, char *out, size_t n)
{
    const json_t *r = json_object_get(action, "requester");
    if (json_object_get(r, "owner"))
        snprintf(out, n, "%s %s (owner %s)", str(r, "type"), str(r, "id"), str(r, "owner"));
    else
        snprintf(out, n, "%s %s", str(r, "type"), str(r, "id"));
}

static void quorum_text(const json_t *approval, char *out, size_t n)
{
    size_t i, approvals = 0;
    json_t *v, *g;
    json_array_foreach(json_object_get(approval, "votes"), i, v) approvals +=
        !strcmp(str(v, "vote"), "approve");
    cs_buf b;
    cs_buf_init(&b, 512);
    json_array_foreach(json_object_get(approval, "groups"), i, g)
        cs_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(g));
    snprintf(out, n, "%zu of %lld from %s", approvals,
             (long long)json_integer_value(json_object_get(approval, "quorum")),
             b.data ? b.data : "—");
    cs_buf_free(&b);
}

static json_t *facts_section(const json_t *action)
{
    const json_t *approval = json_object_get(action, "approval");
    char who[300], quorum[600];
    requester_text(action, who, sizeof who);
    quorum_text(approval, quorum, sizeof quorum);
    json_t *fields = json_array();
    json_array_append_new(fields, field("Requester", who));
    json_array_append_new(fields, field("On behalf of", str(action, "on_behalf_of")));
    json_array_append_new(fields, field("Action", str(action, "action")));
    json_array_append_new(fields, field("Resource", str(action, "resource")));
    json_array_append_new(fields, field("Purpose", str(action, "purpose")));
    json_array_append_new(fields, field("Approvals", quorum));
    json_array_append_new(fields, field("Expires", str(approval, "expires_at")));
    json_array_append_new(fields, field("Status", str(action, "status")));
    return json_pack("{s:s,s:o}", "type", "section", "fields", fields);
}

static json_t *text_section(cs_buf *b)
{
    return json_pack("{s:s,s:o}", "type", "section", "text", mrkdwn(b));
}

/* The first few context fields. */
static void context_section(const json_t *action, json_t *blocks, cs_buf *b)
{
    const char *k;
    json_t *v;
    int shown = 0;
    json_object_foreach(json_object_get(action, "context"), k, v)
    {
        if (shown++ == CONTEXT_KEYS) break;
        char *val = json_is_string(v) ? cs_strdup(json_string_value(v))
                                      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        cs_buf_puts(b, shown == 1 ? "*Context*\n• " : "\n• ");
        esc(b, k, 64);
        cs_buf_puts(b, ": ");
        esc(b, val ? val : "", CONTEXT_VALUE_MAX);
        free(val);
    }
    if (shown) json_array_append_new(blocks, text_section(b));
}

/* One line per item of the approval's `list` (requirements or votes), cut below
 * Slack's limit on a section. */
static void list_section(const json_t *action, const char *list, const char *title,
                         void (*line)(cs_buf *, const json_t *), json_t *blocks, cs_buf *b)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(action, "approval"), list), i, v)
    {
        if (b->len > SECTION_SOFT_MAX) {
            cs_buf_puts(b, "\n…");
            break;
        }
        cs_buf_puts(b, i ? "\n• " : title);
        line(b, v);
    }
    if (b->len) json_array_append_new(blocks, text_section(b));
}

static void reason_line(cs_buf *b, const json_t *req)
{
    esc(b, str(req, "policy"), 128);
    cs_buf_puts(b, ": ");
    esc(b, *str(req, "reason") ? str(req, "reason") : "approval required", 500);
}

static void vote_line(cs_buf *b, const json_t *vote)
{
    esc(b, str(vote, "voter"), 64);
    cs_buf_puts(b, !strcmp(str(vote, "vote"), "approve") ? " approved" : " denied");
    if (*str(vote, "reason")) {
        cs_buf_puts(b, ": ");
        esc(b, str(vote, "reason"), 500);
    }
}

/* The context, the policy reasons and the votes. */
static void detail_sections(const json_t *action, json_t *blocks)
{
    cs_buf b;
    cs_buf_init(&b, 8192);
    context_section(action, blocks, &b);
    list_section(action, "requirements", "*Why approval is needed*\n• ", reason_line, blocks, &b);
    list_section(action, "votes", "*Votes*\n• ", vote_line, blocks, &b);
    cs_buf_free(&b);
}

static const char *state_line(const json_t *action)
{
    const char *st = str(action, "status");
    if (json_object_get(action, "outcome"))
        return !strcmp(str(json_object_get(action, "outcome"), "status"), "succeeded")
                   ? ":white_check_mark: *Approved and executed: succeeded*"
                   : ":warning: *Approved and executed: failed*";
    if (!strcmp(st, "approved")) return ":white_check_mark: *Approved*";
    if (!strcmp(st, "denied")) return ":no_entry: *Denied*";
    if (!strcmp(st, "expired")) return ":hourglass: *Expired* without a decision";
    if (!strcmp(st, "cancelled")) return ":leftwards_arrow_with_hook: *Cancelled* by the requester";
    return NULL;
}

static json_t *plain(const char *text)
{
    return json_pack("{s:s,s:s}", "type", "plain_text", "text", text);
}

static json_t *button(const char *action_id, const char *label, const char *style,
                      const char *value)
{
    json_t *b =
        json_pack("{s:s,s:s,s:o}", "type", "button", "action_id", action_id, "text", plain(label));
    if (style) json_object_set_new(b, "style", json_string(style));
    if (value) json_object_set_new(b, "value", json_string(value));
    return b;
}

/* Approve (with a confirmation), Deny (asks for a reason in a modal) and a link to
 * the approval page. The buttons carry the action id as their value. */
static json_t *buttons(const json_t *action, const char *url)
{
    char confirm[400];
    const char *verb = str(action, "action"), *res = str(action, "resource");
    snprintf(confirm, sizeof confirm, "Approve %.*s on %.*s?", cs_utf8_prefix(verb, 100), verb,
             cs_utf8_prefix(res, 200), res);
    json_t *approve = button("cs_approve", "Approve", "primary", str(action, "id"));
    json_object_set_new(approve, "confirm",
                        json_pack("{s:o,s:o,s:o,s:o}", "title", plain("Approve?"), "text",
                                  plain(confirm), "confirm", plain("Approve"), "deny",
                                  plain("Cancel")));
    json_t *open = button("cs_open", "Open in countersign", NULL, NULL);
    json_object_set_new(open, "url", json_string(url));
    return json_pack("{s:s,s:[o,o,o]}", "type", "actions", "elements", approve,
                     button("cs_deny", "Deny", "danger", str(action, "id")), open);
}

json_t *cs_slack_blocks(const cs_config *cfg, const json_t *action)
{
    json_t *blocks = json_array();
    char head[151];
    const char *verb = str(action, "action"), *res = str(action, "resource");
    snprintf(head, sizeof head, "%.*s on %.*s", cs_utf8_prefix(verb, 60), verb,
             cs_utf8_prefix(res, 80), res);
    json_array_append_new(blocks, json_pack("{s:s,s:{s:s,s:s}}", "type", "header", "text", "type",
                                            "plain_text", "text", head));
    json_array_append_new(blocks, facts_section(action));
    detail_sections(action, blocks);
    char *url = cs_sprintf("%s/a/%s", cfg->public_url, str(action, "id"));
    const char *state = state_line(action);
    cs_buf b;
    cs_buf_init(&b, 4096);
    if (state) {
        cs_buf_puts(&b, state);
        json_array_append_new(blocks, text_section(&b));
    }
    if (!strcmp(str(action, "status"), "pending"))
        json_array_append_new(blocks, buttons(action, url));
    cs_buf_printf(&b, "<%s|%s> · args_hash `%s`", url, str(action, "id"), str(action, "args_hash"));
    json_array_append_new(blocks,
                          json_pack("{s:s,s:[o]}", "type", "context", "elements", mrkdwn(&b)));
    cs_buf_free(&b);
    free(url);
    return blocks;
}

char *cs_slack_fallback_text(const json_t *action)
{
    const char *st = str(action, "status");
    const char *verb = str(action, "action"), *res = str(action, "resource");
    return cs_sprintf("countersign: %.*s on %.*s is %s%s", cs_utf8_prefix(verb, 100), verb,
                      cs_utf8_prefix(res, 200), res,
                      !strcmp(st, "pending") ? "waiting for approval" : st,
                      json_object_get(action, "outcome") ? " and executed" : "");
}

int cs_slack_api_req(cs_notify *n, const char *method, const json_t *body, cs_notify_req *req,
                     cs_err *err)
{
    if (n->slack_token == NULL)
        return cs_err_set(err, CS_EINVAL, "Slack is not configured (notify.slack.bot_token_env)");
    char *auth = cs_sprintf("Authorization: Bearer %s", n->slack_token);
    req->url = cs_sprintf("%s/%s", n->cfg->slack_api_url, method);
    req->headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    req->headers = curl_slist_append(req->headers, auth);
    req->headers = curl_slist_append(req->headers, "Expect:");
    memset(auth, 0, strlen(auth));
    free(auth);
    req->body = json_dumps(body, JSON_COMPACT);
    return 0;
}

/* "C0123 1700000000.000100": the channel id and ts that chat.update needs. */
static int split_ref(const char *ref, char *channel, size_t n, const char **ts)
{
    const char *sp = strchr(ref, ' ');
    if (sp == NULL || (size_t)(sp - ref) >= n) return -1;
    memcpy(channel, ref, (size_t)(sp - ref));
    channel[sp - ref] = '\0';
    *ts = sp + 1;
    return 0;
}

static int slack_build(cs_notify *n, const cs_notify_msg *m, cs_notify_req *req, cs_err *err)
{
    if (!strncmp(m->event, "agent.", 6)) {
        /* Kill-switch events: one plain message each (gateway/freeze.c). */
        const char *text = str(m->action, "text");
        json_t *body = json_pack("{s:s,s:s%,s:b}", "channel", m->dest, "text", text,
                                 (size_t)cs_utf8_prefix(text, SECTION_SOFT_MAX), "unfurl_links", 0);
        int rc = cs_slack_api_req(n, "chat.postMessage", body, req, err);
        json_decref(body);
        return rc;
    }
    char channel[128];
    const char *ts = NULL;
    if (m->ref && split_ref(m->ref, channel, sizeof channel, &ts) != 0)
        return cs_err_set(err, CS_EINVAL, "unreadable Slack message reference");
    json_t *body = json_pack("{s:s,s:o,s:o,s:b}", "channel", m->ref ? channel : m->dest, "text",
                             json_string_nocheck(""), "blocks", cs_slack_blocks(n->cfg, m->action),
                             "unfurl_links", 0);
    char *text = cs_slack_fallback_text(m->action);
    json_object_set_new(body, "text", json_string(text));
    free(text);
    if (m->ref) json_object_set_new(body, "ts", json_string(ts));
    int rc = cs_slack_api_req(n, m->ref ? "chat.update" : "chat.postMessage", body, req, err);
    json_decref(body);
    return rc;
}

static void slack_result(cs_notify *n, const cs_notify_msg *m, const char *text,
                         cs_notify_result *out)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *e = str(j, "error");
    if (json_is_true(json_object_get(j, "ok"))) {
        const char *ch = str(j, "channel"), *ts = str(j, "ts");
        if (m->ref == NULL && *ch && *ts && strlen(ch) < 64 && strlen(ts) < 64)
            out->ref = cs_sprintf("%s %s", ch, ts);
        else if (m->ref == NULL) {
            out->outcome = CS_NOTIFY_FAIL;
            snprintf(out->error, sizeof out->error,
                     "chat.postMessage answered without channel and ts");
        }
    } else {
        /* Slack's transient errors are worth another try; the rest (channel_not_found,
         * invalid_auth, not_in_channel, ...) will not fix themselves. */
        int transient = !strcmp(e, "ratelimited") || !strcmp(e, "internal_error") ||
                        !strcmp(e, "fatal_error") || !strcmp(e, "service_unavailable") ||
                        !strcmp(e, "request_timeout");
        out->outcome = transient ? CS_NOTIFY_RETRY : CS_NOTIFY_FAIL;
        snprintf(out->error, sizeof out->error, "slack: %.200s",
                 j ? (*e ? e : "not ok") : "unreadable answer");
    }
    json_decref(j);
}

static int slack_wants(const char *event)
{
    return 1; /* one message per action, kept current: every event updates it */
}

const cs_channel cs_channel_slack = {"slack", slack_wants, slack_build, slack_result};
