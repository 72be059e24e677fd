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

/* Scope index: policies bucketed by (action key, resource key, principal key), where a
 * key is the entity named by the scope's ==/in constraint or "any" (NULL). A second
 * table records which (action, resource) pairs have any bucket at all, so a request
 * only tries principal keys under pairs that exist. */
typedef struct cs_index_bucket {
    const cs_uid *action;    /* NULL: any action */
    const cs_uid *resource;  /* NULL: any resource */
    const cs_uid *principal; /* NULL: any principal */
    uint32_t *idx;
    size_t n, cap;
} cs_index_bucket;

typedef struct cs_index_table {
    cs_index_bucket *slots; /* open addressing; a slot is used when idx != NULL */
    size_t cap;
} cs_index_table;

struct cs_policy_set {
    int refs; /* atomic */
    cs_arena arena;
    cs_policy_vec policies;
    cs_policy_meta *meta;
    cs_entities entities;
    cs_index_table buckets; /* (action, resource, principal) -> policies */
    cs_index_table pairs;   /* (action, resource) -> present */
    char version[7 + 64 + 1];
};

/* Looks up a bucket; any key may be NULL for "any". */
const cs_index_bucket *cs_policy_index_find(const cs_index_table *t, const cs_uid *action,
                                            const cs_uid *resource, const cs_uid *principal);

/* Parses a duration such as "30m", "45s", "2h", "1d" (also combined: "1h30m"). */
int cs_policy_parse_duration(const char *s, long long *seconds);

#endif
