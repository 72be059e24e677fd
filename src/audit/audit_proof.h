/* audit_proof.h - C2SP tlog-proof files (https://c2sp.org/tlog-proof): an entry's index,
 * its RFC 6962 inclusion proof and the signed checkpoint it leads to, verifiable offline. */
#ifndef CS_AUDIT_PROOF_H
#define CS_AUDIT_PROOF_H

#include "audit/audit_checkpoint.h"
#include "audit/audit_tree.h"
#include "util/buf.h"
#include "util/error.h"

#define CS_AUDIT_PROOF_FILE_MAX (128 * 1024)
#define CS_AUDIT_PROOF_EXTRA_MAX 4096

typedef struct cs_audit_proof {
    uint64_t index;
    uint8_t hashes[CS_AUDIT_PROOF_MAX * CS_AUDIT_HASH_LEN];
    size_t count;
    uint8_t *extra; /* optional opaque data (owned), NULL when absent */
    size_t extra_len;
    char *checkpoint; /* the signed checkpoint note (owned, NUL-terminated) */
    size_t checkpoint_len;
} cs_audit_proof;

/* Appends a proof file. extra may be NULL. */
int cs_audit_proof_format(cs_buf *out, uint64_t index, const uint8_t *hashes, size_t count,
                          const void *extra, size_t extra_len, const char *note, size_t note_len);
/* Writes the proof of entry `index` to the tree of the signed checkpoint `note` (which
 * is verified with key first). */
int cs_audit_proof_build(cs_buf *out, cs_audit_tree *t, uint64_t index, const char *note,
                         size_t note_len, const cs_audit_verifier *key, cs_err *err);
/* Parses a proof file (the checkpoint is not verified yet). Returns 0 or CS_EPARSE. */
int cs_audit_proof_parse(const char *text, size_t len, cs_audit_proof *p, cs_err *err);
void cs_audit_proof_free(cs_audit_proof *p);
/* Verifies the checkpoint's signature and that `entry` is at p->index in its tree.
 * cp (may be NULL) receives the checkpoint. Returns 0 or CS_EAUTH / CS_EPARSE. */
int cs_audit_proof_verify(const cs_audit_proof *p, const void *entry, size_t len,
                          const cs_audit_verifier *key, cs_audit_checkpoint *cp, cs_err *err);

#endif
