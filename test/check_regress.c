/*
 * check_regress.c - one regression test per defect the reviews found in
 * the core (a start racing a start, a pool's stop, a child supervisor
 * stopped while it starts, READY after STOPPING, self-deadlocks, a freed
 * supervisor touched, a failed add that changed its child, false hangs,
 * the watchdog and a stuck loop, a tree used after fork()).  Each failed
 * on the code before its fix; where the window is narrow the test widens
 * it with the library's hidden race seam, supv_fault_pause.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"

extern atomic_long supv_fault_countdown;
extern void (*_Atomic supv_fault_pause)(int point);

/* The points of lib/base/base.h's enum fault_point. */
#define FP_RUN_FINISHED   0
#define FP_START_UNLOCKED 1

/* The race seam: pauses once at one point, when armed. */
static atomic_int pause_point = -1, paused, paused_tid;
static atomic_uint pause_ms;

static void
pause_hook(int point)
{
	int want = point;

	if (atomic_compare_exchange_strong(&pause_point, &want, -1)) {
		atomic_store(&paused_tid, (int)syscall(SYS_gettid));
		sleep_ms(atomic_load(&pause_ms));
		atomic_store(&paused, 1);
	}
}

/* Whether the thread that paused has ended. */
static bool
paused_thread_gone(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", atomic_load(&paused_tid));
	return access(path, F_OK) != 0;
}

static void
arm_pause(int point, unsigned ms)
{
	atomic_store(&paused, 0);
	atomic_store(&pause_ms, ms);
	atomic_store(&pause_point, point);
	atomic_store(&supv_fault_pause, pause_hook);
}

/* 12.2: of two concurrent starts of a stopped root, one starts it. */
static struct supv *race_root;
static atomic_int race_rc[2];

static void *
starter(void *arg)
{
	atomic_store(&race_rc[(intptr_t)arg], supv_start(race_root));
	return NULL;
}

START_TEST(test_concurrent_start)
{
	pthread_t t[2];
	int i, ok, busy;

	race_root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(race_root,
	    &(struct supv_child_opts){ .id = "w" }, w_sleeper, NULL), 0);
	for (i = 0; i < 20; i++) {
		/* A run that ended leaves a loop to join: the lock is dropped. */
		ck_assert_int_eq(supv_start(race_root), 0);
		ck_assert_int_eq(supv_stop(race_root), 0);
		arm_pause(FP_START_UNLOCKED, 30);
		pthread_create(&t[0], NULL, starter, (void *)0);
		pthread_create(&t[1], NULL, starter, (void *)1);
		pthread_join(t[0], NULL);
		pthread_join(t[1], NULL);
		ok = (atomic_load(&race_rc[0]) == 0) + (atomic_load(&race_rc[1]) == 0);
		busy = (atomic_load(&race_rc[0]) == EBUSY) +
		    (atomic_load(&race_rc[1]) == EBUSY);
		ck_assert_msg(ok == 1 && busy == 1, "starts returned %d and %d",
		    atomic_load(&race_rc[0]), atomic_load(&race_rc[1]));
		ck_counts(race_root, 1, 1, 0, 1);
		ck_assert_int_eq(supv_stop(race_root), 0);
	}
	atomic_store(&supv_fault_pause, NULL);
	supv_free(race_root);
}
END_TEST

/* 12.4: a pool's workers are not monitored once asked to stop. */
static int
w_beat_then_quiet(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (!supv_stopping(self)) {
		supv_heartbeat(self);
		sleep_ms(2);
	}
	sleep_ms(150);	/* cleanup, with no heartbeat: 7 deadlines */
	return 0;
}

START_TEST(test_pool_stop_not_hung)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){
	    .id = "p", .heartbeat_ms = 20 },
	    &(struct supv_pool_opts){ .size = 4 }, w_beat_then_quiet, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, NULL), 5);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* 12.6: a child supervisor stopped while it starts keeps its grace. */
static atomic_int ignorer_done;

static int
w_ignore_stop(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	sleep_ms(1500);		/* ignores the stop request */
	atomic_store(&ignorer_done, 1);
	return 0;
}

static atomic_int started_a;

static int
w_mark_start(struct supv_worker *self, void *arg)
{
	(void)self;
	atomic_store(&started_a, 1);
	return w_ignore_stop(self, arg);
}

static void *
start_thread(void *arg)
{
	supv_start(arg);
	return NULL;
}

START_TEST(test_sub_stopped_while_starting_grace)
{
	struct supv *root, *sub;
	struct rec rec;
	pthread_t t;

	rec_init(&rec);
	atomic_store(&ignorer_done, 0);
	atomic_store(&started_a, 0);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	sub = new_root("sub", &rec, SUPV_ONE_FOR_ONE, 0);
	/* "a" would take 1.5 s to stop; its own grace is unlimited. */
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "a", .shutdown_ms = SUPV_INFINITY }, w_mark_start, NULL), 0);
	/* "b" never gets ready: sub is still starting when it is stopped. */
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "b", .ready_ms = SUPV_INFINITY }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub", .shutdown_ms = 100 }, sub), 0);
	pthread_create(&t, NULL, start_thread, root);
	ck_assert(POLL_UNTIL(atomic_load(&started_a), WAIT_MS));
	ck_assert_int_eq(supv_stop(root), 0);
	pthread_join(t, NULL);
	/* sub's grace ran out and forced its subtree: "a" timed out at once. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "sub"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "a"), 1);
	ck_assert_int_eq(atomic_load(&ignorer_done), 0);
	supv_free(root);
	ck_assert(POLL_UNTIL(atomic_load(&ignorer_done), WAIT_MS));
	rec_destroy(&rec);
}
END_TEST

/* 12.7: READY=1 never follows STOPPING=1. */
static atomic_int failed_once;

static int
w_fail_now(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	atomic_store(&failed_once, 1);
	return 1;
}

/* Gets ready once "f" has failed: its exit is queued before the start ends. */
static int
w_ready_after_fail(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (!atomic_load(&failed_once))
		sleep_ms(1);
	sleep_ms(20);
	supv_ready(self);
	return w_sleeper(self, NULL);
}

START_TEST(test_ready_never_after_stopping)
{
	struct supv *root;
	char buf[256];
	int fd, ready = -1, stopping = -1, i;
	enum supv_exit_kind why;

	atomic_store(&failed_once, 0);
	fd = fake_systemd(0);
	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, SUPV_ZERO);
	ck_assert_int_eq(supv_notify_systemd(root, SUPV_NOTIFY_READY), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f" }, w_fail_now, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "r", .ready_ms = WAIT_MS }, w_ready_after_fail, NULL), 0);
	supv_start(root);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	for (i = 0; i < 10; i++) {
		next_msg(fd, buf, sizeof(buf), 500);
		if (buf[0] == '\0')
			break;
		if (strcmp(buf, "READY=1") == 0)
			ready = i;
		if (strcmp(buf, "STOPPING=1") == 0)
			stopping = i;
	}
	ck_assert_int_ge(stopping, 0);
	ck_assert_msg(ready < stopping, "READY=1 (#%d) after STOPPING=1 (#%d)",
	    ready, stopping);
	supv_free(root);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

/* 12.8: a pool worker shrinking its own pool away fails before acting. */
static atomic_int resize_rc = -1, pool_alive;

static int
w_shrink_self(struct supv_worker *self, void *arg)
{
	atomic_fetch_add(&pool_alive, 1);
	if (supv_worker_index(self) == 1) {
		while (atomic_load(&pool_alive) < 4)
			sleep_ms(1);
		atomic_store(&resize_rc, supv_pool_resize(arg, "p", SUPV_ZERO));
	}
	w_sleeper(self, NULL);
	atomic_fetch_sub(&pool_alive, 1);
	return 0;
}

START_TEST(test_pool_resize_self_checked_first)
{
	struct supv *root;
	struct supv_child_info info[8];
	size_t n;

	atomic_store(&resize_rc, -1);
	atomic_store(&pool_alive, 0);
	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p" },
	    &(struct supv_pool_opts){ .size = 4 }, w_shrink_self, root), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&resize_rc) != -1, WAIT_MS));
	ck_assert_int_eq(atomic_load(&resize_rc), EDEADLK);
	/* Nothing was stopped or deleted. */
	ck_assert_int_eq(atomic_load(&pool_alive), 4);
	ck_assert_int_eq(supv_which_children(root, info, 8, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(info[0].restarts, 0);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

/* 12.9: a worker adding a sibling before supv_ready() gets EDEADLK at once. */
static atomic_int add_rc = -1;

static int
w_add_before_ready(struct supv_worker *self, void *arg)
{
	atomic_store(&add_rc, supv_add_worker(arg, &(struct supv_child_opts){
	    .id = "sibling" }, w_sleeper, NULL));
	supv_ready(self);
	return w_sleeper(self, NULL);
}

START_TEST(test_add_before_ready_edeadlk)
{
	struct supv *root, *sub;
	struct supv_counts k;

	atomic_store(&add_rc, -1);
	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .ready_ms = SUPV_INFINITY }, w_add_before_ready, root), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(atomic_load(&add_rc), EDEADLK);
	ck_assert_int_eq(supv_count_children(root, &k), 0);
	ck_assert_uint_eq(k.specs, 1);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);

	/* On the supervisor above, whose loop waits for the caller's sub. */
	atomic_store(&add_rc, -1);
	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	sub = new_root("sub", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "w", .ready_ms = SUPV_INFINITY }, w_add_before_ready, root), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(atomic_load(&add_rc), EDEADLK);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

/*
 * 18.1: nothing touches a temporary child supervisor once it may be
 * freed.  A worker of it ends, and its thread pauses after queueing its
 * exit, before it wakes the supervisor's loop, while the supervisor
 * (woken by its own heartbeat sampling) handles it, gives up, and is
 * deleted by its parent; the thread then resumes and wakes it, which it
 * may do only because it held the supervisor's memory (ASan catches any
 * touch of a freed supervisor).
 */
static struct trip fail_trip = { .code = 3 };

START_TEST(test_temporary_sub_freed_safely)
{
	struct supv *root, *sub;
	struct rec rec;
	struct supv_counts k;

	rec_init(&rec);
	atomic_store(&fail_trip.armed, 0);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	sub = new_root("sub", &rec, SUPV_ONE_FOR_ONE, SUPV_ZERO);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "hb", .heartbeat_ms = 4 }, w_beat, NULL), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "f" }, w_trip, &fail_trip), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub", .restart = SUPV_TEMPORARY }, sub), 0);
	ck_assert_int_eq(supv_start(root), 0);
	arm_pause(FP_RUN_FINISHED, 300);
	atomic_store(&fail_trip.armed, 1);	/* "f" fails: sub gives up */
	ck_assert(POLL_UNTIL(supv_count_children(root, &k) == 0 && k.specs == 0,
	    WAIT_MS));
	/*
	 * The paused thread of "f" resumes after sub was deleted, wakes its
	 * loop and ends: waited for, so that ASan sees what it touches.
	 */
	ck_assert(POLL_UNTIL(atomic_load(&paused), WAIT_MS));
	ck_assert(POLL_UNTIL(paused_thread_gone(), WAIT_MS));
	atomic_store(&supv_fault_pause, NULL);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * 18.2: a failed supv_add_sup() on a running parent leaves the child as
 * the caller built it, and says why (no memory, no thread) rather than
 * ECHILD when the failure was the library's.
 */
static struct supv *
build_sub(void)
{
	struct supv *sub = new_root("sub", NULL, SUPV_ONE_FOR_ONE, 0);
	char id[16];
	int i;

	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
		    .id = id, .restart = SUPV_TEMPORARY }, w_sleeper, NULL), 0);
	}
	return sub;
}

START_TEST(test_failed_add_sup_changes_nothing)
{
	struct supv *root, *sub;
	struct supv_counts k;
	long n;
	int rc;

	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(supv_start(root), 0);

	/* A child that fails on its own: ECHILD, every spec still there. */
	sub = build_sub();
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "bad", .ready_ms = WAIT_MS }, w_fail_now, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), ECHILD);
	ck_assert_int_eq(supv_count_children(sub, &k), 0);
	ck_assert_uint_eq(k.specs, 7);
	ck_assert_uint_eq(k.active, 0);
	supv_free(sub);

	/* Every injected failure: ENOMEM or EAGAIN, and nothing changed. */
	for (n = 1; n < 200; n++) {
		sub = build_sub();
		atomic_store(&supv_fault_countdown, n);
		rc = supv_add_sup(root, &(struct supv_child_opts){ .id = "sub" }, sub);
		atomic_store(&supv_fault_countdown, 0);
		if (rc == 0)
			break;
		ck_assert_msg(rc == ENOMEM || rc == EAGAIN,
		    "fault %ld: supv_add_sup returned %d", n, rc);
		ck_assert_int_eq(supv_count_children(sub, &k), 0);
		ck_assert_msg(k.specs == 6 && k.active == 0,
		    "fault %ld: the child has %u specs, %u active", n, k.specs,
		    k.active);
		supv_free(sub);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(supv_count_children(sub, &k), 0);
	ck_assert_uint_eq(k.active, 6);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

/* 18.4: a same-thread restart's deadline starts when the body is entered. */
static void
slow_cb(const struct supv_event *ev, void *arg)
{
	rec_cb(ev, arg);
	if (ev->child != NULL && strcmp(ev->child, "st") == 0 &&
	    (ev->kind == SUPV_EV_EXIT || ev->kind == SUPV_EV_RESTART ||
	    ev->kind == SUPV_EV_START))
		sleep_ms(100);
}

static int
w_beat_then_fail(struct supv_worker *self, void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 10 && !supv_stopping(self); i++) {
		supv_heartbeat(self);
		sleep_ms(2);
	}
	return 1;
}

START_TEST(test_same_thread_slow_callback_not_hung)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = slow_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "st", .heartbeat_ms = 20, .same_thread = true },
	    w_beat_then_fail, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_RESTART, "st", 4), 4);
	ck_assert_int_eq(supv_stop(root), 0);
	if (rec_count(&rec, SUPV_EV_HUNG, "st") != 0)
		rec_dump(&rec);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, "st"), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* 12 (also): no WATCHDOG=1 while a supervisor's loop is stuck. */
static atomic_int in_slow_cb, cb_done;

static void
stuck_cb(const struct supv_event *ev, void *arg)
{
	(void)arg;
	if (ev->kind == SUPV_EV_EXIT && !atomic_load(&cb_done)) {
		atomic_store(&in_slow_cb, 1);
		sleep_ms(1500);		/* 30 watchdog intervals */
		atomic_store(&in_slow_cb, 0);
		atomic_store(&cb_done, 1);
	}
}

START_TEST(test_watchdog_stops_while_loop_stuck)
{
	struct supv *root;
	struct trip trip = { .code = 1 };
	char buf[64];
	unsigned inside = 0, after = 0;
	int fd;

	atomic_store(&in_slow_cb, 0);
	atomic_store(&cb_done, 0);
	fd = fake_systemd(100);		/* a ping every 50 ms */
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = stuck_cb }), 0);
	ck_assert_int_eq(supv_notify_systemd(root, SUPV_NOTIFY_WATCHDOG), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_trip, &trip), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&trip.armed, 1);
	ck_assert(POLL_UNTIL(atomic_load(&in_slow_cb), WAIT_MS));
	/* Drain what was sent before the loop got stuck. */
	do
		next_msg(fd, buf, sizeof(buf), 1);
	while (buf[0] != '\0');
	while (atomic_load(&in_slow_cb)) {
		next_msg(fd, buf, sizeof(buf), 20);
		if (strcmp(buf, "WATCHDOG=1") == 0 && atomic_load(&in_slow_cb))
			inside++;
	}
	/* At most the ping whose probe was answered before it got stuck. */
	ck_assert_uint_le(inside, 1);
	/* Pings resume once the loop is back. */
	while (after == 0) {
		next_msg(fd, buf, sizeof(buf), WAIT_MS);
		ck_assert(buf[0] != '\0');
		after += strcmp(buf, "WATCHDOG=1") == 0;
	}
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
}
END_TEST

/* 12 (also): a child process after fork() gets EPERM, not a hang. */
START_TEST(test_fork_child_gets_eperm)
{
	struct supv *root;
	enum supv_exit_kind why;
	pid_t pid;
	int status;

	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int a, b, c, d;

		alarm(20);	/* a hang fails the test instead of blocking it */
		a = supv_stop(root);
		b = supv_wait(root, &why);
		c = supv_add_worker(root, &(struct supv_child_opts){ .id = "x" },
		    w_sleeper, NULL);
		d = supv_terminate_child(root, "w");
		/* Calls that add check first, so they allocate nothing here. */
		if (supv_add_pool(root, &(struct supv_child_opts){ .id = "p" },
		    NULL, w_sleeper, NULL) != EPERM)
			_exit(2);
		supv_free(root);	/* does nothing */
		_exit(a == EPERM && b == EPERM && c == EPERM && d == EPERM ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

/* A supervisor with a root's links (signals, systemd) cannot become a child. */
START_TEST(test_add_sup_root_links_einval)
{
	struct supv *root, *a, *b;
	struct supv_counts k;

	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	a = new_root("a", NULL, SUPV_ONE_FOR_ONE, 0);
	b = new_root("b", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_stop_on_signals(a, (int[]){ SIGUSR2 }, 1), 0);
	ck_assert_int_eq(supv_notify_systemd(b, SUPV_NOTIFY_READY), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "a" }, a), EINVAL);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "b" }, b), EINVAL);
	ck_assert_int_eq(supv_count_children(root, &k), 0);
	ck_assert_uint_eq(k.specs, 0);
	supv_free(a);	/* ends its signal thread */
	supv_free(b);
	supv_free(root);
}
END_TEST

Suite *
suite_regress(void)
{
	Suite *s = suite_create("regress");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_concurrent_start);
	tcase_add_test(tc, test_pool_stop_not_hung);
	tcase_add_test(tc, test_sub_stopped_while_starting_grace);
	tcase_add_test(tc, test_ready_never_after_stopping);
	tcase_add_test(tc, test_pool_resize_self_checked_first);
	tcase_add_test(tc, test_add_before_ready_edeadlk);
	tcase_add_test(tc, test_temporary_sub_freed_safely);
	tcase_add_test(tc, test_failed_add_sup_changes_nothing);
	tcase_add_test(tc, test_same_thread_slow_callback_not_hung);
	tcase_add_test(tc, test_watchdog_stops_while_loop_stuck);
	tcase_add_test(tc, test_fork_child_gets_eperm);
	tcase_add_test(tc, test_add_sup_root_links_einval);
	suite_add_tcase(s, tc);
	return s;
}
