/* test_wal_vfs.c - the VFS that gathers WAL writes (src/store/wal_vfs.c): what it
 * writes is the database SQLite's default VFS reads, pages spilled in the middle of a
 * transaction read back, the WAL starts over after checkpoints, commits larger than
 * its buffer, a process killed inside a transaction loses only that transaction, and a
 * preallocated WAL keeps its size, its frames and its recovery; without a sync per
 * commit, other connections still read each commit as soon as it is published; the
 * database file's own gathered writes are in the file when a checkpoint or a commit
 * ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/wal_vfs.h"
#include "tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[128];

static int setup(void **state)
{
    if (tmpdir_setup(state) != 0) return -1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, msg ? msg : "?");
}

static long long scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void expect_intact(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* Opened as the store opens it: through the VFS, WAL, a sync per commit. A tiny page
 * cache makes big transactions spill pages into the WAL before they commit. */
static sqlite3 *open_gathering(void)
{
    const char *vfs = cs_wal_vfs();
    assert_non_null(vfs);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
                     SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=8;"
                "PRAGMA wal_autocheckpoint=0;");
    sqlite3_vfs *used = NULL;
    assert_int_equal(sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &used), SQLITE_OK);
    assert_string_equal(used->zName, CS_WAL_VFS);
    return db;
}

/* A second connection through SQLite's default VFS: it reads what reached the files. */
static sqlite3 *open_plain(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static void spilled_pages_read_back_and_reach_the_file(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    exec_ok(w, "BEGIN");
    exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
               " INSERT INTO t SELECT i, randomblob(400) FROM n");
    /* Far more pages than the cache holds: most were spilled to the WAL and are read
     * back from there by this same connection. */
    assert_int_equal(scalar(w, "SELECT count(*) FROM t"), 3000);
    assert_int_equal(scalar(w, "SELECT sum(length(v)) FROM t"), 3000 * 400);
    exec_ok(w, "UPDATE t SET v = zeroblob(400) WHERE k % 7 = 0");
    exec_ok(w, "COMMIT");

    sqlite3 *r = open_plain();
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), 3000);
    assert_int_equal(scalar(r, "SELECT count(*) FROM t WHERE v = zeroblob(400)"), 3000 / 7);
    expect_intact(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

static void the_wal_starts_over_and_big_commits_are_split(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    sqlite3 *r = open_plain();
    long long want = 0;
    for (int round = 0; round < 5; round++) {
        /* Small commits, each a handful of frames... */
        for (int i = 0; i < 60; i++) {
            exec_ok(w, "INSERT INTO t(v) VALUES (randomblob(300))");
            want++;
        }
        /* ...one larger than the buffer (a few MiB of frames)... */
        exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800)"
                   " INSERT INTO t(v) SELECT randomblob(3000) FROM n");
        want += 800;
        assert_int_equal(scalar(r, "SELECT count(*) FROM t"), want);
        /* ...then a full checkpoint: the next commit writes the WAL from its start. */
        exec_ok(w, "PRAGMA wal_checkpoint(RESTART)");
        exec_ok(w, "INSERT INTO t(v) VALUES (x'01')");
        want++;
        assert_int_equal(scalar(r, "SELECT count(*) FROM t"), want);
    }
    expect_intact(r);
    sqlite3_close(r);
    sqlite3_close(w);
    /* Reopened with the default VFS alone, after both closed (the WAL folded in). */
    r = open_plain();
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), want);
    expect_intact(r);
    sqlite3_close(r);
}

static void a_killed_writer_loses_only_its_open_transaction(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    sqlite3_close(w);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *c = NULL;
        if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, cs_wal_vfs()) != SQLITE_OK) _exit(2);
        if (sqlite3_exec(c, "PRAGMA synchronous=FULL; PRAGMA cache_size=8;", NULL, NULL, NULL))
            _exit(3);
        for (int i = 0; i < 50; i++)
            if (sqlite3_exec(c, "INSERT INTO t(v) VALUES (randomblob(200))", NULL, NULL, NULL))
                _exit(4);
        /* Spilled frames of an uncommitted transaction, some still in the buffer. */
        if (sqlite3_exec(c,
                         "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                         " WHERE i < 500) INSERT INTO t(v) SELECT randomblob(700) FROM n;",
                         NULL, NULL, NULL))
            _exit(5);
        _exit(0); /* no COMMIT, no close: as if killed */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    sqlite3 *r = open_plain();
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), 50);
    expect_intact(r);
    sqlite3_close(r);
}

/* synchronous=NORMAL: no sync after a commit, so nothing but the commit frame itself
 * tells the VFS to write what it gathered before SQLite publishes the commit. */
static void commits_without_a_sync_are_read_at_once(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "PRAGMA synchronous=NORMAL");
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    sqlite3 *r = open_plain();
    for (int i = 1; i <= 200; i++) {
        exec_ok(w, i % 10 ? "INSERT INTO t(v) VALUES (randomblob(300))"
                          : "INSERT INTO t(v) SELECT randomblob(900) FROM t LIMIT 40");
        assert_int_equal(scalar(r, "SELECT count(*) FROM t"), scalar(w, "SELECT count(*) FROM t"));
        assert_int_equal(scalar(r, "SELECT sum(length(v)) FROM t"),
                         scalar(w, "SELECT sum(length(v)) FROM t"));
    }
    expect_intact(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

static long long wal_size(void)
{
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat st;
    return stat(wal, &st) == 0 ? (long long)st.st_size : -1;
}

#define PREALLOC (2LL << 20)

/* A writer that preallocates its WAL after some commits, commits more, and dies
 * without closing: the WAL has kept its preallocated size (commits overwrote the
 * zeros), and a connection through the default VFS recovers every commit from it. */
static void a_preallocated_wal_keeps_its_size_frames_and_recovery(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    sqlite3_close(w); /* the last connection: the WAL is folded in and removed */
    assert_int_equal(wal_size(), -1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *c = NULL;
        if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, cs_wal_vfs()) != SQLITE_OK) _exit(2);
        if (sqlite3_exec(c, "PRAGMA synchronous=FULL;", NULL, NULL, NULL)) _exit(3);
        for (int i = 0; i < 20; i++)
            if (sqlite3_exec(c, "INSERT INTO t(v) VALUES (randomblob(200))", NULL, NULL, NULL))
                _exit(4);
        if (cs_wal_vfs_prealloc(c, PREALLOC) != SQLITE_OK) _exit(5);
        if (wal_size() != PREALLOC) _exit(6);
        for (int i = 0; i < 100; i++)
            if (sqlite3_exec(c, "INSERT INTO t(v) VALUES (randomblob(200))", NULL, NULL, NULL))
                _exit(7);
        /* Already long enough: left as it is. */
        if (cs_wal_vfs_prealloc(c, 4096) != SQLITE_OK || wal_size() != PREALLOC) _exit(8);
        _exit(0); /* no close: as if killed */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(wal_size(), PREALLOC);
    sqlite3 *r = open_plain();
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), 120);
    expect_intact(r);
    /* Only a connection opened through this VFS can be preallocated. */
    assert_int_equal(cs_wal_vfs_prealloc(r, PREALLOC), SQLITE_MISUSE);
    assert_int_equal(scalar(r, "SELECT count(*) FROM t"), 120);
    sqlite3_close(r);
}

/* Preallocated, then past its end: the commits that grow the file are read back, and
 * the WAL starts over from its beginning after a checkpoint. */
static void a_wal_grows_past_its_preallocation(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    assert_int_equal(cs_wal_vfs_prealloc(w, 256 * 1024), SQLITE_OK);
    assert_int_equal(wal_size(), 256 * 1024);
    sqlite3 *r = open_plain();
    long long want = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++, want++)
            exec_ok(w, "INSERT INTO t(v) VALUES (randomblob(3000))");
        assert_int_equal(scalar(r, "SELECT count(*) FROM t"), want);
        exec_ok(w, "PRAGMA wal_checkpoint(RESTART)");
    }
    assert_true(wal_size() > 256 * 1024);
    expect_intact(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* A copy of the database file alone, opened with the default VFS: what reached that
 * file, whatever the WAL or a buffer still holds. */
static sqlite3 *open_copy_of_file(void)
{
    char copy[160], cmd[1024];
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    snprintf(cmd, sizeof cmd, "rm -f %s %s-wal %s-shm && cp %s %s", copy, copy, copy, path, copy);
    assert_int_equal(system(cmd), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

/* The database file's own writes (a checkpoint's page copies; a rollback journal's
 * commits) are gathered as well. They must be in the file once the checkpoint ends or
 * the commit unlocks, even with no sync to flush them. */
static void database_writes_reach_the_file_without_a_sync(void **state)
{
    (void)state;
    sqlite3 *w = open_gathering();
    exec_ok(w, "PRAGMA synchronous=OFF");
    exec_ok(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    for (int i = 0; i < 4; i++)
        exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)"
                   " INSERT INTO t(v) SELECT randomblob(300) FROM n");
    exec_ok(w, "UPDATE t SET v = zeroblob(300) WHERE k % 5 = 0");
    /* Every frame copied back (no reader holds an older snapshot); the connection
     * stays open, so nothing else would write its buffer out. */
    exec_ok(w, "PRAGMA wal_checkpoint(PASSIVE)");
    sqlite3 *c = open_copy_of_file();
    assert_int_equal(scalar(c, "SELECT count(*) FROM t"), 2000);
    assert_int_equal(scalar(c, "SELECT count(*) FROM t WHERE v = zeroblob(300)"), 400);
    expect_intact(c);
    sqlite3_close(c);

    /* Rollback journal: the commit's page writes are in the file when it unlocks. */
    exec_ok(w, "PRAGMA journal_mode=DELETE");
    exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)"
               " INSERT INTO t(v) SELECT randomblob(200) FROM n");
    c = open_copy_of_file();
    assert_int_equal(scalar(c, "SELECT count(*) FROM t"), 2700);
    expect_intact(c);
    sqlite3_close(c);
    sqlite3_close(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(spilled_pages_read_back_and_reach_the_file, setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(the_wal_starts_over_and_big_commits_are_split, setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(a_killed_writer_loses_only_its_open_transaction, setup,
                                        tmpdir_teardown),
        cmocka_unit_test_setup_teardown(a_preallocated_wal_keeps_its_size_frames_and_recovery,
                                        setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(a_wal_grows_past_its_preallocation, setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(commits_without_a_sync_are_read_at_once, setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(database_writes_reach_the_file_without_a_sync, setup,
                                        tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
