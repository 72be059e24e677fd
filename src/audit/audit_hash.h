/* audit_hash.h - RFC 6962 / RFC 9162 Merkle tree hashing and the verification of
 * inclusion and consistency proofs (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
 *
 * These functions are pure: they need no stored tree, only hashes. */
#ifndef CS_AUDIT_HASH_H
#define CS_AUDIT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CS_AUDIT_HASH_LEN 32
/* A proof never has more hashes than the tree has levels. */
#define CS_AUDIT_PROOF_MAX 64

/* leaf = SHA-256(0x00 || entry) */
void cs_audit_leaf_hash(const void *entry, size_t len, uint8_t out[CS_AUDIT_HASH_LEN]);
/* node = SHA-256(0x01 || left || right); out may alias left or right. */
void cs_audit_node_hash(const uint8_t left[CS_AUDIT_HASH_LEN],
                        const uint8_t right[CS_AUDIT_HASH_LEN], uint8_t out[CS_AUDIT_HASH_LEN]);
/* The root of the empty tree, SHA-256 of the empty string. */
void cs_audit_empty_root(uint8_t out[CS_AUDIT_HASH_LEN]);
/* Merkle tree hash of `count` consecutive hashes that are the leaves of a subtree
 * (RFC 6962 MTH with the given hashes as leaf hashes). count >= 1. */
void cs_audit_range_root(const uint8_t *hashes, size_t count, uint8_t out[CS_AUDIT_HASH_LEN]);

/* Checks that leaf hash `leaf` is at `index` in the tree of `size` with root `root`.
 * Returns 0 or CS_EAUTH. */
int cs_audit_verify_inclusion(const uint8_t leaf[CS_AUDIT_HASH_LEN], uint64_t index, uint64_t size,
                              const uint8_t *proof, size_t count,
                              const uint8_t root[CS_AUDIT_HASH_LEN]);
/* Checks that the tree of size1 with root1 is a prefix of the tree of size2 with root2.
 * size1 == size2 needs an empty proof and equal roots; size1 == 0 is always consistent
 * (with an empty proof). Returns 0 or CS_EAUTH. */
int cs_audit_verify_consistency(uint64_t size1, const uint8_t root1[CS_AUDIT_HASH_LEN],
                                uint64_t size2, const uint8_t root2[CS_AUDIT_HASH_LEN],
                                const uint8_t *proof, size_t count);

#endif
