/* policy_decide.c - turns a request into a decision: builds the request entities,
 * finds candidate policies through the scope index, evaluates them, and combines the
 * satisfied ones into SPEC §2's three outcomes (forbid > approval > permit > deny). */
#include "policy/cedar_eval.h"
#include "policy/policy_set.h"

#include "util/alloc.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct request_ctx {
    cs_arena *arena;
    cs_eval_env env;
} request_ctx;

/* Each thread keeps one scratch arena and resets it after every decision, so the
 * hot path does not go through malloc for its temporary values. */
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_destroy(void *p)
{
    cs_arena_free(p);
    free(p);
}

static void arena_key_make(void)
{
    pthread_key_create(&arena_key, arena_destroy);
}

static cs_arena *thread_arena(void)
{
    pthread_once(&arena_once, arena_key_make);
    cs_arena *a = pthread_getspecific(arena_key);
    if (a == NULL) {
        a = cs_malloc(sizeof *a);
        cs_arena_init(a, 32 * 1024);
        pthread_setspecific(arena_key, a);
    }
    return a;
}

/* The request's strings outlive the evaluation, so uids point at them. */
static const cs_uid *ref_uid(cs_arena *a, cs_uid_ref r)
{
    return cs_uid_borrow(a, r.type, strlen(r.type), r.id, strlen(r.id));
}

/* Prepares the evaluation environment for req. */
static int prepare(const cs_policy_set *set, const cs_policy_request *req, request_ctx *rc, cs_err *err)
{
    cs_arena *a = rc->arena;
    cs_eval_env *env = &rc->env;
    memset(env, 0, sizeof *env);
    env->store = &set->entities;
    env->arena = a;
    if (!req->principal.type || !req->principal.id || !req->action.type || !req->action.id ||
        !req->resource.type || !req->resource.id)
        return cs_err_set(err, CS_EINVAL, "request needs a principal, an action and a resource");

    const cs_uid *p = ref_uid(a, req->principal);
    const cs_uid **groups = cs_arena_alloc(a, (req->n_principal_groups + 1) * sizeof *groups);
    for (size_t i = 0; i < req->n_principal_groups; i++)
        groups[i] = cs_uid_borrow(a, "Group", 5, req->principal_groups[i], strlen(req->principal_groups[i]));
    const cs_value *pattrs = NULL;
    if (req->principal_attrs) {
        if (!json_is_object(req->principal_attrs))
            return cs_err_set(err, CS_EINVAL, "principal attributes must be an object");
        if (cs_value_from_json_borrow(a, req->principal_attrs, &pattrs, err) < 0) return CS_EINVAL;
    }
    env->req[0] = cs_entities_build(&set->entities, a, p, groups, req->n_principal_groups, pattrs);
    const cs_uid *act = ref_uid(a, req->action);
    env->req[1] = cs_entities_build(&set->entities, a, act, NULL, 0, NULL);
    const cs_uid *res = ref_uid(a, req->resource);
    env->req[2] = cs_entities_build(&set->entities, a, res, NULL, 0, NULL);

    const cs_value *ctx;
    if (req->context) {
        if (!json_is_object(req->context)) return cs_err_set(err, CS_EINVAL, "context must be an object");
        cs_err verr = {0};
        if (cs_value_from_json_borrow(a, req->context, &ctx, &verr) < 0)
            return cs_err_set(err, CS_EINVAL, "context: %s", verr.msg);
    } else {
        ctx = cs_value_record(a, NULL, NULL, 0);
    }
    env->vars[CS_VAR_PRINCIPAL] = cs_value_entity(a, p);
    env->vars[CS_VAR_ACTION] = cs_value_entity(a, act);
    env->vars[CS_VAR_RESOURCE] = cs_value_entity(a, res);
    env->vars[CS_VAR_CONTEXT] = ctx;
    return 0;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* The i-th key of an entity for index lookups: itself, its ancestors, then "any". */
static const cs_uid *key_at(const cs_entity *e, size_t i)
{
    return i == 0 ? e->uid : i <= e->n_ancestors ? e->ancestors[i - 1] : NULL;
}

/* Collects the indices of policies whose scope keys can match, sorted and distinct. */
static uint32_t *candidates(const cs_policy_set *set, const cs_eval_env *env, size_t *n_out)
{
    const cs_entity *prin = env->req[0], *act = env->req[1], *res = env->req[2];
    size_t na = act->n_ancestors + 2, nr = res->n_ancestors + 2, np = prin->n_ancestors + 2;
    uint32_t *out = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < na; i++) {
        const cs_uid *ak = key_at(act, i);
        for (size_t j = 0; j < nr; j++) {
            const cs_uid *rk = key_at(res, j);
            if (cs_policy_index_find(&set->pairs, ak, rk, NULL) == NULL) continue;
            for (size_t k = 0; k < np; k++) {
                const cs_index_bucket *b = cs_policy_index_find(&set->buckets, ak, rk, key_at(prin, k));
                if (b == NULL) continue;
                out = cs_grow(out, &cap, n + b->n, sizeof *out);
                memcpy(out + n, b->idx, b->n * sizeof *out);
                n += b->n;
            }
        }
    }
    if (n > 1) {
        if (n > 32) {
            qsort(out, n, sizeof *out, cmp_u32);
        } else {
            for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
                    uint32_t t = out[j];
                    out[j] = out[j - 1];
                    out[j - 1] = t;
                }
        }
        size_t m = 1;
        for (size_t i = 1; i < n; i++)
            if (out[i] != out[m - 1]) out[m++] = out[i];
        n = m;
    }
    *n_out = n;
    return out;
}

static cs_policy_match match_of(const cs_policy_set *set, size_t i)
{
    const cs_policy_meta *m = &set->meta[i];
    return (cs_policy_match){cs_strdup(m->id), set->policies.items[i]->effect, m->groups != NULL,
                             m->reason ? cs_strdup(m->reason) : NULL};
}

static void add_match(cs_policy_match **arr, size_t *n, size_t *cap, cs_policy_match m)
{
    *arr = cs_grow(*arr, cap, *n + 1, sizeof **arr);
    (*arr)[(*n)++] = m;
}

/* Appends the pieces (NULL-terminated list); plain appends keep printf off the hot path. */
static void put(cs_buf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) cs_buf_puts(b, s);
    va_end(ap);
}

/* " (reason)" when there is one. */
static void put_reason(cs_buf *b, const char *reason)
{
    if (reason) put(b, " (", reason, ")", NULL);
}

static void explain(cs_decision *d, const cs_policy_request *req)
{
    cs_buf b;
    cs_buf_init(&b, 64 * 1024);
    b.data = cs_malloc(256); /* most explanations fit: no regrowth on the hot path */
    b.cap = 256;
    b.data[0] = '\0';
    switch (d->kind) {
    case CS_DECISION_DENY:
        if (d->n_determining == 0)
            put(&b, "Denied: no policy permits ", req->principal.type, "::\"", req->principal.id, "\" to perform ",
                req->action.id, " on ", req->resource.id, " (default deny).", NULL);
        for (size_t i = 0; i < d->n_determining; i++) {
            put(&b, i ? " " : "", "Denied by forbid policy '", d->determining[i].id, "'", NULL);
            put_reason(&b, d->determining[i].reason);
            cs_buf_putc(&b, '.');
        }
        break;
    case CS_DECISION_PENDING:
        for (size_t i = 0; i < d->n_approvals; i++) {
            const cs_approval_req *ap = &d->approvals[i];
            char q[16];
            snprintf(q, sizeof q, "%d", ap->quorum);
            put(&b, i ? " " : "", "Needs approval: policy '", ap->policy_id, "' requires ", q, " approval",
                ap->quorum == 1 ? "" : "s", " from ", NULL);
            for (size_t g = 0; g < ap->n_groups; g++)
                put(&b, g == 0 ? "" : g + 1 == ap->n_groups ? " or " : ", ", ap->groups[g], NULL);
            put_reason(&b, ap->reason);
            cs_buf_putc(&b, '.');
        }
        break;
    case CS_DECISION_ALLOW:
        cs_buf_puts(&b, "Allowed by ");
        for (size_t i = 0; i < d->n_determining; i++) {
            put(&b, i ? ", " : "", "policy '", d->determining[i].id, "'", NULL);
            put_reason(&b, d->determining[i].reason);
        }
        cs_buf_putc(&b, '.');
        break;
    }
    for (size_t i = 0; i < d->n_errors; i++)
        put(&b, " Policy '", d->errors[i].id, "' was ignored because it failed to evaluate: ", d->errors[i].msg, ".",
            NULL);
    d->explanation = cs_buf_steal(&b);
}

static void combine(const cs_policy_set *set, const uint32_t *sat, size_t n_sat, cs_decision *d)
{
    size_t cap_s = 0, cap_d = 0;
    bool forbid = false, approval = false;
    for (size_t i = 0; i < n_sat; i++) {
        const cs_policy *p = set->policies.items[sat[i]];
        add_match(&d->satisfied, &d->n_satisfied, &cap_s, match_of(set, sat[i]));
        forbid |= p->effect == CS_EFFECT_FORBID;
        approval |= p->effect == CS_EFFECT_PERMIT && set->meta[sat[i]].groups != NULL;
    }
    d->kind = forbid ? CS_DECISION_DENY : approval ? CS_DECISION_PENDING : n_sat ? CS_DECISION_ALLOW : CS_DECISION_DENY;
    for (size_t i = 0; i < n_sat; i++) {
        const cs_policy *p = set->policies.items[sat[i]];
        const cs_policy_meta *m = &set->meta[sat[i]];
        bool decides = forbid ? p->effect == CS_EFFECT_FORBID : approval ? m->groups != NULL : true;
        if (!decides) continue;
        add_match(&d->determining, &d->n_determining, &cap_d, match_of(set, sat[i]));
        if (d->kind != CS_DECISION_PENDING) continue;
        d->approvals = cs_realloc(d->approvals, (d->n_approvals + 1) * sizeof *d->approvals);
        cs_approval_req *ap = &d->approvals[d->n_approvals++];
        ap->policy_id = cs_strdup(m->id);
        ap->groups = cs_malloc(m->n_groups * sizeof *ap->groups);
        for (size_t g = 0; g < m->n_groups; g++) ap->groups[g] = cs_strdup(m->groups[g]);
        ap->n_groups = m->n_groups;
        ap->quorum = m->quorum;
        ap->timeout_s = m->timeout_s;
        ap->notify = m->notify ? cs_strdup(m->notify) : NULL;
        ap->reason = m->reason ? cs_strdup(m->reason) : NULL;
    }
}

int cs_policy_decide(const cs_policy_set *set, const cs_policy_request *req, cs_decision *out, cs_err *err)
{
    memset(out, 0, sizeof *out);
    request_ctx rc = {.arena = thread_arena()};
    int ret = prepare(set, req, &rc, err);
    if (ret < 0) {
        cs_arena_reset(rc.arena);
        return ret;
    }
    size_t n_cand;
    uint32_t *cand = candidates(set, &rc.env, &n_cand);
    uint32_t stack_sat[64];
    uint32_t *sat = n_cand <= 64 ? stack_sat : cs_malloc(n_cand * sizeof *sat);
    size_t n_sat = 0, cap_e = 0;
    for (size_t i = 0; i < n_cand; i++) {
        int v = cs_eval_policy(&rc.env, set->policies.items[cand[i]]);
        if (v == CS_VERDICT_TRUE) {
            sat[n_sat++] = cand[i];
        } else if (v == CS_VERDICT_ERROR) {
            out->errors = cs_grow(out->errors, &cap_e, out->n_errors + 1, sizeof *out->errors);
            out->errors[out->n_errors++] = (cs_policy_error){cs_strdup(set->meta[cand[i]].id), cs_strdup(rc.env.err)};
        }
    }
    combine(set, sat, n_sat, out);
    explain(out, req);
    if (sat != stack_sat) free(sat);
    free(cand);
    cs_arena_reset(rc.arena);
    return 0;
}

int cs_policy_eval_each(const cs_policy_set *set, const cs_policy_request *req, int *verdicts, cs_err *err)
{
    request_ctx rc = {.arena = thread_arena()};
    int ret = prepare(set, req, &rc, err);
    for (size_t i = 0; ret == 0 && i < set->policies.n; i++)
        verdicts[i] = cs_eval_policy(&rc.env, set->policies.items[i]);
    cs_arena_reset(rc.arena);
    return ret;
}

static void free_matches(cs_policy_match *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].id);
        free(m[i].reason);
    }
    free(m);
}

void cs_decision_free(cs_decision *d)
{
    if (d == NULL) return;
    free_matches(d->satisfied, d->n_satisfied);
    free_matches(d->determining, d->n_determining);
    for (size_t i = 0; i < d->n_errors; i++) {
        free(d->errors[i].id);
        free(d->errors[i].msg);
    }
    free(d->errors);
    for (size_t i = 0; i < d->n_approvals; i++) {
        cs_approval_req *ap = &d->approvals[i];
        free(ap->policy_id);
        for (size_t g = 0; g < ap->n_groups; g++) free(ap->groups[g]);
        free(ap->groups);
        free(ap->notify);
        free(ap->reason);
    }
    free(d->approvals);
    free(d->explanation);
    memset(d, 0, sizeof *d);
}

const char *cs_decision_kind_name(int kind)
{
    switch (kind) {
    case CS_DECISION_ALLOW: return "allowed";
    case CS_DECISION_PENDING: return "pending";
    default: return "denied";
    }
}

static json_t *matches_json(const cs_policy_match *m, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:s,s:b}", "id", m[i].id, "effect",
                              m[i].effect == CS_EFFECT_FORBID ? "forbid" : "permit", "approval", m[i].approval);
        if (m[i].reason) json_object_set_new(o, "reason", json_string(m[i].reason));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *cs_decision_to_json(const cs_decision *d, const cs_policy_set *set)
{
    json_t *o = json_object();
    json_object_set_new(o, "decision", json_string(cs_decision_kind_name(d->kind)));
    if (set) json_object_set_new(o, "policy_version", json_string(cs_policy_set_version(set)));
    json_object_set_new(o, "matched", matches_json(d->determining, d->n_determining));
    json_object_set_new(o, "satisfied", matches_json(d->satisfied, d->n_satisfied));
    json_t *errs = json_array();
    for (size_t i = 0; i < d->n_errors; i++)
        json_array_append_new(errs, json_pack("{s:s,s:s}", "id", d->errors[i].id, "message", d->errors[i].msg));
    json_object_set_new(o, "errors", errs);
    json_t *aps = json_array();
    for (size_t i = 0; i < d->n_approvals; i++) {
        const cs_approval_req *ap = &d->approvals[i];
        json_t *groups = json_array();
        for (size_t g = 0; g < ap->n_groups; g++) json_array_append_new(groups, json_string(ap->groups[g]));
        json_t *a = json_pack("{s:s,s:o,s:i}", "policy", ap->policy_id, "groups", groups, "quorum", ap->quorum);
        json_object_set_new(a, "timeout_s", ap->timeout_s >= 0 ? json_integer(ap->timeout_s) : json_null());
        if (ap->notify) json_object_set_new(a, "notify", json_string(ap->notify));
        if (ap->reason) json_object_set_new(a, "reason", json_string(ap->reason));
        json_array_append_new(aps, a);
    }
    json_object_set_new(o, "approvals", aps);
    json_object_set_new(o, "explanation", json_string(d->explanation ? d->explanation : ""));
    return o;
}
