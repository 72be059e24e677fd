/* audit_serve.h - the bytes of the C2SP tlog-tiles resources under /v1/audit/
 * (https://c2sp.org/tlog-tiles): hash tiles and entry bundles, bounded by the tree size of
 * the published checkpoint so nothing beyond it is served. */
#ifndef CS_AUDIT_SERVE_H
#define CS_AUDIT_SERVE_H

#include "audit/audit_dir.h"
#include "audit/audit_tree.h"
#include "util/buf.h"
#include "util/error.h"

/* Appends the resource at `path` ("tile/0/x001/234.p/9", "tile/entries/000", ...) for a
 * log whose latest checkpoint has `size` entries to out. Returns 0, CS_EPARSE (not a
 * tile path: HTTP 400/404), CS_ENOTFOUND (beyond the checkpoint: 404) or a storage
 * error from the tree's reader or the entry reader. */
int cs_audit_serve_tile(cs_audit_tree *t, const cs_audit_entry_reader *entries, uint64_t size,
                        const char *path, size_t len, cs_buf *out, cs_err *err);

#endif
