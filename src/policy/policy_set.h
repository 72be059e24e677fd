/* policy_set.h - internals of a loaded policy set shared by policy_set.c (loading,
 * indexing) and policy_decide.c (evaluation and combination). */
#ifndef CS_POLICY_POLICY_SET_H
#define CS_POLICY_POLICY_SET_H

#include "policy/cedar_entities.h"
#include "policy/cedar_parse.h"
#include "policy/policy.h"

/* What the countersign annotations of one policy say, validated at load time. */
typedef struct cs_policy_meta {
    const char *id;
    const char *reason; /* NULL when absent */
    const char *notify;
    char **groups; /* @approval, NULL when absent */
    size_t n_groups;
    int quorum;
    long long timeout_s; /* -1: default */
} cs_policy_meta;

/* Scope index. Every entity that a scope names with ==/in (each element of an action
 * list) gets a small number, its key, for each role (action, resource, principal) it is
 * named in; 0 stands for "any". Each policy is filed under (action key, resource key,
 * principal key). A hash table finds an (action, resource) pair; the pair's entries,
 * one per principal key, each list their policies. A request turns its entities and
 * their ancestors into keys once (entities no scope names drop out there), probes the
 * pairs with integers and scans the few entries of the pairs it finds. Everything is
 * kept in flat arrays, so that a decision touches few cache lines. */
enum cs_key_role { CS_ROLE_ACTION, CS_ROLE_RESOURCE, CS_ROLE_PRINCIPAL };

typedef struct cs_index_key {
    const cs_uid *uid; /* NULL: empty slot */
    uint32_t id[3];    /* the key in each role (enum cs_key_role), 0 when not named there */
} cs_index_key;

typedef struct cs_key_table {
    cs_index_key *slots; /* open addressing by uid hash */
    size_t cap, used;
    uint32_t n; /* keys handed out so far */
} cs_key_table;

typedef struct cs_index_pair {
    uint32_t action, resource; /* keys; 0: any */
    uint32_t first, n;         /* entries [first, first + n); n == 0: empty slot */
} cs_index_pair;

typedef struct cs_index_entry {
    uint32_t principal; /* key; 0: any */
    uint32_t first, n;  /* policy indices idx[first, first + n), ascending */
} cs_index_entry;

typedef struct cs_index {
    cs_key_table keys;
    cs_index_pair *pairs; /* open addressing by (action, resource) */
    size_t cap;
    cs_index_entry *entries;
    uint32_t *idx;
} cs_index;

struct cs_policy_set {
    int refs; /* atomic */
    cs_arena arena;
    cs_policy_vec policies;
    cs_policy_meta *meta;
    cs_entities entities;
    cs_index index;
    char version[7 + 64 + 1];
};

/* The key of uid in role, or 0 when no scope names it there. */
uint32_t cs_policy_key_find(const cs_key_table *t, const cs_uid *uid, enum cs_key_role role);

/* The index keys of e in role: those of e and its ancestors that a scope names, then 0
 * for "any". keys has room for e->n_ancestors + 2; returns how many were written. */
size_t cs_policy_entity_keys(const cs_index *ix, const cs_entity *e, enum cs_key_role role, uint32_t *keys);

/* The pair (action, resource) of keys, or NULL when no policy is filed under it. */
const cs_index_pair *cs_policy_index_find(const cs_index *ix, uint32_t action, uint32_t resource);

/* Parses a duration such as "30m", "45s", "2h", "1d" (also combined: "1h30m"). */
int cs_policy_parse_duration(const char *s, long long *seconds);

#endif
