/* writer.c - group-committing writer thread (see writer.h). */
#include "store/writer.h"

#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#include <pthread.h>

#define BATCH_MAX 512
/* A job may commit on the thread that submits it only when no batch ended within
 * this long: a request that was already waiting while the last batch ran is read
 * within microseconds of its end, and goes to the queue to share the next batch. */
#define QUIET_NS 50000LL

struct cs_writer {
    cs_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cs_write_job *head, *tail;
    int stopping;
    int busy;              /* a batch runs, on the writer thread or inline */
    long long last_end_ns; /* when the last batch finished (CLOCK_MONOTONIC) */
    cs_writer_stats stats; /* under lock */
};

/* Ends a batch: the next may start, on this thread or the writer's. The writer
 * thread is woken only when an inline batch ends with jobs queued behind it (or a
 * stop): waking it for nothing would cost a cross-CPU wake-up per request. */
static void batch_ended(cs_writer *w, int inline_batch, int jobs)
{
    pthread_mutex_lock(&w->lock);
    w->busy = 0;
    if (inline_batch)
        w->stats.batches_inline++;
    else
        w->stats.batches_writer++;
    w->stats.jobs += jobs;
    w->last_end_ns = cs_mono_ns();
    if (inline_batch && (w->head != NULL || w->stopping)) pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int run_batch(cs_store *s, cs_write_job *batch)
{
    const cs_store_ops *o = s->ops;
    int rc = o->begin(s);
    for (cs_write_job *j = batch; j && rc == 0; j = j->next) {
        if (o->savepoint(s) != 0) {
            rc = CS_EDB;
            break;
        }
        int jr = j->apply(s, j);
        if (jr != 0) {
            if (o->rollback_to(s) != 0) rc = CS_EDB;
            j->apply = NULL; /* marks "failed" for the done pass */
        } else if (o->release(s) != 0) {
            rc = CS_EDB;
        }
    }
    if (rc == 0 && s->hooks.before_commit)
        rc = s->hooks.before_commit(s->hooks.ctx, s);
    if (rc == 0)
        rc = o->commit(s);
    else
        o->rollback(s);
    if (s->hooks.after_commit)
        s->hooks.after_commit(s->hooks.ctx, rc);
    return rc;
}

static void finish(cs_write_job *batch, int rc)
{
    while (batch) {
        cs_write_job *next = batch->next;
        int jr = rc ? rc : (batch->apply == NULL ? CS_EDB : 0);
        batch->next = NULL;
        batch->done(batch, jr);
        batch = next;
    }
}

static void *writer_main(void *arg)
{
    cs_writer *w = arg;
    pthread_setname_np(pthread_self(), "cs-writer");
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while ((w->head == NULL && !w->stopping) || w->busy)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->head == NULL && w->stopping) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        cs_write_job *batch = w->head, *last = batch;
        int n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (w->head == NULL) w->tail = NULL;
        last->next = NULL;
        w->busy = 1;
        pthread_mutex_unlock(&w->lock);
        int rc = run_batch(w->store, batch);
        if (rc) cs_error("writer: batch of %d failed: %s", n, cs_strerror(rc));
        finish(batch, rc);
        batch_ended(w, 0, n);
    }
    return NULL;
}

int cs_writer_start(cs_store *s, cs_writer **out, cs_err *err)
{
    cs_writer *w = cs_calloc(1, sizeof *w);
    w->store = s;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        free(w);
        return cs_err_set(err, CS_EINTERNAL, "cannot start the writer thread");
    }
    *out = w;
    return 0;
}

void cs_writer_submit(cs_writer *w, cs_write_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int cs_writer_try_inline(cs_writer *w, cs_write_job *job)
{
    long long now = cs_mono_ns();
    pthread_mutex_lock(&w->lock);
    int ok = !w->busy && w->head == NULL && !w->stopping && now - w->last_end_ns >= QUIET_NS;
    if (ok) w->busy = 1;
    pthread_mutex_unlock(&w->lock);
    if (!ok) return 0;
    job->next = NULL;
    int rc = run_batch(w->store, job);
    if (rc) cs_error("writer: inline batch failed: %s", cs_strerror(rc));
    /* done() before the next batch may start, as on the writer thread: waiters are
     * told of changes in commit order. */
    finish(job, rc);
    batch_ended(w, 1, 1);
    return 1;
}

void cs_writer_stats_get(cs_writer *w, cs_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}

void cs_writer_stop(cs_writer *w)
{
    if (w == NULL) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int cs_writer_run_now(cs_store *s, cs_write_job *job)
{
    job->next = NULL;
    int rc = run_batch(s, job);
    int jr = rc ? rc : (job->apply == NULL ? CS_EDB : 0);
    job->done(job, jr);
    return jr;
}
