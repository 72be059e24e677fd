/* pg_decide.c - gateway calls on a libcurl multi handle in socket-action mode: curl
 * tells us which sockets to watch (added to the proxy's epoll set) and when to
 * wake up; a held action is followed with long-polls until it is final. */
#include "proxy/pg_decide.h"

#include "proxy/pg_proxy.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define REPLY_MAX (4 * 1024 * 1024)
#define POLL_WAIT_S 25
#define RETRY_MS 1000
#define MAX_FAILURES 5

enum call_kind { CALL_SUBMIT, CALL_POLL, CALL_FIRE, CALL_PROBE };

struct cs_pg_ask {
    cs_pg_decider *d;
    char *token;
    char id[64];
    cs_pg_verdict_fn fn;
    void *ud;
    int dropped, cancel;
    int in_flight;        /* a call is under way for this ask */
    int failures;         /* consecutive failed polls */
    long long retry_at;   /* next poll after a failure (ms), or 0 */
    cs_pg_ask *next_wait; /* list of asks waiting for their retry time */
};

typedef struct call {
    int kind;
    CURL *easy;
    cs_buf reply;
    struct curl_slist *headers;
    char *body;
    cs_pg_ask *ask;
    cs_pg_version_fn probe_fn;
    void *probe_ud;
    struct call *prev, *next; /* the decider's list of transfers */
} call;

struct cs_pg_decider {
    CURLM *multi;
    char *base;
    int epfd;
    long timeout_ms; /* from curl's timer callback; -1 = none */
    long long timer_at;
    cs_pg_ask *waiting;
    call *calls;
    int running;
};

/* curl asks us to watch (or stop watching) one of its sockets. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
    cs_pg_decider *d = userp;
    cs_pg_watch *w = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            epoll_ctl(d->epfd, EPOLL_CTL_DEL, s, NULL);
            free(w);
            curl_multi_assign(d->multi, s, NULL);
        }
        return 0;
    }
    struct epoll_event ev = {.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
                                       (what & CURL_POLL_OUT ? EPOLLOUT : 0)};
    int op = EPOLL_CTL_MOD;
    if (w == NULL) {
        w = cs_calloc(1, sizeof *w);
        *w = (cs_pg_watch){.kind = CS_PG_W_CURL, .fd = s, .owner = d};
        curl_multi_assign(d->multi, s, w);
        op = EPOLL_CTL_ADD;
    }
    ev.data.ptr = w;
    if (epoll_ctl(d->epfd, op, s, &ev) != 0 && op == EPOLL_CTL_MOD)
        epoll_ctl(d->epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    cs_pg_decider *d = userp;
    d->timeout_ms = timeout_ms;
    d->timer_at = timeout_ms < 0 ? 0 : cs_mono_ms() + timeout_ms;
    return 0;
}

cs_pg_decider *cs_pg_decider_new(const char *base_url, int epfd)
{
    cs_pg_decider *d = cs_calloc(1, sizeof *d);
    d->base = cs_strdup(base_url);
    size_t n = strlen(d->base);
    while (n > 0 && d->base[n - 1] == '/')
        d->base[--n] = '\0';
    d->epfd = epfd;
    d->timeout_ms = -1;
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 64L);
    return d;
}

static void call_free(cs_pg_decider *d, call *c)
{
    if (c->easy) {
        curl_multi_remove_handle(d->multi, c->easy);
        curl_easy_cleanup(c->easy);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        d->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    curl_slist_free_all(c->headers);
    cs_buf_free(&c->reply);
    free(c->body);
    free(c);
}

static void ask_free(cs_pg_ask *a)
{
    if (a->token) {
        memset(a->token, 0, strlen(a->token));
        free(a->token);
    }
    free(a);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return cs_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

static void start(cs_pg_decider *d, call *c, const char *method, const char *path,
                  const char *token)
{
    char *url = cs_sprintf("%s%s", d->base, path);
    cs_buf_init(&c->reply, REPLY_MAX);
    c->easy = curl_easy_init();
    if (token) {
        char *auth = cs_sprintf("Authorization: Bearer %s", token);
        c->headers = curl_slist_append(c->headers, auth);
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    c->headers = curl_slist_append(c->headers, "Expect:");
    if (c->body) c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body ? c->body : "");
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &c->reply);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, c->kind == CALL_POLL ? (long)POLL_WAIT_S + 30 : 30L);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    c->next = d->calls;
    if (d->calls) d->calls->prev = c;
    d->calls = c;
    curl_multi_add_handle(d->multi, c->easy);
    free(url);
}

cs_pg_ask *cs_pg_ask_submit(cs_pg_decider *d, const char *token, const json_t *body,
                            cs_pg_verdict_fn fn, void *ud)
{
    cs_pg_ask *a = cs_calloc(1, sizeof *a);
    *a = (cs_pg_ask){.d = d, .token = cs_strdup(token), .fn = fn, .ud = ud, .in_flight = 1};
    call *c = cs_calloc(1, sizeof *c);
    c->kind = CALL_SUBMIT;
    c->ask = a;
    c->body = json_dumps(body, JSON_COMPACT);
    start(d, c, "POST", "/v1/actions", token);
    return a;
}

static void start_poll(cs_pg_ask *a)
{
    call *c = cs_calloc(1, sizeof *c);
    c->kind = CALL_POLL;
    c->ask = a;
    a->in_flight = 1;
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s?wait=%d", a->id, POLL_WAIT_S);
    start(a->d, c, "GET", path, a->token);
}

void cs_pg_post(cs_pg_decider *d, const char *token, const char *path, const json_t *body)
{
    call *c = cs_calloc(1, sizeof *c);
    c->kind = CALL_FIRE;
    c->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    start(d, c, "POST", path, token);
}

void cs_pg_probe_version(cs_pg_decider *d, cs_pg_version_fn fn, void *ud)
{
    call *c = cs_calloc(1, sizeof *c);
    c->kind = CALL_PROBE;
    c->probe_fn = fn;
    c->probe_ud = ud;
    start(d, c, "GET", "/readyz", NULL);
}

static void post_cancel(cs_pg_ask *a)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/actions/%s/cancel", a->id);
    cs_pg_post(a->d, a->token, path, NULL);
}

void cs_pg_ask_drop(cs_pg_ask *a, int cancel)
{
    if (a == NULL) return;
    a->dropped = 1;
    a->cancel = cancel;
    if (cancel && a->id[0]) post_cancel(a);
    a->cancel = cancel && !a->id[0]; /* still to do when the id arrives */
    if (!a->in_flight && a->retry_at == 0) ask_free(a);
    /* otherwise freed when its call completes or its retry comes up */
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int verdict_kind(const char *status)
{
    if (!strcmp(status, "allowed") || !strcmp(status, "approved")) return CS_PG_V_ALLOWED;
    if (!strcmp(status, "pending")) return CS_PG_V_PENDING;
    return CS_PG_V_DENIED;
}

static void deliver_failure(cs_pg_ask *a, const char *why)
{
    cs_pg_verdict v = {.kind = CS_PG_V_FAILED,
                       .status = "error",
                       .id = a->id,
                       .reason = why,
                       .policy_version = ""};
    a->in_flight = 1; /* a drop from inside the callback must not free the ask */
    if (!a->dropped) a->fn(a->ud, &v);
    ask_free(a);
}

/* A reply to a submit or a poll: an action document, or a problem. */
static void on_action_reply(call *c, CURLcode cr, long http)
{
    cs_pg_ask *a = c->ask;
    json_t *doc = cr == CURLE_OK
                      ? json_loadb(c->reply.data ? c->reply.data : "", c->reply.len, 0, NULL)
                      : NULL;
    int ok = doc && (http == 200 || http == 201) && json_is_string(json_object_get(doc, "status"));
    if (!ok) {
        char why[300];
        if (cr != CURLE_OK)
            snprintf(why, sizeof why, "gateway unreachable: %s", curl_easy_strerror(cr));
        else
            snprintf(why, sizeof why, "gateway answered %ld: %s", http,
                     doc ? str(doc, "detail") : "unreadable reply");
        json_decref(doc);
        a->in_flight = 0;
        if (c->kind == CALL_POLL && ++a->failures < MAX_FAILURES && !a->dropped) {
            a->retry_at = cs_mono_ms() + RETRY_MS;
            a->next_wait = a->d->waiting;
            a->d->waiting = a;
            return;
        }
        if (a->dropped)
            ask_free(a);
        else
            deliver_failure(a, why);
        return;
    }
    a->failures = 0;
    snprintf(a->id, sizeof a->id, "%s", str(doc, "id"));
    if (a->dropped && a->cancel && !strcmp(str(doc, "status"), "pending")) post_cancel(a);
    const json_t *pol = json_object_get(doc, "policy");
    cs_pg_verdict v = {.kind = verdict_kind(str(doc, "status")),
                       .status = str(doc, "status"),
                       .id = a->id,
                       .reason = str(pol, "explanation"),
                       .policy_version = str(pol, "version"),
                       .action = doc};
    if (!a->dropped)
        a->fn(a->ud, &v); /* in_flight stays set: a drop in the callback does not free */
    a->in_flight = 0;
    if (v.kind == CS_PG_V_PENDING && !a->dropped)
        start_poll(a);
    else
        ask_free(a);
    json_decref(doc);
}

static void on_probe_reply(call *c, CURLcode cr, long http)
{
    json_t *doc = cr == CURLE_OK && http == 200
                      ? json_loadb(c->reply.data ? c->reply.data : "", c->reply.len, 0, NULL)
                      : NULL;
    const char *v = json_string_value(json_object_get(doc, "policy_version"));
    cs_pg_epochs e = {
        (unsigned long long)json_integer_value(json_object_get(doc, "freeze_epoch")),
        (unsigned long long)json_integer_value(json_object_get(doc, "token_epoch")),
    };
    c->probe_fn(c->probe_ud, v, &e);
    json_decref(doc);
}

static void finish(cs_pg_decider *d, CURLMsg *m)
{
    call *c = NULL;
    long http = 0;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &http);
    CURLcode cr = m->data.result;
    if (c->kind == CALL_SUBMIT || c->kind == CALL_POLL)
        on_action_reply(c, cr, http);
    else if (c->kind == CALL_PROBE)
        on_probe_reply(c, cr, http);
    else if (cr != CURLE_OK || http >= 300)
        cs_warn("pg-proxy: gateway call failed: %s (HTTP %ld)", curl_easy_strerror(cr), http);
    call_free(d, c);
}

static void drain(cs_pg_decider *d)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE) finish(d, m);
}

void cs_pg_decider_on_event(cs_pg_decider *d, void *watch, unsigned events)
{
    cs_pg_watch *w = watch;
    int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(d->multi, w->fd, flags, &d->running);
    drain(d);
}

long cs_pg_decider_timeout_ms(cs_pg_decider *d)
{
    long long now = cs_mono_ms(), next = d->timeout_ms < 0 ? -1 : d->timer_at;
    for (cs_pg_ask *a = d->waiting; a; a = a->next_wait)
        if (next < 0 || a->retry_at < next) next = a->retry_at;
    if (next < 0) return -1;
    return next <= now ? 0 : (long)(next - now);
}

void cs_pg_decider_tick(cs_pg_decider *d)
{
    long long now = cs_mono_ms();
    if (d->timeout_ms >= 0 && d->timer_at <= now) {
        d->timeout_ms = -1;
        curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &d->running);
    }
    cs_pg_ask **pp = &d->waiting;
    while (*pp) {
        cs_pg_ask *a = *pp;
        if (a->retry_at > now) {
            pp = &a->next_wait;
            continue;
        }
        *pp = a->next_wait;
        a->retry_at = 0;
        if (a->dropped) {
            if (a->cancel && a->id[0]) post_cancel(a);
            ask_free(a);
        } else {
            start_poll(a);
        }
    }
    drain(d);
}

int cs_pg_decider_busy(cs_pg_decider *d)
{
    return d->running > 0 || d->waiting != NULL;
}

void cs_pg_decider_free(cs_pg_decider *d)
{
    if (d == NULL) return;
    while (d->waiting) {
        cs_pg_ask *a = d->waiting;
        d->waiting = a->next_wait;
        ask_free(a);
    }
    while (d->calls) {
        call *c = d->calls;
        if (c->ask) ask_free(c->ask);
        call_free(d, c);
    }
    curl_multi_cleanup(d->multi);
    free(d->base);
    free(d);
}
