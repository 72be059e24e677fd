/* notify_outbox.c - the durable outbox (SPEC §4 Notifications): rows written in
 * the event's own transaction, and the delivery thread that sends them with libcurl
 * multi, exponential backoff with jitter, Retry-After, recorded attempts and a
 * dead-letter state after notify.dead_letter_after.
 *
 * Ordering and "never twice": the store only hands out the oldest pending row of
 * each (action, target), and a row stays in the in-flight set until the writer has
 * committed its result, so a Slack update is never built before the post's ts is
 * stored. The one window left is a crash between a peer's 2xx and our commit; the
 * row is then sent again after the restart (docs/notifications.md). */
#include "notify/notify_int.h"

#include "crypto/crypto.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SCAN_EVERY_MS 1000
#define BATCH_MAX 64
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define RETRY_AFTER_MAX_S 3600

struct cs_notify_call {
    cs_notify_req req;
    char method[32];
    cs_notify_call *next;
};

/* One transfer in the multi handle: an outbox row or an immediate call. */
typedef struct xfer {
    CURL *easy;
    cs_notify_req req;
    cs_buf resp;
    long long retry_after_s; /* -1 when the peer said nothing */
    int is_call;
    char method[32];
    cs_notify_msg msg;
    json_t *row; /* owns the strings msg points into */
    const cs_channel *ch;
} xfer;

/* The bookkeeping of one delivery attempt, run on the writer thread. */
typedef struct result_job {
    cs_write_job job;
    cs_notify *n;
    long long id;
    const char *state;
    int attempts;
    long long next_at;
    char *error, *ref, *action_id, *target, *event;
} result_job;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cs_notify_req_free(cs_notify_req *r)
{
    free(r->url);
    free(r->body);
    curl_slist_free_all(r->headers);
    memset(r, 0, sizeof *r);
}

/* ---- enqueue (writer thread, inside the transaction) ---- */

static char *public_json(const json_t *doc)
{
    json_t *pub = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) if (k[0] != '_') json_object_set(pub, k, v);
    char *text = json_dumps(pub, JSON_COMPACT);
    json_decref(pub);
    return text;
}

int cs_notify_enqueue(cs_notify *n, cs_store *s, const json_t *doc, long long at_ms, size_t *added)
{
    if (added) *added = 0;
    const char *event = cs_notify_event(doc);
    if (n == NULL || event == NULL || s->ops->outbox_add == NULL) return 0;
    json_t *targets = cs_notify_targets(n->cfg, doc);
    char *payload = NULL;
    int rc = 0;
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        const cs_channel *ch = cs_channel_find(json_string_value(t));
        if (ch && !ch->wants(event)) continue;
        if (payload == NULL) payload = public_json(doc);
        char *msg_id = cs_random_id("msg_", 16);
        cs_outbox_row row = {msg_id,
                             json_string_value(t),
                             json_string_value(json_object_get(doc, "id")),
                             event,
                             payload,
                             at_ms};
        rc = s->ops->outbox_add(s, &row);
        free(msg_id);
        if (rc) break;
        if (added) (*added)++;
    }
    free(payload);
    json_decref(targets);
    return rc;
}

int cs_notify_enqueue_event(cs_notify *n, cs_store *s, const char *event, const char *key,
                            const json_t *payload, const json_t *targets, long long at_ms)
{
    if (n == NULL || s->ops->outbox_add == NULL || json_array_size(targets) == 0) return 0;
    char *text = json_dumps(payload, JSON_COMPACT);
    int rc = 0;
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        const cs_channel *ch = cs_channel_find(json_string_value(t));
        if (ch == NULL || !ch->wants(event)) continue;
        char *msg_id = cs_random_id("msg_", 16);
        cs_outbox_row row = {msg_id, json_string_value(t), key, event, text, at_ms};
        rc = s->ops->outbox_add(s, &row);
        free(msg_id);
        if (rc) break;
    }
    free(text);
    return rc;
}

/* ---- in-flight set ---- */

/* Busy unless its result committed before the scan that read the row started. */
static int inflight_has(cs_notify *n, long long id, unsigned long long scan_start)
{
    for (size_t i = 0; i < n->n_inflight; i++)
        if (n->inflight[i].id == id) return n->inflight[i].done == 0 || n->inflight[i].done > scan_start;
    return 0;
}

static void inflight_add(cs_notify *n, long long id)
{
    for (size_t i = 0; i < n->n_inflight; i++)
        if (n->inflight[i].id == id) {
            n->inflight[i].done = 0;
            return;
        }
    n->inflight = cs_grow(n->inflight, &n->cap_inflight, n->n_inflight + 1, sizeof *n->inflight);
    n->inflight[n->n_inflight++] = (struct cs_inflight){id, 0};
}

/* The row's result is committed: remember when, so scans older than that skip it. */
static void inflight_done(cs_notify *n, long long id)
{
    pthread_mutex_lock(&n->lock);
    n->done_seq++;
    for (size_t i = 0; i < n->n_inflight; i++)
        if (n->inflight[i].id == id) {
            n->inflight[i].done = n->done_seq;
            break;
        }
    pthread_mutex_unlock(&n->lock);
}

/* Forgets rows whose results every scan from now on will see. */
static void inflight_prune(cs_notify *n, unsigned long long scan_start)
{
    for (size_t i = 0; i < n->n_inflight;)
        if (n->inflight[i].done != 0 && n->inflight[i].done <= scan_start)
            n->inflight[i] = n->inflight[--n->n_inflight];
        else
            i++;
}

void cs_notify_kick(cs_notify *n)
{
    if (n == NULL) return;
    atomic_store(&n->kicked, 1);
    pthread_mutex_lock(&n->lock);
    if (n->multi) curl_multi_wakeup(n->multi);
    pthread_mutex_unlock(&n->lock);
}

/* ---- the bookkeeping job ---- */

static int result_apply(cs_store *s, cs_write_job *job)
{
    result_job *j = (result_job *)job;
    int rc = s->ops->outbox_set(s, j->id, j->state, j->attempts, j->next_at, j->error);
    if (rc == 0 && j->ref) rc = s->ops->notify_ref_put(s, j->action_id, j->target, j->ref);
    if (rc == 0 && !strcmp(j->state, "dead")) {
        /* A notification nobody received is worth an audit entry: it is the reason
         * an approver may never have heard of the request. */
        json_t *d = json_pack("{s:s,s:s,s:i,s:s}", "target", j->target, "event", j->event,
                              "attempts", j->attempts, "error", j->error ? j->error : "");
        cs_audit_row row = {"notification.dead", now_ms(), "System::\"countersign\"", "notify",
                            j->action_id,        d, NULL, NULL, NULL};
        rc = s->ops->audit_append(s, &row, NULL);
        json_decref(d);
    }
    return rc;
}

static void result_done(cs_write_job *job, int rc)
{
    result_job *j = (result_job *)job;
    if (rc)
        cs_error("notify: cannot record delivery of outbox row %lld: %s", j->id, cs_strerror(rc));
    inflight_done(j->n, j->id);
    cs_notify_kick(j->n);
    free(j->error);
    free(j->ref);
    free(j->action_id);
    free(j->target);
    free(j->event);
    free(j);
}

/* Exponential backoff with "equal jitter": half the delay fixed, half random. */
static long long backoff_ms(int attempts)
{
    long long d = BACKOFF_BASE_MS;
    for (int i = 1; i < attempts && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS) d = BACKOFF_MAX_MS;
    return d / 2 + (long long)randombytes_uniform((uint32_t)(d / 2 + 1));
}

static void record(cs_notify *n, xfer *x, const cs_notify_result *res, long long retry_after_s)
{
    result_job *j = cs_calloc(1, sizeof *j);
    long long now = now_ms();
    j->n = n;
    j->id = x->msg.id;
    j->attempts = x->msg.attempts + 1;
    j->action_id = cs_strdup(x->msg.action_id);
    j->target = cs_strdup(x->msg.target);
    j->event = cs_strdup(x->msg.event);
    j->ref = res->ref ? cs_strdup(res->ref) : NULL;
    j->error = res->outcome == CS_NOTIFY_OK ? NULL : cs_strdup(res->error);
    j->state = res->outcome == CS_NOTIFY_OK ? "done" : "dead";
    if (res->outcome == CS_NOTIFY_RETRY) {
        long long wait = retry_after_s >= 0 ? retry_after_s * 1000 : backoff_ms(j->attempts);
        j->next_at = now + wait;
        if (j->next_at - x->msg.created_at < n->dead_after_ms) j->state = "pending";
    }
    if (res->outcome == CS_NOTIFY_OK)
        cs_info("notify: %s %s for %s delivered (attempt %d)", x->msg.target, x->msg.event,
                x->msg.action_id, j->attempts);
    else
        cs_warn("notify: %s %s for %s: %s (attempt %d, now %s)", x->msg.target, x->msg.event,
                x->msg.action_id, res->error, j->attempts, j->state);
    j->job.apply = result_apply;
    j->job.done = result_done;
    cs_writer_submit(n->writer, &j->job);
}

/* ---- transfers ---- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    return cs_buf_append(&x->resp, p, len) == 0 ? len : 0; /* over the cap: abort */
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t len = size * nmemb;
    if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        char tmp[32];
        size_t m = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, p + 12, m);
        tmp[m] = '\0';
        char *end;
        long long v = strtoll(tmp, &end, 10);
        /* Seconds only; an HTTP-date falls back to our own backoff. */
        if (end != tmp && v >= 0) x->retry_after_s = v > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : v;
    }
    return len;
}

static void xfer_free(xfer *x)
{
    if (x == NULL) return;
    if (x->easy) curl_easy_cleanup(x->easy);
    cs_notify_req_free(&x->req);
    cs_buf_free(&x->resp);
    json_decref(x->msg.action);
    json_decref(x->row);
    free(x);
}

static void xfer_add(cs_notify *n, xfer *x)
{
    cs_buf_init(&x->resp, CS_NOTIFY_RESP_MAX);
    x->retry_after_s = -1;
    x->easy = curl_easy_init();
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->req.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req.headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->req.body ? x->req.body : "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "countersign");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_multi_add_handle(n->multi, e);
    n->active = cs_grow(n->active, &n->cap_active, n->n_active + 1, sizeof *n->active);
    n->active[n->n_active++] = x;
}

/* Turns a due row into a transfer, or records a permanent failure at once. */
static void start_row(cs_notify *n, json_t *row)
{
    xfer *x = cs_calloc(1, sizeof *x);
    x->row = json_incref(row);
    cs_notify_msg *m = &x->msg;
    m->id = json_integer_value(json_object_get(row, "id"));
    m->msg_id = json_string_value(json_object_get(row, "msg_id"));
    m->target = json_string_value(json_object_get(row, "target"));
    m->dest = strchr(m->target, ':') + 1;
    m->action_id = json_string_value(json_object_get(row, "action_id"));
    m->event = json_string_value(json_object_get(row, "event"));
    m->ref = json_string_value(json_object_get(row, "ref"));
    m->attempts = (int)json_integer_value(json_object_get(row, "attempts"));
    m->created_at = json_integer_value(json_object_get(row, "created_at"));
    m->action = json_loads(json_string_value(json_object_get(row, "payload")), 0, NULL);
    x->ch = cs_channel_find(m->target);
    cs_err err = {0};
    int rc = x->ch == NULL
                 ? cs_err_set(&err, CS_EINVAL, "unknown channel in target '%s'", m->target)
             : m->action == NULL ? cs_err_set(&err, CS_EINVAL, "unreadable payload")
                                 : x->ch->build(n, m, &x->req, &err);
    pthread_mutex_lock(&n->lock);
    inflight_add(n, m->id);
    pthread_mutex_unlock(&n->lock);
    if (rc != 0) {
        cs_notify_result res = {.outcome = CS_NOTIFY_FAIL};
        snprintf(res.error, sizeof res.error, "%.200s", err.msg);
        record(n, x, &res, -1);
        xfer_free(x);
        return;
    }
    xfer_add(n, x);
}

static void scan(cs_notify *n)
{
    json_t *rows = NULL;
    pthread_mutex_lock(&n->lock);
    unsigned long long start = n->done_seq; /* results committed before the query */
    pthread_mutex_unlock(&n->lock);
    if (n->store->ops->outbox_due(n->store, now_ms(), BATCH_MAX, &rows) != 0) {
        json_decref(rows);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        long long id = json_integer_value(json_object_get(row, "id"));
        pthread_mutex_lock(&n->lock);
        int busy = inflight_has(n, id, start);
        pthread_mutex_unlock(&n->lock);
        if (!busy) start_row(n, row);
    }
    json_decref(rows);
    pthread_mutex_lock(&n->lock);
    inflight_prune(n, start);
    pthread_mutex_unlock(&n->lock);
}

static void take_calls(cs_notify *n)
{
    pthread_mutex_lock(&n->lock);
    cs_notify_call *c = n->calls;
    n->calls = NULL;
    pthread_mutex_unlock(&n->lock);
    while (c) {
        cs_notify_call *next = c->next;
        xfer *x = cs_calloc(1, sizeof *x);
        x->is_call = 1;
        x->req = c->req;
        snprintf(x->method, sizeof x->method, "%s", c->method);
        free(c);
        xfer_add(n, x);
        c = next;
    }
}

/* Classifies a finished transfer: transport errors, 408, 429 and 5xx are worth
 * another try; other 4xx are not; 2xx goes to the channel. */
static void finished(cs_notify *n, xfer *x, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (x->is_call) {
        int ok = code == CURLE_OK && status / 100 == 2 && x->resp.data &&
                 strstr(x->resp.data, "\"ok\":true");
        if (!ok)
            cs_warn("notify: slack %s failed (%s, HTTP %ld)", x->method, curl_easy_strerror(code),
                    status);
        return;
    }
    cs_notify_result res = {.outcome = CS_NOTIFY_OK};
    if (code != CURLE_OK) {
        res.outcome = CS_NOTIFY_RETRY;
        snprintf(res.error, sizeof res.error, "transport: %s", curl_easy_strerror(code));
    } else if (status == 408 || status == 429 || status / 100 == 5) {
        res.outcome = CS_NOTIFY_RETRY;
        snprintf(res.error, sizeof res.error, "HTTP %ld", status);
    } else if (status / 100 != 2) {
        res.outcome = CS_NOTIFY_FAIL;
        snprintf(res.error, sizeof res.error, "HTTP %ld", status);
    } else if (x->ch->result) {
        x->ch->result(n, &x->msg, x->resp.data ? x->resp.data : "", &res);
    }
    record(n, x, &res, res.outcome == CS_NOTIFY_RETRY ? x->retry_after_s : -1);
    free(res.ref);
}

static void reap(cs_notify *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = m->data.result;
        curl_multi_remove_handle(n->multi, m->easy_handle);
        for (size_t i = 0; i < n->n_active; i++)
            if (n->active[i] == x) {
                n->active[i] = n->active[--n->n_active];
                break;
            }
        finished(n, x, code);
        xfer_free(x);
    }
}

static void drop_all(cs_notify *n)
{
    for (size_t i = 0; i < n->n_active; i++) {
        xfer *x = n->active[i];
        curl_multi_remove_handle(n->multi, x->easy);
        xfer_free(x); /* left pending in the store: sent after the restart */
    }
    n->n_active = 0;
}

static void *worker_main(void *arg)
{
    cs_notify *n = arg;
    long long next_scan = 0;
    pthread_setname_np(pthread_self(), "cs-notify");
    while (!atomic_load(&n->stopping)) {
        long long now = now_ms();
        if (atomic_exchange(&n->kicked, 0) || now >= next_scan) {
            scan(n);
            next_scan = now + SCAN_EVERY_MS;
        }
        take_calls(n);
        int running = 0;
        curl_multi_perform(n->multi, &running);
        reap(n);
        curl_multi_poll(n->multi, NULL, 0, 250, NULL);
    }
    drop_all(n);
    return NULL;
}

int cs_notify_start(cs_notify *n, cs_writer *writer, cs_err *err)
{
    n->writer = writer;
    if (pthread_create(&n->thread, NULL, worker_main, n) != 0)
        return cs_err_set(err, CS_EINTERNAL, "cannot start the notification thread");
    n->started = 1;
    return 0;
}

void cs_notify_stop(cs_notify *n)
{
    if (n == NULL || !n->started) return;
    atomic_store(&n->stopping, 1);
    cs_notify_kick(n);
    pthread_join(n->thread, NULL);
    n->started = 0;
}

void cs_notify_slack_call(cs_notify *n, const char *method, json_t *body)
{
    cs_notify_call *c = cs_calloc(1, sizeof *c);
    cs_err err = {0};
    snprintf(c->method, sizeof c->method, "%s", method);
    if (cs_slack_api_req(n, method, body, &c->req, &err) != 0) {
        cs_warn("notify: slack %s not sent: %s", method, err.msg);
        free(c);
        json_decref(body);
        return;
    }
    json_decref(body);
    pthread_mutex_lock(&n->lock);
    c->next = n->calls;
    n->calls = c;
    pthread_mutex_unlock(&n->lock);
    cs_notify_kick(n);
}

void cs_notify_calls_free(cs_notify *n)
{
    while (n->calls) {
        cs_notify_call *c = n->calls;
        n->calls = c->next;
        cs_notify_req_free(&c->req);
        free(c);
    }
}
