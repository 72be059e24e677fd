/* cedar_eval.c - the Cedar expression evaluator (Cedar language reference: operators,
 * "Evaluation errors"). Recursion is bounded by the tree height limit the parser
 * enforces (CS_POLICY_MAX_HEIGHT) and by the depth limit on JSON values. */
#include "policy/cedar_eval.h"

#include "util/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef const cs_value *val;

static val fail(cs_eval_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static val fail(cs_eval_env *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(env->err, sizeof env->err, fmt, ap);
    va_end(ap);
    return NULL;
}

static val type_error(cs_eval_env *env, const char *op, const char *want, val got)
{
    return fail(env, "type error: %s expects %s, got %s", op, want, cs_vtype_name(got->type));
}

static const cs_entity *find_entity(cs_eval_env *env, const cs_uid *uid)
{
    for (int i = 0; i < 3; i++)
        if (env->req[i] && cs_uid_eq(env->req[i]->uid, uid)) return env->req[i];
    return cs_entities_find(env->store, uid);
}

static bool entity_in(cs_eval_env *env, const cs_uid *a, const cs_uid *b)
{
    if (cs_uid_eq(a, b)) return true;
    return cs_entities_descends(env->store, find_entity(env, a), a, b);
}

static val eval(cs_eval_env *env, const cs_expr *e);

/* Evaluates to a Bool or fails; *out receives it. */
static bool eval_bool(cs_eval_env *env, const cs_expr *e, const char *op, bool *out)
{
    val v = eval(env, e);
    if (v == NULL) return false;
    if (v->type != CS_V_BOOL) {
        type_error(env, op, "Bool", v);
        return false;
    }
    *out = v->u.b;
    return true;
}

static val eval_in(cs_eval_env *env, val lhs, val rhs, const char *op)
{
    if (lhs->type != CS_V_ENTITY) return type_error(env, op, "an entity on the left", lhs);
    if (rhs->type == CS_V_ENTITY) return cs_value_bool(entity_in(env, lhs->u.uid, rhs->u.uid));
    if (rhs->type != CS_V_SET) return type_error(env, op, "an entity or a set of entities on the right", rhs);
    for (size_t i = 0; i < rhs->u.set.n; i++)
        if (rhs->u.set.items[i]->type != CS_V_ENTITY)
            return type_error(env, op, "a set of entities", rhs->u.set.items[i]);
    for (size_t i = 0; i < rhs->u.set.n; i++)
        if (entity_in(env, lhs->u.uid, rhs->u.set.items[i]->u.uid)) return cs_value_bool(true);
    return cs_value_bool(false);
}

static val arith(cs_eval_env *env, const cs_expr *e)
{
    val a = eval(env, e->u.op.a);
    if (a == NULL) return NULL;
    val b = eval(env, e->u.op.b);
    if (b == NULL) return NULL;
    const char *op = e->kind == CS_X_ADD ? "+" : e->kind == CS_X_SUB ? "-" : "*";
    if (a->type != CS_V_LONG) return type_error(env, op, "Long", a);
    if (b->type != CS_V_LONG) return type_error(env, op, "Long", b);
    int64_t r;
    bool over = e->kind == CS_X_ADD   ? __builtin_add_overflow(a->u.l, b->u.l, &r)
                : e->kind == CS_X_SUB ? __builtin_sub_overflow(a->u.l, b->u.l, &r)
                                      : __builtin_mul_overflow(a->u.l, b->u.l, &r);
    if (over) return fail(env, "overflow: %lld %s %lld", (long long)a->u.l, op, (long long)b->u.l);
    return cs_value_long(env->arena, r);
}

static val compare(cs_eval_env *env, const cs_expr *e)
{
    val a = eval(env, e->u.op.a);
    if (a == NULL) return NULL;
    val b = eval(env, e->u.op.b);
    if (b == NULL) return NULL;
    switch (e->kind) {
    case CS_X_EQ: return cs_value_bool(cs_value_eq(a, b));
    case CS_X_NE: return cs_value_bool(!cs_value_eq(a, b));
    case CS_X_IN: return eval_in(env, a, b, "in");
    default: break;
    }
    if (a->type != CS_V_LONG) return type_error(env, "comparison", "Long", a);
    if (b->type != CS_V_LONG) return type_error(env, "comparison", "Long", b);
    int64_t x = a->u.l, y = b->u.l;
    switch (e->kind) {
    case CS_X_LT: return cs_value_bool(x < y);
    case CS_X_LE: return cs_value_bool(x <= y);
    case CS_X_GT: return cs_value_bool(x > y);
    default: return cs_value_bool(x >= y);
    }
}

static bool like_match(cs_str s, const cs_str *parts, size_t n)
{
    if (n == 1) return cs_str_eq(s, parts[0]);
    const cs_str first = parts[0], last = parts[n - 1];
    if (s.n < first.n || memcmp(s.p, first.p, first.n) != 0) return false;
    size_t pos = first.n;
    for (size_t i = 1; i + 1 < n; i++) {
        if (parts[i].n == 0) continue;
        const char *hit = s.n - pos >= parts[i].n ? memmem(s.p + pos, s.n - pos, parts[i].p, parts[i].n) : NULL;
        if (hit == NULL) return false;
        pos = (size_t)(hit - s.p) + parts[i].n;
    }
    if (s.n - pos < last.n) return false;
    return memcmp(s.p + s.n - last.n, last.p, last.n) == 0;
}

static val get_attr(cs_eval_env *env, val a, cs_str attr, bool has)
{
    const cs_record *rec = NULL;
    if (a->type == CS_V_ENTITY) {
        const cs_entity *ent = find_entity(env, a->u.uid);
        if (ent == NULL) {
            if (has) return cs_value_bool(false);
            return fail(env, "entity %.*s::\"%.*s\" does not exist", (int)a->u.uid->type.n,
                        a->u.uid->type.p, (int)a->u.uid->id.n, a->u.uid->id.p);
        }
        rec = &ent->attrs->u.rec;
    } else if (a->type == CS_V_RECORD) {
        rec = &a->u.rec;
    } else {
        return type_error(env, has ? "has" : "attribute access", "an entity or a record", a);
    }
    val v = cs_record_get(rec, attr);
    if (has) return cs_value_bool(v != NULL);
    if (v == NULL) return fail(env, "attribute \"%.*s\" does not exist", (int)attr.n, attr.p);
    return v;
}

/* Arguments each function takes besides its receiver. The parser has checked the
 * built-in methods; extension calls with another count are evaluation errors, as in
 * Cedar. */
static size_t arity(cs_fn fn)
{
    switch (fn) {
    case CS_FN_IS_EMPTY:
    case CS_FN_IS_IPV4:
    case CS_FN_IS_IPV6:
    case CS_FN_IS_LOOPBACK:
    case CS_FN_IS_MULTICAST: return 0;
    default: return 1;
    }
}

static val eval_method(cs_eval_env *env, const cs_expr *e)
{
    val self = NULL, arg = NULL;
    if (e->u.call.n != arity(e->u.call.fn))
        return fail(env, "wrong number of arguments to an extension function: expected %zu, got %zu",
                    arity(e->u.call.fn), e->u.call.n);
    if (e->u.call.self && (self = eval(env, e->u.call.self)) == NULL) return NULL;
    if (e->u.call.n == 1 && (arg = eval(env, e->u.call.args[0])) == NULL) return NULL;
    switch (e->u.call.fn) {
    case CS_FN_CONTAINS:
        if (self->type != CS_V_SET) return type_error(env, "contains", "a set", self);
        return cs_value_bool(cs_set_contains(&self->u.set, arg));
    case CS_FN_CONTAINS_ALL:
    case CS_FN_CONTAINS_ANY: {
        bool all = e->u.call.fn == CS_FN_CONTAINS_ALL;
        const char *op = all ? "containsAll" : "containsAny";
        if (self->type != CS_V_SET) return type_error(env, op, "a set", self);
        if (arg->type != CS_V_SET) return type_error(env, op, "a set argument", arg);
        for (size_t i = 0; i < arg->u.set.n; i++) {
            bool in = cs_set_contains(&self->u.set, arg->u.set.items[i]);
            if (all && !in) return cs_value_bool(false);
            if (!all && in) return cs_value_bool(true);
        }
        return cs_value_bool(all);
    }
    case CS_FN_IS_EMPTY:
        if (self->type != CS_V_SET) return type_error(env, "isEmpty", "a set", self);
        return cs_value_bool(self->u.set.n == 0);
    case CS_FN_HAS_TAG:
    case CS_FN_GET_TAG: {
        bool has = e->u.call.fn == CS_FN_HAS_TAG;
        const char *op = has ? "hasTag" : "getTag";
        if (self->type != CS_V_ENTITY) return type_error(env, op, "an entity", self);
        if (arg->type != CS_V_STRING) return type_error(env, op, "a string argument", arg);
        const cs_entity *ent = find_entity(env, self->u.uid);
        val v = ent ? cs_record_get(&ent->tags->u.rec, arg->u.s) : NULL;
        if (has) return cs_value_bool(v != NULL);
        if (v == NULL) return fail(env, "tag \"%.*s\" does not exist", (int)arg->u.s.n, arg->u.s.p);
        return v;
    }
    case CS_FN_IS_IPV4:
    case CS_FN_IS_IPV6:
    case CS_FN_IS_LOOPBACK:
    case CS_FN_IS_MULTICAST:
    case CS_FN_IS_IN_RANGE:
        if (self->type != CS_V_IP) return type_error(env, "ip method", "an ipaddr", self);
        switch (e->u.call.fn) {
        case CS_FN_IS_IPV4: return cs_value_bool(!self->u.ip.v6);
        case CS_FN_IS_IPV6: return cs_value_bool(self->u.ip.v6);
        case CS_FN_IS_LOOPBACK: return cs_value_bool(cs_ext_ip_is_loopback(&self->u.ip));
        case CS_FN_IS_MULTICAST: return cs_value_bool(cs_ext_ip_is_multicast(&self->u.ip));
        default:
            if (arg->type != CS_V_IP) return type_error(env, "isInRange", "an ipaddr argument", arg);
            return cs_value_bool(cs_ext_ip_in_range(&self->u.ip, &arg->u.ip));
        }
    case CS_FN_LESS_THAN:
    case CS_FN_LESS_THAN_OR_EQUAL:
    case CS_FN_GREATER_THAN:
    case CS_FN_GREATER_THAN_OR_EQUAL: {
        if (self->type != CS_V_DECIMAL) return type_error(env, "decimal comparison", "a decimal", self);
        if (arg->type != CS_V_DECIMAL) return type_error(env, "decimal comparison", "a decimal argument", arg);
        int64_t x = self->u.dec, y = arg->u.dec;
        switch (e->u.call.fn) {
        case CS_FN_LESS_THAN: return cs_value_bool(x < y);
        case CS_FN_LESS_THAN_OR_EQUAL: return cs_value_bool(x <= y);
        case CS_FN_GREATER_THAN: return cs_value_bool(x > y);
        default: return cs_value_bool(x >= y);
        }
    }
    case CS_FN_IP:
    case CS_FN_DECIMAL: {
        bool ip = e->u.call.fn == CS_FN_IP;
        if (arg->type != CS_V_STRING) return type_error(env, ip ? "ip" : "decimal", "a string", arg);
        const cs_value *v = cs_ext_value(env->arena, ip ? CS_V_IP : CS_V_DECIMAL, arg->u.s.p, arg->u.s.n);
        if (v == NULL)
            return fail(env, "invalid %s literal \"%.*s\"", ip ? "ip" : "decimal", (int)arg->u.s.n, arg->u.s.p);
        return v;
    }
    }
    return fail(env, "unknown function");
}

static val eval_set(cs_eval_env *env, const cs_expr *e)
{
    size_t n = e->u.list.n;
    const cs_value *stack[16];
    const cs_value **items = n <= 16 ? stack : cs_malloc(n * sizeof *items);
    val r = NULL;
    for (size_t i = 0; i < n; i++)
        if ((items[i] = eval(env, e->u.list.items[i])) == NULL) goto out;
    r = cs_value_set(env->arena, items, n);
out:
    if (items != stack) free(items);
    return r;
}

/* The record adopts arrays from the evaluation's arena (it sorts them in place); the
 * key strings are the policy's own, which live in the set's arena and so outlive
 * every value an evaluation of it makes. The parser refused repeated keys. */
static val eval_record(cs_eval_env *env, const cs_expr *e)
{
    size_t n = e->u.list.n;
    cs_str *keys = cs_arena_alloc(env->arena, (n ? n : 1) * sizeof *keys);
    const cs_value **vals = cs_arena_alloc(env->arena, (n ? n : 1) * sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        if ((vals[i] = eval(env, e->u.list.items[i])) == NULL) return NULL;
        keys[i] = e->u.list.keys[i];
    }
    return cs_value_record_adopt(env->arena, keys, vals, n);
}

static val eval(cs_eval_env *env, const cs_expr *e)
{
    switch (e->kind) {
    case CS_X_LIT: return e->u.lit;
    case CS_X_VAR: return env->vars[e->u.var];
    case CS_X_NOT: {
        bool b;
        if (!eval_bool(env, e->u.op.a, "!", &b)) return NULL;
        return cs_value_bool(!b);
    }
    case CS_X_NEG: {
        val a = eval(env, e->u.op.a);
        if (a == NULL) return NULL;
        if (a->type != CS_V_LONG) return type_error(env, "unary -", "Long", a);
        if (a->u.l == INT64_MIN) return fail(env, "overflow: negation of the Long minimum");
        return cs_value_long(env->arena, -a->u.l);
    }
    case CS_X_AND:
    case CS_X_OR: {
        bool and = e->kind == CS_X_AND, b;
        if (!eval_bool(env, e->u.op.a, and ? "&&" : "||", &b)) return NULL;
        if (b != and) return cs_value_bool(b); /* short circuit */
        if (!eval_bool(env, e->u.op.b, and ? "&&" : "||", &b)) return NULL;
        return cs_value_bool(b);
    }
    case CS_X_IF: {
        bool c;
        if (!eval_bool(env, e->u.op.a, "if", &c)) return NULL;
        return eval(env, c ? e->u.op.b : e->u.op.c);
    }
    case CS_X_EQ:
    case CS_X_NE:
    case CS_X_LT:
    case CS_X_LE:
    case CS_X_GT:
    case CS_X_GE:
    case CS_X_IN: return compare(env, e);
    case CS_X_ADD:
    case CS_X_SUB:
    case CS_X_MUL: return arith(env, e);
    case CS_X_HAS:
    case CS_X_ATTR: {
        val a = eval(env, e->u.attr.a);
        if (a == NULL) return NULL;
        return get_attr(env, a, e->u.attr.attr, e->kind == CS_X_HAS);
    }
    case CS_X_LIKE: {
        val a = eval(env, e->u.like.a);
        if (a == NULL) return NULL;
        if (a->type != CS_V_STRING) return type_error(env, "like", "a string", a);
        return cs_value_bool(like_match(a->u.s, e->u.like.parts, e->u.like.n_parts));
    }
    case CS_X_IS: {
        val a = eval(env, e->u.is.a);
        if (a == NULL) return NULL;
        if (a->type != CS_V_ENTITY) return type_error(env, "is", "an entity", a);
        bool same = cs_str_eq(a->u.uid->type, e->u.is.type);
        /* `x is T in y` is `x is T && x in y`: y is not evaluated when the type differs. */
        if (e->u.is.in == NULL || !same) return cs_value_bool(same);
        val b = eval(env, e->u.is.in);
        if (b == NULL) return NULL;
        return eval_in(env, a, b, "is ... in");
    }
    case CS_X_SET: return eval_set(env, e);
    case CS_X_RECORD: return eval_record(env, e);
    case CS_X_METHOD:
    case CS_X_CALL: return eval_method(env, e);
    }
    return fail(env, "unknown expression");
}

static bool scope_match(cs_eval_env *env, const cs_scope *s, val v)
{
    const cs_uid *u = v->u.uid;
    switch (s->op) {
    case CS_SCOPE_ANY: return true;
    case CS_SCOPE_EQ: return cs_uid_eq(u, s->uid);
    case CS_SCOPE_IN: return entity_in(env, u, s->uid);
    case CS_SCOPE_IS: return cs_str_eq(u->type, s->type);
    case CS_SCOPE_IS_IN: return cs_str_eq(u->type, s->type) && entity_in(env, u, s->uid);
    case CS_SCOPE_IN_LIST:
        for (size_t i = 0; i < s->n_list; i++)
            if (entity_in(env, u, s->list[i])) return true;
        return false;
    }
    return false;
}

bool cs_eval_scope(cs_eval_env *env, const cs_policy *p)
{
    return scope_match(env, &p->principal, env->vars[CS_VAR_PRINCIPAL]) &&
           scope_match(env, &p->action, env->vars[CS_VAR_ACTION]) &&
           scope_match(env, &p->resource, env->vars[CS_VAR_RESOURCE]);
}

int cs_eval_policy(cs_eval_env *env, const cs_policy *p)
{
    if (!cs_eval_scope(env, p)) return CS_VERDICT_FALSE;
    for (size_t i = 0; i < p->n_conds; i++) {
        bool b;
        if (!eval_bool(env, p->conds[i], "a condition", &b)) return CS_VERDICT_ERROR;
        if (!b) return CS_VERDICT_FALSE;
    }
    return CS_VERDICT_TRUE;
}
