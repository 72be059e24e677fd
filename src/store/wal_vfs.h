/* wal_vfs.h - the SQLite VFS the store opens its database with: the default one,
 * except that each commit's WAL frames reach the file in one write (wal_vfs.c). */
#ifndef CS_STORE_WAL_VFS_H
#define CS_STORE_WAL_VFS_H

#include <sqlite3.h>

#define CS_WAL_VFS "countersign-wal"

/* Registers the VFS on first use (not as the default); returns its name, or NULL
 * when it could not be registered (the caller then uses the default VFS). */
const char *cs_wal_vfs(void);

#endif
