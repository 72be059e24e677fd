/* audit_dir.c - static C2SP tlog-tiles directories (https://c2sp.org/tlog-tiles): export
 * of a log as files, and reading such a directory back for verification. */
#include "audit/audit_dir.h"

#include "audit/audit_checkpoint.h"
#include "audit/audit_tile.h"
#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates every directory on the way to the file `path`. */
static int mkdir_parents(const char *path, cs_err *err)
{
    char *p = cs_strdup(path);
    int rc = 0;
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = cs_err_set(err, CS_EIO, "mkdir %s: %s", p, strerror(errno));
            break;
        }
        *s = '/';
    }
    free(p);
    return rc;
}

int cs_audit_write_file(const char *path, const void *data, size_t len, cs_err *err)
{
    char *tmp = cs_sprintf("%s.tmp", path);
    int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = cs_err_set(err, CS_EIO, "open %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = cs_err_set(err, CS_EIO, "write %s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 && rc == 0)
        rc = cs_err_set(err, CS_EIO, "close %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0)
        rc = cs_err_set(err, CS_EIO, "rename %s: %s", path, strerror(errno));
    if (rc < 0) unlink(tmp);
out:
    free(tmp);
    return rc;
}

int cs_audit_read_file(const char *path, size_t max, cs_buf *out, cs_err *err)
{
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_err_set(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, "open %s: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = cs_err_set(err, CS_EIO, "%s is not a readable file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = cs_err_set(err, CS_ETOOBIG, "%s is over %zu bytes", path, max);
        goto out;
    }
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = cs_err_set(err, CS_EIO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        if ((rc = cs_buf_append(out, chunk, (size_t)n)) < 0) {
            cs_err_set(err, rc, "%s is over %zu bytes", path, max);
            break;
        }
    }
out:
    close(fd);
    return rc;
}

static int dir_fetch(void *ctx, const char *path, size_t max, cs_buf *out, cs_err *err)
{
    char *full = cs_sprintf("%s/%s", (const char *)ctx, path);
    size_t saved = out->max;
    out->max = out->len + max;
    int rc = cs_audit_read_file(full, max, out, err);
    out->max = saved;
    free(full);
    return rc;
}

void cs_audit_dir_source(cs_audit_source *src, const char *dir)
{
    src->fetch = dir_fetch;
    src->ctx = (void *)dir; /* only read */
}

/* Writes one object of the export under dir. */
static int put(const char *dir, const cs_audit_tile_ref *ref, const char *name, const void *data,
               size_t len, cs_err *err)
{
    cs_buf path;
    cs_buf_init(&path, 4096);
    int rc = cs_buf_printf(&path, "%s/", dir);
    if (rc == 0) rc = ref ? cs_audit_tile_path(&path, ref) : cs_buf_puts(&path, name);
    if (rc < 0) cs_err_set(err, rc, "bad export path");
    if (rc == 0) rc = mkdir_parents(path.data, err);
    if (rc == 0) rc = cs_audit_write_file(path.data, data, len, err);
    cs_buf_free(&path);
    return rc;
}

static int export_hash_tiles(const char *dir, cs_audit_tree *tree, uint64_t size, cs_err *err)
{
    uint8_t *hashes = cs_malloc(CS_AUDIT_TILE_BYTES);
    int rc = 0;
    for (unsigned l = 0; l < cs_audit_tile_levels(size) && rc == 0; l++) {
        uint64_t count = size >> (CS_AUDIT_TILE_HEIGHT * l);
        for (uint64_t n = 0; n * CS_AUDIT_TILE_WIDTH < count && rc == 0; n++) {
            uint64_t left = count - n * CS_AUDIT_TILE_WIDTH;
            cs_audit_tile_ref ref = {(int)l, n, left < 256 ? (unsigned)left : 256};
            rc = cs_audit_tree_tile(tree, l, n, ref.width, hashes, err);
            if (rc == 0)
                rc = put(dir, &ref, NULL, hashes, (size_t)ref.width * CS_AUDIT_HASH_LEN, err);
        }
    }
    free(hashes);
    return rc;
}

static int export_bundles(const char *dir, const cs_audit_entry_reader *entries, uint64_t size,
                          cs_err *err)
{
    cs_buf bundle;
    cs_buf_init(&bundle, (size_t)CS_AUDIT_TILE_WIDTH * (CS_AUDIT_ENTRY_MAX + 2));
    int rc = 0;
    for (uint64_t n = 0; n * CS_AUDIT_TILE_WIDTH < size && rc == 0; n++) {
        uint64_t left = size - n * CS_AUDIT_TILE_WIDTH;
        cs_audit_tile_ref ref = {CS_AUDIT_LEVEL_ENTRIES, n, left < 256 ? (unsigned)left : 256};
        cs_buf_reset(&bundle);
        rc = entries->read_bundle(entries->ctx, n * CS_AUDIT_TILE_WIDTH, ref.width, &bundle);
        if (rc < 0)
            cs_err_set(err, rc, "cannot read entries from %llu", (unsigned long long)(n * 256));
        else
            rc = put(dir, &ref, NULL, bundle.data, bundle.len, err);
    }
    cs_buf_free(&bundle);
    return rc;
}

int cs_audit_export_dir(const char *dir, cs_audit_tree *tree, const cs_audit_entry_reader *entries,
                        const char *note, size_t note_len, const char *vkey, cs_err *err)
{
    cs_audit_verifier v;
    cs_audit_checkpoint cp;
    uint8_t root[CS_AUDIT_HASH_LEN];
    int rc = cs_audit_verifier_parse(&v, vkey, strlen(vkey), err);
    if (rc == 0) rc = cs_audit_checkpoint_open(note, note_len, &v, &cp, err);
    if (rc == 0) rc = cs_audit_tree_root(tree, cp.size, root, err);
    if (rc == 0 && memcmp(root, cp.root, sizeof root) != 0)
        rc = cs_err_set(err, CS_ECONFLICT, "checkpoint root does not match the tree of size %llu",
                        (unsigned long long)cp.size);
    if (rc == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST)
        rc = cs_err_set(err, CS_EIO, "mkdir %s: %s", dir, strerror(errno));
    if (rc == 0) rc = export_hash_tiles(dir, tree, cp.size, err);
    if (rc == 0) rc = export_bundles(dir, entries, cp.size, err);
    if (rc == 0) {
        size_t klen = strlen(vkey);
        while (klen > 0 && (vkey[klen - 1] == '\n' || vkey[klen - 1] == '\r'))
            klen--;
        char *k = cs_sprintf("%.*s\n", (int)klen, vkey);
        rc = put(dir, NULL, "key", k, strlen(k), err);
        free(k);
    }
    /* The checkpoint goes last: a reader of the directory never sees a checkpoint whose
     * tiles are not there yet. */
    if (rc == 0) rc = put(dir, NULL, "checkpoint", note, note_len, err);
    return rc;
}
