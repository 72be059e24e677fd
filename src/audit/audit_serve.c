/* audit_serve.c - serving C2SP tlog-tiles hash tiles and entry bundles
 * (https://c2sp.org/tlog-tiles) from the tree and the stored entries. */
#include "audit/audit_serve.h"

#include "audit/audit_tile.h"
#include "util/alloc.h"

#include <stdlib.h>

/* Number of items at a tile level (entries count as level 0) for a tree of `size`. */
static uint64_t items_at(uint64_t size, int level)
{
    if (level <= 0) return size;
    if (level >= CS_AUDIT_MAX_LEVELS) return 0;
    return size >> (CS_AUDIT_TILE_HEIGHT * level);
}

int cs_audit_serve_tile(cs_audit_tree *t, const cs_audit_entry_reader *entries, uint64_t size,
                        const char *path, size_t len, cs_buf *out, cs_err *err)
{
    cs_audit_tile_ref ref;
    if (cs_audit_tile_path_parse(path, len, &ref) < 0)
        return cs_err_set(err, CS_EPARSE, "not a tlog-tiles path");
    if (size > cs_audit_tree_size(t))
        return cs_err_set(err, CS_EINVAL, "checkpoint size beyond the tree");
    uint64_t have = items_at(size, ref.level);
    if (ref.index > have / CS_AUDIT_TILE_WIDTH ||
        ref.width > have - ref.index * CS_AUDIT_TILE_WIDTH)
        return cs_err_set(err, CS_ENOTFOUND, "tile beyond the published tree");
    if (ref.level == CS_AUDIT_LEVEL_ENTRIES) {
        int rc =
            entries->read_bundle(entries->ctx, ref.index * CS_AUDIT_TILE_WIDTH, ref.width, out);
        return rc < 0 ? cs_err_set(err, rc, "cannot read entries: %s", cs_strerror(rc)) : 0;
    }
    uint8_t *hashes = cs_malloc(CS_AUDIT_TILE_BYTES);
    int rc = cs_audit_tree_tile(t, (unsigned)ref.level, ref.index, ref.width, hashes, err);
    if (rc == 0 && (rc = cs_buf_append(out, hashes, (size_t)ref.width * CS_AUDIT_HASH_LEN)) < 0)
        cs_err_set(err, rc, "tile does not fit the response buffer");
    free(hashes);
    return rc;
}
