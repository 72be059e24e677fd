/* web_vectors.c - known-answer vectors for the browser's audit verifier
 * (web/verify.js), computed independently of it: Merkle tree hashes and
 * inclusion paths straight from the recursive definitions of RFC 6962 §2.1
 * (MTH and PATH), checkpoints signed per C2SP signed-note with libsodium's
 * Ed25519, proofs written as C2SP tlog-proof files. Prints JSON on stdout:
 * {vkey, cases: [{name, index, entry (base64), proof, valid}], tiles: [...]}. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "countersign.test/vectors"
#define MAX_LEAVES 1100

static unsigned char leaves[MAX_LEAVES][32];
static char entries[MAX_LEAVES][96];

static void sha(unsigned char out[32], const void *a, size_t an, const void *b, size_t bn,
                const void *c, size_t cn)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, an);
    if (bn) crypto_hash_sha256_update(&st, b, bn);
    if (cn) crypto_hash_sha256_update(&st, c, cn);
    crypto_hash_sha256_final(&st, out);
}

static size_t split(size_t n)
{
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[lo:hi]) of RFC 6962 §2.1, for hi > lo. */
static void mth(unsigned char out[32], size_t lo, size_t hi)
{
    if (hi - lo == 1) {
        memcpy(out, leaves[lo], 32);
        return;
    }
    size_t k = split(hi - lo);
    unsigned char l[32], r[32], one = 1;
    mth(l, lo, lo + k);
    mth(r, lo + k, hi);
    sha(out, &one, 1, l, 32, r, 32);
}

/* PATH(m, D[lo:hi]) of RFC 6962 §2.1.1, appended leaf-first to `out`. */
static void path(size_t m, size_t lo, size_t hi, unsigned char out[][32], size_t *n)
{
    if (hi - lo <= 1) return;
    size_t k = split(hi - lo);
    if (m < k) {
        path(m, lo, lo + k, out, n);
        mth(out[(*n)++], lo + k, hi);
    } else {
        path(m - k, lo + k, hi, out, n);
        mth(out[(*n)++], lo, lo + k);
    }
}

static char *b64(const unsigned char *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

typedef struct key {
    unsigned char pk[32], sk[64], id[4];
} key;

static void key_from(key *k, unsigned char fill)
{
    unsigned char seed[32], one = 1, h[32];
    memset(seed, fill, sizeof seed);
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
    sha(h, NAME "\n", strlen(NAME) + 1, &one, 1, k->pk, 32);
    memcpy(k->id, h, 4);
}

/* A checkpoint for the first n leaves, signed by k; `size_shown` lets a case lie
 * about the size after signing. */
static char *checkpoint(const key *k, size_t n, long size_shown)
{
    unsigned char root[32], sig[64], blob[68];
    mth(root, 0, n);
    char *r = b64(root, 32), body[512];
    snprintf(body, sizeof body, "%s\n%zu\n%s\n", NAME, n, r);
    crypto_sign_detached(sig, NULL, (const unsigned char *)body, strlen(body), k->sk);
    if (size_shown >= 0) snprintf(body, sizeof body, "%s\n%ld\n%s\n", NAME, size_shown, r);
    memcpy(blob, k->id, 4);
    memcpy(blob + 4, sig, 64);
    char *s = b64(blob, 68), *note = malloc(1024);
    snprintf(note, 1024, "%s\n\xe2\x80\x94 %s %s\n", body, NAME, s);
    free(r);
    free(s);
    return note;
}

enum tamper { NONE, ENTRY, HASH, OTHER_KEY, SIZE, EXTRA, SHORT, INDEX };

static json_t *make_case(const key *good, const key *bad, size_t index, size_t n, enum tamper t,
                         const char *name)
{
    static unsigned char p[64][32];
    size_t np = 0;
    path(index, 0, n, p, &np);
    if (t == HASH && np) p[np / 2][7] ^= 1;
    if (t == EXTRA) memset(p[np++], 0xab, 32);
    if (t == SHORT && np) np--;
    char *note = checkpoint(t == OTHER_KEY ? bad : good, n, t == SIZE ? (long)n + 1 : -1);
    size_t cap = 256 + np * 50 + strlen(note);
    char *proof = malloc(cap), *at = proof;
    at += sprintf(at, "c2sp.org/tlog-proof@v1\nindex %zu\n", t == INDEX ? index + 1 : index);
    for (size_t i = 0; i < np; i++) {
        char *h = b64(p[i], 32);
        at += sprintf(at, "%s\n", h);
        free(h);
    }
    sprintf(at, "\n%s", note);
    char entry[96];
    snprintf(entry, sizeof entry, "%s", entries[index]);
    if (t == ENTRY) entry[2] ^= 1;
    char *e = b64((const unsigned char *)entry, strlen(entry));
    json_t *c = json_pack("{s:s,s:I,s:I,s:s,s:s,s:b}", "name", name, "index", (json_int_t)index,
                          "size", (json_int_t)n, "entry", e, "proof", proof, "valid", t == NONE);
    free(e);
    free(note);
    free(proof);
    return c;
}

static json_t *tiles(void)
{
    static const struct {
        unsigned long long n;
        int width;
        const char *path;
    } t[] = {{0, 256, "tile/entries/000"},
             {5, 17, "tile/entries/005.p/17"},
             {1234067, 256, "tile/entries/x001/x234/067"},
             {1000, 3, "tile/entries/x001/000.p/3"}};
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        json_array_append_new(a, json_pack("{s:I,s:i,s:s}", "n", (json_int_t)t[i].n, "width",
                                           t[i].width, "path", t[i].path));
    return a;
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    for (size_t i = 0; i < MAX_LEAVES; i++) {
        unsigned char zero = 0;
        snprintf(entries[i], sizeof entries[i],
                 "{\"action_id\":\"act_%zu\",\"index\":%zu,\"type\":\"test\"}", i, i);
        sha(leaves[i], &zero, 1, entries[i], strlen(entries[i]), NULL, 0);
    }
    /* The good key is one whose base64 contains '+', the field separator of a
     * verifier key: a parser that splits on every '+' must fail these vectors. */
    key good, bad;
    unsigned char fill = 7;
    for (;; fill++) {
        unsigned char vk1[33] = {1};
        key_from(&good, fill);
        memcpy(vk1 + 1, good.pk, 32);
        char *t = b64(vk1, 33);
        int plus = strchr(t, '+') != NULL;
        free(t);
        if (plus) break;
    }
    key_from(&bad, (unsigned char)(fill + 1));
    json_t *cases = json_array();
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 256, 257, 1025};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (size_t i = 0; i < n; i++) {
            if (n > 17 && !(i < 2 || i == n / 2 || i + 2 >= n)) continue;
            json_array_append_new(cases, make_case(&good, &bad, i, n, NONE, "valid"));
        }
    }
    static const struct {
        enum tamper t;
        const char *name;
    } bad_cases[] = {{ENTRY, "entry changed"},
                     {HASH, "proof hash changed"},
                     {OTHER_KEY, "signed by another key"},
                     {SIZE, "size changed after signing"},
                     {EXTRA, "proof too long"},
                     {SHORT, "proof too short"},
                     {INDEX, "proof for another index"}};
    for (size_t b = 0; b < sizeof bad_cases / sizeof bad_cases[0]; b++)
        json_array_append_new(cases,
                              make_case(&good, &bad, 5, 13, bad_cases[b].t, bad_cases[b].name));
    unsigned char vk[33] = {1};
    memcpy(vk + 1, good.pk, 32);
    char *vkb = b64(vk, 33), vkey[256];
    snprintf(vkey, sizeof vkey, "%s+%02x%02x%02x%02x+%s", NAME, good.id[0], good.id[1], good.id[2],
             good.id[3], vkb);
    free(vkb);
    json_t *out = json_pack("{s:s,s:o,s:o}", "vkey", vkey, "cases", cases, "tiles", tiles());
    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    return 0;
}
