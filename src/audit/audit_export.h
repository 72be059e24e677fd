/* audit_export.h - audit evidence export (SPEC §6): each log entry as a JSON Lines
 * record, an RFC 4180 CSV row, or an OCSF 1.1 event (API Activity 6003 with the
 * security_control profile, Account Change 3001, Application Lifecycle 6002, Detection
 * Finding 2004), each carrying its log index and the controls it evidences (SOC 2,
 * ISO/IEC 27001:2022 Annex A, NIST SP 800-53). Formatting only: the caller streams the
 * entries; the event -> controls table is documented in docs/audit.md. */
#ifndef CS_AUDIT_EXPORT_H
#define CS_AUDIT_EXPORT_H

#include "audit/audit_verify.h"
#include "util/buf.h"
#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

typedef enum cs_audit_format { CS_AUDIT_JSONL, CS_AUDIT_CSV, CS_AUDIT_OCSF } cs_audit_format;

/* "jsonl", "csv", "ocsf" -> format; CS_EINVAL otherwise. */
int cs_audit_format_parse(const char *name, cs_audit_format *f);
/* The HTTP media type of an export. */
const char *cs_audit_format_media_type(cs_audit_format f);

/* The controls an event evidences, by framework; NULL-terminated lists of ids. */
typedef struct cs_audit_controls {
    const char *const *soc2;
    const char *const *iso27001;
    const char *const *nist;
} cs_audit_controls;
void cs_audit_controls_for(const char *event, cs_audit_controls *c);

/* Appends what comes before the first record (the CSV header line; nothing otherwise). */
int cs_audit_export_begin(cs_audit_format f, cs_buf *out);
/* Appends the record of entry `index` (its canonical JSON text) with a trailing newline
 * (CRLF for CSV). CS_EPARSE when the entry is not a JSON object. */
int cs_audit_export_record(cs_audit_format f, uint64_t index, const char *entry, size_t len,
                           cs_buf *out, cs_err *err);
/* An OCSF Detection Finding (2004) for a failed verification, one line. */
int cs_audit_export_finding(const cs_audit_report *report, const char *source, long long time_ms,
                            cs_buf *out);

/* "2026-11-21", "2026-11-21T03:00:00Z", "2026-11-21T03:00:00.123Z" (UTC) or integer
 * milliseconds since the epoch -> ms. Returns 0 or CS_EINVAL. */
int cs_audit_time_parse(const char *text, long long *ms);

#endif
