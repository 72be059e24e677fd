/* test_audit_tile.c - C2SP tlog-tiles paths and entry bundles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_tile.h"
#include "util/error.h"

#include <string.h>

static void check_path(int level, uint64_t index, unsigned width, const char *want)
{
    cs_buf b;
    cs_buf_init(&b, 256);
    cs_audit_tile_ref ref = {level, index, width}, back;
    assert_int_equal(cs_audit_tile_path(&b, &ref), 0);
    assert_string_equal(b.data, want);
    assert_int_equal(cs_audit_tile_path_parse(b.data, b.len, &back), 0);
    assert_int_equal(back.level, level);
    assert_true(back.index == index);
    assert_int_equal(back.width, width);
    cs_buf_free(&b);
}

static void test_paths(void **state)
{
    check_path(0, 0, 256, "tile/0/000");
    check_path(0, 1234067, 256, "tile/0/x001/x234/067");
    check_path(1, 1000, 256, "tile/1/x001/000");
    check_path(2, 999, 7, "tile/2/999.p/7");
    check_path(CS_AUDIT_LEVEL_ENTRIES, 1234067, 255, "tile/entries/x001/x234/067.p/255");
    check_path(CS_AUDIT_LEVEL_ENTRIES, 5, 1, "tile/entries/005.p/1");
    check_path(63, UINT64_MAX, 256, "tile/63/x018/x446/x744/x073/x709/x551/615");
}

static void test_bad_paths(void **state)
{
    static const char *bad[] = {
        "tile/0/00",
        "tile/0/0000",
        "tile/00/000",
        "tile/64/000",
        "tile/0/x000/001",
        "tile/0/001/002",
        "tile/0/x001",
        "tile/0/x001/",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/07",
        "tile/0/000.p/",
        "tile/0/000.p/5/",
        "tile/0/000x",
        "tile/entries/",
        "tile/entries/x1/000",
        "tiles/0/000",
        "tile/-1/000",
        "tile//000",
        "tile/0/abc",
        "tile/0/x018/x446/x744/x073/x709/x551/616", /* overflows uint64 */
        "tile/0/x001/x001/x001/x001/x001/x001/x001/001",
        "",
    };
    cs_audit_tile_ref ref;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = cs_audit_tile_path_parse(bad[i], strlen(bad[i]), &ref);
        if (rc != CS_EPARSE) fail_msg("accepted bad path \"%s\"", bad[i]);
    }
}

static void test_bundles(void **state)
{
    cs_buf b;
    cs_buf_init(&b, 1 << 20);
    assert_int_equal(cs_audit_bundle_add(&b, "abc", 3), 0);
    assert_int_equal(cs_audit_bundle_add(&b, "", 0), 0);
    static char big[CS_AUDIT_ENTRY_MAX + 1];
    memset(big, 'z', sizeof big);
    assert_int_equal(cs_audit_bundle_add(&b, big, CS_AUDIT_ENTRY_MAX), 0);
    assert_int_equal(cs_audit_bundle_add(&b, big, CS_AUDIT_ENTRY_MAX + 1), CS_ETOOBIG);
    assert_int_equal(b.len, 2 + 3 + 2 + 2 + CS_AUDIT_ENTRY_MAX);
    assert_memory_equal(b.data,
                        "\x00\x03"
                        "abc"
                        "\x00\x00"
                        "\xff\xff",
                        9);

    cs_audit_bundle_iter it;
    const uint8_t *e;
    size_t len;
    cs_audit_bundle_iter_init(&it, b.data, b.len);
    assert_int_equal(cs_audit_bundle_next(&it, &e, &len), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(e, "abc", 3);
    assert_int_equal(cs_audit_bundle_next(&it, &e, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(cs_audit_bundle_next(&it, &e, &len), 1);
    assert_int_equal(len, CS_AUDIT_ENTRY_MAX);
    assert_int_equal(cs_audit_bundle_next(&it, &e, &len), 0);

    /* Truncations anywhere are errors, never reads past the end. */
    for (size_t cut = 1; cut < 9; cut++) {
        if (cut == 5 || cut == 7) continue; /* entry boundaries */
        cs_audit_bundle_iter_init(&it, b.data, cut);
        int rc;
        while ((rc = cs_audit_bundle_next(&it, &e, &len)) == 1) {
        }
        assert_int_equal(rc, CS_EPARSE);
    }
    /* A full buffer refuses an entry and stays as it was. */
    cs_buf small;
    cs_buf_init(&small, 6);
    assert_int_equal(cs_audit_bundle_add(&small, "abcd", 4), 0);
    assert_int_equal(cs_audit_bundle_add(&small, "x", 1), CS_ETOOBIG);
    assert_int_equal(small.len, 6);
    cs_buf_free(&small);
    cs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_bundles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
