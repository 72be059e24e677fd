/* audit_bench.c - throughput of the audit log: appends into the tiled Merkle tree and
 * offline verification of an exported tlog-tiles directory, each printed next to the
 * raw SHA-256 node-hash rate of this machine measured in the same run. */
#include "audit/audit_checkpoint.h"
#include "audit/audit_dir.h"
#include "audit/audit_memstore.h"
#include "audit/audit_verify.h"
#include "util/alloc.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

/* SHA-256 over 65-byte node inputs (0x01 || left || right) with OpenSSL's fastest
 * public interface: EVP with the algorithm fetched once and one reused context. */
static double raw_node_rate(void)
{
    unsigned char in[65] = {0x01}, out[32];
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint64_t n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 10000; i++) {
            EVP_DigestInit_ex(ctx, md, NULL);
            EVP_DigestUpdate(ctx, in, sizeof in);
            EVP_DigestFinal_ex(ctx, out, NULL);
            in[1 + (i & 31)] ^= out[0];
        }
        n += 10000;
    } while ((t = now()) - t0 < 1.0);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return (double)n / (t - t0);
}

int main(int argc, char **argv)
{
    uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    double raw = raw_node_rate();
    printf("audit bench: %llu entries of ~190 bytes (canonical JSON-like)\n",
           (unsigned long long)count);
    printf("  raw SHA-256 node hashes (65 bytes)  %10.0f /s\n", raw);

    cs_audit_memstore *m = cs_audit_memstore_new();
    char e[256];
    for (uint64_t i = 0; i < count; i++) {
        int n = snprintf(
            e, sizeof e,
            "{\"action\":\"db.export\",\"actor\":\"Agent::\\\"agent-%llu\\\"\",\"args_hash\":"
            "\"%064llx\",\"event\":\"action.decided\",\"index\":%llu,\"status\":\"pending\"}",
            (unsigned long long)(i % 97), (unsigned long long)i * 2654435761u,
            (unsigned long long)i);
        cs_audit_memstore_add(m, e, (size_t)n);
    }
    cs_audit_tile_reader r;
    cs_audit_memstore_reader(m, &r);
    cs_audit_tree *t = cs_audit_tree_new(&r, cs_audit_memstore_sink, m);
    double t0 = now();
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *p;
        size_t len;
        cs_audit_memstore_entry(m, i, &p, &len);
        if (cs_audit_tree_append(t, p, len) < 0) return 1;
    }
    double append = (double)count / (now() - t0);
    printf("  append (leaf hash + tree + tiles)   %10.0f entries/s  (target >= 100000; %.2f "
           "node-hash times per entry)\n",
           append, raw / append);

    /* Sign, export, verify from the directory. */
    cs_audit_signer s;
    cs_err err;
    cs_buf note, vkey;
    cs_buf_init(&note, 65536);
    cs_buf_init(&vkey, 1024);
    cs_audit_signer_generate(&s, "bench.example/log", &err);
    cs_audit_signer_vkey(&s, &vkey);
    cs_audit_checkpoint cp = {.origin = "bench.example/log", .size = count};
    cs_audit_tree_root(t, count, cp.root, &err);
    cs_audit_checkpoint_sign(&s, &cp, &note, &err);
    char dir[] = "/tmp/cs-audit-bench-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char *logdir = cs_sprintf("%s/log", dir);
    cs_audit_entry_reader er = {cs_audit_memstore_read_bundle, m};
    t0 = now();
    if (cs_audit_export_dir(logdir, t, &er, note.data, note.len, vkey.data, &err) < 0) {
        fprintf(stderr, "export: %s\n", err.msg);
        return 1;
    }
    printf("  export-tiles                        %10.0f entries/s\n",
           (double)count / (now() - t0));
    cs_audit_report rep;
    t0 = now();
    int rc = cs_audit_verify_dir(logdir, vkey.data, NULL, &rep, &err);
    double verify = (double)count / (now() - t0);
    if (rc < 0) {
        fprintf(stderr, "verify: %s\n", err.msg);
        return 1;
    }
    printf("  offline verification (from files)   %10.0f entries/s  (target >= 300000; %.2f "
           "node-hash times per entry)\n",
           verify, raw / verify);
    printf("  verified %llu entries, %llu tiles\n", (unsigned long long)rep.entries_checked,
           (unsigned long long)rep.tiles_checked);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(logdir);
    cs_buf_free(&note);
    cs_buf_free(&vkey);
    cs_audit_signer_wipe(&s);
    cs_audit_tree_free(t);
    cs_audit_memstore_free(m);
    return 0;
}
