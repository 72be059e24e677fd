/* audit_verify.h - offline verification of a whole C2SP tlog-tiles audit log: every
 * entry, every hash tile, the root, the checkpoint signature (C2SP signed-note) and
 * consistency with a checkpoint trusted from an earlier run. */
#ifndef CS_AUDIT_VERIFY_H
#define CS_AUDIT_VERIFY_H

#include "audit/audit_hash.h"
#include "audit/audit_note.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdint.h>

/* Where the log is read from: a static directory, an HTTP server, ... fetch appends the
 * object at `path` ("checkpoint", "key", "tile/0/000", "tile/entries/x001/234.p/7") to
 * out, refusing more than `max` bytes (CS_ETOOBIG); CS_ENOTFOUND when it is absent. */
typedef struct cs_audit_source {
    int (*fetch)(void *ctx, const char *path, size_t max, cs_buf *out, cs_err *err);
    void *ctx;
} cs_audit_source;

typedef struct cs_audit_report {
    char origin[256];
    uint64_t size; /* tree size of the verified checkpoint */
    uint8_t root[CS_AUDIT_HASH_LEN];
    uint64_t entries_checked;
    uint64_t tiles_checked; /* hash tiles compared with the recomputed ones */
    int trusted;            /* a trusted checkpoint was given */
    uint64_t trusted_size;
    int64_t first_bad_index; /* first entry index shown wrong; -1 none or unknown */
    char problem[512];       /* empty when the log verified */
} cs_audit_report;

/* Verifies the log served by src against the log's key. trusted_note (may be NULL) is a
 * signed checkpoint seen before; the log must extend it. Returns 0 when everything
 * verified, CS_EAUTH when the log does not verify (report->problem and
 * report->first_bad_index say what and where), or another negative code when the
 * verification could not run (bad key text, I/O error). */
int cs_audit_verify(const cs_audit_source *src, const cs_audit_verifier *key,
                    const char *trusted_note, size_t trusted_len, cs_audit_report *report,
                    cs_err *err);

/* cs_audit_verify with the key and the trusted checkpoint handled: vkey is the verifier
 * key text; NULL takes the source's own "key" (which then proves only that the log is
 * self-consistent). trusted_path (may be NULL) names a file holding a checkpoint from an
 * earlier run: it is checked when present and written with the new checkpoint on
 * success (through a temporary file and rename). */
int cs_audit_verify_source(const cs_audit_source *src, const char *vkey, const char *trusted_path,
                           cs_audit_report *report, cs_err *err);

/* Verifies a static tlog-tiles directory as cs_audit_export_dir writes it. vkey is the
 * verifier key text; NULL takes the directory's own "key" file (which then proves only
 * that the log is self-consistent). trusted_path (may be NULL) names a file holding a
 * checkpoint from an earlier run: it is checked when present and written with the new
 * checkpoint on success. */
int cs_audit_verify_dir(const char *dir, const char *vkey, const char *trusted_path,
                        cs_audit_report *report, cs_err *err);

#endif
