/* audit_xcheck.c - data for, and the C half of, the cross-check against Go's
 * golang.org/x/mod/sumdb/note and sumdb/tlog (xcheck.go; run_xcheck.sh drives both).
 *
 *   audit_xcheck gen DIR     logs around powers of two exported as tlog-tiles
 *                            directories, our keys, and our inclusion and consistency proofs
 *   audit_xcheck check DIR   verifies what the Go side signed: a note signed by Go with
 *                            our private key text, and one signed with a key Go made */
#include "audit/audit_checkpoint.h"
#include "audit/audit_dir.h"
#include "audit/audit_memstore.h"
#include "audit/audit_verify.h"
#include "util/alloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN "countersign.test/xcheck"

static const uint64_t sizes[] = {1,    2,    3,     4,     5,     7,     8,    9,   15,
                                 16,   17,   255,   256,   257,   511,   512,  513, 1023,
                                 1024, 1025, 65535, 65536, 65537, 65792, 66000};
#define NSIZES (sizeof sizes / sizeof *sizes)

static int die(const char *what, const cs_err *err)
{
    fprintf(stderr, "audit_xcheck: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static void put_b64(FILE *f, const uint8_t *h)
{
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, h, CS_AUDIT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
    fputs(b64, f);
}

static void put_proof(FILE *f, const uint8_t *proof, size_t count)
{
    fputc(count ? ' ' : '\n', f);
    for (size_t i = 0; i < count; i++) {
        put_b64(f, proof + i * CS_AUDIT_HASH_LEN);
        fputc(i + 1 < count ? ',' : '\n', f);
    }
}

/* Entries of varying length, some empty, one near the bundle limit. */
static size_t entry(uint64_t i, char *buf, size_t cap)
{
    if (i % 1000 == 999) return 0;
    if (i == 70) {
        memset(buf, 'L', 60000);
        return 60000;
    }
    return (size_t)snprintf(buf, cap, "{\"i\":%llu,\"pad\":\"%.*s\"}", (unsigned long long)i,
                            (int)(i % 37), "0123456789012345678901234567890123456789");
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char *p = cs_sprintf("%s/%s", dir, name);
    cs_err err;
    if (cs_audit_write_file(p, text, strlen(text), &err) < 0) die("write", &err);
    free(p);
}

static int gen(const char *dir)
{
    cs_err err;
    cs_audit_signer s;
    cs_buf vkey, skey, note;
    cs_buf_init(&vkey, 1024);
    cs_buf_init(&skey, 1024);
    cs_buf_init(&note, 65536);
    if (cs_audit_signer_generate(&s, ORIGIN, &err) < 0) die("key", &err);
    cs_audit_signer_vkey(&s, &vkey);
    cs_audit_signer_skey(&s, &skey);
    write_text(dir, "vkey", vkey.data);
    write_text(dir, "skey", skey.data);

    cs_audit_memstore *m = cs_audit_memstore_new();
    cs_audit_tile_reader r;
    cs_audit_memstore_reader(m, &r);
    cs_audit_tree *t = cs_audit_tree_new(&r, cs_audit_memstore_sink, m);
    cs_audit_entry_reader er = {cs_audit_memstore_read_bundle, m};
    char *buf = cs_malloc(65536);
    char *pp = cs_sprintf("%s/proofs.txt", dir);
    FILE *proofs = fopen(pp, "w");
    if (proofs == NULL) die("proofs.txt", NULL);
    uint8_t proof[CS_AUDIT_PROOF_MAX * CS_AUDIT_HASH_LEN];
    size_t count;
    for (size_t si = 0; si < NSIZES; si++) {
        while (cs_audit_tree_size(t) < sizes[si]) {
            size_t len = entry(cs_audit_tree_size(t), buf, 65536);
            cs_audit_memstore_add(m, buf, len);
            if (cs_audit_tree_append(t, buf, len) < 0) die("append", NULL);
        }
        uint64_t n = sizes[si];
        cs_audit_checkpoint cp = {.origin = ORIGIN, .size = n};
        if (cs_audit_tree_root(t, n, cp.root, &err) < 0) die("root", &err);
        cs_buf_reset(&note);
        if (cs_audit_checkpoint_sign(&s, &cp, &note, &err) < 0) die("sign", &err);
        char *sub = cs_sprintf("%s/log-%llu", dir, (unsigned long long)n);
        if (cs_audit_export_dir(sub, t, &er, note.data, note.len, vkey.data, &err) < 0)
            die("export", &err);
        free(sub);
        /* Inclusion proofs: every index of small trees, a spread of big ones. */
        for (uint64_t i = 0; i < n; i += (n <= 600 ? 1 : n / 97 + 1)) {
            uint64_t idx[2] = {i, n - 1 - i};
            for (int k = 0; k < 2; k++) {
                if (cs_audit_tree_inclusion_proof(t, idx[k], n, proof, &count, &err) < 0)
                    die("inclusion", &err);
                fprintf(proofs, "incl %llu %llu", (unsigned long long)n,
                        (unsigned long long)idx[k]);
                put_proof(proofs, proof, count);
            }
        }
        for (size_t sj = 0; sj <= si; sj++) {
            if (cs_audit_tree_consistency_proof(t, sizes[sj], n, proof, &count, &err) < 0)
                die("consistency", &err);
            fprintf(proofs, "cons %llu %llu", (unsigned long long)sizes[sj], (unsigned long long)n);
            put_proof(proofs, proof, count);
        }
        /* Our own verifier must accept every exported directory too. */
        cs_audit_report rep;
        char *d = cs_sprintf("%s/log-%llu", dir, (unsigned long long)n);
        if (cs_audit_verify_dir(d, vkey.data, NULL, &rep, &err) < 0) die("verify_dir", &err);
        free(d);
    }
    if (fclose(proofs) != 0) die("proofs.txt", NULL);
    free(pp);
    free(buf);
    cs_audit_tree_free(t);
    cs_audit_memstore_free(m);
    cs_audit_signer_wipe(&s);
    cs_buf_free(&vkey);
    cs_buf_free(&skey);
    cs_buf_free(&note);
    printf("audit_xcheck: generated %zu logs up to %llu entries\n", NSIZES,
           (unsigned long long)sizes[NSIZES - 1]);
    return 0;
}

static void open_note(const char *dir, const char *vkey_file, const char *note_file,
                      const char *want)
{
    cs_err err;
    cs_buf k, n;
    cs_buf_init(&k, 4096);
    cs_buf_init(&n, 65536);
    char *kp = cs_sprintf("%s/%s", dir, vkey_file), *np = cs_sprintf("%s/%s", dir, note_file);
    cs_audit_verifier v;
    cs_audit_note note;
    if (cs_audit_read_file(kp, 4096, &k, &err) < 0 || cs_audit_read_file(np, 65536, &n, &err) < 0)
        die("read Go output", &err);
    if (cs_audit_verifier_parse(&v, k.data, k.len, &err) < 0) die("Go verifier key", &err);
    if (cs_audit_note_open(n.data, n.len, &v, 1, &note, &err) < 0) die(note_file, &err);
    if (strcmp(note.text, want) != 0) die("note text differs", NULL);
    cs_audit_note_free(&note);
    /* And the same note with one byte of its text changed must not verify. */
    n.data[0] ^= 1;
    if (cs_audit_note_open(n.data, n.len, &v, 1, &note, &err) != CS_EAUTH)
        die("tampered Go note verified", NULL);
    free(kp);
    free(np);
    cs_buf_free(&k);
    cs_buf_free(&n);
}

static int check(const char *dir)
{
    open_note(dir, "vkey", "go-signed-with-our-key.note", "signed by Go with our private key\n");
    open_note(dir, "go-vkey", "go-signed-with-go-key.note",
              "go.example/log\n3\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
    printf("audit_xcheck: notes signed by Go verify\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "gen") == 0) return gen(argv[2]);
    if (argc == 3 && strcmp(argv[1], "check") == 0) return check(argv[2]);
    fprintf(stderr, "usage: audit_xcheck gen|check DIR\n");
    return 2;
}
