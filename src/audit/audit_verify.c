/* audit_verify.c - offline verifier of a C2SP tlog-tiles log: recomputes the RFC 6962
 * tree from the entry bundles, compares every stored hash tile, the root in the signed
 * checkpoint (C2SP tlog-checkpoint, signed-note) and a trusted earlier checkpoint. */
#include "audit/audit_verify.h"

#include "audit/audit_checkpoint.h"
#include "audit/audit_dir.h"
#include "audit/audit_tile.h"
#include "audit/audit_tree.h"
#include "util/alloc.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_MAX (64 * 1024)
#define KEY_MAX 4096
#define BUNDLE_MAX ((size_t)CS_AUDIT_TILE_WIDTH * (CS_AUDIT_ENTRY_MAX + 2))
#define NONE UINT64_MAX

typedef struct vstate {
    const cs_audit_source *src;
    cs_audit_report *rep;
    cs_err *err;
    int io_rc;      /* a fetch failed for another reason than absence */
    cs_buf scratch; /* fetched tiles */
    /* First disagreement between a stored hash tile and the recomputed tree, as the
     * first leaf index under the differing hash; level-0 ones are kept apart because
     * they name a single entry. */
    uint64_t leaf_bad, tile_bad;
    char leaf_bad_path[96], tile_bad_path[96];
    /* The root of the recomputed tree when it had the trusted checkpoint's size. */
    uint64_t trusted_size;
    uint8_t trusted_root_now[CS_AUDIT_HASH_LEN];
} vstate;

static void tile_path(char *out, size_t cap, int level, uint64_t index, unsigned width)
{
    cs_buf b;
    cs_buf_init(&b, cap - 1);
    cs_audit_tile_ref ref = {level, index, width};
    if (cs_audit_tile_path(&b, &ref) == 0)
        snprintf(out, cap, "%s", b.data);
    else
        snprintf(out, cap, "?");
    cs_buf_free(&b);
}

static uint64_t leaf_of(unsigned level, uint64_t hash_index)
{
    return hash_index << (CS_AUDIT_TILE_HEIGHT * level);
}

static void note_mismatch(vstate *vs, unsigned level, uint64_t leaf, const char *path)
{
    uint64_t *slot = level == 0 ? &vs->leaf_bad : &vs->tile_bad;
    char *where = level == 0 ? vs->leaf_bad_path : vs->tile_bad_path;
    if (leaf < *slot) {
        *slot = leaf;
        snprintf(where, sizeof vs->leaf_bad_path, "%s", path);
    }
}

/* Compares the stored tile (level, index, width) with the recomputed hashes. */
/* Fetches tile (level, index) of `width` into out, naming it in path. C2SP tlog-tiles
 * lets a log drop a partial tile once the full one exists, so a missing partial tile is
 * fetched as the full tile, of which the first `width` items count (*full is set). */
static int fetch_tile(vstate *vs, int level, uint64_t index, unsigned width, size_t max,
                      cs_buf *out, char path[96], int *full)
{
    *full = width == CS_AUDIT_TILE_WIDTH;
    tile_path(path, 96, level, index, width);
    cs_buf_reset(out);
    int rc = vs->src->fetch(vs->src->ctx, path, max, out, vs->err);
    if (rc != CS_ENOTFOUND || *full) return rc;
    char full_path[96];
    tile_path(full_path, sizeof full_path, level, index, CS_AUDIT_TILE_WIDTH);
    cs_buf_reset(out);
    if (vs->src->fetch(vs->src->ctx, full_path, max, out, NULL) != 0) return CS_ENOTFOUND;
    snprintf(path, 96, "%s", full_path);
    *full = 1;
    return 0;
}

/* Compares the stored tile (level, index, width) with the recomputed hashes. */
static int check_tile(vstate *vs, unsigned level, uint64_t index, unsigned width,
                      const uint8_t *computed)
{
    char path[96];
    int full;
    int rc =
        fetch_tile(vs, (int)level, index, width, CS_AUDIT_TILE_BYTES, &vs->scratch, path, &full);
    vs->rep->tiles_checked++;
    uint64_t first = index * CS_AUDIT_TILE_WIDTH;
    size_t want = (size_t)(full ? CS_AUDIT_TILE_WIDTH : width) * CS_AUDIT_HASH_LEN;
    if (rc == CS_ENOTFOUND || rc == CS_ETOOBIG || (rc == 0 && vs->scratch.len != want)) {
        note_mismatch(vs, level, leaf_of(level, first), path);
        return 0;
    }
    if (rc < 0) return vs->io_rc = rc;
    for (unsigned j = 0; j < width; j++) {
        size_t off = (size_t)j * CS_AUDIT_HASH_LEN;
        if (memcmp(vs->scratch.data + off, computed + off, CS_AUDIT_HASH_LEN) != 0) {
            note_mismatch(vs, level, leaf_of(level, first + j), path);
            break;
        }
    }
    return 0;
}

static int verify_sink(void *ctx, unsigned level, uint64_t index, const uint8_t *hashes)
{
    return check_tile(ctx, level, index, CS_AUDIT_TILE_WIDTH, hashes);
}

static int fail(cs_audit_report *rep, cs_err *err, int64_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(cs_audit_report *rep, cs_err *err, int64_t index, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->problem, sizeof rep->problem, fmt, ap);
    va_end(ap);
    rep->first_bad_index = index;
    return cs_err_set(err, CS_EAUTH, "%s", rep->problem);
}

/* Index of the first entry of a short or malformed bundle that differs from the stored
 * level-0 tile; `got` entries of bundle n were appended to t. */
static uint64_t first_diff_in_bundle(vstate *vs, cs_audit_tree *t, uint64_t n, unsigned got,
                                     unsigned width)
{
    uint64_t first = n * CS_AUDIT_TILE_WIDTH;
    if (got == 0) return first;
    uint8_t *mine = cs_malloc(CS_AUDIT_TILE_BYTES);
    uint64_t bad = first + got;
    char path[96];
    tile_path(path, sizeof path, 0, n, width);
    cs_buf_reset(&vs->scratch);
    if (cs_audit_tree_tile(t, 0, n, got, mine, NULL) == 0 &&
        vs->src->fetch(vs->src->ctx, path, CS_AUDIT_TILE_BYTES, &vs->scratch, NULL) == 0 &&
        vs->scratch.len == (size_t)width * CS_AUDIT_HASH_LEN) {
        for (unsigned j = 0; j < got; j++)
            if (memcmp(mine + (size_t)j * CS_AUDIT_HASH_LEN,
                       vs->scratch.data + (size_t)j * CS_AUDIT_HASH_LEN, CS_AUDIT_HASH_LEN) != 0) {
                bad = first + j;
                break;
            }
    }
    free(mine);
    return bad;
}

/* Appends the entries of bundle n (which must hold `width`) to t. Returns 0, CS_EAUTH
 * (report filled) or an I/O code. */
static int stream_bundle(vstate *vs, cs_audit_tree *t, uint64_t n, unsigned width, cs_buf *bundle)
{
    char path[96];
    int full;
    int rc = fetch_tile(vs, CS_AUDIT_LEVEL_ENTRIES, n, width, BUNDLE_MAX, bundle, path, &full);
    if (rc == CS_ENOTFOUND)
        return fail(vs->rep, vs->err, (int64_t)(n * CS_AUDIT_TILE_WIDTH),
                    "entry bundle %s is missing: entries from %llu are gone", path,
                    (unsigned long long)(n * CS_AUDIT_TILE_WIDTH));
    if (rc == CS_ETOOBIG)
        return fail(vs->rep, vs->err, (int64_t)(n * CS_AUDIT_TILE_WIDTH),
                    "entry bundle %s is larger than %u entries can be", path, width);
    if (rc < 0) return rc;
    cs_audit_bundle_iter it;
    cs_audit_bundle_iter_init(&it, bundle->data, bundle->len);
    const uint8_t *e;
    size_t len;
    unsigned got = 0;
    while (got < width && cs_audit_bundle_next(&it, &e, &len) == 1) {
        /* Only a failing tile comparison (I/O) can make an append fail here. */
        if ((rc = cs_audit_tree_append(t, e, len)) < 0) return vs->io_rc < 0 ? vs->io_rc : rc;
        got++;
        vs->rep->entries_checked++;
        if (cs_audit_tree_size(t) == vs->trusted_size)
            cs_audit_tree_root(t, vs->trusted_size, vs->trusted_root_now, NULL);
    }
    /* A full bundle standing in for a partial one may hold more entries. */
    if (got == width && (it.left == 0 || (full && width < CS_AUDIT_TILE_WIDTH))) return 0;
    uint64_t bad = first_diff_in_bundle(vs, t, n, got, width);
    return fail(vs->rep, vs->err, (int64_t)bad,
                "entry bundle %s holds %s entries than the %u of the checkpoint (or is "
                "malformed); first entry that differs from the log: %llu",
                path, got < width ? "fewer" : "more", width, (unsigned long long)bad);
}

/* Streams every entry bundle into t. */
static int stream_entries(vstate *vs, cs_audit_tree *t, uint64_t size)
{
    cs_buf bundle;
    cs_buf_init(&bundle, BUNDLE_MAX);
    int rc = 0;
    for (uint64_t n = 0; n * CS_AUDIT_TILE_WIDTH < size && rc == 0; n++) {
        uint64_t left = size - n * CS_AUDIT_TILE_WIDTH;
        unsigned width = left < CS_AUDIT_TILE_WIDTH ? (unsigned)left : CS_AUDIT_TILE_WIDTH;
        rc = stream_bundle(vs, t, n, width, &bundle);
    }
    cs_buf_free(&bundle);
    return rc;
}

/* Compares the incomplete tiles at the right edge of every level. */
static int check_edges(vstate *vs, cs_audit_tree *t, uint64_t size)
{
    uint8_t *buf = cs_malloc(CS_AUDIT_TILE_BYTES);
    int rc = 0;
    for (unsigned l = 0; l < cs_audit_tile_levels(size) && rc == 0; l++) {
        unsigned w = cs_audit_partial_width(size, l);
        if (w == 0) continue;
        uint64_t index = (size >> (CS_AUDIT_TILE_HEIGHT * l)) / CS_AUDIT_TILE_WIDTH;
        rc = cs_audit_tree_tile(t, l, index, w, buf, vs->err);
        if (rc == 0) rc = check_tile(vs, l, index, w, buf);
    }
    free(buf);
    return rc;
}

/* Draws the conclusion once every entry is in t. */
static int conclude(vstate *vs, cs_audit_tree *t, const cs_audit_checkpoint *cp,
                    const cs_audit_checkpoint *trusted)
{
    cs_audit_report *rep = vs->rep;
    uint8_t root[CS_AUDIT_HASH_LEN];
    int rc = cs_audit_tree_root(t, cp->size, root, vs->err);
    if (rc < 0) return rc;
    if (sodium_memcmp(root, cp->root, sizeof root) != 0) {
        if (vs->leaf_bad != NONE)
            return fail(
                rep, vs->err, (int64_t)vs->leaf_bad,
                "entry %llu does not match the signed log: its hash differs from %s and the "
                "entries do not hash to the checkpoint's root",
                (unsigned long long)vs->leaf_bad, vs->leaf_bad_path);
        /* The leftmost stored tile that disagrees with the entries covers the first
         * change, which is at or after the first entry under it. */
        if (vs->tile_bad != NONE)
            return fail(rep, vs->err, (int64_t)vs->tile_bad,
                        "the entries do not hash to the checkpoint's root and hash tile %s differs "
                        "from them: entries and lower tiles were changed together; the first "
                        "changed entry is at or after %llu",
                        vs->tile_bad_path, (unsigned long long)vs->tile_bad);
        return fail(rep, vs->err, -1,
                    "the entries do not hash to the checkpoint's root (the log was rewritten "
                    "together with all its tiles, or the checkpoint belongs to other entries)");
    }
    if (trusted && sodium_memcmp(vs->trusted_root_now, trusted->root, CS_AUDIT_HASH_LEN) != 0)
        return fail(rep, vs->err, -1,
                    "the log is not consistent with the trusted checkpoint of size %llu: its "
                    "first %llu entries have another root (history was rewritten and re-signed)",
                    (unsigned long long)trusted->size, (unsigned long long)trusted->size);
    uint64_t bad = vs->leaf_bad < vs->tile_bad ? vs->leaf_bad : vs->tile_bad;
    if (bad != NONE)
        return fail(rep, vs->err, (int64_t)bad,
                    "hash tile %s differs from the tree recomputed from the entries (the entries "
                    "are intact); first differing hash covers entry %llu",
                    vs->leaf_bad < vs->tile_bad ? vs->leaf_bad_path : vs->tile_bad_path,
                    (unsigned long long)bad);
    return 0;
}

/* Verifies the checkpoint, and the trusted one when given: signatures, origin, no
 * rollback. Returns 0, CS_EAUTH (report filled) or another code. */
static int open_checkpoints(vstate *vs, const cs_buf *note, const cs_audit_verifier *key,
                            const char *trusted_note, size_t trusted_len, cs_audit_checkpoint *cp,
                            cs_audit_checkpoint *tcp)
{
    cs_audit_report *rep = vs->rep;
    cs_err *err = vs->err;
    int rc = cs_audit_checkpoint_open(note->data, note->len, key, cp, err);
    if (rc < 0)
        return fail(rep, err, -1, "checkpoint does not verify: %s",
                    err ? err->msg : cs_strerror(rc));
    snprintf(rep->origin, sizeof rep->origin, "%s", cp->origin);
    rep->size = cp->size;
    memcpy(rep->root, cp->root, sizeof rep->root);
    if (trusted_note == NULL) return 0;
    if ((rc = cs_audit_checkpoint_open(trusted_note, trusted_len, key, tcp, err)) < 0)
        return fail(rep, err, -1, "trusted checkpoint does not verify with this key: %s",
                    err ? err->msg : cs_strerror(rc));
    rep->trusted = 1;
    rep->trusted_size = vs->trusted_size = tcp->size;
    cs_audit_empty_root(vs->trusted_root_now);
    if (tcp->size > cp->size)
        return fail(rep, err, (int64_t)cp->size,
                    "rollback: the log has %llu entries but a checkpoint of %llu was seen "
                    "before; entries from %llu are missing",
                    (unsigned long long)cp->size, (unsigned long long)tcp->size,
                    (unsigned long long)cp->size);
    return 0;
}

static int verify_impl(const cs_audit_source *src, const cs_audit_verifier *key,
                       const char *trusted_note, size_t trusted_len, cs_audit_report *rep,
                       cs_buf *note_out, cs_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->first_bad_index = -1;
    cs_audit_checkpoint cp, tcp;
    vstate vs = {.src = src,
                 .rep = rep,
                 .err = err,
                 .leaf_bad = NONE,
                 .tile_bad = NONE,
                 .trusted_size = NONE};
    cs_buf_init(&vs.scratch, CS_AUDIT_TILE_BYTES);
    cs_buf note;
    cs_buf_init(&note, CHECKPOINT_MAX);
    cs_audit_tree *t = NULL;
    int rc = src->fetch(src->ctx, "checkpoint", CHECKPOINT_MAX, &note, err);
    if (rc == 0) rc = open_checkpoints(&vs, &note, key, trusted_note, trusted_len, &cp, &tcp);
    if (rc < 0) goto out;
    t = cs_audit_tree_new(NULL, verify_sink, &vs);
    rc = stream_entries(&vs, t, cp.size);
    if (rc == 0) rc = vs.io_rc;
    if (rc == 0) rc = check_edges(&vs, t, cp.size);
    if (rc == 0) rc = vs.io_rc;
    if (rc == 0) rc = conclude(&vs, t, &cp, trusted_note ? &tcp : NULL);
    if (rc == 0 && note_out) rc = cs_buf_append(note_out, note.data, note.len);
out:
    cs_audit_tree_free(t);
    cs_buf_free(&note);
    cs_buf_free(&vs.scratch);
    return rc;
}

int cs_audit_verify(const cs_audit_source *src, const cs_audit_verifier *key,
                    const char *trusted_note, size_t trusted_len, cs_audit_report *report,
                    cs_err *err)
{
    return verify_impl(src, key, trusted_note, trusted_len, report, NULL, err);
}

int cs_audit_verify_source(const cs_audit_source *src, const char *vkey, const char *trusted_path,
                           cs_audit_report *report, cs_err *err)
{
    cs_buf keytext, trusted, note;
    cs_buf_init(&keytext, KEY_MAX);
    cs_buf_init(&trusted, CHECKPOINT_MAX);
    cs_buf_init(&note, CHECKPOINT_MAX);
    cs_audit_verifier key;
    int rc = 0, have_trusted = 0;
    memset(report, 0, sizeof *report);
    report->first_bad_index = -1;
    if (vkey == NULL) {
        if ((rc = src->fetch(src->ctx, "key", KEY_MAX, &keytext, err)) < 0) goto out;
        vkey = keytext.data;
    }
    if ((rc = cs_audit_verifier_parse(&key, vkey, strlen(vkey), err)) < 0) goto out;
    if (trusted_path) {
        rc = cs_audit_read_file(trusted_path, CHECKPOINT_MAX, &trusted, err);
        if (rc == 0)
            have_trusted = 1;
        else if (rc != CS_ENOTFOUND)
            goto out;
    }
    rc =
        verify_impl(src, &key, have_trusted ? trusted.data : NULL, trusted.len, report, &note, err);
    if (rc == 0 && trusted_path) rc = cs_audit_write_file(trusted_path, note.data, note.len, err);
out:
    cs_buf_free(&keytext);
    cs_buf_free(&trusted);
    cs_buf_free(&note);
    return rc;
}

int cs_audit_verify_dir(const char *dir, const char *vkey, const char *trusted_path,
                        cs_audit_report *report, cs_err *err)
{
    cs_audit_source src;
    cs_audit_dir_source(&src, dir);
    return cs_audit_verify_source(&src, vkey, trusted_path, report, err);
}
