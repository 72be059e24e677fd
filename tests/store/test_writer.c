/* test_writer.c - the group-committing writer (src/store/writer.c) over a fake store:
 * which thread commits a job, when a job may commit inline, that batches never
 * overlap, and that jobs queued behind an inline batch are committed after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The fake store: counts batches and jobs per batch; a commit can be held open. */
static atomic_int in_batch, overlaps, batches, jobs_in_batch, last_batch_jobs;
static atomic_int hold_commit, commit_entered;

static int f_begin(cs_store *s)
{
    if (atomic_fetch_add(&in_batch, 1) != 0) atomic_fetch_add(&overlaps, 1);
    atomic_store(&jobs_in_batch, 0);
    return 0;
}
static int f_ok(cs_store *s) { return 0; }
static int f_commit(cs_store *s)
{
    atomic_store(&commit_entered, 1);
    while (atomic_load(&hold_commit)) usleep(200);
    atomic_store(&last_batch_jobs, atomic_load(&jobs_in_batch));
    atomic_fetch_add(&batches, 1);
    atomic_fetch_sub(&in_batch, 1);
    return 0;
}
static int f_rollback(cs_store *s)
{
    atomic_fetch_sub(&in_batch, 1);
    return 0;
}

static const cs_store_ops fake_ops = {
    .name = "fake", .begin = f_begin, .commit = f_commit, .rollback = f_rollback,
    .savepoint = f_ok, .release = f_ok, .rollback_to = f_ok,
};

typedef struct job {
    cs_write_job job;
    pthread_t done_on;
    atomic_int done;
    int rc;
} job;

static int j_apply(cs_store *s, cs_write_job *jw)
{
    atomic_fetch_add(&jobs_in_batch, 1);
    return 0;
}
static void j_done(cs_write_job *jw, int rc)
{
    job *j = (job *)jw;
    j->done_on = pthread_self();
    j->rc = rc;
    atomic_store(&j->done, 1);
}

static void job_init(job *j)
{
    memset(j, 0, sizeof *j);
    j->job.apply = j_apply;
    j->job.done = j_done;
}

/* Waits up to 2 s for a flag another thread sets. */
static void wait_for(atomic_int *flag)
{
    for (int i = 0; i < 20000 && !atomic_load(flag); i++) usleep(100);
    assert_true(atomic_load(flag));
}

static cs_store fake_store = {.ops = &fake_ops};

/* Each test gets a fresh fake store's counters and a started writer in *state. */
static int setup(void **state)
{
    atomic_store(&in_batch, 0);
    atomic_store(&overlaps, 0);
    atomic_store(&batches, 0);
    atomic_store(&hold_commit, 0);
    atomic_store(&commit_entered, 0);
    cs_writer *w = NULL;
    cs_err err = {0};
    if (cs_writer_start(&fake_store, &w, &err) != 0) return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    cs_writer_stop(*state);
    return 0;
}

/* An idle writer lets the submitting thread commit; right after a batch it does not
 * (a thread preempted between the two calls may see the quiet period pass: tried
 * until the refusal is seen). */
static void test_inline_when_quiet(void **state)
{
    cs_writer *w = *state;
    int refused = 0, tries = 0;
    while (!refused && tries++ < 200) {
        usleep(1000);
        job a, b;
        job_init(&a);
        job_init(&b);
        assert_int_equal(cs_writer_try_inline(w, &a.job), 1);
        assert_true(atomic_load(&a.done));
        assert_true(pthread_equal(a.done_on, pthread_self()));
        assert_int_equal(a.rc, 0);
        if (cs_writer_try_inline(w, &b.job) == 0) {
            refused = 1;
            assert_false(atomic_load(&b.done));
            cs_writer_submit(w, &b.job);
            wait_for(&b.done);
            assert_false(pthread_equal(b.done_on, pthread_self()));
        }
    }
    assert_true(refused);
    assert_int_equal(atomic_load(&overlaps), 0);
}

typedef struct inline_arg {
    cs_writer *w;
    job *j;
    int ran;
} inline_arg;

static void *run_inline(void *p)
{
    inline_arg *a = p;
    a->ran = cs_writer_try_inline(a->w, &a->j->job);
    return NULL;
}

/* Jobs submitted while an inline batch commits wait for it, then share one batch on
 * the writer thread; a second inline attempt meanwhile is refused. */
static void test_queued_behind_inline(void **state)
{
    cs_writer *w = *state;
    usleep(1000);
    job a, b, c, d;
    job_init(&a);
    job_init(&b);
    job_init(&c);
    job_init(&d);
    atomic_store(&hold_commit, 1);
    inline_arg ia = {w, &a, -1};
    pthread_t t;
    pthread_create(&t, NULL, run_inline, &ia);
    wait_for(&commit_entered);
    assert_int_equal(cs_writer_try_inline(w, &d.job), 0); /* one batch at a time */
    cs_writer_submit(w, &b.job);
    cs_writer_submit(w, &c.job);
    usleep(5000);
    assert_false(atomic_load(&b.done)); /* not while the inline batch runs */
    assert_int_equal(atomic_load(&overlaps), 0);
    atomic_store(&hold_commit, 0);
    pthread_join(t, NULL);
    assert_int_equal(ia.ran, 1);
    wait_for(&b.done);
    wait_for(&c.done);
    assert_int_equal(atomic_load(&last_batch_jobs), 2); /* b and c together */
    assert_int_equal(atomic_load(&batches), 2);
    assert_int_equal(atomic_load(&overlaps), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inline_when_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_behind_inline, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
