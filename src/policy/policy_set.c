/* policy_set.c - loading a policy directory (*.cedar + entities.json), validating the
 * countersign annotations (@id, @approval, @quorum, @timeout, @notify, @reason),
 * versioning, and the scope index that keeps evaluation from growing linearly with the
 * number of policies. */
#include "policy/policy_set.h"

#include "util/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t pair_hash(uint32_t a, uint32_t r)
{
    uint64_t h = ((uint64_t)a << 32 | r) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

const cs_index_pair *cs_policy_index_find(const cs_index *ix, uint32_t action, uint32_t resource)
{
    if (ix->cap == 0) return NULL;
    size_t mask = ix->cap - 1, i = pair_hash(action, resource) & mask;
    while (ix->pairs[i].n) {
        if (ix->pairs[i].action == action && ix->pairs[i].resource == resource) return &ix->pairs[i];
        i = (i + 1) & mask;
    }
    return NULL;
}

/* Where uid is in the table, or the empty slot where it would go. */
static size_t key_slot(const cs_index_key *slots, size_t cap, const cs_uid *uid)
{
    size_t mask = cap - 1, i = uid->hash & mask;
    while (slots[i].uid && !cs_uid_eq(slots[i].uid, uid)) i = (i + 1) & mask;
    return i;
}

uint32_t cs_policy_key_find(const cs_key_table *t, const cs_uid *uid, enum cs_key_role role)
{
    /* An empty slot's keys are all 0 ("not named"). */
    return t->cap ? t->slots[key_slot(t->slots, t->cap, uid)].id[role] : 0;
}

size_t cs_policy_entity_keys(const cs_index *ix, const cs_entity *e, enum cs_key_role role, uint32_t *keys)
{
    size_t n = 0;
    uint32_t k = cs_policy_key_find(&ix->keys, e->uid, role);
    if (k) keys[n++] = k;
    for (size_t i = 0; i < e->n_ancestors; i++)
        if ((k = cs_policy_key_find(&ix->keys, e->ancestors[i], role))) keys[n++] = k;
    keys[n++] = 0;
    return n;
}

/* Gives every entity of the store its index keys, so that a request for an entity
 * the store has needs no key lookups. */
static void store_keys(cs_policy_set *set)
{
    const cs_entities *es = &set->entities;
    for (size_t i = 0; i < es->cap; i++) {
        cs_entity *e = es->slots[i];
        for (int role = 0; e && role < 3; role++) {
            uint32_t *keys = cs_arena_alloc(&set->arena, (e->n_ancestors + 2) * sizeof *keys);
            e->n_index_keys[role] = (uint32_t)cs_policy_entity_keys(&set->index, e, role, keys);
            e->index_keys[role] = keys;
        }
    }
}

/* The key of uid in role, handing out a new one the first time; NULL (any) is 0. The
 * table grows to stay at most half full. */
static uint32_t key_get(cs_key_table *t, const cs_uid *uid, enum cs_key_role role)
{
    if (uid == NULL) return 0;
    if ((t->used + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        cs_index_key *slots = cs_calloc(cap, sizeof *slots);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].uid) slots[key_slot(slots, cap, t->slots[i].uid)] = t->slots[i];
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    cs_index_key *k = &t->slots[key_slot(t->slots, t->cap, uid)];
    if (k->uid == NULL) {
        k->uid = uid;
        t->used++;
    }
    if (k->id[role] == 0) k->id[role] = ++t->n;
    return k->id[role];
}

static const cs_uid *scope_key(const cs_scope *s)
{
    return (s->op == CS_SCOPE_EQ || s->op == CS_SCOPE_IN || s->op == CS_SCOPE_IS_IN) ? s->uid : NULL;
}

/* One filing of a policy: (action, resource, principal) keys and the policy. */
typedef struct filing {
    uint32_t a, r, p, idx;
} filing;

static int cmp_filing(const void *x, const void *y)
{
    const filing *f = x, *g = y;
    if (f->a != g->a) return f->a < g->a ? -1 : 1;
    if (f->r != g->r) return f->r < g->r ? -1 : 1;
    if (f->p != g->p) return f->p < g->p ? -1 : 1;
    return f->idx < g->idx ? -1 : f->idx > g->idx;
}

static size_t table_cap(size_t n)
{
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    return cap;
}

/* Files every policy under its keys (each element of an action list separately). */
static filing *file_policies(cs_policy_set *set, size_t *n_out)
{
    size_t n = 0;
    for (size_t i = 0; i < set->policies.n; i++) {
        const cs_policy *p = set->policies.items[i];
        n += p->action.op == CS_SCOPE_IN_LIST ? p->action.n_list : 1;
    }
    filing *f = cs_malloc((n ? n : 1) * sizeof *f);
    cs_key_table *kt = &set->index.keys;
    n = 0;
    for (size_t i = 0; i < set->policies.n; i++) {
        const cs_policy *p = set->policies.items[i];
        uint32_t r = key_get(kt, scope_key(&p->resource), CS_ROLE_RESOURCE);
        uint32_t pr = key_get(kt, scope_key(&p->principal), CS_ROLE_PRINCIPAL);
        bool list = p->action.op == CS_SCOPE_IN_LIST;
        for (size_t k = 0; k < (list ? p->action.n_list : 1); k++) {
            uint32_t a = key_get(kt, list ? p->action.list[k] : scope_key(&p->action), CS_ROLE_ACTION);
            f[n++] = (filing){a, r, pr, (uint32_t)i};
        }
    }
    *n_out = n;
    return f;
}

static void build_index(cs_policy_set *set)
{
    cs_index *ix = &set->index;
    size_t n;
    filing *f = file_policies(set, &n);
    qsort(f, n, sizeof *f, cmp_filing);
    /* One entry per distinct (a, r, p) and one pair per distinct (a, r), in sorted
     * order so that a pair's entries are adjacent; a policy that lists the same action
     * twice is filed once. */
    size_t n_pairs = 0, n_entries = 0, n_idx = 0;
    cs_index_pair *pairs = cs_malloc((n ? n : 1) * sizeof *pairs);
    ix->entries = cs_malloc((n ? n : 1) * sizeof *ix->entries);
    ix->idx = cs_malloc((n ? n : 1) * sizeof *ix->idx);
    for (size_t i = 0; i < n; i++) {
        bool new_pair = i == 0 || f[i].a != f[i - 1].a || f[i].r != f[i - 1].r;
        bool new_entry = new_pair || f[i].p != f[i - 1].p;
        if (!new_entry && f[i].idx == f[i - 1].idx) continue;
        if (new_pair) pairs[n_pairs++] = (cs_index_pair){f[i].a, f[i].r, (uint32_t)n_entries, 0};
        if (new_entry) {
            ix->entries[n_entries++] = (cs_index_entry){f[i].p, (uint32_t)n_idx, 0};
            pairs[n_pairs - 1].n++;
        }
        ix->idx[n_idx++] = f[i].idx;
        ix->entries[n_entries - 1].n++;
    }
    ix->cap = table_cap(n_pairs);
    ix->pairs = cs_calloc(ix->cap, sizeof *ix->pairs);
    for (size_t k = 0; k < n_pairs; k++) {
        size_t mask = ix->cap - 1, i = pair_hash(pairs[k].action, pairs[k].resource) & mask;
        while (ix->pairs[i].n) i = (i + 1) & mask;
        ix->pairs[i] = pairs[k];
    }
    free(pairs);
    free(f);
}

static void index_free(cs_index *ix)
{
    free(ix->keys.slots);
    free(ix->pairs);
    free(ix->entries);
    free(ix->idx);
    memset(ix, 0, sizeof *ix);
}

int cs_policy_parse_duration(const char *s, long long *seconds)
{
    long long total = 0;
    const char *p = s;
    if (*p == '\0') return CS_EINVAL;
    while (*p) {
        if (*p < '0' || *p > '9') return CS_EINVAL;
        long long v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > 100000000LL) return CS_EINVAL;
            v = v * 10 + (*p++ - '0');
        }
        long long unit;
        switch (*p++) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return CS_EINVAL;
        }
        total += v * unit;
        if (total > 366LL * 86400) return CS_EINVAL;
    }
    *seconds = total;
    return 0;
}

static const char *annotation(const cs_policy *p, const char *key)
{
    for (size_t i = 0; i < p->n_annotations; i++)
        if (cs_str_eq(p->annotations[i].key, cs_str_c(key))) return p->annotations[i].value.p;
    return NULL;
}

/* Splits "a, b,c" into trimmed, non-empty names. */
static int split_groups(cs_arena *a, const char *s, char ***out, size_t *n)
{
    size_t cap = 1;
    for (const char *q = s; *q; q++) cap += *q == ',';
    char **g = cs_arena_alloc(a, cap * sizeof *g);
    size_t k = 0;
    const char *q = s;
    for (;;) {
        const char *end = strchr(q, ',');
        if (end == NULL) end = q + strlen(q);
        const char *b = q, *e = end;
        while (b < e && (*b == ' ' || *b == '\t')) b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (b == e) return CS_EINVAL;
        g[k++] = cs_arena_strndup(a, b, (size_t)(e - b));
        if (*end == '\0') break;
        q = end + 1;
    }
    *out = g;
    *n = k;
    return 0;
}

static int check_meta(cs_policy_set *set, size_t i, cs_policy_diags *diags)
{
    const cs_policy *p = set->policies.items[i];
    cs_policy_meta *m = &set->meta[i];
    const char *id = annotation(p, "id");
    m->id = id ? id : cs_arena_strndup(&set->arena, "", 0);
    if (id == NULL || *id == '\0') {
        char buf[32];
        snprintf(buf, sizeof buf, "policy%zu", i);
        m->id = cs_arena_strndup(&set->arena, buf, strlen(buf));
    }
    m->reason = annotation(p, "reason");
    m->notify = annotation(p, "notify");
    m->quorum = 1;
    m->timeout_s = -1;
    int rc = 0;
    const char *approval = annotation(p, "approval");
    const char *quorum = annotation(p, "quorum"), *timeout = annotation(p, "timeout");
    if (approval && split_groups(&set->arena, approval, &m->groups, &m->n_groups) < 0) {
        cs_policy_diags_add(diags, p->file, p->line, p->col,
                            "@approval needs a comma-separated list of group names, got \"%s\"", approval);
        rc = CS_EINVAL;
    }
    if (approval && p->effect == CS_EFFECT_FORBID) {
        cs_policy_diags_add(diags, p->file, p->line, p->col, "@approval only makes sense on a permit policy");
        rc = CS_EINVAL;
    }
    if (quorum) {
        char *end;
        errno = 0;
        long q = strtol(quorum, &end, 10);
        if (*quorum < '0' || *quorum > '9' || *end || errno || q < 1 || q > 100) {
            cs_policy_diags_add(diags, p->file, p->line, p->col, "@quorum must be a number from 1 to 100, got \"%s\"", quorum);
            rc = CS_EINVAL;
        } else {
            m->quorum = (int)q;
        }
        if (!approval) {
            cs_policy_diags_add(diags, p->file, p->line, p->col, "@quorum without @approval");
            rc = CS_EINVAL;
        }
    }
    if (timeout && (cs_policy_parse_duration(timeout, &m->timeout_s) < 0 || m->timeout_s <= 0)) {
        cs_policy_diags_add(diags, p->file, p->line, p->col,
                            "@timeout must be a duration such as \"30m\", \"45s\", \"2h\", got \"%s\"", timeout);
        rc = CS_EINVAL;
    }
    for (size_t j = 0; j < i; j++)
        if (!strcmp(set->meta[j].id, m->id)) {
            cs_policy_diags_add(diags, p->file, p->line, p->col, "duplicate policy id \"%s\"", m->id);
            rc = CS_EINVAL;
        }
    return rc;
}

static cs_policy_set *set_new(void)
{
    cs_policy_set *set = cs_calloc(1, sizeof *set);
    set->refs = 1;
    cs_arena_init(&set->arena, 64 * 1024);
    cs_entities_init(&set->entities);
    return set;
}

static void set_free(cs_policy_set *set)
{
    index_free(&set->index);
    free(set->policies.items);
    free(set->meta);
    cs_entities_free(&set->entities);
    cs_arena_free(&set->arena);
    free(set);
}

cs_policy_set *cs_policy_set_retain(cs_policy_set *set)
{
    __atomic_add_fetch(&set->refs, 1, __ATOMIC_RELAXED);
    return set;
}

void cs_policy_set_release(cs_policy_set *set)
{
    if (set && __atomic_sub_fetch(&set->refs, 1, __ATOMIC_ACQ_REL) == 0) set_free(set);
}

/* The scopes name entities with uids of their own; sharing the store's means the
 * evaluator's comparisons with ancestor lists mostly end at the pointer. */
static void share_scope_uids(cs_policy_set *set)
{
    for (size_t i = 0; i < set->policies.n; i++) {
        cs_policy *p = set->policies.items[i];
        cs_scope *scopes[] = {&p->principal, &p->action, &p->resource};
        for (int s = 0; s < 3; s++) {
            cs_entities_canon(&set->entities, &scopes[s]->uid);
            for (size_t k = 0; k < scopes[s]->n_list; k++) cs_entities_canon(&set->entities, &scopes[s]->list[k]);
        }
    }
}

/* Validates annotations, builds the index and finishes the entity store. */
static int set_finish(cs_policy_set *set, EVP_MD_CTX *md, const char *efile, cs_policy_diags *diags)
{
    int rc = 0;
    set->meta = cs_calloc(set->policies.n + 1, sizeof *set->meta);
    for (size_t i = 0; i < set->policies.n; i++)
        if (check_meta(set, i, diags) < 0) rc = CS_EINVAL;
    if (cs_entities_finish(&set->entities, &set->arena, efile, diags) < 0) rc = CS_EINVAL;
    share_scope_uids(set);
    build_index(set);
    store_keys(set);
    unsigned char digest[32];
    unsigned dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
    memcpy(set->version, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) snprintf(set->version + 7 + 2 * i, 3, "%02x", digest[i]);
    return rc;
}

static void hash_part(EVP_MD_CTX *md, const char *name, const char *text, size_t len)
{
    /* Length-prefixed so that moving bytes between files changes the version. */
    char hdr[64];
    int n = snprintf(hdr, sizeof hdr, "%zu:%zu:", strlen(name), len);
    EVP_DigestUpdate(md, hdr, (size_t)n);
    EVP_DigestUpdate(md, name, strlen(name));
    EVP_DigestUpdate(md, text, len);
}

int cs_policy_set_parse(const char *text, size_t len, const char *filename,
                        const char *entities_json, cs_policy_set **out, cs_policy_diags *diags)
{
    cs_policy_set *set = set_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    const char *file = cs_arena_strndup(&set->arena, filename ? filename : "<input>",
                                        strlen(filename ? filename : "<input>"));
    int rc = 0;
    if (text) {
        hash_part(md, "policies", text, len);
        rc = cs_cedar_parse(&set->arena, text, len, file, &set->policies, diags);
    }
    if (entities_json && *entities_json) {
        hash_part(md, "entities", entities_json, strlen(entities_json));
        int erc = cs_entities_load_json(&set->entities, &set->arena, entities_json,
                                        strlen(entities_json), "entities.json", diags);
        if (erc < 0 && rc == 0) rc = erc;
    }
    int frc = set_finish(set, md, "entities.json", diags);
    if (frc < 0 && rc == 0) rc = frc;
    EVP_MD_CTX_free(md);
    if (rc < 0) {
        set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

static int read_file(const char *path, char **data, size_t *len, cs_policy_diags *diags)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        cs_policy_diags_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
        return CS_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || (size_t)st.st_size > CS_POLICY_MAX_FILE_BYTES) {
        cs_policy_diags_add(diags, path, 0, 0, "file too large (limit %u bytes)", CS_POLICY_MAX_FILE_BYTES);
        fclose(f);
        return CS_ETOOBIG;
    }
    size_t n = (size_t)st.st_size;
    char *buf = cs_malloc(n + 1);
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        cs_policy_diags_add(diags, path, 0, 0, "short read");
        return CS_EIO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

static int cedar_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 6 && !strcmp(d->d_name + n - 6, ".cedar");
}

int cs_policy_set_load_dir(const char *dir, cs_policy_set **out, cs_policy_diags *diags)
{
    struct dirent **names = NULL;
    int count = scandir(dir, &names, cedar_filter, alphasort);
    if (count < 0) {
        cs_policy_diags_add(diags, dir, 0, 0, "cannot read policy directory: %s", strerror(errno));
        return CS_EIO;
    }
    cs_policy_set *set = set_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    int rc = 0;
    for (int i = 0; i < count; i++) {
        char *path = cs_sprintf("%s/%s", dir, names[i]->d_name);
        char *data;
        size_t len;
        if (read_file(path, &data, &len, diags) == 0) {
            hash_part(md, names[i]->d_name, data, len);
            const char *file = cs_arena_strndup(&set->arena, path, strlen(path));
            if (cs_cedar_parse(&set->arena, data, len, file, &set->policies, diags) < 0) rc = CS_EPARSE;
            free(data);
        } else {
            rc = CS_EIO;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    char *epath = cs_sprintf("%s/entities.json", dir);
    struct stat st;
    if (stat(epath, &st) == 0) {
        char *data;
        size_t len;
        if (read_file(epath, &data, &len, diags) == 0) {
            hash_part(md, "entities.json", data, len);
            if (cs_entities_load_json(&set->entities, &set->arena, data, len, epath, diags) < 0)
                rc = CS_EINVAL;
            free(data);
        } else {
            rc = CS_EIO;
        }
    }
    if (set_finish(set, md, epath, diags) < 0 && rc == 0) rc = CS_EINVAL;
    free(epath);
    EVP_MD_CTX_free(md);
    if (rc < 0) {
        set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

const char *cs_policy_set_version(const cs_policy_set *set)
{
    return set->version;
}

size_t cs_policy_set_count(const cs_policy_set *set)
{
    return set->policies.n;
}

const char *cs_policy_set_id(const cs_policy_set *set, size_t i)
{
    return i < set->policies.n ? set->meta[i].id : NULL;
}

int cs_uid_parse(const char *text, char **type, char **id, cs_err *err)
{
    /* Type::"id" where Type is IDENT(::IDENT)*; the id is a Cedar string literal. */
    const char *q = strstr(text, "::\"");
    size_t tlen = q ? (size_t)(q - text) : 0;
    if (q == NULL || tlen == 0)
        return cs_err_set(err, CS_EINVAL, "expected an entity such as Agent::\"name\", got '%s'", text);
    for (size_t i = 0; i < tlen; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9' && i > 0) ||
                  (c == ':' && i + 1 < tlen && text[i + 1] == ':' && i > 0) || (c == ':' && i > 0 && text[i - 1] == ':');
        if (!ok) return cs_err_set(err, CS_EINVAL, "bad entity type in '%s'", text);
    }
    const char *body = q + 3;
    size_t blen = strlen(body);
    if (blen == 0 || body[blen - 1] != '"')
        return cs_err_set(err, CS_EINVAL, "entity id must end with '\"' in '%s'", text);
    cs_arena a;
    cs_arena_init(&a, 256);
    cs_str s;
    const char *why = NULL;
    int rc = cs_cedar_unescape(&a, body, blen - 1, &s, &why);
    if (rc == 0) {
        *type = cs_strndup(text, tlen);
        *id = cs_strndup(s.p, s.n);
    } else {
        rc = cs_err_set(err, CS_EINVAL, "bad entity id in '%s': %s", text, why);
    }
    cs_arena_free(&a);
    return rc;
}
