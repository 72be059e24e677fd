/* validate.c - request body checks: missing, mistyped and unknown fields are 400s
 * naming the field, before anything acts on the body. */
#include "gateway/gateway.h"

#include "util/alloc.h"
#include "util/iso_time.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *type_name(int t)
{
    switch (t) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
        return "a boolean";
    case -1:
        return "a string or null";
    }
    return "a value";
}

static int type_ok(const json_t *v, int t)
{
    if (t == JSON_TRUE) return json_is_boolean(v);
    if (t == -1) return json_is_string(v) || json_is_null(v);
    if (t == JSON_INTEGER) return json_is_integer(v);
    return (int)json_typeof(v) == t;
}

int cs_validate_fields(const json_t *body, const cs_field *fields, cs_reply *bad)
{
    char detail[256];
    if (!json_is_object(body)) {
        cs_reply_problem(bad, 400, "invalid-body", "the request body must be a JSON object");
        return CS_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        const cs_field *f = fields;
        while (f->name && strcmp(f->name, k))
            f++;
        if (f->name == NULL) {
            snprintf(detail, sizeof detail, "unknown field '%.100s'", k);
            cs_reply_problem(bad, 400, "unknown-field", detail);
            json_object_set_new(bad->body, "field", json_string(k));
            return CS_EINVAL;
        }
        if (!type_ok(v, f->type)) {
            snprintf(detail, sizeof detail, "field '%s' must be %s", k, type_name(f->type));
            cs_reply_problem(bad, 400, "invalid-field", detail);
            json_object_set_new(bad->body, "field", json_string(k));
            return CS_EINVAL;
        }
    }
    for (const cs_field *f = fields; f->name; f++) {
        if (f->required && json_object_get(body, f->name) == NULL) {
            snprintf(detail, sizeof detail, "field '%s' is required", f->name);
            cs_reply_problem(bad, 400, "missing-field", detail);
            json_object_set_new(bad->body, "field", json_string(f->name));
            return CS_EINVAL;
        }
    }
    return 0;
}

json_t *cs_problem(int status, const char *type, const char *title, const char *detail)
{
    json_t *p =
        json_pack("{s:s,s:s,s:i}", "type", type, "title", title ? title : type, "status", status);
    if (detail) json_object_set_new(p, "detail", json_string(detail));
    return p;
}

static const char *title_for(const char *type)
{
    static const struct {
        const char *type, *title;
    } titles[] = {
        {"self-approval",
         "You cannot approve an action you requested or that was requested on your behalf"},
        {"owner-approval", "You cannot approve an action requested by an agent you own"},
        {"agent-cannot-approve", "Agents cannot approve or deny actions"},
        {"not-in-approver-group", "You are not in an approver group of this action"},
        {"duplicate-vote", "You have already voted on this action"},
        {"not-pending", "The action is no longer pending"},
        {"unauthenticated", "Missing, unknown or revoked bearer token"},
        {"not-found", "No such object"},
        {"payload-too-large", "Request body too large"},
        {"unsupported-media-type", "Unsupported content type"},
        {"malformed-json", "The body is not valid JSON"},
        {"invalid-body", "The body must be a JSON object"},
        {"invalid-field", "A field has the wrong type or value"},
        {"missing-field", "A required field is missing"},
        {"unknown-field", "The body has a field this endpoint does not take"},
        {"invalid-context", "The context cannot be given to the policy"},
        {"context-too-large", "The context is larger than 64 KiB"},
        {"invalid-parameter", "A query parameter is not valid"},
        {"invalid-header", "A request header is not valid"},
        {"invalid-url", "The URL is not valid"},
        {"method-not-allowed", "Method not allowed on this resource"},
        {"not-admin", "Only admins may do this"},
        {"not-permitted", "You may not do this"},
        {"not-requester", "Only the requester may do this"},
        {"idempotency-key-reused", "This Idempotency-Key was used for a different request"},
        {"invalid-receipt", "The receipt is not valid"},
        {"receipt-consumed", "The receipt was already used"},
        {"receipt-revoked", "The receipt was revoked"},
        {"receipt-expired", "The receipt has expired"},
        {"args-mismatch", "The receipt is for other arguments"},
        {"outcome-exists", "The outcome of this action is already recorded"},
        {"not-runnable", "The action is not allowed or approved, so it cannot run"},
        {"already-frozen", "Already frozen"},
        {"not-frozen", "Not frozen"},
        {"unknown-agent", "No such agent"},
        {"no-rollback", "The action has no compensating action"},
        {"rollback-exists", "A rollback of this action was already submitted"},
        {"slack-id-taken", "This Slack user id belongs to another user"},
        {"unknown-owner", "The agent's owner is not a known user"},
        {"csrf-failed", "The form's CSRF token is missing or wrong"},
        {"policy-error", "The policy could not decide this request"},
        {"storage-error", "The change could not be stored"},
        {"audit-unavailable", "The audit log is not available"},
        {"stopping", "The gateway is shutting down"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (!strcmp(titles[i].type, type)) return titles[i].title;
    return NULL;
}

void cs_reply_problem(cs_reply *r, int status, const char *type, const char *detail)
{
    json_decref(r->body);
    free(r->text);
    r->text = NULL;
    r->status = status;
    r->problem = 1;
    r->allow = NULL;
    r->body = cs_problem(status, type, title_for(type), detail);
}

void cs_reply_not_allowed(cs_reply *r, const char *allow, const char *detail)
{
    cs_reply_problem(r, 405, "method-not-allowed", detail);
    r->allow = allow;
}

void cs_reply_clear(cs_reply *r)
{
    json_decref(r->body);
    free(r->text);
    memset(r, 0, sizeof *r);
}

long long cs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long cs_action_expires_ms(const json_t *doc)
{
    const char *s =
        json_string_value(json_object_get(json_object_get(doc, "approval"), "expires_at"));
    struct tm tm = {0};
    int ms = 0;
    if (s == NULL || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

json_t *cs_time_json(long long ms)
{
    char s[64];
    size_t n = cs_iso_time(ms, s);
    return json_stringn(s, n);
}
