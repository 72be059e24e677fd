/* watch.c - a hash table of waiting requests keyed by action id (see watch.h). */
#include "gateway/watch.h"

#include "util/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

struct cs_watchers {
    pthread_mutex_t lock;
    cs_watch *bucket[BUCKETS];
    long count;
    unsigned long generation;
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

cs_watchers *cs_watchers_new(void)
{
    cs_watchers *ws = cs_calloc(1, sizeof *ws);
    pthread_mutex_init(&ws->lock, NULL);
    return ws;
}

void cs_watchers_free(cs_watchers *ws)
{
    if (ws == NULL) return;
    pthread_mutex_destroy(&ws->lock);
    free(ws);
}

static void unlink_w(cs_watchers *ws, cs_watch *w)
{
    unsigned b = hash(w->id);
    if (w->prev)
        w->prev->next = w->next;
    else
        ws->bucket[b] = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = 0;
    ws->count--;
}

void cs_watch_add(cs_watchers *ws, cs_watch *w)
{
    unsigned b = hash(w->id);
    pthread_mutex_lock(&ws->lock);
    w->prev = NULL;
    w->next = ws->bucket[b];
    if (w->next) w->next->prev = w;
    ws->bucket[b] = w;
    w->linked = 1;
    ws->count++;
    pthread_mutex_unlock(&ws->lock);
}

int cs_watch_cancel(cs_watchers *ws, cs_watch *w)
{
    pthread_mutex_lock(&ws->lock);
    int mine = w->linked;
    if (mine) unlink_w(ws, w);
    pthread_mutex_unlock(&ws->lock);
    return mine;
}

static void fire_id(cs_watchers *ws, const char *id, const void *doc)
{
    cs_watch *w = ws->bucket[hash(id)];
    while (w) {
        cs_watch *next = w->next;
        if (!strcmp(w->id, id)) {
            unlink_w(ws, w);
            w->doc = doc;
            w->fn(w, 0);
        }
        w = next;
    }
}

/* Fires under the lock: fn only resumes a connection, which never calls back in. */
void cs_watch_notify(cs_watchers *ws, const char *id, const void *doc)
{
    pthread_mutex_lock(&ws->lock);
    ws->generation++;
    fire_id(ws, id, doc);
    if (strcmp(id, CS_WATCH_ANY) != 0) fire_id(ws, CS_WATCH_ANY, doc);
    pthread_mutex_unlock(&ws->lock);
}

void cs_watch_notify_made(cs_watchers *ws, const char *id, const void *(*make)(void *ctx),
                          void *ctx)
{
    pthread_mutex_lock(&ws->lock);
    ws->generation++;
    const void *doc = NULL;
    for (cs_watch *w = ws->bucket[hash(id)]; w && doc == NULL; w = w->next)
        if (!strcmp(w->id, id)) doc = make(ctx);
    fire_id(ws, id, doc);
    if (strcmp(id, CS_WATCH_ANY) != 0) fire_id(ws, CS_WATCH_ANY, doc);
    pthread_mutex_unlock(&ws->lock);
}

unsigned long cs_watch_generation(cs_watchers *ws)
{
    pthread_mutex_lock(&ws->lock);
    unsigned long g = ws->generation;
    pthread_mutex_unlock(&ws->lock);
    return g;
}

static void fire_where(cs_watchers *ws, long long now_ms, int all)
{
    pthread_mutex_lock(&ws->lock);
    for (unsigned b = 0; b < BUCKETS; b++) {
        cs_watch *w = ws->bucket[b];
        while (w) {
            cs_watch *next = w->next;
            if (all || (w->deadline_ms && w->deadline_ms <= now_ms)) {
                unlink_w(ws, w);
                w->fn(w, 1);
            }
            w = next;
        }
    }
    pthread_mutex_unlock(&ws->lock);
}

void cs_watch_tick(cs_watchers *ws, long long now_ms)
{
    fire_where(ws, now_ms, 0);
}

void cs_watch_fire_all(cs_watchers *ws)
{
    fire_where(ws, 0, 1);
}

long cs_watch_count(cs_watchers *ws)
{
    pthread_mutex_lock(&ws->lock);
    long n = ws->count;
    pthread_mutex_unlock(&ws->lock);
    return n;
}
