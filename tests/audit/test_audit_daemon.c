/* test_audit_daemon.c - the audit log of a real daemon: after a workload with every kind
 * of event, `countersign audit verify --url` checks every entry; restarts keep the tree
 * consistent; the SQLite database tampered with (a byte changed, an entry deleted, two
 * reordered, the last tile changed, the key swapped, an old backup restored) fails
 * verification naming the index; proofs and exports (JSON Lines, CSV, OCSF) parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit_checkpoint.h"
#include "audit/audit_hash.h"
#include "audit/audit_note.h"
#include "audit/audit_proof.h"
#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/jcs.h"
#include "gateway/daemon.h"

static char *path_in(td *d, const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", d->dir, name);
    return p[k];
}

/* td_cli already answers the exit code. */
static int exit_code(int code)
{
    return code;
}

static void db_exec(td *d, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path_in(d, "data/countersign.db"), &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "sqlite: %s\n", msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

static void save_key(td *d)
{
    td_resp r = td_req(d, "GET", "/v1/audit/key", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    FILE *f = fopen(path_in(d, "vkey"), "w");
    fputs(r.text, f);
    fclose(f);
    td_resp_free(&r);
}

/* Runs audit verify --url --key vkey --json [--trusted FILE]; returns the exit code and
 * the report. */
static int verify(td *d, const char *trusted, json_t **report)
{
    char url[128];
    snprintf(url, sizeof url, "%s/v1/audit", d->url);
    const char *argv[] = {"audit",  "verify",
                          "--url",  url,
                          "--key",  path_in(d, "vkey"),
                          "--json", trusted ? "--trusted" : NULL,
                          trusted,  NULL};
    char *out = NULL;
    int code = exit_code(td_cli(d, "admin", &out, argv));
    *report = json_loads(out ? out : "", 0, NULL);
    if (*report == NULL) fprintf(stderr, "verify printed: %s\n", out ? out : "(nothing)");
    free(out);
    return code;
}

static long long jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static json_t *post(td *d, const char *who, const char *path, const char *body, long want)
{
    td_resp r = td_req(d, "POST", path, who, body, NULL, NULL);
    if (r.status != want) fprintf(stderr, "POST %s -> %ld %s\n", path, r.status, r.text);
    assert_int_equal(r.status, want);
    json_t *j = json_incref(r.json);
    td_resp_free(&r);
    return j;
}

static char *vote_path(const json_t *a, const char *verb)
{
    static char p[128];
    snprintf(p, sizeof p, "/v1/actions/%s/%s", td_str(a, "id"), verb);
    return p;
}

/* Every kind of event of the catalogue that the API can cause. */
static void workload(td *d)
{
    json_t *a = post(d, "demo-agent", "/v1/actions",
                     "{\"action\":\"db.read\",\"resource\":\"prod/db/x\",\"receipt\":true}", 201);
    json_decref(a);
    json_t *p = post(d, "demo-agent", "/v1/actions",
                     "{\"action\":\"deploy.apply\",\"resource\":\"prod/web\"}", 201);
    json_decref(post(d, "demo-agent", vote_path(p, "approve"), "{}", 403)); /* agent */
    json_decref(post(d, "alice", vote_path(p, "approve"), "{}", 403));      /* owner of the agent */
    json_t *ok = post(d, "bob", vote_path(p, "approve"), "{\"reason\":\"fine\"}", 200);
    json_decref(post(d, "carol", vote_path(p, "approve"), "{}", 409)); /* no longer pending */
    char body[4096];
    snprintf(body, sizeof body, "{\"receipt\":\"%s\"}", td_str(ok, "receipt"));
    json_decref(post(d, "demo-agent", "/v1/receipts/consume", body, 200));
    json_decref(post(d, "demo-agent", "/v1/receipts/consume", body, 409));
    json_decref(post(d, "demo-agent", vote_path(p, "outcome"),
                     "{\"status\":\"succeeded\",\"exit_code\":0}", 200));
    json_decref(ok);
    json_decref(p);
    json_t *c = post(d, "demo-agent", "/v1/actions",
                     "{\"action\":\"db.export\",\"resource\":\"prod/db/x\"}", 201);
    json_decref(post(d, "demo-agent", vote_path(c, "cancel"), "{}", 200));
    json_decref(c);
    json_decref(post(d, "demo-agent", "/v1/actions",
                     "{\"action\":\"iam.role.update\",\"resource\":\"prod/iam\"}", 201));
    json_decref(post(d, "admin", "/v1/tokens",
                     "{\"kind\":\"user\",\"name\":\"dave\",\"groups\":[\"dba\"]}", 201));
    td_resp r = td_req(d, "DELETE", "/v1/tokens/dave", "admin", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    json_t *e = post(d, "demo-agent", "/v1/actions",
                     "{\"action\":\"test.expire\",\"resource\":\"x\"}", 201);
    for (int i = 0; i < 100 && td_audit_count(d, "action.expired", td_str(e, "id")) == 0; i++)
        usleep(50000);
    json_decref(e);
}

static void test_workload_verifies(void **state)
{
    td *d = *state;
    workload(d);
    static const char *const events[] = {
        "action.submitted", "action.vote",      "action.vote_refused",
        "action.approved",  "action.cancelled", "action.expired",
        "action.outcome",   "receipt.issued",   "receipt.consumed",
        "receipt.refused",  "token.created",    "token.revoked",
        "server.started",   "policy.loaded",    NULL};
    for (int i = 0; events[i]; i++) {
        if (td_audit_count(d, events[i], NULL) == 0) fprintf(stderr, "no %s entry\n", events[i]);
        assert_true(td_audit_count(d, events[i], NULL) > 0);
    }
    assert_int_equal(td_audit_count(d, "action.vote_refused", NULL), 3);
    assert_int_equal(td_audit_count(d, "receipt.issued", NULL), 2);
    save_key(d);
    json_t *rep = NULL;
    assert_int_equal(verify(d, path_in(d, "trusted"), &rep), 0);
    assert_true(json_is_true(json_object_get(rep, "ok")));
    assert_true(jint(rep, "size") >= 20);
    assert_int_equal(jint(rep, "entries_checked"), jint(rep, "size"));
    json_decref(rep);
    /* Without a token the entries are not readable. */
    td_resp r = td_req(d, "GET", "/v1/audit/tile/entries/000.p/1", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    td_resp_free(&r);
    r = td_req(d, "GET", "/v1/audit/tile/entries/000.p/1", "demo-agent", NULL, NULL, NULL);
    assert_int_equal(r.status, 403);
    td_resp_free(&r);
}

static void wait_count(td *d, const char *event, long want)
{
    for (int i = 0; i < 200 && td_audit_count(d, event, NULL) < want; i++)
        usleep(20000);
    assert_int_equal(td_audit_count(d, event, NULL), want);
}

/* SIGHUP reloads are entries too: a good policy with its version, a bad one refused. */
static void test_policy_events(void **state)
{
    td *d = *state;
    long loaded = td_audit_count(d, "policy.loaded", NULL);
    kill(d->pid, SIGHUP);
    wait_count(d, "policy.loaded", loaded + 1);
    FILE *f = fopen(path_in(d, "data/policy/broken.cedar"), "w");
    fputs("permit (principal, action, resource) when { nonsense", f);
    fclose(f);
    kill(d->pid, SIGHUP);
    wait_count(d, "policy.load_refused", 1);
    unlink(path_in(d, "data/policy/broken.cedar"));
}

/* Inclusion proof of the decision's entry, checked with the library and the CLI. */
static void test_proof(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "db.read", "prod/db/y");
    long long idx =
        (long long)json_integer_value(json_object_get(json_object_get(a, "audit"), "index"));
    char path[64];
    snprintf(path, sizeof path, "/v1/audit/proof/%lld", idx);
    td_resp r = td_req(d, "GET", path, "alice", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    const char *file = td_str(r.json, "tlog_proof"), *entry = td_str(r.json, "entry");
    assert_true(strstr(entry, td_str(a, "id")) != NULL);
    /* The entry (rendered on the HTTP thread, its index spliced in by the writer) is
     * its own RFC 8785 form and records the decision the client got. */
    json_t *e = json_loads(entry, 0, NULL);
    assert_non_null(e);
    char *canon = cs_jcs_dumps(e);
    assert_string_equal(canon, entry);
    free(canon);
    assert_int_equal(json_integer_value(json_object_get(e, "index")), idx);
    assert_string_equal(td_str(e, "event"), "action.submitted");
    json_t *det = json_object_get(e, "details");
    assert_string_equal(td_str(det, "args_hash"), td_str(a, "args_hash"));
    assert_string_equal(td_str(det, "status"), td_str(a, "status"));
    assert_true(json_equal(json_object_get(det, "policy"), json_object_get(a, "policy")));
    json_decref(e);
    char apath[128];
    snprintf(apath, sizeof apath, "/v1/actions/%s", td_str(a, "id"));
    td_resp got = td_req(d, "GET", apath, "alice", NULL, NULL, NULL);
    assert_int_equal(got.status, 200);
    assert_true(json_equal(got.json, a)); /* the stored text is the reply */
    td_resp_free(&got);
    td_resp k = td_req(d, "GET", "/v1/audit/key", NULL, NULL, NULL, NULL);
    cs_audit_verifier v;
    cs_audit_proof p;
    cs_err err = {0};
    assert_int_equal(cs_audit_verifier_parse(&v, k.text, strcspn(k.text, "\n"), &err), 0);
    assert_int_equal(cs_audit_proof_parse(file, strlen(file), &p, &err), 0);
    assert_int_equal(cs_audit_proof_verify(&p, entry, strlen(entry), &v, NULL, &err), 0);
    assert_int_not_equal(cs_audit_proof_verify(&p, "{}", 2, &v, NULL, &err), 0);
    cs_audit_proof_free(&p);
    td_resp_free(&k);
    td_resp_free(&r);
    char idx_s[32];
    snprintf(idx_s, sizeof idx_s, "%lld", idx);
    const char *argv[] = {"audit", "proof", idx_s, "-o", path_in(d, "p.tlog-proof"), NULL};
    assert_int_equal(exit_code(td_cli(d, "alice", NULL, argv)), 0);
    assert_int_equal(access(path_in(d, "p.tlog-proof"), R_OK), 0);
    r = td_req(d, "GET", "/v1/audit/proof/999999", "alice", NULL, NULL, NULL);
    assert_int_equal(r.status, 404);
    td_resp_free(&r);
    json_decref(a);
}

/* export-tiles mirrors the log into a static directory that verifies offline; a
 * changed bundle file there fails with its index; bad usage exits 2. */
static void test_export_tiles(void **state)
{
    td *d = *state;
    const char *exp[] = {"audit", "export-tiles", path_in(d, "mirror"), NULL};
    assert_int_equal(exit_code(td_cli(d, "alice", NULL, exp)), 0);
    const char *ver[] = {"audit", "verify",           "--dir",  path_in(d, "mirror"),
                         "--key", path_in(d, "vkey"), "--json", NULL};
    char *out = NULL;
    assert_int_equal(exit_code(td_cli(d, NULL, &out, ver)), 0);
    free(out);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "f=$(find '%s'/tile/entries -type f | head -1) && sed -i 's/db.read/db.reaD/' \"$f\"",
             path_in(d, "mirror"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(exit_code(td_cli(d, NULL, &out, ver)), 1);
    json_t *rep = json_loads(out, 0, NULL);
    free(out);
    assert_true(jint(rep, "first_bad_index") >= 0);
    json_decref(rep);
    /* The same failure as an OCSF Detection Finding. */
    const char *ocsf[] = {"audit", "verify",           "--dir",  path_in(d, "mirror"),
                          "--key", path_in(d, "vkey"), "--ocsf", NULL};
    assert_int_equal(exit_code(td_cli(d, NULL, &out, ocsf)), 1);
    json_t *finding = json_loads(out, 0, NULL);
    free(out);
    assert_int_equal(jint(finding, "class_uid"), 2004);
    assert_int_equal(jint(finding, "type_uid"), 200401);
    assert_true(jint(json_object_get(finding, "unmapped"), "first_bad_index") >= 0);
    json_decref(finding);
    const char *bad[] = {"audit", "verify", "--url", "http://x", "--dir", "y", NULL};
    assert_int_equal(exit_code(td_cli(d, NULL, NULL, bad)), 2);
    const char *nokey[] = {"audit", "verify", "--url", "http://127.0.0.1:1/v1/audit", NULL};
    assert_int_equal(exit_code(td_cli(d, NULL, NULL, nokey)), 2); /* transport error */
}

static void checkpoint_of(td *d, cs_audit_checkpoint *cp)
{
    td_resp r = td_req(d, "GET", "/v1/audit/checkpoint", NULL, NULL, NULL, NULL);
    td_resp k = td_req(d, "GET", "/v1/audit/key", NULL, NULL, NULL, NULL);
    cs_audit_verifier v;
    cs_err err = {0};
    assert_int_equal(cs_audit_verifier_parse(&v, k.text, strcspn(k.text, "\n"), &err), 0);
    assert_int_equal(cs_audit_checkpoint_open(r.text, strlen(r.text), &v, cp, &err), 0);
    td_resp_free(&r);
    td_resp_free(&k);
}

static int b64dec(const char *s, uint8_t *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int n = 0, bits = 0;
    unsigned v = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(tab, *s);
        if (p == NULL) return -1;
        v = (v << 6) | (unsigned)(p - tab);
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(v >> bits);
        }
    }
    return n;
}

/* A restart keeps the tree: the new checkpoint extends the old one. */
static void test_restart_consistent(void **state)
{
    td *d = *state;
    cs_audit_checkpoint before, after;
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/z"));
    checkpoint_of(d, &before);
    td_stop(d);
    td_serve(d);
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/z"));
    checkpoint_of(d, &after);
    assert_true(after.size > before.size);
    assert_true(td_audit_count(d, "server.stopped", NULL) >= 1);
    char path[128];
    snprintf(path, sizeof path, "/v1/audit/consistency?from=%llu&to=%llu",
             (unsigned long long)before.size, (unsigned long long)after.size);
    td_resp r = td_req(d, "GET", path, "demo-agent", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    uint8_t hashes[CS_AUDIT_PROOF_MAX * 32];
    size_t n = 0;
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(r.json, "hashes"), i, h)
        assert_int_equal(b64dec(json_string_value(h), hashes + 32 * n++), 32);
    assert_int_equal(
        cs_audit_verify_consistency(before.size, before.root, after.size, after.root, hashes, n),
        0);
    hashes[0] ^= 1;
    assert_int_not_equal(
        cs_audit_verify_consistency(before.size, before.root, after.size, after.root, hashes, n),
        0);
    td_resp_free(&r);
    /* Sizes out of order, zero or not numbers are refused, not read as "the latest". */
    static const char *const bad[] = {"from=0",
                                      "from=2&to=0",
                                      "from=3&to=2",
                                      "from=-1",
                                      "from=1&to=x",
                                      "to=3",
                                      "from=99999999999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(path, sizeof path, "/v1/audit/consistency?%s", bad[k]);
        r = td_req(d, "GET", path, "demo-agent", NULL, NULL, NULL);
        assert_int_equal(r.status, 400);
        assert_string_equal(td_str(r.json, "type"), "invalid-parameter");
        td_resp_free(&r);
    }
    save_key(d);
    json_t *rep = NULL;
    assert_int_equal(verify(d, path_in(d, "trusted"), &rep), 0); /* the file from the first test */
    json_decref(rep);
}

typedef struct hammer {
    td *d;
    atomic_int *done, *stop;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    while (!atomic_load(h->stop)) {
        td_resp r = td_req(h->d, "POST", "/v1/actions", "demo-agent",
                           "{\"action\":\"db.read\",\"resource\":\"prod/db/crash\"}", NULL, NULL);
        if (r.status == 201) atomic_fetch_add(h->done, 1);
        td_resp_free(&r);
    }
    return NULL;
}

/* SIGKILL in the middle of group commits: after the restart the tree is restored
 * from what committed, the log verifies and extends the checkpoint seen before. */
static void test_kill9_under_load(void **state)
{
    td *d = *state;
    cs_audit_checkpoint before, after;
    checkpoint_of(d, &before);
    atomic_int done = 0, stop = 0;
    hammer h = {d, &done, &stop};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer_main, &h);
    while (atomic_load(&done) < 300)
        usleep(1000);
    td_kill9(d);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    td_serve(d);
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/after-crash"));
    checkpoint_of(d, &after);
    assert_true(after.size >= before.size + 300);
    char path[128];
    snprintf(path, sizeof path, "/v1/audit/consistency?from=%llu&to=%llu",
             (unsigned long long)before.size, (unsigned long long)after.size);
    td_resp r = td_req(d, "GET", path, "alice", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    uint8_t hashes[CS_AUDIT_PROOF_MAX * 32];
    size_t n = 0, i;
    json_t *hj;
    json_array_foreach(json_object_get(r.json, "hashes"), i, hj)
        assert_int_equal(b64dec(json_string_value(hj), hashes + 32 * n++), 32);
    assert_int_equal(
        cs_audit_verify_consistency(before.size, before.root, after.size, after.root, hashes, n),
        0);
    td_resp_free(&r);
    json_t *rep = NULL;
    assert_int_equal(verify(d, NULL, &rep), 0);
    assert_int_equal(jint(rep, "entries_checked"), jint(rep, "size"));
    json_decref(rep);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

/* Tampers with a stopped gateway's database, restarts it, and expects verify to fail
 * at `bad` (-1: any index, -2: no index). Then puts the database back. */
static void tamper(td *d, const char *sql, long long bad)
{
    td_stop(d);
    copy_file(path_in(d, "data/countersign.db"), path_in(d, "pristine.db"));
    db_exec(d, sql);
    td_serve(d);
    json_t *rep = NULL;
    assert_int_equal(verify(d, NULL, &rep), 1);
    fprintf(stderr, "tamper '%s': %s (index %lld)\n", sql, td_str(rep, "problem"),
            jint(rep, "first_bad_index"));
    if (bad >= 0) assert_int_equal(jint(rep, "first_bad_index"), bad);
    json_decref(rep);
    td_stop(d);
    copy_file(path_in(d, "pristine.db"), path_in(d, "data/countersign.db"));
    unlink(path_in(d, "data/countersign.db-wal"));
    unlink(path_in(d, "data/countersign.db-shm"));
    td_serve(d);
}

static void test_tamper(void **state)
{
    td *d = *state;
    for (int i = 0; i < 260; i++)
        json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/bulk"));
    save_key(d);
    json_t *rep = NULL;
    assert_int_equal(verify(d, NULL, &rep), 0);
    assert_true(jint(rep, "size") > 256);
    json_decref(rep);
    tamper(d, "UPDATE audit SET entry = replace(entry, '\"v\":1', '\"v\":3') WHERE idx = 200", 200);
    tamper(d, "DELETE FROM audit WHERE idx = 180", 180);
    tamper(
        d,
        "UPDATE audit SET entry = CASE idx WHEN 190 THEN (SELECT entry FROM audit WHERE idx = 191) "
        "ELSE (SELECT entry FROM audit WHERE idx = 190) END WHERE idx IN (190, 191)",
        190);
    assert_int_equal(verify(d, NULL, &rep), 0); /* put back */
    json_decref(rep);
}

/* The entries of the last, incomplete tile are checked against the stored checkpoint
 * at start: the gateway refuses to sign over a changed log. */
static void refuses(td *d, const char *sql)
{
    copy_file(path_in(d, "data/countersign.db"), path_in(d, "pristine.db"));
    db_exec(d, sql);
    const char *argv[] = {"serve", "--config", path_in(d, "data/countersign.yaml"), "--check",
                          NULL};
    char *out = NULL;
    int code = exit_code(td_cli(d, NULL, &out, argv));
    free(out);
    assert_int_equal(code, 1);
    copy_file(path_in(d, "pristine.db"), path_in(d, "data/countersign.db"));
}

static void test_refuses_changed_tail(void **state)
{
    td *d = *state;
    td_stop(d);
    refuses(d, "UPDATE audit SET entry = replace(entry, '\"v\":1', '\"v\":2') WHERE idx = (SELECT "
               "MAX(idx) FROM audit)");
    refuses(d, "DELETE FROM audit WHERE idx = (SELECT MAX(idx) FROM audit)");
    refuses(d, "UPDATE audit_tiles SET data = zeroblob(8192) WHERE level = 0 AND idx = 0");
    refuses(d, "DELETE FROM audit_tiles");
    refuses(d, "INSERT INTO audit(idx, type, time_ms, actor, source, action_id, entry) SELECT "
               "MAX(idx) + 1, type, "
               "time_ms, actor, source, action_id, entry FROM audit");
    refuses(d, "DELETE FROM audit_head");
    td_serve(d);
}

/* A database from before the Merkle log (entries, no tiles, no checkpoint) is taken
 * over: the first commit adds every entry, and the log verifies. */
static void test_legacy_catch_up(void **state)
{
    td *d = *state;
    json_t *rep = NULL;
    assert_int_equal(verify(d, NULL, &rep), 0);
    long long size = jint(rep, "size");
    json_decref(rep);
    td_stop(d);
    db_exec(d, "DELETE FROM audit_tiles; DELETE FROM audit_head;");
    td_serve(d);
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/legacy"));
    assert_int_equal(verify(d, NULL, &rep), 0);
    assert_true(jint(rep, "size") > size);
    assert_int_equal(jint(rep, "entries_checked"), jint(rep, "size"));
    json_decref(rep);
}

/* An older backup put back (rollback) fails against the checkpoint trusted before. */
static void test_rollback(void **state)
{
    td *d = *state;
    td_stop(d);
    copy_file(path_in(d, "data/countersign.db"), path_in(d, "old.db"));
    td_serve(d);
    for (int i = 0; i < 10; i++)
        json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/later"));
    json_t *rep = NULL;
    unlink(path_in(d, "trusted2"));
    assert_int_equal(verify(d, path_in(d, "trusted2"), &rep), 0);
    long long trusted_size = jint(rep, "size");
    json_decref(rep);
    td_stop(d);
    copy_file(path_in(d, "old.db"), path_in(d, "data/countersign.db"));
    unlink(path_in(d, "data/countersign.db-wal"));
    unlink(path_in(d, "data/countersign.db-shm"));
    td_serve(d);
    assert_int_equal(verify(d, path_in(d, "trusted2"), &rep), 1);
    assert_true(jint(rep, "first_bad_index") >= 0);
    assert_true(jint(rep, "first_bad_index") < trusted_size);
    json_decref(rep);
}

/* A new signing key: the old verifier key no longer verifies the log. */
static void test_key_swap(void **state)
{
    td *d = *state;
    save_key(d);
    td_stop(d);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && '%s' init --dir '%s' >/dev/null && cp '%s/signing.key' '%s'",
             path_in(d, "other"), getenv("CS_BINARY"), path_in(d, "other"), path_in(d, "other"),
             path_in(d, "data/signing.key"));
    assert_int_equal(system(cmd), 0);
    td_serve(d);
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/newkey"));
    json_t *rep = NULL;
    assert_int_equal(verify(d, NULL, &rep), 1);
    fprintf(stderr, "key swap: %s\n", td_str(rep, "problem"));
    assert_int_equal(jint(rep, "first_bad_index"), -1);
    assert_non_null(strstr(td_str(rep, "problem"), "checkpoint"));
    json_decref(rep);
}

static char *stored_head(td *d, long long *size)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *note = NULL;
    assert_int_equal(sqlite3_open(path_in(d, "data/countersign.db"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT size, note FROM audit_head", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *size = sqlite3_column_int64(st, 0);
    note = strdup((const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return note;
}

/* The database keeps the tree head unsigned (the checkpoint is signed when first
 * read); one written by an earlier version holds a signed note there, and still
 * opens, extends and verifies. */
static void test_stored_head_forms(void **state)
{
    td *d = *state;
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/head"));
    td_stop(d);
    long long size = 0;
    char *body = stored_head(d, &size);
    assert_true(size > 0);
    assert_null(strstr(body, "\n\n")); /* a checkpoint body, no signature lines */
    cs_audit_checkpoint cp;
    cs_err err = {0};
    assert_int_equal(cs_audit_checkpoint_parse(body, strlen(body), &cp, &err), 0);
    assert_int_equal((long long)cp.size, size);
    /* What an earlier version stored: the same checkpoint, signed. */
    assert_true(sodium_init() >= 0);
    cs_signer *key = NULL;
    assert_int_equal(cs_signing_key_load(path_in(d, "data/signing.key"), &key, &err), 0);
    cs_audit_signer as;
    assert_int_equal(cs_signer_audit(key, cp.origin, &as, &err), 0);
    cs_buf note;
    cs_buf_init(&note, 1 << 16);
    assert_int_equal(cs_audit_checkpoint_sign(&as, &cp, &note, &err), 0);
    cs_audit_signer_wipe(&as);
    cs_signer_free(key);
    char *sql = cs_sprintf("UPDATE audit_head SET note = '%s'", note.data);
    db_exec(d, sql);
    free(sql);
    cs_buf_free(&note);
    free(body);
    td_serve(d);
    json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/head"));
    cs_audit_checkpoint after;
    checkpoint_of(d, &after);
    assert_true(after.size > (uint64_t)size);
    json_t *rep = NULL;
    assert_int_equal(verify(d, NULL, &rep), 0);
    json_decref(rep);
}

static void test_exports(void **state)
{
    td *d = *state;
    static const char *const formats[] = {"jsonl", "csv", "ocsf"};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "export.%s", formats[i]);
        const char *argv[] = {"audit",    "export",         "--format",
                              formats[i], "--since",        "2020-01-01T00:00:00Z",
                              "-o",       path_in(d, name), NULL};
        assert_int_equal(exit_code(td_cli(d, "alice", NULL, argv)), 0);
    }
    const char *bad[] = {"audit", "export", "--format", "xml", NULL};
    assert_int_equal(exit_code(td_cli(d, "alice", NULL, bad)), 2);
    const char *bad_time[] = {"audit", "export", "--format", "csv", "--until", "2026-13-45", NULL};
    assert_int_equal(exit_code(td_cli(d, "alice", NULL, bad_time)), 2);
    const char *agent[] = {"audit", "export", "--format", "csv", NULL};
    assert_int_equal(exit_code(td_cli(d, "demo-agent", NULL, agent)), 1);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "python3 '%s/tests/audit/check_export.py' '%s' '%s' '%s'",
             getenv("CS_SOURCE_DIR"), path_in(d, "export.jsonl"), path_in(d, "export.csv"),
             path_in(d, "export.ocsf"));
    assert_int_equal(system(cmd), 0);
    td_resp r =
        td_req(d, "GET", "/v1/audit/export?format=csv&until=yesterday", "alice", NULL, NULL, NULL);
    assert_int_equal(r.status, 400);
    td_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_verifies),
        cmocka_unit_test(test_policy_events),
        cmocka_unit_test(test_proof),
        cmocka_unit_test(test_export_tiles),
        cmocka_unit_test(test_restart_consistent),
        cmocka_unit_test(test_kill9_under_load),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_refuses_changed_tail),
        cmocka_unit_test(test_legacy_catch_up),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_stored_head_forms),
        cmocka_unit_test(test_key_swap),
    };
    return cmocka_run_group_tests(tests, td_setup, td_teardown);
}
