/* policy.h - the public face of the Cedar policy engine (SPEC §2).
 *
 * A policy set is loaded from a directory of *.cedar files plus entities.json, is
 * immutable once loaded, and is shared between threads by reference counting (the
 * gateway swaps in a new one on SIGHUP while requests still hold the old one).
 * cs_policy_decide() evaluates a request and combines the satisfied policies into
 * one of three outcomes: forbid > approval > permit > default deny. */
#ifndef CS_POLICY_POLICY_H
#define CS_POLICY_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "util/arena.h"
#include "util/error.h"

typedef struct cs_policy_set cs_policy_set;

/* One problem found while loading: file:line:col and what was expected. */
typedef struct cs_policy_diag {
    char *file;
    int line, col; /* 1-based; 0 when not tied to a position */
    char *msg;
} cs_policy_diag;

typedef struct cs_policy_diags {
    cs_policy_diag *items;
    size_t n, cap;
} cs_policy_diags;

void cs_policy_diags_init(cs_policy_diags *d);
void cs_policy_diags_free(cs_policy_diags *d);
void cs_policy_diags_add(cs_policy_diags *d, const char *file, int line, int col, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));

/* Limits that keep hostile or broken policy files from hurting the process. */
#define CS_POLICY_MAX_FILE_BYTES (16u * 1024 * 1024)
#define CS_POLICY_MAX_DEPTH 256   /* nesting of parentheses, brackets and braces */
#define CS_POLICY_MAX_HEIGHT 1024 /* height of an expression tree (long && chains) */

/* Loads the .cedar files of DIR (in name order) and DIR/entities.json (optional). Returns 0, or a
 * negative code with every problem listed in diags (which may be NULL). */
int cs_policy_set_load_dir(const char *dir, cs_policy_set **out, cs_policy_diags *diags);

/* Builds a set from policy text and entity JSON text (either may be NULL/empty).
 * `filename` names the text in diagnostics. */
int cs_policy_set_parse(const char *text, size_t len, const char *filename,
                        const char *entities_json, cs_policy_set **out, cs_policy_diags *diags);

cs_policy_set *cs_policy_set_retain(cs_policy_set *set);
void cs_policy_set_release(cs_policy_set *set); /* frees at the last reference; NULL ok */

/* "sha256:<hex>" over the policy texts and entities, in load order. */
const char *cs_policy_set_version(const cs_policy_set *set);
size_t cs_policy_set_count(const cs_policy_set *set);
/* The policy's @id annotation, else "policy<N>" (N = 0-based position in the set). */
const char *cs_policy_set_id(const cs_policy_set *set, size_t i);

/* An entity reference as type and id: {"Agent", "demo-agent"} is Agent::"demo-agent". */
typedef struct cs_uid_ref {
    const char *type;
    const char *id;
} cs_uid_ref;

/* Parses `Type::"id"` (also `A::B::"id"`) into freshly allocated type and id. */
int cs_uid_parse(const char *text, char **type, char **id, cs_err *err);

typedef struct cs_policy_request {
    cs_uid_ref principal;
    cs_uid_ref action;   /* type "Action" */
    cs_uid_ref resource; /* type "Resource"; ids that are slash paths get their prefixes
                            as ancestors */
    /* Extra parents of the principal, as Group::"<name>" ids (may be NULL). */
    const char *const *principal_groups;
    size_t n_principal_groups;
    json_t *principal_attrs; /* optional: attributes in Cedar entity-JSON form */
    json_t *context;         /* optional object in Cedar JSON value form */
} cs_policy_request;

enum cs_decision_kind { CS_DECISION_DENY = 0, CS_DECISION_ALLOW = 1, CS_DECISION_PENDING = 2 };
enum cs_effect { CS_EFFECT_PERMIT = 0, CS_EFFECT_FORBID = 1 };

typedef struct cs_policy_match {
    char *id;
    int effect;       /* enum cs_effect */
    int approval;     /* 1 when the policy carries @approval */
    char *reason;     /* @reason, or NULL */
} cs_policy_match;

typedef struct cs_policy_error {
    char *id;
    char *msg;
} cs_policy_error;

/* What an @approval permit demands before the action may run. */
typedef struct cs_approval_req {
    char *policy_id;
    char **groups; /* approver groups (Group ids) */
    size_t n_groups;
    int quorum;         /* distinct humans, >= 1 */
    long long timeout_s; /* -1: the configured default */
    char *notify;        /* raw @notify value, or NULL */
    char *reason;        /* @reason, or NULL */
} cs_approval_req;

typedef struct cs_decision {
    int kind;                   /* enum cs_decision_kind */
    cs_policy_match *satisfied; /* every satisfied policy, in set order */
    size_t n_satisfied;
    cs_policy_match *determining; /* the ones that decided: forbids, approval permits or permits */
    size_t n_determining;
    cs_policy_error *errors; /* policies that errored (counted as not satisfied) */
    size_t n_errors;
    cs_approval_req *approvals; /* when pending: one per satisfied @approval permit */
    size_t n_approvals;
    char *explanation; /* one or more sentences for humans */
    /* Where the arrays and strings above live: cs_decision_free() releases them all
     * at once. A decision assembled by hand allocates its parts here too. */
    cs_arena mem;
} cs_decision;

int cs_policy_decide(const cs_policy_set *set, const cs_policy_request *req, cs_decision *out,
                     cs_err *err);
void cs_decision_free(cs_decision *d);
const char *cs_decision_kind_name(int kind); /* "allowed", "denied", "pending" */
/* The decision as JSON: {decision, policy_version, matched[], satisfied[], errors[],
 * approvals[], explanation}. */
json_t *cs_decision_to_json(const cs_decision *d, const cs_policy_set *set);
/* Its parts, for documents that carry them: [{id, effect, approval, reason?}] of
 * matches, and [{id, message}] of the decision's errors. */
json_t *cs_policy_matches_json(const cs_policy_match *m, size_t n);
json_t *cs_decision_errors_json(const cs_decision *d);

enum cs_verdict { CS_VERDICT_FALSE = 0, CS_VERDICT_TRUE = 1, CS_VERDICT_ERROR = 2 };
/* Evaluates every policy of the set on req without the scope index; verdicts must
 * hold cs_policy_set_count() entries. For differential testing against the Cedar
 * reference implementation. */
int cs_policy_eval_each(const cs_policy_set *set, const cs_policy_request *req, int *verdicts,
                        cs_err *err);

#endif
