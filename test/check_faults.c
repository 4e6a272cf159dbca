/*
 * check_faults.c - fault injection: the n-th allocation or thread creation
 * of the library fails (supv_fault_countdown, lib/base/fault.c), for n = 1, 2, ...
 * over every failure point of building, starting, restarting, changing and
 * stopping a tree, until an iteration runs without the fault firing.  For
 * each n: the call returns 0 or a documented errno, a failed call changed
 * nothing, a failed restart is an EXIT of kind START_FAILED with the
 * documented escalation, the tree can still be stopped and freed, and the
 * process's threads come back to where they were.  Leaks are LSan's (the
 * SAN=address run): Check runs each test in a process of its own.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

extern atomic_long supv_fault_countdown;

/* No scenario has nearly this many failure points: a walk that gets here loops. */
#define MAX_N 1000

static struct rec R;
static atomic_int frees;		/* arg_free calls */
static atomic_int trig_root, trig_mid;	/* make "t" / "u" fail once */
static bool armed;

static void
arm(long n)
{
	armed = true;
	atomic_store(&supv_fault_countdown, n);
}

/* Disarms the countdown; true if the fault fired. */
static bool
disarm(void)
{
	armed = false;
	return atomic_exchange(&supv_fault_countdown, 0) == 0;
}

/* Whether a call may have failed because of the armed fault. */
static bool
fault_spent(void)
{
	return armed && atomic_load(&supv_fault_countdown) == 0;
}


#define WAIT_THREADS(want) do {                                               \
	int want_ = (want);                                                   \
	ck_assert_msg(POLL_UNTIL(nthreads() == want_, WAIT_MS),               \
	    "n=%ld: %d threads, want %d", cur_n, nthreads(), want_);          \
} while (0)

static long cur_n;	/* the n of the current iteration, for messages */

/* With FAULTS_VERBOSE set, says how many failure points a walk found. */
static void
walked(const char *what)
{
	if (getenv("FAULTS_VERBOSE") != NULL)
		fprintf(stderr, "faults: %s: %ld failure points\n", what, cur_n - 1);
}

/* Events of a kind from a supervisor (NULL: any), of a child (NULL: any),
 * of an exit kind (-1: any). */
static unsigned
evs(enum supv_event_kind kind, const char *sup, const char *child, int exit)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&R.mu);
	for (i = 0; i < R.n; i++) {
		const struct rec_ev *e = &R.ev[i];

		n += e->kind == kind && (sup == NULL || strcmp(e->sup, sup) == 0) &&
		    (child == NULL || strcmp(e->child, child) == 0) &&
		    (exit < 0 || (int)e->exit == exit);
	}
	pthread_mutex_unlock(&R.mu);
	return n;
}

static struct supv_counts
counts(struct supv *s)
{
	struct supv_counts c = { 0 };

	if (s != NULL)
		ck_assert_int_eq(supv_count_children(s, &c), 0);
	return c;
}

static bool
same_counts(struct supv_counts a, struct supv_counts b)
{
	return a.specs == b.specs && a.active == b.active &&
	    a.supervisors == b.supervisors && a.workers == b.workers;
}

static struct supv_child_info
child_info(struct supv *s, const char *id)
{
	struct supv_child_info ci[16];
	size_t n, i;

	ck_assert_int_eq(supv_which_children(s, ci, 16, &n), 0);
	for (i = 0; i < n && i < 16; i++)
		if (strcmp(ci[i].id, id) == 0)
			return ci[i];
	ck_abort_msg("no child %s", id);
	return ci[0];
}

/* Runs until asked to stop; fails (7) once when *arg is set. */
static int
w_trigger(struct supv_worker *self, void *arg)
{
	atomic_int *flag = arg;

	while (supv_sleep(self, 2) == 0)
		if (atomic_exchange(flag, 0) != 0)
			return 7;
	return 0;
}

/* Ignores a stop request for 100 ms, then returns. */
static atomic_int ignorers;
static int
w_ignorer(struct supv_worker *self, void *arg)
{
	(void)arg;
	atomic_fetch_add(&ignorers, 1);
	while (!supv_stopping(self))
		sleep_ms(1);
	sleep_ms(100);
	atomic_fetch_sub(&ignorers, 1);
	return 0;
}

/*
 * One building call.  When it fails, the armed fault must be why, the error
 * one the call documents, nothing changed (the counts of sup, the arg_free
 * calls, and the condition chk), and the same call must then succeed.
 */
#define STEP(sup, expr, chk) do {                                             \
	struct supv_counts b_ = counts(sup);                                  \
	int f_ = atomic_load(&frees), rc_ = (expr);                           \
	if (rc_ != 0) {                                                       \
		ck_assert_msg(fault_spent(), "n=%ld: %s: %s without a fault", \
		    cur_n, #expr, strerror(rc_));                             \
		ck_assert_msg(rc_ == ENOMEM || rc_ == EAGAIN,                 \
		    "n=%ld: %s: %s", cur_n, #expr, strerror(rc_));            \
		ck_assert_msg(same_counts(b_, counts(sup)),                   \
		    "n=%ld: failed %s changed the counts", cur_n, #expr);     \
		ck_assert_int_eq(atomic_load(&frees), f_);                    \
		ck_assert_msg((chk), "n=%ld: after failed %s: !(%s)", cur_n,  \
		    #expr, #chk);                                             \
		T->nfail++;                                                   \
		ck_assert_int_eq((expr), 0);                                  \
	}                                                                     \
} while (0)

/*
 * The tree of most scenarios, three levels deep:
 *   root (one_for_one): a (arg_free), t (trigger), mid, e
 *   mid (one_for_all, intensity 1): c, u (trigger), leaf, pool
 *   leaf (one_for_one): d, s (same_thread)
 *   pool: pool.0 .. pool.2 (arg_free)
 */
struct tree {
	struct supv *root, *mid, *leaf;
	unsigned     nfail;
};

/* Threads of the running tree: 4 loops and 10 workers. */
#define TREE_THREADS 14

static void
build(struct tree *T, unsigned root_intensity, bool signals)
{
	struct supv *root = NULL, *mid = NULL, *leaf = NULL, *none = NULL;

	STEP(none, supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = root_intensity, .on_event = rec_cb, .event_arg = &R }),
	    root == NULL);
	STEP(root, supv_add_worker(root, &(struct supv_child_opts){ .id = "a",
	    .arg_free = count_free }, w_sleeper, &frees), 1);
	STEP(root, supv_add_worker(root, &(struct supv_child_opts){ .id = "t",
	    .shutdown_ms = 2000 }, w_trigger, &trig_root), 1);
	STEP(none, supv_new(&mid, &(struct supv_opts){ .name = "mid",
	    .strategy = SUPV_ONE_FOR_ALL, .on_event = rec_cb, .event_arg = &R }),
	    mid == NULL);
	STEP(mid, supv_add_worker(mid, &(struct supv_child_opts){ .id = "c" },
	    w_sleeper, NULL), 1);
	STEP(mid, supv_add_worker(mid, &(struct supv_child_opts){ .id = "u" },
	    w_trigger, &trig_mid), 1);
	STEP(none, supv_new(&leaf, &(struct supv_opts){ .name = "leaf",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &R }),
	    leaf == NULL);
	STEP(leaf, supv_add_worker(leaf, &(struct supv_child_opts){ .id = "d" },
	    w_sleeper, NULL), 1);
	STEP(leaf, supv_add_worker(leaf, &(struct supv_child_opts){ .id = "s",
	    .same_thread = true }, w_sleeper, NULL), 1);
	/* A failed add_sup leaves leaf to us, as it was. */
	STEP(mid, supv_add_sup(mid, &(struct supv_child_opts){ .id = "leaf" }, leaf),
	    counts(leaf).specs == 2);
	STEP(mid, supv_add_pool(mid, &(struct supv_child_opts){ .id = "pool",
	    .arg_free = count_free }, &(struct supv_pool_opts){ .size = 3 },
	    w_sleeper, &frees), 1);
	STEP(root, supv_add_sup(root, &(struct supv_child_opts){ .id = "mid" }, mid),
	    counts(mid).specs == 4);
	STEP(root, supv_add_worker(root, &(struct supv_child_opts){ .id = "e",
	    .restart = SUPV_TRANSIENT }, w_sleeper, NULL), 1);
	STEP(root, supv_notify_systemd(root, SUPV_NOTIFY_ALL), 1);
	if (signals)
		STEP(root, supv_stop_on_signals(root, (int[]){ SIGUSR2 }, 1), 1);
	T->root = root;
	T->mid = mid;
	T->leaf = leaf;
}

static void
setup(struct tree *T, unsigned root_intensity)
{
	rec_init(&R);
	atomic_store(&frees, 0);
	atomic_store(&trig_root, 0);
	atomic_store(&trig_mid, 0);
	memset(T, 0, sizeof(*T));
	build(T, root_intensity, false);
}

static void
check_built(struct tree *T)
{
	struct supv_counts c;

	c = counts(T->root);
	ck_assert_uint_eq(c.specs, 4);
	ck_assert_uint_eq(c.supervisors, 1);
	ck_assert_uint_eq(c.workers, 3);
	c = counts(T->mid);
	ck_assert_uint_eq(c.specs, 4);
	ck_assert_uint_eq(c.supervisors, 2);
	c = counts(T->leaf);
	ck_assert_uint_eq(c.specs, 2);
}

/* Every spec of the tree has a running child (active), or none has. */
static void
check_active(struct tree *T, bool running)
{
	ck_assert_uint_eq(counts(T->root).active, running ? 4 : 0);
	ck_assert_uint_eq(counts(T->mid).active, running ? 4 : 0);
	ck_assert_uint_eq(counts(T->leaf).active, running ? 2 : 0);
}

/* Stops and frees the tree; every thread it made ends, every arg is freed. */
static void
finish(struct tree *T, int base)
{
	enum supv_exit_kind why;

	ck_assert_int_eq(supv_stop(T->root), 0);
	ck_assert_int_eq(supv_wait(T->root, &why), 0);
	check_active(T, false);
	supv_free(T->root);
	WAIT_THREADS(base);
	ck_assert_int_eq(atomic_load(&frees), 2);
	rec_destroy(&R);
}

/* Building: every allocation of supv_new, add_worker, add_sup, add_pool. */
START_TEST(test_build)
{
	int base = base_threads();
	struct tree t, *T = &t;
	bool fired;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		rec_init(&R);
		atomic_store(&frees, 0);
		memset(T, 0, sizeof(*T));
		arm(cur_n);
		build(T, 10, true);
		fired = disarm();
		ck_assert_uint_eq(T->nfail, fired ? 1 : 0);
		check_built(T);
		check_active(T, false);
		ck_assert_uint_eq(R.n, 0);
		/* The signal thread is the only one so far. */
		WAIT_THREADS(base + 1);
		ck_assert_int_eq(supv_start(T->root), 0);
		check_active(T, true);
		WAIT_THREADS(base + 1 + TREE_THREADS);
		finish(T, base);
		if (!fired)
			break;
	}
	walked("build");
	ck_assert_int_lt(cur_n, MAX_N);
	ck_assert_int_ge(cur_n, 15);	/* each call allocates at least once */
}
END_TEST

/* Starting a three-level tree: every allocation and thread of supv_start. */
START_TEST(test_start)
{
	int base = base_threads();
	struct tree t, *T = &t;
	struct supv_counts b[3];
	enum supv_exit_kind why;
	bool fired;
	int rc;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		setup(T, 1);
		b[0] = counts(T->root);
		b[1] = counts(T->mid);
		b[2] = counts(T->leaf);
		arm(cur_n);
		rc = supv_start(T->root);
		fired = disarm();
		if (!fired) {
			ck_assert_int_eq(rc, 0);
			check_active(T, true);
			WAIT_THREADS(base + TREE_THREADS);
			finish(T, base);
			break;
		}
		ck_assert_msg(rc == ECHILD || rc == EAGAIN, "n=%ld: supv_start: %s",
		    cur_n, strerror(rc));
		if (rc == ECHILD) {
			/* The run is over: started children were stopped. */
			ck_assert_int_eq(supv_wait(T->root, &why), 0);
			ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
			ck_assert_uint_ge(evs(SUPV_EV_EXIT, NULL, NULL,
			    SUPV_EXIT_START_FAILED), 1);
			ck_assert_uint_eq(evs(SUPV_EV_SUP_EXIT, "root", NULL,
			    SUPV_EXIT_START_FAILED), 1);
			ck_assert_uint_eq(evs(SUPV_EV_START, NULL, NULL, -1),
			    evs(SUPV_EV_EXIT, NULL, NULL, -1) -
			    evs(SUPV_EV_EXIT, NULL, NULL, SUPV_EXIT_START_FAILED));
		} else {
			/* No loop thread: nothing happened at all. */
			ck_assert_int_eq(supv_wait(T->root, &why), ESRCH);
			ck_assert_uint_eq(R.n, 0);
		}
		/* Every spec is kept, none is active, no thread is left. */
		ck_assert(same_counts(counts(T->root), (struct supv_counts){
		    b[0].specs, 0, b[0].supervisors, b[0].workers }));
		ck_assert(same_counts(counts(T->mid), b[1]));
		ck_assert(same_counts(counts(T->leaf), b[2]));
		ck_assert_int_eq(atomic_load(&frees), 0);
		WAIT_THREADS(base);
		/* Still stoppable, and it starts whole without the fault. */
		ck_assert_int_eq(supv_stop(T->root), 0);
		ck_assert_int_eq(supv_start(T->root), 0);
		check_active(T, true);
		WAIT_THREADS(base + TREE_THREADS);
		finish(T, base);
	}
	walked("start");
	ck_assert_int_lt(cur_n, MAX_N);
	ck_assert_int_ge(cur_n, 20);
}
END_TEST

/*
 * Restarting one for one at the root: "t" fails and its restart hits the
 * fault.  A failed restart is an exit of kind START_FAILED, counted: with
 * intensity 1 the root gives up (the run ends GAVE_UP), with intensity 5 it
 * restarts "t" again.
 */
START_TEST(test_restart_one_for_one)
{
	unsigned intensity = _i == 0 ? 1 : 5;
	int base = base_threads();
	struct tree t, *T = &t;
	enum supv_exit_kind why;
	bool fired;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		setup(T, intensity);
		ck_assert_int_eq(supv_start(T->root), 0);
		WAIT_THREADS(base + TREE_THREADS);
		arm(cur_n);
		atomic_store(&trig_root, 1);
		ck_assert(POLL_UNTIL(evs(SUPV_EV_START, "root", "t", -1) == 2 ||
		    evs(SUPV_EV_SUP_EXIT, "root", NULL, -1) == 1, WAIT_MS));
		fired = disarm();
		ck_assert_uint_eq(evs(SUPV_EV_EXIT, "root", "t", SUPV_EXIT_FAILURE), 1);
		if (!fired) {
			ck_assert_uint_eq(evs(SUPV_EV_RESTART, "root", "t", -1), 1);
			check_active(T, true);
			finish(T, base);
			break;
		}
		ck_assert_uint_eq(evs(SUPV_EV_EXIT, "root", "t",
		    SUPV_EXIT_START_FAILED), 1);
		if (intensity == 1) {
			ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, "root", NULL, -1), 1);
			ck_assert_int_eq(supv_wait(T->root, &why), 0);
			ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
			check_active(T, false);
			WAIT_THREADS(base);
			ck_assert_int_eq(supv_stop(T->root), 0);
			ck_assert_int_eq(supv_wait(T->root, &why), 0);
			ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
			supv_free(T->root);
			WAIT_THREADS(base);
			ck_assert_int_eq(atomic_load(&frees), 2);
			rec_destroy(&R);
			continue;
		}
		ck_assert(POLL_UNTIL(evs(SUPV_EV_START, "root", "t", -1) == 2, WAIT_MS));
		ck_assert_uint_eq(evs(SUPV_EV_RESTART, "root", "t", -1), 2);
		ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, NULL, NULL, -1), 0);
		check_active(T, true);
		WAIT_THREADS(base + TREE_THREADS);
		finish(T, base);
	}
	walked(intensity == 1 ? "restart one_for_one (intensity 1)" :
	    "restart one_for_one (intensity 5)");
	ck_assert_int_lt(cur_n, MAX_N);
	ck_assert_int_ge(cur_n, 2);
}
END_TEST

/*
 * A group restart: "u" fails in mid (one_for_all, intensity 1), which
 * restarts c, u, leaf (a loop and two workers) and pool (a loop and three
 * workers).  When one of those starts fails, that START_FAILED exit is a
 * second restart within mid's window: mid gives up, root sees mid end
 * GAVE_UP and restarts it whole.
 */
START_TEST(test_restart_group)
{
	int base = base_threads();
	struct tree t, *T = &t;
	bool fired;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		setup(T, 1);
		ck_assert_int_eq(supv_start(T->root), 0);
		WAIT_THREADS(base + TREE_THREADS);
		arm(cur_n);
		atomic_store(&trig_mid, 1);
		/* pool is mid's last child: its START ends a group restart. */
		ck_assert(POLL_UNTIL(evs(SUPV_EV_START, "mid", "pool", -1) == 2 &&
		    (evs(SUPV_EV_GIVE_UP, "mid", NULL, -1) == 0 ||
		    evs(SUPV_EV_START, "root", "mid", -1) == 2), WAIT_MS));
		fired = disarm();
		ck_assert_uint_eq(evs(SUPV_EV_EXIT, "mid", "u", SUPV_EXIT_FAILURE), 1);
		if (!fired) {
			ck_assert_uint_eq(evs(SUPV_EV_RESTART, "mid", NULL, -1), 4);
			ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, NULL, NULL, -1), 0);
		} else {
			ck_assert_uint_eq(evs(SUPV_EV_EXIT, "mid", NULL,
			    SUPV_EXIT_START_FAILED), 1);
			ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, "mid", NULL, -1), 1);
			ck_assert_uint_eq(evs(SUPV_EV_SUP_EXIT, "mid", NULL,
			    SUPV_EXIT_GAVE_UP), 1);
			ck_assert_uint_eq(evs(SUPV_EV_EXIT, "root", "mid",
			    SUPV_EXIT_GAVE_UP), 1);
			ck_assert_uint_eq(evs(SUPV_EV_RESTART, "root", "mid", -1), 1);
			ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, "root", NULL, -1), 0);
		}
		ck_assert_uint_eq(evs(SUPV_EV_SUP_EXIT, "root", NULL, -1), 0);
		check_active(T, true);
		WAIT_THREADS(base + TREE_THREADS);
		finish(T, base);
		if (!fired)
			break;
	}
	walked("restart one_for_all group");
	ck_assert_int_lt(cur_n, MAX_N);
	ck_assert_int_ge(cur_n, 8);
}
END_TEST

/* Beats until *arg is set, then hangs 200 ms deaf to its stop request. */
static atomic_int hang_live;
static int
w_hang_once(struct supv_worker *self, void *arg)
{
	atomic_int *flag = arg;

	atomic_fetch_add(&hang_live, 1);
	for (;;) {
		supv_heartbeat(self);
		if (atomic_exchange(flag, 0) != 0) {
			sleep_ms(200);
			break;
		}
		if (supv_sleep(self, 2) != 0)
			break;
	}
	atomic_fetch_sub(&hang_live, 1);
	return 0;
}

/*
 * Restarting a worker whose last run was abandoned (hung, deaf to its stop
 * request past its grace): the restart needs a new run (an allocation) as
 * well as a thread.  With intensity 5 a failed restart is retried.
 */
START_TEST(test_restart_abandoned)
{
	int base = base_threads();
	struct supv *root;
	bool fired;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		rec_init(&R);
		atomic_store(&trig_root, 0);
		atomic_store(&hang_live, 0);
		ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
		    .intensity = 5, .on_event = rec_cb, .event_arg = &R }), 0);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = "h", .heartbeat_ms = 30, .shutdown_ms = 10 }, w_hang_once,
		    &trig_root), 0);
		ck_assert_int_eq(supv_start(root), 0);
		WAIT_THREADS(base + 2);
		arm(cur_n);
		atomic_store(&trig_root, 1);
		ck_assert(POLL_UNTIL(evs(SUPV_EV_START, "root", "h", -1) == 2 ||
		    evs(SUPV_EV_SUP_EXIT, "root", NULL, -1) == 1, WAIT_MS));
		fired = disarm();
		ck_assert_uint_eq(evs(SUPV_EV_HUNG, "root", "h", -1), 1);
		ck_assert_uint_eq(evs(SUPV_EV_STOP_TIMEOUT, "root", "h", -1), 1);
		ck_assert_uint_eq(evs(SUPV_EV_EXIT, "root", "h", SUPV_EXIT_HUNG), 1);
		ck_assert_uint_eq(evs(SUPV_EV_START, "root", "h", -1), 2);
		ck_assert_uint_eq(evs(SUPV_EV_EXIT, "root", "h", SUPV_EXIT_START_FAILED),
		    fired ? 1 : 0);
		ck_assert_uint_eq(evs(SUPV_EV_RESTART, "root", "h", -1), fired ? 2 : 1);
		ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, NULL, NULL, -1), 0);
		ck_assert_uint_eq(counts(root).active, 1);
		ck_assert_int_eq(supv_stop(root), 0);
		supv_free(root);
		ck_assert(POLL_UNTIL(atomic_load(&hang_live) == 0, WAIT_MS));
		WAIT_THREADS(base);
		rec_destroy(&R);
		if (!fired)
			break;
	}
	walked("restart after an abandoned run");
	ck_assert_int_lt(cur_n, MAX_N);
	ck_assert_int_ge(cur_n, 3);	/* a run and a thread */
}
END_TEST

/*
 * Stopping (_i == 0: supv_stop then supv_free; 1: supv_free of a running
 * tree) with a worker that outlives its grace and is abandoned.
 */
START_TEST(test_stop_free)
{
	int base = base_threads();
	struct tree t, *T = &t;
	bool fired;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		setup(T, 1);
		atomic_store(&ignorers, 0);
		ck_assert_int_eq(supv_add_worker(T->root, &(struct supv_child_opts){
		    .id = "i", .shutdown_ms = 20 }, w_ignorer, NULL), 0);
		ck_assert_int_eq(supv_start(T->root), 0);
		WAIT_THREADS(base + TREE_THREADS + 1);
		arm(cur_n);
		if (_i == 0)
			ck_assert_int_eq(supv_stop(T->root), 0);
		supv_free(T->root);
		fired = disarm();
		ck_assert_uint_eq(evs(SUPV_EV_STOP_TIMEOUT, "root", "i", -1), 1);
		ck_assert_uint_eq(evs(SUPV_EV_EXIT, "root", "i", SUPV_EXIT_SHUTDOWN), 1);
		ck_assert_uint_eq(evs(SUPV_EV_SUP_EXIT, "root", NULL,
		    SUPV_EXIT_SHUTDOWN), 1);
		ck_assert_uint_eq(evs(SUPV_EV_START, NULL, NULL, -1),
		    evs(SUPV_EV_EXIT, NULL, NULL, -1));
		ck_assert(POLL_UNTIL(atomic_load(&ignorers) == 0, WAIT_MS));
		WAIT_THREADS(base);
		ck_assert_int_eq(atomic_load(&frees), 2);
		rec_destroy(&R);
		if (!fired)
			break;
	}
	walked(_i == 0 ? "supv_stop + supv_free" : "supv_free (running)");
	ck_assert_int_lt(cur_n, MAX_N);
}
END_TEST

/* Calls on a running tree, each walked on its own. */
enum dyn_op {
	DYN_ADD_WORKER, DYN_ADD_SUP, DYN_ADD_POOL, DYN_RESTART_WORKER,
	DYN_RESTART_SUP, DYN_POOL_GROW, DYN_POOL_SHRINK, DYN_TERMINATE_DELETE,
	DYN_NOPS
};

static const char *const dyn_names[] = {
	"add_worker", "add_sup", "add_pool", "restart_child(worker)",
	"restart_child(sup)", "pool_resize(grow)", "pool_resize(shrink)",
	"terminate+delete",
};

/* A subtree to add: sub (s1, s2, ss (s3)): 2 loops, 3 workers. */
static struct supv *
make_sub(void)
{
	struct supv *sub, *ss;

	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .on_event = rec_cb, .event_arg = &R }), 0);
	ck_assert_int_eq(supv_new(&ss, &(struct supv_opts){ .name = "ss",
	    .on_event = rec_cb, .event_arg = &R }), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "s1" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "s2" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(ss, &(struct supv_child_opts){ .id = "s3" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(sub, &(struct supv_child_opts){ .id = "ss" },
	    ss), 0);
	return sub;
}

/* Runs op; on success returns how many threads it added (or removed). */
static int
dyn_run(struct tree *T, enum dyn_op op, struct supv *sub, int *rc)
{
	switch (op) {
	case DYN_ADD_WORKER:
		*rc = supv_add_worker(T->root, &(struct supv_child_opts){
		    .id = "x", .arg_free = count_free }, w_sleeper, &frees);
		return 1;
	case DYN_ADD_SUP:
		*rc = supv_add_sup(T->root, &(struct supv_child_opts){ .id = "sub" },
		    sub);
		return 5;
	case DYN_ADD_POOL:
		*rc = supv_add_pool(T->root, &(struct supv_child_opts){ .id = "p2",
		    .arg_free = count_free }, &(struct supv_pool_opts){ .size = 4 },
		    w_sleeper, &frees);
		return 5;
	case DYN_RESTART_WORKER:
		*rc = supv_restart_child(T->root, "a");
		return 1;
	case DYN_RESTART_SUP:
		*rc = supv_restart_child(T->root, "mid");
		return 10;
	case DYN_POOL_GROW:
		*rc = supv_pool_resize(T->mid, "pool", 6);
		return 3;
	case DYN_POOL_SHRINK:
		*rc = supv_pool_resize(T->mid, "pool", 1);
		return -2;
	case DYN_TERMINATE_DELETE:
		if ((*rc = supv_terminate_child(T->root, "mid")) == 0)
			*rc = supv_delete_child(T->root, "mid");
		return -10;
	default:
		ck_abort();
	}
	return 0;
}

START_TEST(test_running_calls)
{
	enum dyn_op op = (enum dyn_op)_i;
	int base = base_threads(), t0, delta, rc, frees0;
	struct tree t, *T = &t;
	struct supv_counts rb, mb, sb = { 0 };
	struct supv *sub = NULL;
	bool fired;

	for (cur_n = 1; cur_n < MAX_N; cur_n++) {
		setup(T, 1);
		ck_assert_int_eq(supv_start(T->root), 0);
		if (op == DYN_RESTART_WORKER)
			ck_assert_int_eq(supv_terminate_child(T->root, "a"), 0);
		if (op == DYN_RESTART_SUP)
			ck_assert_int_eq(supv_terminate_child(T->root, "mid"), 0);
		if (op == DYN_ADD_SUP) {
			sub = make_sub();
			sb = counts(sub);
		}
		t0 = op == DYN_RESTART_WORKER ? TREE_THREADS - 1 :
		    op == DYN_RESTART_SUP ? TREE_THREADS - 10 : TREE_THREADS;
		WAIT_THREADS(base + t0);
		rb = counts(T->root);
		mb = counts(T->mid);
		frees0 = atomic_load(&frees);
		arm(cur_n);
		delta = dyn_run(T, op, sub, &rc);
		fired = disarm();
		if (rc != 0) {
			ck_assert_msg(fired, "%s: %s without a fault", dyn_names[op],
			    strerror(rc));
			ck_assert_msg(rc == ENOMEM || rc == EAGAIN || rc == ECHILD,
			    "n=%ld: %s: %s", cur_n, dyn_names[op], strerror(rc));
			/* A failed call changed nothing ... */
			ck_assert_msg(same_counts(counts(T->root), rb),
			    "n=%ld: failed %s changed root's counts", cur_n, dyn_names[op]);
			if (op != DYN_RESTART_SUP)
				ck_assert_msg(same_counts(counts(T->mid), mb),
				    "n=%ld: failed %s changed mid's counts", cur_n,
				    dyn_names[op]);
			ck_assert_int_eq(atomic_load(&frees), frees0);
			WAIT_THREADS(base + t0);
			/* ... counted no restart, gave nothing up ... */
			ck_assert_uint_eq(evs(SUPV_EV_RESTART, NULL, NULL, -1), 0);
			ck_assert_uint_eq(evs(SUPV_EV_GIVE_UP, NULL, NULL, -1), 0);
			if (op == DYN_RESTART_WORKER)
				ck_assert_uint_eq(child_info(T->root, "a").restarts, 0);
			if (op == DYN_ADD_SUP) {
				/* ... and left sub to us as it was. */
				ck_assert(same_counts(counts(sub), sb));
			}
			/* The same call works once the fault is spent. */
			delta = dyn_run(T, op, sub, &rc);
			ck_assert_msg(rc == 0, "n=%ld: %s again: %s", cur_n,
			    dyn_names[op], strerror(rc));
		} else {
			ck_assert_msg(!fired, "n=%ld: %s: a fault fired, the call succeeded",
			    cur_n, dyn_names[op]);
		}
		WAIT_THREADS(base + t0 + delta);
		ck_assert_int_eq(supv_stop(T->root), 0);
		supv_free(T->root);
		WAIT_THREADS(base);
		ck_assert_int_eq(atomic_load(&frees),
		    op == DYN_ADD_WORKER || op == DYN_ADD_POOL ? 3 : 2);
		rec_destroy(&R);
		if (!fired)
			break;
	}
	walked(dyn_names[op]);
	ck_assert_int_lt(cur_n, MAX_N);
}
END_TEST

Suite *
suite_faults(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("faults");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_build);
	tcase_add_test(tc, test_start);
	tcase_add_loop_test(tc, test_restart_one_for_one, 0, 2);
	tcase_add_test(tc, test_restart_group);
	tcase_add_test(tc, test_restart_abandoned);
	tcase_add_loop_test(tc, test_stop_free, 0, 2);
	tcase_add_loop_test(tc, test_running_calls, 0, DYN_NOPS);
	suite_add_tcase(s, tc);
	return s;
}
