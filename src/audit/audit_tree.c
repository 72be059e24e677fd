/* audit_tree.c - RFC 6962 Merkle tree stored as C2SP tlog-tiles (height 8): appends,
 * roots of any earlier size, inclusion and consistency proofs (RFC 6962 section 2.1). */
#include "audit/audit_tree.h"

#include "util/alloc.h"

#include <stdlib.h>
#include <string.h>

#define H CS_AUDIT_HASH_LEN

struct cs_audit_tree {
    uint64_t size;
    int broken; /* a sink failed in the middle of an append */
    cs_audit_tile_reader reader;
    cs_audit_tile_sink sink;
    void *sink_ctx;
    /* edge[L] holds the hashes of the incomplete tile of level L (its width is
     * cs_audit_partial_width(size, L)); during an append it briefly holds all 256. */
    uint8_t edge[CS_AUDIT_MAX_LEVELS][CS_AUDIT_TILE_BYTES];
    /* The last complete tile read through the reader: proofs touch the same tiles often. */
    int cache_valid;
    unsigned cache_level;
    uint64_t cache_index;
    uint8_t cache[CS_AUDIT_TILE_BYTES];
    /* The compact range of the whole tree: for every bit k set in size, the root of the
     * perfect subtree of 2^k leaves that bit stands for. Appends keep it (one hash per
     * append on average) so that the current root costs log2(size) hashes, not a walk
     * through the incomplete tiles. */
    uint8_t frontier[64][H];
};

/* Number of hashes at tree level 8*level for a tree of `size` leaves. */
static uint64_t level_count(uint64_t size, unsigned level)
{
    return level >= CS_AUDIT_MAX_LEVELS ? 0 : size >> (CS_AUDIT_TILE_HEIGHT * level);
}

unsigned cs_audit_partial_width(uint64_t size, unsigned level)
{
    return (unsigned)(level_count(size, level) % CS_AUDIT_TILE_WIDTH);
}

unsigned cs_audit_tile_levels(uint64_t size)
{
    unsigned l = 0;
    while (l < CS_AUDIT_MAX_LEVELS && level_count(size, l) > 0)
        l++;
    return l;
}

cs_audit_tree *cs_audit_tree_new(const cs_audit_tile_reader *reader, cs_audit_tile_sink sink,
                                 void *sink_ctx)
{
    cs_audit_tree *t = cs_calloc(1, sizeof *t);
    if (reader) t->reader = *reader;
    t->sink = sink;
    t->sink_ctx = sink_ctx;
    return t;
}

void cs_audit_tree_free(cs_audit_tree *t)
{
    free(t);
}

void cs_audit_tree_copy(cs_audit_tree *dst, const cs_audit_tree *src)
{
    if (dst == src) return;
    dst->size = src->size;
    dst->broken = src->broken;
    for (unsigned l = 0; l < CS_AUDIT_MAX_LEVELS; l++)
        memcpy(dst->edge[l], src->edge[l], (size_t)cs_audit_partial_width(src->size, l) * H);
    dst->cache_valid = 0;
    for (unsigned k = 0; k < 64; k++)
        if (src->size >> k & 1) memcpy(dst->frontier[k], src->frontier[k], H);
}

uint64_t cs_audit_tree_size(const cs_audit_tree *t)
{
    return t->size;
}

int cs_audit_tree_append_leaf(cs_audit_tree *t, const uint8_t leaf[CS_AUDIT_HASH_LEN])
{
    if (t->broken) return CS_ECONFLICT;
    if (t->size == UINT64_MAX) return CS_ETOOBIG;
    uint8_t cur[H];
    memcpy(cur, leaf, H);
    for (unsigned l = 0; l < CS_AUDIT_MAX_LEVELS; l++) {
        uint64_t before = level_count(t->size, l);
        unsigned w = (unsigned)(before % CS_AUDIT_TILE_WIDTH);
        memcpy(t->edge[l] + (size_t)w * H, cur, H);
        if (w != CS_AUDIT_TILE_WIDTH - 1) break;
        /* The tile just became complete: persist it and carry its root one level up. */
        if (t->sink) {
            int rc = t->sink(t->sink_ctx, l, before / CS_AUDIT_TILE_WIDTH, t->edge[l]);
            if (rc < 0) {
                t->broken = 1;
                return rc;
            }
        }
        cs_audit_range_root(t->edge[l], CS_AUDIT_TILE_WIDTH, cur);
    }
    /* Adding one leaf carries through the set low bits of size, like a counter. */
    memcpy(cur, leaf, H);
    unsigned k = 0;
    while (t->size >> k & 1) {
        cs_audit_node_hash(t->frontier[k], cur, cur);
        k++;
    }
    memcpy(t->frontier[k], cur, H);
    t->size++;
    return 0;
}

int cs_audit_tree_append(cs_audit_tree *t, const void *entry, size_t len)
{
    uint8_t leaf[H];
    cs_audit_leaf_hash(entry, len, leaf);
    return cs_audit_tree_append_leaf(t, leaf);
}

/* Reads a complete tile through the reader, with a one-tile cache. */
static int read_full_tile(cs_audit_tree *t, unsigned level, uint64_t index, const uint8_t **out,
                          cs_err *err)
{
    if (!(t->cache_valid && t->cache_level == level && t->cache_index == index)) {
        if (t->reader.read_tile == NULL)
            return cs_err_set(err, CS_ENOTFOUND, "no tile reader for tile %u/%llu", level,
                              (unsigned long long)index);
        t->cache_valid = 0;
        int rc = t->reader.read_tile(t->reader.ctx, level, index, CS_AUDIT_TILE_WIDTH, t->cache);
        if (rc < 0)
            return cs_err_set(err, rc, "cannot read tile %u/%llu: %s", level,
                              (unsigned long long)index, cs_strerror(rc));
        t->cache_valid = 1;
        t->cache_level = level;
        t->cache_index = index;
    }
    *out = t->cache;
    return 0;
}

/* Hash of the perfect subtree at tree level `height` with node index `index`. The
 * caller guarantees that the subtree is complete in the current tree. */
static int node_at(cs_audit_tree *t, unsigned height, uint64_t index, uint8_t out[H], cs_err *err)
{
    unsigned level = height / CS_AUDIT_TILE_HEIGHT, sub = height % CS_AUDIT_TILE_HEIGHT;
    uint64_t first = index << sub; /* first hash at tree level 8*level */
    uint64_t tile = first / CS_AUDIT_TILE_WIDTH;
    size_t off = (size_t)(first % CS_AUDIT_TILE_WIDTH);
    const uint8_t *hashes;
    if (tile == level_count(t->size, level) / CS_AUDIT_TILE_WIDTH) {
        hashes = t->edge[level];
    } else {
        int rc = read_full_tile(t, level, tile, &hashes, err);
        if (rc < 0) return rc;
    }
    cs_audit_range_root(hashes + off * H, (size_t)1 << sub, out);
    return 0;
}

static unsigned log2_exact(uint64_t n)
{
    unsigned k = 0;
    while (((uint64_t)1 << k) < n)
        k++;
    return k;
}

static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* MTH(D[lo:hi]) for 0 <= lo < hi <= size. */
static int range_hash(cs_audit_tree *t, uint64_t lo, uint64_t hi, uint8_t out[H], cs_err *err)
{
    uint64_t n = hi - lo;
    if ((n & (n - 1)) == 0 && lo % n == 0) return node_at(t, log2_exact(n), lo / n, out, err);
    uint64_t k = split_point(n);
    uint8_t l[H], r[H];
    int rc = range_hash(t, lo, lo + k, l, err);
    if (rc == 0) rc = range_hash(t, lo + k, hi, r, err);
    if (rc == 0) cs_audit_node_hash(l, r, out);
    return rc;
}

int cs_audit_tree_root(cs_audit_tree *t, uint64_t size, uint8_t out[CS_AUDIT_HASH_LEN], cs_err *err)
{
    if (size > t->size)
        return cs_err_set(err, CS_ENOTFOUND, "tree has %llu entries, not %llu",
                          (unsigned long long)t->size, (unsigned long long)size);
    if (size == 0) {
        cs_audit_empty_root(out);
        return 0;
    }
    if (size == t->size) {
        /* Smaller subtrees are on the right: fold from the lowest set bit upwards. */
        int have = 0;
        for (unsigned k = 0; k < 64; k++) {
            if (!(size >> k & 1)) continue;
            if (have)
                cs_audit_node_hash(t->frontier[k], out, out);
            else
                memcpy(out, t->frontier[k], H);
            have = 1;
        }
        return 0;
    }
    return range_hash(t, 0, size, out, err);
}

static int push(cs_audit_tree *t, uint64_t lo, uint64_t hi, uint8_t *proof, size_t *count,
                cs_err *err)
{
    if (*count >= CS_AUDIT_PROOF_MAX) return cs_err_set(err, CS_EINTERNAL, "proof too long");
    int rc = range_hash(t, lo, hi, proof + *count * H, err);
    if (rc == 0) (*count)++;
    return rc;
}

/* RFC 6962 PATH(index - lo, D[lo:hi]), appended leaf-side first. */
static int path(cs_audit_tree *t, uint64_t index, uint64_t lo, uint64_t hi, uint8_t *proof,
                size_t *count, cs_err *err)
{
    if (hi - lo == 1) return 0;
    uint64_t k = split_point(hi - lo);
    int rc;
    if (index < lo + k) {
        if ((rc = path(t, index, lo, lo + k, proof, count, err)) < 0) return rc;
        return push(t, lo + k, hi, proof, count, err);
    }
    if ((rc = path(t, index, lo + k, hi, proof, count, err)) < 0) return rc;
    return push(t, lo, lo + k, proof, count, err);
}

int cs_audit_tree_inclusion_proof(cs_audit_tree *t, uint64_t index, uint64_t size, uint8_t *proof,
                                  size_t *count, cs_err *err)
{
    *count = 0;
    if (size > t->size || index >= size)
        return cs_err_set(err, CS_ENOTFOUND, "no entry %llu in a tree of %llu (log has %llu)",
                          (unsigned long long)index, (unsigned long long)size,
                          (unsigned long long)t->size);
    return path(t, index, 0, size, proof, count, err);
}

/* RFC 6962 SUBPROOF(m, D[lo:hi], b). */
static int subproof(cs_audit_tree *t, uint64_t m, uint64_t lo, uint64_t hi, int b, uint8_t *proof,
                    size_t *count, cs_err *err)
{
    uint64_t n = hi - lo;
    if (m == n) return b ? 0 : push(t, lo, hi, proof, count, err);
    uint64_t k = split_point(n);
    int rc;
    if (m <= k) {
        if ((rc = subproof(t, m, lo, lo + k, b, proof, count, err)) < 0) return rc;
        return push(t, lo + k, hi, proof, count, err);
    }
    if ((rc = subproof(t, m - k, lo + k, hi, 0, proof, count, err)) < 0) return rc;
    return push(t, lo, lo + k, proof, count, err);
}

int cs_audit_tree_consistency_proof(cs_audit_tree *t, uint64_t size1, uint64_t size2,
                                    uint8_t *proof, size_t *count, cs_err *err)
{
    *count = 0;
    if (size1 == 0 || size1 > size2 || size2 > t->size)
        return cs_err_set(err, CS_EINVAL, "no consistency proof from %llu to %llu (log has %llu)",
                          (unsigned long long)size1, (unsigned long long)size2,
                          (unsigned long long)t->size);
    return subproof(t, size1, 0, size2, 1, proof, count, err);
}

int cs_audit_tree_tile(cs_audit_tree *t, unsigned level, uint64_t index, unsigned width,
                       uint8_t *out, cs_err *err)
{
    if (level >= CS_AUDIT_MAX_LEVELS || width == 0 || width > CS_AUDIT_TILE_WIDTH)
        return cs_err_set(err, CS_EINVAL, "bad tile %u/%llu width %u", level,
                          (unsigned long long)index, width);
    uint64_t have = level_count(t->size, level);
    uint64_t full = have / CS_AUDIT_TILE_WIDTH;
    if (index > full || (index == full && width > have % CS_AUDIT_TILE_WIDTH))
        return cs_err_set(err, CS_ENOTFOUND, "tile %u/%llu width %u is beyond the tree", level,
                          (unsigned long long)index, width);
    const uint8_t *src = t->edge[level];
    if (index < full) {
        int rc = read_full_tile(t, level, index, &src, err);
        if (rc < 0) return rc;
    }
    memcpy(out, src, (size_t)width * H);
    return 0;
}

/* Recomputes the incomplete tile of `level` (>= 1) from the complete tiles below it. */
static int rebuild_edge(cs_audit_tree *t, unsigned level, uint64_t tile, unsigned width,
                        cs_err *err)
{
    for (unsigned i = 0; i < width; i++) {
        const uint8_t *below;
        int rc = read_full_tile(t, level - 1, tile * CS_AUDIT_TILE_WIDTH + i, &below, err);
        if (rc < 0) return rc;
        cs_audit_range_root(below, CS_AUDIT_TILE_WIDTH, t->edge[level] + (size_t)i * H);
    }
    return 0;
}

/* The compact range of a restored tree. Each of its subtrees ends where the tree does,
 * so its hashes lie in the incomplete tile of its level (edge[], just restored) and no
 * tile is read: the bits of size above the subtree's select the tile, and they are the
 * tile index of level_count(size, level) too. */
static void rebuild_frontier(cs_audit_tree *t)
{
    for (unsigned k = 0; k < 64; k++) {
        if (!(t->size >> k & 1)) continue;
        uint64_t lo = k == 63 ? 0 : t->size >> (k + 1) << (k + 1);
        unsigned level = k / CS_AUDIT_TILE_HEIGHT, sub = k % CS_AUDIT_TILE_HEIGHT;
        size_t off = (size_t)((lo >> (CS_AUDIT_TILE_HEIGHT * level)) % CS_AUDIT_TILE_WIDTH);
        cs_audit_range_root(t->edge[level] + off * H, (size_t)1 << sub, t->frontier[k]);
    }
}

int cs_audit_tree_restore(cs_audit_tree *t, uint64_t size, cs_err *err)
{
    t->size = 0;
    t->broken = 0;
    t->cache_valid = 0;
    for (unsigned l = 0; l < CS_AUDIT_MAX_LEVELS; l++) {
        unsigned w = cs_audit_partial_width(size, l);
        if (w == 0) continue;
        uint64_t tile = level_count(size, l) / CS_AUDIT_TILE_WIDTH;
        int rc = t->reader.read_tile ? t->reader.read_tile(t->reader.ctx, l, tile, w, t->edge[l])
                                     : CS_ENOTFOUND;
        if (rc == CS_ENOTFOUND && l > 0) {
            rc = rebuild_edge(t, l, tile, w, err); /* sets err itself */
        } else if (rc < 0) {
            cs_err_set(err, rc, "cannot restore tile %u/%llu width %u: %s", l,
                       (unsigned long long)tile, w, cs_strerror(rc));
        }
        if (rc < 0) {
            t->broken = 1;
            return rc;
        }
    }
    t->size = size;
    rebuild_frontier(t);
    return 0;
}
