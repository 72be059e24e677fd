/* wal_vfs.h - the SQLite VFS the store opens its database with: the default one,
 * except that each commit's WAL frames reach the file in one write (wal_vfs.c). */
#ifndef CS_STORE_WAL_VFS_H
#define CS_STORE_WAL_VFS_H

#include <sqlite3.h>

#define CS_WAL_VFS "countersign-wal"

/* Registers the VFS on first use (not as the default); returns its name, or NULL
 * when it could not be registered (the caller then uses the default VFS). */
const char *cs_wal_vfs(void);

/* Makes db's WAL file at least `bytes` long, written out as zeros and synced, so that
 * commits overwrite blocks the file already has instead of growing it: on ext4 a
 * commit that grows the file syncs its new size and blocks too, about 100 µs more per
 * commit on the development VM (docs/gateway.md). Takes the write lock (BEGIN
 * IMMEDIATE) for as long as it writes, so no frame is being appended meanwhile.
 * db must have been opened through this VFS in WAL mode; SQLITE_MISUSE otherwise.
 * Frames already in the file are kept: only what lies beyond its end is written. */
int cs_wal_vfs_prealloc(sqlite3 *db, sqlite3_int64 bytes);

#endif
