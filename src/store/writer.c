/* writer.c - group-committing writer thread (see writer.h). */
#include "store/writer.h"

#include "util/alloc.h"
#include "util/log.h"

#include <pthread.h>

#define BATCH_MAX 512

struct cs_writer {
    cs_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cs_write_job *head, *tail;
    int stopping;
};

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
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->stopping)
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
        pthread_mutex_unlock(&w->lock);
        int rc = run_batch(w->store, batch);
        if (rc) cs_error("writer: batch of %d failed: %s", n, cs_strerror(rc));
        finish(batch, rc);
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
