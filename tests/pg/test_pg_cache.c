/* test_pg_cache.c - allowed decisions are reused only for the same principal and
 * fingerprint, under the policy version and freezes they were made with, while the
 * gateway keeps confirming them, and within the TTL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "proxy/pg_cache.h"

static void test_hit_and_keys(void **state)
{
    cs_pg_cache *c = cs_pg_cache_new(1024, 30000);
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){0, 0}, 1000);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1000));
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1000);
    assert_true(cs_pg_cache_hit(c, "agent", 42, 1500));
    assert_false(cs_pg_cache_hit(c, "other", 42, 1500)); /* another principal */
    assert_false(cs_pg_cache_hit(c, "agent", 43, 1500)); /* another fingerprint */
    cs_pg_cache_stats st = cs_pg_cache_get_stats(c);
    assert_int_equal(st.hits, 1);
    cs_pg_cache_free(c);
}

static void test_version_change_flushes(void **state)
{
    cs_pg_cache *c = cs_pg_cache_new(1024, 30000);
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){0, 0}, 1000);
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1000);
    cs_pg_cache_set_version(c, "v2", &(cs_pg_epochs){0, 0}, 1100);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1200));
    /* A decision made under the old version is not stored under the new one. */
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1200);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1300));
    cs_pg_cache_put(c, "agent", 42, "v2", cs_pg_cache_generation(c), 1300);
    assert_true(cs_pg_cache_hit(c, "agent", 42, 1400));
    cs_pg_cache_free(c);
}

/* A freeze (or unfreeze) anywhere changes the gateway's freeze epoch: nothing cached
 * before it is a hit after it, and a decision asked for before it is not stored. */
static void test_freeze_epoch_flushes(void **state)
{
    cs_pg_cache *c = cs_pg_cache_new(1024, 30000);
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){7, 0}, 1000);
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1000);
    assert_true(cs_pg_cache_hit(c, "agent", 42, 1100));
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){7, 0}, 1200); /* confirmed, unchanged: kept */
    assert_true(cs_pg_cache_hit(c, "agent", 42, 1300));
    unsigned asked = cs_pg_cache_generation(c);                    /* a decision is asked for ... */
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){8, 0}, 1400); /* ... a freeze comes in ... */
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1500));
    cs_pg_cache_put(c, "agent", 42, "v1", asked, 1600); /* ... then its answer */
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1700));
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1800);
    assert_true(cs_pg_cache_hit(c, "agent", 42, 1900));
    /* A token created, rotated or revoked empties it the same way. */
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){8, 1}, 2000);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 2100));
    assert_int_equal(cs_pg_cache_get_stats(c).flushes, 3);
    cs_pg_cache_free(c);
}

static void test_unconfirmed_version_and_ttl(void **state)
{
    cs_pg_cache *c = cs_pg_cache_new(1024, 5000);
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){0, 0}, 1000);
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1000);
    /* The probe stopped confirming the version: no hits. */
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1000 + 10000));
    cs_pg_cache_set_version(c, NULL, &(cs_pg_epochs){0, 0}, 1200);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1300));
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){0, 0}, 1400);
    assert_true(cs_pg_cache_hit(c, "agent", 42, 1500));
    /* TTL */
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){0, 0}, 6500);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 6500));
    cs_pg_cache_free(c);
}

static void test_disabled(void **state)
{
    cs_pg_cache *c = cs_pg_cache_new(0, 5000);
    cs_pg_cache_set_version(c, "v1", &(cs_pg_epochs){0, 0}, 1000);
    cs_pg_cache_put(c, "agent", 42, "v1", cs_pg_cache_generation(c), 1000);
    assert_false(cs_pg_cache_hit(c, "agent", 42, 1000));
    cs_pg_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_keys),
        cmocka_unit_test(test_version_change_flushes),
        cmocka_unit_test(test_freeze_epoch_flushes),
        cmocka_unit_test(test_unconfirmed_version_and_ttl),
        cmocka_unit_test(test_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
