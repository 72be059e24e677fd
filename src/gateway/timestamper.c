/* timestamper.c - RFC 3161 time-stamps of the published checkpoint (audit.tsa_url): a
 * thread that, at most once per audit.tsa_interval, asks the TSA to stamp the newest
 * checkpoint not stamped yet and stores the token through the writer. A TSA that is
 * down costs a warning; the next interval tries again. Nothing waits for the TSA. */
#include "gateway/gateway_int.h"

#include "audit/audit_tsa.h"
#include "util/alloc.h"
#include "util/log.h"

#include <time.h>

typedef struct stamp_job {
    cs_write_job job;
    long long size;
    char *note;
    char gen_time[40];
    cs_buf token;
} stamp_job;

struct cs_timestamper {
    cs_gateway *gw;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping;
    uint64_t stamped; /* size of the last checkpoint stamped */
};

static int stamp_apply(cs_store *s, cs_write_job *job)
{
    stamp_job *j = (stamp_job *)job;
    return s->ops->audit_stamp_put(s, j->size, j->note, j->gen_time, j->token.data, j->token.len);
}

static void stamp_done(cs_write_job *job, int rc)
{
    stamp_job *j = (stamp_job *)job;
    if (rc == 0)
        cs_info("audit: checkpoint of %lld entries time-stamped at %s", j->size, j->gen_time);
    free(j->note);
    cs_buf_free(&j->token);
    free(j);
}

/* Stamps the published checkpoint when it is newer than the last one stamped. */
static void stamp_once(cs_timestamper *t)
{
    const cs_config *cfg = t->gw->cfg;
    stamp_job *j = cs_calloc(1, sizeof *j);
    cs_buf note;
    cs_err err = {0};
    cs_buf_init(&note, 64 * 1024);
    cs_buf_init(&j->token, CS_AUDIT_TSA_RESP_MAX);
    uint64_t size = cs_audit_log_published(t->gw->audit, &note);
    if (size == 0 || size <= t->stamped ||
        cs_audit_tsa_stamp(cfg->audit_tsa_url, note.data, note.len, cfg->audit_tsa_ca_file,
                           &j->token, j->gen_time, &err) != 0) {
        if (err.msg[0])
            cs_warn("audit: time-stamp of checkpoint %llu failed: %s", (unsigned long long)size,
                    err.msg);
        cs_buf_free(&note);
        cs_buf_free(&j->token);
        free(j);
        return;
    }
    t->stamped = size;
    j->size = (long long)size;
    j->note = cs_buf_steal(&note);
    j->job.apply = stamp_apply;
    j->job.done = stamp_done;
    cs_writer_submit(t->gw->writer, &j->job); /* the writer outlives this thread */
}

static void *stamper_main(void *arg)
{
    cs_timestamper *t = arg;
    pthread_setname_np(pthread_self(), "cs-stamper");
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += t->gw->cfg->audit_tsa_interval_s > 0 ? t->gw->cfg->audit_tsa_interval_s : 1;
        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
        if (t->stopping) break;
        pthread_mutex_unlock(&t->lock);
        stamp_once(t);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int cs_timestamper_start(cs_gateway *gw, cs_timestamper **out, cs_err *err)
{
    *out = NULL;
    if (gw->cfg->audit_tsa_url == NULL) return 0;
    cs_timestamper *t = cs_calloc(1, sizeof *t);
    t->gw = gw;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (pthread_create(&t->thread, NULL, stamper_main, t) != 0) {
        free(t);
        return cs_err_set(err, CS_EINTERNAL, "cannot start the time-stamping thread");
    }
    *out = t;
    return 0;
}

void cs_timestamper_stop(cs_timestamper *t)
{
    if (t == NULL) return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t);
}
