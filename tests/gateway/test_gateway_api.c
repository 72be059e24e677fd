/* test_gateway_api.c - the HTTP API of a real daemon: decisions, every SoD rule of
 * SPEC §3 with its error type and audit entry, quorum 1 and 2, deny veto, expiry,
 * cancel, idempotency, long-poll wake-up, SSE, receipts, outcomes, tokens, and bad
 * input (problem+json, no state change). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static void expect_problem(td_resp *r, long status, const char *type)
{
    if (r->status != status) fprintf(stderr, "got %ld %s\n", r->status, r->text);
    assert_int_equal(r->status, status);
    assert_non_null(strstr(r->headers, "application/problem+json"));
    assert_string_equal(td_str(r->json, "type"), type);
    /* RFC 9457: a human-readable summary, not the type again. */
    assert_non_null(td_str(r->json, "title"));
    assert_string_not_equal(td_str(r->json, "title"), type);
    td_resp_free(r);
}

static void expect_status(td *d, const char *id, const char *status)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s", id);
    td_resp r = td_req(d, "GET", path, "admin", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), status);
    td_resp_free(&r);
}

static void test_decisions(void **state)
{
    td *d = *state;
    /* The principal's owner reaches the policy as an entity attribute: demo-agent is
     * alice's; a user has no owner, so the rule errors for bob and does not permit. */
    json_t *owned = td_submit(d, "demo-agent", "test.owned", "lab/x");
    assert_string_equal(td_str(owned, "status"), "allowed");
    json_decref(owned);
    owned = td_submit(d, "bob", "test.owned", "lab/x");
    assert_string_equal(td_str(owned, "status"), "denied");
    json_decref(owned);
    json_t *a = td_submit(d, "demo-agent", "db.read", "prod/db/customers");
    assert_string_equal(td_str(a, "status"), "allowed");
    assert_non_null(json_object_get(json_object_get(a, "audit"), "index"));
    assert_int_equal(strncmp(td_str(a, "args_hash"), "sha256:", 7), 0);
    assert_string_equal(td_str(a, "requester.owner"), "alice");
    /* The entry that recorded the decision: canonical JSON with the envelope. */
    char *entry = td_audit_entry(
        d, (long)json_integer_value(json_object_get(json_object_get(a, "audit"), "index")));
    json_t *e = json_loads(entry, 0, NULL);
    assert_non_null(e);
    assert_string_equal(td_str(e, "event"), "action.submitted");
    assert_string_equal(td_str(e, "actor.kind"), "agent");
    assert_string_equal(td_str(e, "actor.name"), "demo-agent");
    assert_string_equal(td_str(e, "action_id"), td_str(a, "id"));
    assert_string_equal(td_str(e, "details.args_hash"), td_str(a, "args_hash"));
    char *again = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, entry); /* already canonical: sorted keys, no spaces */
    free(again);
    free(entry);
    json_decref(e);
    json_decref(a);
    a = td_submit(d, "demo-agent", "iam.role.update", "prod/iam/roles");
    assert_string_equal(td_str(a, "status"), "denied");
    json_decref(a);
    a = td_submit(d, "demo-agent", "shell.exec", "staging/host1"); /* no policy: default deny */
    assert_string_equal(td_str(a, "status"), "denied");
    json_decref(a);
    a = td_submit(d, "demo-agent", "db.export", "prod/db/customers");
    assert_string_equal(td_str(a, "status"), "pending");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "approval"), "quorum")),
                     2);
    assert_non_null(td_str(a, "approval.expires_at"));
    json_decref(a);
    /* Same arguments, same hash; different arguments, different hash. */
    json_t *x = td_submit(d, "demo-agent", "db.read", "prod/db/a");
    json_t *y = td_submit(d, "demo-agent", "db.read", "prod/db/a");
    json_t *z = td_submit(d, "demo-agent", "db.read", "prod/db/b");
    assert_string_equal(td_str(x, "args_hash"), td_str(y, "args_hash"));
    assert_string_not_equal(td_str(x, "args_hash"), td_str(z, "args_hash"));
    json_decref(x);
    json_decref(y);
    json_decref(z);
}

static void test_sod_rules(void **state)
{
    td *d = *state;
    /* dave: a user outside every approver group; admin2: an admin in dba who asks himself. */
    td_resp r = td_req(d, "POST", "/v1/tokens", "admin", "{\"kind\":\"user\",\"name\":\"dave\"}",
                       NULL, NULL);
    assert_int_equal(r.status, 201);
    json_object_set(d->tokens, "dave", json_object_get(r.json, "token"));
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/tokens", "admin",
               "{\"kind\":\"user\",\"name\":\"erin\",\"groups\":[\"dba\"],\"admin\":true}", NULL,
               NULL);
    assert_int_equal(r.status, 201);
    json_object_set(d->tokens, "erin", json_object_get(r.json, "token"));
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/tokens", "admin",
               "{\"kind\":\"agent\",\"name\":\"dba-bot\",\"owner\":\"dave\",\"groups\":[\"dba\"]}",
               NULL, NULL);
    assert_int_equal(r.status, 201);
    json_object_set(d->tokens, "dba-bot", json_object_get(r.json, "token"));
    td_resp_free(&r);

    json_t *a = td_submit(d, "demo-agent", "db.export", "prod/db/customers");
    const char *id = td_str(a, "id");
    r = td_vote(d, "alice", id, "approve"); /* owns demo-agent */
    expect_problem(&r, 403, "owner-approval");
    r = td_vote(d, "demo-agent", id, "approve");
    expect_problem(&r, 403, "agent-cannot-approve");
    r = td_vote(d, "dba-bot", id, "approve"); /* an agent in the approver group */
    expect_problem(&r, 403, "agent-cannot-approve");
    r = td_vote(d, "dave", id, "approve");
    expect_problem(&r, 403, "not-in-approver-group");
    r = td_vote(d, "bob", id, "approve");
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "pending");
    td_resp_free(&r);
    r = td_vote(d, "bob", id, "approve");
    expect_problem(&r, 409, "duplicate-vote");
    r = td_vote(d, "carol", id, "approve");
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "approved");
    td_resp_free(&r);
    r = td_vote(d, "erin", id, "approve");
    expect_problem(&r, 409, "not-pending");
    /* Every refusal is an audit entry (rule 8). */
    assert_int_equal(td_audit_count(d, "action.vote_refused", id), 6);
    assert_int_equal(td_audit_count(d, "action.vote", id), 2);
    assert_int_equal(td_audit_count(d, "action.approved", id), 1);
    json_decref(a);

    /* Self-approval: erin (admin, dba) requests, then votes. */
    a = td_submit(d, "erin", "db.export", "prod/db/orders");
    assert_string_equal(td_str(a, "status"), "pending");
    r = td_vote(d, "erin", td_str(a, "id"), "approve");
    expect_problem(&r, 403, "self-approval");
    json_decref(a);
    /* On behalf of: an agent asks on bob's behalf; bob may not vote. */
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.export\",\"resource\":\"prod/db/x\",\"on_behalf_of\":\"bob\"}",
               NULL, NULL);
    assert_int_equal(r.status, 201);
    char oid[80];
    snprintf(oid, sizeof oid, "%s", td_str(r.json, "id"));
    td_resp_free(&r);
    r = td_vote(d, "bob", oid, "approve");
    expect_problem(&r, 403, "self-approval");
    r = td_vote(d, "bob", oid, "deny"); /* the rules hold for deny votes too */
    expect_problem(&r, 403, "self-approval");
    expect_status(d, oid, "pending");

    /* An agent's name re-issued to a person (a token for an existing name replaces
     * it, whatever its kind) is still the requester of what the agent asked. */
    r = td_req(d, "POST", "/v1/actions", "dba-bot",
               "{\"action\":\"db.export\",\"resource\":\"prod/db/y\"}", NULL, NULL);
    assert_int_equal(r.status, 201);
    char bid[80];
    snprintf(bid, sizeof bid, "%s", td_str(r.json, "id"));
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/tokens", "admin",
               "{\"kind\":\"user\",\"name\":\"dba-bot\",\"groups\":[\"dba\"]}", NULL, NULL);
    assert_int_equal(r.status, 201);
    json_object_set(d->tokens, "dba-bot", json_object_get(r.json, "token"));
    td_resp_free(&r);
    r = td_vote(d, "dba-bot", bid, "approve");
    expect_problem(&r, 403, "self-approval");
    expect_status(d, bid, "pending");
}

static void test_quorum_one_and_deny_veto(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "deploy.apply", "prod/web");
    assert_string_equal(td_str(a, "status"), "pending");
    td_resp r = td_vote(d, "carol", td_str(a, "id"), "approve");
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "approved");
    assert_non_null(td_str(r.json, "receipt"));
    assert_non_null(td_str(r.json, "decided_at"));
    td_resp_free(&r);
    json_decref(a);

    a = td_submit(d, "demo-agent", "db.export", "prod/db/customers");
    r = td_vote(d, "bob", td_str(a, "id"), "approve");
    td_resp_free(&r);
    r = td_vote(d, "carol", td_str(a, "id"), "deny");
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "denied");
    assert_null(json_object_get(r.json, "receipt"));
    td_resp_free(&r);
    expect_status(d, td_str(a, "id"), "denied");
    json_decref(a);
}

static void test_expiry_and_cancel(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "test.expire", "anything");
    assert_string_equal(td_str(a, "status"), "pending");
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s?wait=30", td_str(a, "id"));
    td_resp r = td_req(d, "GET", path, "demo-agent", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "expired");
    td_resp_free(&r);
    r = td_vote(d, "bob", td_str(a, "id"), "approve");
    expect_problem(&r, 409, "not-pending");
    assert_int_equal(td_audit_count(d, "action.expired", td_str(a, "id")), 1);
    json_decref(a);

    a = td_submit(d, "demo-agent", "db.export", "prod/db/customers");
    const char *id = td_str(a, "id");
    r = td_vote(d, "bob", id, "cancel"); /* not the requester */
    expect_problem(&r, 403, "not-requester");
    r = td_vote(d, "demo-agent", id, "cancel");
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "cancelled");
    td_resp_free(&r);
    r = td_vote(d, "demo-agent", id, "cancel");
    expect_problem(&r, 409, "not-pending");
    r = td_vote(d, "bob", id, "approve");
    expect_problem(&r, 409, "not-pending");
    assert_int_equal(td_audit_count(d, "action.refused", id), 2); /* bob's cancel, the second cancel */
    json_decref(a);
}

static void test_idempotency(void **state)
{
    td *d = *state;
    const char *body = "{\"action\":\"db.export\",\"resource\":\"prod/db/customers\"}";
    td_resp r1 = td_req(d, "POST", "/v1/actions", "demo-agent", body, NULL, "Idempotency-Key: k-1");
    td_resp r2 = td_req(d, "POST", "/v1/actions", "demo-agent", body, NULL, "Idempotency-Key: k-1");
    assert_int_equal(r1.status, 201);
    assert_int_equal(r2.status, 201);
    assert_string_equal(td_str(r1.json, "id"), td_str(r2.json, "id"));
    assert_non_null(strcasestr(r2.headers, "Idempotent-Replayed: true"));
    assert_int_equal(td_audit_count(d, "action.submitted", td_str(r1.json, "id")), 1);
    /* Another principal's key space is separate. */
    td_resp r3 = td_req(d, "POST", "/v1/actions", "bob", body, NULL, "Idempotency-Key: k-1");
    assert_int_equal(r3.status, 201);
    assert_string_not_equal(td_str(r1.json, "id"), td_str(r3.json, "id"));
    /* Same key, different request. */
    td_resp r4 = td_req(d, "POST", "/v1/actions", "demo-agent",
                        "{\"action\":\"db.export\",\"resource\":\"prod/db/other\"}", NULL,
                        "Idempotency-Key: k-1");
    expect_problem(&r4, 422, "idempotency-key-reused");
    td_resp_free(&r1);
    td_resp_free(&r2);
    td_resp_free(&r3);
}

/* An action the policy decides at once is prepared as its texts only (action_text.c):
 * its replay is matched by args_hash like any other, the stored document is the one
 * the submit answered with, and its audit entry names it. */
static void test_idempotency_decided_at_once(void **state)
{
    td *d = *state;
    const char *body = "{\"action\":\"db.read\",\"resource\":\"prod/db/customers\","
                       "\"context\":{\"rows\":3,\"tags\":[\"a\",\"\u00e9\"]}}";
    td_resp r1 = td_req(d, "POST", "/v1/actions", "demo-agent", body, NULL, "Idempotency-Key: ro-1");
    td_resp r2 = td_req(d, "POST", "/v1/actions", "demo-agent", body, NULL, "Idempotency-Key: ro-1");
    assert_int_equal(r1.status, 201);
    assert_string_equal(td_str(r1.json, "status"), "allowed");
    assert_int_equal(r2.status, 201);
    assert_string_equal(td_str(r1.json, "id"), td_str(r2.json, "id"));
    assert_non_null(strcasestr(r2.headers, "Idempotent-Replayed: true"));
    assert_true(json_equal(r1.json, r2.json));
    assert_int_equal(td_audit_count(d, "action.submitted", td_str(r1.json, "id")), 1);
    char path[200];
    snprintf(path, sizeof path, "/v1/actions/%s", td_str(r1.json, "id"));
    td_resp g = td_req(d, "GET", path, "demo-agent", NULL, NULL, NULL);
    assert_int_equal(g.status, 200);
    assert_true(json_equal(r1.json, g.json));
    /* The same key with another request: the stored args_hash differs. */
    td_resp r3 = td_req(d, "POST", "/v1/actions", "demo-agent",
                        "{\"action\":\"db.read\",\"resource\":\"prod/db/customers\"}", NULL,
                        "Idempotency-Key: ro-1");
    expect_problem(&r3, 422, "idempotency-key-reused");
    td_resp_free(&r1);
    td_resp_free(&r2);
    td_resp_free(&g);
}

/* An encoded NUL in the path or the query would end the text the routes see there:
 * "/v1/actions/ID%00x" named ID, "?status=pending%00x" filtered on pending. Such a
 * request is refused, and the next one on the connection is served as usual. */
static void test_encoded_nul_in_url(void **state)
{
    td *d = *state;
    td_resp a = td_req(d, "POST", "/v1/actions", "demo-agent",
                       "{\"action\":\"db.export\",\"resource\":\"prod/db/customers\"}", NULL,
                       NULL);
    assert_int_equal(a.status, 201);
    char path[200];
    snprintf(path, sizeof path, "/v1/actions/%s%%00x", td_str(a.json, "id"));
    td_resp r = td_req(d, "GET", path, "bob", NULL, NULL, NULL);
    expect_problem(&r, 400, "invalid-url");
    snprintf(path, sizeof path, "/v1/actions/%s%%00/approve", td_str(a.json, "id"));
    r = td_req(d, "POST", path, "bob", "{}", NULL, NULL);
    expect_problem(&r, 400, "invalid-url");
    r = td_req(d, "GET", "/v1/actions?status=pending%00x", "bob", NULL, NULL, NULL);
    expect_problem(&r, 400, "invalid-url");
    r = td_req(d, "GET", "/v1/actions?x%00=1", "bob", NULL, NULL, NULL);
    expect_problem(&r, 400, "invalid-url");
    /* Other escapes decode as before, and nothing was voted. */
    snprintf(path, sizeof path, "/v1/actions/%s?wait=%%30", td_str(a.json, "id"));
    r = td_req(d, "GET", path, "bob", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "status"), "pending");
    assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "approval"), "votes")), 0);
    td_resp_free(&r);
    td_resp_free(&a);
}

/* A 405 names the methods the resource takes (RFC 9110 §15.5.6: Allow is required). */
static void test_method_not_allowed(void **state)
{
    td *d = *state;
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"DELETE", "/v1/actions", "Allow: GET, HEAD, POST"},
        {"POST", "/v1/actions/act_x", "Allow: GET, HEAD"},
        {"PUT", "/v1/actions/act_x/events", "Allow: GET"},
        {"GET", "/v1/actions/act_x/approve", "Allow: POST"},
        {"GET", "/v1/tokens", "Allow: POST"},
        {"GET", "/v1/tokens/bob", "Allow: DELETE"},
        {"DELETE", "/v1/freeze", "Allow: GET, HEAD, POST"},
        {"POST", "/v1/whoami", "Allow: GET, HEAD"},
        {"POST", "/healthz", "Allow: GET, HEAD"},
        {"DELETE", "/metrics", "Allow: GET, HEAD"},
        {"GET", "/v1/unfreeze", "Allow: POST"},
        {"POST", "/v1/audit/checkpoint", "Allow: GET, HEAD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        td_resp r = td_req(d, cases[i].method, cases[i].path, "admin", NULL, NULL, NULL);
        if (strcasestr(r.headers, cases[i].allow) == NULL)
            fprintf(stderr, "%s %s: %s\n", cases[i].method, cases[i].path, r.headers);
        assert_non_null(strcasestr(r.headers, cases[i].allow));
        expect_problem(&r, 405, "method-not-allowed");
    }
}

/* RFC 9110 §9.3.2: every resource that answers GET answers HEAD with the same status
 * and fields, Content-Length included, and no content. */
static void test_head_on_reads(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "db.read", "prod/db/orders");
    char one[200];
    snprintf(one, sizeof one, "/v1/actions/%s", td_str(a, "id"));
    const char *paths[] = {one, "/v1/actions?limit=2", "/v1/whoami", "/v1/freeze", "/healthz", "/v1/audit/checkpoint"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        td_resp g = td_req(d, "GET", paths[i], "admin", NULL, NULL, NULL);
        td_resp h = td_req(d, "HEAD", paths[i], "admin", NULL, NULL, NULL);
        assert_int_equal(g.status, 200);
        assert_int_equal(h.status, 200);
        assert_string_equal(h.text, "");
        char want[64];
        snprintf(want, sizeof want, "Content-Length: %zu\r\n", strlen(g.text));
        if (strcasestr(h.headers, want) == NULL) fprintf(stderr, "HEAD %s: %s (GET gave %s)\n", paths[i], h.headers, want);
        assert_non_null(strcasestr(h.headers, want));
        td_resp_free(&g);
        td_resp_free(&h);
    }
    /* /metrics takes no token; its figures move between two calls, so only the status. */
    td_resp h = td_req(d, "HEAD", "/metrics", NULL, NULL, NULL, NULL);
    assert_int_equal(h.status, 200);
    assert_string_equal(h.text, "");
    td_resp_free(&h);
    json_decref(a);
}

typedef struct bg {
    td *d;
    char path[200];
    const char *who;
    td_resp r;
} bg;

static void *bg_get(void *arg)
{
    bg *b = arg;
    b->r = td_req(b->d, "GET", b->path, b->who, NULL, NULL, NULL);
    return NULL;
}

/* A sample of /metrics: the value on the line that starts with `line` (name and
 * labels, then a space); -1 when there is none. */
static long metric(td *d, const char *line)
{
    td_resp r = td_req(d, "GET", "/metrics", NULL, NULL, NULL, NULL);
    char want[128];
    snprintf(want, sizeof want, "\n%s ", line);
    const char *p = strstr(r.text, want);
    long n = p ? strtol(p + strlen(want), NULL, 10) : -1;
    td_resp_free(&r);
    return n;
}

static long waiters(td *d)
{
    return metric(d, "countersign_waiters");
}

static void test_longpoll_wakeup(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "deploy.apply", "prod/api");
    bg b = {.d = d, .who = "demo-agent"};
    /* wait=300: if the approval did not wake the poll, the request would hit the
     * client's 120 s timeout and the test would fail on the status. */
    snprintf(b.path, sizeof b.path, "/v1/actions/%s?wait=300", td_str(a, "id"));
    pthread_t t;
    pthread_create(&t, NULL, bg_get, &b);
    while (waiters(d) < 1)
        usleep(5000);
    td_resp r = td_vote(d, "bob", td_str(a, "id"), "approve");
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    pthread_join(t, NULL);
    assert_int_equal(b.r.status, 200);
    assert_string_equal(td_str(b.r.json, "status"), "approved");
    td_resp_free(&b.r);
    /* wait out of range */
    snprintf(b.path, sizeof b.path, "/v1/actions/%s?wait=301", td_str(a, "id"));
    r = td_req(d, "GET", b.path, "demo-agent", NULL, NULL, NULL);
    expect_problem(&r, 400, "invalid-parameter");
    json_decref(a);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* A client that opens a new connection for each request on a quiet gateway has its
 * decisions committed on the HTTP thread that read them, without the two hand-offs
 * to the writer thread and back; /metrics tells where commits ran. Each request has
 * a connection of its own, kept open to the end, so that no two share the server's
 * connection object (a closed one's memory may come back for the next). */
static void test_lone_requests_commit_inline(void **state)
{
    td *d = *state;
    const char *http = "countersign_commits_total{thread=\"http\"}";
    long inline_before = metric(d, http);
    long ops_before = metric(d, "countersign_committed_ops_total");
    assert_true(inline_before >= 0 && ops_before >= 0);
    char url[128], auth[512];
    snprintf(url, sizeof url, "%s/v1/actions", d->url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", td_token(d, "demo-agent"));
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    CURL *conns[10];
    for (int i = 0; i < 10; i++) {
        usleep(10000); /* quiet: nothing else for the HTTP threads to serve */
        conns[i] = curl_easy_init();
        curl_easy_setopt(conns[i], CURLOPT_URL, url);
        curl_easy_setopt(conns[i], CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(conns[i], CURLOPT_POSTFIELDS,
                         "{\"action\":\"db.read\",\"resource\":\"prod/db/customers\"}");
        curl_easy_setopt(conns[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(conns[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(conns[i], CURLOPT_TIMEOUT, 60L);
        long status = 0;
        assert_int_equal(curl_easy_perform(conns[i]), CURLE_OK);
        curl_easy_getinfo(conns[i], CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 201);
    }
    assert_true(metric(d, "countersign_committed_ops_total") - ops_before >= 10);
    /* All ten by the rules; two spare for a scheduler hiccup on a loaded CI machine. */
    assert_true(metric(d, http) - inline_before >= 8);
    for (int i = 0; i < 10; i++)
        curl_easy_cleanup(conns[i]);
    curl_slist_free_all(h);
}

static void test_sse(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "db.export", "prod/db/customers");
    bg b = {.d = d, .who = "demo-agent"};
    snprintf(b.path, sizeof b.path, "/v1/actions/%s/events", td_str(a, "id"));
    pthread_t t;
    pthread_create(&t, NULL, bg_get, &b);
    while (waiters(d) < 1)
        usleep(5000);
    td_resp r = td_vote(d, "bob", td_str(a, "id"), "approve");
    td_resp_free(&r);
    r = td_vote(d, "carol", td_str(a, "id"), "approve");
    td_resp_free(&r);
    pthread_join(t, NULL); /* the stream ends after the final status */
    assert_int_equal(b.r.status, 200);
    assert_non_null(strstr(b.r.headers, "text/event-stream"));
    const char *p1 = strstr(b.r.text, "\"status\":\"pending\"");
    const char *p2 = strstr(b.r.text, "\"status\":\"approved\"");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_true(p1 < p2);
    assert_non_null(strstr(b.r.text, "event: status\ndata: {"));
    td_resp_free(&b.r);
    json_decref(a);
}

static void test_receipts(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "deploy.apply", "prod/web");
    td_resp r = td_vote(d, "bob", td_str(a, "id"), "approve");
    char body[4096];
    snprintf(body, sizeof body, "{\"receipt\":\"%s\"}", td_str(r.json, "receipt"));
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/receipts/verify", "demo-agent", body, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "valid")));
    assert_string_equal(td_str(r.json, "action_id"), td_str(a, "id"));
    assert_string_equal(td_str(r.json, "args_hash"), td_str(a, "args_hash"));
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/receipts/consume", "demo-agent", body, NULL, NULL);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/receipts/consume", "demo-agent", body, NULL, NULL);
    expect_problem(&r, 409, "receipt-consumed");
    r = td_req(d, "POST", "/v1/receipts/verify", "demo-agent", body, NULL, NULL);
    assert_true(json_is_true(json_object_get(r.json, "consumed")));
    td_resp_free(&r);
    /* A forged receipt: flip one character of the signature. */
    char *dot = strrchr(body, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    r = td_req(d, "POST", "/v1/receipts/verify", "demo-agent", body, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(json_object_get(r.json, "valid")));
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/receipts/consume", "demo-agent", body, NULL, NULL);
    expect_problem(&r, 400, "invalid-receipt");
    json_decref(a);
    /* Allowed actions get one on request only. */
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"prod/db/a\",\"receipt\":true}", NULL, NULL);
    assert_non_null(td_str(r.json, "receipt"));
    td_resp_free(&r);
    a = td_submit(d, "demo-agent", "db.read", "prod/db/a");
    assert_null(json_object_get(a, "receipt"));
    json_decref(a);
}

static void test_outcome(void **state)
{
    td *d = *state;
    json_t *a = td_submit(d, "demo-agent", "db.read", "prod/db/a");
    char path[160];
    snprintf(path, sizeof path, "/v1/actions/%s/outcome", td_str(a, "id"));
    td_resp r = td_req(d, "POST", path, "demo-agent", "{\"status\":\"succeeded\",\"exit_code\":0}",
                       NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "outcome.status"), "succeeded");
    td_resp_free(&r);
    r = td_req(d, "POST", path, "demo-agent", "{\"status\":\"failed\"}", NULL, NULL);
    expect_problem(&r, 409, "outcome-exists");
    r = td_req(d, "POST", path, "demo-agent", "{\"status\":\"maybe\"}", NULL, NULL);
    expect_problem(&r, 400, "invalid-field");
    json_decref(a);
}

static void test_tokens(void **state)
{
    td *d = *state;
    td_resp r = td_req(d, "POST", "/v1/tokens", "bob", "{\"kind\":\"user\",\"name\":\"mallory\"}",
                       NULL, NULL);
    expect_problem(&r, 403, "not-admin");
    r = td_req(d, "POST", "/v1/tokens", "admin", "{\"kind\":\"agent\",\"name\":\"bot\"}", NULL,
               NULL);
    expect_problem(&r, 400, "invalid-field");
    /* At most 256 groups: 256 are taken, 257 are refused naming the field. */
    char many[4096] = "{\"kind\":\"user\",\"name\":\"grace\",\"groups\":[\"g0\"";
    for (int i = 1; i < 257; i++) snprintf(many + strlen(many), sizeof many - strlen(many), ",\"g%d\"", i);
    strcat(many, "]}");
    r = td_req(d, "POST", "/v1/tokens", "admin", many, NULL, NULL);
    assert_string_equal(td_str(r.json, "field"), "groups");
    expect_problem(&r, 400, "invalid-field");
    r = td_req(d, "GET", "/v1/whoami", "grace", NULL, NULL, NULL);
    assert_int_equal(r.status, 401); /* nothing was created */
    td_resp_free(&r);
    strcpy(strstr(many, ",\"g256\""), "]}");
    r = td_req(d, "POST", "/v1/tokens", "admin", many, NULL, NULL);
    assert_int_equal(r.status, 201);
    td_resp_free(&r);
    r = td_req(d, "POST", "/v1/tokens", "admin",
               "{\"kind\":\"user\",\"name\":\"frank\",\"groups\":[\"ops\"]}", NULL, NULL);
    assert_int_equal(r.status, 201);
    json_object_set(d->tokens, "frank", json_object_get(r.json, "token"));
    td_resp_free(&r);
    r = td_req(d, "GET", "/v1/whoami", "frank", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(td_str(r.json, "name"), "frank");
    td_resp_free(&r);
    r = td_req(d, "DELETE", "/v1/tokens/frank", "admin", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
    r = td_req(d, "GET", "/v1/whoami", "frank", NULL, NULL, NULL);
    expect_problem(&r, 401, "unauthenticated");
    r = td_req(d, "DELETE", "/v1/tokens/nobody", "admin", NULL, NULL, NULL);
    expect_problem(&r, 404, "not-found");
    assert_int_equal(td_audit_count(d, "token.revoked", NULL), 1);
    /* An agent's owner is a user who holds a token: a misspelt owner ("alcie"), an
     * agent, or a user whose token was revoked would leave the real owner free to
     * approve the agent's requests. */
    long created = td_audit_count(d, "token.created", NULL);
    static const char *const owners[] = {"alcie", "demo-agent", "frank"};
    for (size_t i = 0; i < sizeof owners / sizeof owners[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"kind\":\"agent\",\"name\":\"bot\",\"owner\":\"%s\"}",
                 owners[i]);
        r = td_req(d, "POST", "/v1/tokens", "admin", body, NULL, NULL);
        assert_string_equal(td_str(r.json, "field"), "owner");
        expect_problem(&r, 422, "unknown-owner");
    }
    assert_int_equal(td_audit_count(d, "token.created", NULL), created);
    r = td_req(d, "POST", "/v1/tokens", "admin",
               "{\"kind\":\"agent\",\"name\":\"bot\",\"owner\":\"alice\"}", NULL, NULL);
    assert_int_equal(r.status, 201);
    td_resp_free(&r);
}

static long count_actions(td *d)
{
    td_resp r = td_req(d, "GET", "/v1/actions?limit=500", "admin", NULL, NULL, NULL);
    long n = (long)json_array_size(json_object_get(r.json, "items"));
    td_resp_free(&r);
    return n;
}

/* POST /v1/actions as demo-agent with a context holding an n-byte string. */
static td_resp post_big_context(td *d, size_t n)
{
    char *big = malloc(n + 200);
    int k =
        snprintf(big, 200, "{\"action\":\"db.read\",\"resource\":\"a\",\"context\":{\"blob\":\"");
    memset(big + k, 'x', n);
    strcpy(big + k + n, "\"}}");
    td_resp r = td_req(d, "POST", "/v1/actions", "demo-agent", big, NULL, NULL);
    free(big);
    return r;
}

/* A body of n spaces sent with Transfer-Encoding: chunked (no length up front),
 * through the shared request helper. */
static td_resp post_chunked(td *d, size_t n)
{
    char *body = malloc(n + 1);
    memset(body, ' ', n); /* whitespace: the JSON never gets parsed anyway */
    body[n] = '\0';
    td_resp r = td_req(d, "POST", "/v1/actions", "demo-agent", body, NULL,
                       "Transfer-Encoding: chunked");
    free(body);
    return r;
}

/* Sends raw bytes on a new connection to the daemon and returns everything it
 * answers until it closes the connection (or 5 s pass); caller frees. For
 * requests libcurl will not send as they are. */
static char *raw_exchange(td *d, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)d->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    size_t cap = 65536, n = 0;
    char *out = malloc(cap + 1);
    ssize_t k;
    while (n < cap && (k = recv(fd, out + n, cap - n, 0)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(fd);
    return out;
}

/* Two Content-Length fields that disagree: a proxy in front could have cut the body
 * by the other one and sent the rest as a request of its own (request smuggling).
 * Refused with 400, the connection closed, and the tail is never served. */
static void expect_framing_refused(td *d, const char *lengths)
{
    const char *body = "{\"action\":\"db.read\",\"resource\":\"prod/db/customers\"}";
    char req[1024];
    snprintf(req, sizeof req,
             "POST /v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\n%s\r\n%s"
             "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
             td_token(d, "demo-agent"), lengths, body, td_token(d, "demo-agent"));
    char *out = raw_exchange(d, req);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    assert_non_null(strstr(out, "\"invalid-header\""));
    assert_non_null(strstr(out, "Connection: close"));
    assert_null(strstr(out + 13, "HTTP/1.1 ")); /* one answer: the tail was not served */
    free(out);
}

static void test_bad_input(void **state)
{
    td *d = *state;
    long before = count_actions(d);
    td_resp r = td_req(d, "POST", "/v1/actions", "demo-agent", "{\"action\":", NULL, NULL);
    expect_problem(&r, 400, "malformed-json");
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"a\xff\"}", NULL, NULL);
    expect_problem(&r, 400, "malformed-json");
    r = td_req(d, "POST", "/v1/actions", "demo-agent", "{\"action\":\"db.read\"}", NULL, NULL);
    assert_string_equal(td_str(r.json, "field"), "resource");
    expect_problem(&r, 400, "missing-field");
    r = td_req(d, "POST", "/v1/actions", "demo-agent", "{\"action\":1,\"resource\":\"a\"}", NULL,
               NULL);
    assert_string_equal(td_str(r.json, "field"), "action");
    expect_problem(&r, 400, "invalid-field");
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"a\",\"x\":1}", NULL, NULL);
    assert_string_equal(td_str(r.json, "field"), "x");
    expect_problem(&r, 400, "unknown-field");
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"a\",\"context\":[]}", NULL, NULL);
    expect_problem(&r, 400, "invalid-field");
    r = td_req(d, "POST", "/v1/actions", "demo-agent", "[1,2]", NULL, NULL);
    expect_problem(&r, 400, "invalid-body");
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"a\"}", "text/plain", NULL);
    expect_problem(&r, 415, "unsupported-media-type");
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"DB READ\",\"resource\":\"a\"}", NULL, NULL);
    expect_problem(&r, 400, "invalid-field");
    /* Resources that are not plain slash paths: "prod/../secret" would sit under
     * "prod" for the policy. Names that merely hold dots are fine. */
    static const char *const bad_resources[] = {"prod/../secret", "..", "prod/.", "./prod",
                                                "prod//db", "/prod", "prod/"};
    for (size_t i = 0; i < sizeof bad_resources / sizeof bad_resources[0]; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"action\":\"db.read\",\"resource\":\"%s\"}", bad_resources[i]);
        r = td_req(d, "POST", "/v1/actions", "demo-agent", body, NULL, NULL);
        assert_string_equal(td_str(r.json, "field"), "resource");
        expect_problem(&r, 400, "invalid-field");
    }
    /* Context over 64 KiB (body under 1 MiB) and a body over 1 MiB. */
    r = post_big_context(d, 70 * 1024);
    assert_string_equal(td_str(r.json, "field"), "context");
    expect_problem(&r, 413, "context-too-large");
    /* A context Cedar cannot hold (a float, a bad extension value) is the client's
     * mistake: 400 naming the field, not a server error. */
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"a\",\"context\":{\"rows\":1.5}}", NULL,
               NULL);
    assert_string_equal(td_str(r.json, "field"), "context");
    expect_problem(&r, 400, "invalid-context");
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"a\",\"context\":{\"ip\":{\"__extn\":"
               "{\"fn\":\"ip\",\"arg\":\"nope\"}}}}",
               NULL, NULL);
    expect_problem(&r, 400, "invalid-context");
    /* Over 1 MiB: the body is read to its end before the 413, so the client always
     * gets the answer instead of a reset connection (this once failed in CI). */
    for (int i = 0; i < 5; i++) {
        r = post_big_context(d, 1100 * 1024);
        expect_problem(&r, 413, "payload-too-large");
    }
    r = post_chunked(d, 3 * 1024 * 1024);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.text, "payload-too-large"));
    td_resp_free(&r);
    /* A chunked body that never ends is cut off past the drain cap (16 MiB). */
    r = post_chunked(d, 40u * 1024 * 1024);
    assert_int_equal(r.status, 0);
    td_resp_free(&r);
    r = td_req(d, "GET", "/v1/actions/act_nope", "demo-agent", NULL, NULL, NULL);
    expect_problem(&r, 404, "not-found");
    r = td_vote(d, "bob", "act_nope", "approve");
    expect_problem(&r, 404, "not-found");
    r = td_req(d, "GET", "/v1/actions", "not-a-token", NULL, NULL, NULL);
    expect_problem(&r, 401, "unauthenticated");
    r = td_req(d, "GET", "/v1/actions", NULL, NULL, NULL, NULL);
    expect_problem(&r, 401, "unauthenticated");
    /* Two Authorization headers: neither identity is used (here bob's would have
     * been read first), on the API and on the audit routes alike. */
    char second[300];
    snprintf(second, sizeof second, "Authorization: Bearer %s",
             json_string_value(json_object_get(d->tokens, "demo-agent")));
    r = td_req(d, "GET", "/v1/whoami", "bob", NULL, NULL, second);
    expect_problem(&r, 400, "invalid-header");
    r = td_req(d, "GET", "/v1/audit/export", "bob", NULL, NULL, second);
    expect_problem(&r, 400, "invalid-header");
    r = td_req(d, "GET", "/v1/actions?limit=abc", "bob", NULL, NULL, NULL);
    expect_problem(&r, 400, "invalid-parameter");
    expect_framing_refused(d, "Content-Length: 51\r\nContent-Length: 3\r\n");
    expect_framing_refused(d, "Content-Length: 3\r\nContent-Length: 51\r\n");
    expect_framing_refused(d, "Content-Length: 51\r\ncontent-length: 51\r\n");
    r = td_req(d, "GET", "/v1/nothing", "bob", NULL, NULL, NULL);
    expect_problem(&r, 404, "not-found");
    assert_int_equal(count_actions(d), before);
    r = td_req(d, "POST", "/v1/actions", "demo-agent",
               "{\"action\":\"db.read\",\"resource\":\"prod/.../a..b/.x/y.\"}", NULL, NULL);
    assert_int_equal(r.status, 201);
    td_resp_free(&r);
    r = td_req(d, "GET", "/healthz", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    td_resp_free(&r);
}

static void test_list_pagination(void **state)
{
    td *d = *state;
    for (int i = 0; i < 5; i++)
        json_decref(td_submit(d, "demo-agent", "db.read", "prod/db/a"));
    json_decref(td_submit(d, "demo-agent", "db.export", "prod/db/a"));
    td_resp r = td_req(d, "GET", "/v1/actions?limit=2", "bob", NULL, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    char path[128];
    snprintf(path, sizeof path, "/v1/actions?limit=10&cursor=%s", td_str(r.json, "next_cursor"));
    td_resp_free(&r);
    r = td_req(d, "GET", path, "bob", NULL, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
    assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
    td_resp_free(&r);
    r = td_req(d, "GET", "/v1/actions?status=pending", "bob", NULL, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    td_resp_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        TD_TEST(test_decisions),
        TD_TEST(test_sod_rules),
        TD_TEST(test_quorum_one_and_deny_veto),
        TD_TEST(test_expiry_and_cancel),
        TD_TEST(test_idempotency),
        TD_TEST(test_idempotency_decided_at_once),
        TD_TEST(test_longpoll_wakeup),
        TD_TEST(test_lone_requests_commit_inline),
        TD_TEST(test_sse),
        TD_TEST(test_receipts),
        TD_TEST(test_outcome),
        TD_TEST(test_tokens),
        TD_TEST(test_bad_input),
        TD_TEST(test_encoded_nul_in_url),
        TD_TEST(test_method_not_allowed),
        TD_TEST(test_head_on_reads),
        TD_TEST(test_list_pagination),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
