/* audit_memstore.h - an in-memory audit log store (entries and complete hash tiles) for
 * tests, benchmarks and tools; the gateway keeps the same data in its database. */
#ifndef CS_AUDIT_MEMSTORE_H
#define CS_AUDIT_MEMSTORE_H

#include "audit/audit_tree.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cs_audit_memstore cs_audit_memstore;

cs_audit_memstore *cs_audit_memstore_new(void);
void cs_audit_memstore_free(cs_audit_memstore *m);

/* Tile sink for cs_audit_tree_new (ctx = the memstore): keeps a copy of each tile. */
int cs_audit_memstore_sink(void *ctx, unsigned level, uint64_t index, const uint8_t *hashes);
/* A reader over the stored tiles. Incomplete level-0 tiles are answered by hashing the
 * stored entries; incomplete higher tiles are not kept (CS_ENOTFOUND). */
void cs_audit_memstore_reader(cs_audit_memstore *m, cs_audit_tile_reader *r);

/* Stores the next entry (index = number of entries before). */
int cs_audit_memstore_add(cs_audit_memstore *m, const void *entry, size_t len);
uint64_t cs_audit_memstore_count(const cs_audit_memstore *m);
int cs_audit_memstore_entry(const cs_audit_memstore *m, uint64_t index, const uint8_t **entry,
                            size_t *len);
/* Entry reader callback (ctx = the memstore) for cs_audit_export_dir: appends entries
 * [start, start + count) to a bundle. */
int cs_audit_memstore_read_bundle(void *ctx, uint64_t start, unsigned count, cs_buf *bundle);

#endif
