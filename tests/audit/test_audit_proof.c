/* test_audit_proof.c - C2SP tlog-proof files: build, parse, verify, and refuse tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_memstore.h"
#include "audit/audit_proof.h"

#include <stdio.h>
#include <string.h>

#define ORIGIN "countersign.test/proof"

static void test_proof_roundtrip(void **state)
{
    cs_audit_signer s;
    cs_audit_verifier v;
    cs_err err;
    assert_int_equal(cs_audit_signer_generate(&s, ORIGIN, &err), 0);
    cs_audit_signer_verifier(&s, &v);
    cs_audit_memstore *m = cs_audit_memstore_new();
    cs_audit_tile_reader r;
    cs_audit_memstore_reader(m, &r);
    cs_audit_tree *t = cs_audit_tree_new(&r, cs_audit_memstore_sink, m);
    char e[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(e, sizeof e, "entry %d", i);
        assert_int_equal(cs_audit_tree_append(t, e, strlen(e)), 0);
    }
    cs_audit_checkpoint cp = {.origin = ORIGIN, .size = 1000};
    assert_int_equal(cs_audit_tree_root(t, 1000, cp.root, &err), 0);
    cs_buf note, file;
    cs_buf_init(&note, 4096);
    cs_buf_init(&file, CS_AUDIT_PROOF_FILE_MAX);
    assert_int_equal(cs_audit_checkpoint_sign(&s, &cp, &note, &err), 0);

    assert_int_equal(cs_audit_proof_build(&file, t, 517, note.data, note.len, &v, &err), 0);
    assert_memory_equal(file.data, "c2sp.org/tlog-proof@v1\nindex 517\n", 33);
    cs_audit_proof p;
    assert_int_equal(cs_audit_proof_parse(file.data, file.len, &p, &err), 0);
    assert_true(p.index == 517);
    assert_int_equal(p.count, 10);
    assert_string_equal(p.checkpoint, note.data);
    cs_audit_checkpoint got;
    assert_int_equal(cs_audit_proof_verify(&p, "entry 517", 9, &v, &got, &err), 0);
    assert_true(got.size == 1000);
    /* Another entry, another index, a changed hash: all refused. */
    assert_int_equal(cs_audit_proof_verify(&p, "entry 518", 9, &v, NULL, &err), CS_EAUTH);
    p.index = 518;
    assert_int_equal(cs_audit_proof_verify(&p, "entry 517", 9, &v, NULL, &err), CS_EAUTH);
    p.index = 517;
    p.hashes[40] ^= 1;
    assert_int_equal(cs_audit_proof_verify(&p, "entry 517", 9, &v, NULL, &err), CS_EAUTH);
    cs_audit_proof_free(&p);

    /* Extra data survives a round trip. */
    cs_buf_reset(&file);
    uint8_t hashes[CS_AUDIT_PROOF_MAX * 32];
    size_t count;
    assert_int_equal(cs_audit_tree_inclusion_proof(t, 3, 1000, hashes, &count, &err), 0);
    assert_int_equal(cs_audit_proof_format(&file, 3, hashes, count, "xyz", 3, note.data, note.len),
                     0);
    assert_int_equal(cs_audit_proof_parse(file.data, file.len, &p, &err), 0);
    assert_int_equal(p.extra_len, 3);
    assert_memory_equal(p.extra, "xyz", 3);
    assert_int_equal(cs_audit_proof_verify(&p, "entry 3", 7, &v, NULL, &err), 0);
    cs_audit_proof_free(&p);

    /* A proof for a checkpoint the tree does not have is refused. */
    cp.root[0] ^= 1;
    cs_buf_reset(&note);
    assert_int_equal(cs_audit_checkpoint_sign(&s, &cp, &note, &err), 0);
    cs_buf_reset(&file);
    assert_int_equal(cs_audit_proof_build(&file, t, 5, note.data, note.len, &v, &err),
                     CS_ECONFLICT);

    static const char *bad[] = {
        "",
        "c2sp.org/tlog-proof@v2\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx\n",
        "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nidx 1\n\nx\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cs_audit_proof_parse(bad[i], strlen(bad[i]), &p, &err) != CS_EPARSE)
            fail_msg("accepted bad proof %zu", i);
    cs_buf_free(&note);
    cs_buf_free(&file);
    cs_audit_tree_free(t);
    cs_audit_memstore_free(m);
    cs_audit_signer_wipe(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_proof_roundtrip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
