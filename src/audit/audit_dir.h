/* audit_dir.h - a static C2SP tlog-tiles directory (checkpoint, key, tile/...): written by
 * export, read back as a verification source. Any file server can publish it. */
#ifndef CS_AUDIT_DIR_H
#define CS_AUDIT_DIR_H

#include "audit/audit_tree.h"
#include "audit/audit_verify.h"
#include "util/buf.h"
#include "util/error.h"

/* Appends entries [start, start + count) of the log to an entry bundle
 * (cs_audit_bundle_add). */
typedef struct cs_audit_entry_reader {
    int (*read_bundle)(void *ctx, uint64_t start, unsigned count, cs_buf *bundle);
    void *ctx;
} cs_audit_entry_reader;

/* Writes the log as of the signed checkpoint `note` (verified with vkey first, and its
 * size must not exceed the tree) into dir: every hash tile and entry bundle, then
 * "key" and, last, "checkpoint", each through a temporary file and rename. */
int cs_audit_export_dir(const char *dir, cs_audit_tree *tree, const cs_audit_entry_reader *entries,
                        const char *note, size_t note_len, const char *vkey, cs_err *err);

/* A source that reads files under dir; ctx points to the directory path. */
void cs_audit_dir_source(cs_audit_source *src, const char *dir);

/* Reads a whole file of at most max bytes (CS_ENOTFOUND when it does not exist). */
int cs_audit_read_file(const char *path, size_t max, cs_buf *out, cs_err *err);
/* Writes a file through path.tmp and rename(2). */
int cs_audit_write_file(const char *path, const void *data, size_t len, cs_err *err);

#endif
