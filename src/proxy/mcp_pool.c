/* mcp_pool.c - a growing pool of worker threads for the MCP proxy (see mcp_pool.h). */
#include "proxy/mcp_pool.h"

#include "util/alloc.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct task {
    struct task *next;
    void (*fn)(void *arg);
    void *arg;
} task;

struct cs_mcp_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *head, **tail;
    int queued, idle, stopping;
    pthread_t *threads;
    size_t n, cap, max;
};

cs_mcp_pool *cs_mcp_pool_new(size_t max_threads)
{
    cs_mcp_pool *p = cs_calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tail = &p->head;
    p->max = max_threads;
    return p;
}

static void *worker(void *arg)
{
    cs_mcp_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        task *t = p->head;
        if (t == NULL) break;
        p->head = t->next;
        if (p->head == NULL) p->tail = &p->head;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int cs_mcp_pool_run(cs_mcp_pool *p, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&p->mu);
    /* Idle threads not yet claimed by queued tasks: when none is left, start one. */
    int need = p->idle <= p->queued;
    if (need && p->n >= p->max) {
        pthread_mutex_unlock(&p->mu);
        return CS_ETOOBIG;
    }
    task *t = cs_calloc(1, sizeof *t);
    *t = (task){NULL, fn, arg};
    *p->tail = t;
    p->tail = &t->next;
    p->queued++;
    if (need) {
        p->threads = cs_grow(p->threads, &p->cap, p->n + 1, sizeof *p->threads);
        pthread_create(&p->threads[p->n++], NULL, worker, p);
    }
    pthread_mutex_unlock(&p->mu);
    /* Signalled after the unlock: the woken worker does not block on the mutex. */
    if (!need) pthread_cond_signal(&p->cv);
    return 0;
}

void cs_mcp_pool_free(cs_mcp_pool *p)
{
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    size_t n = p->n;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}
