/* test_cedar_parse.c - the Cedar grammar: what parses, and what errors say (file:line:col
 * and what was expected), including hostile inputs. */
#include "helpers.h"

#include "util/alloc.h"

static void accepts_full_grammar(void **state)
{
    (void)state;
    const char *ok[] = {
        "permit(principal, action, resource);",
        "forbid(principal == User::\"a\", action == Action::\"x\", resource == Resource::\"r\");",
        "permit(principal in Group::\"g\", action in [Action::\"a\", Action::\"b\",], resource in Resource::\"prod\");",
        "permit(principal is User, action in Action::\"grp\", resource is Resource in Resource::\"prod\");",
        "permit(principal is Ns::User in Ns::Group::\"g\", action, resource);",
        "@id(\"x\") @reason(\"why\") @flag permit(principal, action, resource) when { true } unless { false };",
        "permit(principal, action, resource) when { if context.a then 1 < 2 else !(3 >= 4) };",
        "permit(principal, action, resource) when { -9223372036854775808 < 9223372036854775807 };",
        "permit(principal, action, resource) when { [1, \"a\", [true], {k: 1, \"s p\": 2}].contains(1) };",
        "permit(principal, action, resource) when { context has a.b.c && context[\"a\"].b has \"c\" };",
        "permit(principal, action, resource) when { \"x*y\" like \"x\\\\*y*\" };",
        "permit(principal, action, resource) when { ip(\"10.0.0.1\").isInRange(ip(\"10.0.0.0/8\")) };",
        "permit(principal, action, resource) when { decimal(\"1.23\").lessThan(decimal(\"2.0\")) };",
        "permit(principal, action, resource) when { principal.hasTag(\"t\") && principal.getTag(\"t\") == 1 };",
        "permit(principal, action, resource) when { principal is User in Group::\"g\" };",
        "permit(principal, action, resource) when { !!!!true && ----1 == 1 };",
        "permit(principal, action, resource) when { \"\\u{1F600}\\n\\t\\x41\\0\" != \"\" };",
        "// comment\npermit(principal, action, resource); // trailing\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *e = parse_error(ok[i]);
        if (*e) fail_msg("case %zu should parse: %s\n  %s", i, ok[i], e);
    }
}

static void expect_error(const char *text, const char *want)
{
    const char *got = parse_error(text);
    if (strstr(got, want) == NULL) fail_msg("for %s\n  want error containing: %s\n  got: %s", text, want, got);
}

static void errors_name_position_and_expectation(void **state)
{
    (void)state;
    expect_error("permit(principal, action, resource)", "1:36: expected 'when', 'unless' or ';'");
    expect_error("permit(principal action, resource);", "1:18: expected ',' after the principal");
    expect_error("allow(principal, action, resource);", "1:1: expected 'permit' or 'forbid'");
    expect_error("permit(principal, action, resource)\n  when { 1 + };", "2:14: expected an expression");
    expect_error("permit(principal, action, resource) when { context.x = 1 };", "'=' is not an operator");
    expect_error("permit(principal, action, resource) when { 1 < 2 < 3 };", "expected '}'");
    expect_error("permit(principal, action, resource) when { 1 + if true then 1 else 2 };", "in parentheses");
    expect_error("permit(principal, action, resource) when { 9223372036854775808 == 0 };", "out of range");
    expect_error("permit(principal, action, resource) when { \"abc };", "unterminated string");
    expect_error("permit(principal, action, resource) when { \"\\q\" };", "invalid escape");
    expect_error("permit(principal, action, resource) when { [1].frob(2) };", "unknown method 'frob'");
    expect_error("permit(principal, action, resource) when { [1].contains() };", "'contains' takes 1 argument");
    expect_error("permit(principal, action, resource) when { foo(1) };", "unknown function 'foo'");
    expect_error("permit(principal, action, resource) when { {a: 1, a: 2} == {} };", "duplicate key");
    expect_error("@id(\"a\") @id(\"b\") permit(principal, action, resource);", "duplicate annotation");
    expect_error("permit(principal == ?principal, action, resource);", "templates");
    expect_error("permit(principal, action == User::\"x\", resource);", "Action entities");
    expect_error("permit(principal, action in [Action::\"a\", User::\"x\"], resource);", "Action entities");
    expect_error("permit(principal, action, resource) when { !!!!!true };", "too many unary");
    expect_error("permit(principal, action, resource) when { context.if };", "attribute or method name");
    expect_error("@quorum(\"two\") @approval(\"dba\") permit(principal, action, resource);", "@quorum must be");
    expect_error("@timeout(\"soon\") permit(principal, action, resource);", "@timeout must be");
    expect_error("@approval(\"\") permit(principal, action, resource);", "@approval needs");
    expect_error("@id(\"x\") permit(principal, action, resource); @id(\"x\") forbid(principal, action, resource);",
                 "duplicate policy id");
    expect_error("permit(principal, action, resource) when { \"\xff\" };", "invalid UTF-8");
}

static void every_bad_policy_is_reported(void **state)
{
    (void)state;
    const char *text = "permit(principal, action, resource) when { 1 + };\n"
                       "permit(principal, action, resource);\n"
                       "forbid(principal, action resource);\n";
    cs_policy_set *set = NULL;
    cs_policy_diags d;
    cs_policy_diags_init(&d);
    assert_int_equal(cs_policy_set_parse(text, strlen(text), "f.cedar", NULL, &set, &d), CS_EPARSE);
    assert_null(set);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.items[0].line, 1);
    assert_int_equal(d.items[1].line, 3);
    assert_string_equal(d.items[1].file, "f.cedar");
    cs_policy_diags_free(&d);
}

static char *repeat(const char *a, size_t n, const char *mid, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = cs_malloc(la * n + lm + lb * n + 1), *p = s;
    for (size_t i = 0; i < n; i++, p += la) memcpy(p, a, la);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
    *p = '\0';
    return s;
}

static void hostile_inputs_error_without_crashing(void **state)
{
    (void)state;
    /* 100,000 nested parentheses, brackets and records. */
    const char *shapes[][2] = {{"(", ")"}, {"[", "]"}, {"{a:", "}"}, {"if true then ", " else 1"}};
    for (size_t s = 0; s < 4; s++) {
        char *inner = repeat(shapes[s][0], 100000, "1", shapes[s][1]);
        char *text = cs_sprintf("permit(principal, action, resource) when { %s };", inner);
        expect_error(text, "nested too deeply");
        free(inner);
        free(text);
    }
    /* A flat chain of 100,000 additions has no nesting but a very tall tree. */
    char *chain = repeat("1 + ", 100000, "1", "");
    char *text = cs_sprintf("permit(principal, action, resource) when { %s > 0 };", chain);
    expect_error(text, "expression too large");
    free(chain);
    free(text);
    /* Attribute chains are just as tall. */
    char *dots = repeat(".a", 100000, "", "");
    text = cs_sprintf("permit(principal, action, resource) when { context%s };", dots);
    expect_error(text, "expression too large");
    free(dots);
    free(text);
}

static void huge_file_is_refused(void **state)
{
    (void)state;
    size_t n = CS_POLICY_MAX_FILE_BYTES + 1;
    char *text = cs_malloc(n + 1);
    memset(text, ' ', n);
    text[n] = '\0';
    cs_policy_set *set = NULL;
    cs_policy_diags d;
    cs_policy_diags_init(&d);
    assert_int_equal(cs_policy_set_parse(text, n, "big.cedar", NULL, &set, &d), CS_ETOOBIG);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].msg, "too large"));
    cs_policy_diags_free(&d);
    free(text);
}

static void uid_parse(void **state)
{
    (void)state;
    char *t, *i;
    assert_int_equal(cs_uid_parse("Agent::\"demo-agent\"", &t, &i, NULL), 0);
    assert_string_equal(t, "Agent");
    assert_string_equal(i, "demo-agent");
    free(t), free(i);
    assert_int_equal(cs_uid_parse("A::B::\"x\\\"y\"", &t, &i, NULL), 0);
    assert_string_equal(t, "A::B");
    assert_string_equal(i, "x\"y");
    free(t), free(i);
    assert_int_equal(cs_uid_parse("Agent", &t, &i, NULL), CS_EINVAL);
    assert_int_equal(cs_uid_parse("::\"x\"", &t, &i, NULL), CS_EINVAL);
    assert_int_equal(cs_uid_parse("Ag ent::\"x\"", &t, &i, NULL), CS_EINVAL);
    assert_int_equal(cs_uid_parse("Agent::\"x", &t, &i, NULL), CS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_full_grammar),
        cmocka_unit_test(errors_name_position_and_expectation),
        cmocka_unit_test(every_bad_policy_is_reported),
        cmocka_unit_test(hostile_inputs_error_without_crashing),
        cmocka_unit_test(huge_file_is_refused),
        cmocka_unit_test(uid_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
