/* cedar_ast.h - the parsed form of Cedar policies (Cedar language reference: policy
 * grammar). Every node lives in the policy set's arena. */
#ifndef CS_POLICY_CEDAR_AST_H
#define CS_POLICY_CEDAR_AST_H

#include "policy/cedar_value.h"

typedef enum cs_expr_kind {
    CS_X_LIT,     /* constant value */
    CS_X_VAR,     /* principal, action, resource, context */
    CS_X_NOT,
    CS_X_NEG,
    CS_X_AND,
    CS_X_OR,
    CS_X_IF,
    CS_X_EQ,
    CS_X_NE,
    CS_X_LT,
    CS_X_LE,
    CS_X_GT,
    CS_X_GE,
    CS_X_IN,
    CS_X_ADD,
    CS_X_SUB,
    CS_X_MUL,
    CS_X_HAS,     /* a has attr (one step; `has a.b` is desugared into &&) */
    CS_X_LIKE,
    CS_X_IS,      /* a is T [in b] */
    CS_X_ATTR,    /* a.attr, a["attr"] */
    CS_X_SET,
    CS_X_RECORD,
    CS_X_METHOD,  /* a.name(args) */
    CS_X_CALL,    /* ip("..."), decimal("...") */
} cs_expr_kind;

typedef enum cs_var { CS_VAR_PRINCIPAL, CS_VAR_ACTION, CS_VAR_RESOURCE, CS_VAR_CONTEXT } cs_var;

typedef enum cs_fn {
    CS_FN_CONTAINS,
    CS_FN_CONTAINS_ALL,
    CS_FN_CONTAINS_ANY,
    CS_FN_IS_EMPTY,
    CS_FN_HAS_TAG,
    CS_FN_GET_TAG,
    CS_FN_IS_IPV4,
    CS_FN_IS_IPV6,
    CS_FN_IS_LOOPBACK,
    CS_FN_IS_MULTICAST,
    CS_FN_IS_IN_RANGE,
    CS_FN_LESS_THAN,
    CS_FN_LESS_THAN_OR_EQUAL,
    CS_FN_GREATER_THAN,
    CS_FN_GREATER_THAN_OR_EQUAL,
    CS_FN_IP,
    CS_FN_DECIMAL,
} cs_fn;

typedef struct cs_expr cs_expr;
struct cs_expr {
    cs_expr_kind kind;
    int line, col;
    int height; /* 1 + tallest child: bounds the evaluator's recursion */
    union {
        const cs_value *lit;
        cs_var var;
        struct {
            const cs_expr *a, *b, *c; /* operands (c: else branch of if) */
        } op;
        struct {
            const cs_expr *a;
            cs_str attr;
        } attr; /* ATTR and HAS */
        struct {
            const cs_expr *a;
            const cs_str *parts; /* pattern pieces between wildcards */
            size_t n_parts;      /* n_parts-1 wildcards */
        } like;
        struct {
            const cs_expr *a;
            cs_str type;
            const cs_expr *in; /* NULL without `in` */
        } is;
        struct {
            const cs_expr **items;
            const cs_str *keys; /* records only */
            size_t n;
        } list; /* SET and RECORD */
        struct {
            cs_fn fn;
            const cs_expr *self; /* NULL for CALL */
            const cs_expr **args;
            size_t n;
        } call;
    } u;
};

/* Scope constraints. */
typedef enum cs_scope_op {
    CS_SCOPE_ANY,
    CS_SCOPE_EQ,    /* == uid */
    CS_SCOPE_IN,    /* in uid */
    CS_SCOPE_IS,    /* is T */
    CS_SCOPE_IS_IN, /* is T in uid */
    CS_SCOPE_IN_LIST, /* action in [uids] */
} cs_scope_op;

typedef struct cs_scope {
    cs_scope_op op;
    const cs_uid *uid;
    cs_str type;
    const cs_uid **list;
    size_t n_list;
} cs_scope;

typedef struct cs_annotation {
    cs_str key, value;
} cs_annotation;

typedef struct cs_policy {
    int effect; /* enum cs_effect */
    cs_scope principal, action, resource;
    const cs_expr **conds; /* `unless` bodies are wrapped in CS_X_NOT */
    size_t n_conds;
    cs_annotation *annotations;
    size_t n_annotations;
    const char *file;
    int line, col;
} cs_policy;

#endif
