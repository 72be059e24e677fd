/* audit_log.c - wires the audit library (src/audit/) to the store and the writer: the
 * Merkle tree is fed in the commit path, tiles and checkpoints are stored with the
 * entries they cover, and the published checkpoint bounds every read (see audit_log.h). */
#include "gateway/audit_log.h"

#include "audit/audit_checkpoint.h"
#include "audit/audit_proof.h"
#include "audit/audit_serve.h"
#include "audit/audit_tile.h"
#include "util/alloc.h"
#include "util/log.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define NOTE_MAX (64 * 1024)

/* A tile reader over the store; w = 1 reads through the writer's open transaction. */
typedef struct log_reader {
    cs_audit_log *log;
    int w;
} log_reader;

struct cs_audit_log {
    cs_store *store;
    /* Guards `tree` reads from HTTP threads (its tile cache) and the published note.
     * Only the writer thread changes `tree`, so it reads it without the lock. */
    pthread_mutex_t lock;
    cs_audit_tree *tree; /* committed state */
    cs_audit_tree *work; /* the batch being committed; writer thread only */
    log_reader r_committed, r_work;
    cs_audit_signer key;
    cs_audit_verifier verifier;
    /* The published checkpoint: its tree head, and the signed note once one was asked
     * for. Signing (an Ed25519 signature, ~17 µs) waits for the first reader instead of
     * lengthening every commit: an idle gateway's answer waits for its commit, not for
     * a signature nobody has asked for yet. */
    cs_audit_checkpoint cp; /* cp.size bounds every read */
    cs_buf note;
    int note_signed;
    cs_audit_checkpoint next_cp; /* stored in the transaction, published after its commit */
    cs_buf next_body;
    int has_next;
};

/* Leaf hashes of entries [start, start + n) (an incomplete level-0 tile). */
typedef struct leaf_ctx {
    uint8_t *out;
    long long start, next;
} leaf_ctx;

static int leaf_row(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    leaf_ctx *c = ctx;
    if (index != c->next) return CS_ENOTFOUND; /* an entry is missing */
    cs_audit_leaf_hash(entry, len, c->out + (size_t)(index - c->start) * CS_AUDIT_HASH_LEN);
    c->next++;
    return 0;
}

static int read_tile(void *ctx, unsigned level, uint64_t index, unsigned width, uint8_t *out)
{
    log_reader *r = ctx;
    cs_store *s = r->log->store;
    if (width == CS_AUDIT_TILE_WIDTH)
        return s->ops->audit_tile_get(s, r->w, level, (long long)index, out, CS_AUDIT_TILE_BYTES);
    if (level != 0) return CS_ENOTFOUND; /* the tree recomputes it from the level below */
    long long start = (long long)index * CS_AUDIT_TILE_WIDTH;
    leaf_ctx c = {out, start, start};
    cs_audit_scan q = {.from = start, .to = start + width, .limit = width};
    int rc = s->ops->audit_scan(s, r->w, &q, leaf_row, &c);
    if (rc == 0 && c.next != start + width) rc = CS_ENOTFOUND;
    return rc;
}

static int store_tile(void *ctx, unsigned level, uint64_t index, const uint8_t *hashes)
{
    cs_audit_log *l = ctx;
    return l->store->ops->audit_tile_put(l->store, level, (long long)index, hashes,
                                         CS_AUDIT_TILE_BYTES);
}

typedef struct feed_ctx {
    cs_audit_tree *t;
    int rc;
} feed_ctx;

static int feed_row(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    feed_ctx *f = ctx;
    if ((uint64_t)index != cs_audit_tree_size(f->t)) {
        cs_error("audit: entry %lld out of order (tree has %llu)", index,
                 (unsigned long long)cs_audit_tree_size(f->t));
        return CS_EINTERNAL;
    }
    if (len > CS_AUDIT_ENTRY_MAX) {
        cs_error("audit: entry %lld is longer than %d bytes", index, CS_AUDIT_ENTRY_MAX);
        return CS_ETOOBIG;
    }
    return cs_audit_tree_append(f->t, entry, len);
}

/* Writer thread, inside the batch's transaction: appends the batch's entries to a copy
 * of the committed tree (completed tiles are stored by the sink) and stores the new
 * tree head (the checkpoint's body). Any failure rolls the whole batch back. */
static int before_commit(void *ctx, cs_store *s)
{
    cs_audit_log *l = ctx;
    l->has_next = 0;
    cs_audit_tree_copy(l->work, l->tree);
    feed_ctx f = {l->work, 0};
    cs_audit_scan q = {.from = (long long)cs_audit_tree_size(l->work), .to = -1};
    int rc = s->ops->audit_scan(s, 1, &q, feed_row, &f);
    if (rc) return rc;
    if (cs_audit_tree_size(l->work) == cs_audit_tree_size(l->tree)) return 0;
    cs_err err = {0};
    rc = cs_audit_checkpoint_of(&l->key, l->work, &l->next_cp, &err);
    cs_buf_reset(&l->next_body);
    if (rc == 0 && (rc = cs_audit_checkpoint_format(&l->next_cp, &l->next_body)) < 0)
        cs_err_set(&err, rc, "checkpoint too big");
    if (rc) {
        cs_error("audit: cannot make the checkpoint: %s", err.msg);
        return rc;
    }
    rc = s->ops->audit_head_put(s, (long long)l->next_cp.size, l->next_body.data);
    if (rc == 0) l->has_next = 1;
    return rc;
}

/* After the commit: adopt the batch's tree and publish its checkpoint. */
static void after_commit(void *ctx, int rc)
{
    cs_audit_log *l = ctx;
    if (rc != 0 || !l->has_next) return;
    pthread_mutex_lock(&l->lock);
    cs_audit_tree_copy(l->tree, l->work);
    l->cp = l->next_cp;
    l->note_signed = 0;
    pthread_mutex_unlock(&l->lock);
    l->has_next = 0;
}

/* Signs the published checkpoint if no reader has yet; called with the lock held. */
static int sign_locked(cs_audit_log *l)
{
    if (l->note_signed) return 0;
    cs_err err = {0};
    cs_buf_reset(&l->note);
    int rc = cs_audit_checkpoint_sign(&l->key, &l->cp, &l->note, &err);
    if (rc) {
        cs_error("audit: cannot sign the checkpoint: %s", err.msg);
        return rc;
    }
    l->note_signed = 1;
    return 0;
}

/* The stored tree head: a checkpoint body, or (databases written before checkpoints
 * were signed on demand) a signed note, whose body is the text before the blank line. */
static int parse_stored(const char *note, cs_audit_checkpoint *cp, cs_err *err)
{
    const char *end = strstr(note, "\n\n");
    return cs_audit_checkpoint_parse(note, end ? (size_t)(end - note) + 1 : strlen(note), cp, err);
}

/* The tree of the stored checkpoint's size must have the checkpoint's root: otherwise
 * entries (of the last, incomplete tile) or tiles were changed outside countersign. */
static int check_restored(cs_audit_log *l, const char *note, uint64_t size, cs_err *err)
{
    cs_audit_checkpoint cp;
    uint8_t root[CS_AUDIT_HASH_LEN];
    int rc = parse_stored(note, &cp, err);
    if (rc) return rc;
    if (cp.size != size)
        return cs_err_set(err, CS_EAUTH, "audit: the stored checkpoint disagrees with its size");
    if ((rc = cs_audit_tree_root(l->tree, size, root, err)) != 0) return rc;
    if (sodium_memcmp(root, cp.root, sizeof root) != 0)
        return cs_err_set(
            err, CS_EAUTH,
            "audit: the stored entries no longer match the last checkpoint (size %llu): the "
            "database was changed outside countersign; run `countersign audit verify`",
            (unsigned long long)size);
    if (strcmp(cp.origin, l->key.name) != 0)
        cs_warn("audit: origin changed from %s to %s; verifiers need the new key", cp.origin,
                l->key.name);
    return 0;
}

static int count_row(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    ++*(long long *)ctx;
    return 0;
}

/* Rows after the last checkpoint were never committed with it: someone added them. A
 * log without any checkpoint or tile is a database from before the log was wired; its
 * rows are appended (and signed) by the first batch. */
static int check_tail(cs_audit_log *l, long long size, cs_err *err)
{
    long long extra = 0;
    uint8_t tile[CS_AUDIT_TILE_BYTES];
    cs_audit_scan q = {.from = size, .to = -1, .limit = 1};
    int rc = l->store->ops->audit_scan(l->store, 0, &q, count_row, &extra);
    if (rc || extra == 0) return rc;
    if (size > 0 ||
        l->store->ops->audit_tile_get(l->store, 0, 0, 0, tile, sizeof tile) != CS_ENOTFOUND)
        return cs_err_set(err, CS_EAUTH,
                          "audit: entries from index %lld were added after the last checkpoint, "
                          "outside countersign; "
                          "run `countersign audit verify`",
                          size);
    cs_warn("audit: the log has entries but no checkpoint (a database from before the Merkle log): "
            "the first "
            "commit adds them to the tree and signs them");
    return 0;
}

/* Rebuilds the committed tree: the last checkpoint's size, its tiles, and the entries
 * of its incomplete tile. Entries stored after it (a database written before the log
 * was wired) are appended by the first batch. */
static int restore(cs_audit_log *l, cs_err *err)
{
    long long size = 0;
    char *note = NULL;
    int rc = l->store->ops->audit_head_get(l->store, &size, &note);
    if (rc) {
        cs_err_set(err, rc, "audit: cannot read the last checkpoint");
        goto out;
    }
    if (size > 0) {
        cs_err why = {0};
        if ((rc = cs_audit_tree_restore(l->tree, (uint64_t)size, &why)) != 0) {
            cs_err_set(err, rc,
                       "audit: cannot restore the tree of the last checkpoint (%lld entries): "
                       "entries or tiles "
                       "are missing%s%s; run `countersign audit verify`",
                       size, why.msg[0] ? ": " : "", why.msg);
            goto out;
        }
        if ((rc = check_restored(l, note, (uint64_t)size, err)) != 0) goto out;
    }
    /* Published under the current key and origin (signed when first asked for). */
    if ((rc = cs_audit_checkpoint_of(&l->key, l->tree, &l->cp, err)) != 0) goto out;
    l->note_signed = 0;
    rc = check_tail(l, size, err);
out:
    free(note);
    return rc;
}

int cs_audit_log_open(cs_store *s, const cs_signer *key, const char *origin, cs_audit_log **out,
                      cs_err *err)
{
    cs_audit_log *l = cs_calloc(1, sizeof *l);
    l->store = s;
    pthread_mutex_init(&l->lock, NULL);
    cs_buf_init(&l->note, NOTE_MAX);
    cs_buf_init(&l->next_body, NOTE_MAX);
    l->r_committed = (log_reader){l, 0};
    l->r_work = (log_reader){l, 1};
    cs_audit_tile_reader rc_reader = {read_tile, &l->r_committed},
                         rw_reader = {read_tile, &l->r_work};
    l->tree = cs_audit_tree_new(&rc_reader, store_tile, l);
    l->work = cs_audit_tree_new(&rw_reader, store_tile, l);
    int rc = cs_signer_audit(key, origin, &l->key, err);
    if (rc == 0) {
        cs_audit_signer_verifier(&l->key, &l->verifier);
        rc = restore(l, err);
    }
    if (rc) {
        cs_audit_log_free(l);
        return rc;
    }
    s->hooks = (cs_commit_hooks){before_commit, after_commit, l};
    *out = l;
    return 0;
}

void cs_audit_log_free(cs_audit_log *l)
{
    if (l == NULL) return;
    if (l->store->hooks.ctx == l) memset(&l->store->hooks, 0, sizeof l->store->hooks);
    cs_audit_tree_free(l->tree);
    cs_audit_tree_free(l->work);
    cs_audit_signer_wipe(&l->key);
    cs_buf_free(&l->note);
    cs_buf_free(&l->next_body);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

uint64_t cs_audit_log_size(cs_audit_log *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t n = l->cp.size;
    pthread_mutex_unlock(&l->lock);
    return n;
}

uint64_t cs_audit_log_published(cs_audit_log *l, cs_buf *out)
{
    pthread_mutex_lock(&l->lock);
    uint64_t n = sign_locked(l) == 0 && cs_buf_append(out, l->note.data, l->note.len) == 0
                     ? l->cp.size
                     : 0;
    pthread_mutex_unlock(&l->lock);
    return n;
}

int cs_audit_log_checkpoint(cs_audit_log *l, cs_buf *out)
{
    pthread_mutex_lock(&l->lock);
    int rc = sign_locked(l);
    if (rc == 0) rc = cs_buf_append(out, l->note.data, l->note.len);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int cs_audit_log_vkey(cs_audit_log *l, cs_buf *out)
{
    return cs_audit_signer_vkey(&l->key, out);
}

static int bundle_row(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    return cs_audit_bundle_add(ctx, entry, len);
}

/* Entry bundles straight from the rows, as stored: a row changed or removed outside
 * countersign is served as it is, for the verifier to find. */
static int read_bundle(void *ctx, uint64_t start, unsigned count, cs_buf *bundle)
{
    cs_store *s = ctx;
    cs_audit_scan q = {.from = (long long)start, .to = (long long)(start + count), .limit = count};
    return s->ops->audit_scan(s, 0, &q, bundle_row, bundle);
}

int cs_audit_log_tile(cs_audit_log *l, const char *path, size_t len, cs_buf *out, cs_err *err)
{
    cs_audit_entry_reader er = {read_bundle, l->store};
    pthread_mutex_lock(&l->lock);
    int rc = cs_audit_serve_tile(l->tree, &er, l->cp.size, path, len, out, err);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static json_t *b64(const uint8_t *data, size_t len)
{
    char text[sodium_base64_ENCODED_LEN(CS_AUDIT_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(text, sizeof text, data, len, sodium_base64_VARIANT_ORIGINAL);
    return json_string(text);
}

static json_t *b64_list(const uint8_t *hashes, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, b64(hashes + i * CS_AUDIT_HASH_LEN, CS_AUDIT_HASH_LEN));
    return a;
}

static int entry_row(void *ctx, long long index, long long time_ms, const char *entry, size_t len)
{
    *(json_t **)ctx = json_stringn(entry, len);
    return 0;
}

/* Fills the JSON proof of entry `index`; called with the lock held. */
static int proof_locked(cs_audit_log *l, uint64_t index, json_t **out, cs_err *err)
{
    uint8_t hashes[CS_AUDIT_PROOF_MAX * CS_AUDIT_HASH_LEN], leaf[CS_AUDIT_HASH_LEN];
    size_t count = 0;
    if (index >= l->cp.size)
        return cs_err_set(err, CS_ENOTFOUND,
                          "entry %llu is not in the latest checkpoint (size %llu)",
                          (unsigned long long)index, (unsigned long long)l->cp.size);
    int rc = cs_audit_tree_inclusion_proof(l->tree, index, l->cp.size, hashes, &count, err);
    if (rc == 0 && (rc = sign_locked(l)) != 0) cs_err_set(err, rc, "cannot sign the checkpoint");
    if (rc) return rc;
    json_t *entry = NULL;
    cs_audit_scan q = {.from = (long long)index, .to = (long long)index + 1, .limit = 1};
    if ((rc = l->store->ops->audit_scan(l->store, 0, &q, entry_row, &entry)) != 0 || entry == NULL)
        return cs_err_set(err, rc ? rc : CS_ENOTFOUND, "entry %llu cannot be read",
                          (unsigned long long)index);
    cs_audit_leaf_hash(json_string_value(entry), json_string_length(entry), leaf);
    cs_buf file;
    cs_buf_init(&file, CS_AUDIT_PROOF_FILE_MAX);
    rc = cs_audit_proof_format(&file, index, hashes, count, NULL, 0, l->note.data, l->note.len);
    *out = json_pack("{s:I,s:I,s:o,s:o,s:o,s:s,s:s}", "index", (json_int_t)index, "tree_size",
                     (json_int_t)l->cp.size, "leaf_hash", b64(leaf, sizeof leaf), "hashes",
                     b64_list(hashes, count), "entry", entry, "checkpoint", l->note.data,
                     "tlog_proof", file.data ? file.data : "");
    cs_buf_free(&file);
    return rc;
}

int cs_audit_log_proof(cs_audit_log *l, uint64_t index, json_t **out, cs_err *err)
{
    pthread_mutex_lock(&l->lock);
    int rc = proof_locked(l, index, out, err);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int consistency_locked(cs_audit_log *l, uint64_t from, uint64_t to, json_t **out,
                              cs_err *err)
{
    uint8_t hashes[CS_AUDIT_PROOF_MAX * CS_AUDIT_HASH_LEN], r1[CS_AUDIT_HASH_LEN],
        r2[CS_AUDIT_HASH_LEN];
    size_t count = 0;
    if (to == 0) to = l->cp.size;
    if (from == 0 || from > to || to > l->cp.size)
        return cs_err_set(err, CS_EINVAL,
                          "need 0 < from <= to <= %llu (the latest checkpoint's size)",
                          (unsigned long long)l->cp.size);
    int rc = cs_audit_tree_consistency_proof(l->tree, from, to, hashes, &count, err);
    if (rc == 0) rc = cs_audit_tree_root(l->tree, from, r1, err);
    if (rc == 0) rc = cs_audit_tree_root(l->tree, to, r2, err);
    if (rc == 0 && (rc = sign_locked(l)) != 0) cs_err_set(err, rc, "cannot sign the checkpoint");
    if (rc) return rc;
    *out = json_pack("{s:I,s:I,s:o,s:o,s:o,s:s}", "from", (json_int_t)from, "to", (json_int_t)to,
                     "from_root", b64(r1, sizeof r1), "to_root", b64(r2, sizeof r2), "hashes",
                     b64_list(hashes, count), "checkpoint", l->note.data);
    return 0;
}

int cs_audit_log_consistency(cs_audit_log *l, uint64_t from, uint64_t to, json_t **out, cs_err *err)
{
    pthread_mutex_lock(&l->lock);
    int rc = consistency_locked(l, from, to, out, err);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int cs_audit_log_entries(cs_audit_log *l, const cs_audit_scan *q, cs_audit_row_fn fn, void *ctx)
{
    cs_audit_scan b = *q;
    long long size = (long long)cs_audit_log_size(l);
    if (b.to < 0 || b.to > size) b.to = size;
    return l->store->ops->audit_scan(l->store, 0, &b, fn, ctx);
}

int cs_audit_log_timestamp(cs_audit_log *l, json_t **out)
{
    return l->store->ops->audit_stamp_get(l->store, out);
}
