/* cedar_entities.c - entity store in Cedar's entity JSON format, with precomputed
 * ancestor sets and implicit resource path parents (see cedar_entities.h). */
#include "policy/cedar_entities.h"

#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

void cs_entities_init(cs_entities *es)
{
    es->slots = NULL;
    es->cap = es->n = 0;
}

void cs_entities_free(cs_entities *es)
{
    free(es->slots);
    cs_entities_init(es);
}

static void insert_slot(cs_entity **slots, size_t cap, cs_entity *e)
{
    size_t i = e->uid->hash & (cap - 1);
    while (slots[i]) i = (i + 1) & (cap - 1);
    slots[i] = e;
}

static void put(cs_entities *es, cs_entity *e)
{
    if ((es->n + 1) * 2 > es->cap) {
        size_t ncap = es->cap ? es->cap * 2 : 64;
        cs_entity **ns = cs_calloc(ncap, sizeof *ns);
        for (size_t i = 0; i < es->cap; i++)
            if (es->slots[i]) insert_slot(ns, ncap, es->slots[i]);
        free(es->slots);
        es->slots = ns;
        es->cap = ncap;
    }
    insert_slot(es->slots, es->cap, e);
    es->n++;
}

const cs_entity *cs_entities_find(const cs_entities *es, const cs_uid *uid)
{
    if (es->cap == 0) return NULL;
    size_t i = uid->hash & (es->cap - 1);
    while (es->slots[i]) {
        if (cs_uid_eq(es->slots[i]->uid, uid)) return es->slots[i];
        i = (i + 1) & (es->cap - 1);
    }
    return NULL;
}

const cs_entity *cs_entities_canon(const cs_entities *es, const cs_uid **uid)
{
    const cs_entity *e = *uid ? cs_entities_find(es, *uid) : NULL;
    if (e) *uid = e->uid;
    return e;
}

const cs_uid *cs_uid_path_parent(cs_arena *a, const cs_uid *uid)
{
    if (!cs_str_eq(uid->type, cs_str_c("Resource"))) return NULL;
    const char *id = uid->id.p;
    size_t n = uid->id.n;
    while (n > 0 && id[n - 1] != '/') n--;
    if (n <= 1) return NULL; /* no slash, or only a leading one */
    /* The parent's id is a prefix of the child's: point into the same bytes. */
    return cs_uid_borrow(a, uid->type.p, uid->type.n, id, n - 1);
}

static bool is_action_type(const cs_uid *u)
{
    return cs_str_eq(u->type, cs_str_c("Action")) ||
           (u->type.n > 8 && !memcmp(u->type.p + u->type.n - 8, "::Action", 8));
}

static const cs_value *empty_record(cs_arena *a)
{
    return cs_value_record(a, NULL, NULL, 0);
}

static int load_one(cs_entities *es, cs_arena *a, json_t *j, size_t idx, const char *file,
                    cs_policy_diags *diags)
{
    cs_err err = {0};
    if (!json_is_object(j)) {
        cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: expected an object", idx);
        return CS_EINVAL;
    }
    /* As in the Cedar reference: attrs and parents are required, other keys ignored. */
    if (!json_object_get(j, "attrs") || !json_object_get(j, "parents")) {
        cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: missing field \"%s\"", idx,
                            json_object_get(j, "attrs") ? "parents" : "attrs");
        return CS_EINVAL;
    }
    cs_entity *e = cs_arena_alloc(a, sizeof *e);
    cs_uid *uid;
    if (cs_uid_from_json(a, json_object_get(j, "uid"), &uid, &err) < 0) {
        cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: uid: %s", idx, err.msg);
        return CS_EINVAL;
    }
    e->uid = uid;
    if (cs_entities_find(es, uid)) {
        cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: duplicate entity %.*s::\"%.*s\"", idx,
                            (int)uid->type.n, uid->type.p, (int)uid->id.n, uid->id.p);
        return CS_EINVAL;
    }
    json_t *attrs = json_object_get(j, "attrs"), *tags = json_object_get(j, "tags");
    json_t *parents = json_object_get(j, "parents");
    const struct {
        json_t *j;
        const cs_value **out;
        const char *name;
    } recs[] = {{attrs, &e->attrs, "attrs"}, {tags, &e->tags, "tags"}};
    for (int r = 0; r < 2; r++) {
        if (recs[r].j == NULL) {
            *recs[r].out = empty_record(a);
            continue;
        }
        const cs_value *val;
        if (!json_is_object(recs[r].j) || cs_value_from_json(a, recs[r].j, &val, &err) < 0 ||
            val->type != CS_V_RECORD) {
            cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: %s: %s", idx, recs[r].name,
                                err.msg[0] ? err.msg : "expected an object");
            return CS_EINVAL;
        }
        *recs[r].out = val;
    }
    if (parents && !json_is_array(parents)) {
        cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: parents: expected an array", idx);
        return CS_EINVAL;
    }
    e->n_parents = json_array_size(parents);
    e->parents = cs_arena_alloc(a, (e->n_parents + 1) * sizeof *e->parents);
    for (size_t i = 0; i < e->n_parents; i++) {
        cs_uid *p;
        if (cs_uid_from_json(a, json_array_get(parents, i), &p, &err) < 0) {
            cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: parents[%zu]: %s", idx, i, err.msg);
            return CS_EINVAL;
        }
        e->parents[i] = p;
        if (is_action_type(uid) && !is_action_type(p)) {
            cs_policy_diags_add(diags, file, 0, 0, "entity #%zu: action %.*s::\"%.*s\" has a non-action parent", idx,
                                (int)uid->type.n, uid->type.p, (int)uid->id.n, uid->id.p);
            return CS_EINVAL;
        }
    }
    put(es, e);
    return 0;
}

int cs_entities_load_json(cs_entities *es, cs_arena *a, const char *text, size_t len,
                          const char *file, cs_policy_diags *diags)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        cs_policy_diags_add(diags, file, jerr.line, jerr.column, "%s", jerr.text);
        return CS_EPARSE;
    }
    int rc = 0;
    if (!json_is_array(root)) {
        cs_policy_diags_add(diags, file, 1, 1, "expected an array of entities");
        rc = CS_EINVAL;
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(root); i++)
        rc = load_one(es, a, json_array_get(root, i), i, file, diags);
    json_decref(root);
    return rc;
}

/* A list that starts in the caller's buffer (most hierarchies are shallow) and moves
 * to the heap when it outgrows it: closures are also computed per request. */
typedef struct uid_list {
    const cs_uid **items;
    size_t n, cap;
    const cs_uid **local; /* the caller's buffer, while items is it */
} uid_list;

static bool list_has(const uid_list *l, const cs_uid *u)
{
    for (size_t i = 0; i < l->n; i++)
        if (cs_uid_eq(l->items[i], u)) return true;
    return false;
}

static void list_add(uid_list *l, const cs_uid *u)
{
    if (l->n == l->cap) {
        if (l->items == l->local) {
            l->items = cs_malloc(l->cap * 2 * sizeof *l->items);
            memcpy(l->items, l->local, l->n * sizeof *l->items);
            l->cap *= 2;
        } else {
            l->items = cs_grow(l->items, &l->cap, l->n + 1, sizeof *l->items);
        }
    }
    l->items[l->n++] = u;
}

/* Breadth-first closure over explicit parents (from the store) and path parents. */
static void closure(const cs_entities *es, cs_arena *a, const cs_uid *self, const cs_uid **direct,
                    size_t n_direct, const cs_uid ***out, size_t *n_out)
{
    const cs_uid *local[32];
    uid_list l = {local, 0, sizeof local / sizeof *local, local};
    const cs_uid *pp = cs_uid_path_parent(a, self);
    if (pp) list_add(&l, pp);
    for (size_t i = 0; i < n_direct; i++)
        if (!list_has(&l, direct[i])) list_add(&l, direct[i]);
    for (size_t k = 0; k < l.n; k++) {
        const cs_entity *pe = cs_entities_canon(es, &l.items[k]);
        const cs_uid *u = l.items[k];
        const cs_uid *upp = cs_uid_path_parent(a, u);
        if (upp && !list_has(&l, upp)) list_add(&l, upp);
        for (size_t i = 0; pe && i < pe->n_parents; i++)
            if (!list_has(&l, pe->parents[i])) list_add(&l, pe->parents[i]);
    }
    *out = cs_arena_alloc(a, (l.n + 1) * sizeof **out);
    if (l.n) memcpy(*out, l.items, l.n * sizeof **out);
    *n_out = l.n;
    if (l.items != local) free(l.items);
}

int cs_entities_finish(cs_entities *es, cs_arena *a, const char *file, cs_policy_diags *diags)
{
    int rc = 0;
    /* Parents point at the store's own uids where it has them, so that ancestor lists
     * share pointers with each other and with the policies' scopes. */
    for (size_t i = 0; i < es->cap; i++) {
        cs_entity *e = es->slots[i];
        for (size_t k = 0; e && k < e->n_parents; k++) cs_entities_canon(es, &e->parents[k]);
    }
    for (size_t i = 0; i < es->cap; i++) {
        cs_entity *e = es->slots[i];
        if (e == NULL) continue;
        closure(es, a, e->uid, e->parents, e->n_parents, &e->ancestors, &e->n_ancestors);
        /* Like the Cedar reference, refuse a hierarchy with a cycle. */
        for (size_t k = 0; k < e->n_ancestors; k++)
            if (cs_uid_eq(e->ancestors[k], e->uid)) {
                if (rc == 0)
                    cs_policy_diags_add(diags, file, 0, 0, "the entity hierarchy has a cycle through %.*s::\"%.*s\"",
                                    (int)e->uid->type.n, e->uid->type.p, (int)e->uid->id.n, e->uid->id.p);
                rc = CS_EINVAL; /* one report per load is enough: every member would repeat it */
                break;
            }
    }
    return rc;
}

const cs_entity *cs_entities_build(const cs_entities *es, cs_arena *a, const cs_uid *uid,
                                   const cs_uid **extra_parents, size_t n_extra,
                                   const cs_value *attrs)
{
    const cs_uid *self = uid;
    const cs_entity *base = cs_entities_canon(es, &self);
    if (base && n_extra == 0 && attrs == NULL) return base;
    cs_entity *e = cs_arena_alloc(a, sizeof *e);
    e->uid = self;
    e->tags = base ? base->tags : empty_record(a);
    e->attrs = base ? base->attrs : empty_record(a);
    if (attrs && base && base->attrs->u.rec.n) {
        /* Request attributes override the store's, key by key. The record takes the
         * arrays as they are: their key strings are the request's (alive for the
         * decision) and the store's (alive with the set). */
        const cs_record *br = &base->attrs->u.rec, *ar = &attrs->u.rec;
        size_t n = br->n + ar->n, k = 0;
        cs_str *keys = cs_arena_alloc(a, n * sizeof *keys);
        const cs_value **vals = cs_arena_alloc(a, n * sizeof *vals);
        for (size_t i = 0; i < ar->n; i++) {
            keys[k] = ar->keys[i];
            vals[k++] = ar->vals[i];
        }
        for (size_t i = 0; i < br->n; i++)
            if (!cs_record_get(ar, br->keys[i])) {
                keys[k] = br->keys[i];
                vals[k++] = br->vals[i];
            }
        e->attrs = cs_value_record_adopt(a, keys, vals, k);
    } else if (attrs) {
        e->attrs = attrs;
    }
    size_t nb = base ? base->n_parents : 0;
    e->parents = cs_arena_alloc(a, (nb + n_extra + 1) * sizeof *e->parents);
    for (size_t i = 0; i < nb; i++) e->parents[e->n_parents++] = base->parents[i];
    for (size_t i = 0; i < n_extra; i++) e->parents[e->n_parents++] = extra_parents[i];
    closure(es, a, uid, e->parents, e->n_parents, &e->ancestors, &e->n_ancestors);
    return e;
}

bool cs_entities_descends(const cs_entities *es, const cs_entity *e, const cs_uid *uid,
                          const cs_uid *target)
{
    if (e == NULL) e = cs_entities_find(es, uid);
    if (e != NULL) {
        for (size_t i = 0; i < e->n_ancestors; i++)
            if (cs_uid_eq(e->ancestors[i], target)) return true;
        return false;
    }
    /* Not in the store: only path parents, and whatever the store says about them. */
    if (!cs_str_eq(uid->type, cs_str_c("Resource"))) return false;
    size_t n = uid->id.n;
    const char *id = uid->id.p;
    while (n > 0) {
        while (n > 0 && id[n - 1] != '/') n--;
        if (n <= 1) return false;
        n--; /* drop the slash */
        cs_uid prefix = {uid->type, {id, n}, cs_uid_hash(uid->type, (cs_str){id, n})};
        if (cs_uid_eq(&prefix, target)) return true;
        const cs_entity *pe = cs_entities_find(es, &prefix);
        if (pe) return cs_entities_descends(es, pe, &prefix, target);
    }
    return false;
}
