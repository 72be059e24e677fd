/* test_audit_tree.c - RFC 6962 hashing, the tiled tree, roots and proofs against a naive
 * recursive Merkle tree hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_memstore.h"
#include "audit/audit_tree.h"
#include "util/alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H CS_AUDIT_HASH_LEN

static void entry_text(uint64_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "{\"index\":%llu,\"event\":\"test\"}", (unsigned long long)i);
}

/* Leaf hashes of entries 0..n-1. */
static uint8_t *leaves(uint64_t n)
{
    uint8_t *l = cs_malloc((size_t)n * H + 1);
    char buf[64];
    for (uint64_t i = 0; i < n; i++) {
        entry_text(i, buf, sizeof buf);
        cs_audit_leaf_hash(buf, strlen(buf), l + i * H);
    }
    return l;
}

/* MTH straight from RFC 6962 section 2.1. */
static void naive_mth(const uint8_t *l, uint64_t n, uint8_t out[H])
{
    if (n == 1) {
        memcpy(out, l, H);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t a[H], b[H];
    naive_mth(l, k, a);
    naive_mth(l + k * H, n - k, b);
    cs_audit_node_hash(a, b, out);
}

typedef struct fixture {
    cs_audit_memstore *m;
    cs_audit_tree *t;
} fixture;

static void build(fixture *f, uint64_t n)
{
    cs_audit_tile_reader r;
    f->m = cs_audit_memstore_new();
    cs_audit_memstore_reader(f->m, &r);
    f->t = cs_audit_tree_new(&r, cs_audit_memstore_sink, f->m);
    char buf[64];
    for (uint64_t i = 0; i < n; i++) {
        entry_text(i, buf, sizeof buf);
        assert_int_equal(cs_audit_memstore_add(f->m, buf, strlen(buf)), 0);
        assert_int_equal(cs_audit_tree_append(f->t, buf, strlen(buf)), 0);
    }
}

static void drop(fixture *f)
{
    cs_audit_tree_free(f->t);
    cs_audit_memstore_free(f->m);
}

static void test_known_hashes(void **state)
{
    /* RFC 6962 test vectors as used by Certificate Transparency implementations: the
     * empty tree and the leaf hash of the empty entry. */
    static const uint8_t empty[H] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                     0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                     0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                     0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    static const uint8_t leaf_empty[H] = {0x6e, 0x34, 0x0b, 0x9c, 0xff, 0xb3, 0x7a, 0x98,
                                          0x9c, 0xa5, 0x44, 0xe6, 0xbb, 0x78, 0x0a, 0x2c,
                                          0x78, 0x90, 0x1d, 0x3f, 0xb3, 0x37, 0x38, 0x76,
                                          0x85, 0x11, 0xa3, 0x06, 0x17, 0xaf, 0xa0, 0x1d};
    uint8_t out[H];
    cs_audit_empty_root(out);
    assert_memory_equal(out, empty, H);
    cs_audit_leaf_hash("", 0, out);
    assert_memory_equal(out, leaf_empty, H);
    /* Leaf hashes of all sizes agree with libsodium's independent SHA-256 of
     * 0x00 || entry. */
    size_t sizes[] = {1, 2046, 2047, 2048, 100000};
    uint8_t *e = cs_malloc(100001);
    for (size_t i = 0; i < 100001; i++)
        e[i] = (uint8_t)(i * 7);
    e[0] = 0x00;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t want[H];
        crypto_hash_sha256(want, e, sizes[i] + 1);
        cs_audit_leaf_hash(e + 1, sizes[i], out);
        assert_memory_equal(out, want, H);
    }
    free(e);
}

static void test_roots_all_sizes(void **state)
{
    const uint64_t n = 1100;
    uint8_t *l = leaves(n);
    fixture f;
    build(&f, n);
    uint8_t want[H], got[H];
    for (uint64_t s = 1; s <= n; s++) {
        naive_mth(l, s, want);
        assert_int_equal(cs_audit_tree_root(f.t, s, got, NULL), 0);
        assert_memory_equal(got, want, H);
    }
    cs_audit_empty_root(want);
    assert_int_equal(cs_audit_tree_root(f.t, 0, got, NULL), 0);
    assert_memory_equal(got, want, H);
    assert_int_equal(cs_audit_tree_root(f.t, n + 1, got, NULL), CS_ENOTFOUND);
    drop(&f);
    free(l);
}

static void test_growing_root(void **state)
{
    /* The root after each append, not only of earlier sizes at the end. */
    const uint64_t n = 600;
    uint8_t *l = leaves(n);
    fixture f;
    build(&f, 0);
    char buf[64];
    uint8_t want[H], got[H];
    for (uint64_t i = 0; i < n; i++) {
        entry_text(i, buf, sizeof buf);
        cs_audit_memstore_add(f.m, buf, strlen(buf));
        assert_int_equal(cs_audit_tree_append(f.t, buf, strlen(buf)), 0);
        naive_mth(l, i + 1, want);
        assert_int_equal(cs_audit_tree_root(f.t, i + 1, got, NULL), 0);
        assert_memory_equal(got, want, H);
    }
    drop(&f);
    free(l);
}

static void test_inclusion_proofs(void **state)
{
    const uint64_t n = 530;
    uint8_t *l = leaves(n);
    fixture f;
    build(&f, n);
    uint8_t proof[CS_AUDIT_PROOF_MAX * H], root[H];
    size_t count;
    static const uint64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 512, 513, 530};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        uint64_t s = sizes[si];
        naive_mth(l, s, root);
        for (uint64_t i = 0; i < s; i++) {
            assert_int_equal(cs_audit_tree_inclusion_proof(f.t, i, s, proof, &count, NULL), 0);
            assert_int_equal(cs_audit_verify_inclusion(l + i * H, i, s, proof, count, root), 0);
            /* The same proof must not prove another index or another leaf. */
            if (s > 1) {
                uint64_t j = (i + 1) % s;
                assert_int_equal(cs_audit_verify_inclusion(l + j * H, i, s, proof, count, root),
                                 CS_EAUTH);
                assert_int_equal(cs_audit_verify_inclusion(l + i * H, j, s, proof, count, root),
                                 CS_EAUTH);
            }
            if (count > 0) {
                proof[0] ^= 1;
                assert_int_equal(cs_audit_verify_inclusion(l + i * H, i, s, proof, count, root),
                                 CS_EAUTH);
                assert_int_equal(cs_audit_verify_inclusion(l + i * H, i, s, proof, count - 1, root),
                                 CS_EAUTH);
            }
        }
    }
    assert_int_equal(cs_audit_tree_inclusion_proof(f.t, 5, 5, proof, &count, NULL), CS_ENOTFOUND);
    drop(&f);
    free(l);
}

static void test_consistency_proofs(void **state)
{
    const uint64_t n = 530;
    uint8_t *l = leaves(n);
    fixture f;
    build(&f, n);
    uint8_t proof[CS_AUDIT_PROOF_MAX * H], r1[H], r2[H];
    size_t count;
    static const uint64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 512, 513, 530};
    size_t ns = sizeof sizes / sizeof *sizes;
    for (size_t a = 0; a < ns; a++) {
        for (size_t b = a; b < ns; b++) {
            uint64_t s1 = sizes[a], s2 = sizes[b];
            naive_mth(l, s1, r1);
            naive_mth(l, s2, r2);
            assert_int_equal(cs_audit_tree_consistency_proof(f.t, s1, s2, proof, &count, NULL), 0);
            assert_int_equal(cs_audit_verify_consistency(s1, r1, s2, r2, proof, count), 0);
            if (s1 != s2) {
                /* A wrong old root, or a tampered proof, must fail. */
                uint8_t bad[H];
                naive_mth(l, s1 == 1 ? 2 : s1 - 1, bad);
                assert_int_equal(cs_audit_verify_consistency(s1, bad, s2, r2, proof, count),
                                 CS_EAUTH);
                proof[(count - 1) * H] ^= 0x80;
                assert_int_equal(cs_audit_verify_consistency(s1, r1, s2, r2, proof, count),
                                 CS_EAUTH);
            }
        }
    }
    uint8_t empty[H];
    cs_audit_empty_root(empty);
    assert_int_equal(cs_audit_verify_consistency(0, empty, 5, r2, NULL, 0), 0);
    assert_int_equal(cs_audit_verify_consistency(0, r1, 5, r2, NULL, 0), CS_EAUTH);
    assert_int_equal(cs_audit_verify_consistency(6, r1, 5, r2, NULL, 0), CS_EAUTH);
    assert_int_equal(cs_audit_tree_consistency_proof(f.t, 0, 5, proof, &count, NULL), CS_EINVAL);
    assert_int_equal(cs_audit_tree_consistency_proof(f.t, 5, n + 1, proof, &count, NULL),
                     CS_EINVAL);
    drop(&f);
    free(l);
}

static void test_restore_then_grow(void **state)
{
    /* The current root comes from the compact range kept by appends: a tree restored
     * at any size must rebuild it so that its roots stay right as it grows. */
    const uint64_t n = 1300;
    static const uint64_t at[] = {1, 2, 3, 255, 256, 257, 511, 512, 513, 1024, 1200};
    uint8_t *l = leaves(n);
    fixture f;
    build(&f, n);
    char buf[64];
    uint8_t want[H], got[H];
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        cs_audit_tile_reader r;
        cs_audit_memstore_reader(f.m, &r);
        cs_audit_tree *t = cs_audit_tree_new(&r, NULL, NULL);
        assert_int_equal(cs_audit_tree_restore(t, at[i], NULL), 0);
        for (uint64_t s = at[i]; s < at[i] + 100 && s <= n; s++) {
            naive_mth(l, s, want);
            assert_int_equal(cs_audit_tree_root(t, s, got, NULL), 0);
            assert_memory_equal(got, want, H);
            entry_text(s, buf, sizeof buf);
            assert_int_equal(cs_audit_tree_append(t, buf, strlen(buf)), 0);
        }
        cs_audit_tree_free(t);
    }
    drop(&f);
    free(l);
}

static void test_tiles_and_restore(void **state)
{
    /* Past two levels of tiles: 65536 + 300 entries. */
    const uint64_t n = 65536 + 300;
    uint8_t *l = leaves(n);
    fixture f;
    build(&f, n);
    uint8_t tile[CS_AUDIT_TILE_BYTES], want[H], got[H];
    /* Level 0 tile 3 = leaf hashes 768..1023; level 1 tile 0 hash 5 = root of leaves 1280..1535. */
    assert_int_equal(cs_audit_tree_tile(f.t, 0, 3, 256, tile, NULL), 0);
    assert_memory_equal(tile, l + 768 * H, 256 * H);
    assert_int_equal(cs_audit_tree_tile(f.t, 1, 0, 256, tile, NULL), 0);
    naive_mth(l + 1280 * H, 256, want);
    assert_memory_equal(tile + 5 * H, want, H);
    /* Right edge: level 0 tile 257 has 44 hashes, level 1 tile 1 has 1, level 2 tile 0 has 1. */
    assert_int_equal(cs_audit_tree_tile(f.t, 0, 257, 44, tile, NULL), 0);
    assert_memory_equal(tile, l + 257 * 256 * H, 44 * H);
    assert_int_equal(cs_audit_tree_tile(f.t, 0, 257, 45, tile, NULL), CS_ENOTFOUND);
    assert_int_equal(cs_audit_tree_tile(f.t, 1, 1, 1, tile, NULL), 0);
    assert_int_equal(cs_audit_tree_tile(f.t, 1, 1, 2, tile, NULL), CS_ENOTFOUND);
    assert_int_equal(cs_audit_tree_tile(f.t, 2, 0, 1, tile, NULL), 0);
    naive_mth(l, 65536, want);
    assert_memory_equal(tile, want, H);
    assert_int_equal(cs_audit_tree_tile(f.t, 3, 0, 1, tile, NULL), CS_ENOTFOUND);
    /* An older width of a full tile is its prefix. */
    assert_int_equal(cs_audit_tree_tile(f.t, 0, 0, 7, tile, NULL), 0);
    assert_memory_equal(tile, l, 7 * H);
    assert_int_equal(cs_audit_partial_width(n, 0), 44);
    assert_int_equal(cs_audit_tile_levels(n), 3);

    /* A restored tree (upper edges recomputed from stored tiles) continues identically. */
    cs_audit_tile_reader r;
    cs_audit_memstore_reader(f.m, &r);
    cs_audit_tree *t2 = cs_audit_tree_new(&r, NULL, NULL);
    assert_int_equal(cs_audit_tree_restore(t2, n, NULL), 0);
    assert_int_equal(cs_audit_tree_size(t2), n);
    naive_mth(l, n, want);
    assert_int_equal(cs_audit_tree_root(t2, n, got, NULL), 0);
    assert_memory_equal(got, want, H);
    naive_mth(l, 1000, want);
    assert_int_equal(cs_audit_tree_root(t2, 1000, got, NULL), 0);
    assert_memory_equal(got, want, H);
    /* Restoring beyond what is stored fails. */
    assert_int_equal(cs_audit_tree_restore(t2, n + 1, NULL), CS_ENOTFOUND);
    cs_audit_tree_free(t2);
    drop(&f);
    free(l);
}

static int failing_sink(void *ctx, unsigned level, uint64_t index, const uint8_t *hashes)
{
    return CS_EDB;
}

static void test_copy_and_sink_failure(void **state)
{
    uint8_t *l = leaves(300);
    cs_audit_tree *t = cs_audit_tree_new(NULL, failing_sink, NULL);
    cs_audit_tree *saved = cs_audit_tree_new(NULL, failing_sink, NULL);
    for (int i = 0; i < 255; i++)
        assert_int_equal(cs_audit_tree_append_leaf(t, l + i * H), 0);
    cs_audit_tree_copy(saved, t);
    /* The 256th entry completes a tile; the sink fails; the tree refuses further use. */
    assert_int_equal(cs_audit_tree_append_leaf(t, l + 255 * H), CS_EDB);
    assert_int_equal(cs_audit_tree_append_leaf(t, l + 255 * H), CS_ECONFLICT);
    /* The copy taken before is intact: the caller rolls back to it. */
    uint8_t want[H], got[H];
    naive_mth(l, 255, want);
    assert_int_equal(cs_audit_tree_size(saved), 255);
    assert_int_equal(cs_audit_tree_root(saved, 255, got, NULL), 0);
    assert_memory_equal(got, want, H);
    cs_audit_tree_free(t);
    cs_audit_tree_free(saved);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_hashes),          cmocka_unit_test(test_roots_all_sizes),
        cmocka_unit_test(test_growing_root),          cmocka_unit_test(test_inclusion_proofs),
        cmocka_unit_test(test_consistency_proofs),    cmocka_unit_test(test_tiles_and_restore),
        cmocka_unit_test(test_copy_and_sink_failure),   cmocka_unit_test(test_restore_then_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
