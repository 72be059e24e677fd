/* audit_tile.h - C2SP tlog-tiles (https://c2sp.org/tlog-tiles) resource paths and entry
 * bundles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]. */
#ifndef CS_AUDIT_TILE_H
#define CS_AUDIT_TILE_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Entries are prefixed by a big-endian uint16 length in a bundle. */
#define CS_AUDIT_ENTRY_MAX 65535
#define CS_AUDIT_LEVEL_ENTRIES (-1)

typedef struct cs_audit_tile_ref {
    int level;      /* 0..63, or CS_AUDIT_LEVEL_ENTRIES for an entry bundle */
    uint64_t index; /* N */
    unsigned width; /* 1..256; 256 is a full tile (no .p/ suffix) */
} cs_audit_tile_ref;

/* Appends "tile/<L>/<N>[.p/<W>]" (or "tile/entries/...") to out. */
int cs_audit_tile_path(cs_buf *out, const cs_audit_tile_ref *ref);
/* Parses a path that starts with "tile/" (as served under /v1/audit/). Only the
 * canonical form is accepted: no leading zeros, three-digit groups, x prefixes on all
 * but the last group, W between 1 and 255. Returns 0 or CS_EPARSE. */
int cs_audit_tile_path_parse(const char *path, size_t len, cs_audit_tile_ref *ref);

/* Appends one entry to an entry bundle (CS_ETOOBIG past CS_AUDIT_ENTRY_MAX bytes). */
int cs_audit_bundle_add(cs_buf *bundle, const void *entry, size_t len);

typedef struct cs_audit_bundle_iter {
    const uint8_t *p;
    size_t left;
} cs_audit_bundle_iter;

void cs_audit_bundle_iter_init(cs_audit_bundle_iter *it, const void *bundle, size_t len);
/* Returns 1 with the next entry (pointing into the bundle), 0 at the end, or CS_EPARSE
 * when the bundle is truncated. */
int cs_audit_bundle_next(cs_audit_bundle_iter *it, const uint8_t **entry, size_t *len);

#endif
