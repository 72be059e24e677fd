/* audit_log.h - the gateway's tamper-evident log: the store's audit rows fed, in index
 * order, to the RFC 6962 tree of src/audit/ inside the writer's commit path (tiles and
 * the signed checkpoint are stored in the same transaction as the entries), and the
 * reads served under /v1/audit/ (C2SP tlog-tiles, checkpoint, proofs).
 *
 * Only committed state is published: a batch's checkpoint becomes visible after its
 * commit, and everything served is bounded by the published checkpoint's size. */
#ifndef CS_GATEWAY_AUDIT_LOG_H
#define CS_GATEWAY_AUDIT_LOG_H

#include "crypto/crypto.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

#include <jansson.h>
#include <stdint.h>

typedef struct cs_audit_log cs_audit_log;

/* Restores the tree from the stored tiles and the last partial tile's entries, checks
 * it against the stored checkpoint, and installs the store's commit hooks. Refuses
 * (CS_EAUTH) a database whose entries no longer match its last checkpoint. */
int cs_audit_log_open(cs_store *s, const cs_signer *key, const char *origin, cs_audit_log **out,
                      cs_err *err);
/* Removes the hooks; call after the writer stopped. */
void cs_audit_log_free(cs_audit_log *l);

/* Tree size of the published checkpoint. */
uint64_t cs_audit_log_size(cs_audit_log *l);
/* Appends the published note and returns its tree size (one consistent pair). */
uint64_t cs_audit_log_published(cs_audit_log *l, cs_buf *out);
/* Appends the published signed checkpoint note. */
int cs_audit_log_checkpoint(cs_audit_log *l, cs_buf *out);
/* Appends the verifier key "<origin>+<hex8 id>+<base64>" (no newline). */
int cs_audit_log_vkey(cs_audit_log *l, cs_buf *out);
/* Bytes of tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]; CS_EPARSE or
 * CS_ENOTFOUND for paths that do not name a published tile. */
int cs_audit_log_tile(cs_audit_log *l, const char *path, size_t len, cs_buf *out, cs_err *err);
/* Inclusion proof of entry `index` to the published checkpoint:
 * {index, tree_size, leaf_hash, hashes[], entry, checkpoint, tlog_proof} (base64 hashes).
 * CS_ENOTFOUND when index is not covered by the checkpoint. */
int cs_audit_log_proof(cs_audit_log *l, uint64_t index, json_t **out, cs_err *err);
/* The newest RFC 3161 time-stamp: {tree_size, checkpoint, gen_time, token (base64 DER
 * TimeStampResp)}; CS_ENOTFOUND when there is none. */
int cs_audit_log_timestamp(cs_audit_log *l, json_t **out);
/* Committed entries in index order, bounded by the published checkpoint's size. */
int cs_audit_log_entries(cs_audit_log *l, const cs_audit_scan *q, cs_audit_row_fn fn, void *ctx);
/* Consistency proof from size `from` to size `to` (0 = the published size):
 * {from, to, from_root, to_root, hashes[], checkpoint}. */
int cs_audit_log_consistency(cs_audit_log *l, uint64_t from, uint64_t to, json_t **out,
                             cs_err *err);

#endif
