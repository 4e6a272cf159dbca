/*
 * batch.c - a batch of jobs on a supervised task pool, some of which fail.
 *
 * Each job "processes" an input (a few milliseconds of work) and commits
 * its output.  An attempt may go wrong at random: it fails (returns an
 * error), hangs (stops beating), overruns its deadline, or kills its own
 * thread.  The pool retries each job up to three times on a fresh worker,
 * with backoff.  At the end every job is accounted for: done, failed
 * (and why), or cancelled because time ran out.
 *
 * A job may run more than once (at-least-once): an attempt may fail after
 * it committed, or be given up for hung while it still runs.  Its commit
 * is therefore idempotent: a compare-and-swap on the job's slot, so that
 * a second commit of the same job changes nothing.
 *
 * Runs for at most about $SUPV_EXAMPLE_SECONDS seconds (default 10).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <supervise.h>

#define NJOBS 300

struct job {
	unsigned          id;
	uint64_t          seed;
	_Atomic uint64_t  output;     /* 0 until committed, once */
	atomic_uint       skipped;    /* attempts that found it committed */
	struct supv_task *task;
};

static struct job jobs[NJOBS];

/* How the jobs ended, counted by the completion callback. */
static atomic_uint ended[SUPV_TASK_CANCELLED + 1];

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A xorshift step: the job's own random sequence, per attempt. */
static unsigned
roll(struct job *j, unsigned attempt)
{
	uint64_t x = j->seed ^ (attempt * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return (unsigned)((x * 2685821657736338717ULL) >> 33) % 100;
}

/* The idempotent commit: only the first attempt's output is kept. */
static void
commit(struct job *j, uint64_t out)
{
	uint64_t none = 0;

	atomic_compare_exchange_strong(&j->output, &none, out);
}

static int
job_run(struct supv_worker *self, void *arg)
{
	struct job *j = arg;
	unsigned attempt = supv_task_attempt(self);
	unsigned r = roll(j, attempt), i;

	/* Already committed by an earlier attempt: nothing left to do. */
	if (atomic_load(&j->output) != 0) {
		atomic_fetch_add(&j->skipped, 1);
		return 0;
	}
	for (i = 0; i < 4; i++) {
		supv_heartbeat(self);
		if (supv_sleep(self, 1) != 0)
			return ECANCELED;	/* stopped: this attempt is over */
	}
	if (r < 12)
		return EIO;			/* a plain failure */
	if (r < 15) {
		/* Hangs: no heartbeat until the pool gives up on it. */
		while (supv_sleep(self, 1000) == 0)
			;
		return 0;
	}
	if (r < 18) {
		/* Beats, but runs past its deadline. */
		while (supv_sleep(self, 10) == 0)
			supv_heartbeat(self);
		return 0;
	}
	if (r < 20) {
		commit(j, 1000 + j->id);	/* commits, then its thread dies */
		pthread_exit(NULL);
	}
	commit(j, 1000 + j->id);
	return 0;
}

static void
job_done(const struct supv_task_result *res, void *arg)
{
	(void)arg;
	if ((unsigned)res->status <= SUPV_TASK_CANCELLED)
		atomic_fetch_add(&ended[res->status], 1);
}

/* Counts the pool's workers that were restarted or replaced. */
static atomic_uint restarts, hangs;

static void
on_event(const struct supv_event *ev, void *arg)
{
	(void)arg;
	if (ev->kind == SUPV_EV_RESTART)
		atomic_fetch_add(&restarts, 1);
	else if (ev->kind == SUPV_EV_HUNG)
		atomic_fetch_add(&hangs, 1);
}

int
main(void)
{
	const char *env = getenv("SUPV_EXAMPLE_SECONDS");
	unsigned seconds = env != NULL && atoi(env) > 0 ? (unsigned)atoi(env) : 10;
	uint64_t start = now_ms(), budget = seconds * 1000ULL, seed;
	unsigned attempts[5] = { 0 }, skipped = 0, committed = 0, sum = 0, i;
	struct supv_taskpool_stats st;
	struct supv_taskpool *pool;
	struct supv_task_result res;
	struct supv *root;
	int rc;

	if ((rc = supv_new(&root, &(struct supv_opts){ .name = "batch" })) != 0 ||
	    (rc = supv_taskpool_add(root, &(struct supv_child_opts){ .id = "jobs" },
	    &(struct supv_taskpool_opts){
		.workers = 4,
		.queue_len = 64,
		.attempts = 3,
		.backoff_ms = 5, .backoff_max_ms = 50,
		.deadline_ms = 150,
		.heartbeat_ms = 50,
		.shutdown_ms = 100,
		.on_event = on_event,
	    }, &pool)) != 0 ||
	    (rc = supv_start(root)) != 0) {
		fprintf(stderr, "batch: %s\n", strerror(rc));
		return 1;
	}

	seed = (uint64_t)time(NULL) * 0x2545f4914f6cdd1dULL;
	for (i = 0; i < NJOBS; i++) {
		jobs[i].id = i;
		jobs[i].seed = seed + i * 0x9e3779b97f4a7c15ULL;
		/* Blocks while the queue is full: the pool sets the pace. */
		rc = supv_taskpool_submit(pool, job_run, &jobs[i],
		    &(struct supv_task_opts){ .on_done = job_done }, &jobs[i].task);
		if (rc != 0) {
			fprintf(stderr, "batch: submit: %s\n", strerror(rc));
			return 1;
		}
	}

	/* Wait for the batch, as long as the time allows; then stop the pool. */
	for (i = 0; i < NJOBS; i++) {
		uint64_t used = now_ms() - start;
		unsigned left = used + 500 < budget ? (unsigned)(budget - used - 500) : 0;

		if (supv_task_wait(jobs[i].task, left, NULL) == ETIMEDOUT)
			break;
	}
	/* Whatever has not finished by now is cancelled, and says so. */
	supv_taskpool_stop(pool, SUPV_TASKPOOL_CANCEL, 0);

	printf("%-10s %5s\n", "status", "jobs");
	for (i = SUPV_TASK_DONE; i <= SUPV_TASK_CANCELLED; i++) {
		printf("%-10s %5u\n", supv_task_status_name((enum supv_task_status)i),
		    atomic_load(&ended[i]));
		sum += atomic_load(&ended[i]);
	}
	for (i = 0; i < NJOBS; i++) {
		if (supv_task_poll(jobs[i].task, &res) != 0) {
			fprintf(stderr, "batch: job %u never finished\n", i);
			return 1;
		}
		attempts[res.attempts < 4 ? res.attempts : 4]++;
		committed += atomic_load(&jobs[i].output) != 0;
		skipped += atomic_load(&jobs[i].skipped);
		supv_task_release(jobs[i].task);
	}
	supv_taskpool_stats(pool, &st);
	printf("attempts: 0:%u 1:%u 2:%u 3:%u\n", attempts[0], attempts[1],
	    attempts[2], attempts[3]);
	printf("outputs committed: %u; %u reruns found theirs committed already\n",
	    committed, skipped);
	printf("pool: %" PRIu64 " submitted, %" PRIu64 " retries, %u worker restarts, "
	    "%u hangs\n", st.submitted, st.retries, atomic_load(&restarts),
	    atomic_load(&hangs));
	supv_free(root);
	if (sum != NJOBS || st.pending != 0) {
		printf("LOST: %u of %u jobs accounted for\n", sum, NJOBS);
		return 1;
	}
	printf("all %u jobs accounted for in %.1f s\n", NJOBS,
	    (double)(now_ms() - start) / 1000);
	return 0;
}
