/* store_sqlite.c - the embedded SQLite backend: WAL mode, synchronous=FULL, one
 * writer connection (used by whichever thread runs the current batch, one at a time:
 * writer.c) and a pool of readers. */
#include "store/store.h"
#include "store/wal_vfs.h"

#include "util/alloc.h"
#include "util/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READER_POOL_MAX 32

enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_SAVE,
    W_RELEASE,
    W_ROLLBACK_TO,
    W_ACTION_PUT,
    W_ACTION_PUT_KEY,
    W_AUDIT,
    W_TOKEN,
    W_GET,
    W_GET_KEY,
    W_IDEM,
    W_TILE_PUT,
    W_HEAD_PUT,
    W_STAMP_PUT,
    W_COUNT
};

static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVE] = "SAVEPOINT job",
    [W_RELEASE] = "RELEASE job",
    [W_ROLLBACK_TO] = "ROLLBACK TO job",
    [W_ACTION_PUT] = "INSERT INTO actions(id,status,requester,idem_key,expires_at,created_at,doc) "
                     "VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(id) DO UPDATE SET "
                     "status=?2, expires_at=?5, doc=?7",
    /* Keyed databases: the row key comes from the id; an update must name the same id. */
    [W_ACTION_PUT_KEY] = "INSERT INTO actions(id,status,requester,idem_key,expires_at,created_at,doc,seq) "
                         "VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(seq) DO UPDATE SET "
                         "status=?2, expires_at=?5, doc=?7 WHERE id=?1",
    [W_AUDIT] =
        "INSERT INTO audit(idx,type,time_ms,actor,source,action_id,entry) VALUES(?,?,?,?,?,?,?)",
    [W_TOKEN] = "INSERT INTO tokens(name,hash,doc,revoked) VALUES(?1,?2,?3,?4) ON CONFLICT(name) "
                "DO UPDATE SET hash=?2, doc=?3, revoked=?4",
    [W_GET] = "SELECT doc FROM actions WHERE id=?",
    [W_GET_KEY] = "SELECT doc FROM actions WHERE seq=?3 AND id=?1", /* get_one's numbering */
    [W_IDEM] = "SELECT doc FROM actions WHERE requester=? AND idem_key=?",
    [W_TILE_PUT] = "INSERT INTO audit_tiles(level,idx,data) VALUES(?,?,?)",
    [W_HEAD_PUT] = "INSERT INTO audit_head(id,size,note) VALUES(1,?1,?2) ON CONFLICT(id) DO UPDATE "
                   "SET size=?1, note=?2",
    [W_STAMP_PUT] = "INSERT OR REPLACE INTO audit_stamps(size,note,gen_time,token) VALUES(?,?,?,?)",
};

/* An action's seq (its rowid) is the key its id carries (store.h), so the id needs no
 * index: with one, every commit rewrote ~3.3 more pages (an index B-tree splits by
 * sharing its cells among three sibling leaves, so each commit touched the last three),
 * 17% of its WAL frames (session 10). Databases created before have a UNIQUE id
 * column and seq = max + 1 (some with AUTOINCREMENT); they keep that layout and are
 * read and written as before ("legacy" below). */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS actions("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL, status TEXT NOT NULL,"
    " requester TEXT NOT NULL, idem_key TEXT, expires_at INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, doc TEXT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS actions_idem ON actions(requester, idem_key)"
    " WHERE idem_key IS NOT NULL;"
    /* Only pending rows are indexed by deadline: routine decisions never touch it. */
    "CREATE INDEX IF NOT EXISTS actions_pending ON actions(expires_at) WHERE status='pending';"
    "CREATE TABLE IF NOT EXISTS audit(idx INTEGER PRIMARY KEY, type TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, action_id TEXT,"
    " entry TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_tiles(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS audit_head(id INTEGER PRIMARY KEY CHECK(id = 1),"
    " size INTEGER NOT NULL, note TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_stamps(size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
    " gen_time TEXT NOT NULL, token BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens(name TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
    " doc TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
    /* The notification outbox and what each channel remembers per action (notify/). */
    "CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL UNIQUE,"
    " target TEXT NOT NULL, action_id TEXT NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, action_id, target, id);"
    "CREATE TABLE IF NOT EXISTS notify_refs(action_id TEXT NOT NULL, target TEXT NOT NULL,"
    " ref TEXT NOT NULL, PRIMARY KEY(action_id, target));"
    /* The kill switch: one row per frozen agent, "*" for a global freeze. */
    "CREATE TABLE IF NOT EXISTS freezes(scope TEXT PRIMARY KEY, doc TEXT NOT NULL);";

#define STMT_CACHE 32

/* A connection with its prepared statements, keyed by their SQL text's address (every
 * statement here is a string literal). A statement in use is not handed out again: a
 * nested query of the same text (a scan whose callback scans) gets its own. */
typedef struct sq_conn {
    sqlite3 *db;
    struct {
        const char *sql;
        sqlite3_stmt *st;
        int busy;
    } cache[STMT_CACHE];
    int n;
} sq_conn;

/* An audit entry appended in the open write transaction, kept so that the audit log's
 * before-commit pass (which hashes the batch's new entries into the tree) reads them
 * from memory instead of selecting the rows it has just inserted. */
typedef struct sq_txentry {
    long long idx, time_ms;
    char *entry;
    size_t len;
} sq_txentry;

typedef struct sq {
    char *path;
    int legacy; /* actions has a UNIQUE id column: found by id, seq = max + 1 */
    sq_conn wc; /* the writer connection and its statements; wsql[] prepared at open */
    long long next_audit, saved_audit, txn_audit;
    /* This transaction's audit entries, in index order: txe[i] has index txn_audit + i,
     * so n_txe == next_audit - txn_audit whenever a transaction is open. */
    sq_txentry *txe;
    size_t n_txe, cap_txe;
    pthread_mutex_t lock; /* guards the reader pool */
    sq_conn *pool[READER_POOL_MAX];
    int n_pool;
    /* The long WAL checkpoints run on their own thread and connection; after each pass
     * the writer copies the frames committed meanwhile itself, on the commit path. */
    pthread_t ckpt_thread;
    int ckpt_joinable;         /* the thread was created */
    _Atomic int ckpt_started;  /* and is running (0 again if it could not open) */
    _Atomic int ckpt_passed;   /* it finished a pass: the writer copies the rest */
    int ckpt_wanted, ckpt_stop;
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
} sq;

/* The WAL is copied back into the database once it holds this many pages (SQLite's
 * own default), by the checkpoint thread. The writer copies what is left after each of
 * the thread's passes, and everything when the WAL has grown far past that (the thread
 * is stuck or starved) or there is no thread. */
#define CKPT_PAGES 1000
#define CKPT_BACKSTOP_PAGES 20000
/* The checkpoint thread drops the database file's pages from the OS page cache, all
 * but its last CACHE_TAIL bytes (where new rows go), each time another CACHE_STEP
 * bytes have passed out of that tail. Actions and audit entries are written once and
 * rarely read again, so the cache of a busy gateway would otherwise grow by every
 * byte it writes: memory a container's limit counts, and on a VM that hands free
 * memory back to its host, new pages that fault in the host on their first write
 * (docs/gateway.md, "Page cache"). Each drop also drains every CPU's page lists, so
 * it is done in steps, not after every pass. */
#define CACHE_TAIL (64LL << 20)
#define CACHE_STEP (32LL << 20)

/* The cached statement for sql on c, ready to bind; NULL (logged) when it does not
 * prepare. Give it back with stmt_put. */
static sqlite3_stmt *stmt_get(sq_conn *c, const char *sql)
{
    for (int i = 0; i < c->n; i++)
        if (c->cache[i].sql == sql && !c->cache[i].busy) {
            c->cache[i].busy = 1;
            return c->cache[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        cs_error("sqlite: %s", sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        return NULL;
    }
    if (c->n < STMT_CACHE) {
        c->cache[c->n].sql = sql;
        c->cache[c->n].st = st;
        c->cache[c->n].busy = 1;
        c->n++;
    }
    return st;
}

static void stmt_put(sq_conn *c, sqlite3_stmt *st)
{
    if (st == NULL) return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < c->n; i++)
        if (c->cache[i].st == st) {
            c->cache[i].busy = 0;
            return;
        }
    sqlite3_finalize(st); /* one that did not fit in the cache */
}

static void conn_close(sq_conn *c)
{
    for (int i = 0; i < c->n; i++)
        sqlite3_finalize(c->cache[i].st);
    c->n = 0;
    sqlite3_close(c->db);
    c->db = NULL;
}

/* Process-wide SQLite settings, before its first use. Memory statistics off: with
 * them on, every allocation and free inside SQLite takes one global mutex, and nothing
 * here reads the statistics (sqlite3_memory_used and sqlite3_status). A call after
 * another part of the process has already started SQLite fails and changes nothing. */
static void library_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int open_conn(const char *path, int create, sqlite3 **out, cs_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, library_setup);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, cs_wal_vfs()) != SQLITE_OK) {
        int rc = cs_err_set(err, CS_EDB, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        int rc = cs_err_set(err, CS_EDB, "%s: %s", path, msg ? msg : "pragma failed");
        sqlite3_free(msg);
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

static long long scalar_ll(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* After each commit, on the thread that ran the batch (pages: the WAL's length):
 * - no checkpoint thread: the writer checkpoints here once the WAL is long;
 * - the thread finished a pass since the last commit, or the WAL is past the backstop:
 *   the writer checkpoints here. After a pass only the frames committed during it
 *   remain, so this copy is short, and it lets the next transaction start the WAL over
 *   from its beginning;
 * - otherwise, once the WAL is long: wake the thread. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
    sq *q = ctx;
    int passed = atomic_exchange(&q->ckpt_passed, 0);
    if (!atomic_load(&q->ckpt_started)) {
        if (pages >= CKPT_PAGES)
            sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (passed || pages >= CKPT_BACKSTOP_PAGES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= CKPT_PAGES) {
        pthread_mutex_lock(&q->ckpt_lock);
        if (!q->ckpt_wanted) {
            q->ckpt_wanted = 1;
            pthread_cond_signal(&q->ckpt_cond);
        }
        pthread_mutex_unlock(&q->ckpt_lock);
    }
    return SQLITE_OK;
}

/* The checkpoint synced what it copied, so the pages dropped here are clean: only the
 * cache goes, and a later read of an old row reads it from the disk. *done is where
 * the last drop ended (0 at start: the first drop takes whatever an earlier run left). */
static void drop_cached(int fd, long long *done)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return;
    long long end = (long long)st.st_size - CACHE_TAIL;
    if (end - *done < CACHE_STEP) return;
    (void)posix_fadvise(fd, *done, end - *done, POSIX_FADV_DONTNEED);
    *done = end;
}

static void *ckpt_main(void *arg)
{
    sq *q = arg;
    sqlite3 *db = NULL;
    pthread_setname_np(pthread_self(), "cs-checkpoint");
    if (open_conn(q->path, 0, &db, NULL) != 0) {
        cs_error("sqlite: the checkpoint thread cannot open %s; the writer checkpoints", q->path);
        q->ckpt_started = 0;
        return NULL;
    }
    /* Only for posix_fadvise: any descriptor of the file reaches its page cache. */
    int fd = open(q->path, O_RDONLY | O_CLOEXEC);
    long long dropped = 0;
    pthread_mutex_lock(&q->ckpt_lock);
    while (!q->ckpt_stop) {
        if (!q->ckpt_wanted) {
            pthread_cond_wait(&q->ckpt_cond, &q->ckpt_lock);
            continue;
        }
        q->ckpt_wanted = 0;
        pthread_mutex_unlock(&q->ckpt_lock);
        int r = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (r != SQLITE_OK && r != SQLITE_BUSY) cs_warn("sqlite: checkpoint: %s", sqlite3_errmsg(db));
        drop_cached(fd, &dropped);
        atomic_store(&q->ckpt_passed, 1);
        pthread_mutex_lock(&q->ckpt_lock);
    }
    pthread_mutex_unlock(&q->ckpt_lock);
    if (fd >= 0) close(fd);
    sqlite3_close(db);
    return NULL;
}

/* ckpt_started is set before the thread exists: a thread that cannot open its
 * connection clears it, and that must not be overwritten once it has. */
static void ckpt_start(sq *q)
{
    atomic_store(&q->ckpt_started, 1);
    q->ckpt_joinable = pthread_create(&q->ckpt_thread, NULL, ckpt_main, q) == 0;
    if (!q->ckpt_joinable) atomic_store(&q->ckpt_started, 0);
    sqlite3_wal_hook(q->wc.db, wal_hook, q);
}

static void ckpt_stop(sq *q)
{
    if (!q->ckpt_joinable) return;
    pthread_mutex_lock(&q->ckpt_lock);
    q->ckpt_stop = 1;
    pthread_cond_signal(&q->ckpt_cond);
    pthread_mutex_unlock(&q->ckpt_lock);
    pthread_join(q->ckpt_thread, NULL);
    q->ckpt_joinable = 0;
}

static int sq_open(cs_store *s, const char *location, cs_err *err)
{
    sq *q = cs_calloc(1, sizeof *q);
    q->path = cs_strdup(location);
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->ckpt_lock, NULL);
    pthread_cond_init(&q->ckpt_cond, NULL);
    s->impl = q;
    int rc = open_conn(location, 1, &q->wc.db, err);
    if (rc) goto fail;
    char *msg = NULL;
    /* The writer touches every hot page; readers keep the default cache. */
    sqlite3_exec(q->wc.db, "PRAGMA cache_size=-16384;", NULL, NULL, NULL);
    if (sqlite3_exec(q->wc.db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        rc = cs_err_set(err, CS_EDB, "%s: schema: %s", location, msg);
        sqlite3_free(msg);
        goto fail;
    }
    q->legacy = scalar_ll(q->wc.db, "SELECT COUNT(*) FROM pragma_index_list('actions') WHERE origin = 'u'") > 0;
    /* The writer's own statements go into its cache now, so that a bad one fails the
     * open rather than a commit (the legacy upsert names a constraint only legacy
     * databases have). */
    for (int i = 0; i < W_COUNT; i++) {
        if (i == W_ACTION_PUT && !q->legacy) continue;
        sqlite3_stmt *st = stmt_get(&q->wc, wsql[i]);
        if (st == NULL) {
            rc = cs_err_set(err, CS_EDB, "prepare: %s", sqlite3_errmsg(q->wc.db));
            goto fail;
        }
        stmt_put(&q->wc, st);
    }
    q->next_audit = scalar_ll(q->wc.db, "SELECT COALESCE(MAX(idx)+1, 0) FROM audit");
    /* Room for twice the frames at which a checkpoint starts, so that the WAL's
     * commits overwrite blocks it has (wal_vfs.h); a failure only costs speed. */
    long long frame = scalar_ll(q->wc.db, "PRAGMA page_size") + 24;
    int pre = cs_wal_vfs_prealloc(q->wc.db, 32 + 2 * CKPT_PAGES * frame);
    if (pre != SQLITE_OK) cs_warn("sqlite: cannot preallocate the WAL: %s", sqlite3_errstr(pre));
    ckpt_start(q);
    return 0;
fail:
    s->ops->close(s);
    s->impl = NULL;
    return rc;
}

/* Drops the kept entries from the n-th on (a rollback to a savepoint, or the end of
 * the transaction with n = 0). */
static void txe_truncate(sq *q, size_t n)
{
    while (q->n_txe > n) free(q->txe[--q->n_txe].entry);
}

static void sq_close(cs_store *s)
{
    sq *q = s->impl;
    if (q == NULL) return;
    ckpt_stop(q);
    txe_truncate(q, 0);
    free(q->txe);
    conn_close(&q->wc);
    for (int i = 0; i < q->n_pool; i++) {
        conn_close(q->pool[i]);
        free(q->pool[i]);
    }
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->ckpt_lock);
    pthread_cond_destroy(&q->ckpt_cond);
    free(q->path);
    free(q);
}

static int step_done(sq *q, sqlite3_stmt *st)
{
    int r = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (r != SQLITE_DONE && r != SQLITE_ROW) cs_error("sqlite: %s", sqlite3_errmsg(q->wc.db));
    stmt_put(&q->wc, st);
    return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : CS_EDB;
}

/* One of the writer's statements (wsql[]), ready to bind; finish it with step_done. */
static sqlite3_stmt *wstmt(sq *q, int which)
{
    return stmt_get(&q->wc, wsql[which]);
}

static int sq_begin(cs_store *s)
{
    sq *q = s->impl;
    q->txn_audit = q->next_audit;
    txe_truncate(q, 0);
    return step_done(q, wstmt(q, W_BEGIN));
}

static int sq_commit(cs_store *s)
{
    sq *q = s->impl;
    int rc = step_done(q, wstmt(q, W_COMMIT));
    txe_truncate(q, 0);
    if (rc) {
        sqlite3_exec(q->wc.db, "ROLLBACK", NULL, NULL, NULL);
        q->next_audit = q->txn_audit;
    }
    return rc;
}

static int sq_rollback(cs_store *s)
{
    sq *q = s->impl;
    q->next_audit = q->txn_audit;
    txe_truncate(q, 0);
    return step_done(q, wstmt(q, W_ROLLBACK));
}

static int sq_savepoint(cs_store *s)
{
    sq *q = s->impl;
    q->saved_audit = q->next_audit;
    return step_done(q, wstmt(q, W_SAVE));
}

static int sq_release(cs_store *s)
{
    sq *q = s->impl;
    return step_done(q, wstmt(q, W_RELEASE));
}

static int sq_rollback_to(cs_store *s)
{
    sq *q = s->impl;
    q->next_audit = q->saved_audit;
    txe_truncate(q, (size_t)(q->saved_audit - q->txn_audit));
    int rc = step_done(q, wstmt(q, W_ROLLBACK_TO));
    return rc ? rc : step_done(q, wstmt(q, W_RELEASE));
}

/* Not copied (SQLITE_STATIC): every statement here is stepped and given back with
 * stmt_put, which clears its bindings, in the function that bound it, while the
 * caller's strings are alive; a copy of each stored document per write bought nothing. */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int sq_action_put(cs_store *s, const cs_action_row *r)
{
    sq *q = s->impl;
    long long key = 0;
    if (!q->legacy && (key = cs_action_id_key(r->id)) == 0) {
        cs_error("sqlite: action id %s carries no key", r->id);
        return CS_EINVAL;
    }
    sqlite3_stmt *st = wstmt(q, key ? W_ACTION_PUT_KEY : W_ACTION_PUT);
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->status);
    bind_text(st, 3, r->requester);
    bind_text(st, 4, r->idem_key);
    sqlite3_bind_int64(st, 5, r->expires_at);
    sqlite3_bind_int64(st, 6, r->created_at);
    bind_text(st, 7, r->doc);
    if (key) sqlite3_bind_int64(st, 8, key);
    int rc = step_done(q, st);
    /* The key is taken by another id: the update's WHERE left the row alone. */
    if (rc == 0 && sqlite3_changes(q->wc.db) != 1) {
        cs_error("sqlite: action key %lld is another action's (id %s)", key, r->id);
        rc = CS_ECONFLICT;
    }
    return rc;
}

static int sq_audit_append(cs_store *s, const cs_audit_row *r, long long *index)
{
    sq *q = s->impl;
    long long idx = q->next_audit;
    char *entry = cs_audit_entry_json(idx, r);
    if (entry == NULL) return CS_EINVAL;
    sqlite3_stmt *st = wstmt(q, W_AUDIT);
    sqlite3_bind_int64(st, 1, idx);
    bind_text(st, 2, r->type);
    sqlite3_bind_int64(st, 3, r->time_ms);
    bind_text(st, 4, r->actor ? r->actor : "");
    bind_text(st, 5, r->source ? r->source : "");
    bind_text(st, 6, r->action_id);
    bind_text(st, 7, entry); /* kept below for the transaction (txe), or freed on failure */
    int rc = step_done(q, st);
    if (rc != 0) {
        free(entry);
        return rc;
    }
    if (q->n_txe == q->cap_txe) {
        q->cap_txe = q->cap_txe ? 2 * q->cap_txe : 64;
        q->txe = cs_realloc(q->txe, q->cap_txe * sizeof *q->txe);
    }
    q->txe[q->n_txe++] = (sq_txentry){idx, r->time_ms, entry, strlen(entry)};
    q->next_audit = idx + 1;
    if (index) *index = idx;
    return 0;
}

static int sq_token_put(cs_store *s, const char *name, const char *hash, const char *doc,
                        int revoked)
{
    sq *q = s->impl;
    sqlite3_stmt *st = wstmt(q, W_TOKEN);
    bind_text(st, 1, name);
    bind_text(st, 2, hash);
    bind_text(st, 3, doc);
    sqlite3_bind_int(st, 4, revoked);
    return step_done(q, st);
}

/* Reader connections come from a pool so that any HTTP thread can read while the
 * writer holds its transaction (WAL lets them see the last commit). */
static sq_conn *reader_get(sq *q)
{
    sq_conn *c = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->n_pool > 0) c = q->pool[--q->n_pool];
    pthread_mutex_unlock(&q->lock);
    if (c) return c;
    c = cs_calloc(1, sizeof *c);
    if (open_conn(q->path, 0, &c->db, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void reader_put(sq *q, sq_conn *c)
{
    pthread_mutex_lock(&q->lock);
    if (q->n_pool < READER_POOL_MAX) {
        q->pool[q->n_pool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    if (c) {
        conn_close(c);
        free(c);
    }
}

/* The connection for a read: the writer's (w, inside its transaction) or a reader. */
static sq_conn *conn_get(sq *q, int w)
{
    return w ? &q->wc : reader_get(q);
}

static void conn_put(sq *q, int w, sq_conn *c)
{
    if (!w) reader_put(q, c);
}

/* Runs one statement on the writer connection (w) or a reader, collecting the first
 * text column of the first row. Its parameters: ?1 = a, ?2 = b (when not NULL) and
 * ?3 = n (when not 0). */
static int get_one(sq *q, int w, int which, const char *a, const char *b, long long n, char **out)
{
    sq_conn *c = conn_get(q, w);
    if (c == NULL) return CS_EDB;
    sqlite3_stmt *st = stmt_get(c, wsql[which]);
    int rc = CS_ENOTFOUND;
    if (st == NULL) {
        rc = CS_EDB;
        goto out;
    }
    bind_text(st, 1, a);
    if (b) bind_text(st, 2, b);
    if (n) sqlite3_bind_int64(st, 3, n);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *out = cs_strdup((const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else if (r != SQLITE_DONE) {
        cs_error("sqlite: %s", sqlite3_errmsg(c->db));
        rc = CS_EDB;
    }
out:
    stmt_put(c, st);
    conn_put(q, w, c);
    return rc;
}

static int sq_action_get(cs_store *s, int w, const char *id, char **doc)
{
    sq *q = s->impl;
    if (q->legacy) return get_one(q, w, W_GET, id, NULL, 0, doc);
    long long key = cs_action_id_key(id);
    return key ? get_one(q, w, W_GET_KEY, id, NULL, key, doc) : CS_ENOTFOUND;
}

static int sq_action_by_idem(cs_store *s, int w, const char *requester, const char *key, char **doc)
{
    return get_one(s->impl, w, W_IDEM, requester, key, 0, doc);
}

/* Runs a read query and hands each row to fn. */
static int each_row(sq *q, const char *sql, void (*bind)(sqlite3_stmt *, const void *),
                    const void *arg, void (*fn)(sqlite3_stmt *, void *), void *ctx)
{
    sq_conn *c = reader_get(q);
    if (c == NULL) return CS_EDB;
    sqlite3_stmt *st = stmt_get(c, sql);
    int rc = 0;
    if (st == NULL) {
        rc = CS_EDB;
        goto out;
    }
    if (bind) bind(st, arg);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        fn(st, ctx);
    if (r != SQLITE_DONE) {
        cs_error("sqlite: %s", sqlite3_errmsg(c->db));
        rc = CS_EDB;
    }
out:
    stmt_put(c, st);
    reader_put(q, c);
    return rc;
}

static void bind_list(sqlite3_stmt *st, const void *arg)
{
    const cs_list_query *lq = arg;
    bind_text(st, 1, lq->status);
    bind_text(st, 2, lq->requester);
    sqlite3_bind_int64(st, 3, lq->before_seq > 0 ? lq->before_seq : (1LL << 62));
    sqlite3_bind_int(st, 4, lq->limit + 1);
}

typedef struct list_ctx {
    json_t *docs;
    long long last_seq;
    int limit, more;
} list_ctx;

static void row_list(sqlite3_stmt *st, void *ctx)
{
    list_ctx *l = ctx;
    if ((int)json_array_size(l->docs) >= l->limit) {
        l->more = 1;
        return;
    }
    json_t *d = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    if (d) json_array_append_new(l->docs, d);
    l->last_seq = sqlite3_column_int64(st, 0);
}

static int sq_action_list(cs_store *s, const cs_list_query *lq, json_t **docs, long long *next)
{
    list_ctx l = {.docs = json_array(), .limit = lq->limit};
    int rc = each_row(s->impl,
                      "SELECT seq, doc FROM actions WHERE (?1 IS NULL OR status=?1) AND "
                      "(?2 IS NULL OR requester=?2) AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
                      bind_list, lq, row_list, &l);
    if (rc) {
        json_decref(l.docs);
        return rc;
    }
    *docs = l.docs;
    *next = l.more ? l.last_seq : 0;
    return 0;
}

static void bind_now(sqlite3_stmt *st, const void *arg)
{
    sqlite3_bind_int64(st, 1, *(const long long *)arg);
}

static void row_id(sqlite3_stmt *st, void *ctx)
{
    json_array_append_new(ctx, json_string((const char *)sqlite3_column_text(st, 0)));
}

static int sq_expired(cs_store *s, long long now_ms, json_t **ids)
{
    *ids = json_array();
    return each_row(s->impl,
                    "SELECT id FROM actions WHERE status='pending' AND expires_at <= ?1 "
                    "ORDER BY expires_at LIMIT 1000",
                    bind_now, &now_ms, row_id, *ids);
}

static void row_ll(sqlite3_stmt *st, void *ctx)
{
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) *(long long *)ctx = sqlite3_column_int64(st, 0);
}

static int sq_next_expiry(cs_store *s, long long *ms)
{
    *ms = 0;
    return each_row(s->impl, "SELECT MIN(expires_at) FROM actions WHERE status='pending'", NULL,
                    NULL, row_ll, ms);
}

static int sq_action_last_key(cs_store *s, long long *key)
{
    sq *q = s->impl;
    *key = 0;
    return q->legacy ? 0 : each_row(q, "SELECT MAX(seq) FROM actions", NULL, NULL, row_ll, key);
}

static void row_token(sqlite3_stmt *st, void *ctx)
{
    json_array_append_new(ctx,
                          json_pack("{s:s,s:s,s:s,s:b}", "name", sqlite3_column_text(st, 0), "hash",
                                    sqlite3_column_text(st, 1), "doc", sqlite3_column_text(st, 2),
                                    "revoked", sqlite3_column_int(st, 3)));
}

static int sq_tokens(cs_store *s, json_t **rows)
{
    *rows = json_array();
    return each_row(s->impl, "SELECT name, hash, doc, revoked FROM tokens", NULL, NULL, row_token,
                    *rows);
}

static int sq_audit_count(cs_store *s, long long *n)
{
    *n = 0;
    int rc = each_row(s->impl, "SELECT COUNT(*) FROM audit", NULL, NULL, row_ll, n);
    return rc;
}

typedef struct range_arg {
    long long from;
    int max;
} range_arg;

static void bind_range(sqlite3_stmt *st, const void *arg)
{
    const range_arg *r = arg;
    sqlite3_bind_int64(st, 1, r->from);
    sqlite3_bind_int(st, 2, r->max);
}

static void row_audit(sqlite3_stmt *st, void *ctx)
{
    json_array_append_new(ctx,
                          json_pack("{s:I,s:s}", "index", (json_int_t)sqlite3_column_int64(st, 0),
                                    "entry", sqlite3_column_text(st, 1)));
}

static int sq_audit_range(cs_store *s, long long from, int max, json_t **rows)
{
    range_arg r = {from, max};
    *rows = json_array();
    return each_row(s->impl, "SELECT idx, entry FROM audit WHERE idx >= ?1 ORDER BY idx LIMIT ?2",
                    bind_range, &r, row_audit, *rows);
}

static int sq_audit_tile_put(cs_store *s, unsigned level, long long index, const void *data, size_t len)
{
    sq *q = s->impl;
    sqlite3_stmt *st = wstmt(q, W_TILE_PUT);
    sqlite3_bind_int(st, 1, (int)level);
    sqlite3_bind_int64(st, 2, index);
    sqlite3_bind_blob(st, 3, data, (int)len, SQLITE_STATIC);
    return step_done(q, st);
}

static int sq_audit_head_put(cs_store *s, long long size, const char *note)
{
    sq *q = s->impl;
    sqlite3_stmt *st = wstmt(q, W_HEAD_PUT);
    sqlite3_bind_int64(st, 1, size);
    bind_text(st, 2, note);
    return step_done(q, st);
}

static int sq_audit_stamp_put(cs_store *s, long long size, const char *note, const char *gen_time, const void *token,
                             size_t len)
{
    sq *q = s->impl;
    sqlite3_stmt *st = wstmt(q, W_STAMP_PUT);
    sqlite3_bind_int64(st, 1, size);
    bind_text(st, 2, note);
    bind_text(st, 3, gen_time);
    sqlite3_bind_blob(st, 4, token, (int)len, SQLITE_STATIC);
    return step_done(q, st);
}

/* The cached statement for sql on the writer connection (w) or a pooled reader. */
static int prepare_on(sq *q, int w, const char *sql, sq_conn **c, sqlite3_stmt **st)
{
    *c = conn_get(q, w);
    if (*c == NULL) return CS_EDB;
    if ((*st = stmt_get(*c, sql)) != NULL) return 0;
    conn_put(q, w, *c);
    return CS_EDB;
}

static void finish_on(sq *q, int w, sq_conn *c, sqlite3_stmt *st)
{
    stmt_put(c, st);
    conn_put(q, w, c);
}

/* A scan on the writer's connection of entries that all belong to the open
 * transaction (the audit log's before-commit pass): answered from the kept copies.
 * Returns 1 when it answered. */
static int scan_kept(sq *q, const cs_audit_scan *a, cs_audit_row_fn fn, void *ctx, int *rc)
{
    if (q->n_txe == 0 || a->since_ms != 0 || a->until_ms != 0 || a->limit > 0) return 0;
    long long first = q->txe[0].idx;
    if (a->from < first) return 0;
    *rc = 0;
    for (size_t i = (size_t)(a->from - first); i < q->n_txe && *rc == 0; i++) {
        const sq_txentry *e = &q->txe[i];
        if (a->to >= 0 && e->idx >= a->to) break;
        *rc = fn(ctx, e->idx, e->time_ms, e->entry, e->len);
    }
    return 1;
}

static int sq_audit_scan(cs_store *s, int w, const cs_audit_scan *a, cs_audit_row_fn fn, void *ctx)
{
    sq *q = s->impl;
    int kept_rc;
    if (w && scan_kept(q, a, fn, ctx, &kept_rc)) return kept_rc;
    sq_conn *db;
    sqlite3_stmt *st;
    int rc = prepare_on(q, w, "SELECT idx, time_ms, entry FROM audit WHERE idx >= ?1 AND (?2 < 0 OR idx < ?2)"
                              " AND (?3 = 0 OR time_ms >= ?3) AND (?4 = 0 OR time_ms < ?4) ORDER BY idx LIMIT ?5",
                        &db, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, a->from);
    sqlite3_bind_int64(st, 2, a->to);
    sqlite3_bind_int64(st, 3, a->since_ms);
    sqlite3_bind_int64(st, 4, a->until_ms);
    sqlite3_bind_int64(st, 5, a->limit > 0 ? a->limit : -1);
    int r;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), (const char *)sqlite3_column_text(st, 2),
                (size_t)sqlite3_column_bytes(st, 2));
    if (rc == 0 && r != SQLITE_DONE) {
        cs_error("sqlite: %s", sqlite3_errmsg(db->db));
        rc = CS_EDB;
    }
    finish_on(q, w, db, st);
    return rc;
}

static int sq_audit_tile_get(cs_store *s, int w, unsigned level, long long index, void *out, size_t len)
{
    sq *q = s->impl;
    sq_conn *db;
    sqlite3_stmt *st;
    int rc = prepare_on(q, w, "SELECT data FROM audit_tiles WHERE level=?1 AND idx=?2", &db, &st);
    if (rc) return rc;
    sqlite3_bind_int(st, 1, (int)level);
    sqlite3_bind_int64(st, 2, index);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len) memcpy(out, sqlite3_column_blob(st, 0), len);
    else if (r == SQLITE_ROW) rc = CS_EDB; /* a stored tile of the wrong size: storage is damaged */
    else rc = r == SQLITE_DONE ? CS_ENOTFOUND : CS_EDB;
    finish_on(q, w, db, st);
    return rc;
}

static int sq_audit_head_get(cs_store *s, long long *size, char **note)
{
    sq *q = s->impl;
    sq_conn *db;
    sqlite3_stmt *st;
    *size = 0;
    *note = NULL;
    int rc = prepare_on(q, 0, "SELECT size, note FROM audit_head WHERE id=1", &db, &st);
    if (rc) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *size = sqlite3_column_int64(st, 0);
        *note = cs_strdup((const char *)sqlite3_column_text(st, 1));
    } else if (r != SQLITE_DONE) {
        rc = CS_EDB;
    }
    finish_on(q, 0, db, st);
    return rc;
}

static int sq_audit_stamp_get(cs_store *s, json_t **out)
{
    sq *q = s->impl;
    sq_conn *db;
    sqlite3_stmt *st;
    int rc = prepare_on(q, 0, "SELECT size, note, gen_time, token FROM audit_stamps ORDER BY size DESC LIMIT 1", &db,
                        &st);
    if (rc) return rc;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 3);
        char *b64 = cs_malloc(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL));
        sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), sqlite3_column_blob(st, 3),
                          n, sodium_base64_VARIANT_ORIGINAL);
        *out = json_pack("{s:I,s:s,s:s,s:s}", "tree_size", (json_int_t)sqlite3_column_int64(st, 0), "checkpoint",
                         sqlite3_column_text(st, 1), "gen_time", sqlite3_column_text(st, 2), "token", b64);
        free(b64);
    } else {
        rc = r == SQLITE_DONE ? CS_ENOTFOUND : CS_EDB;
    }
    finish_on(q, 0, db, st);
    return rc;
}

/* The notification outbox. Writes run on the writer connection inside the group
 * commit, like every other state change. */
static int sq_outbox_add(cs_store *s, const cs_outbox_row *r)
{
    sq *q = s->impl;
    sqlite3_stmt *st = stmt_get(
        &q->wc, "INSERT INTO outbox(msg_id,target,action_id,event,payload,created_at,next_at) "
                "VALUES(?1,?2,?3,?4,?5,?6,?6)");
    if (st == NULL) return CS_EDB;
    bind_text(st, 1, r->msg_id);
    bind_text(st, 2, r->target);
    bind_text(st, 3, r->action_id);
    bind_text(st, 4, r->event);
    bind_text(st, 5, r->payload);
    sqlite3_bind_int64(st, 6, r->created_at);
    return step_done(q, st);
}

static int sq_outbox_set(cs_store *s, long long id, const char *state, int attempts,
                         long long next_at, const char *last_error)
{
    sq *q = s->impl;
    sqlite3_stmt *st = stmt_get(
        &q->wc, "UPDATE outbox SET state=?2, attempts=?3, next_at=?4, last_error=?5 WHERE id=?1");
    if (st == NULL) return CS_EDB;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, state);
    sqlite3_bind_int(st, 3, attempts);
    sqlite3_bind_int64(st, 4, next_at);
    bind_text(st, 5, last_error);
    return step_done(q, st);
}

static int sq_notify_ref_put(cs_store *s, const char *action_id, const char *target,
                             const char *ref)
{
    sq *q = s->impl;
    sqlite3_stmt *st =
        stmt_get(&q->wc, "INSERT INTO notify_refs(action_id,target,ref) VALUES(?1,?2,?3) "
                         "ON CONFLICT(action_id,target) DO UPDATE SET ref=?3");
    if (st == NULL) return CS_EDB;
    bind_text(st, 1, action_id);
    bind_text(st, 2, target);
    bind_text(st, 3, ref);
    return step_done(q, st);
}

static void row_outbox(sqlite3_stmt *st, void *ctx)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:I}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                          "msg_id", sqlite3_column_text(st, 1), "target", sqlite3_column_text(st, 2),
                          "action_id", sqlite3_column_text(st, 3), "event", sqlite3_column_text(st, 4),
                          "payload", sqlite3_column_text(st, 5), "attempts", sqlite3_column_int(st, 6),
                          "created_at", (json_int_t)sqlite3_column_int64(st, 7));
    if (o == NULL) return;
    const unsigned char *ref = sqlite3_column_text(st, 8);
    json_object_set_new(o, "ref", ref ? json_string((const char *)ref) : json_null());
    json_array_append_new(ctx, o);
}

static int sq_outbox_due(cs_store *s, long long now_ms, int max, json_t **rows)
{
    range_arg r = {now_ms, max};
    *rows = json_array();
    return each_row(s->impl,
                    "SELECT o.id, o.msg_id, o.target, o.action_id, o.event, o.payload, o.attempts,"
                    " o.created_at, r.ref FROM outbox o LEFT JOIN notify_refs r"
                    " ON r.action_id = o.action_id AND r.target = o.target"
                    " WHERE o.state = 'pending' AND o.next_at <= ?1 AND o.id = (SELECT MIN(p.id) FROM"
                    " outbox p WHERE p.state = 'pending' AND p.action_id = o.action_id AND p.target = o.target)"
                    " ORDER BY o.id LIMIT ?2",
                    bind_range, &r, row_outbox, *rows);
}

static void row_count(sqlite3_stmt *st, void *ctx)
{
    json_object_set_new(ctx, (const char *)sqlite3_column_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
}

static int sq_outbox_counts(cs_store *s, json_t **counts)
{
    *counts = json_object();
    return each_row(s->impl, "SELECT state, COUNT(*) FROM outbox GROUP BY state", NULL, NULL, row_count, *counts);
}

/* The kill switch's rows and the writer-side reads a freeze needs. */
static int sq_freeze_put(cs_store *s, const char *scope, const char *doc)
{
    sq *q = s->impl;
    const char *sql = doc ? "INSERT INTO freezes(scope,doc) VALUES(?1,?2) ON CONFLICT(scope) DO UPDATE SET doc=?2"
                          : "DELETE FROM freezes WHERE scope=?1";
    sqlite3_stmt *st = stmt_get(&q->wc, sql);
    if (st == NULL) return CS_EDB;
    bind_text(st, 1, scope);
    if (doc) bind_text(st, 2, doc);
    return step_done(q, st);
}

static int sq_freeze_targets(cs_store *s, const char *requester, json_t **docs)
{
    sq *q = s->impl;
    sqlite3_stmt *st = stmt_get(
        &q->wc,
        "SELECT doc FROM actions WHERE (?1 IS NULL AND requester LIKE 'Agent::%' OR requester=?1)"
        " AND (status='pending' OR (status IN ('allowed','approved')"
        " AND json_extract(doc,'$.receipt') IS NOT NULL"
        " AND json_extract(doc,'$.receipt_consumed_at') IS NULL"
        " AND json_extract(doc,'$.receipt_revoked_at') IS NULL)) ORDER BY seq");
    if (st == NULL) return CS_EDB;
    bind_text(st, 1, requester);
    *docs = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *d = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (d) json_array_append_new(*docs, d);
    }
    stmt_put(&q->wc, st);
    if (r == SQLITE_DONE) return 0;
    cs_error("sqlite: %s", sqlite3_errmsg(q->wc.db));
    json_decref(*docs);
    *docs = NULL;
    return CS_EDB;
}

static int sq_pending_count(cs_store *s, const char *requester, long long *n)
{
    sq *q = s->impl;
    sqlite3_stmt *st =
        stmt_get(&q->wc, "SELECT COUNT(*) FROM actions WHERE status='pending' AND requester=?1");
    if (st == NULL) return CS_EDB;
    bind_text(st, 1, requester);
    int r = sqlite3_step(st);
    *n = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    stmt_put(&q->wc, st);
    return r == SQLITE_ROW ? 0 : CS_EDB;
}

static void row_freeze(sqlite3_stmt *st, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s}", "scope", sqlite3_column_text(st, 0), "doc",
                                         sqlite3_column_text(st, 1)));
}

static int sq_freezes(cs_store *s, json_t **rows)
{
    *rows = json_array();
    return each_row(s->impl, "SELECT scope, doc FROM freezes ORDER BY scope", NULL, NULL, row_freeze, *rows);
}

const cs_store_ops cs_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .action_put = sq_action_put,
    .audit_append = sq_audit_append,
    .token_put = sq_token_put,
    .audit_tile_put = sq_audit_tile_put,
    .audit_head_put = sq_audit_head_put,
    .audit_stamp_put = sq_audit_stamp_put,
    .action_get = sq_action_get,
    .action_by_idem = sq_action_by_idem,
    .action_list = sq_action_list,
    .expired = sq_expired,
    .next_expiry = sq_next_expiry,
    .action_last_key = sq_action_last_key,
    .tokens = sq_tokens,
    .audit_count = sq_audit_count,
    .audit_range = sq_audit_range,
    .audit_scan = sq_audit_scan,
    .audit_tile_get = sq_audit_tile_get,
    .audit_head_get = sq_audit_head_get,
    .audit_stamp_get = sq_audit_stamp_get,
    .outbox_add = sq_outbox_add,
    .outbox_set = sq_outbox_set,
    .notify_ref_put = sq_notify_ref_put,
    .outbox_due = sq_outbox_due,
    .outbox_counts = sq_outbox_counts,
    .freeze_put = sq_freeze_put,
    .freeze_targets = sq_freeze_targets,
    .pending_count = sq_pending_count,
    .freezes = sq_freezes,
};
