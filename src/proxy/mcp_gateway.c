/* mcp_gateway.c - the proxy's client for the countersign HTTP API (SPEC §4): calls
 * on pooled keep-alive connections (gw_conn.c for a plain http:// gateway, libcurl
 * otherwise) and a background queue for outcome reports (libcurl multi). */
#include "proxy/mcp_gateway.h"

#include "proxy/gw_conn.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLY_MAX (4 * 1024 * 1024)
#define POOL_MAX 16

/* When background reports go out (see wait_batch()): once the agent has been quiet
 * for QUIET_MS, or BATCH_MAX of them wait, and never later than DEFER_MAX_MS after
 * the oldest was queued; up to BATCH_MAX at once. At most LATER_MAX wait: a report
 * queued beyond that pushes out the oldest (see cs_mcp_gw_post_later()). */
#define QUIET_MS 5
#define DEFER_MAX_MS 200
#define BATCH_MAX 16
#define LATER_MAX 1024
/* A report the gateway could not take for a passing reason (no connection, a 5xx, a
 * 429) is sent again after 100 ms, 200 ms, 400 ms, ... (the reporter waits; new
 * reports queue meanwhile): RETRIES more times. Once stopping, the whole queue has
 * until FLUSH_MS after the stop began (sends, retries and their waits together). */
#define RETRIES 7
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS (RETRY_FIRST_MS << (RETRIES - 1))
#define FLUSH_MS 5000
#define SEND_TIMEOUT_MS 10000

typedef struct later {
    struct later *next;
    char *path;
    json_t *body;
    long long queued_ms; /* CLOCK_MONOTONIC */
} later;

struct cs_mcp_gw {
    char *url;
    char *auth;                              /* "Authorization: Bearer ..." */
    struct curl_slist *hdr_json, *hdr_plain; /* request headers with and without a body */
    pthread_mutex_t mu;
    CURL *pool[POOL_MAX];
    int npool;
    int plain;             /* calls go on gw_conn connections to target */
    cs_gw_target target;
    char *auth_line;       /* gw->auth with its CRLF, for gw_conn */
    cs_gw_conn *conns[POOL_MAX];
    int nconns;
    pthread_cond_t cv; /* a report was queued, or stopping */
    later *head, **tail;
    size_t nlater;
    int stopping;
    long long flush_end;    /* once stopping: when unsent reports are given up */
    int deciding;           /* POSTs an agent is waiting on (submit, consume) */
    long long active_ms;    /* last time a decision or a report was under way */
    pthread_cond_t idle_cv; /* a decision was acted on, or stopping (CLOCK_MONOTONIC) */
    pthread_t thread;
    CURLM *multi;           /* the reporter's, for a batch sent at once */
    CURL *batch[BATCH_MAX]; /* the reporter's handles (each keeps its connection) */
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return cs_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

static int check_abort(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    atomic_int *abort = ud;
    return abort && atomic_load(abort) ? 1 : 0;
}

/* A pooled handle keeps its connection and the options every call shares; each
 * call sets all the others (so nothing from an earlier call is left in effect). */
static CURL *new_handle(void)
{
    CURL *c = curl_easy_init();
    if (c == NULL) return NULL;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, check_abort);
    return c;
}

static CURL *take(cs_mcp_gw *gw)
{
    pthread_mutex_lock(&gw->mu);
    CURL *c = gw->npool ? gw->pool[--gw->npool] : NULL;
    pthread_mutex_unlock(&gw->mu);
    return c ? c : new_handle();
}

static void give(cs_mcp_gw *gw, CURL *c)
{
    pthread_mutex_lock(&gw->mu);
    if (gw->npool < POOL_MAX) gw->pool[gw->npool++] = c, c = NULL;
    pthread_mutex_unlock(&gw->mu);
    if (c) curl_easy_cleanup(c);
}

/* The request on a gw_conn connection from the pool: 0 with *status and out, or
 * CS_EIO with err's message set (without the gateway's name). */
static int send_plain(cs_mcp_gw *gw, const char *method, const char *path, const char *text,
                      long timeout_s, atomic_int *abort, long *status, cs_buf *out, cs_err *err)
{
    pthread_mutex_lock(&gw->mu);
    cs_gw_conn *c = gw->nconns ? gw->conns[--gw->nconns] : NULL;
    pthread_mutex_unlock(&gw->mu);
    if (c == NULL) c = cs_gw_conn_new();
    int rc = cs_gw_conn_request(c, &gw->target, method, path, gw->auth_line, text,
                                timeout_s * 1000, abort, status, out, err);
    pthread_mutex_lock(&gw->mu);
    if (gw->nconns < POOL_MAX) gw->conns[gw->nconns++] = c, c = NULL;
    pthread_mutex_unlock(&gw->mu);
    cs_gw_conn_free(c);
    return rc ? CS_EIO : 0;
}

/* The same on a pooled libcurl handle. */
static int send_curl(cs_mcp_gw *gw, const char *method, const char *path, const char *text,
                     long timeout_s, atomic_int *abort, long *status, cs_buf *out, cs_err *err)
{
    CURL *c = take(gw);
    if (c == NULL) return cs_err_set(err, CS_EIO, "cannot make a request");
    char *url = cs_sprintf("%s%s", gw->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (text || !strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "");
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, text ? gw->hdr_json : gw->hdr_plain);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, abort);
    CURLcode cr = curl_easy_perform(c);
    int rc = 0;
    if (cr != CURLE_OK)
        rc = cs_err_set(err, CS_EIO, "%s", curl_easy_strerror(cr));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    /* The handle must not keep pointers to what the caller frees. */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
    give(gw, c);
    free(url);
    return rc;
}

static int perform(cs_mcp_gw *gw, const char *method, const char *path, const json_t *body,
                   long timeout_s, atomic_int *abort, long *status, json_t **reply, cs_err *err)
{
    *reply = NULL;
    *status = 0;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cs_buf out;
    cs_buf_init_reserve(&out, REPLY_MAX, 2048);
    cs_err why = {0};
    int rc = (gw->plain ? send_plain : send_curl)(gw, method, path, text,
                                                  timeout_s > 0 ? timeout_s : 30L, abort, status,
                                                  &out, &why);
    if (rc == 0)
        *reply = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    else
        rc = cs_err_set(err, CS_EIO, "gateway %s: %s", gw->url, why.msg);
    free(text);
    cs_buf_free(&out);
    return rc;
}

/* A POST some agent is waiting on counts as deciding; background reports give way
 * to it (see wait_batch()). Long-polls do not count: they wait, they do not work. */
int cs_mcp_gw_call(cs_mcp_gw *gw, const char *method, const char *path, const json_t *body,
                   long timeout_s, atomic_int *abort, long *status, json_t **reply, cs_err *err)
{
    int counted = !strcmp(method, "POST");
    if (counted) {
        pthread_mutex_lock(&gw->mu);
        gw->deciding++;
        gw->active_ms = cs_mono_ms();
        pthread_mutex_unlock(&gw->mu);
    }
    int rc = perform(gw, method, path, body, timeout_s, abort, status, reply, err);
    if (counted) {
        pthread_mutex_lock(&gw->mu);
        gw->deciding--;
        gw->active_ms = cs_mono_ms();
        pthread_mutex_unlock(&gw->mu);
    }
    return rc;
}

static void deadline_of(long long ms, struct timespec *ts)
{
    ts->tv_sec = ms / 1000;
    ts->tv_nsec = (ms % 1000) * 1000000L;
}

void cs_mcp_gw_acted(cs_mcp_gw *gw)
{
    pthread_mutex_lock(&gw->mu);
    if (gw->nlater >= BATCH_MAX && gw->deciding == 0) pthread_cond_broadcast(&gw->idle_cv);
    pthread_mutex_unlock(&gw->mu);
}

/* Waits (mu held, a report queued) for the moment to send. Each report is a
 * durable write at the gateway and CPU work for it and for us; sent one by one,
 * each right after its call, they land in front of the agent's next submit, which
 * then waits. So reports wait while the agent is busy (a decision asked for, or
 * one or a report less than QUIET_MS ago) and go out when it is quiet (an agent
 * that is thinking), or as soon as BATCH_MAX wait and no decision is being asked
 * for (preferably just after one was acted on, cs_mcp_gw_acted()): a batch is
 * sent at once, so the gateway commits it together (about half the CPU per
 * report). DEFER_MAX_MS bounds the wait; stopping ends it (the queue is flushed).
 * Without a wake-up the condition is looked at every QUIET_MS. */
static void wait_batch(cs_mcp_gw *gw)
{
    for (;;) {
        long long now = cs_mono_ms(), oldest = gw->head->queued_ms;
        if (gw->stopping || now >= oldest + DEFER_MAX_MS) return;
        if (gw->deciding == 0 && (gw->nlater >= BATCH_MAX || now >= gw->active_ms + QUIET_MS))
            return;
        long long until = now + QUIET_MS;
        if (until > oldest + DEFER_MAX_MS) until = oldest + DEFER_MAX_MS;
        struct timespec ts;
        deadline_of(until, &ts);
        pthread_cond_timedwait(&gw->idle_cv, &gw->mu, &ts);
    }
}

/* Takes up to BATCH_MAX queued reports (in order) once it is time; 0 when stopped
 * and drained. */
static int next_batch(cs_mcp_gw *gw, later **out)
{
    int n = 0;
    pthread_mutex_lock(&gw->mu);
    while (gw->head == NULL && !gw->stopping)
        pthread_cond_wait(&gw->cv, &gw->mu);
    if (gw->head) wait_batch(gw);
    while (gw->head && n < BATCH_MAX) {
        later *l = gw->head;
        gw->head = l->next;
        if (gw->head == NULL) gw->tail = &gw->head;
        gw->nlater--;
        out[n++] = l;
    }
    pthread_mutex_unlock(&gw->mu);
    return n;
}

typedef struct sending {
    later *l;
    char *url, *text;
    cs_buf reply;
    int pending; /* to be sent (again) */
    int tries;
    int answered; /* the last send finished, with cr and status */
    CURLcode cr;
    long status;
} sending;

static void later_free(later *l)
{
    json_decref(l->body);
    free(l->path);
    free(l);
}

static void batch_add(cs_mcp_gw *gw, int i, sending *x, long timeout_ms)
{
    if (gw->batch[i] == NULL) gw->batch[i] = new_handle();
    CURL *c = gw->batch[i];
    cs_buf_free(&x->reply);
    cs_buf_init(&x->reply, REPLY_MAX);
    if (c == NULL) return;
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->text ? x->text : "{}");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, gw->hdr_json);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->reply);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_multi_add_handle(gw->multi, c);
}

static void warn_status(const sending *x)
{
    json_t *reply = json_loadb(x->reply.data ? x->reply.data : "", x->reply.len, 0, NULL);
    const char *detail = json_string_value(json_object_get(reply, "detail"));
    cs_warn("mcp-proxy: %s: HTTP %ld %s", x->l->path, x->status, detail ? detail : "");
    json_decref(reply);
}

/* 1 when the report should be sent again: the gateway was not reached or failed for
 * a passing reason. A report that did reach it earlier answers 409 (the outcome is
 * recorded), which counts as done. Refusals are logged. */
static int batch_done(CURL *c, CURLcode cr, sending *x)
{
    x->answered = 1;
    x->cr = cr;
    x->status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    if (cr != CURLE_OK || x->status >= 500 || x->status == 429) return 1;
    if (x->status >= 300 && !(x->status == 409 && x->tries > 1)) warn_status(x);
    return 0;
}

/* A pending report that is not sent again: logged with why (NULL: what its last
 * send got). */
static void give_up(sending *x, const char *why)
{
    if (why == NULL && x->answered && x->cr == CURLE_OK)
        warn_status(x);
    else
        cs_warn("mcp-proxy: %s: %s (given up)", x->l->path,
                why            ? why
                : !x->answered ? "the transfer did not finish"
                               : curl_easy_strerror(x->cr));
    x->pending = 0;
}

/* Sends the reports marked pending at once, each on a connection of its own; those
 * that should be sent again stay pending (so do those whose transfer did not
 * finish, when curl_multi_perform() fails). */
static void send_round(cs_mcp_gw *gw, sending *xs, int n, long timeout_ms)
{
    for (int i = 0; i < n; i++) {
        if (!xs[i].pending) continue;
        xs[i].tries++;
        xs[i].answered = 0;
        batch_add(gw, i, &xs[i], timeout_ms);
        if (gw->batch[i] == NULL) {
            cs_warn("mcp-proxy: %s: cannot make a request", xs[i].l->path);
            xs[i].pending = 0;
        }
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(gw->multi, &running) != CURLM_OK) break;
        if (running) curl_multi_poll(gw->multi, NULL, 0, 1000, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(gw->multi, &left)) != NULL) {
        sending *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (msg->msg == CURLMSG_DONE && x)
            x->pending = batch_done(msg->easy_handle, msg->data.result, x);
    }
    for (int i = 0; i < n; i++) {
        if (gw->batch[i] == NULL) continue;
        curl_multi_remove_handle(gw->multi, gw->batch[i]);
        curl_easy_setopt(gw->batch[i], CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(gw->batch[i], CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(gw->batch[i], CURLOPT_PRIVATE, NULL);
    }
}

/* Once stopping, when unsent reports are given up; 0 before. */
static long long flush_end(cs_mcp_gw *gw)
{
    pthread_mutex_lock(&gw->mu);
    long long end = gw->stopping ? gw->flush_end : 0;
    pthread_mutex_unlock(&gw->mu);
    return end;
}

/* Waits ms before sending again, on idle_cv so that a stop beginning meanwhile ends
 * the wait (the flush deadline then bounds what is left); never past the deadline. */
static void backoff(cs_mcp_gw *gw, long long ms)
{
    pthread_mutex_lock(&gw->mu);
    int was = gw->stopping;
    long long until = cs_mono_ms() + ms;
    if (was && until > gw->flush_end) until = gw->flush_end;
    struct timespec ts;
    deadline_of(until, &ts);
    while (gw->stopping == was && cs_mono_ms() < until)
        pthread_cond_timedwait(&gw->idle_cv, &gw->mu, &ts);
    pthread_mutex_unlock(&gw->mu);
}

static int any_pending(const sending *xs, int n)
{
    for (int i = 0; i < n; i++)
        if (xs[i].pending) return 1;
    return 0;
}

/* Sends n reports at once, and again (with backoff) those the gateway did not take
 * for a passing reason: RETRIES more times, or once stopping, while the next try
 * still fits before the flush deadline. Every pending report is given up on the
 * last round, whether or not its transfer finished, so the loop always ends. */
static void send_batch(cs_mcp_gw *gw, later **ls, int n)
{
    sending xs[BATCH_MAX];
    for (int i = 0; i < n; i++) {
        xs[i] = (sending){.l = ls[i], .pending = 1};
        xs[i].url = cs_sprintf("%s%s", gw->url, ls[i]->path);
        xs[i].text = json_dumps(ls[i]->body, JSON_COMPACT);
        cs_buf_init(&xs[i].reply, REPLY_MAX);
    }
    long long wait = RETRY_FIRST_MS;
    for (int round = 0;; round++) {
        long long end = flush_end(gw), now = cs_mono_ms();
        if (end && now >= end) {
            for (int i = 0; i < n; i++)
                if (xs[i].pending)
                    give_up(&xs[i], xs[i].tries ? NULL
                                                : "not sent: the proxy stopped and its "
                                                  "time to send queued reports ran out");
            break;
        }
        send_round(gw, xs, n,
                   end && end - now < SEND_TIMEOUT_MS ? (long)(end - now) : SEND_TIMEOUT_MS);
        if (!any_pending(xs, n)) break;
        end = flush_end(gw);
        if (end ? cs_mono_ms() + wait >= end : round >= RETRIES) {
            for (int i = 0; i < n; i++)
                if (xs[i].pending) give_up(&xs[i], NULL);
            break;
        }
        backoff(gw, wait);
        if (wait < RETRY_MAX_MS) wait *= 2;
    }
    for (int i = 0; i < n; i++) {
        later_free(xs[i].l);
        free(xs[i].url);
        free(xs[i].text);
        cs_buf_free(&xs[i].reply);
    }
}

/* The reporter: sends queued POSTs, a batch at a time, until stopped and drained. */
static void *reporter(void *arg)
{
    cs_mcp_gw *gw = arg;
    later *ls[BATCH_MAX];
    int n;
    while ((n = next_batch(gw, ls)) > 0)
        send_batch(gw, ls, n);
    return NULL;
}

/* A report pushed out of a full queue: the warning names its action, whose outcome
 * or cancellation the gateway will not get. */
static void warn_dropped(const later *l)
{
    static const char actions[] = "/v1/actions/";
    const char *id =
        strncmp(l->path, actions, sizeof actions - 1) ? "" : l->path + sizeof actions - 1;
    cs_warn("mcp-proxy: %d reports are waiting for the gateway: dropped the oldest, for "
            "action %.*s (POST %s)",
            LATER_MAX, (int)strcspn(id, "/?"), id, l->path);
}

void cs_mcp_gw_post_later(cs_mcp_gw *gw, const char *path, json_t *body)
{
    later *l = cs_calloc(1, sizeof *l), *dropped = NULL;
    l->path = cs_strdup(path);
    l->body = body;
    pthread_mutex_lock(&gw->mu);
    /* Never waits for room: the callers are the server reader (all server-to-client
     * traffic) and cancellations, and the gateway may be down for minutes. A full
     * queue gives up its oldest report instead. */
    if (gw->nlater >= LATER_MAX) {
        dropped = gw->head;
        gw->head = dropped->next;
        if (gw->head == NULL) gw->tail = &gw->head;
        gw->nlater--;
    }
    l->queued_ms = gw->active_ms = cs_mono_ms();
    *gw->tail = l;
    gw->tail = &l->next;
    gw->nlater++;
    pthread_cond_signal(&gw->cv);
    pthread_mutex_unlock(&gw->mu);
    if (dropped) {
        warn_dropped(dropped);
        later_free(dropped);
    }
}

/* The headers of every request, then extra (if not NULL). "Expect:" keeps libcurl
 * from waiting for a 100 Continue on larger bodies. */
static struct curl_slist *headers_of(const char *auth, const char *extra)
{
    struct curl_slist *h = curl_slist_append(curl_slist_append(NULL, auth), "Expect:");
    return extra ? curl_slist_append(h, extra) : h;
}

/* An HTTP proxy in the environment, which libcurl would use for http:// URLs (and
 * whose no_proxy rules it knows): then every call goes through libcurl. */
static int env_proxy(void)
{
    static const char *const names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return 1;
    }
    return 0;
}

int cs_mcp_gw_new(const char *url, const char *token, cs_mcp_gw **out, cs_err *err)
{
    if (token == NULL || !*token)
        return cs_err_set(err, CS_EAUTH,
                          "COUNTERSIGN_TOKEN is not set: the proxy needs an agent token");
    for (const char *t = token; *t; t++)
        if ((unsigned char)*t <= ' ' || *t == 0x7f)
            return cs_err_set(err, CS_EINVAL,
                              "COUNTERSIGN_TOKEN holds a space or control character: it would "
                              "break the Authorization header");
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return cs_err_set(err, CS_EINVAL, "gateway URL must start with http:// or https://: %s",
                          url);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cs_mcp_gw *gw = cs_calloc(1, sizeof *gw);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    gw->url = cs_strndup(url, n);
    gw->auth = cs_sprintf("Authorization: Bearer %s", token);
    gw->hdr_plain = headers_of(gw->auth, NULL);
    gw->hdr_json = headers_of(gw->auth, "Content-Type: application/json");
    gw->auth_line = cs_sprintf("%s\r\n", gw->auth);
    gw->plain = cs_gw_target_parse(gw->url, &gw->target) == 0 && !env_proxy();
    pthread_mutex_init(&gw->mu, NULL);
    pthread_cond_init(&gw->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&gw->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    gw->tail = &gw->head;
    gw->multi = curl_multi_init();
    pthread_create(&gw->thread, NULL, reporter, gw);
    *out = gw;
    return 0;
}

const char *cs_mcp_gw_url(const cs_mcp_gw *gw)
{
    return gw->url;
}

/* The header lists hold the token: overwritten before they are freed. */
static void wipe_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(h);
}

void cs_mcp_gw_free(cs_mcp_gw *gw)
{
    if (gw == NULL) return;
    pthread_mutex_lock(&gw->mu);
    gw->stopping = 1;
    gw->flush_end = cs_mono_ms() + FLUSH_MS;
    pthread_cond_signal(&gw->cv);
    pthread_cond_broadcast(&gw->idle_cv);
    pthread_mutex_unlock(&gw->mu);
    pthread_join(gw->thread, NULL);
    for (int i = 0; i < gw->npool; i++)
        curl_easy_cleanup(gw->pool[i]);
    for (int i = 0; i < gw->nconns; i++)
        cs_gw_conn_free(gw->conns[i]);
    for (int i = 0; i < BATCH_MAX; i++)
        if (gw->batch[i]) curl_easy_cleanup(gw->batch[i]);
    curl_multi_cleanup(gw->multi);
    pthread_mutex_destroy(&gw->mu);
    pthread_cond_destroy(&gw->cv);
    pthread_cond_destroy(&gw->idle_cv);
    wipe_headers(gw->hdr_json);
    wipe_headers(gw->hdr_plain);
    memset(gw->auth, 0, strlen(gw->auth));
    memset(gw->auth_line, 0, strlen(gw->auth_line));
    free(gw->auth);
    free(gw->auth_line);
    free(gw->url);
    free(gw);
}
