/* action_text.c - a new action's texts written from its parts (see action_text.h).
 *
 * Each writer lays out members whose keys it knows, in the order the document tree
 * would have them: insertion order for the stored text (cs_json_write's forms), RFC 8785
 * order for the envelope and the entry's details (cs_jcs_write's). */
#include "gateway/action_text.h"

#include "policy/policy.h"

#include "util/error.h"
#include "util/iso_time.h"
#include "util/jcs.h"

#include <string.h>

static int str(cs_buf *b, const char *s)
{
    return cs_jcs_write_string(s, strlen(s), b);
}

/* ,"key": (no comma before the first member), in one append: the keys are this file's
 * own short ASCII names, which need no escaping. */
static int key(cs_buf *b, const char *k, int *first)
{
    char t[32] = ",\"";
    size_t n = strlen(k);
    if (n > sizeof t - 4) return CS_EINVAL;
    memcpy(t + 2, k, n);
    memcpy(t + 2 + n, "\":", 2);
    int skip = *first;
    *first = 0;
    return cs_buf_append(b, t + skip, n + 4 - (size_t)skip);
}

/* v in the canonical or the stored form; `none` when v is NULL. */
static int value(cs_buf *b, const json_t *v, int canonical, const char *none)
{
    if (v == NULL) return cs_buf_puts(b, none);
    return canonical ? cs_jcs_write(v, b) : cs_json_write(v, b);
}

static int member(cs_buf *b, const char *k, int *first, const json_t *v, int canonical,
                  const char *none)
{
    int rc = key(b, k, first);
    return rc ? rc : value(b, v, canonical, none);
}

static int member_str(cs_buf *b, const char *k, int *first, const char *s)
{
    int rc = key(b, k, first);
    return rc ? rc : str(b, s);
}

static int member_time(cs_buf *b, const char *k, int *first, long long ms)
{
    char t[64];
    size_t n = cs_iso_time(ms, t);
    int rc = key(b, k, first);
    return rc ? rc : cs_jcs_write_string(t, n, b);
}

static int member_bool(cs_buf *b, const char *k, int *first, int v)
{
    int rc = key(b, k, first);
    return rc ? rc : cs_buf_puts(b, v ? "true" : "false");
}

/* One of the policies that decided: {"id","effect","approval"[,"reason"]} as stored,
 * {"approval","effect","id"[,"reason"]} canonical (cs_policy_matches_json). */
static int match(cs_buf *b, const cs_policy_match *m, int canonical)
{
    int first = 1;
    const char *effect = m->effect == CS_EFFECT_FORBID ? "forbid" : "permit";
    int rc = cs_buf_putc(b, '{');
    if (canonical) {
        if (!rc) rc = member_bool(b, "approval", &first, m->approval);
        if (!rc) rc = member_str(b, "effect", &first, effect);
        if (!rc) rc = member_str(b, "id", &first, m->id);
    } else {
        if (!rc) rc = member_str(b, "id", &first, m->id);
        if (!rc) rc = member_str(b, "effect", &first, effect);
        if (!rc) rc = member_bool(b, "approval", &first, m->approval);
    }
    if (m->reason && !rc) rc = member_str(b, "reason", &first, m->reason);
    return rc ? rc : cs_buf_putc(b, '}');
}

static int member_matches(cs_buf *b, int *first, const cs_decision *d, int canonical)
{
    int rc = key(b, "matched", first);
    if (!rc) rc = cs_buf_putc(b, '[');
    for (size_t i = 0; i < d->n_determining && !rc; i++) {
        if (i) rc = cs_buf_putc(b, ',');
        if (!rc) rc = match(b, &d->determining[i], canonical);
    }
    return rc ? rc : cs_buf_putc(b, ']');
}

/* The errored policies, [{"id","message"}] in both forms (cs_decision_errors_json). */
static int member_errors(cs_buf *b, int *first, const cs_decision *d)
{
    int rc = key(b, "errors", first);
    if (!rc) rc = cs_buf_putc(b, '[');
    for (size_t i = 0; i < d->n_errors && !rc; i++) {
        int inner = 1;
        if (i) rc = cs_buf_putc(b, ',');
        if (!rc) rc = cs_buf_putc(b, '{');
        if (!rc) rc = member_str(b, "id", &inner, d->errors[i].id);
        if (!rc) rc = member_str(b, "message", &inner, d->errors[i].msg);
        if (!rc) rc = cs_buf_putc(b, '}');
    }
    return rc ? rc : cs_buf_putc(b, ']');
}

/* "policy": {"version","matched","explanation"[,"errors"]} as stored (policy_json in
 * action.c); {["errors",]"explanation","matched","version"} canonical. */
static int member_policy(cs_buf *b, int *first, const cs_new_action *a, int canonical)
{
    const cs_decision *d = a->decision;
    const char *why = d->explanation ? d->explanation : "";
    int inner = 1;
    int rc = key(b, "policy", first);
    if (!rc) rc = cs_buf_putc(b, '{');
    if (canonical) {
        if (d->n_errors > 0 && !rc) rc = member_errors(b, &inner, d);
        if (!rc) rc = member_str(b, "explanation", &inner, why);
        if (!rc) rc = member_matches(b, &inner, d, 1);
        if (!rc) rc = member_str(b, "version", &inner, a->policy_version);
    } else {
        if (!rc) rc = member_str(b, "version", &inner, a->policy_version);
        if (!rc) rc = member_matches(b, &inner, d, 0);
        if (!rc) rc = member_str(b, "explanation", &inner, why);
        if (d->n_errors > 0 && !rc) rc = member_errors(b, &inner, d);
    }
    return rc ? rc : cs_buf_putc(b, '}');
}

/* "requester": {"type","id"[,"owner"]} as stored; {"id"[,"owner"],"type"} canonical. */
static int member_requester(cs_buf *b, int *first, const cs_new_action *a, int canonical)
{
    int inner = 1;
    int rc = key(b, "requester", first);
    if (!rc) rc = cs_buf_putc(b, '{');
    if (!canonical && !rc) rc = member_str(b, "type", &inner, a->requester_type);
    if (!rc) rc = member_str(b, "id", &inner, a->requester_id);
    if (a->owner && !rc) rc = member(b, "owner", &inner, a->owner, canonical, "null");
    if (canonical && !rc) rc = member_str(b, "type", &inner, a->requester_type);
    return rc ? rc : cs_buf_putc(b, '}');
}

int cs_new_action_envelope(const cs_new_action *a, cs_buf *out)
{
    int first = 1;
    int rc = cs_buf_putc(out, '{');
    if (!rc) rc = member_str(out, "action", &first, a->action);
    if (!rc) rc = member(out, "context", &first, a->context, 1, "{}");
    if (!rc) rc = member(out, "on_behalf_of", &first, a->on_behalf_of, 1, "null");
    if (!rc) rc = member(out, "purpose", &first, a->purpose, 1, "null");
    if (!rc) rc = member_requester(out, &first, a, 1);
    if (!rc) rc = member_str(out, "resource", &first, a->resource);
    if (a->rollback && !rc) rc = member(out, "rollback", &first, a->rollback, 1, "");
    if (a->rollback_of && !rc) rc = member_str(out, "rollback_of", &first, a->rollback_of);
    return rc ? rc : cs_buf_putc(out, '}');
}

int cs_new_action_doc(const cs_new_action *a, cs_buf *out)
{
    int first = 1;
    int rc = cs_buf_putc(out, '{');
    if (!rc) rc = member_str(out, "id", &first, a->id);
    if (!rc) rc = member_str(out, "status", &first, a->status);
    if (!rc) rc = member_requester(out, &first, a, 0);
    if (!rc) rc = member_str(out, "action", &first, a->action);
    if (!rc) rc = member_str(out, "resource", &first, a->resource);
    if (!rc) rc = member(out, "context", &first, a->context, 0, "{}");
    if (!rc) rc = member(out, "purpose", &first, a->purpose, 0, "null");
    if (!rc) rc = member(out, "on_behalf_of", &first, a->on_behalf_of, 0, "null");
    if (a->rollback && !rc) rc = member(out, "rollback", &first, a->rollback, 0, "");
    if (a->rollback_of && !rc) rc = member_str(out, "rollback_of", &first, a->rollback_of);
    if (!rc) rc = member_str(out, "args_hash", &first, a->args_hash);
    if (!rc) rc = member_str(out, "source", &first, a->source);
    if (!rc) rc = member_policy(out, &first, a, 0);
    if (!rc) rc = member_time(out, "created_at", &first, a->now_ms);
    if (!rc) rc = member_time(out, "decided_at", &first, a->now_ms);
    return rc ? rc : cs_buf_putc(out, '}');
}

int cs_new_action_details(const cs_new_action *a, cs_buf *out)
{
    int first = 1;
    int rc = cs_buf_putc(out, '{');
    if (!rc) rc = member_str(out, "action", &first, a->action);
    if (!rc) rc = member_str(out, "args_hash", &first, a->args_hash);
    if (!rc) rc = member(out, "context", &first, a->context, 1, "{}");
    if (!rc) rc = member(out, "on_behalf_of", &first, a->on_behalf_of, 1, "null");
    if (!rc) rc = member_policy(out, &first, a, 1);
    if (!rc) rc = member(out, "purpose", &first, a->purpose, 1, "null");
    if (!rc) rc = member_requester(out, &first, a, 1);
    if (!rc) rc = member_str(out, "resource", &first, a->resource);
    if (a->rollback && !rc) rc = member(out, "rollback", &first, a->rollback, 1, "");
    if (a->rollback_of && !rc) rc = member_str(out, "rollback_of", &first, a->rollback_of);
    if (!rc) rc = member_str(out, "status", &first, a->status);
    return rc ? rc : cs_buf_putc(out, '}');
}
