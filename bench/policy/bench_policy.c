/* bench_policy.c - the countersign side of the policy benchmark (issue 2): loads a
 * policy directory (policies.cedar + entities.json, as the gateway does), reads the
 * requests of DIR/requests.jsonl, and times cs_policy_decide() on each of them with
 * clock_gettime(CLOCK_MONOTONIC).
 *
 *   bench_policy DIR DECISIONS_OUT
 *
 * Prints one JSON summary line (decisions/s, p50, p99, max in ns, outcome counts);
 * writes one letter per request (A allowed, D denied, P pending) to DECISIONS_OUT
 * so that the run script can check them against cedar-wasm's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy/policy.h"
#include "util/alloc.h"

typedef struct bench_req {
    json_t *doc; /* owns the strings the request points into */
    cs_policy_request req;
} bench_req;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int uid_ref(json_t *v, cs_uid_ref *out)
{
    out->type = json_string_value(json_object_get(v, "type"));
    out->id = json_string_value(json_object_get(v, "id"));
    return out->type && out->id ? 0 : -1;
}

/* Reads DIR/requests.jsonl into *out; returns the count or -1. */
static long load_requests(const char *dir, bench_req **out)
{
    char *path = cs_sprintf("%s/requests.jsonl", dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (f == NULL) return -1;
    bench_req *reqs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (len <= 1) continue;
        json_error_t jerr;
        json_t *doc = json_loadb(line, (size_t)len, 0, &jerr);
        if (doc == NULL) {
            fprintf(stderr, "bench_policy: requests.jsonl:%zu: %s\n", n + 1, jerr.text);
            exit(2);
        }
        reqs = cs_grow(reqs, &cap, n + 1, sizeof *reqs);
        bench_req *b = &reqs[n++];
        memset(b, 0, sizeof *b);
        b->doc = doc;
        if (uid_ref(json_object_get(doc, "principal"), &b->req.principal) < 0 ||
            uid_ref(json_object_get(doc, "action"), &b->req.action) < 0 ||
            uid_ref(json_object_get(doc, "resource"), &b->req.resource) < 0) {
            fprintf(stderr, "bench_policy: requests.jsonl:%zu: bad entity reference\n", n);
            exit(2);
        }
        b->req.context = json_object_get(doc, "context");
    }
    free(line);
    fclose(f);
    *out = reqs;
    return (long)n;
}

static char decide_one(const cs_policy_set *set, const cs_policy_request *req)
{
    cs_decision d;
    cs_err err;
    if (cs_policy_decide(set, req, &d, &err) != 0) {
        fprintf(stderr, "bench_policy: decide: %s\n", err.msg);
        exit(1);
    }
    char c = d.kind == CS_DECISION_ALLOW ? 'A' : d.kind == CS_DECISION_PENDING ? 'P' : 'D';
    cs_decision_free(&d);
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_policy DIR DECISIONS_OUT\n");
        return 2;
    }
    cs_policy_set *set = NULL;
    cs_policy_diags diags;
    cs_policy_diags_init(&diags);
    uint64_t l0 = now_ns();
    if (cs_policy_set_load_dir(argv[1], &set, &diags) != 0) {
        for (size_t i = 0; i < diags.n; i++)
            fprintf(stderr, "%s:%d:%d: %s\n", diags.items[i].file, diags.items[i].line,
                    diags.items[i].col, diags.items[i].msg);
        return 1;
    }
    double load_s = (double)(now_ns() - l0) / 1e9;
    cs_policy_diags_free(&diags);

    bench_req *reqs = NULL;
    long n = load_requests(argv[1], &reqs);
    if (n <= 0) {
        fprintf(stderr, "bench_policy: no requests in %s/requests.jsonl\n", argv[1]);
        return 1;
    }
    char *letters = cs_malloc((size_t)n);
    uint64_t *lat = cs_malloc((size_t)n * sizeof *lat);

    for (long i = 0; i < n && i < 20000; i++)
        decide_one(set, &reqs[i].req); /* warm-up */
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        uint64_t a = now_ns();
        letters[i] = decide_one(set, &reqs[i].req);
        lat[i] = now_ns() - a;
    }
    double total = (double)(now_ns() - t0) / 1e9;

    FILE *f = fopen(argv[2], "w");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }
    long counts[3] = {0, 0, 0};
    for (long i = 0; i < n; i++) {
        fprintf(f, "%c\n", letters[i]);
        counts[letters[i] == 'A' ? 0 : letters[i] == 'D' ? 1 : 2]++;
    }
    fclose(f);
    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    printf("{\"engine\":\"countersign\",\"policies\":%zu,\"requests\":%ld,\"load_s\":%.3f,"
           "\"seconds\":%.6f,\"decisions_per_s\":%.1f,\"p50_ns\":%llu,\"p99_ns\":%llu,"
           "\"max_ns\":%llu,\"allowed\":%ld,\"denied\":%ld,\"pending\":%ld}\n",
           cs_policy_set_count(set), n, load_s, total, (double)n / total,
           (unsigned long long)lat[(size_t)(0.50 * (double)n)],
           (unsigned long long)lat[(size_t)(0.99 * (double)n)], (unsigned long long)lat[n - 1],
           counts[0], counts[1], counts[2]);

    for (long i = 0; i < n; i++)
        json_decref(reqs[i].doc);
    free(reqs);
    free(letters);
    free(lat);
    cs_policy_set_release(set);
    return 0;
}
