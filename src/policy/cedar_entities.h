/* cedar_entities.h - the entity store: Cedar's entity JSON format (uid, attrs, parents,
 * tags; __entity/__extn escapes) with every entity's ancestors precomputed. A Resource
 * whose id is a slash path has its prefixes as implicit parents
 * (Resource::"prod/db/x" in Resource::"prod/db" in Resource::"prod"). */
#ifndef CS_POLICY_CEDAR_ENTITIES_H
#define CS_POLICY_CEDAR_ENTITIES_H

#include "policy/cedar_value.h"
#include "policy/policy.h"

typedef struct cs_entity {
    const cs_uid *uid;
    const cs_value *attrs; /* record, never NULL */
    const cs_value *tags;  /* record, never NULL */
    const cs_uid **parents;
    size_t n_parents;
    const cs_uid **ancestors; /* transitive closure of parents, self excluded */
    size_t n_ancestors;
    /* Set by the policy set's scope index (policy_set.h) for the entities of the store:
     * the index keys of the entity and its ancestors in each role, 0 ("any") last.
     * NULL for entities built for a request, whose keys are looked up then. */
    const uint32_t *index_keys[3];
    uint32_t n_index_keys[3];
} cs_entity;

typedef struct cs_entities {
    cs_entity **slots; /* open addressing by uid hash */
    size_t cap, n;
} cs_entities;

void cs_entities_init(cs_entities *es);
void cs_entities_free(cs_entities *es); /* the entities themselves live in the arena */

/* Parses entity JSON text (an array of entities) into es, allocating in a. Problems
 * are reported through diags under `file`. Call cs_entities_finish() afterwards. */
int cs_entities_load_json(cs_entities *es, cs_arena *a, const char *text, size_t len,
                          const char *file, cs_policy_diags *diags);
/* Computes every entity's ancestors; refuses cycles (reported under `file`). */
int cs_entities_finish(cs_entities *es, cs_arena *a, const char *file, cs_policy_diags *diags);

const cs_entity *cs_entities_find(const cs_entities *es, const cs_uid *uid);
/* Finds *uid's entity and points *uid at the store's own uid, so that comparisons
 * with the ancestor lists and scopes that name it mostly end at the pointer. Returns
 * the entity, or NULL (leaving *uid alone) when *uid is NULL or not in the store. */
const cs_entity *cs_entities_canon(const cs_entities *es, const cs_uid **uid);

/* Builds an entity that is not (or not only) in the store: the store's data for uid, if
 * any, plus extra parents and attributes that override the store's. Allocates in a. */
const cs_entity *cs_entities_build(const cs_entities *es, cs_arena *a, const cs_uid *uid,
                                   const cs_uid **extra_parents, size_t n_extra,
                                   const cs_value *attrs);

/* Is `uid` (described by e when known, else looked up) a descendant of `target`?
 * Equality is not checked here. */
bool cs_entities_descends(const cs_entities *es, const cs_entity *e, const cs_uid *uid,
                          const cs_uid *target);

/* The implicit path parent of a Resource with a slash id, or NULL. */
const cs_uid *cs_uid_path_parent(cs_arena *a, const cs_uid *uid);

#endif
