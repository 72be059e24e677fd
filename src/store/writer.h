/* writer.h - the one writer thread: group commit of state changes and audit rows.
 *
 * Jobs are queued from any thread. The writer takes every queued job (up to a
 * batch limit), opens one transaction, runs each job's apply() inside its own
 * savepoint (a job that fails at the storage level is rolled back alone), commits
 * once (one fsync), and only then calls each job's done(). So whatever done()
 * reports to a client is durable. The store's commit hooks (store.h) run just before
 * the commit, inside the transaction, and right after it: the audit log feeds its
 * Merkle tree and signs its checkpoint there.
 *
 * When the gateway is quiet, a job may instead commit on the thread that submits it
 * (cs_writer_try_inline): a batch of one either way, without the two thread hand-offs
 * (to the writer and back), which are most of an idle gateway's response time.
 * Batches never overlap: one runs at a time, wherever it runs. */
#ifndef CS_STORE_WRITER_H
#define CS_STORE_WRITER_H

#include "store/store.h"

typedef struct cs_write_job cs_write_job;
struct cs_write_job {
    /* Runs inside the transaction, on the writer thread (or inline, see above). Returns 0, or CS_EDB (or any
     * negative code) to roll back this job's writes. Logical refusals that still
     * write an audit entry return 0 and record the refusal in the job. */
    int (*apply)(cs_store *s, cs_write_job *job);
    /* Runs after the commit, on the thread that committed; rc is 0 when durable. */
    void (*done)(cs_write_job *job, int rc);
    cs_write_job *next;
};

typedef struct cs_writer cs_writer;

int cs_writer_start(cs_store *s, cs_writer **out, cs_err *err);
void cs_writer_submit(cs_writer *w, cs_write_job *job);
/* Runs job now on the calling thread, as a batch of one, and returns 1 (done() has
 * been called) when no batch runs, none is queued and none ended in the last 50 µs;
 * else returns 0 and does nothing (submit it). The caller blocks for one commit. */
int cs_writer_try_inline(cs_writer *w, cs_write_job *job);
/* What the writer has committed since it started (for /metrics): batches by where
 * they ran, and the jobs in them. */
typedef struct cs_writer_stats {
    long long batches_writer, batches_inline, jobs;
} cs_writer_stats;
void cs_writer_stats_get(cs_writer *w, cs_writer_stats *out);
/* Finishes every queued job, then stops the thread. */
void cs_writer_stop(cs_writer *w);
/* Runs one job synchronously on the calling thread (only when no writer runs,
 * e.g. in `init`). */
int cs_writer_run_now(cs_store *s, cs_write_job *job);

#endif
