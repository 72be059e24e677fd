/* audit_tree.h - the append-only RFC 6962 Merkle tree of the audit log, kept as C2SP
 * tlog-tiles (https://c2sp.org/tlog-tiles): hash tiles of height 8.
 *
 * Storage stays outside. A cs_audit_tree holds only the right edge of the tree (the
 * incomplete tile of every level, at most 8 x 8 KiB); every completed tile is handed
 * to the tile sink exactly once, in order, for the caller to persist (for example in
 * the same database transaction as the entries). Hashes of older, complete tiles are
 * read back through the reader when a root, a proof or a tile is asked for.
 *
 * Tile level L holds the hashes at tree level 8L: level 0 the leaf hashes, level 1
 * the roots of the level-0 tiles, and so on. Tile (L, N) holds hashes N*256 ...
 * N*256+255 of its level.
 *
 * A tree is not thread-safe; the caller serialises appends (the log is one sequence
 * anyway). Typical use in a transaction: copy the committed tree (cs_audit_tree_copy),
 * append the batch to the copy, persist the completed tiles from the sink, commit, and
 * only then adopt the copy. On rollback the copy is dropped. */
#ifndef CS_AUDIT_TREE_H
#define CS_AUDIT_TREE_H

#include "audit/audit_hash.h"
#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

#define CS_AUDIT_TILE_HEIGHT 8
#define CS_AUDIT_TILE_WIDTH 256
#define CS_AUDIT_TILE_BYTES (CS_AUDIT_TILE_WIDTH * CS_AUDIT_HASH_LEN)
/* 8 levels of 8 bits cover every uint64 tree size. */
#define CS_AUDIT_MAX_LEVELS 8

/* Reads stored hash tiles. read_tile fills `out` with the 256 hashes (8192 bytes) of
 * the complete tile (level, index) that the sink received earlier; it returns 0,
 * CS_ENOTFOUND or another negative code. The tree itself asks only for complete
 * tiles; cs_audit_tree_restore may also ask for an incomplete one, see there. */
typedef struct cs_audit_tile_reader {
    int (*read_tile)(void *ctx, unsigned level, uint64_t index, unsigned width, uint8_t *out);
    void *ctx;
} cs_audit_tile_reader;

/* Receives each tile the moment it becomes complete: 256 hashes of tile (level, index).
 * A negative return aborts the append with that code; the tree is then unusable and
 * must be dropped (use a copy, see above). */
typedef int (*cs_audit_tile_sink)(void *ctx, unsigned level, uint64_t index, const uint8_t *hashes);

typedef struct cs_audit_tree cs_audit_tree;

cs_audit_tree *cs_audit_tree_new(const cs_audit_tile_reader *reader, cs_audit_tile_sink sink,
                                 void *sink_ctx);
void cs_audit_tree_free(cs_audit_tree *t);
/* Makes dst the same tree as src (same size and right edge; reader and sink of dst stay). */
void cs_audit_tree_copy(cs_audit_tree *dst, const cs_audit_tree *src);
uint64_t cs_audit_tree_size(const cs_audit_tree *t);

/* Rebuilds the right edge of a tree of `size` entries from storage, e.g. after a restart.
 * For every level L with an incomplete tile of width W it asks the reader for that
 * incomplete tile (width W). A reader that does not keep incomplete tiles returns
 * CS_ENOTFOUND: for L >= 1 the hashes are then recomputed from the complete tiles of
 * level L-1; level 0 (leaf hashes of the last size % 256 entries) the reader must
 * supply, e.g. by hashing the stored entries with cs_audit_leaf_hash. */
int cs_audit_tree_restore(cs_audit_tree *t, uint64_t size, cs_err *err);

/* Appends one entry (its leaf hash is computed) or one precomputed leaf hash. Completed
 * tiles go to the sink before this returns. */
int cs_audit_tree_append(cs_audit_tree *t, const void *entry, size_t len);
int cs_audit_tree_append_leaf(cs_audit_tree *t, const uint8_t leaf[CS_AUDIT_HASH_LEN]);

/* Root hash of the tree of the first `size` entries (size <= current size). */
int cs_audit_tree_root(cs_audit_tree *t, uint64_t size, uint8_t out[CS_AUDIT_HASH_LEN],
                       cs_err *err);
/* Inclusion proof of entry `index` in the tree of `size` entries; *count hashes of 32
 * bytes are written to proof (room for CS_AUDIT_PROOF_MAX). */
int cs_audit_tree_inclusion_proof(cs_audit_tree *t, uint64_t index, uint64_t size, uint8_t *proof,
                                  size_t *count, cs_err *err);
/* Consistency proof from the tree of size1 to the tree of size2 (0 < size1 <= size2 <=
 * current size). */
int cs_audit_tree_consistency_proof(cs_audit_tree *t, uint64_t size1, uint64_t size2,
                                    uint8_t *proof, size_t *count, cs_err *err);

/* Hash tile bytes as served at tile/<level>/<index>[.p/<width>] for the current size:
 * the first `width` (1..256) hashes of the tile. CS_ENOTFOUND when the tree does not
 * (yet) have that many hashes in that tile. out must hold width * 32 bytes. */
int cs_audit_tree_tile(cs_audit_tree *t, unsigned level, uint64_t index, unsigned width,
                       uint8_t *out, cs_err *err);
/* Width of the incomplete tile at `level` for a tree of `size` (0 when there is none),
 * and the index of that tile. */
unsigned cs_audit_partial_width(uint64_t size, unsigned level);
/* Number of tile levels that hold at least one hash for a tree of `size`. */
unsigned cs_audit_tile_levels(uint64_t size);

#endif
