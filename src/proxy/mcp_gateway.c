/* mcp_gateway.c - the proxy's libcurl client for the countersign HTTP API (SPEC §4),
 * with a pool of keep-alive handles and a background queue for outcome reports. */
#include "proxy/mcp_gateway.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLY_MAX (4 * 1024 * 1024)
#define POOL_MAX 16

typedef struct later {
    struct later *next;
    char *path;
    json_t *body;
    struct timespec queued;
} later;

struct cs_mcp_gw {
    char *url;
    char *auth; /* "Authorization: Bearer ..." */
    pthread_mutex_t mu;
    CURL *pool[POOL_MAX];
    int npool;
    pthread_cond_t cv;
    later *head, **tail;
    int stopping;
    int deciding; /* POSTs an agent is waiting on (submit, consume) */
    pthread_cond_t idle_cv;
    pthread_t thread;
};

#define DEFER_MAX_MS 200

static CURL *take(cs_mcp_gw *gw)
{
    pthread_mutex_lock(&gw->mu);
    CURL *c = gw->npool ? gw->pool[--gw->npool] : NULL;
    pthread_mutex_unlock(&gw->mu);
    return c ? c : curl_easy_init();
}

static void give(cs_mcp_gw *gw, CURL *c)
{
    curl_easy_reset(c);
    pthread_mutex_lock(&gw->mu);
    if (gw->npool < POOL_MAX) gw->pool[gw->npool++] = c, c = NULL;
    pthread_mutex_unlock(&gw->mu);
    if (c) curl_easy_cleanup(c);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return cs_buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

static int check_abort(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    atomic_int *abort = ud;
    return abort && atomic_load(abort) ? 1 : 0;
}

static int perform(cs_mcp_gw *gw, const char *method, const char *path, const json_t *body,
                   long timeout_s, atomic_int *abort, long *status, json_t **reply, cs_err *err)
{
    *reply = NULL;
    *status = 0;
    char *url = cs_sprintf("%s%s", gw->url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cs_buf out;
    cs_buf_init(&out, REPLY_MAX);
    struct curl_slist *h = curl_slist_append(NULL, gw->auth);
    h = curl_slist_append(h, "Expect:");
    if (text) h = curl_slist_append(h, "Content-Type: application/json");
    CURL *c = take(gw);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    else if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    else
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, check_abort);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, abort);
    CURLcode cr = curl_easy_perform(c);
    int rc = 0;
    if (cr != CURLE_OK) {
        rc = cs_err_set(err, CS_EIO, "gateway %s: %s", gw->url, curl_easy_strerror(cr));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        *reply = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    }
    give(gw, c);
    curl_slist_free_all(h);
    free(text);
    free(url);
    cs_buf_free(&out);
    return rc;
}

/* A POST some agent is waiting on counts as deciding; background reports give way
 * to it (see reporter()). Long-polls do not count: they wait, they do not work. */
int cs_mcp_gw_call(cs_mcp_gw *gw, const char *method, const char *path, const json_t *body,
                   long timeout_s, atomic_int *abort, long *status, json_t **reply, cs_err *err)
{
    int counted = !strcmp(method, "POST");
    if (counted) {
        pthread_mutex_lock(&gw->mu);
        gw->deciding++;
        pthread_mutex_unlock(&gw->mu);
    }
    int rc = perform(gw, method, path, body, timeout_s, abort, status, reply, err);
    if (counted) {
        pthread_mutex_lock(&gw->mu);
        if (--gw->deciding == 0) pthread_cond_broadcast(&gw->idle_cv);
        pthread_mutex_unlock(&gw->mu);
    }
    return rc;
}

/* Waits (mu held) while an agent's decision is being asked for, at most
 * DEFER_MAX_MS after the report was queued, so that the report's durable write
 * does not compete with the submit the agent is waiting on. */
static void give_way(cs_mcp_gw *gw, const later *l)
{
    struct timespec until = l->queued;
    until.tv_nsec += DEFER_MAX_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while (gw->deciding > 0 && !gw->stopping)
        if (pthread_cond_timedwait(&gw->idle_cv, &gw->mu, &until) != 0) break;
}

static later *next_later(cs_mcp_gw *gw)
{
    pthread_mutex_lock(&gw->mu);
    while (gw->head == NULL && !gw->stopping)
        pthread_cond_wait(&gw->cv, &gw->mu);
    later *l = gw->head;
    if (l) {
        gw->head = l->next;
        if (gw->head == NULL) gw->tail = &gw->head;
        give_way(gw, l);
    }
    pthread_mutex_unlock(&gw->mu);
    return l;
}

/* The reporter: sends queued POSTs in order until stopped and drained. */
static void *reporter(void *arg)
{
    cs_mcp_gw *gw = arg;
    later *l;
    while ((l = next_later(gw)) != NULL) {
        long status = 0;
        json_t *reply = NULL;
        cs_err err = {0};
        if (perform(gw, "POST", l->path, l->body, 10, NULL, &status, &reply, &err) != 0)
            cs_warn("mcp-proxy: %s: %s", l->path, err.msg);
        else if (status >= 300)
            cs_warn("mcp-proxy: %s: HTTP %ld %s", l->path, status,
                    json_string_value(json_object_get(reply, "detail"))
                        ? json_string_value(json_object_get(reply, "detail"))
                        : "");
        json_decref(reply);
        json_decref(l->body);
        free(l->path);
        free(l);
    }
    return NULL;
}

void cs_mcp_gw_post_later(cs_mcp_gw *gw, const char *path, json_t *body)
{
    later *l = cs_calloc(1, sizeof *l);
    l->path = cs_strdup(path);
    l->body = body;
    clock_gettime(CLOCK_REALTIME, &l->queued);
    pthread_mutex_lock(&gw->mu);
    *gw->tail = l;
    gw->tail = &l->next;
    pthread_cond_signal(&gw->cv);
    pthread_mutex_unlock(&gw->mu);
}

int cs_mcp_gw_new(const char *url, const char *token, cs_mcp_gw **out, cs_err *err)
{
    if (token == NULL || !*token)
        return cs_err_set(err, CS_EAUTH,
                          "COUNTERSIGN_TOKEN is not set: the proxy needs an agent token");
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
    pthread_mutex_init(&gw->mu, NULL);
    pthread_cond_init(&gw->cv, NULL);
    pthread_cond_init(&gw->idle_cv, NULL);
    gw->tail = &gw->head;
    pthread_create(&gw->thread, NULL, reporter, gw);
    *out = gw;
    return 0;
}

const char *cs_mcp_gw_url(const cs_mcp_gw *gw)
{
    return gw->url;
}

void cs_mcp_gw_free(cs_mcp_gw *gw)
{
    if (gw == NULL) return;
    pthread_mutex_lock(&gw->mu);
    gw->stopping = 1;
    pthread_cond_signal(&gw->cv);
    pthread_mutex_unlock(&gw->mu);
    pthread_join(gw->thread, NULL);
    for (int i = 0; i < gw->npool; i++)
        curl_easy_cleanup(gw->pool[i]);
    pthread_mutex_destroy(&gw->mu);
    pthread_cond_destroy(&gw->cv);
    pthread_cond_destroy(&gw->idle_cv);
    memset(gw->auth, 0, strlen(gw->auth));
    free(gw->auth);
    free(gw->url);
    free(gw);
}
