/* cedar_value.c - Cedar values: construction, hashing, equality, JSON conversion
 * (Cedar's JSON value format with the __entity and __extn escapes). */
#include "policy/cedar_value.h"

#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#define MAX_JSON_DEPTH 128

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t cs_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(h ^ w ^ ((uint64_t)n << 56));
}

uint64_t cs_uid_hash(cs_str type, cs_str id)
{
    return cs_hash_bytes(id.p, id.n, cs_hash_bytes(type.p, type.n, 0x5eed));
}

int cs_str_cmp(cs_str a, cs_str b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    /* Record keys mostly differ in their first byte: look there before calling memcmp. */
    if (n && a.p[0] != b.p[0]) return (unsigned char)a.p[0] < (unsigned char)b.p[0] ? -1 : 1;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

cs_str cs_str_c(const char *s)
{
    return (cs_str){s, strlen(s)};
}

static const cs_value v_true = {.type = CS_V_BOOL, .u.b = true};
static const cs_value v_false = {.type = CS_V_BOOL, .u.b = false};

const cs_value *cs_value_bool(bool b)
{
    return b ? &v_true : &v_false;
}

const cs_value *cs_value_long(cs_arena *a, int64_t l)
{
    cs_value *v = cs_arena_alloc(a, sizeof *v);
    v->type = CS_V_LONG;
    v->u.l = l;
    return v;
}

const cs_value *cs_value_string(cs_arena *a, const char *p, size_t n)
{
    cs_value *v = cs_arena_alloc(a, sizeof *v);
    v->type = CS_V_STRING;
    v->u.s.p = cs_arena_strndup(a, p, n);
    v->u.s.n = n;
    return v;
}

cs_uid *cs_uid_new(cs_arena *a, const char *type, size_t tn, const char *id, size_t in)
{
    cs_uid *u = cs_arena_alloc(a, sizeof *u);
    u->type = (cs_str){cs_arena_strndup(a, type, tn), tn};
    u->id = (cs_str){cs_arena_strndup(a, id, in), in};
    u->hash = cs_uid_hash(u->type, u->id);
    return u;
}

cs_uid *cs_uid_borrow(cs_arena *a, const char *type, size_t tn, const char *id, size_t in)
{
    cs_uid *u = cs_arena_alloc(a, sizeof *u);
    u->type = (cs_str){type, tn};
    u->id = (cs_str){id, in};
    u->hash = cs_uid_hash(u->type, u->id);
    return u;
}

const cs_value *cs_value_entity(cs_arena *a, const cs_uid *uid)
{
    cs_value *v = cs_arena_alloc(a, sizeof *v);
    v->type = CS_V_ENTITY;
    v->u.uid = uid;
    return v;
}

static uint64_t value_hash(const cs_value *v)
{
    switch (v->type) {
    case CS_V_BOOL: return v->u.b ? 0x1111 : 0x2222;
    case CS_V_LONG: return mix64((uint64_t)v->u.l ^ 0x3333);
    case CS_V_STRING: return cs_hash_bytes(v->u.s.p, v->u.s.n, 0x4444);
    case CS_V_ENTITY: return v->u.uid->hash;
    case CS_V_DECIMAL: return mix64((uint64_t)v->u.dec ^ 0x5555);
    case CS_V_IP: {
        size_t n = v->u.ip.v6 ? 16 : 4;
        return cs_hash_bytes(v->u.ip.addr, n, 0x6666 + v->u.ip.prefix * 2 + v->u.ip.v6);
    }
    case CS_V_SET: {
        /* Items are kept in hash order, so equal sets hash alike. */
        uint64_t h = 0x7777;
        for (size_t i = 0; i < v->u.set.n; i++) h = mix64(h ^ value_hash(v->u.set.items[i]));
        return h;
    }
    case CS_V_RECORD: {
        uint64_t h = 0x8888;
        for (size_t i = 0; i < v->u.rec.n; i++) {
            h = mix64(h ^ cs_hash_bytes(v->u.rec.keys[i].p, v->u.rec.keys[i].n, 1));
            h = mix64(h ^ value_hash(v->u.rec.vals[i]));
        }
        return h;
    }
    }
    return 0;
}

bool cs_value_eq(const cs_value *a, const cs_value *b)
{
    if (a == b) return true;
    if (a->type != b->type) return false;
    switch (a->type) {
    case CS_V_BOOL: return a->u.b == b->u.b;
    case CS_V_LONG: return a->u.l == b->u.l;
    case CS_V_DECIMAL: return a->u.dec == b->u.dec;
    case CS_V_STRING: return cs_str_eq(a->u.s, b->u.s);
    case CS_V_ENTITY: return cs_uid_eq(a->u.uid, b->u.uid);
    case CS_V_IP:
        return a->u.ip.v6 == b->u.ip.v6 && a->u.ip.prefix == b->u.ip.prefix &&
               memcmp(a->u.ip.addr, b->u.ip.addr, a->u.ip.v6 ? 16 : 4) == 0;
    case CS_V_SET:
        if (a->u.set.n != b->u.set.n) return false;
        for (size_t i = 0; i < a->u.set.n; i++)
            if (!cs_set_contains(&b->u.set, a->u.set.items[i])) return false;
        return true;
    case CS_V_RECORD:
        if (a->u.rec.n != b->u.rec.n) return false;
        for (size_t i = 0; i < a->u.rec.n; i++) {
            if (!cs_str_eq(a->u.rec.keys[i], b->u.rec.keys[i])) return false;
            if (!cs_value_eq(a->u.rec.vals[i], b->u.rec.vals[i])) return false;
        }
        return true;
    }
    return false;
}

/* Set items are sorted by hash; a parallel array is not kept, so hashes are recomputed
 * on lookup. Sets in policies are small; large sets come from entity data and are
 * searched by binary search over the hash order. */
typedef struct hashed {
    uint64_t h;
    const cs_value *v;
} hashed;

static int cmp_hashed(const void *x, const void *y)
{
    const hashed *a = x, *b = y;
    return a->h < b->h ? -1 : a->h > b->h ? 1 : 0;
}

bool cs_set_contains(const cs_set *s, const cs_value *v)
{
    if (s->n <= 8) {
        for (size_t i = 0; i < s->n; i++)
            if (cs_value_eq(s->items[i], v)) return true;
        return false;
    }
    uint64_t h = value_hash(v);
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (value_hash(s->items[mid]) < h) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < s->n && value_hash(s->items[i]) == h; i++)
        if (cs_value_eq(s->items[i], v)) return true;
    return false;
}

/* Insertion sort for the small arrays policies and contexts are made of; qsort's
 * call overhead dominates below a few dozen items. */
#define SMALL_SORT 24

const cs_value *cs_value_set(cs_arena *a, const cs_value **items, size_t n)
{
    hashed stack[SMALL_SORT];
    hashed *hs = n <= SMALL_SORT ? stack : cs_malloc(n * sizeof *hs);
    for (size_t i = 0; i < n; i++) hs[i] = (hashed){value_hash(items[i]), items[i]};
    if (n > SMALL_SORT) qsort(hs, n, sizeof *hs, cmp_hashed);
    for (size_t i = 1; n <= SMALL_SORT && i < n; i++)
        for (size_t j = i; j > 0 && hs[j - 1].h > hs[j].h; j--) {
            hashed t = hs[j];
            hs[j] = hs[j - 1];
            hs[j - 1] = t;
        }
    cs_value *v = cs_arena_alloc(a, sizeof *v);
    v->type = CS_V_SET;
    v->u.set.items = cs_arena_alloc(a, (n ? n : 1) * sizeof *v->u.set.items);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = m; j-- > 0 && value_hash(v->u.set.items[j]) == hs[i].h;)
            if (cs_value_eq(v->u.set.items[j], hs[i].v)) {
                dup = true;
                break;
            }
        if (!dup) v->u.set.items[m++] = hs[i].v;
    }
    v->u.set.n = m;
    if (hs != stack) free(hs);
    return v;
}

typedef struct kv {
    cs_str k;
    const cs_value *v;
} kv;

static int cmp_kv(const void *x, const void *y)
{
    return cs_str_cmp(((const kv *)x)->k, ((const kv *)y)->k);
}

const cs_value *cs_value_record_adopt(cs_arena *a, cs_str *keys, const cs_value **vals, size_t n)
{
    if (n > SMALL_SORT) {
        kv *t = cs_malloc(n * sizeof *t);
        for (size_t i = 0; i < n; i++) t[i] = (kv){keys[i], vals[i]};
        qsort(t, n, sizeof *t, cmp_kv);
        for (size_t i = 0; i < n; i++) {
            keys[i] = t[i].k;
            vals[i] = t[i].v;
        }
        free(t);
    }
    for (size_t i = 1; n <= SMALL_SORT && i < n; i++)
        for (size_t j = i; j > 0 && cs_str_cmp(keys[j - 1], keys[j]) > 0; j--) {
            cs_str k = keys[j];
            const cs_value *v = vals[j];
            keys[j] = keys[j - 1];
            vals[j] = vals[j - 1];
            keys[j - 1] = k;
            vals[j - 1] = v;
        }
    for (size_t i = 1; i < n; i++)
        if (cs_str_eq(keys[i - 1], keys[i])) return NULL;
    cs_value *v = cs_arena_alloc(a, sizeof *v);
    v->type = CS_V_RECORD;
    v->u.rec = (cs_record){keys, vals, n};
    return v;
}

const cs_value *cs_value_record(cs_arena *a, const cs_str *keys, const cs_value **vals, size_t n)
{
    cs_str *k = cs_arena_alloc(a, (n ? n : 1) * sizeof *k);
    const cs_value **v = cs_arena_alloc(a, (n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        k[i] = (cs_str){cs_arena_strndup(a, keys[i].p, keys[i].n), keys[i].n};
        v[i] = vals[i];
    }
    return cs_value_record_adopt(a, k, v, n);
}

const cs_value *cs_record_get(const cs_record *r, cs_str key)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cs_str_cmp(r->keys[mid], key);
        if (c == 0) return r->vals[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *cs_vtype_name(cs_vtype t)
{
    switch (t) {
    case CS_V_BOOL: return "Bool";
    case CS_V_LONG: return "Long";
    case CS_V_STRING: return "String";
    case CS_V_ENTITY: return "Entity";
    case CS_V_SET: return "Set";
    case CS_V_RECORD: return "Record";
    case CS_V_IP: return "ipaddr";
    case CS_V_DECIMAL: return "decimal";
    }
    return "?";
}

/* ---- JSON ---- */

/* Cedar names: IDENT(::IDENT)*, no whitespace, no reserved word, no __cedar. */
static bool valid_type_name(const char *s, size_t n)
{
    static const char *reserved[] = {"true", "false", "if", "then", "else", "in", "is", "like", "has", "__cedar", NULL};
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) return false;
        while (i < n && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                         (s[i] >= '0' && s[i] <= '9')))
            i++;
        for (int r = 0; reserved[r]; r++)
            if (i - start == strlen(reserved[r]) && !memcmp(s + start, reserved[r], i - start)) return false;
        if (i == n) return true;
        if (n - i < 3 || s[i] != ':' || s[i + 1] != ':') return false;
        i += 2;
    }
    return false;
}

/* {"type": T, "id": I}; other keys are ignored, as the Cedar reference does. */
static int uid_fields(cs_arena *a, json_t *o, cs_uid **out, cs_err *err)
{
    json_t *t = json_object_get(o, "type"), *i = json_object_get(o, "id");
    if (!json_is_string(t) || !json_is_string(i))
        return cs_err_set(err, CS_EINVAL, "an entity reference needs string fields \"type\" and \"id\"");
    if (!valid_type_name(json_string_value(t), json_string_length(t)))
        return cs_err_set(err, CS_EINVAL, "\"%s\" is not a valid entity type name", json_string_value(t));
    *out = cs_uid_new(a, json_string_value(t), json_string_length(t), json_string_value(i),
                      json_string_length(i));
    return 0;
}

int cs_uid_from_json(cs_arena *a, json_t *j, cs_uid **out, cs_err *err)
{
    if (!json_is_object(j)) return cs_err_set(err, CS_EINVAL, "an entity reference must be an object");
    json_t *e = json_object_get(j, "__entity");
    if (e != NULL) {
        if (json_object_size(j) != 1 || !json_is_object(e))
            return cs_err_set(err, CS_EINVAL, "bad __entity escape");
        return uid_fields(a, e, out, err);
    }
    return uid_fields(a, j, out, err);
}

static int from_json(cs_arena *a, json_t *j, const cs_value **out, cs_err *err, int depth, bool borrow);

static bool key_is(const char *k, size_t n, const char *lit, size_t lit_n)
{
    return n == lit_n && memcmp(k, lit, n) == 0;
}

/* {"fn": F, "arg": A} or {"fn": F, "args": [A]}: the ip and decimal constructors. */
static int extn_from_json(cs_arena *a, json_t *x, const cs_value **out, cs_err *err)
{
    /* One walk over the (small) object instead of a hash lookup per field. */
    json_t *fn = NULL, *arg = NULL, *args = NULL;
    for (void *it = json_object_iter(x); it; it = json_object_iter_next(x, it)) {
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (key_is(k, kn, "fn", 2)) fn = v;
        else if (key_is(k, kn, "arg", 3)) arg = v;
        else if (key_is(k, kn, "args", 4)) args = v;
    }
    if (arg == NULL && json_is_array(args) && json_array_size(args) == 1) arg = json_array_get(args, 0);
    if (!json_is_object(x) || !json_is_string(fn) || !json_is_string(arg))
        return cs_err_set(err, CS_EINVAL, "__extn needs a string \"fn\" and one string argument (\"arg\" or \"args\")");
    const char *f = json_string_value(fn), *s = json_string_value(arg);
    size_t n = json_string_length(arg);
    bool ip = !strcmp(f, "ip");
    if (!ip && strcmp(f, "decimal") != 0)
        return cs_err_set(err, CS_EINVAL, "unknown extension function \"%s\" (known: ip, decimal)", f);
    const cs_value *v = cs_ext_value(a, ip ? CS_V_IP : CS_V_DECIMAL, s, n);
    if (v == NULL) return cs_err_set(err, CS_EINVAL, "invalid %s \"%s\"", ip ? "ip address" : "decimal", s);
    *out = v;
    return 0;
}

/* A record, or an __entity / __extn escape (a one-key object). Keys are taken with
 * their stored length and values by walking the object, not by hash lookups. */
static int object_from_json(cs_arena *a, json_t *j, const cs_value **out, cs_err *err, int depth, bool borrow)
{
    size_t n = json_object_size(j);
    void *it = json_object_iter(j);
    if (n == 1) {
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        if (key_is(k, kn, "__entity", 8)) {
            cs_uid *u;
            int rc = cs_uid_from_json(a, j, &u, err);
            if (rc < 0) return rc;
            *out = cs_value_entity(a, u);
            return 0;
        }
        if (key_is(k, kn, "__extn", 6)) return extn_from_json(a, v, out, err);
    }
    cs_str *keys = cs_arena_alloc(a, (n ? n : 1) * sizeof *keys);
    const cs_value **vals = cs_arena_alloc(a, (n ? n : 1) * sizeof *vals);
    for (size_t i = 0; it && i < n; it = json_object_iter_next(j, it), i++) {
        size_t kn = json_object_iter_key_len(it);
        const char *k = json_object_iter_key(it);
        keys[i] = (cs_str){borrow ? k : cs_arena_strndup(a, k, kn), kn};
        int rc = from_json(a, json_object_iter_value(it), &vals[i], err, depth + 1, borrow);
        if (rc < 0) return rc;
    }
    *out = cs_value_record_adopt(a, keys, vals, n);
    return 0;
}

static int from_json(cs_arena *a, json_t *j, const cs_value **out, cs_err *err, int depth, bool borrow)
{
    if (depth > MAX_JSON_DEPTH) return cs_err_set(err, CS_ETOOBIG, "value nested too deeply");
    switch (json_typeof(j)) {
    case JSON_TRUE: *out = cs_value_bool(true); return 0;
    case JSON_FALSE: *out = cs_value_bool(false); return 0;
    case JSON_INTEGER: *out = cs_value_long(a, (int64_t)json_integer_value(j)); return 0;
    case JSON_STRING:
        if (borrow) {
            cs_value *v = cs_arena_alloc(a, sizeof *v);
            v->type = CS_V_STRING;
            v->u.s = (cs_str){json_string_value(j), json_string_length(j)};
            *out = v;
        } else {
            *out = cs_value_string(a, json_string_value(j), json_string_length(j));
        }
        return 0;
    case JSON_REAL: return cs_err_set(err, CS_EINVAL, "Cedar has no floating-point numbers");
    case JSON_NULL: return cs_err_set(err, CS_EINVAL, "Cedar has no null");
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        /* Scratch arrays come from the arena: they die with the values. */
        const cs_value **items = cs_arena_alloc(a, (n ? n : 1) * sizeof *items);
        for (size_t i = 0; i < n; i++) {
            int rc = from_json(a, json_array_get(j, i), &items[i], err, depth + 1, borrow);
            if (rc < 0) return rc;
        }
        *out = cs_value_set(a, items, n);
        return 0;
    }
    case JSON_OBJECT: return object_from_json(a, j, out, err, depth, borrow);
    }
    return cs_err_set(err, CS_EINVAL, "unsupported JSON value");
}

int cs_value_from_json(cs_arena *a, json_t *j, const cs_value **out, cs_err *err)
{
    return from_json(a, j, out, err, 0, false);
}

int cs_value_from_json_borrow(cs_arena *a, json_t *j, const cs_value **out, cs_err *err)
{
    return from_json(a, j, out, err, 0, true);
}
