/* check_taskpool.c - task pools: retries, hangs, deadlines, backpressure, stopping. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests.h"
/*
 * White-box, for the regression tests at the end: a pool's supervisor and
 * idle list, and the condition variable a run waits on.
 */
#include "taskpool/taskpool.h"

/* A root supervisor with one task pool "tp" under it. */
struct fx {
	struct supv          *root;
	struct supv_taskpool *pool;
	struct rec            rec;    /* the pool supervisor's events */
	struct rec            rrec;   /* the root's */
};

static struct fx *
fx_start(struct supv_taskpool_opts o)
{
	struct fx *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	rec_init(&f->rec);
	rec_init(&f->rrec);
	o.on_event = rec_cb;
	o.event_arg = &f->rec;
	ck_assert_int_eq(supv_new(&f->root, &(struct supv_opts){ .name = "root",
	    .intensity = 10, .on_event = rec_cb, .event_arg = &f->rrec }), 0);
	ck_assert_int_eq(supv_taskpool_add(f->root, &(struct supv_child_opts){
	    .id = "tp" }, &o, &f->pool), 0);
	ck_assert_int_eq(supv_start(f->root), 0);
	return f;
}

static void
fx_end(struct fx *f)
{
	ck_assert_int_eq(supv_stop(f->root), 0);
	supv_free(f->root);
	rec_destroy(&f->rec);
	rec_destroy(&f->rrec);
	free(f);
}

static struct supv_task_result
wait_ok(struct supv_task *t)
{
	struct supv_task_result r;

	ck_assert_int_eq(supv_task_wait(t, WAIT_MS, &r), 0);
	return r;
}

/* --- task bodies --- */

static atomic_int ran;

static int
t_ok(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

/* Fails (code 7) until its attempt number reaches (intptr_t)arg. */
static int
t_fail_until(struct supv_worker *self, void *arg)
{
	return supv_task_attempt(self) >= (unsigned)(intptr_t)arg ? 0 : 7;
}

static int
t_code(struct supv_worker *self, void *arg)
{
	(void)self;
	return (int)(intptr_t)arg;
}

/* Hangs (no heartbeat) until stopped while its attempt is below arg. */
static int
t_hang_until(struct supv_worker *self, void *arg)
{
	if (supv_task_attempt(self) >= (unsigned)(intptr_t)arg)
		return 0;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

/* Ends its thread while its attempt is below arg. */
static int
t_exit_until(struct supv_worker *self, void *arg)
{
	if (supv_task_attempt(self) >= (unsigned)(intptr_t)arg)
		return 0;
	pthread_exit(NULL);
}

/* Beats every 5 ms but runs for 2 s while its attempt is below arg. */
static int
t_slow_until(struct supv_worker *self, void *arg)
{
	uint64_t end = mono_ns() + 2000 * 1000000ULL;

	if (supv_task_attempt(self) >= (unsigned)(intptr_t)arg)
		return 0;
	while (mono_ns() < end) {
		supv_heartbeat(self);
		if (supv_sleep(self, 5) != 0)
			return 0;
	}
	return 0;
}

/* Ignores stop requests for 300 ms on its first attempt. */
static atomic_int deaf_done;

static int
t_deaf_first(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (supv_task_attempt(self) > 1)
		return 0;
	sleep_ms(300);
	atomic_store(&deaf_done, 1);
	return 0;
}

/* Runs until the gate opens or it is asked to stop; returns 0. */
static atomic_int gate, at_gate;

/* Counts itself in arrived, then waits until open is set or a stop. */
static int
wait_open(struct supv_worker *self, atomic_int *open, atomic_int *arrived)
{
	atomic_fetch_add(arrived, 1);
	while (!atomic_load(open) && supv_sleep(self, 1) == 0)
		;
	return 0;
}

static int
t_gate(struct supv_worker *self, void *arg)
{
	(void)arg;
	return wait_open(self, &gate, &at_gate);
}

static void
count_done(const struct supv_task_result *res, void *arg)
{
	(void)res;
	atomic_fetch_add((atomic_int *)arg, 1);
}

static struct supv_task *
submit(struct supv_taskpool *p, supv_task_fn *fn, intptr_t arg)
{
	struct supv_task *t;

	ck_assert_int_eq(supv_taskpool_submit(p, fn, (void *)arg, NULL, &t), 0);
	return t;
}

/* --- plain tasks (fire and forget, the pool's options): no record --- */

/* The order tasks ran in: each appends its number. */
#define NLOG 600
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int run_log[NLOG];
static unsigned nlog;

static int
t_log(struct supv_worker *self, void *arg)
{
	(void)self;
	pthread_mutex_lock(&log_mu);
	if (nlog < NLOG)
		run_log[nlog++] = (int)(intptr_t)arg;
	pthread_mutex_unlock(&log_mu);
	return 0;
}

static unsigned
log_len(void)
{
	unsigned n;

	pthread_mutex_lock(&log_mu);
	n = nlog;
	pthread_mutex_unlock(&log_mu);
	return n;
}

/* Reads p's stats into *st; returns how many tasks are pending. */
static unsigned
stats(struct supv_taskpool *p, struct supv_taskpool_stats *st)
{
	ck_assert_int_eq(supv_taskpool_stats(p, st), 0);
	return st->pending;
}

/*
 * Plain tasks and tasks with records (a handle, an on_done, options of
 * their own) make one queue: they run in the order they were submitted,
 * across a ring that wrapped and grew while they waited.
 */
START_TEST(test_plain_order)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .queue_len = SUPV_INFINITY });
	struct supv_taskpool_stats st;
	struct supv_task *g, *h[NLOG];
	atomic_int done = 0;
	unsigned i, nh = 0, nd = 0;
	int k = 0;

	nlog = 0;
	/* Some plain tasks first, so that the ring's head has moved on. */
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_log,
		    (void *)(intptr_t)k++, NULL, NULL), 0);
	ck_assert(POLL_UNTIL(log_len() == 40, WAIT_MS));
	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	g = submit(f->pool, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	for (i = 0; i < 500; i++) {
		struct supv_task **out = NULL;
		struct supv_task_opts o = { 0 };

		if (i % 7 == 3)
			out = &h[nh++];		/* a handle */
		else if (i % 7 == 5)
			o.on_done = count_done, o.done_arg = &done, nd++;
		else if (i % 11 == 6)
			o.attempts = 2;		/* its own option */
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_log,
		    (void *)(intptr_t)k++, &o, out), 0);
	}
	stats(f->pool, &st);
	ck_assert_uint_eq(st.queued, 500);
	atomic_store(&gate, 1);
	ck_assert(POLL_UNTIL(log_len() == 540, WAIT_MS));
	for (i = 0; i < 540; i++)
		ck_assert_msg(run_log[i] == (int)i, "task %d ran %uth", run_log[i], i);
	for (i = 0; i < nh; i++) {
		ck_assert_int_eq(wait_ok(h[i]).status, SUPV_TASK_DONE);
		supv_task_release(h[i]);
	}
	supv_task_release(g);
	ck_assert(POLL_UNTIL(atomic_load(&done) == (int)nd, WAIT_MS));
	ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
	ck_assert_uint_eq(st.submitted, 541);
	ck_assert_uint_eq(st.succeeded, 541);
	fx_end(f);
}
END_TEST

/* Counts the successes of plain tasks that fail their first attempt. */
static atomic_int plain_ok;

static int
t_plain_flaky(struct supv_worker *self, void *arg)
{
	unsigned how = (unsigned)(intptr_t)arg;

	if (supv_task_attempt(self) == 1) {
		switch (how % 3) {
		case 0:
			return 7;			/* fails */
		case 1:
			pthread_exit(NULL);		/* crashes */
		default:
			while (supv_sleep(self, 1000) == 0)
				;			/* hangs */
			return 0;
		}
	}
	atomic_fetch_add(&plain_ok, 1);
	return 0;
}

/*
 * A plain task whose attempt fails, crashes or hangs is retried as any
 * task is (its worker's spare record becomes its own), and the tasks
 * queued behind it run meanwhile; one that always fails fails.
 */
START_TEST(test_plain_retries)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .attempts = 3, .heartbeat_ms = 100 });
	struct supv_taskpool_stats st;
	unsigned i;

	atomic_store(&plain_ok, 0);
	atomic_store(&ran, 0);
	for (i = 0; i < 9; i++) {
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_plain_flaky,
		    (void *)(intptr_t)i, NULL, NULL), 0);
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
		    NULL, NULL), 0);
	}
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_code,
	    (void *)(intptr_t)5, NULL, NULL), 0);
	ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
	ck_assert_int_eq(atomic_load(&plain_ok), 9);
	ck_assert_int_eq(atomic_load(&ran), 9);
	ck_assert_uint_eq(st.submitted, 19);
	ck_assert_uint_eq(st.succeeded, 18);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.retries, 9 + 2);
	fx_end(f);
}
END_TEST

/* A plain task past the pool's deadline is retried; its first attempt runs on. */
START_TEST(test_plain_deadline)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .deadline_ms = 50, .attempts = 2 });
	struct supv_taskpool_stats st;

	atomic_store(&ran, 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_slow_until,
	    (void *)(intptr_t)2, NULL, NULL), 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, NULL, NULL), 0);
	ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
	ck_assert_uint_eq(st.succeeded, 2);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_int_eq(atomic_load(&ran), 1);
	fx_end(f);
}
END_TEST

/* Plain tasks still queued when the pool stops are cancelled and counted. */
START_TEST(test_plain_cancelled)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct supv_taskpool_stats st;
	struct supv_task *g;
	unsigned i;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	atomic_store(&ran, 0);
	g = submit(f->pool, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, NULL,
		    NULL), 0);
	ck_assert_int_eq(supv_taskpool_stop(f->pool, SUPV_TASKPOOL_CANCEL, 0), 0);
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	supv_task_release(g);
	stats(f->pool, &st);
	ck_assert_int_eq(atomic_load(&ran), 0);
	ck_assert_uint_eq(st.submitted, 11);
	ck_assert_uint_eq(st.cancelled, 10);
	ck_assert_uint_eq(st.pending, 0);
	fx_end(f);
}
END_TEST

extern atomic_long supv_fault_countdown;

/*
 * Allocation and thread creation failing at the n-th point, for n = 1,
 * 2, ... while plain and record tasks are submitted: a submit that fails
 * says ENOMEM and queues nothing, every task accepted runs once (a
 * worker with no memory for its spare record leaves the task queued and
 * tries again), and the counts add up.
 */
START_TEST(test_plain_faults)
{
	long n;

	for (n = 1; n < 200; n++) {
		struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2 });
		struct supv_taskpool_stats st;
		struct supv_task *h[8];
		unsigned i, accepted = 0, nh = 0;
		bool fired;
		int rc;

		atomic_store(&ran, 0);
		atomic_store(&supv_fault_countdown, n);
		for (i = 0; i < 24; i++) {
			struct supv_task **out = i % 3 == 2 ? &h[nh] : NULL;

			rc = supv_taskpool_submit(f->pool, t_ok, NULL, NULL, out);
			ck_assert_msg(rc == 0 || rc == ENOMEM, "n=%ld: %d", n, rc);
			if (rc == 0) {
				accepted++;
				nh += out != NULL;
			}
		}
		ck_assert_msg(POLL_UNTIL(stats(f->pool, &st) == 0,
		    WAIT_MS), "n=%ld: %u pending", n, st.pending);
		fired = atomic_exchange(&supv_fault_countdown, 0) == 0;
		ck_assert_int_eq(atomic_load(&ran), (int)accepted);
		ck_assert_uint_eq(st.submitted, accepted);
		ck_assert_uint_eq(st.succeeded, accepted);
		for (i = 0; i < nh; i++)
			supv_task_release(h[i]);
		fx_end(f);
		if (!fired)
			break;
	}
	ck_assert_int_lt(n, 200);
}
END_TEST

/* --- plain tasks taken several at once (prefetch) --- */

/* Blocks until took_open is set or it is asked to stop; returns 0. */
static atomic_int took_open, took_started;

static int
t_took_block(struct supv_worker *self, void *arg)
{
	(void)arg;
	return wait_open(self, &took_open, &took_started);
}

/*
 * Occupies the pool's w workers with gate tasks, so that what is
 * submitted next waits in the queue; open_gate() lets them go.
 */
static struct supv_task **
hold_workers(struct supv_taskpool *p, unsigned w)
{
	struct supv_task **g = calloc(w, sizeof(*g));
	unsigned i;

	ck_assert_ptr_nonnull(g);
	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	atomic_store(&took_open, 0);
	atomic_store(&took_started, 0);
	for (i = 0; i < w; i++)
		g[i] = submit(p, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == (int)w, WAIT_MS));
	return g;
}

static void
open_gate(struct supv_task **g, unsigned w)
{
	unsigned i;

	atomic_store(&gate, 1);
	for (i = 0; i < w; i++) {
		ck_assert_int_eq(wait_ok(g[i]).status, SUPV_TASK_DONE);
		supv_task_release(g[i]);
	}
	free(g);
}

/* How many tasks the worker of slot k took at once and holds (white-box). */
static unsigned
slot_took(struct supv_taskpool *p, unsigned k)
{
	unsigned n;

	pthread_mutex_lock(&p->mu);
	n = p->slots[k].ntook;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Submits n plain t_log tasks numbered from k. */
static void
submit_logged(struct supv_taskpool *p, int k, unsigned n)
{
	while (n-- > 0)
		ck_assert_int_eq(supv_taskpool_submit(p, t_log,
		    (void *)(intptr_t)k++, NULL, NULL), 0);
}

/*
 * A worker takes the plain tasks queued behind its next one at once;
 * when the first of them fails, crashes or hangs, those it had not begun
 * go back to the queue, in order, and each runs once; the failed one is
 * retried after them.
 */
START_TEST(test_took_first_fails)
{
	static supv_task_fn *const first[] = { t_fail_until, t_exit_until,
	    t_hang_until };
	unsigned m, i;

	for (m = 0; m < 3; m++) {
		struct fx *f = fx_start((struct supv_taskpool_opts){
		    .workers = 1, .attempts = 2, .heartbeat_ms = 100 });
		struct supv_task **g = hold_workers(f->pool, 1);
		struct supv_taskpool_stats st;

		nlog = 0;
		ck_assert_int_eq(supv_taskpool_submit(f->pool, first[m],
		    (void *)(intptr_t)2, NULL, NULL), 0);
		submit_logged(f->pool, 0, 8);
		open_gate(g, 1);
		if (first[m] == t_hang_until)
			ck_assert_uint_eq(slot_took(f->pool, 0), 9);
		ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
		ck_assert_uint_eq(log_len(), 8);
		for (i = 0; i < 8; i++)
			ck_assert_int_eq(run_log[i], (int)i);
		ck_assert_uint_eq(st.submitted, 10);
		ck_assert_uint_eq(st.succeeded, 10);
		ck_assert_uint_eq(st.retries, 1);
		ck_assert_uint_eq(slot_took(f->pool, 0), 0);
		fx_end(f);
	}
}
END_TEST

/*
 * What a busy worker took and has not begun is taken over by a worker
 * that finds the queue empty: no task waits behind a long one while a
 * worker is idle.
 */
START_TEST(test_took_taken_over)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2 });
	struct supv_task **g = hold_workers(f->pool, 2);
	struct supv_taskpool_stats st;

	nlog = 0;
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_took_block, NULL,
	    NULL, NULL), 0);
	submit_logged(f->pool, 0, 6);
	open_gate(g, 2);
	/* One worker took the blocker and 3 more; the other takes them over. */
	ck_assert(POLL_UNTIL(log_len() == 6, WAIT_MS));
	ck_assert_int_eq(atomic_load(&took_started), 1);
	stats(f->pool, &st);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.running, 1);
	ck_assert_uint_eq(st.pending, 1);
	atomic_store(&took_open, 1);
	ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
	ck_assert_uint_eq(st.succeeded, 9);
	fx_end(f);
}
END_TEST

/* Reads the pool's stats from inside a task taken at once. */
static struct supv_taskpool *stats_pool;
static struct supv_taskpool_stats stats_seen;

static int
t_read_stats(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	ck_assert_int_eq(supv_taskpool_stats(stats_pool, &stats_seen), 0);
	return 0;
}

/*
 * The counts include what a worker took at once: those it finished are
 * succeeded, those it has not begun queued.  A pool's queue_len bounds
 * them with the queue; when the pool stops, they are cancelled.
 */
START_TEST(test_took_counts)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .queue_len = 6 });
	struct supv_task **g = hold_workers(f->pool, 1);
	struct supv_task_opts nowait = { .wait_ms = SUPV_ZERO };
	struct supv_taskpool_stats st;
	unsigned i;

	atomic_store(&ran, 0);
	stats_pool = f->pool;
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, NULL, NULL), 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_read_stats, NULL,
	    NULL, NULL), 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_took_block, NULL,
	    NULL, NULL), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, NULL,
		    NULL), 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, &nowait,
	    NULL), EAGAIN);
	open_gate(g, 1);
	ck_assert(POLL_UNTIL(atomic_load(&took_started) == 1, WAIT_MS));
	ck_assert_uint_eq(slot_took(f->pool, 0), 6);
	/* Seen by the second: the gate and the first done, itself running. */
	ck_assert_uint_eq(stats_seen.succeeded, 2);
	ck_assert_uint_eq(stats_seen.queued, 4);
	ck_assert_uint_eq(stats_seen.pending, 5);
	stats(f->pool, &st);
	ck_assert_uint_eq(st.succeeded, 3);
	ck_assert_uint_eq(st.queued, 3);
	ck_assert_uint_eq(st.running, 1);
	/* Three wait in the worker's hands: room for three more, not six. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
		    &nowait, NULL), 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, &nowait,
	    NULL), EAGAIN);
	ck_assert_int_eq(supv_taskpool_stop(f->pool, SUPV_TASKPOOL_CANCEL, 0), 0);
	stats(f->pool, &st);
	ck_assert_int_eq(atomic_load(&ran), 1);
	ck_assert_uint_eq(st.submitted, 10);
	ck_assert_uint_eq(st.succeeded, 4);
	ck_assert_uint_eq(st.cancelled, 6);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(slot_took(f->pool, 0), 0);
	fx_end(f);
}
END_TEST

/* Blocks until took_step reaches (intptr_t)arg, or a stop request. */
static atomic_int took_step;

static int
t_step(struct supv_worker *self, void *arg)
{
	while (atomic_load(&took_step) < (int)(intptr_t)arg &&
	    supv_sleep(self, 1) == 0)
		;
	return 0;
}

/* How many submitters wait for room (white-box). */
static unsigned
space_waiting(struct supv_taskpool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->mu);
	n = p->space_waiters;
	pthread_mutex_unlock(&p->mu);
	return n;
}

struct late_submit {
	struct supv_taskpool *pool;
	atomic_int            rc;
};

static void *
late_submit(void *arg)
{
	struct late_submit *ls = arg;

	atomic_store(&ls->rc, supv_taskpool_submit(ls->pool, t_ok, NULL, NULL, NULL));
	return NULL;
}

/*
 * A submitter that waits for room while a worker runs tasks it took at
 * once gets in as soon as the next of them begins, not when the run
 * ends.
 */
START_TEST(test_took_room)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .queue_len = 3 });
	struct supv_task **g = hold_workers(f->pool, 1);
	struct supv_task_opts nowait = { .wait_ms = SUPV_ZERO };
	struct late_submit ls = { .pool = f->pool, .rc = -1 };
	struct supv_taskpool_stats st;
	pthread_t th;
	intptr_t k;

	atomic_store(&took_step, 0);
	for (k = 1; k <= 3; k++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_step,
		    (void *)k, NULL, NULL), 0);
	open_gate(g, 1);
	ck_assert(POLL_UNTIL(slot_took(f->pool, 0) == 3, WAIT_MS));
	/* Two wait in the worker's hands, one more in the queue: full. */
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, &nowait,
	    NULL), 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, &nowait,
	    NULL), EAGAIN);
	ck_assert_int_eq(pthread_create(&th, NULL, late_submit, &ls), 0);
	ck_assert(POLL_UNTIL(space_waiting(f->pool) == 1, WAIT_MS));
	/* The first ends, the second begins (and blocks): room for one. */
	atomic_store(&took_step, 1);
	ck_assert(POLL_UNTIL(atomic_load(&ls.rc) == 0, WAIT_MS));
	pthread_join(th, NULL);
	stats(f->pool, &st);
	ck_assert_uint_eq(st.queued, 3);
	atomic_store(&took_step, 3);
	ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
	ck_assert_uint_eq(st.succeeded, 6);
	fx_end(f);
}
END_TEST

/* prefetch = 1: a worker takes one task at a time. */
START_TEST(test_took_prefetch_one)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .prefetch = 1 });
	struct supv_task **g = hold_workers(f->pool, 1);
	struct supv_taskpool_stats st;
	struct supv_taskpool *p;

	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_took_block, NULL,
	    NULL, NULL), 0);
	submit_logged(f->pool, 0, 5);
	open_gate(g, 1);
	ck_assert(POLL_UNTIL(atomic_load(&took_started) == 1, WAIT_MS));
	ck_assert_uint_eq(slot_took(f->pool, 0), 0);
	stats(f->pool, &st);
	ck_assert_uint_eq(st.queued, 5);
	atomic_store(&took_open, 1);
	ck_assert(POLL_UNTIL(stats(f->pool, &st) == 0, WAIT_MS));
	ck_assert_int_eq(supv_taskpool_add(f->root, &(struct supv_child_opts){
	    .id = "tp2" }, &(struct supv_taskpool_opts){ .prefetch = SUPV_ZERO },
	    &p), EINVAL);
	fx_end(f);
}
END_TEST

/* --- tests --- */

START_TEST(test_basic)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 4 });
	struct supv_task *t[100];
	struct supv_taskpool_stats st;
	struct supv_task_result r;
	unsigned i;

	atomic_store(&ran, 0);
	for (i = 0; i < 100; i++)
		t[i] = submit(f->pool, t_ok, 0);
	for (i = 0; i < 100; i++) {
		r = wait_ok(t[i]);
		ck_assert_int_eq(r.status, SUPV_TASK_DONE);
		ck_assert_int_eq(r.code, 0);
		ck_assert_uint_eq(r.attempts, 1);
		supv_task_release(t[i]);
	}
	ck_assert_int_eq(atomic_load(&ran), 100);
	/* Every worker has entered its loop (a start does not wait for it). */
	ck_assert(POLL_UNTIL(supv_taskpool_stats(f->pool, &st) == 0 &&
	    st.workers == 4, WAIT_MS));
	ck_assert_uint_eq(st.submitted, 100);
	ck_assert_uint_eq(st.succeeded, 100);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_uint_eq(st.workers, 4);
	/* Four workers and the timer thread, all started once. */
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_START, NULL), 5);
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_START, "tp.ctl"), 1);
	fx_end(f);
}
END_TEST

START_TEST(test_retry_until_success)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .attempts = 5 });
	struct supv_task *t = submit(f->pool, t_fail_until, 3);
	struct supv_taskpool_stats st;
	struct supv_task_result r = wait_ok(t);

	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_uint_eq(r.attempts, 3);
	supv_task_release(t);
	ck_assert_int_eq(supv_taskpool_stats(f->pool, &st), 0);
	ck_assert_uint_eq(st.retries, 2);
	/* Each failed attempt restarted its worker. */
	ck_assert_uint_eq(rec_wait(&f->rec, SUPV_EV_RESTART, NULL, 2), 2);
	ck_assert_int_ge(rec_find(&f->rec, SUPV_EV_EXIT, NULL, 0), 0);
	fx_end(f);
}
END_TEST

START_TEST(test_exhausted)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2 });
	struct supv_task *t, *u;
	struct supv_task_result r;

	t = submit(f->pool, t_code, 7);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_code, (void *)(intptr_t)9,
	    &(struct supv_task_opts){ .attempts = 5 }, &u), 0);
	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_FAILED);
	ck_assert_int_eq(r.code, 7);
	ck_assert_uint_eq(r.attempts, 3);	/* the default */
	r = wait_ok(u);
	ck_assert_int_eq(r.status, SUPV_TASK_FAILED);
	ck_assert_int_eq(r.code, 9);
	ck_assert_uint_eq(r.attempts, 5);
	supv_task_release(t);
	supv_task_release(u);
	ck_assert_str_eq(supv_task_status_name(SUPV_TASK_FAILED), "failed");
	ck_assert_str_eq(supv_task_status_name(SUPV_TASK_TIMED_OUT), "timed_out");
	ck_assert_str_eq(supv_task_status_name((enum supv_task_status)99), "unknown");
	fx_end(f);
}
END_TEST

START_TEST(test_backoff)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .attempts = 3, .backoff_ms = 100, .backoff_max_ms = 1000 });
	uint64_t t0 = mono_ns();
	struct supv_task *t = submit(f->pool, t_code, 5);
	struct supv_task_result r = wait_ok(t);

	ck_assert_int_eq(r.status, SUPV_TASK_FAILED);
	ck_assert_uint_eq(r.attempts, 3);
	/* Delays of 100 and 200 ms, each at least halved by the jitter. */
	ck_assert_uint_ge(mono_ns() - t0, 150 * 1000000ULL);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

START_TEST(test_hung)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .heartbeat_ms = 100, .attempts = 2 });
	struct supv_task *t = submit(f->pool, t_hang_until, 2);
	struct supv_task *u = submit(f->pool, t_hang_until, 10);
	struct supv_task_result r;

	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_uint_eq(r.attempts, 2);
	r = wait_ok(u);
	ck_assert_int_eq(r.status, SUPV_TASK_HUNG);
	ck_assert_uint_eq(r.attempts, 2);
	ck_assert_uint_ge(rec_wait(&f->rec, SUPV_EV_HUNG, NULL, 3), 3);
	supv_task_release(t);
	supv_task_release(u);
	/* Idle workers are not hung: they wait with hang detection suspended. */
	sleep_ms(400);
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_HUNG, NULL), 3);
	fx_end(f);
}
END_TEST

START_TEST(test_crashed)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .attempts = 2 });
	struct supv_task *t = submit(f->pool, t_exit_until, 2);
	struct supv_task *u = submit(f->pool, t_exit_until, 10);
	struct supv_task_result r;

	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_uint_eq(r.attempts, 2);
	r = wait_ok(u);
	ck_assert_int_eq(r.status, SUPV_TASK_CRASHED);
	ck_assert_uint_eq(r.attempts, 2);
	supv_task_release(t);
	supv_task_release(u);
	fx_end(f);
}
END_TEST

START_TEST(test_deadline)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .attempts = 2, .deadline_ms = 100 });
	struct supv_task *t, *u, *v;
	struct supv_task_result r;
	uint64_t t0 = mono_ns();

	/* Beating does not help a task past its deadline. */
	t = submit(f->pool, t_slow_until, 2);
	u = submit(f->pool, t_slow_until, 10);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_slow_until,
	    (void *)(intptr_t)10, &(struct supv_task_opts){
	    .deadline_ms = SUPV_INFINITY, .attempts = 1 }, &v), 0);
	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_uint_eq(r.attempts, 2);
	ck_assert_uint_ge(mono_ns() - t0, 100 * 1000000ULL);
	r = wait_ok(u);
	ck_assert_int_eq(r.status, SUPV_TASK_TIMED_OUT);
	ck_assert_uint_eq(r.attempts, 2);
	/* No deadline for this one: it ran its 2 s. */
	r = wait_ok(v);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_uint_ge(mono_ns() - t0, 2000 * 1000000ULL);
	supv_task_release(t);
	supv_task_release(u);
	supv_task_release(v);
	fx_end(f);
}
END_TEST

START_TEST(test_deadline_deaf)
{
	/* A task that ignores the stop: its run is abandoned, then comes back. */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .deadline_ms = 50, .shutdown_ms = 20 });
	struct supv_task *t;
	struct supv_task_result r;

	atomic_store(&deaf_done, 0);
	t = submit(f->pool, t_deaf_first, 0);
	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_uint_eq(r.attempts, 2);
	supv_task_release(t);
	ck_assert(rec_wait(&f->rec, SUPV_EV_STOP_TIMEOUT, "tp.0", 1) >= 1);
	ck_assert(POLL_UNTIL(atomic_load(&deaf_done) == 1, WAIT_MS));
	/* The pool still works with its replacement worker. */
	t = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	supv_task_release(t);
	sleep_ms(50);	/* let the abandoned thread finish returning */
	fx_end(f);
}
END_TEST

struct blocked_submit {
	struct supv_taskpool *pool;
	unsigned              wait_ms;
	atomic_int            rc;     /* -1 until it returned */
};

static void *
submit_thread(void *arg)
{
	struct blocked_submit *bs = arg;

	atomic_store(&bs->rc, supv_taskpool_submit(bs->pool, t_ok, NULL,
	    &(struct supv_task_opts){ .wait_ms = bs->wait_ms }, NULL));
	return NULL;
}

START_TEST(test_queue_full)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .queue_len = 2 });
	struct supv_task *g, *a, *b, *x;
	struct supv_taskpool_stats st;
	struct blocked_submit bs = { .wait_ms = 0 };
	pthread_t th;
	uint64_t t0;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	g = submit(f->pool, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	a = submit(f->pool, t_ok, 0);
	b = submit(f->pool, t_ok, 0);
	/* Full: EAGAIN at once, or ETIMEDOUT after waiting. */
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
	    &(struct supv_task_opts){ .wait_ms = SUPV_ZERO }, &x), EAGAIN);
	t0 = mono_ns();
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
	    &(struct supv_task_opts){ .wait_ms = 100 }, &x), ETIMEDOUT);
	ck_assert_uint_ge(mono_ns() - t0, 100 * 1000000ULL);
	ck_assert_int_eq(supv_taskpool_stats(f->pool, &st), 0);
	ck_assert_uint_eq(st.submitted, 3);
	ck_assert_uint_eq(st.queued, 2);
	ck_assert_uint_eq(st.running, 1);
	/* Blocking without limit: returns once there is room. */
	bs.pool = f->pool;
	atomic_store(&bs.rc, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, submit_thread, &bs), 0);
	sleep_ms(100);
	ck_assert_int_eq(atomic_load(&bs.rc), -1);
	atomic_store(&gate, 1);
	ck_assert(POLL_UNTIL(atomic_load(&bs.rc) != -1, WAIT_MS));
	ck_assert_int_eq(atomic_load(&bs.rc), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	ck_assert_int_eq(wait_ok(a).status, SUPV_TASK_DONE);
	ck_assert_int_eq(wait_ok(b).status, SUPV_TASK_DONE);
	supv_task_release(g);
	supv_task_release(a);
	supv_task_release(b);
	fx_end(f);
}
END_TEST

static int
t_sleep10(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_sleep(self, 10);
	atomic_fetch_add(&ran, 1);
	return 0;
}

struct stopper {
	struct supv_taskpool        *pool;
	enum supv_taskpool_stop_mode mode;
	unsigned                     drain_ms;
	atomic_int                   rc;
};

static void *
stop_thread(void *arg)
{
	struct stopper *s = arg;

	atomic_store(&s->rc, supv_taskpool_stop(s->pool, s->mode, s->drain_ms));
	return NULL;
}

START_TEST(test_stop_drain)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2 });
	struct stopper s = { .mode = SUPV_TASKPOOL_DRAIN, .drain_ms = SUPV_INFINITY };
	struct supv_task *t[20], *g;
	atomic_int done = 0;
	pthread_t th;
	unsigned i;
	int rc;

	atomic_store(&ran, 0);
	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	g = submit(f->pool, t_gate, 0);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_sleep10, NULL,
		    &(struct supv_task_opts){ .on_done = count_done,
		    .done_arg = &done }, &t[i]), 0);
	s.pool = f->pool;
	atomic_store(&s.rc, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, stop_thread, &s), 0);
	/* While it drains, nothing new is accepted. */
	ck_assert(POLL_UNTIL((rc = supv_taskpool_submit(f->pool, t_code, NULL,
	    NULL, NULL)) == ECANCELED, WAIT_MS));
	ck_assert_int_eq(atomic_load(&s.rc), -1);
	atomic_store(&gate, 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&s.rc), 0);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(supv_task_poll(t[i], NULL), 0);
		supv_task_release(t[i]);
	}
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	supv_task_release(g);
	ck_assert_int_eq(atomic_load(&ran), 20);
	ck_assert_int_eq(atomic_load(&done), 20);
	/* Stopped: its workers are gone and it takes nothing. */
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, NULL, NULL), ESRCH);
	ck_assert_uint_ge(rec_count(&f->rec, SUPV_EV_SUP_EXIT, NULL), 1);
	/* Restarted, it works again. */
	ck_assert_int_eq(supv_restart_child(f->root, "tp"), 0);
	g = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	supv_task_release(g);
	fx_end(f);
}
END_TEST

struct waiter {
	struct supv_task       *task;
	struct supv_task_result res;
	atomic_int              rc;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->rc, supv_task_wait(w->task, SUPV_INFINITY, &w->res));
	return NULL;
}

START_TEST(test_stop_cancel)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct supv_task *g, *t[10];
	struct supv_taskpool_stats st;
	struct supv_task_result r;
	struct waiter w;
	atomic_int done = 0;
	pthread_t th;
	unsigned i;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	atomic_store(&ran, 0);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_gate, NULL,
	    &(struct supv_task_opts){ .on_done = count_done, .done_arg = &done },
	    &g), 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
		    &(struct supv_task_opts){ .on_done = count_done,
		    .done_arg = &done }, i == 0 ? &t[i] : NULL), 0);
	w.task = t[0];
	atomic_store(&w.rc, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, wait_thread, &w), 0);
	/* The running task is asked to stop (its gate loop returns 0). */
	ck_assert_int_eq(supv_taskpool_stop(f->pool, SUPV_TASKPOOL_CANCEL, 0), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&w.rc), 0);
	ck_assert_int_eq(w.res.status, SUPV_TASK_CANCELLED);
	ck_assert_uint_eq(w.res.attempts, 0);
	r = wait_ok(g);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_int_eq(atomic_load(&done), 11);
	ck_assert_int_eq(atomic_load(&ran), 0);
	ck_assert_int_eq(supv_taskpool_stats(f->pool, &st), 0);
	ck_assert_uint_eq(st.cancelled, 10);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.workers, 0);
	supv_task_release(g);
	supv_task_release(t[0]);
	fx_end(f);
}
END_TEST

START_TEST(test_drain_timeout)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct supv_task *g, *t;
	uint64_t t0;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	g = submit(f->pool, t_gate, 0);
	t = submit(f->pool, t_ok, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	t0 = mono_ns();
	ck_assert_int_eq(supv_taskpool_stop(f->pool, SUPV_TASKPOOL_DRAIN, 100), 0);
	ck_assert_uint_ge(mono_ns() - t0, 100 * 1000000ULL);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_CANCELLED);
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	supv_task_release(g);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

START_TEST(test_tree_stop_cancels)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .backoff_ms = 5000 });
	struct supv_task *g, *t, *d;
	struct waiter w;
	pthread_t th;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	d = submit(f->pool, t_code, 3);	/* then waits 2.5-5 s for its retry */
	ck_assert(POLL_UNTIL(supv_task_poll(d, NULL) == EBUSY &&
	    rec_count(&f->rec, SUPV_EV_RESTART, NULL) >= 1, WAIT_MS));
	g = submit(f->pool, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	t = submit(f->pool, t_ok, 0);
	w.task = t;
	atomic_store(&w.rc, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, wait_thread, &w), 0);
	ck_assert_int_eq(supv_stop(f->root), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.res.status, SUPV_TASK_CANCELLED);
	ck_assert_int_eq(wait_ok(d).status, SUPV_TASK_CANCELLED);
	ck_assert_int_eq(wait_ok(d).code, 3);
	ck_assert_uint_eq(wait_ok(d).attempts, 1);
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL, NULL, NULL), ESRCH);
	supv_task_release(g);
	supv_task_release(t);
	supv_task_release(d);
	fx_end(f);
}
END_TEST

#define NSUB  8
#define NEACH 1000

struct sub_arg {
	struct supv_taskpool *pool;
	atomic_int           *done;
	int                   bad;
};

static void *
many_thread(void *arg)
{
	struct sub_arg *a = arg;
	struct supv_task *t;
	struct supv_task_result r;
	unsigned i;

	for (i = 0; i < NEACH; i++) {
		if (i % 2 == 0) {
			if (supv_taskpool_submit(a->pool, t_ok, NULL,
			    &(struct supv_task_opts){ .on_done = count_done,
			    .done_arg = a->done }, NULL) != 0)
				a->bad++;
			continue;
		}
		if (supv_taskpool_submit(a->pool, t_fail_until,
		    (void *)(intptr_t)(i % 3 == 0 ? 2 : 1), NULL, &t) != 0) {
			a->bad++;
			continue;
		}
		if (i % 4 == 1) {
			if (supv_task_wait(t, WAIT_MS, &r) != 0 ||
			    r.status != SUPV_TASK_DONE)
				a->bad++;
		}
		supv_task_release(t);
	}
	return NULL;
}

START_TEST(test_many_submitters)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 4,
	    .queue_len = 64 });
	struct sub_arg a[NSUB];
	struct supv_taskpool_stats st;
	pthread_t th[NSUB];
	atomic_int done = 0;
	unsigned i;

	atomic_store(&ran, 0);
	for (i = 0; i < NSUB; i++) {
		a[i] = (struct sub_arg){ .pool = f->pool, .done = &done };
		ck_assert_int_eq(pthread_create(&th[i], NULL, many_thread, &a[i]), 0);
	}
	for (i = 0; i < NSUB; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(a[i].bad, 0);
	}
	ck_assert(POLL_UNTIL(supv_taskpool_stats(f->pool, &st) == 0 &&
	    st.pending == 0, WAIT_MS));
	ck_assert_uint_eq(st.submitted, NSUB * NEACH);
	ck_assert_uint_eq(st.succeeded, NSUB * NEACH);
	ck_assert_uint_eq(st.failed + st.cancelled, 0);
	ck_assert_int_eq(atomic_load(&done), NSUB * NEACH / 2);
	ck_assert_int_eq(atomic_load(&ran), NSUB * NEACH / 2);
	ck_assert_uint_gt(st.retries, 0);
	fx_end(f);
}
END_TEST

START_TEST(test_wait_timeout)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct supv_task_result r = { .status = SUPV_TASK_DONE };
	struct supv_task *g;
	uint64_t t0;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	g = submit(f->pool, t_gate, 0);
	t0 = mono_ns();
	ck_assert_int_eq(supv_task_wait(g, 50, &r), ETIMEDOUT);
	ck_assert_uint_ge(mono_ns() - t0, 50 * 1000000ULL);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);	/* untouched */
	ck_assert_int_eq(supv_task_wait(g, 0, NULL), ETIMEDOUT);
	ck_assert_int_eq(supv_task_poll(g, &r), EBUSY);
	atomic_store(&gate, 1);
	r = wait_ok(g);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	ck_assert_int_eq(supv_task_poll(g, &r), 0);
	ck_assert_int_eq(supv_task_wait(g, 0, &r), 0);
	supv_task_release(g);
	fx_end(f);
}
END_TEST

START_TEST(test_cancel_task)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct supv_task *g, *t;
	struct supv_task_result r;
	atomic_int done = 0;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	g = submit(f->pool, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
	    &(struct supv_task_opts){ .on_done = count_done, .done_arg = &done },
	    &t), 0);
	ck_assert_int_eq(supv_task_cancel(t), 0);
	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_CANCELLED);
	ck_assert_uint_eq(r.attempts, 0);
	ck_assert_int_eq(atomic_load(&done), 1);
	ck_assert_int_eq(supv_task_cancel(t), EALREADY);
	ck_assert_int_eq(supv_task_cancel(g), EBUSY);
	atomic_store(&gate, 1);
	ck_assert_int_eq(wait_ok(g).status, SUPV_TASK_DONE);
	supv_task_release(g);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

static int
t_stop_own(struct supv_worker *self, void *arg)
{
	(void)self;
	return supv_taskpool_stop(arg, SUPV_TASKPOOL_DRAIN, SUPV_INFINITY) == EDEADLK ?
	    0 : 1;
}

static atomic_uint attempts_seen[4];

static int
t_record_attempt(struct supv_worker *self, void *arg)
{
	unsigned a = supv_task_attempt(self);

	(void)arg;
	if (a < 4)
		atomic_fetch_add(&attempts_seen[a], 1);
	return a < 3 ? 1 : 0;
}

START_TEST(test_errors)
{
	struct supv *root;
	struct supv_taskpool *p;
	struct supv_task *t;
	struct fx *f;
	unsigned i;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_taskpool_add(NULL, &(struct supv_child_opts){
	    .id = "tp" }, NULL, &p), EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, NULL, NULL, &p), EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, NULL, NULL), EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "" }, NULL, &p), EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, &(struct supv_taskpool_opts){ .workers = SUPV_ZERO }, &p),
	    EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, &(struct supv_taskpool_opts){ .attempts = SUPV_ZERO }, &p),
	    EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, &(struct supv_taskpool_opts){ .queue_len = SUPV_ZERO }, &p),
	    EINVAL);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, &(struct supv_taskpool_opts){ .backoff_ms = 100,
	    .backoff_max_ms = 50 }, &p), EINVAL);
	/* A child supervisor has no heartbeat of its own. */
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp", .heartbeat_ms = 10 }, NULL, &p), EINVAL);
	/* "<id>.ctl" must fit. */
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "a123456789b123456789c123456789d123456789e123456789f1234567890" },
	    NULL, &p), ENAMETOOLONG);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, &(struct supv_taskpool_opts){ .workers = 1 }, &p), 0);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, NULL, &p), EEXIST);
	/* Not started yet. */
	ck_assert_int_eq(supv_taskpool_submit(p, t_ok, NULL, NULL, &t), ESRCH);
	ck_assert_int_eq(supv_taskpool_submit(NULL, t_ok, NULL, NULL, &t), EINVAL);
	ck_assert_int_eq(supv_taskpool_submit(p, NULL, NULL, NULL, &t), EINVAL);
	ck_assert_int_eq(supv_taskpool_submit(p, t_ok, NULL,
	    &(struct supv_task_opts){ .attempts = SUPV_ZERO }, &t), EINVAL);
	ck_assert_int_eq(supv_taskpool_stop(NULL, SUPV_TASKPOOL_DRAIN, 0), EINVAL);
	ck_assert_int_eq(supv_taskpool_stop(p, (enum supv_taskpool_stop_mode)7, 0),
	    EINVAL);
	ck_assert_int_eq(supv_taskpool_stats(p, NULL), EINVAL);
	ck_assert_int_eq(supv_task_wait(NULL, 0, NULL), EINVAL);
	ck_assert_int_eq(supv_task_poll(NULL, NULL), EINVAL);
	ck_assert_int_eq(supv_task_cancel(NULL), EINVAL);
	supv_task_release(NULL);
	ck_assert_uint_eq(supv_task_attempt(NULL), 0);
	/* Stopping a pool that never ran does nothing. */
	ck_assert_int_eq(supv_taskpool_stop(p, SUPV_TASKPOOL_DRAIN, SUPV_INFINITY), 0);
	supv_free(root);

	/* From inside the pool, a stop would wait for itself; attempts count up. */
	f = fx_start((struct supv_taskpool_opts){ .workers = 2, .attempts = 5 });
	t = submit(f->pool, t_stop_own, (intptr_t)f->pool);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	supv_task_release(t);
	for (i = 0; i < 4; i++)
		atomic_store(&attempts_seen[i], 0);
	t = submit(f->pool, t_record_attempt, 0);
	ck_assert_uint_eq(wait_ok(t).attempts, 3);
	for (i = 1; i < 4; i++)
		ck_assert_uint_eq(atomic_load(&attempts_seen[i]), 1);
	ck_assert_uint_eq(atomic_load(&attempts_seen[0]), 0);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

START_TEST(test_pool_gives_up)
{
	/* No restart allowed in the pool: a failed task makes it give up. */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .intensity = SUPV_ZERO });
	struct supv_task *t;
	struct supv_task_result r;

	t = submit(f->pool, t_code, 4);
	r = wait_ok(t);
	ck_assert_int_eq(r.status, SUPV_TASK_CANCELLED);
	ck_assert_int_eq(r.code, 4);
	ck_assert_uint_eq(r.attempts, 1);
	supv_task_release(t);
	ck_assert_uint_ge(rec_wait(&f->rec, SUPV_EV_GIVE_UP, NULL, 1), 1);
	/* Its parent restarted it, as any child supervisor that gave up. */
	ck_assert_uint_ge(rec_wait(&f->rrec, SUPV_EV_RESTART, "tp", 1), 1);
	ck_assert_uint_ge(rec_wait(&f->rrec, SUPV_EV_START, "tp", 2), 2);
	t = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

struct cb_order {
	atomic_int value;
};

static void
store_done(const struct supv_task_result *res, void *arg)
{
	sleep_ms(20);
	atomic_store(&((struct cb_order *)arg)->value, (int)res->attempts + 40);
}

START_TEST(test_callback_before_wait)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct cb_order o = { 0 };
	struct supv_task *t;

	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_ok, NULL,
	    &(struct supv_task_opts){ .on_done = store_done, .done_arg = &o }, &t), 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	ck_assert_int_eq(atomic_load(&o.value), 41);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

START_TEST(test_release_early)
{
	/* A handle released before the task ran: it runs, nothing leaks. */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2 });
	struct supv_taskpool_stats st;
	unsigned i;

	for (i = 0; i < 50; i++)
		supv_task_release(submit(f->pool, t_fail_until, 2));
	ck_assert(POLL_UNTIL(supv_taskpool_stats(f->pool, &st) == 0 &&
	    st.pending == 0, WAIT_MS));
	ck_assert_uint_eq(st.succeeded, 50);
	ck_assert_uint_eq(st.retries, 50);
	fx_end(f);
}
END_TEST

START_TEST(test_handle_outlives_pool)
{
	/* The pool goes with its spec; a task's handle stays valid until released. */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1 });
	struct supv_task *t, *c;
	struct supv_task_result r;

	atomic_store(&gate, 0);
	atomic_store(&at_gate, 0);
	t = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	c = submit(f->pool, t_gate, 0);
	ck_assert(POLL_UNTIL(atomic_load(&at_gate) == 1, WAIT_MS));
	ck_assert_int_eq(supv_terminate_child(f->root, "tp"), 0);
	ck_assert_int_eq(supv_delete_child(f->root, "tp"), 0);
	ck_assert_int_eq(supv_task_poll(t, &r), 0);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	/* Stopped by its tree while running: its attempt returned 0. */
	ck_assert_int_eq(supv_task_wait(c, 0, &r), 0);
	ck_assert_int_eq(r.status, SUPV_TASK_DONE);
	supv_task_release(t);
	supv_task_release(c);
	fx_end(f);
}
END_TEST

struct chain {
	struct supv_taskpool *pool;
	atomic_int            left;
	atomic_int            done;
};

static void
chain_done(const struct supv_task_result *res, void *arg)
{
	struct chain *ch = arg;

	(void)res;
	atomic_fetch_add(&ch->done, 1);
	/* From a callback, submit without waiting. */
	if (atomic_fetch_sub(&ch->left, 1) > 1 &&
	    supv_taskpool_submit(ch->pool, t_fail_until, (void *)(intptr_t)2,
	    &(struct supv_task_opts){ .wait_ms = SUPV_ZERO, .on_done = chain_done,
	    .done_arg = ch }, NULL) != 0)
		atomic_fetch_add(&ch->done, 1000);
}

START_TEST(test_chain_and_waiters)
{
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2 });
	struct chain ch = { .left = 20 };
	struct waiter w[4];
	struct supv_task *g;
	pthread_t th[4];
	unsigned i;

	/* Each task's on_done submits the next: twenty in a row. */
	ch.pool = f->pool;
	ck_assert_int_eq(supv_taskpool_submit(f->pool, t_fail_until,
	    (void *)(intptr_t)2, &(struct supv_task_opts){ .on_done = chain_done,
	    .done_arg = &ch }, NULL), 0);
	ck_assert(POLL_UNTIL(atomic_load(&ch.done) >= 20, WAIT_MS));
	ck_assert_int_eq(atomic_load(&ch.done), 20);
	/* Four threads wait for one task. */
	atomic_store(&gate, 0);
	g = submit(f->pool, t_gate, 0);
	for (i = 0; i < 4; i++) {
		w[i].task = g;
		atomic_store(&w[i].rc, -1);
		ck_assert_int_eq(pthread_create(&th[i], NULL, wait_thread, &w[i]), 0);
	}
	sleep_ms(20);
	atomic_store(&gate, 1);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(atomic_load(&w[i].rc), 0);
		ck_assert_int_eq(w[i].res.status, SUPV_TASK_DONE);
	}
	supv_task_release(g);
	fx_end(f);
}
END_TEST

/* --- regressions: replacing workers, handing work to idle ones --- */

/* How many EXIT events of child had the exit kind exit. */
static unsigned
count_exits(struct rec *r, const char *child, enum supv_exit_kind exit)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		n += r->ev[i].kind == SUPV_EV_EXIT && r->ev[i].exit == exit &&
		    strcmp(r->ev[i].child, child) == 0;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* Runs until asked to stop on its first attempt; later ones succeed. */
static int
t_stall_first(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (supv_task_attempt(self) > 1)
		return 0;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

START_TEST(test_replace_fails)
{
	/*
	 * A worker replaced after a deadline cannot be started again at
	 * first: the pool tries again, and the task runs on it.  Before, the
	 * worker stayed down for good, the task queued for ever.
	 */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .deadline_ms = 50 });
	struct supv_taskpool_stats st;
	struct supv_task_result r;
	struct supv_task *t;
	unsigned i;

	/* A task in the pool's cache: submitting allocates nothing. */
	t = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	supv_task_release(t);
	for (i = 0; i < 2; i++) {
		/*
		 * The library's next allocation or thread creation fails: one
		 * that replacing the worker needs, as nothing else allocates
		 * meanwhile.  The first time, that of the thread that replaces
		 * workers; the second time, the worker's start.
		 */
		atomic_store(&supv_fault_countdown, 1);
		t = submit(f->pool, t_stall_first, 0);
		r = wait_ok(t);
		ck_assert_int_eq(r.status, SUPV_TASK_DONE);
		ck_assert_uint_eq(r.attempts, 2);
		ck_assert_int_eq(atomic_load(&supv_fault_countdown), 0);
		supv_task_release(t);
	}
	ck_assert_uint_ge(count_exits(&f->rec, "tp.0", SUPV_EXIT_START_FAILED), 1);
	ck_assert(POLL_UNTIL(supv_taskpool_stats(f->pool, &st) == 0 &&
	    st.workers == 1, WAIT_MS));
	fx_end(f);
}
END_TEST

static atomic_int deaf_gate;
static _Atomic(struct supv_worker *) deaf_self;

/* Ignores stop requests until deaf_gate opens. */
static int
t_deaf_gated(struct supv_worker *self, void *arg)
{
	(void)arg;
	atomic_store(&deaf_self, self);
	while (!atomic_load(&deaf_gate))
		sleep_ms(1);
	return 0;
}

START_TEST(test_deadline_while_replacing)
{
	/*
	 * A worker past its deadline ignores the stop, with no grace limit:
	 * its replacement lasts as long as it does, and no other deadline
	 * waits for it.  Before, the timer thread waited out the stop.
	 */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .attempts = 1, .deadline_ms = 50, .shutdown_ms = SUPV_INFINITY });
	struct supv_taskpool_stats st;
	struct supv_task_result r;
	struct supv_task *a, *b, *c;

	atomic_store(&deaf_gate, 0);
	atomic_store(&deaf_self, NULL);
	a = submit(f->pool, t_deaf_gated, 0);
	r = wait_ok(a);
	ck_assert_int_eq(r.status, SUPV_TASK_TIMED_OUT);
	/* Its worker is being stopped, until the gate opens. */
	ck_assert(POLL_UNTIL(supv_stopping(atomic_load(&deaf_self)), WAIT_MS));
	b = submit(f->pool, t_hang_until, 10);
	r = wait_ok(b);
	ck_assert_int_eq(r.status, SUPV_TASK_TIMED_OUT);
	ck_assert_uint_eq(r.attempts, 1);
	ck_assert_int_eq(supv_task_poll(a, NULL), 0);
	atomic_store(&deaf_gate, 1);
	/* Both workers are replaced, and the pool serves again. */
	c = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(c).status, SUPV_TASK_DONE);
	ck_assert(POLL_UNTIL(count_exits(&f->rec, "tp.0", SUPV_EXIT_SHUTDOWN) +
	    count_exits(&f->rec, "tp.1", SUPV_EXIT_SHUTDOWN) == 2 &&
	    supv_taskpool_stats(f->pool, &st) == 0 && st.workers == 2, WAIT_MS));
	supv_task_release(a);
	supv_task_release(b);
	supv_task_release(c);
	fx_end(f);
}
END_TEST

/*
 * Holding a worker's thread while it is idle.  A task unblocks SIGUSR1 on
 * its worker and records which it is; the signal then keeps that thread in
 * park_handler() until unpark().  A thread is parked only while it waits on
 * its run's condition variable, holding no lock, so that the rest of the
 * library goes on: as a thread the scheduler leaves aside, however long.
 */
struct parkee {
	pid_t               tid;
	pthread_t           thread;
	struct supv_worker *self;
	unsigned            index;	/* its slot */
};

static struct parkee pks[2];	/* by slot */
static atomic_int parked, unparked, met, meet;

static void
park_handler(int sig)
{
	struct timespec ms = { 0, 1000000 };

	(void)sig;
	atomic_fetch_add(&parked, 1);
	while (!atomic_load(&unparked))
		nanosleep(&ms, NULL);
}

static void
park_setup(void)
{
	struct sigaction sa = { .sa_handler = park_handler };

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	atomic_store(&parked, 0);
	atomic_store(&unparked, 0);
}

/* Records its worker in pks[], then waits until meet tasks have. */
static int
t_parkable(struct supv_worker *self, void *arg)
{
	const char *id = supv_worker_id(self);
	unsigned k = (unsigned)strtoul(strrchr(id, '.') + 1, NULL, 10);
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pks[k] = (struct parkee){ .tid = (pid_t)syscall(SYS_gettid),
	    .thread = pthread_self(), .self = self, .index = k };
	atomic_fetch_add(&met, 1);
	while (atomic_load(&met) < atomic_load(&meet) && supv_sleep(self, 1) == 0)
		;
	return 0;
}

/* Runs n parkable tasks at once, on n workers. */
static void
run_parkable(struct supv_taskpool *p, unsigned n)
{
	struct supv_task *t[2];
	unsigned i;

	atomic_store(&met, 0);
	atomic_store(&meet, (int)n);
	for (i = 0; i < n; i++)
		t[i] = submit(p, t_parkable, 0);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(wait_ok(t[i]).status, SUPV_TASK_DONE);
		supv_task_release(t[i]);
	}
}

/* Whether a thread is blocked on a futex in [addr, addr + len) (Linux). */
static bool
futex_waits(pid_t tid, const void *addr, size_t len)
{
	char path[64];
	unsigned long a;
	long nr;
	FILE *f;
	bool in;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	in = fscanf(f, "%ld %lx", &nr, &a) == 2 && nr == SYS_futex &&
	    a >= (uintptr_t)addr && a < (uintptr_t)addr + len;
	fclose(f);
	return in;
}

/* Whether the worker is idle: sleeping on its run's wake word. */
static bool
idle_waiting(const struct parkee *pk)
{
	return futex_waits(pk->tid, &pk->self->wake, sizeof(pk->self->wake));
}

static void
park(const struct parkee *pk)
{
	int n = atomic_load(&parked);

	ck_assert(POLL_UNTIL(idle_waiting(pk), WAIT_MS));
	ck_assert_int_eq(pthread_kill(pk->thread, SIGUSR1), 0);
	ck_assert(POLL_UNTIL(atomic_load(&parked) == n + 1, WAIT_MS));
}

static void
unpark(void)
{
	atomic_store(&unparked, 1);
}

/* The idle worker the next task is handed to. */
static struct parkee *
idle_head(struct supv_taskpool *p)
{
	struct tp_slot *sl;

	pthread_mutex_lock(&p->mu);
	sl = LIST_FIRST(&p->idle);
	pthread_mutex_unlock(&p->mu);
	ck_assert_ptr_nonnull(sl);
	ck_assert_ptr_eq(pks[sl->index].self, sl->run);
	return &pks[sl->index];
}

static bool
slot_is_idle(struct supv_taskpool *p, unsigned k)
{
	bool idle;

	pthread_mutex_lock(&p->mu);
	idle = p->slots[k].idle;
	pthread_mutex_unlock(&p->mu);
	return idle;
}

START_TEST(test_abandoned_idle_worker)
{
	/*
	 * An idle worker does not wake within its grace: its run is
	 * abandoned and its slot started again.  When it wakes at last, it
	 * leaves the slot to its successor, which is still handed work.
	 * Before, it took the new run off the idle list: nothing woke it.
	 */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 1,
	    .shutdown_ms = 20 });
	struct parkee old;
	struct supv_task *t;
	int n;

	park_setup();
	run_parkable(f->pool, 1);
	old = pks[0];
	park(&old);
	/* Its pool is restarted: the idle worker outlives its grace. */
	ck_assert_int_eq(supv_terminate_child(f->root, "tp"), 0);
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_STOP_TIMEOUT, "tp.0"), 1);
	ck_assert_int_eq(supv_restart_child(f->root, "tp"), 0);
	run_parkable(f->pool, 1);
	ck_assert_ptr_ne(pks[0].self, old.self);
	ck_assert(POLL_UNTIL(idle_waiting(&pks[0]), WAIT_MS));
	n = nthreads();
	unpark();
	ck_assert(POLL_UNTIL(nthreads() == n - 1, WAIT_MS));
	ck_assert(slot_is_idle(f->pool, 0));
	t = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

struct child_stop {
	struct supv *sup;
	const char  *id;
	atomic_int   rc;
};

static void *
terminate_thread(void *arg)
{
	struct child_stop *cs = arg;

	atomic_store(&cs->rc, supv_terminate_child(cs->sup, cs->id));
	return NULL;
}

START_TEST(test_handoff_to_stopping)
{
	/*
	 * The idle worker that went idle last is being stopped: a task is
	 * handed to the other one.  Before, it was handed to the one that
	 * would never take it, and waited for the next submit.
	 */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .shutdown_ms = SUPV_INFINITY });
	struct child_stop cs = { .sup = f->pool->sup };
	struct parkee *h;
	struct supv_task *t;
	pthread_t th;

	park_setup();
	run_parkable(f->pool, 2);
	ck_assert(POLL_UNTIL(idle_waiting(&pks[0]) && idle_waiting(&pks[1]),
	    WAIT_MS));
	h = idle_head(f->pool);
	park(h);
	cs.id = supv_worker_id(h->self);
	atomic_store(&cs.rc, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, terminate_thread, &cs), 0);
	ck_assert(POLL_UNTIL(supv_stopping(h->self), WAIT_MS));
	/* It cannot stop while parked: the task must go to the other. */
	t = submit(f->pool, t_ok, 0);
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	ck_assert_int_eq(atomic_load(&parked), 1);
	unpark();
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&cs.rc), 0);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

START_TEST(test_handoff_declined)
{
	/*
	 * The idle worker handed a task is asked to stop before it takes it:
	 * it passes the task on to another idle worker.  Before, the task
	 * waited for the next submit.
	 */
	struct fx *f = fx_start((struct supv_taskpool_opts){ .workers = 2,
	    .shutdown_ms = SUPV_INFINITY });
	struct child_stop cs = { .sup = f->pool->sup };
	struct parkee *h;
	struct supv_task *t;
	pthread_t th;

	park_setup();
	run_parkable(f->pool, 2);
	ck_assert(POLL_UNTIL(idle_waiting(&pks[0]) && idle_waiting(&pks[1]),
	    WAIT_MS));
	h = idle_head(f->pool);
	park(h);
	t = submit(f->pool, t_ok, 0);
	/* Handed to the parked worker, which is taken off the idle list. */
	ck_assert(!slot_is_idle(f->pool, h->index));
	ck_assert(slot_is_idle(f->pool, 1 - h->index));
	cs.id = supv_worker_id(h->self);
	atomic_store(&cs.rc, -1);
	ck_assert_int_eq(pthread_create(&th, NULL, terminate_thread, &cs), 0);
	ck_assert(POLL_UNTIL(supv_stopping(h->self), WAIT_MS));
	unpark();
	ck_assert_int_eq(wait_ok(t).status, SUPV_TASK_DONE);
	pthread_join(th, NULL);
	ck_assert_int_eq(atomic_load(&cs.rc), 0);
	supv_task_release(t);
	fx_end(f);
}
END_TEST

Suite *
suite_taskpool(void)
{
	Suite *s = suite_create("taskpool");
	TCase *tc;

	tc = tcase_create("run");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_retry_until_success);
	tcase_add_test(tc, test_exhausted);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_callback_before_wait);
	tcase_add_test(tc, test_release_early);
	tcase_add_test(tc, test_chain_and_waiters);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("plain");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_plain_order);
	tcase_add_test(tc, test_plain_retries);
	tcase_add_test(tc, test_plain_deadline);
	tcase_add_test(tc, test_plain_cancelled);
	tcase_add_test(tc, test_plain_faults);
	suite_add_tcase(s, tc);

	tc = tcase_create("prefetch");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_took_first_fails);
	tcase_add_test(tc, test_took_taken_over);
	tcase_add_test(tc, test_took_counts);
	tcase_add_test(tc, test_took_room);
	tcase_add_test(tc, test_took_prefetch_one);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_hung);
	tcase_add_test(tc, test_crashed);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_deadline_deaf);
	tcase_add_test(tc, test_pool_gives_up);
	suite_add_tcase(s, tc);

	tc = tcase_create("backpressure");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_cancel_task);
	tcase_add_test(tc, test_many_submitters);
	suite_add_tcase(s, tc);

	tc = tcase_create("stop");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_stop_drain);
	tcase_add_test(tc, test_stop_cancel);
	tcase_add_test(tc, test_drain_timeout);
	tcase_add_test(tc, test_tree_stop_cancels);
	tcase_add_test(tc, test_handle_outlives_pool);
	suite_add_tcase(s, tc);

	tc = tcase_create("replace");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_replace_fails);
	tcase_add_test(tc, test_deadline_while_replacing);
	suite_add_tcase(s, tc);

	tc = tcase_create("handoff");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_abandoned_idle_worker);
	tcase_add_test(tc, test_handoff_to_stopping);
	tcase_add_test(tc, test_handoff_declined);
	suite_add_tcase(s, tc);
	return s;
}
