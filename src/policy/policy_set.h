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
 * named in; 0 stands for "any". Policies are bucketed by (action key, resource key,
 * principal key), and a second table records which (action, resource) pairs have any
 * bucket at all, so a request only tries principal keys under pairs that exist. A
 * request turns its entities and their ancestors into keys once (entities no scope
 * names drop out there), so the probes hash and compare integers, not strings. */
enum cs_key_role { CS_ROLE_ACTION, CS_ROLE_RESOURCE, CS_ROLE_PRINCIPAL };

typedef struct cs_index_key {
    const cs_uid *uid; /* NULL: empty slot */
    uint32_t id[3];    /* the key in each role (enum cs_key_role), 0 when not named there */
} cs_index_key;

typedef struct cs_key_table {
    cs_index_key *slots; /* open addressing by uid hash */
    size_t cap;
    uint32_t n; /* keys handed out so far */
} cs_key_table;

typedef struct cs_index_bucket {
    uint32_t action, resource, principal; /* keys; 0: any */
    uint32_t n, cap;
    uint32_t *idx; /* policy indices in set order; NULL: empty slot */
} cs_index_bucket;

typedef struct cs_index_table {
    cs_index_bucket *slots; /* open addressing */
    size_t cap;
} cs_index_table;

struct cs_policy_set {
    int refs; /* atomic */
    cs_arena arena;
    cs_policy_vec policies;
    cs_policy_meta *meta;
    cs_entities entities;
    cs_key_table keys;      /* scope entity -> its key in each role */
    cs_index_table buckets; /* (action, resource, principal) -> policies */
    cs_index_table pairs;   /* (action, resource) -> present */
    char version[7 + 64 + 1];
};

/* The key of uid in role, or 0 when no scope names it there. */
uint32_t cs_policy_key_find(const cs_key_table *t, const cs_uid *uid, enum cs_key_role role);

/* Looks up a bucket by keys (0: any); NULL when there is none. */
const cs_index_bucket *cs_policy_index_find(const cs_index_table *t, uint32_t action, uint32_t resource,
                                            uint32_t principal);

/* Parses a duration such as "30m", "45s", "2h", "1d" (also combined: "1h30m"). */
int cs_policy_parse_duration(const char *s, long long *seconds);

#endif
