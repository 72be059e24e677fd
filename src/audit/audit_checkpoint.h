/* audit_checkpoint.h - C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) note
 * bodies: origin line, decimal tree size, base64 root hash, optional extension lines. */
#ifndef CS_AUDIT_CHECKPOINT_H
#define CS_AUDIT_CHECKPOINT_H

#include "audit/audit_hash.h"
#include "audit/audit_note.h"
#include "audit/audit_tree.h"
#include "util/buf.h"
#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

#define CS_AUDIT_ORIGIN_MAX 255
#define CS_AUDIT_EXTENSIONS_MAX 4096

typedef struct cs_audit_checkpoint {
    char origin[CS_AUDIT_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[CS_AUDIT_HASH_LEN];
    /* Extension lines, each ending in a newline, verbatim (empty string when none). */
    char extensions[CS_AUDIT_EXTENSIONS_MAX + 1];
} cs_audit_checkpoint;

/* Appends the checkpoint body. */
int cs_audit_checkpoint_format(const cs_audit_checkpoint *cp, cs_buf *out);
/* Parses a checkpoint body (the text of a note). Returns 0 or CS_EPARSE. */
int cs_audit_checkpoint_parse(const char *text, size_t len, cs_audit_checkpoint *cp, cs_err *err);

/* Formats and signs: appends the signed checkpoint note. */
int cs_audit_checkpoint_sign(const cs_audit_signer *s, const cs_audit_checkpoint *cp, cs_buf *out,
                             cs_err *err);
/* The (unsigned) checkpoint of the tree's current size: origin = the signer's name, no
 * extension lines. */
int cs_audit_checkpoint_of(const cs_audit_signer *s, cs_audit_tree *t, cs_audit_checkpoint *cp,
                           cs_err *err);
/* Signs the checkpoint of the tree's current size with origin = the signer's name, no
 * extension lines; appends the note to out and, when cp is not NULL, fills it. */
int cs_audit_checkpoint_make(const cs_audit_signer *s, cs_audit_tree *t, cs_buf *out,
                             cs_audit_checkpoint *cp, cs_err *err);
/* Verifies a signed checkpoint note with the log's key and parses it. The origin must
 * be the key name (countersign names the key after the origin). */
int cs_audit_checkpoint_open(const char *msg, size_t len, const cs_audit_verifier *v,
                             cs_audit_checkpoint *cp, cs_err *err);

#endif
