/* web_approval.c - the approval page /a/{id} that notifications link to.
 *
 * GET shows the decision envelope and a form; only POST decides, so a link
 * scanner or a preview bot that fetches the link never approves anything. The
 * POST must carry the session's CSRF token and comes from a browser session;
 * the vote is an ordinary gateway op with every separation-of-duties rule. */
#include "web/web_int.h"

#include "util/alloc.h"

#include <string.h>

#define REASON_MAX 4097

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A reply's document: the gateway may hand it over already serialised. */
static json_t *reply_doc(const cs_reply *rep)
{
    if (rep->body) return json_incref(rep->body);
    return rep->text ? json_loads(rep->text, 0, NULL) : NULL;
}

static void row(cs_buf *b, const char *label, const char *value)
{
    if (value == NULL || !*value) return;
    cs_buf_puts(b, "<dt>");
    cs_web_esc(b, label);
    cs_buf_puts(b, "</dt><dd>");
    cs_web_esc(b, value);
    cs_buf_puts(b, "</dd>");
}

static void requester_row(cs_buf *b, const json_t *doc)
{
    const json_t *rq = json_object_get(doc, "requester");
    char *who = cs_sprintf("%s %s", str(rq, "type") ? str(rq, "type") : "",
                           str(rq, "id") ? str(rq, "id") : "");
    if (str(rq, "owner")) {
        char *with = cs_sprintf("%s (owned by %s)", who, str(rq, "owner"));
        free(who);
        who = with;
    }
    row(b, "Requested by", who);
    free(who);
    row(b, "On behalf of", str(doc, "on_behalf_of"));
}

/* "1 of 2 approvals from dba", the votes, and the expiry. */
static void approval_rows(cs_buf *b, const json_t *doc)
{
    const json_t *ap = json_object_get(doc, "approval");
    if (ap == NULL) return;
    const json_t *votes = json_object_get(ap, "votes");
    size_t approvals = 0, i;
    json_t *v, *g;
    json_array_foreach(votes, i, v) approvals +=
        !strcmp(str(v, "vote") ? str(v, "vote") : "", "approve");
    cs_buf b2;
    cs_buf_init(&b2, 4096);
    cs_buf_printf(&b2, "%zu of %lld approvals from ", approvals,
                  (long long)json_integer_value(json_object_get(ap, "quorum")));
    json_array_foreach(json_object_get(ap, "groups"), i, g)
        cs_buf_printf(&b2, "%s%s", i ? ", " : "", json_string_value(g));
    row(b, "Approvals", b2.data);
    cs_buf_free(&b2);
    row(b, "Expires", str(ap, "expires_at"));
    json_array_foreach(votes, i, v)
    {
        char *line =
            cs_sprintf("%s by %s at %s%s%s", str(v, "vote"), str(v, "voter"), str(v, "at"),
                       str(v, "reason") ? ": " : "", str(v, "reason") ? str(v, "reason") : "");
        row(b, "Vote", line);
        free(line);
    }
}

static void envelope(cs_buf *b, const json_t *doc)
{
    cs_buf_puts(b, "<h1>");
    cs_web_esc(b, str(doc, "action"));
    cs_buf_puts(b, " <small>on</small> ");
    cs_web_esc(b, str(doc, "resource"));
    cs_buf_printf(b, "</h1><p><span class=\"badge status-%s\" data-status=\"%s\">",
                  str(doc, "status"), str(doc, "status"));
    cs_web_esc(b, str(doc, "status"));
    cs_buf_puts(b, "</span></p><dl class=\"envelope\">");
    requester_row(b, doc);
    row(b, "Purpose", str(doc, "purpose"));
    row(b, "Action", str(doc, "action"));
    row(b, "Resource", str(doc, "resource"));
    char *ctx = json_dumps(json_object_get(doc, "context"), JSON_INDENT(2) | JSON_SORT_KEYS);
    if (ctx && strcmp(ctx, "{}") != 0) {
        cs_buf_puts(b, "<dt>Context</dt><dd><pre>");
        cs_web_esc(b, ctx);
        cs_buf_puts(b, "</pre></dd>");
    }
    free(ctx);
    const json_t *pol = json_object_get(doc, "policy");
    row(b, "Why", str(pol, "explanation"));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(pol, "matched"), i, m)
    {
        char *line = cs_sprintf("%s%s%s", str(m, "id"), str(m, "reason") ? ": " : "",
                                str(m, "reason") ? str(m, "reason") : "");
        row(b, "Policy", line);
        free(line);
    }
    approval_rows(b, doc);
    row(b, "Arguments hash", str(doc, "args_hash"));
    row(b, "Requested at", str(doc, "created_at"));
    row(b, "Decided at", str(doc, "decided_at"));
    cs_buf_puts(b, "</dl>");
}

static void decision_form(cs_buf *b, const char *id, const char *csrf, const char *who)
{
    cs_buf_puts(b, "<form method=\"post\" class=\"card decide\" action=\"/a/");
    cs_web_esc(b, id);
    cs_buf_puts(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
    cs_web_esc(b, csrf);
    cs_buf_puts(b, "\"><p>Signed in as <strong>");
    cs_web_esc(b, who);
    cs_buf_puts(b,
                "</strong>.</p><label for=\"reason\">Reason <span class=\"hint\">(required to "
                "deny)</span></label>"
                "<textarea id=\"reason\" name=\"reason\" rows=\"3\" maxlength=\"4096\"></textarea>"
                "<div class=\"buttons\"><button type=\"submit\" name=\"decision\" "
                "value=\"approve\" class=\"approve\">"
                "Approve</button><button type=\"submit\" name=\"decision\" value=\"deny\" "
                "class=\"deny\">Deny</button>"
                "</div></form>");
}

static int has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && s && !strcmp(json_string_value(v), s)) return 1;
    }
    return 0;
}

/* Why `who` may not vote on this pending action, mirroring the gateway's rules
 * (SPEC §3) so the page shows the reason instead of a form; NULL when they may.
 * Display only: the gateway checks every vote again. */
static const char *why_not(const json_t *doc, const json_t *who)
{
    const json_t *rq = json_object_get(doc, "requester"), *ap = json_object_get(doc, "approval");
    const char *me = str(who, "name") ? str(who, "name") : "", *obo = str(doc, "on_behalf_of");
    const char *kind = str(who, "kind"), *rtype = str(rq, "type"), *rid = str(rq, "id"),
               *owner = str(rq, "owner");
    if (!*me || kind == NULL || strcmp(kind, "user") != 0) return "agent-cannot-approve";
    if ((rtype && rid && !strcmp(rtype, "User") && !strcmp(rid, me)) || (obo && !strcmp(obo, me)))
        return "self-approval";
    if (owner && !strcmp(owner, me)) return "owner-approval";
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ap, "votes"), i, v)
    {
        const char *voter = str(v, "voter");
        if (voter && !strcmp(voter, me)) return "duplicate-vote";
    }
    json_array_foreach(json_object_get(who, "groups"), i, v)
    {
        if (has(json_object_get(ap, "groups"), json_string_value(v))) return NULL;
    }
    return "not-in-approver-group";
}

static void decision_or_reason(cs_buf *b, const json_t *doc, const char *csrf, const json_t *who)
{
    const char *why = why_not(doc, who);
    if (why == NULL) return decision_form(b, str(doc, "id"), csrf, str(who, "name"));
    cs_buf_printf(b, "<p class=\"cannot\" data-reason=\"%s\">", why);
    cs_web_esc(b, cs_web_refusal_text(why));
    cs_buf_puts(b, "</p>");
}

static void page_with(cs_req *r, int status, const char *title, const json_t *doc,
                      const char *notice, int notice_ok, const char *csrf, const json_t *who)
{
    cs_buf b;
    cs_buf_init(&b, 1 << 20);
    cs_web_html_begin(&b, title);
    cs_buf_puts(&b, "<main class=\"narrow approval\">");
    if (notice) {
        cs_buf_printf(&b, "<p class=\"%s\" role=\"%s\" data-notice>",
                      notice_ok ? "notice" : "error", notice_ok ? "status" : "alert");
        cs_web_esc(&b, notice);
        cs_buf_puts(&b, "</p>");
    }
    if (doc) envelope(&b, doc);
    if (doc && csrf && cs_action_is_pending(doc)) decision_or_reason(&b, doc, csrf, who);
    if (doc) {
        cs_buf_puts(&b, "<p><a href=\"/#/action/");
        cs_web_esc(&b, str(doc, "id"));
        cs_buf_puts(&b, "\">Open in the dashboard</a></p>");
    }
    cs_buf_puts(&b, "</main>");
    cs_web_html_end(&b);
    cs_web_send_html(r, status, &b);
}

/* A SameSite=Strict cookie is not sent when the page is opened from a link in
 * another site (Slack, Teams, mail). One same-site hop fixes that: this page
 * refreshes itself, and the refresh, started by our own page, carries the
 * cookie. Only when that still has no session do we ask to sign in. */
static void no_session(cs_req *r, const char *id)
{
    char *self = cs_sprintf("/a/%s", id);
    if (MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "s") == NULL) {
        cs_buf b;
        cs_buf_init(&b, 4096);
        cs_buf_printf(&b,
                      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta http-equiv=\"refresh\" "
                      "content=\"0;url=%s?s=1\"><title>countersign</title></head>"
                      "<body><p><a href=\"%s?s=1\">Continue</a></p></body></html>",
                      self, self);
        cs_web_send_html(r, 200, &b);
    } else {
        char *to = cs_sprintf("/web/signin?next=%s", self);
        cs_web_redirect(r, to, NULL);
        free(to);
    }
    free(self);
}

static void show(cs_req *r, const char *id, const json_t *who, const char *csrf)
{
    cs_reply rep = {0};
    cs_gateway_get(r->http->gw, id, &rep);
    json_t *doc = rep.status == 200 ? reply_doc(&rep) : NULL;
    if (doc == NULL)
        page_with(r, 404, "Not found", NULL, cs_web_refusal_text("not-found"), 0, NULL, NULL);
    else
        page_with(r, 200, "Approval", doc, NULL, 0, csrf, who);
    json_decref(doc);
    cs_reply_clear(&rep);
}

/* After the vote is durable (or refused): the outcome in words, and the action
 * as it stands now. */
static void decided(cs_req *r)
{
    cs_reply *rep = &r->op->reply;
    json_t *doc = reply_doc(rep);
    const char *verb = r->op->kind == CS_OP_APPROVE ? "approved" : "denied";
    if (rep->status == 200 && doc) {
        char *msg = cs_sprintf("You %s this action. Status: %s.", verb, str(doc, "status"));
        page_with(r, 200, "Decided", doc, msg, 1, NULL, NULL);
        free(msg);
        json_decref(doc);
        return;
    }
    cs_reply now = {0};
    cs_gateway_get(r->http->gw, r->op->id, &now);
    json_t *cur = now.status == 200 ? reply_doc(&now) : NULL;
    page_with(r, rep->status >= 400 ? rep->status : 500, "Refused", cur,
              cs_web_refusal_text(str(doc, "type")), 0, NULL, NULL);
    json_decref(cur);
    json_decref(doc);
    cs_reply_clear(&now);
}

static void refuse(cs_req *r, int status, const char *type)
{
    page_with(r, status, "Refused", NULL, cs_web_refusal_text(type), 0, NULL, NULL);
}

static void decide(cs_req *r, const char *id, json_t *who, const char *csrf)
{
    char given[CS_WEB_SID_HEX + 2] = "", decision[16] = "", reason[REASON_MAX] = "";
    if (!cs_web_is_form(r)) return refuse(r, 415, "csrf-failed");
    if (r->body.len > CS_WEB_FORM_MAX)
        return page_with(r, 413, "Refused", NULL,
                         "The form is larger than 16 KiB; nothing was decided.", 0, NULL, NULL);
    cs_web_form_get(r->body.data, r->body.len, "csrf", given, sizeof given);
    if (!cs_web_csrf_ok(given, csrf) || !cs_web_same_origin(r))
        return refuse(r, 403, "csrf-failed");
    cs_web_form_get(r->body.data, r->body.len, "decision", decision, sizeof decision);
    int rc = cs_web_form_get(r->body.data, r->body.len, "reason", reason, sizeof reason);
    if (rc == CS_ETOOBIG)
        return page_with(r, 400, "Refused", NULL, "The reason is longer than 4096 bytes.", 0, NULL,
                         NULL);
    /* Not text (a broken escape, a NUL, not UTF-8): a vote must not go through with
     * its reason silently left out. */
    if (rc == CS_EINVAL)
        return page_with(r, 400, "Refused", NULL,
                         "The reason is not valid text; nothing was decided.", 0, NULL, NULL);
    int approve = !strcmp(decision, "approve");
    if (!approve && strcmp(decision, "deny") != 0)
        return page_with(r, 400, "Refused", NULL, "Choose Approve or Deny.", 0, NULL, NULL);
    size_t blank = strspn(reason, " \t\r\n");
    if (!approve && reason[blank] == '\0') return refuse(r, 400, "reason-required");
    json_t *args = json_pack("{s:s?}", "reason", reason[blank] ? reason : NULL);
    r->who = json_incref(who);
    r->on_resume = decided;
    cs_http_start_op(r, approve ? CS_OP_APPROVE : CS_OP_DENY, id, args);
    json_decref(args);
}

void cs_web_approval(cs_req *r, const char *id)
{
    int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (!get && strcmp(r->method, "POST") != 0) {
        cs_reply_not_allowed(&r->reply, "GET, HEAD, POST", "use GET to look, POST to decide");
        return;
    }
    char csrf[CS_WEB_SID_HEX + 1];
    const char *sid = cs_web_cookie(r);
    json_t *who = sid ? cs_web_session_lookup(r->http->web, sid, csrf) : NULL;
    if (who == NULL) {
        if (get)
            no_session(r, id);
        else
            page_with(r, 401, "Sign in", NULL, "Sign in first; nothing was decided.", 0, NULL,
                      NULL);
        return;
    }
    if (!strncmp(r->addr, "api:", 4)) memcpy(r->addr, "web:", 4);
    if (get)
        show(r, id, who, csrf);
    else
        decide(r, id, who, csrf);
    json_decref(who);
    memset(csrf, 0, sizeof csrf);
}
