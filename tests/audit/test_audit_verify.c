/* test_audit_verify.c - export a log as a static tlog-tiles directory, verify it offline,
 * and tamper with it in the ways an attacker with write access to storage could: every
 * tampering must fail verification and name the first bad entry where it can be known. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_checkpoint.h"
#include "audit/audit_dir.h"
#include "audit/audit_memstore.h"
#include "audit/audit_tile.h"
#include "audit/audit_verify.h"
#include "util/alloc.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGIN "countersign.test/audit"
#define N 1000

typedef struct log {
    cs_audit_memstore *m;
    cs_audit_tree *t;
    char note[4096];
    size_t note_len;
} log_t;

static cs_audit_signer signer;
static char vkey[512];
static char tmp[64];

static void entry_text(uint64_t i, int variant, char *buf, size_t cap)
{
    snprintf(buf, cap, "{\"event\":\"action.decided\",\"index\":%llu,\"v\":%d}",
             (unsigned long long)i, variant);
}

/* A log of n entries; entry `changed` (if < n) differs from the reference log. */
static void make_log(log_t *l, uint64_t n, uint64_t changed, const cs_audit_signer *s)
{
    cs_audit_tile_reader r;
    l->m = cs_audit_memstore_new();
    cs_audit_memstore_reader(l->m, &r);
    l->t = cs_audit_tree_new(&r, cs_audit_memstore_sink, l->m);
    char buf[128];
    for (uint64_t i = 0; i < n; i++) {
        entry_text(i, i == changed, buf, sizeof buf);
        assert_int_equal(cs_audit_memstore_add(l->m, buf, strlen(buf)), 0);
        assert_int_equal(cs_audit_tree_append(l->t, buf, strlen(buf)), 0);
    }
    cs_audit_checkpoint cp = {.origin = ORIGIN, .size = n};
    assert_int_equal(cs_audit_tree_root(l->t, n, cp.root, NULL), 0);
    cs_buf b;
    cs_buf_init(&b, sizeof l->note - 1);
    assert_int_equal(cs_audit_checkpoint_sign(s, &cp, &b, NULL), 0);
    memcpy(l->note, b.data, b.len + 1);
    l->note_len = b.len;
    cs_buf_free(&b);
}

static void free_log(log_t *l)
{
    cs_audit_tree_free(l->t);
    cs_audit_memstore_free(l->m);
}

static char *path_in(const char *dir, const char *rel)
{
    return cs_sprintf("%s/%s", dir, rel);
}

static void export_log(log_t *l, const char *dir, const cs_audit_signer *s)
{
    cs_buf k;
    cs_buf_init(&k, 512);
    assert_int_equal(cs_audit_signer_vkey(s, &k), 0);
    cs_audit_entry_reader er = {cs_audit_memstore_read_bundle, l->m};
    cs_err err;
    int rc = cs_audit_export_dir(dir, l->t, &er, l->note, l->note_len, k.data, &err);
    if (rc) fail_msg("export: %s", err.msg);
    cs_buf_free(&k);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    strcpy(tmp, "/tmp/cs-audit-test-XXXXXX");
    if (mkdtemp(tmp) == NULL) return -1;
    return 0;
}

static int teardown(void **state)
{
    return nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Exports the reference log of N entries into tmp/name and returns the directory. */
static char *fresh_dir(const char *name, uint64_t n)
{
    char *dir = path_in(tmp, name);
    log_t l;
    make_log(&l, n, UINT64_MAX, &signer);
    export_log(&l, dir, &signer);
    free_log(&l);
    return dir;
}

static int verify(const char *dir, const char *trusted, cs_audit_report *rep)
{
    cs_err err;
    cs_err_clear(&err);
    return cs_audit_verify_dir(dir, vkey, trusted, rep, &err);
}

/* Bundle file handling for the tampering. */
typedef struct entries {
    char *e[256];
    size_t len[256];
    unsigned n;
} entries;

static void read_bundle(const char *dir, const char *rel, entries *out)
{
    char *p = path_in(dir, rel);
    cs_buf b;
    cs_buf_init(&b, 1 << 24);
    assert_int_equal(cs_audit_read_file(p, 1 << 24, &b, NULL), 0);
    cs_audit_bundle_iter it;
    cs_audit_bundle_iter_init(&it, b.data, b.len);
    const uint8_t *e;
    size_t len;
    out->n = 0;
    while (cs_audit_bundle_next(&it, &e, &len) == 1) {
        out->e[out->n] = cs_strndup((const char *)e, len);
        out->len[out->n++] = len;
    }
    cs_buf_free(&b);
    free(p);
}

static void write_bundle(const char *dir, const char *rel, entries *in)
{
    char *p = path_in(dir, rel);
    cs_buf b;
    cs_buf_init(&b, 1 << 24);
    for (unsigned i = 0; i < in->n; i++) {
        assert_int_equal(cs_audit_bundle_add(&b, in->e[i], in->len[i]), 0);
        free(in->e[i]);
    }
    assert_int_equal(cs_audit_write_file(p, b.data, b.len, NULL), 0);
    cs_buf_free(&b);
    free(p);
}

static void test_verify_ok_and_trusted(void **state)
{
    static const uint64_t sizes[] = {0, 1, 255, 256, 257, N};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char name[32];
        snprintf(name, sizeof name, "ok%zu", i);
        char *dir = fresh_dir(name, sizes[i]);
        cs_audit_report rep;
        int rc = verify(dir, NULL, &rep);
        if (rc) fail_msg("size %llu: %s", (unsigned long long)sizes[i], rep.problem);
        assert_true(rep.size == sizes[i]);
        assert_true(rep.entries_checked == sizes[i]);
        assert_int_equal(rep.first_bad_index, -1);
        /* The directory's own key verifies too. */
        cs_err err;
        assert_int_equal(cs_audit_verify_dir(dir, NULL, NULL, &rep, &err), 0);
        free(dir);
    }
    /* A trusted file is created on first use and updated as the log grows. */
    char *trusted = path_in(tmp, "trusted");
    char *small = fresh_dir("grow-small", 300);
    char *big = fresh_dir("grow-big", N);
    cs_audit_report rep;
    assert_int_equal(verify(small, trusted, &rep), 0);
    assert_int_equal(rep.trusted, 0);
    assert_int_equal(verify(big, trusted, &rep), 0);
    assert_int_equal(rep.trusted, 1);
    assert_true(rep.trusted_size == 300);
    cs_buf b;
    cs_buf_init(&b, 65536);
    assert_int_equal(cs_audit_read_file(trusted, 65536, &b, NULL), 0);
    char *cpath = path_in(big, "checkpoint");
    cs_buf c;
    cs_buf_init(&c, 65536);
    assert_int_equal(cs_audit_read_file(cpath, 65536, &c, NULL), 0);
    assert_string_equal(b.data, c.data);
    cs_buf_free(&b);
    cs_buf_free(&c);
    free(cpath);
    free(trusted);
    free(small);
    free(big);
}

static void test_tamper_entry_byte(void **state)
{
    static const uint64_t targets[] = {0, 300, 767, N - 1};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        uint64_t k = targets[i];
        char name[32], rel[64];
        snprintf(name, sizeof name, "byte%zu", i);
        char *dir = fresh_dir(name, N);
        cs_buf p;
        cs_buf_init(&p, 64);
        cs_audit_tile_ref ref = {CS_AUDIT_LEVEL_ENTRIES, k / 256,
                                 k / 256 == N / 256 ? N % 256 : 256};
        cs_audit_tile_path(&p, &ref);
        snprintf(rel, sizeof rel, "%s", p.data);
        cs_buf_free(&p);
        entries e;
        read_bundle(dir, rel, &e);
        e.e[k % 256][5] ^= 0x01;
        write_bundle(dir, rel, &e);
        cs_audit_report rep;
        assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
        if (rep.first_bad_index != (int64_t)k)
            fail_msg("entry %llu changed, verifier named %lld: %s", (unsigned long long)k,
                     (long long)rep.first_bad_index, rep.problem);
        free(dir);
    }
}

static void test_tamper_delete_and_reorder(void **state)
{
    char *p, *dir = fresh_dir("delete", N);
    entries e;
    read_bundle(dir, "tile/entries/001", &e);
    free(e.e[44]); /* entry 300 */
    memmove(&e.e[44], &e.e[45], (e.n - 45) * sizeof e.e[0]);
    memmove(&e.len[44], &e.len[45], (e.n - 45) * sizeof e.len[0]);
    e.n--;
    write_bundle(dir, "tile/entries/001", &e);
    cs_audit_report rep;
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 300);
    free(dir);

    dir = fresh_dir("reorder", N);
    read_bundle(dir, "tile/entries/002", &e);
    char *tmpe = e.e[10];
    size_t tmpl = e.len[10];
    e.e[10] = e.e[11], e.len[10] = e.len[11];
    e.e[11] = tmpe, e.len[11] = tmpl;
    write_bundle(dir, "tile/entries/002", &e);
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 522);
    free(dir);

    /* A bundle padded beyond what its entries can hold. */
    dir = fresh_dir("hugebundle", N);
    p = path_in(dir, "tile/entries/000");
    char *huge = cs_calloc(1, (size_t)256 * 65537 + 10);
    assert_int_equal(cs_audit_write_file(p, huge, (size_t)256 * 65537 + 10, NULL), 0);
    free(huge);
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 0);
    free(p);
    free(dir);

    /* A whole bundle gone. */
    dir = fresh_dir("nobundle", N);
    p = path_in(dir, "tile/entries/001");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 256);
    free(p);
    free(dir);
}

static void test_tamper_key(void **state)
{
    /* The attacker re-signs the checkpoint with a key of their own and puts their key in
     * the directory; a verifier that pins the real key refuses it. */
    cs_audit_signer evil;
    assert_int_equal(cs_audit_signer_generate(&evil, ORIGIN, NULL), 0);
    char *dir = path_in(tmp, "evil");
    log_t l;
    make_log(&l, N, 7, &evil);
    export_log(&l, dir, &evil);
    free_log(&l);
    cs_audit_report rep;
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_non_null(strstr(rep.problem, "checkpoint does not verify"));
    /* With the directory's key it is self-consistent, which is all that key can prove. */
    cs_err err;
    assert_int_equal(cs_audit_verify_dir(dir, NULL, NULL, &rep, &err), 0);
    cs_audit_signer_wipe(&evil);
    free(dir);
}

static void test_tamper_rollback_and_fork(void **state)
{
    char *trusted = path_in(tmp, "trusted-rb");
    char *dir = fresh_dir("rb-full", N);
    cs_audit_report rep;
    assert_int_equal(verify(dir, trusted, &rep), 0);
    free(dir);
    /* The store is rolled back to an older, validly signed state. */
    dir = fresh_dir("rb-old", 600);
    assert_int_equal(verify(dir, trusted, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 600);
    assert_non_null(strstr(rep.problem, "rollback"));
    free(dir);
    /* The trusted file was not replaced by the failed run. */
    dir = fresh_dir("rb-again", N);
    assert_int_equal(verify(dir, trusted, &rep), 0);
    assert_true(rep.trusted_size == N);
    free(dir);

    /* A fork: history rewritten and re-signed with the real key (a stolen key, or an
     * insider). Self-consistent, but not an extension of what was seen before. */
    char *trusted2 = path_in(tmp, "trusted-fork");
    dir = fresh_dir("fork-before", 700);
    assert_int_equal(verify(dir, trusted2, &rep), 0);
    free(dir);
    dir = path_in(tmp, "fork-after");
    log_t l;
    make_log(&l, N, 5, &signer);
    export_log(&l, dir, &signer);
    free_log(&l);
    assert_int_equal(verify(dir, NULL, &rep), 0);
    assert_int_equal(verify(dir, trusted2, &rep), CS_EAUTH);
    assert_non_null(strstr(rep.problem, "not consistent with the trusted checkpoint"));
    free(dir);
    free(trusted);
    free(trusted2);
}

static void test_tamper_tiles(void **state)
{
    /* A corrupted hash tile with intact entries: named as a tile problem. */
    char *dir = fresh_dir("tile", N);
    cs_buf b;
    cs_buf_init(&b, 1 << 16);
    char *p = path_in(dir, "tile/0/001");
    assert_int_equal(cs_audit_read_file(p, 1 << 16, &b, NULL), 0);
    b.data[32 * 9 + 3] ^= 0x40;
    assert_int_equal(cs_audit_write_file(p, b.data, b.len, NULL), 0);
    cs_audit_report rep;
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 256 + 9);
    assert_non_null(strstr(rep.problem, "hash tile tile/0/001"));
    free(p);
    /* The partial top tile missing. */
    p = path_in(dir, "tile/1/000.p/3");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    free(p);
    free(dir);

    /* An entry and its level-0 hash changed together: the level-1 tile above still
     * disagrees, which bounds the change from below. */
    dir = fresh_dir("tile-and-entry", N);
    entries e;
    read_bundle(dir, "tile/entries/001", &e);
    e.e[44][5] ^= 0x01; /* entry 300 */
    uint8_t leaf[32];
    cs_audit_leaf_hash(e.e[44], e.len[44], leaf);
    write_bundle(dir, "tile/entries/001", &e);
    p = path_in(dir, "tile/0/001");
    cs_buf_reset(&b);
    assert_int_equal(cs_audit_read_file(p, 1 << 16, &b, NULL), 0);
    memcpy(b.data + 44 * 32, leaf, 32);
    assert_int_equal(cs_audit_write_file(p, b.data, b.len, NULL), 0);
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 256);
    assert_non_null(strstr(rep.problem, "at or after 256"));
    free(p);
    free(dir);

    /* Entries changed and every tile recomputed to match, under the old checkpoint: the
     * root gives it away although no single entry can be named. */
    dir = fresh_dir("rewrite", N);
    char *cp = path_in(dir, "checkpoint");
    cs_buf_reset(&b);
    assert_int_equal(cs_audit_read_file(cp, 1 << 16, &b, NULL), 0);
    log_t l;
    make_log(&l, N, 42, &signer);
    export_log(&l, dir, &signer);
    free_log(&l);
    assert_int_equal(cs_audit_write_file(cp, b.data, b.len, NULL), 0);
    assert_int_equal(verify(dir, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, -1);
    assert_non_null(strstr(rep.problem, "root"));
    free(cp);
    free(dir);
    cs_buf_free(&b);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *rel)
{
    char *a = path_in(from_dir, rel), *b = path_in(to_dir, rel);
    cs_buf buf;
    cs_buf_init(&buf, 1 << 24);
    assert_int_equal(cs_audit_read_file(a, 1 << 24, &buf, NULL), 0);
    assert_int_equal(cs_audit_write_file(b, buf.data, buf.len, NULL), 0);
    cs_buf_free(&buf);
    free(a);
    free(b);
}

static void test_partial_tiles_replaced_by_full(void **state)
{
    /* A mirror of a log that has grown since keeps only the full tiles: the verifier of
     * the older checkpoint takes their prefix, as C2SP tlog-tiles allows. */
    char *grown = fresh_dir("grown", 600), *old = fresh_dir("old", 300);
    copy_file(grown, old, "tile/0/001");
    copy_file(grown, old, "tile/entries/001");
    char *p1 = path_in(old, "tile/0/001.p/44"), *p2 = path_in(old, "tile/entries/001.p/44");
    assert_int_equal(unlink(p1), 0);
    assert_int_equal(unlink(p2), 0);
    cs_audit_report rep;
    int rc = verify(old, NULL, &rep);
    if (rc) fail_msg("%s", rep.problem);
    assert_true(rep.entries_checked == 300);

    /* But a partial bundle served under its own name must not hold extra entries. */
    char *fresh = fresh_dir("extra", 300);
    entries e;
    read_bundle(fresh, "tile/entries/001.p/44", &e);
    e.e[e.n] = cs_strdup("{\"smuggled\":true}");
    e.len[e.n] = strlen(e.e[e.n]);
    e.n++;
    write_bundle(fresh, "tile/entries/001.p/44", &e);
    assert_int_equal(verify(fresh, NULL, &rep), CS_EAUTH);
    assert_int_equal(rep.first_bad_index, 300);
    free(p1);
    free(p2);
    free(grown);
    free(old);
    free(fresh);
}

static void test_export_refuses_wrong_checkpoint(void **state)
{
    log_t a, b;
    make_log(&a, 300, UINT64_MAX, &signer);
    make_log(&b, 300, 3, &signer);
    cs_buf k;
    cs_buf_init(&k, 512);
    cs_audit_signer_vkey(&signer, &k);
    cs_audit_entry_reader er = {cs_audit_memstore_read_bundle, a.m};
    char *dir = path_in(tmp, "refused");
    cs_err err;
    assert_int_equal(cs_audit_export_dir(dir, a.t, &er, b.note, b.note_len, k.data, &err),
                     CS_ECONFLICT);
    free(dir);
    cs_buf_free(&k);
    free_log(&a);
    free_log(&b);
}

int main(void)
{
    assert_int_equal(cs_audit_signer_generate(&signer, ORIGIN, NULL), 0);
    cs_buf k;
    cs_buf_init(&k, sizeof vkey - 1);
    cs_audit_signer_vkey(&signer, &k);
    memcpy(vkey, k.data, k.len + 1);
    cs_buf_free(&k);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_ok_and_trusted),
        cmocka_unit_test(test_tamper_entry_byte),
        cmocka_unit_test(test_tamper_delete_and_reorder),
        cmocka_unit_test(test_tamper_key),
        cmocka_unit_test(test_tamper_rollback_and_fork),
        cmocka_unit_test(test_tamper_tiles),
        cmocka_unit_test(test_partial_tiles_replaced_by_full),
        cmocka_unit_test(test_export_refuses_wrong_checkpoint),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    cs_audit_signer_wipe(&signer);
    return rc;
}
