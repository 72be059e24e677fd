/* test_audit_serve.c - tile and entry-bundle responses for /v1/audit/tile/..., bounded by
 * the published checkpoint, and checkpoints made from the tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_checkpoint.h"
#include "audit/audit_memstore.h"
#include "audit/audit_serve.h"
#include "audit/audit_tile.h"

#include <stdio.h>
#include <string.h>

static int serve(cs_audit_tree *t, cs_audit_memstore *m, uint64_t size, const char *path,
                 cs_buf *out)
{
    cs_audit_entry_reader er = {cs_audit_memstore_read_bundle, m};
    cs_buf_reset(out);
    return cs_audit_serve_tile(t, &er, size, path, strlen(path), out, NULL);
}

static void test_serve(void **state)
{
    cs_audit_memstore *m = cs_audit_memstore_new();
    cs_audit_tile_reader r;
    cs_audit_memstore_reader(m, &r);
    cs_audit_tree *t = cs_audit_tree_new(&r, cs_audit_memstore_sink, m);
    char e[32];
    for (int i = 0; i < 600; i++) {
        snprintf(e, sizeof e, "e%d", i);
        cs_audit_memstore_add(m, e, strlen(e));
        cs_audit_tree_append(t, e, strlen(e));
    }
    const uint64_t published = 520;
    cs_buf out, want;
    cs_buf_init(&out, 1 << 24);
    cs_buf_init(&want, 1 << 24);
    uint8_t tile[CS_AUDIT_TILE_BYTES];

    assert_int_equal(serve(t, m, published, "tile/0/000", &out), 0);
    assert_int_equal(cs_audit_tree_tile(t, 0, 0, 256, tile, NULL), 0);
    assert_int_equal(out.len, CS_AUDIT_TILE_BYTES);
    assert_memory_equal(out.data, tile, CS_AUDIT_TILE_BYTES);
    assert_int_equal(serve(t, m, published, "tile/0/002.p/8", &out), 0);
    assert_int_equal(out.len, 8 * 32);
    assert_int_equal(serve(t, m, published, "tile/0/001.p/3", &out), 0);
    assert_int_equal(serve(t, m, published, "tile/1/000.p/2", &out), 0);
    assert_int_equal(cs_audit_tree_tile(t, 1, 0, 2, tile, NULL), 0);
    assert_memory_equal(out.data, tile, 64);
    /* Nothing past the published size, although the tree has it. */
    assert_int_equal(serve(t, m, published, "tile/0/002.p/9", &out), CS_ENOTFOUND);
    assert_int_equal(serve(t, m, published, "tile/0/002", &out), CS_ENOTFOUND);
    assert_int_equal(serve(t, m, published, "tile/1/000.p/3", &out), CS_ENOTFOUND);
    assert_int_equal(serve(t, m, published, "tile/2/000.p/1", &out), CS_ENOTFOUND);
    assert_int_equal(serve(t, m, published, "tile/entries/002.p/9", &out), CS_ENOTFOUND);
    assert_int_equal(serve(t, m, published, "tile/0/x001/000", &out), CS_ENOTFOUND);
    assert_int_equal(serve(t, m, published, "tile/0/00", &out), CS_EPARSE);
    assert_int_equal(serve(t, m, published, "checkpoint", &out), CS_EPARSE);
    assert_int_equal(serve(t, m, 601, "tile/0/000", &out), CS_EINVAL);

    assert_int_equal(serve(t, m, published, "tile/entries/002.p/8", &out), 0);
    cs_buf_reset(&want);
    for (int i = 512; i < 520; i++) {
        snprintf(e, sizeof e, "e%d", i);
        cs_audit_bundle_add(&want, e, strlen(e));
    }
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);

    /* A checkpoint made from the tree opens with the signer's key. */
    cs_audit_signer s;
    cs_audit_verifier v;
    assert_int_equal(cs_audit_signer_generate(&s, "countersign.test/serve", NULL), 0);
    cs_audit_signer_verifier(&s, &v);
    cs_audit_checkpoint made, opened;
    cs_buf_reset(&out);
    assert_int_equal(cs_audit_checkpoint_make(&s, t, &out, &made, NULL), 0);
    assert_int_equal(cs_audit_checkpoint_open(out.data, out.len, &v, &opened, NULL), 0);
    assert_true(opened.size == 600);
    assert_memory_equal(opened.root, made.root, 32);
    uint8_t root[32];
    assert_int_equal(cs_audit_tree_root(t, 600, root, NULL), 0);
    assert_memory_equal(opened.root, root, 32);
    cs_audit_signer_wipe(&s);
    cs_buf_free(&out);
    cs_buf_free(&want);
    cs_audit_tree_free(t);
    cs_audit_memstore_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_serve)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
