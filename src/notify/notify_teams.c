/* notify_teams.c - the Microsoft Teams channel (SPEC §4): a Workflows (Power
 * Automate) webhook receives an Adaptive Card 1.4 with the request's facts and an
 * Action.OpenUrl to the approval page, then a follow-up card with the outcome.
 * Cards cannot be edited through a Workflows webhook, hence two messages. */
#include "notify/notify_int.h"

#include "util/alloc.h"
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static json_t *fact(const char *title, const char *value)
{
    return json_pack("{s:s,s:s}", "title", title, "value", *value ? value : "—");
}

static json_t *facts(const json_t *a)
{
    const json_t *r = json_object_get(a, "requester"), *ap = json_object_get(a, "approval");
    char who[300], quorum[64];
    if (json_object_get(r, "owner"))
        snprintf(who, sizeof who, "%s %s (owner %s)", str(r, "type"), str(r, "id"),
                 str(r, "owner"));
    else
        snprintf(who, sizeof who, "%s %s", str(r, "type"), str(r, "id"));
    size_t i, approvals = 0;
    json_t *v;
    json_array_foreach(json_object_get(ap, "votes"), i, v) approvals +=
        !strcmp(str(v, "vote"), "approve");
    snprintf(quorum, sizeof quorum, "%zu of %lld", approvals,
             (long long)json_integer_value(json_object_get(ap, "quorum")));
    json_t *list = json_array();
    json_array_append_new(list, fact("Requester", who));
    json_array_append_new(list, fact("On behalf of", str(a, "on_behalf_of")));
    json_array_append_new(list, fact("Action", str(a, "action")));
    json_array_append_new(list, fact("Resource", str(a, "resource")));
    json_array_append_new(list, fact("Purpose", str(a, "purpose")));
    json_array_append_new(list, fact("Approvals", quorum));
    json_array_append_new(list, fact("Expires", str(ap, "expires_at")));
    json_array_foreach(json_object_get(ap, "requirements"), i, v) json_array_append_new(
        list, fact("Policy", *str(v, "reason") ? str(v, "reason") : str(v, "policy")));
    return json_pack("{s:s,s:o}", "type", "FactSet", "facts", list);
}

static const char *outcome_title(const char *event)
{
    if (!strcmp(event, "action.approved")) return "Approved";
    if (!strcmp(event, "action.denied")) return "Denied";
    if (!strcmp(event, "action.expired")) return "Expired without a decision";
    if (!strcmp(event, "action.cancelled")) return "Cancelled by the requester";
    return "Approval needed";
}

/* The card: a title, the facts, and the link (GET shows; deciding is a POST there). */
static json_t *teams_card(const cs_config *cfg, const json_t *a, const char *event)
{
    char title[400];
    const char *verb = str(a, "action"), *res = str(a, "resource");
    snprintf(title, sizeof title, "%s: %.*s on %.*s", outcome_title(event),
             cs_utf8_prefix(verb, 100), verb, cs_utf8_prefix(res, 200), res);
    char *url = cs_sprintf("%s/a/%s", cfg->public_url, str(a, "id"));
    json_t *body = json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "type", "TextBlock", "text", title,
                             "weight", "Bolder", "size", "Medium", "wrap", 1);
    json_array_append_new(body, facts(a));
    json_array_append_new(body, json_pack("{s:s,s:s,s:b,s:b}", "type", "TextBlock", "text",
                                          str(a, "id"), "isSubtle", 1, "wrap", 1));
    json_t *card = json_pack(
        "{s:s,s:s,s:s,s:o,s:[{s:s,s:s,s:s}]}", "$schema",
        "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard", "version",
        "1.4", "body", body, "actions", "type", "Action.OpenUrl", "title",
        !strcmp(event, "action.pending") ? "Review and decide" : "Open in countersign", "url", url);
    free(url);
    return json_pack("{s:s,s:[{s:s,s:n,s:o}]}", "type", "message", "attachments", "contentType",
                     "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
}

static int teams_build(cs_notify *n, const cs_notify_msg *m, cs_notify_req *req, cs_err *err)
{
    const char *var = json_string_value(json_object_get(n->cfg->teams_webhooks, m->dest));
    if (var == NULL)
        return cs_err_set(err, CS_EINVAL, "no notify.teams.webhooks entry named '%s'", m->dest);
    const char *url = getenv(var);
    if (url == NULL || strncmp(url, "http", 4) != 0)
        return cs_err_set(err, CS_EINVAL, "environment variable %s does not hold a webhook URL",
                          var);
    json_t *msg = teams_card(n->cfg, m->action, m->event);
    req->url = cs_strdup(url);
    req->headers = curl_slist_append(NULL, "Content-Type: application/json");
    req->headers = curl_slist_append(req->headers, "Expect:");
    req->body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return 0;
}

/* The request card, then one card with the outcome; votes in between would be noise
 * in a channel that cannot edit its messages. */
static int teams_wants(const char *event)
{
    return !strcmp(event, "action.pending") || !strcmp(event, "action.approved") ||
           !strcmp(event, "action.denied") || !strcmp(event, "action.expired") ||
           !strcmp(event, "action.cancelled");
}

const cs_channel cs_channel_teams = {"teams", teams_wants, teams_build, NULL};
