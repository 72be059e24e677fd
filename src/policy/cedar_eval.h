/* cedar_eval.h - evaluates one Cedar policy against a request, with Cedar's semantics:
 * a type error, a missing attribute or an overflow makes the policy erroring, which
 * counts as not satisfied. */
#ifndef CS_POLICY_CEDAR_EVAL_H
#define CS_POLICY_CEDAR_EVAL_H

#include "policy/cedar_ast.h"
#include "policy/cedar_entities.h"

typedef struct cs_eval_env {
    const cs_entities *store;
    cs_arena *arena; /* scratch for values computed during evaluation */
    const cs_value *vars[4]; /* indexed by cs_var */
    /* Request entities (principal, action, resource) as built for this request; they
     * shadow the store. */
    const cs_entity *req[3];
    char err[256]; /* why the last evaluation errored */
} cs_eval_env;

/* Returns CS_VERDICT_TRUE, CS_VERDICT_FALSE or CS_VERDICT_ERROR (with env->err). */
int cs_eval_policy(cs_eval_env *env, const cs_policy *p);
/* The scope alone (principal, action, resource constraints); never errors. */
bool cs_eval_scope(cs_eval_env *env, const cs_policy *p);

#endif
