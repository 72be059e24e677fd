/* policy_decide.c - turns a request into a decision: builds the request entities,
 * finds candidate policies through the scope index, evaluates them, and combines the
 * satisfied ones into SPEC §2's three outcomes (forbid > approval > permit > deny). */
#include "policy/cedar_eval.h"
#include "policy/policy_set.h"

#include "util/alloc.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct request_ctx {
    cs_arena *arena;
    cs_eval_env env;
} request_ctx;

/* What each thread keeps between decisions, so that the hot path does not go through
 * malloc once it has warmed up: an arena for the evaluation's temporary values (reset
 * after every decision), the candidate list and the explanation being written. */
typedef struct scratch {
    cs_arena arena;
    uint32_t *cand;
    size_t cand_cap;
    cs_buf text;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p)
{
    scratch *s = p;
    cs_arena_free(&s->arena);
    free(s->cand);
    cs_buf_free(&s->text);
    free(s);
}

static void scratch_key_make(void)
{
    pthread_key_create(&scratch_key, scratch_destroy);
}

static scratch *thread_scratch(void)
{
    pthread_once(&scratch_once, scratch_key_make);
    scratch *s = pthread_getspecific(scratch_key);
    if (s == NULL) {
        s = cs_calloc(1, sizeof *s);
        cs_arena_init(&s->arena, 32 * 1024);
        cs_buf_init(&s->text, 64 * 1024);
        pthread_setspecific(scratch_key, s);
    }
    return s;
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
    /* The built entities carry the store's uid when it has the entity: pointer-equal to
     * the ancestors and scopes that name it. */
    env->vars[CS_VAR_PRINCIPAL] = cs_value_entity(a, env->req[0]->uid);
    env->vars[CS_VAR_ACTION] = cs_value_entity(a, env->req[1]->uid);
    env->vars[CS_VAR_RESOURCE] = cs_value_entity(a, env->req[2]->uid);
    env->vars[CS_VAR_CONTEXT] = ctx;
    return 0;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* The index keys of e in role (see cs_policy_entity_keys): the store's entities have
 * them already; an entity built for this request gets them now, in the arena. */
static const uint32_t *entity_keys(const cs_policy_set *set, const cs_eval_env *env, const cs_entity *e,
                                   enum cs_key_role role, size_t *n)
{
    if (e->index_keys[role]) {
        *n = e->n_index_keys[role];
        return e->index_keys[role];
    }
    uint32_t *keys = cs_arena_alloc(env->arena, (e->n_ancestors + 2) * sizeof *keys);
    *n = cs_policy_entity_keys(&set->index, e, role, keys);
    return keys;
}

static bool has_key(const uint32_t *keys, size_t n, uint32_t k)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i] == k) return true;
    return false;
}

/* Collects into s->cand the indices of policies whose scope keys can match, sorted and
 * distinct; returns how many. */
static size_t candidates(const cs_policy_set *set, const cs_eval_env *env, scratch *s)
{
    const cs_index *ix = &set->index;
    const cs_entity *prin = env->req[0], *act = env->req[1], *res = env->req[2];
    size_t na, nr, np;
    const uint32_t *ak = entity_keys(set, env, act, CS_ROLE_ACTION, &na);
    const uint32_t *rk = entity_keys(set, env, res, CS_ROLE_RESOURCE, &nr);
    const uint32_t *pk = entity_keys(set, env, prin, CS_ROLE_PRINCIPAL, &np);
    size_t n = 0;
    for (size_t i = 0; i < na; i++) {
        for (size_t j = 0; j < nr; j++) {
            const cs_index_pair *pair = cs_policy_index_find(ix, ak[i], rk[j]);
            for (uint32_t e = 0; pair && e < pair->n; e++) {
                const cs_index_entry *en = &ix->entries[pair->first + e];
                if (!has_key(pk, np, en->principal)) continue;
                s->cand = cs_grow(s->cand, &s->cand_cap, n + en->n, sizeof *s->cand);
                memcpy(s->cand + n, ix->idx + en->first, en->n * sizeof *s->cand);
                n += en->n;
            }
        }
    }
    uint32_t *out = s->cand;
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
    return n;
}

/* A policy that failed to evaluate, with the evaluator's message (in the scratch arena). */
typedef struct failure {
    uint32_t idx;
    const char *msg;
} failure;

/* What the evaluation found, before it becomes a cs_decision. */
typedef struct outcome {
    int kind;
    bool forbid, approval; /* some satisfied forbid / @approval permit */
    const uint32_t *sat;   /* satisfied policies, in set order */
    size_t n_sat, n_det;   /* n_det: how many of them decide */
    const failure *fails;
    size_t n_fails;
} outcome;

/* Does satisfied policy i decide the outcome? */
static bool decides(const cs_policy_set *set, const outcome *o, uint32_t i)
{
    if (o->forbid) return set->policies.items[i]->effect == CS_EFFECT_FORBID;
    return o->approval ? set->meta[i].groups != NULL : true;
}

/* forbid > approval > permit > default deny. */
static void combine(const cs_policy_set *set, outcome *o)
{
    for (size_t i = 0; i < o->n_sat; i++) {
        const cs_policy *p = set->policies.items[o->sat[i]];
        o->forbid |= p->effect == CS_EFFECT_FORBID;
        o->approval |= p->effect == CS_EFFECT_PERMIT && set->meta[o->sat[i]].groups != NULL;
    }
    o->kind = o->forbid     ? CS_DECISION_DENY
              : o->approval ? CS_DECISION_PENDING
              : o->n_sat    ? CS_DECISION_ALLOW
                            : CS_DECISION_DENY;
    for (size_t i = 0; i < o->n_sat; i++) o->n_det += decides(set, o, o->sat[i]);
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

/* v in decimal, written backwards from the end of buf[16]; returns where it starts.
 * Cheaper than snprintf on the hot path. */
static const char *decimal(unsigned v, char buf[static 16])
{
    char *p = buf + 15;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static void put_approval(cs_buf *b, const cs_policy_meta *m, bool first)
{
    char buf[16];
    const char *q = decimal((unsigned)m->quorum, buf); /* 1 to 100, checked at load */
    put(b, first ? "" : " ", "Needs approval: policy '", m->id, "' requires ", q, " approval",
        m->quorum == 1 ? "" : "s", " from ", NULL);
    for (size_t g = 0; g < m->n_groups; g++)
        put(b, g == 0 ? "" : g + 1 == m->n_groups ? " or " : ", ", m->groups[g], NULL);
    put_reason(b, m->reason);
    cs_buf_puts(b, ".");
}

/* The decision's explanation, from the policies that decided and those that failed. */
static void explain(const cs_policy_set *set, const outcome *o, const cs_policy_request *req, cs_buf *b)
{
    cs_buf_reset(b);
    if (o->kind == CS_DECISION_ALLOW) cs_buf_puts(b, "Allowed by ");
    if (o->kind == CS_DECISION_DENY && o->n_det == 0)
        put(b, "Denied: no policy permits ", req->principal.type, "::\"", req->principal.id, "\" to perform ",
            req->action.id, " on ", req->resource.id, " (default deny).", NULL);
    size_t k = 0;
    for (size_t i = 0; i < o->n_sat; i++) {
        if (!decides(set, o, o->sat[i])) continue;
        const cs_policy_meta *m = &set->meta[o->sat[i]];
        switch (o->kind) {
        case CS_DECISION_DENY:
            put(b, k ? " " : "", "Denied by forbid policy '", m->id, "'", NULL);
            put_reason(b, m->reason);
            cs_buf_puts(b, ".");
            break;
        case CS_DECISION_PENDING: put_approval(b, m, k == 0); break;
        default:
            put(b, k ? ", " : "", "policy '", m->id, "'", NULL);
            put_reason(b, m->reason);
            break;
        }
        k++;
    }
    if (o->kind == CS_DECISION_ALLOW) cs_buf_puts(b, ".");
    for (size_t i = 0; i < o->n_fails; i++)
        put(b, " Policy '", set->meta[o->fails[i].idx].id, "' was ignored because it failed to evaluate: ",
            o->fails[i].msg, ".", NULL);
}

/* A decision's arena starts with room for a typical decision (arrays, the copied ids
 * and reasons, the explanation), so that building one is usually a single malloc. */
#define DECISION_ARENA 2016

/* An array of n elements in a, or NULL when there are none. */
static void *alloc_array(cs_arena *a, size_t n, size_t size)
{
    return n ? cs_arena_alloc(a, n * size) : NULL;
}

static char *dup_str(cs_arena *a, const char *s)
{
    return s ? cs_arena_strndup(a, s, strlen(s)) : NULL;
}

static void add_approval(cs_arena *a, const cs_policy_meta *m, char *id, char *reason, cs_approval_req *ap)
{
    ap->policy_id = id;
    ap->groups = alloc_array(a, m->n_groups, sizeof *ap->groups);
    for (size_t g = 0; g < m->n_groups; g++) ap->groups[g] = dup_str(a, m->groups[g]);
    ap->n_groups = m->n_groups;
    ap->quorum = m->quorum;
    ap->timeout_s = m->timeout_s;
    ap->notify = dup_str(a, m->notify);
    ap->reason = reason;
}

/* Fills the decision from the outcome and its explanation; everything it points to is
 * allocated in the decision's own arena (d->mem), which cs_decision_free() releases. */
static void build(const cs_policy_set *set, const outcome *o, const cs_buf *text, cs_decision *d)
{
    cs_arena *a = &d->mem;
    cs_arena_init(a, DECISION_ARENA);
    d->kind = o->kind;
    bool pending = o->kind == CS_DECISION_PENDING;
    d->satisfied = alloc_array(a, o->n_sat, sizeof *d->satisfied);
    d->determining = alloc_array(a, o->n_det, sizeof *d->determining);
    d->approvals = pending ? alloc_array(a, o->n_det, sizeof *d->approvals) : NULL;
    d->errors = alloc_array(a, o->n_fails, sizeof *d->errors);
    for (size_t i = 0; i < o->n_sat; i++) {
        uint32_t idx = o->sat[i];
        const cs_policy_meta *m = &set->meta[idx];
        /* Each policy's strings are copied once and shared by the lists it is in. */
        char *id = dup_str(a, m->id), *reason = dup_str(a, m->reason);
        cs_policy_match match = {id, set->policies.items[idx]->effect, m->groups != NULL, reason};
        d->satisfied[d->n_satisfied++] = match;
        if (!decides(set, o, idx)) continue;
        d->determining[d->n_determining++] = match;
        if (pending) add_approval(a, m, id, reason, &d->approvals[d->n_approvals++]);
    }
    for (size_t i = 0; i < o->n_fails; i++)
        d->errors[d->n_errors++] =
            (cs_policy_error){dup_str(a, set->meta[o->fails[i].idx].id), dup_str(a, o->fails[i].msg)};
    d->explanation = cs_arena_strndup(a, text->data ? text->data : "", text->len);
}

int cs_policy_decide(const cs_policy_set *set, const cs_policy_request *req, cs_decision *out, cs_err *err)
{
    memset(out, 0, sizeof *out);
    scratch *s = thread_scratch();
    request_ctx rc = {.arena = &s->arena};
    int ret = prepare(set, req, &rc, err);
    if (ret < 0) {
        cs_arena_reset(rc.arena);
        return ret;
    }
    size_t n_cand = candidates(set, &rc.env, s);
    /* The satisfied ones are written over the candidates already evaluated. */
    uint32_t *sat = s->cand;
    failure *fails = NULL;
    outcome o = {.sat = sat};
    for (size_t i = 0; i < n_cand; i++) {
        uint32_t c = s->cand[i];
        int v = cs_eval_policy(&rc.env, set->policies.items[c]);
        if (v == CS_VERDICT_TRUE) {
            sat[o.n_sat++] = c;
        } else if (v == CS_VERDICT_ERROR) {
            if (fails == NULL) fails = cs_arena_alloc(rc.arena, (n_cand - i) * sizeof *fails);
            fails[o.n_fails++] = (failure){c, cs_arena_strndup(rc.arena, rc.env.err, strlen(rc.env.err))};
        }
    }
    o.fails = fails;
    combine(set, &o);
    explain(set, &o, req, &s->text);
    build(set, &o, &s->text, out);
    cs_arena_reset(rc.arena);
    return 0;
}

int cs_policy_eval_each(const cs_policy_set *set, const cs_policy_request *req, int *verdicts, cs_err *err)
{
    request_ctx rc = {.arena = &thread_scratch()->arena};
    int ret = prepare(set, req, &rc, err);
    for (size_t i = 0; ret == 0 && i < set->policies.n; i++)
        verdicts[i] = cs_eval_policy(&rc.env, set->policies.items[i]);
    cs_arena_reset(rc.arena);
    return ret;
}

void cs_decision_free(cs_decision *d)
{
    if (d == NULL) return;
    cs_arena_free(&d->mem);
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

json_t *cs_policy_matches_json(const cs_policy_match *m, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object(); /* member by member: json_pack parses its format per call */
        json_object_set_new_nocheck(o, "id", json_string(m[i].id));
        json_object_set_new_nocheck(
            o, "effect", json_string_nocheck(m[i].effect == CS_EFFECT_FORBID ? "forbid" : "permit"));
        json_object_set_new_nocheck(o, "approval", json_boolean(m[i].approval));
        if (m[i].reason) json_object_set_new(o, "reason", json_string(m[i].reason));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *cs_decision_errors_json(const cs_decision *d)
{
    json_t *errs = json_array();
    for (size_t i = 0; i < d->n_errors; i++)
        json_array_append_new(errs, json_pack("{s:s,s:s}", "id", d->errors[i].id, "message", d->errors[i].msg));
    return errs;
}

json_t *cs_decision_to_json(const cs_decision *d, const cs_policy_set *set)
{
    json_t *o = json_object();
    json_object_set_new(o, "decision", json_string(cs_decision_kind_name(d->kind)));
    if (set) json_object_set_new(o, "policy_version", json_string(cs_policy_set_version(set)));
    json_object_set_new(o, "matched", cs_policy_matches_json(d->determining, d->n_determining));
    json_object_set_new(o, "satisfied", cs_policy_matches_json(d->satisfied, d->n_satisfied));
    json_object_set_new(o, "errors", cs_decision_errors_json(d));
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
