/* test_cedar_eval.c - Cedar evaluation semantics, operator by operator, including the
 * errors (type errors, missing attributes, overflow) that make a policy not satisfied. */
#include "helpers.h"

static void check(const char *c, const char *ctx, int want)
{
    int got = cond(c, ctx);
    if (got != want) fail_msg("when { %s } with context %s: want %d, got %d", c, ctx ? ctx : "{}", want, got);
}

static void booleans_and_short_circuit(void **state)
{
    (void)state;
    check("true && true", NULL, T);
    check("true && false", NULL, F);
    check("false && (1 + \"a\" == 2)", NULL, F); /* right side never evaluated */
    check("true || (1 + \"a\" == 2)", NULL, T);
    check("true && (1 + \"a\" == 2)", NULL, E);
    check("1 && true", NULL, E);
    check("!true", NULL, F);
    check("!1", NULL, E);
    check("if 1 < 2 then true else 1 + \"x\"", NULL, T);
    check("if 1 then true else false", NULL, E);
    check("1", NULL, E); /* a condition must be a Bool */
}

static void longs_and_overflow(void **state)
{
    (void)state;
    check("1 + 2 * 3 == 7", NULL, T);
    check("10 - 20 == -10", NULL, T);
    check("9223372036854775807 + 1 > 0", NULL, E);
    check("-9223372036854775808 - 1 < 0", NULL, E);
    check("-(-9223372036854775808) > 0", NULL, E);
    check("4611686018427387904 * 2 > 0", NULL, E);
    check("-9223372036854775808 < 0", NULL, T);
    check("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3", NULL, T);
    check("\"a\" < \"b\"", NULL, E);
    check("1 == \"1\"", NULL, F); /* == never errors across types */
    check("1 != \"1\"", NULL, T);
}

static void attributes_and_has(void **state)
{
    (void)state;
    check("principal.age == 30", NULL, T);
    check("principal.missing == 1", NULL, E);
    check("principal has age && !(principal has missing)", NULL, T);
    check("principal.manager == User::\"bob\"", NULL, T);
    check("principal.manager.age == 1", NULL, E); /* bob is not in the store */
    check("principal.manager has age", NULL, F);  /* has on an unknown entity is false */
    check("principal.addr.city == \"Paris\"", NULL, T);
    check("principal has addr.city", NULL, T);
    check("principal has addr.zip", NULL, F);
    check("principal has nope.zip", NULL, F);
    check("principal[\"name\"] like \"Al*\"", NULL, T);
    check("context.n == 5", "{\"n\":5}", T);
    check("context.n == 5", "{}", E);
    check("context has n", "{}", F);
    check("1 has a", NULL, E);
    check("context.rec.x == 1", "{\"rec\":{\"x\":1}}", T);
    check("context.rec has x", "{\"rec\":{\"x\":1}}", T);
    check("context.e == User::\"alice\"", "{\"e\":{\"__entity\":{\"type\":\"User\",\"id\":\"alice\"}}}", T);
    check("context.e.age == 30", "{\"e\":{\"__entity\":{\"type\":\"User\",\"id\":\"alice\"}}}", T);
}

static void hierarchy_in_and_is(void **state)
{
    (void)state;
    check("principal in Group::\"dba\"", NULL, T);
    check("principal in Group::\"staff\"", NULL, T); /* transitive */
    check("principal in Group::\"other\"", NULL, F);
    check("principal in principal", NULL, T);
    check("principal in [Group::\"x\", Group::\"staff\"]", NULL, T);
    check("principal in [Group::\"x\", 1]", NULL, E);
    check("1 in Group::\"x\"", NULL, E);
    check("principal in 1", NULL, E);
    check("resource in Resource::\"prod/db\"", NULL, T); /* implicit path parent */
    check("resource in Resource::\"prod\"", NULL, T);
    check("resource in Zone::\"eu\"", NULL, T); /* prod's explicit parent */
    check("resource in Resource::\"prod/d\"", NULL, F);
    check("resource in Resource::\"staging\"", NULL, F);
    check("principal is User", NULL, T);
    check("principal is Agent", NULL, F);
    check("principal is User in Group::\"staff\"", NULL, T);
    check("principal is Agent in 1", NULL, F); /* `in` not evaluated when the type differs */
    check("principal is User in 1", NULL, E);
    check("1 is User", NULL, E);
}

static void strings_and_like(void **state)
{
    (void)state;
    check("\"prod-db-1\" like \"prod-*\"", NULL, T);
    check("\"prod-db-1\" like \"*-db-*\"", NULL, T);
    check("\"prod\" like \"*prod*\"", NULL, T);
    check("\"ab\" like \"a*b*c\"", NULL, F);
    check("\"aXbXc\" like \"a*b*c\"", NULL, T);
    check("\"aa\" like \"a*a\"", NULL, T);
    check("\"a\" like \"a*a\"", NULL, F);
    check("\"a*b\" like \"a\\*b\"", NULL, T);
    check("\"axb\" like \"a\\*b\"", NULL, F);
    check("\"\" like \"*\"", NULL, T);
    check("\"héllo\" like \"h*o\"", NULL, T);
    check("1 like \"*\"", NULL, E);
}

static void sets_and_records(void **state)
{
    (void)state;
    check("[1, 2, 3].contains(2)", NULL, T);
    check("[1, 2, 3].contains(\"2\")", NULL, F);
    check("[1, 2, 3].containsAll([1, 3])", NULL, T);
    check("[1, 2, 3].containsAll([1, 4])", NULL, F);
    check("[1, 2].containsAny([4, 2])", NULL, T);
    check("[1, 2].containsAny([])", NULL, F);
    check("[].isEmpty() && ![1].isEmpty()", NULL, T);
    check("[1, 2, 2] == [2, 1]", NULL, T);
    check("[[1], {a: 1}] == [{a: 1}, [1]]", NULL, T);
    check("{a: 1, b: [2]} == {b: [2], a: 1}", NULL, T);
    check("{a: 1} == {a: 1, b: 2}", NULL, F);
    check("1.contains(1)", NULL, E);
    check("[1].containsAll(1)", NULL, E);
    check("context.tags.contains(\"x\")", "{\"tags\":[\"x\",\"y\"]}", T);
    check("context.big.contains(99)", "{\"big\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,99]}", T);
    check("context.big.contains(98)", "{\"big\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,99]}", F);
}

static void tags(void **state)
{
    (void)state;
    check("principal.hasTag(\"env\")", NULL, T);
    check("principal.getTag(\"env\") == \"prod\"", NULL, T);
    check("principal.hasTag(\"nope\")", NULL, F);
    check("principal.getTag(\"nope\") == 1", NULL, E);
    check("principal.hasTag(1)", NULL, E);
    check("User::\"ghost\".hasTag(\"env\")", NULL, F);
    check("User::\"ghost\".getTag(\"env\") == 1", NULL, E);
    check("\"x\".hasTag(\"env\")", NULL, E);
}

static void ip_extension(void **state)
{
    (void)state;
    check("ip(\"10.1.2.3\").isInRange(ip(\"10.0.0.0/8\"))", NULL, T);
    check("ip(\"11.1.2.3\").isInRange(ip(\"10.0.0.0/8\"))", NULL, F);
    check("ip(\"10.0.0.0/16\").isInRange(ip(\"10.0.0.0/8\"))", NULL, T);
    check("ip(\"10.0.0.0/8\").isInRange(ip(\"10.0.0.0/16\"))", NULL, F);
    check("ip(\"::1\").isLoopback() && ip(\"127.0.0.2\").isLoopback()", NULL, T);
    check("ip(\"224.0.0.1\").isMulticast() && ip(\"ff02::1\").isMulticast()", NULL, T);
    check("ip(\"1.2.3.4\").isIpv4() && ip(\"2001:db8::1\").isIpv6()", NULL, T);
    check("ip(\"::ffff:1.2.3.4\").isIpv6()", NULL, E); /* Cedar refuses embedded IPv4 */
    check("ip(\"2001:db8::/32\") == ip(\"2001:0db8:0:0::/32\")", NULL, T);
    check("ip(\"1.2.3.4\").isInRange(ip(\"::/0\"))", NULL, F);
    check("ip(\"01.2.3.4\").isIpv4()", NULL, E);
    check("ip(\"1.2.3.4/33\").isIpv4()", NULL, E);
    check("ip(\"1.2.3\").isIpv4()", NULL, E);
    check("ip(\"1::2::3\").isIpv6()", NULL, E);
    check("context.src.isInRange(ip(\"192.168.0.0/16\"))", "{\"src\":{\"__extn\":{\"fn\":\"ip\",\"arg\":\"192.168.1.9\"}}}", T);
    check("ip(1).isIpv4()", NULL, E);
    /* Extension arity is checked when evaluating, as in Cedar. */
    check("ip(\"1.2.3.4\", \"x\").isIpv4()", NULL, E);
    check("ip(\"1.2.3.4\").isIpv4(1)", NULL, E);
    check("ip(\"1.2.3.4\").isInRange()", NULL, E);
    check("false && ip()", NULL, F);
    check("decimal(\"1.0\").lessThan()", NULL, E);
    check("\"1.2.3.4\".isIpv4()", NULL, E);
}

static void decimal_extension(void **state)
{
    (void)state;
    check("decimal(\"1.5\").lessThan(decimal(\"1.51\"))", NULL, T);
    check("decimal(\"-1.0\").lessThanOrEqual(decimal(\"-1.0000\"))", NULL, T);
    check("decimal(\"2.0\").greaterThan(decimal(\"1.9999\"))", NULL, T);
    check("decimal(\"2.0\").greaterThanOrEqual(decimal(\"2.00001\"))", NULL, E); /* five digits */
    check("decimal(\"1.0\") == decimal(\"1.0000\")", NULL, T);
    check("decimal(\"922337203685477.5807\").greaterThan(decimal(\"0.0\"))", NULL, T);
    check("decimal(\"922337203685477.5808\").greaterThan(decimal(\"0.0\"))", NULL, E);
    check("decimal(\"-922337203685477.5808\").lessThan(decimal(\"0.0\"))", NULL, T);
    check("decimal(\"1\").lessThan(decimal(\"2.0\"))", NULL, E);
    check("decimal(\"1.0\") < decimal(\"2.0\")", NULL, E);
    check("decimal(\"1.0\").lessThan(1)", NULL, E);
    check("context.d.greaterThan(decimal(\"0.5\"))", "{\"d\":{\"__extn\":{\"fn\":\"decimal\",\"arg\":\"0.75\"}}}", T);
}

static void scope_and_conditions(void **state)
{
    (void)state;
    const char *ents = "[{\"uid\":{\"type\":\"Action\",\"id\":\"db.read\"},\"attrs\":{},\"parents\":[{\"type\":\"Action\",\"id\":\"reads\"}]}]";
    assert_int_equal(verdict_ctx("permit(principal, action in Action::\"reads\", resource);", ents, "User::\"a\"",
                                 "Action::\"db.read\"", "Resource::\"x\"", NULL), T);
    assert_int_equal(verdict_ctx("permit(principal, action in [Action::\"w\", Action::\"reads\"], resource);", ents,
                                 "User::\"a\"", "Action::\"db.read\"", "Resource::\"x\"", NULL), T);
    assert_int_equal(verdict_ctx("permit(principal == User::\"b\", action, resource);", NULL, "User::\"a\"",
                                 "Action::\"x\"", "Resource::\"x\"", NULL), F);
    assert_int_equal(verdict_ctx("permit(principal, action, resource is Resource in Resource::\"prod\");", NULL,
                                 "User::\"a\"", "Action::\"x\"", "Resource::\"prod/a/b\"", NULL), T);
    /* Conditions are evaluated in order: a false `when` hides a later error. */
    assert_int_equal(verdict_ctx("permit(principal, action, resource) when { false } when { 1 + \"a\" == 0 };", NULL,
                                 "User::\"a\"", "Action::\"x\"", "Resource::\"x\"", NULL), F);
    assert_int_equal(verdict_ctx("permit(principal, action, resource) unless { true } when { 1 + \"a\" == 0 };", NULL,
                                 "User::\"a\"", "Action::\"x\"", "Resource::\"x\"", NULL), F);
    assert_int_equal(verdict_ctx("permit(principal, action, resource) unless { 1 };", NULL, "User::\"a\"",
                                 "Action::\"x\"", "Resource::\"x\"", NULL), E);
    /* Scope mismatch means no error even if the condition would error. */
    assert_int_equal(verdict_ctx("permit(principal is Agent, action, resource) when { 1 + \"a\" == 0 };", NULL,
                                 "User::\"a\"", "Action::\"x\"", "Resource::\"x\"", NULL), F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(booleans_and_short_circuit), cmocka_unit_test(longs_and_overflow),
        cmocka_unit_test(attributes_and_has),         cmocka_unit_test(hierarchy_in_and_is),
        cmocka_unit_test(strings_and_like),           cmocka_unit_test(sets_and_records),
        cmocka_unit_test(tags),                       cmocka_unit_test(ip_extension),
        cmocka_unit_test(decimal_extension),          cmocka_unit_test(scope_and_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
