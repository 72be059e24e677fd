/* test_gateway_restart.c - durability: pending actions survive a restart and stay
 * approvable, expiry happens across restarts, and after `kill -9` under concurrent
 * load every decision a client saw acknowledged is in the store with its audit
 * entry, and the audit indexes have no gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static void test_restart_pending(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "db.export", "prod/db/customers");
    json_t *e = td_submit(d, "demo-agent", "test.expire", "x");
    td_resp r = td_vote(d, "bob", td_str(a, "id"), "approve");
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    td_stop(d);
    sleep(2); /* the 1 s expiry passes while the gateway is down */
    td_serve(d);
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s?wait=30", td_str(e, "id"));
    r = td_req(d, "GET", path, "demo-agent", NULL, NULL, NULL);
    assert_string_equal(td_str(r.json, "status"), "expired");
    td_resp_free(&r);
    r = td_vote(d, "bob", td_str(a, "id"), "approve");
    assert_int_equal(r.status, 409);
    assert_string_equal(td_str(r.json, "type"), "duplicate-vote");
    td_resp_free(&r);
    r = td_vote(d, "carol", td_str(a, "id"), "approve");
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "approved");
    td_resp_free(&r);
    json_decref(a);
    json_decref(e);
}

#define THREADS 8
#define MAX_ACKS 100000

typedef struct ack {
    char id[64];
    char status[16];
    long index;
    int vote; /* 1: an acknowledged approve vote by bob */
} ack;

typedef struct load {
    td *d;
    int n;
    ack *acks;
    atomic_int *total;
    atomic_int *stop;
    int seed;
} load;

static void *load_main(void *arg)
{
    load *l = arg;
    for (int i = 0; !atomic_load(l->stop) && l->n < MAX_ACKS / THREADS; i++) {
        int pending = (i + l->seed) % 3 == 0;
        const char *body = pending ? "{\"action\":\"db.export\",\"resource\":\"prod/db/c\"}"
                                   : "{\"action\":\"db.read\",\"resource\":\"prod/db/c\"}";
        td_resp r = td_req(l->d, "POST", "/v1/actions", "demo-agent", body, NULL, NULL);
        if (r.status != 201) {
            td_resp_free(&r);
            break; /* the server is gone */
        }
        ack *a = &l->acks[l->n++];
        snprintf(a->id, sizeof a->id, "%s", td_str(r.json, "id"));
        snprintf(a->status, sizeof a->status, "%s", td_str(r.json, "status"));
        a->index =
            (long)json_integer_value(json_object_get(json_object_get(r.json, "audit"), "index"));
        td_resp_free(&r);
        atomic_fetch_add(l->total, 1);
        if (pending) {
            r = td_vote(l->d, "bob", a->id, "approve");
            if (r.status == 200) {
                ack *v = &l->acks[l->n++];
                *v = *a;
                v->vote = 1;
            }
            td_resp_free(&r);
        }
    }
    return NULL;
}

static void check_db(td *d, ack *acks, int n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/data/countersign.db", d->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT COUNT(*), COALESCE(MAX(idx),-1) FROM audit", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1) + 1); /* no gaps */
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT type FROM audit WHERE idx=?1 AND action_id=?2", -1, &st, NULL);
    for (int i = 0; i < n; i++) {
        if (acks[i].vote) continue;
        sqlite3_bind_int64(st, 1, acks[i].index);
        sqlite3_bind_text(st, 2, acks[i].id, -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "action.submitted");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_crash_under_load(void **state)
{
    td *d = *state;
    pthread_t t[THREADS];
    load l[THREADS];
    atomic_int total = 0, stop = 0;
    for (int i = 0; i < THREADS; i++) {
        l[i] = (load){.d = d,
                      .acks = calloc(MAX_ACKS / THREADS + 2, sizeof(ack)),
                      .total = &total,
                      .stop = &stop,
                      .seed = i};
        pthread_create(&t[i], NULL, load_main, &l[i]);
    }
    while (atomic_load(&total) < 300)
        usleep(1000);
    td_kill9(d); /* mid-flight: some requests are lost, none that was acknowledged */
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    td_serve(d);
    int checked = 0;
    for (int i = 0; i < THREADS; i++) {
        for (int j = 0; j < l[i].n; j++) {
            ack *a = &l[i].acks[j];
            char path[160];
            snprintf(path, sizeof path, "/v1/actions/%s", a->id);
            td_resp r = td_req(d, "GET", path, "admin", NULL, NULL, NULL);
            assert_int_equal(r.status, 200);
            if (a->vote) {
                json_t *votes = json_object_get(json_object_get(r.json, "approval"), "votes");
                assert_int_equal(json_array_size(votes), 1);
                assert_string_equal(td_str(json_array_get(votes, 0), "voter"), "bob");
            } else if (strcmp(a->status, "pending") != 0) {
                assert_string_equal(td_str(r.json, "status"), a->status);
            }
            td_resp_free(&r);
            checked++;
        }
        check_db(d, l[i].acks, l[i].n);
        free(l[i].acks);
    }
    assert_true(checked >= 300);
    /* The restarted gateway keeps working on the same store. */
    json_t *a = td_submit(d, "demo-agent", "db.read", "prod/db/c");
    assert_string_equal(td_str(a, "status"), "allowed");
    json_decref(a);
}

static void write_policy(td *d, const char *text)
{
    char path[400];
    snprintf(path, sizeof path, "%s/data/policy/demo.cedar", d->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *decide(td *d, const char *action, char *status, size_t n)
{
    json_t *a = td_submit(d, "demo-agent", action, "prod/x");
    snprintf(status, n, "%s", td_str(a, "status"));
    json_decref(a);
    return status;
}

/* SIGHUP: a broken policy is refused and the old one stays; a good one is taken. */
static void test_sighup_reload(void **state)
{
    td *d = *state;
    char st[32];
    assert_string_equal(decide(d, "db.read", st, sizeof st), "allowed");
    write_policy(d, "permit (principal, action == Action::\"db.read\", resource) oops;\n");
    kill(d->pid, SIGHUP);
    /* A good policy after the bad one: once it is in force, the bad one must have
     * been seen and refused without taking the gateway down. */
    for (int i = 0; i < 20; i++) {
        assert_string_equal(decide(d, "db.read", st, sizeof st), "allowed");
        usleep(20000);
    }
    write_policy(
        d,
        "@id(\"only-exports\")\npermit (principal, action == Action::\"db.export\", resource);\n");
    kill(d->pid, SIGHUP);
    int changed = 0;
    for (int i = 0; i < 500 && !changed; i++) {
        changed = !strcmp(decide(d, "db.read", st, sizeof st), "denied");
        if (!changed) usleep(10000);
    }
    assert_true(changed);
    assert_string_equal(decide(d, "db.export", st, sizeof st), "allowed");
}

/* Stalled clients (half-sent requests) hold no thread: others are still served. */
static void test_stalled_clients(void **state)
{
    td *d = *state;
    enum { N = 200 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)d->port)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
        const char *part =
            i % 2 ? "POST /v1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"act"
                  : "GET /v1/actions HTTP/1.1\r\nHost: x\r\nAuthor";
        assert_true(write(fds[i], part, strlen(part)) > 0);
    }
    json_t *a = td_submit(d, "demo-agent", "db.read", "prod/db/a");
    assert_string_equal(td_str(a, "status"), "allowed");
    json_decref(a);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

/* Two executors race to consume one receipt: exactly one wins. */
typedef struct racer {
    td *d;
    const char *body;
    long status;
} racer;

static void *consume(void *arg)
{
    racer *r = arg;
    td_resp resp = td_req(r->d, "POST", "/v1/receipts/consume", "demo-agent", r->body, NULL, NULL);
    r->status = resp.status;
    td_resp_free(&resp);
    return NULL;
}

static void test_receipt_race(void **state)
{
    td *d = *state;
    for (int round = 0; round < 10; round++) {
        td_resp r = td_req(d, "POST", "/v1/actions", "demo-agent",
                           "{\"action\":\"db.read\",\"resource\":\"prod/db/a\",\"receipt\":true}",
                           NULL, NULL);
        char body[4096];
        snprintf(body, sizeof body, "{\"receipt\":\"%s\"}", td_str(r.json, "receipt"));
        td_resp_free(&r);
        racer rs[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            rs[i] = (racer){d, body, 0};
            pthread_create(&t[i], NULL, consume, &rs[i]);
        }
        int ok = 0, conflict = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            ok += rs[i].status == 200;
            conflict += rs[i].status == 409;
        }
        assert_int_equal(ok, 1);
        assert_int_equal(conflict, 3);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        TD_TEST(test_restart_pending),
        TD_TEST(test_crash_under_load),
        TD_TEST(test_sighup_reload),
        TD_TEST(test_stalled_clients),
        TD_TEST(test_receipt_race),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
