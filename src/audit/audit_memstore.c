/* audit_memstore.c - in-memory store of audit entries and complete tlog-tiles hash tiles. */
#include "audit/audit_memstore.h"

#include "audit/audit_tile.h"
#include "util/alloc.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

struct cs_audit_memstore {
    /* Entries back to back in `data`; entry i is data[off[i] .. off[i+1]). */
    uint8_t *data;
    size_t data_len, data_cap;
    size_t *off;
    size_t off_cap;
    uint64_t count;
    /* tiles[L] holds the complete tiles of level L, 8 KiB each, in index order. */
    uint8_t *tiles[CS_AUDIT_MAX_LEVELS];
    uint64_t ntiles[CS_AUDIT_MAX_LEVELS];
    size_t tiles_cap[CS_AUDIT_MAX_LEVELS];
};

cs_audit_memstore *cs_audit_memstore_new(void)
{
    cs_audit_memstore *m = cs_calloc(1, sizeof *m);
    m->off = cs_grow(NULL, &m->off_cap, 1, sizeof *m->off);
    m->off[0] = 0;
    return m;
}

void cs_audit_memstore_free(cs_audit_memstore *m)
{
    if (m == NULL) return;
    for (unsigned l = 0; l < CS_AUDIT_MAX_LEVELS; l++)
        free(m->tiles[l]);
    free(m->data);
    free(m->off);
    free(m);
}

int cs_audit_memstore_sink(void *ctx, unsigned level, uint64_t index, const uint8_t *hashes)
{
    cs_audit_memstore *m = ctx;
    if (level >= CS_AUDIT_MAX_LEVELS || index != m->ntiles[level]) return CS_EINTERNAL;
    m->tiles[level] =
        cs_grow(m->tiles[level], &m->tiles_cap[level], (size_t)(index + 1), CS_AUDIT_TILE_BYTES);
    memcpy(m->tiles[level] + (size_t)index * CS_AUDIT_TILE_BYTES, hashes, CS_AUDIT_TILE_BYTES);
    m->ntiles[level]++;
    return 0;
}

static int read_tile(void *ctx, unsigned level, uint64_t index, unsigned width, uint8_t *out)
{
    cs_audit_memstore *m = ctx;
    if (level >= CS_AUDIT_MAX_LEVELS || width == 0 || width > CS_AUDIT_TILE_WIDTH) return CS_EINVAL;
    if (index < m->ntiles[level]) {
        memcpy(out, m->tiles[level] + (size_t)index * CS_AUDIT_TILE_BYTES,
               (size_t)width * CS_AUDIT_HASH_LEN);
        return 0;
    }
    if (level != 0 || index != m->ntiles[0]) return CS_ENOTFOUND;
    uint64_t first = index * CS_AUDIT_TILE_WIDTH;
    if (first + width > m->count) return CS_ENOTFOUND;
    for (unsigned i = 0; i < width; i++) {
        const uint8_t *e;
        size_t len;
        if (cs_audit_memstore_entry(m, first + i, &e, &len) < 0) return CS_ENOTFOUND;
        cs_audit_leaf_hash(e, len, out + (size_t)i * CS_AUDIT_HASH_LEN);
    }
    return 0;
}

void cs_audit_memstore_reader(cs_audit_memstore *m, cs_audit_tile_reader *r)
{
    r->read_tile = read_tile;
    r->ctx = m;
}

int cs_audit_memstore_add(cs_audit_memstore *m, const void *entry, size_t len)
{
    if (len > CS_AUDIT_ENTRY_MAX) return CS_ETOOBIG;
    m->data = cs_grow(m->data, &m->data_cap, m->data_len + len, 1);
    if (len) memcpy(m->data + m->data_len, entry, len);
    m->data_len += len;
    m->off = cs_grow(m->off, &m->off_cap, (size_t)m->count + 2, sizeof *m->off);
    m->off[++m->count] = m->data_len;
    return 0;
}

uint64_t cs_audit_memstore_count(const cs_audit_memstore *m)
{
    return m->count;
}

int cs_audit_memstore_entry(const cs_audit_memstore *m, uint64_t index, const uint8_t **entry,
                            size_t *len)
{
    if (index >= m->count) return CS_ENOTFOUND;
    *entry = m->data + m->off[index];
    *len = m->off[index + 1] - m->off[index];
    return 0;
}

int cs_audit_memstore_read_bundle(void *ctx, uint64_t start, unsigned count, cs_buf *bundle)
{
    cs_audit_memstore *m = ctx;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *e;
        size_t len;
        int rc = cs_audit_memstore_entry(m, start + i, &e, &len);
        if (rc == 0) rc = cs_audit_bundle_add(bundle, e, len);
        if (rc < 0) return rc;
    }
    return 0;
}
