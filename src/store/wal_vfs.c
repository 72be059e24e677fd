/* wal_vfs.c - a SQLite VFS that writes each commit's WAL frames with one write.
 *
 * SQLite's WAL code writes every frame as two writes (a 24-byte frame header, then
 * the page), so a commit of n pages is 2n write system calls before its sync. This
 * VFS wraps the default one ("unix") and, for WAL files and main database files,
 * gathers writes that continue one another in a buffer; the buffer goes to the file
 * in one write before anything that could look at the file (read, size, truncate,
 * sync, close, file control, unlock, shared-memory barrier) and whenever a
 * write does not continue it or would overflow it. Every other file (journals,
 * temporary files), and every other method, is the default VFS's own.
 *
 * A main database file is written by checkpoints, which copy WAL frames back page by
 * page in page order: new rows sit on consecutive pages at the file's end, so most of
 * a checkpoint's hundreds of 4 KiB writes become a few of up to 124 KiB. SQLite ends
 * the copy with a file control (SQLITE_FCNTL_CKPT_DONE), before it records the pages
 * as copied back or syncs, so no other connection is told to read a page that is
 * still in the buffer. In rollback-journal mode (a new database before it is put in
 * WAL mode) a commit's writes reach the file by its sync or, at the latest, its
 * unlock.
 *
 * Durability is unchanged: SQLite syncs the WAL before it publishes a commit
 * (synchronous=FULL, as the store runs), and the sync writes the buffer first, so
 * nothing is published that is only here. Without that sync the buffer is written
 * right after a commit frame's page, the last write before SQLite publishes it. A
 * process that dies with frames in the buffer had not committed them. Other
 * connections read the WAL through their own handles, and only frames of commits
 * published in the wal-index, which were written by then.
 *
 * cs_wal_vfs_prealloc() writes zeros past a WAL's end so that commits overwrite
 * instead of growing the file. SQLite reads a WAL only up to its first frame whose
 * salt and checksum do not match the header, so zeros there are the same as no file:
 * recovery, and a WAL that starts over, stop at them. */
#include "store/wal_vfs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The default VFS writes at most 0x1ffff bytes per call (its write helper masks the
 * length with that, so a larger write comes back short, as SQLITE_FULL): 31 frames of
 * 4 KiB pages. A commit of more is written in pieces of that size. */
#define WAL_BUF_CAP 0x1ffff

typedef struct wal_file {
    sqlite3_file base;  /* our methods */
    sqlite3_file *real; /* the default VFS's file, allocated right after this */
    int is_wal;
    int gather;         /* a WAL or main database file: its writes are gathered */
    int commit_next;    /* the frame header just gathered is a commit's: flush after its page */
    unsigned char *buf; /* gathered writes, allocated at the first */
    size_t len;
    sqlite3_int64 off; /* file offset of buf[0] */
} wal_file;

static sqlite3_vfs wal_vfs;
static sqlite3_vfs *real_vfs;
static const sqlite3_io_methods wal_methods;

static int flush(wal_file *f)
{
    if (f->len == 0) return SQLITE_OK;
    int rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
    f->len = 0;
    return rc;
}

static int w_close(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int w_read(sqlite3_file *p, void *out, int n, sqlite3_int64 off)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

static int w_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
    wal_file *f = (wal_file *)p;
    if (!f->gather || n <= 0) return f->real->pMethods->xWrite(f->real, data, n, off);
    if (f->len > 0 && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)n > WAL_BUF_CAP)) {
        int rc = flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    if (f->buf == NULL) f->buf = malloc(WAL_BUF_CAP);
    if (f->buf == NULL || (size_t)n > WAL_BUF_CAP)
        return f->real->pMethods->xWrite(f->real, data, n, off);
    if (f->len == 0) f->off = off;
    memcpy(f->buf + f->len, data, (size_t)n);
    f->len += (size_t)n;
    /* A 24-byte write is a frame header; bytes 4-7 are the database size after the
     * commit in a commit frame, zero otherwise. Its page is the last write of the
     * commit, which SQLite publishes next; without a sync after it (synchronous below
     * FULL) other connections would look for that frame in the file. */
    if (f->commit_next) {
        f->commit_next = 0;
        return flush(f);
    }
    if (f->is_wal && n == 24) {
        const unsigned char *h = data;
        f->commit_next = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    return SQLITE_OK;
}

static int w_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int w_sync(sqlite3_file *p, int flags)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int w_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int w_lock(sqlite3_file *p, int level)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xLock(f->real, level);
}

static int w_unlock(sqlite3_file *p, int level)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, level);
}

static int w_check_reserved(sqlite3_file *p, int *out)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int w_file_control(sqlite3_file *p, int op, void *arg)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int w_sector_size(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xSectorSize(f->real);
}

static int w_device(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int w_shm_map(sqlite3_file *p, int region, int size, int extend, void volatile **out)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}

static int w_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void w_shm_barrier(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    (void)flush(f);
    f->real->pMethods->xShmBarrier(f->real);
}

static int w_shm_unmap(sqlite3_file *p, int del)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

static int w_fetch(sqlite3_file *p, sqlite3_int64 off, int n, void **out)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, n, out);
}

static int w_unfetch(sqlite3_file *p, sqlite3_int64 off, void *page)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xUnfetch(f->real, off, page);
}

/* Every file is wrapped (SQLite sizes file structs per VFS); only WAL and main
 * database files get a buffer, the others forward each call as it comes. */
static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags,
                  int *out_flags)
{
    (void)vfs;
    wal_file *f = (wal_file *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || f->real->pMethods == NULL) {
        /* Left without methods, so SQLite does not call xClose on it. */
        if (f->real->pMethods) f->real->pMethods->xClose(f->real);
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    if (f->real->pMethods->iVersion < 3) {
        /* The default VFS on Linux has version 3 methods. Older ones cannot stand
         * behind ours, which promise the version 3 calls: refused, not half-wrapped. */
        f->real->pMethods->xClose(f->real);
        return SQLITE_CANTOPEN;
    }
    f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    f->gather = (flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_DB)) != 0;
    f->base.pMethods = &wal_methods;
    return SQLITE_OK;
}

static const sqlite3_io_methods wal_methods = {
    .iVersion = 3,
    .xClose = w_close,
    .xRead = w_read,
    .xWrite = w_write,
    .xTruncate = w_truncate,
    .xSync = w_sync,
    .xFileSize = w_file_size,
    .xLock = w_lock,
    .xUnlock = w_unlock,
    .xCheckReservedLock = w_check_reserved,
    .xFileControl = w_file_control,
    .xSectorSize = w_sector_size,
    .xDeviceCharacteristics = w_device,
    .xShmMap = w_shm_map,
    .xShmLock = w_shm_lock,
    .xShmBarrier = w_shm_barrier,
    .xShmUnmap = w_shm_unmap,
    .xFetch = w_fetch,
    .xUnfetch = w_unfetch,
};

int cs_wal_vfs_prealloc(sqlite3 *db, sqlite3_int64 bytes)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_file *p = NULL;
    rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &p);
    wal_file *f = (wal_file *)p;
    if (rc == SQLITE_OK && (p == NULL || p->pMethods != &wal_methods || !f->is_wal))
        rc = SQLITE_MISUSE;
    sqlite3_int64 size = 0;
    if (rc == SQLITE_OK) rc = flush(f);
    if (rc == SQLITE_OK) rc = f->real->pMethods->xFileSize(f->real, &size);
    if (rc == SQLITE_OK && size < bytes) {
        static const unsigned char zeros[65536];
        while (rc == SQLITE_OK && size < bytes) {
            int n = bytes - size < (sqlite3_int64)sizeof zeros ? (int)(bytes - size)
                                                                : (int)sizeof zeros;
            rc = f->real->pMethods->xWrite(f->real, zeros, n, size);
            size += n;
        }
        if (rc == SQLITE_OK) rc = f->real->pMethods->xSync(f->real, SQLITE_SYNC_NORMAL);
    }
    /* Nothing was changed in the database: the commit writes no frame. */
    int rc2 = sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return rc != SQLITE_OK ? rc : rc2;
}

static int register_rc = SQLITE_ERROR;

static void register_once(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL) return;
    wal_vfs = *real_vfs;
    wal_vfs.szOsFile = (int)sizeof(wal_file) + real_vfs->szOsFile;
    wal_vfs.zName = CS_WAL_VFS;
    wal_vfs.pNext = NULL;
    wal_vfs.xOpen = v_open;
    register_rc = sqlite3_vfs_register(&wal_vfs, 0);
}

const char *cs_wal_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_once);
    return register_rc == SQLITE_OK ? CS_WAL_VFS : NULL;
}
