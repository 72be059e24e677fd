/* audit_hash.c - RFC 6962 Merkle hashing and RFC 9162 section 2.1.3.2 / 2.1.4.2 proof
 * verification. */
#include "audit/audit_hash.h"

#include "util/error.h"
#include "util/sha256.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void cs_audit_leaf_hash(const void *entry, size_t len, uint8_t out[CS_AUDIT_HASH_LEN])
{
    static const unsigned char prefix = 0x00;
    cs_sha256(&prefix, 1, entry, len, out);
}

void cs_audit_node_hash(const uint8_t left[CS_AUDIT_HASH_LEN],
                        const uint8_t right[CS_AUDIT_HASH_LEN], uint8_t out[CS_AUDIT_HASH_LEN])
{
    unsigned char tmp[1 + 2 * CS_AUDIT_HASH_LEN];
    tmp[0] = 0x01;
    memcpy(tmp + 1, left, CS_AUDIT_HASH_LEN);
    memcpy(tmp + 1 + CS_AUDIT_HASH_LEN, right, CS_AUDIT_HASH_LEN);
    cs_sha256(tmp, sizeof tmp, NULL, 0, out);
}

void cs_audit_empty_root(uint8_t out[CS_AUDIT_HASH_LEN])
{
    cs_sha256(NULL, 0, NULL, 0, out);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

void cs_audit_range_root(const uint8_t *hashes, size_t count, uint8_t out[CS_AUDIT_HASH_LEN])
{
    if (count == 1) {
        memcpy(out, hashes, CS_AUDIT_HASH_LEN);
        return;
    }
    if ((count & (count - 1)) == 0 && count <= 256) {
        /* Perfect subtree (a whole tile or part of one): hash level by level in place. */
        uint8_t tmp[128 * CS_AUDIT_HASH_LEN];
        size_t n = count / 2;
        for (size_t i = 0; i < n; i++)
            cs_audit_node_hash(hashes + 2 * i * CS_AUDIT_HASH_LEN,
                               hashes + (2 * i + 1) * CS_AUDIT_HASH_LEN,
                               tmp + i * CS_AUDIT_HASH_LEN);
        for (; n > 1; n /= 2)
            for (size_t i = 0; i < n / 2; i++)
                cs_audit_node_hash(tmp + 2 * i * CS_AUDIT_HASH_LEN,
                                   tmp + (2 * i + 1) * CS_AUDIT_HASH_LEN,
                                   tmp + i * CS_AUDIT_HASH_LEN);
        memcpy(out, tmp, CS_AUDIT_HASH_LEN);
        return;
    }
    uint64_t k = split_point(count);
    uint8_t l[CS_AUDIT_HASH_LEN], r[CS_AUDIT_HASH_LEN];
    cs_audit_range_root(hashes, k, l);
    cs_audit_range_root(hashes + k * CS_AUDIT_HASH_LEN, count - k, r);
    cs_audit_node_hash(l, r, out);
}

static int hash_eq(const uint8_t a[CS_AUDIT_HASH_LEN], const uint8_t b[CS_AUDIT_HASH_LEN])
{
    return sodium_memcmp(a, b, CS_AUDIT_HASH_LEN) == 0;
}

int cs_audit_verify_inclusion(const uint8_t leaf[CS_AUDIT_HASH_LEN], uint64_t index, uint64_t size,
                              const uint8_t *proof, size_t count,
                              const uint8_t root[CS_AUDIT_HASH_LEN])
{
    if (index >= size || count > CS_AUDIT_PROOF_MAX) return CS_EAUTH;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[CS_AUDIT_HASH_LEN];
    memcpy(r, leaf, CS_AUDIT_HASH_LEN);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = proof + i * CS_AUDIT_HASH_LEN;
        if (sn == 0) return CS_EAUTH;
        if ((fn & 1) || fn == sn) {
            cs_audit_node_hash(p, r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cs_audit_node_hash(r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && hash_eq(r, root) ? 0 : CS_EAUTH;
}

int cs_audit_verify_consistency(uint64_t size1, const uint8_t root1[CS_AUDIT_HASH_LEN],
                                uint64_t size2, const uint8_t root2[CS_AUDIT_HASH_LEN],
                                const uint8_t *proof, size_t count)
{
    if (size1 > size2 || count > CS_AUDIT_PROOF_MAX) return CS_EAUTH;
    if (size1 == 0) {
        uint8_t empty[CS_AUDIT_HASH_LEN];
        cs_audit_empty_root(empty);
        return count == 0 && hash_eq(root1, empty) ? 0 : CS_EAUTH;
    }
    if (size1 == size2) return count == 0 && hash_eq(root1, root2) ? 0 : CS_EAUTH;
    if (count == 0) return CS_EAUTH;

    /* When size1 is a power of two, the old root is itself the first node of the path. */
    const uint8_t *c = proof;
    size_t n = count;
    uint8_t first[CS_AUDIT_HASH_LEN];
    int prepend = (size1 & (size1 - 1)) == 0;
    memcpy(first, prepend ? root1 : proof, CS_AUDIT_HASH_LEN);
    if (!prepend) {
        c += CS_AUDIT_HASH_LEN;
        n--;
    }
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[CS_AUDIT_HASH_LEN], sr[CS_AUDIT_HASH_LEN];
    memcpy(fr, first, CS_AUDIT_HASH_LEN);
    memcpy(sr, first, CS_AUDIT_HASH_LEN);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = c + i * CS_AUDIT_HASH_LEN;
        if (sn == 0) return CS_EAUTH;
        if ((fn & 1) || fn == sn) {
            cs_audit_node_hash(p, fr, fr);
            cs_audit_node_hash(p, sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            cs_audit_node_hash(sr, p, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && hash_eq(fr, root1) && hash_eq(sr, root2) ? 0 : CS_EAUTH;
}
