/*
 * check_hangtrace.c - the hang_trace child option: a HUNG event's detail
 * names the function a hung worker is stuck in, with its kernel state;
 * a thread that blocks the signal still gets its kernel state; without
 * the option, detail is NULL.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "tests.h"

/* What the HUNG event of the test said (the hook copies it). */
struct seen {
	pthread_mutex_t mu;
	int             hung;      /* HUNG events */
	bool            null;      /* the first one's detail was NULL */
	char            detail[4096];
};

static void
hook(const struct supv_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->kind != SUPV_EV_HUNG)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->hung++ == 0) {
		s->null = ev->detail == NULL;
		snprintf(s->detail, sizeof(s->detail), "%s",
		    ev->detail != NULL ? ev->detail : "");
	}
	pthread_mutex_unlock(&s->mu);
}

static int pipefd[2];
static atomic_bool spin_stop;

/* Named, not inlined and exported (-rdynamic), so that the trace can name them. */
__attribute__((noinline)) int
hangtrace_blocked_in_read(void)
{
	char c;

	return (int)read(pipefd[0], &c, 1);
}

__attribute__((noinline)) int
hangtrace_spinning_here(void)
{
	volatile unsigned long x = 0;

	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		x++;
	return (int)(x & 1);
}

static int
w_read(struct supv_worker *self, void *arg)
{
	(void)self;
	if (arg != NULL) {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGRTMIN + 8);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	supv_heartbeat(self);
	hangtrace_blocked_in_read();
	return 0;
}

static int
w_spin(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_heartbeat(self);
	return hangtrace_spinning_here();
}

/* Runs fn until it is found hung once; returns what the event said. */
static void
hang_once(struct seen *seen, supv_work_fn *fn, void *arg, bool trace)
{
	struct supv *root;
	struct rec rec;
	char c = 'x';

	rec_init(&rec);
	rec.hook = hook;
	rec.hook_arg = seen;
	pthread_mutex_init(&seen->mu, NULL);
	ck_assert_int_eq(pipe(pipefd), 0);
	atomic_store(&spin_stop, false);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .heartbeat_ms = 50, .shutdown_ms = WAIT_MS,
	    .restart = SUPV_TEMPORARY, .hang_trace = trace }, fn, arg), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "w", 1), 1);
	/* Let it go: it was asked to stop, and now it can. */
	atomic_store(&spin_stop, true);
	ck_assert_int_eq(write(pipefd[1], &c, 1), 1);
	supv_free(root);
	close(pipefd[0]);
	close(pipefd[1]);
	rec_destroy(&rec);
}

START_TEST(test_blocked_in_named_function)
{
	struct seen s = { .hung = 0 };

	hang_once(&s, w_read, NULL, true);
	ck_assert(!s.null);
	ck_assert_msg(strstr(s.detail, "state=") == s.detail, "%s", s.detail);
#ifndef __SANITIZE_THREAD__
	/* TSan delivers a signal only once the thread leaves the system call. */
	ck_assert_msg(strstr(s.detail, "hangtrace_blocked_in_read") != NULL,
	    "%s", s.detail);
	ck_assert_msg(strstr(s.detail, "(read)") != NULL, "%s", s.detail);
#endif
}
END_TEST

START_TEST(test_spinning_in_named_function)
{
	struct seen s = { .hung = 0 };

	hang_once(&s, w_spin, NULL, true);
	ck_assert(!s.null);
	ck_assert_msg(strstr(s.detail, "hangtrace_spinning_here") != NULL,
	    "%s", s.detail);
}
END_TEST

START_TEST(test_blocked_signal_gets_kernel_state)
{
	struct seen s = { .hung = 0 };

	hang_once(&s, w_read, &s, true);
	ck_assert(!s.null);
	ck_assert_msg(strstr(s.detail, "state=") == s.detail, "%s", s.detail);
	ck_assert_msg(strstr(s.detail, "stack: not captured: the thread blocks "
	    "the signal") != NULL, "%s", s.detail);
	ck_assert_ptr_null(strstr(s.detail, "hangtrace_blocked_in_read"));
}
END_TEST

START_TEST(test_no_trace_without_the_option)
{
	struct seen s = { .hung = 0 };

	hang_once(&s, w_read, NULL, false);
	ck_assert(s.null);
}
END_TEST

/*
 * 26.5: a handler that is late for one capture never writes into the
 * next one.  The race seam holds the first handler after it took its
 * capture until the second capture's handler runs, past the first
 * capture's wait: before the fix, the first thread's frames were
 * reported as the second one's stack.
 */
extern void (*_Atomic supv_fault_pause)(int point);
#define FP_TRACE_HANDLER 2	/* lib/base/base.h, enum fault_point */

static atomic_int late_calls, late_go;

static void
late_pause(int point)
{
	struct timespec ms = { 0, 1000000 };
	int i, n;

	if (point != FP_TRACE_HANDLER)
		return;
	if ((n = atomic_fetch_add(&late_calls, 1)) == 0) {
		for (i = 0; i < 2000 && !atomic_load(&late_go); i++)
			nanosleep(&ms, NULL);
	} else if (n == 1) {
		atomic_store(&late_go, 1);
		for (i = 0; i < 50; i++)
			nanosleep(&ms, NULL);
	}
}

/* Both spin until the test lets them go, whatever the supervisor asks. */
__attribute__((noinline)) int
hangtrace_spin_first(void)
{
	volatile unsigned long x = 0;

	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		x++;
	return 0;
}

__attribute__((noinline)) int
hangtrace_spin_second(void)
{
	volatile unsigned long x = 0;

	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		x++;
	return 0;
}

static int
w_spin_first(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_heartbeat(self);
	return hangtrace_spin_first();
}

static int
w_spin_second(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_heartbeat(self);
	return hangtrace_spin_second();
}

/* Copies the HUNG details of "a" and "b". */
struct two {
	pthread_mutex_t mu;
	char            a[4096], b[4096];
	int             n;
};

static void
two_hook(const struct supv_event *ev, void *arg)
{
	struct two *t = arg;

	if (ev->kind != SUPV_EV_HUNG)
		return;
	pthread_mutex_lock(&t->mu);
	snprintf(strcmp(ev->child, "a") == 0 ? t->a : t->b, sizeof(t->a), "%s",
	    ev->detail != NULL ? ev->detail : "");
	t->n++;
	pthread_mutex_unlock(&t->mu);
}

START_TEST(test_late_handler_never_writes_next_capture)
{
	struct two t = { .n = 0 };
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	rec.hook = two_hook;
	rec.hook_arg = &t;
	pthread_mutex_init(&t.mu, NULL);
	atomic_store(&late_calls, 0);
	atomic_store(&late_go, 0);
	atomic_store(&spin_stop, false);
	atomic_store(&supv_fault_pause, late_pause);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .heartbeat_ms = 50, .shutdown_ms = WAIT_MS,
	    .restart = SUPV_TEMPORARY, .hang_trace = true }, w_spin_first, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b", .heartbeat_ms = 50, .shutdown_ms = WAIT_MS,
	    .restart = SUPV_TEMPORARY, .hang_trace = true }, w_spin_second, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "a", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "b", 1), 1);
	atomic_store(&spin_stop, true);
	supv_free(root);
	atomic_store(&supv_fault_pause, NULL);
	pthread_mutex_lock(&t.mu);
	ck_assert_msg(strstr(t.a, "hangtrace_spin_second") == NULL,
	    "a's stack is b's:\n%s", t.a);
	ck_assert_msg(strstr(t.b, "hangtrace_spin_first") == NULL,
	    "b's stack is a's:\n%s", t.b);
	pthread_mutex_unlock(&t.mu);
	rec_destroy(&rec);
}
END_TEST

/*
 * The stack is taken while the thread is still stuck, before it is asked
 * to stop: a worker that would leave at once when asked is still found
 * in its function.
 */
__attribute__((noinline)) int
hangtrace_spin_until_asked(struct supv_worker *self)
{
	volatile unsigned long x = 0;

	while (!supv_stopping(self))
		x++;
	return 0;
}

static int
w_spin_until_asked(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_heartbeat(self);
	return hangtrace_spin_until_asked(self);
}

START_TEST(test_trace_taken_before_stop)
{
	struct seen s = { .hung = 0 };

	hang_once(&s, w_spin_until_asked, NULL, true);
	ck_assert(!s.null);
	ck_assert_msg(strstr(s.detail, "hangtrace_spin_until_asked") != NULL,
	    "%s", s.detail);
}
END_TEST

Suite *
suite_hangtrace(void)
{
	Suite *s = suite_create("hangtrace");
	TCase *tc = tcase_create("trace");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_blocked_in_named_function);
	tcase_add_test(tc, test_spinning_in_named_function);
	tcase_add_test(tc, test_blocked_signal_gets_kernel_state);
	tcase_add_test(tc, test_no_trace_without_the_option);
	tcase_add_test(tc, test_late_handler_never_writes_next_capture);
	tcase_add_test(tc, test_trace_taken_before_stop);
	suite_add_tcase(s, tc);
	return s;
}
