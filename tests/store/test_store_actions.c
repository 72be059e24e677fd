/* test_store_actions.c - the SQLite store's action rows, found by the key their id
 * carries (store.h): put, update, get, list and the last key, in a new database (no
 * index on id) and in one created before keyed ids (a UNIQUE id column, seq = max + 1),
 * which must keep working as it did, old ids and new ones alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/store.h"
#include "tmpdir.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 0x01a2506900000001 and 0x01a2506900000002 as ids with a random tail. */
#define ID_A "act_01a2506900000001aaaaaaaaaaaa"
#define ID_A_OTHER_TAIL "act_01a2506900000001bbbbbbbbbbbb"
#define ID_B "act_01a2506900000002cccccccccccc"
#define KEY_B 0x01a2506900000002LL
/* An id as the gateway made them before keys: time, then 16 random hex digits. */
#define ID_OLD "act_01a2506800001f3c9e7d5b3a1c2e"

static void put(cs_store *s, const char *id, const char *status, const char *doc, int want)
{
    cs_action_row row = {id, status, "Agent::\"bot\"", NULL, 0, 1, doc};
    assert_int_equal(s->ops->begin(s), 0);
    int rc = s->ops->action_put(s, &row);
    assert_int_equal(rc, want);
    if (rc == 0)
        assert_int_equal(s->ops->commit(s), 0);
    else
        assert_int_equal(s->ops->rollback(s), 0);
}

/* The stored document of id (on the writer's connection and on a reader), or NULL. */
static char *get(cs_store *s, const char *id)
{
    char *w = NULL, *r = NULL;
    int rw = s->ops->action_get(s, 1, id, &w);
    int rr = s->ops->action_get(s, 0, id, &r);
    assert_int_equal(rw, rr);
    if (rw == CS_ENOTFOUND) return NULL;
    assert_int_equal(rw, 0);
    assert_string_equal(w, r);
    free(r);
    return w;
}

static void expect_doc(cs_store *s, const char *id, const char *doc)
{
    char *got = get(s, id);
    if (doc == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, doc);
    free(got);
}

/* The ids of the stored actions, newest first, as "id,id,". */
static void list_ids(cs_store *s, char *out, size_t n)
{
    cs_list_query q = {.limit = 10};
    json_t *docs = NULL;
    long long next = -1;
    assert_int_equal(s->ops->action_list(s, &q, &docs, &next), 0);
    out[0] = '\0';
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
        snprintf(out + strlen(out), n - strlen(out), "%s,", json_string_value(json_object_get(d, "id")));
    json_decref(docs);
}

static long long scalar(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_key_from_id(void **state)
{
    (void)state;
    assert_int_equal(cs_action_id_key(ID_B), KEY_B);
    assert_int_equal(cs_action_id_key("act_x"), 0);
    assert_int_equal(cs_action_id_key("act_01a250690000000"), 0); /* one digit short */
    assert_int_equal(cs_action_id_key("act_01A2506900000002cccccccccccc"), 0); /* upper case */
    assert_int_equal(cs_action_id_key("tok_01a2506900000002cccccccccccc"), 0);
    assert_int_equal(cs_action_id_key("act_0000000000000000cccccccccccc"), 0);
    assert_int_equal(cs_action_id_key("act_8000000000000000cccccccccccc"), 0); /* past INT64_MAX */
    assert_int_equal(cs_action_id_key(NULL), 0);
}

static void test_keyed_database(void **state)
{
    (void)state;
    char path[128], ids[512];
    snprintf(path, sizeof path, "%s/keyed.db", dir);
    cs_store *s = NULL;
    cs_err err = {0};
    assert_int_equal(cs_store_open("sqlite", path, &s, &err), 0);
    long long last = -1;
    assert_int_equal(s->ops->action_last_key(s, &last), 0);
    assert_int_equal(last, 0);

    put(s, ID_B, "pending", "{\"id\":\"" ID_B "\",\"v\":1}", 0);
    put(s, ID_A, "allowed", "{\"id\":\"" ID_A "\"}", 0);
    expect_doc(s, ID_B, "{\"id\":\"" ID_B "\",\"v\":1}");
    expect_doc(s, ID_A, "{\"id\":\"" ID_A "\"}");
    /* The key alone finds nothing: the whole id must match. */
    expect_doc(s, ID_A_OTHER_TAIL, NULL);
    expect_doc(s, "act_x", NULL);
    expect_doc(s, "", NULL);

    /* An update of the same id replaces the document. */
    put(s, ID_B, "approved", "{\"id\":\"" ID_B "\",\"v\":2}", 0);
    expect_doc(s, ID_B, "{\"id\":\"" ID_B "\",\"v\":2}");
    /* Another id with a taken key is refused, and the row is left as it was. */
    put(s, ID_A_OTHER_TAIL, "allowed", "{\"id\":\"" ID_A_OTHER_TAIL "\"}", CS_ECONFLICT);
    expect_doc(s, ID_A, "{\"id\":\"" ID_A "\"}");
    /* An id that carries no key cannot be stored. */
    put(s, "act_x", "allowed", "{}", CS_EINVAL);

    /* Listed in key order, newest first, whatever the order they were put in. */
    list_ids(s, ids, sizeof ids);
    assert_string_equal(ids, ID_B "," ID_A ",");
    assert_int_equal(s->ops->action_last_key(s, &last), 0);
    assert_int_equal(last, KEY_B);
    cs_store_close(s);

    /* No index on id: the row key is the id's. */
    assert_int_equal(scalar(path, "SELECT COUNT(*) FROM pragma_index_list('actions') WHERE origin = 'u'"), 0);
    assert_int_equal(scalar(path, "SELECT seq FROM actions WHERE id = '" ID_B "'"), KEY_B);
    assert_int_equal(scalar(path, "SELECT COUNT(*) FROM actions"), 2);
}

static void test_legacy_database(void **state)
{
    (void)state;
    char path[128], ids[512];
    snprintf(path, sizeof path, "%s/legacy.db", dir);
    /* The actions table as databases created before keyed ids have it, with a row. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE actions(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                                  " id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, requester TEXT NOT NULL,"
                                  " idem_key TEXT, expires_at INTEGER NOT NULL DEFAULT 0,"
                                  " created_at INTEGER NOT NULL, doc TEXT NOT NULL);"
                                  "INSERT INTO actions(id,status,requester,created_at,doc) VALUES('" ID_OLD
                                  "','pending','Agent::\"bot\"',1,'{\"id\":\"" ID_OLD "\",\"v\":1}');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    cs_store *s = NULL;
    cs_err err = {0};
    assert_int_equal(cs_store_open("sqlite", path, &s, &err), 0);
    long long last = -1;
    assert_int_equal(s->ops->action_last_key(s, &last), 0);
    assert_int_equal(last, 0); /* seq is not an id's key here */
    expect_doc(s, ID_OLD, "{\"id\":\"" ID_OLD "\",\"v\":1}");
    put(s, ID_OLD, "approved", "{\"id\":\"" ID_OLD "\",\"v\":2}", 0);
    expect_doc(s, ID_OLD, "{\"id\":\"" ID_OLD "\",\"v\":2}");
    /* A new id is stored as before (seq = max + 1) and found by its id. */
    put(s, ID_B, "allowed", "{\"id\":\"" ID_B "\"}", 0);
    expect_doc(s, ID_B, "{\"id\":\"" ID_B "\"}");
    expect_doc(s, ID_A_OTHER_TAIL, NULL);
    list_ids(s, ids, sizeof ids);
    assert_string_equal(ids, ID_B "," ID_OLD ",");
    cs_store_close(s);
    /* max + 1 (AUTOINCREMENT counts the upsert's attempt too), not the id's key */
    assert_in_range(scalar(path, "SELECT seq FROM actions WHERE id = '" ID_B "'"), 2, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_from_id),
        cmocka_unit_test_setup_teardown(test_keyed_database, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_database, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
