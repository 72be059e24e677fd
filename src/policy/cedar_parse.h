/* cedar_parse.h - the Cedar policy parser: text -> cs_policy ASTs in an arena. */
#ifndef CS_POLICY_CEDAR_PARSE_H
#define CS_POLICY_CEDAR_PARSE_H

#include "policy/cedar_ast.h"
#include "policy/cedar_lex.h"
#include "policy/policy.h"

typedef struct cs_policy_vec {
    cs_policy **items;
    size_t n, cap;
} cs_policy_vec;

/* Parses every policy in src and appends it to out. On syntax errors it records one
 * diagnostic per bad policy (file:line:col and what was expected), skips to the next
 * policy, and returns CS_EPARSE at the end. */
int cs_cedar_parse(cs_arena *a, const char *src, size_t len, const char *file, cs_policy_vec *out,
                   cs_policy_diags *diags);

/* Decodes the escapes of a Cedar string literal body. With `pattern`, `\*` becomes a
 * literal star and a bare `*` splits the pattern (pieces written to parts, NULL ok).
 * Returns 0 or -1 with *why set. */
int cs_cedar_unescape(cs_arena *a, const char *p, size_t n, cs_str *out, const char **why);

#endif
