/*
 * check_fencing.c - fencing stale runs: supv_superseded() turns true for
 * a run abandoned after its grace and for a task attempt given up after
 * its deadline, never for the run that replaces it; supv_epoch() numbers
 * a child's runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tests.h"

#define RUNS 8

struct fence {
	atomic_uint  runs;
	atomic_ullong epoch[RUNS];
	atomic_int   early[RUNS];     /* superseded when it began: 1 */
	atomic_int   saw[RUNS];       /* 1: saw itself superseded; -1: never did */
	int          fail_first;      /* runs that return 1 at once */
	int          wait_run;        /* this run ignores its stop request and
	                                 waits to be superseded (-1: none) */
};

static void
nap_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * The first fail_first runs fail at once.  Run wait_run ignores its stop
 * request and waits, without the library's help, until it is superseded
 * (or WAIT_MS pass); the others sleep until asked to stop.  Each records
 * whether it saw itself superseded at its end.
 */
static int
w_fenced(struct supv_worker *self, void *arg)
{
	struct fence *f = arg;
	unsigned n = atomic_fetch_add(&f->runs, 1), i;

	if (n < RUNS) {
		atomic_store(&f->epoch[n], supv_epoch(self));
		atomic_store(&f->early[n], supv_superseded(self));
	}
	if ((int)n < f->fail_first)
		return 1;
	if ((int)n == f->wait_run)
		for (i = 0; i < WAIT_MS && !supv_superseded(self); i++)
			nap_ms(1);
	else
		while (supv_sleep(self, SUPV_INFINITY) == 0)
			;
	if (n < RUNS)
		atomic_store(&f->saw[n], supv_superseded(self) ? 1 : -1);
	return 0;
}

START_TEST(test_abandoned_run_is_superseded)
{
	struct fence f = { .fail_first = 0, .wait_run = 0 };
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .shutdown_ms = 20, .on_timeout = SUPV_TIMEOUT_ABANDON },
	    w_fenced, &f), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&f.runs) == 1, WAIT_MS));
	/* Stopped, it does not stop: abandoned after 20 ms, then replaced. */
	ck_assert_int_eq(supv_terminate_child(root, "w"), 0);
	ck_assert_int_eq(supv_restart_child(root, "w"), 0);
	ck_assert(POLL_UNTIL(atomic_load(&f.saw[0]) != 0, 2 * WAIT_MS));
	ck_assert_int_eq(atomic_load(&f.saw[0]), 1);
	ck_assert(POLL_UNTIL(atomic_load(&f.runs) >= 2, WAIT_MS));
	ck_assert_int_eq(atomic_load(&f.early[0]), 0);
	ck_assert_int_eq(atomic_load(&f.early[1]), 0);
	ck_assert_uint_gt(atomic_load(&f.epoch[1]), atomic_load(&f.epoch[0]));
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "w"), 1);
	supv_free(root);
	ck_assert_int_eq(atomic_load(&f.saw[1]), -1);
	rec_destroy(&rec);
}
END_TEST

/* Runs that end and are restarted are not superseded; epochs grow by one. */
static void
epochs_grow(bool same_thread)
{
	struct fence f = { .fail_first = 3, .wait_run = -1 };
	struct supv *root;
	unsigned i;

	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .same_thread = same_thread }, w_fenced, &f), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&f.runs) == 4, WAIT_MS));
	for (i = 0; i < 4; i++) {
		ck_assert_uint_eq(atomic_load(&f.epoch[i]), i + 1);
		ck_assert_int_eq(atomic_load(&f.early[i]), 0);
	}
	ck_assert_int_eq(atomic_load(&f.saw[3]), 0);
	/* Run 3 stops when asked, within its grace: never superseded. */
	supv_free(root);
	ck_assert_int_eq(atomic_load(&f.saw[3]), -1);
}

START_TEST(test_epochs_grow)
{
	epochs_grow(false);
}
END_TEST

START_TEST(test_epochs_grow_same_thread)
{
	epochs_grow(true);
}
END_TEST

START_TEST(test_null_self)
{
	ck_assert(!supv_superseded(NULL));
	ck_assert_uint_eq(supv_epoch(NULL), 0);
}
END_TEST

/* ---- task attempts ---- */

struct tfence {
	atomic_int first;     /* attempt 1: 1 saw itself superseded, -1 never */
	atomic_int second;    /* attempt 2: superseded when it ran: 1, else -1 */
};

static int
t_fenced(struct supv_worker *self, void *arg)
{
	struct tfence *f = arg;
	unsigned i;

	if (supv_task_attempt(self) == 1) {
		/* Past its deadline, it keeps going until it is fenced off. */
		for (i = 0; i < WAIT_MS && !supv_superseded(self); i++)
			nap_ms(1);
		atomic_store(&f->first, supv_superseded(self) ? 1 : -1);
		return 0;
	}
	atomic_store(&f->second, supv_superseded(self) ? 1 : -1);
	return 0;
}

START_TEST(test_task_attempt_superseded)
{
	struct tfence f = { 0 };
	struct supv_task_result res;
	struct supv_taskpool *pool;
	struct supv_task *t;
	struct supv *root;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_taskpool_add(root, &(struct supv_child_opts){
	    .id = "tp" }, &(struct supv_taskpool_opts){ .workers = 2,
	    .attempts = 2, .deadline_ms = 30, .shutdown_ms = WAIT_MS },
	    &pool), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_taskpool_submit(pool, t_fenced, &f, NULL, &t), 0);
	ck_assert_int_eq(supv_task_wait(t, 3 * WAIT_MS, &res), 0);
	ck_assert_int_eq(res.status, SUPV_TASK_DONE);
	ck_assert_uint_eq(res.attempts, 2);
	ck_assert_int_eq(atomic_load(&f.second), -1);
	ck_assert(POLL_UNTIL(atomic_load(&f.first) != 0, 2 * WAIT_MS));
	ck_assert_int_eq(atomic_load(&f.first), 1);
	supv_task_release(t);
	supv_free(root);
}
END_TEST

Suite *
suite_fencing(void)
{
	Suite *s = suite_create("fencing");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_abandoned_run_is_superseded);
	tcase_add_test(tc, test_epochs_grow);
	tcase_add_test(tc, test_epochs_grow_same_thread);
	tcase_add_test(tc, test_null_self);
	tcase_add_test(tc, test_task_attempt_superseded);
	suite_add_tcase(s, tc);
	return s;
}
