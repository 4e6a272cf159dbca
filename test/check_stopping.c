/*
 * check_stopping.c - asking workers to stop (supv_stopping, supv_sleep,
 * supv_stop_fd), what happens when a grace runs out (abandon, cancel,
 * abort, a child supervisor's grace forcing its subtree), and when
 * arg_free runs.
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#elif __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif



static unsigned
ms_since(uint64_t t0)
{
	return (unsigned)((mono_ns() - t0) / 1000000ULL);
}

/* What a worker saw, for the test to check. */
static struct {
	atomic_int started, before, sleep_rc, sleep_ms, woke_rc;
} obs;

/* Waits for the stop request without supv_sleep, then sees supv_sleep return at once. */
static int
w_observe(struct supv_worker *self, void *arg)
{
	uint64_t t0;

	(void)arg;
	atomic_store(&obs.before, supv_stopping(self));
	atomic_store(&obs.started, 1);
	while (!supv_stopping(self))
		sleep_ms(1);
	t0 = mono_ns();
	atomic_store(&obs.sleep_rc, supv_sleep(self, 30000));
	atomic_store(&obs.sleep_ms, (int)ms_since(t0));
	return 0;
}

/* Blocked in a long supv_sleep when asked to stop. */
static int
w_long_sleep(struct supv_worker *self, void *arg)
{
	(void)arg;
	atomic_store(&obs.woke_rc, supv_sleep(self, 60000));
	return 0;
}

START_TEST(test_stopping_and_sleep)
{
	struct supv *root;
	uint64_t t0;

	memset(&obs, 0, sizeof(obs));
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "o" },
	    w_observe, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "s" },
	    w_long_sleep, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&obs.started), WAIT_MS));
	ck_assert_int_eq(atomic_load(&obs.before), 0);
	ck_assert_int_eq(supv_terminate_child(root, "o"), 0);
	ck_assert_int_eq(atomic_load(&obs.sleep_rc), ECANCELED);
	ck_assert_int_lt(atomic_load(&obs.sleep_ms), 1000);
	/* Well within the default 5 s grace: supv_sleep woke at once. */
	t0 = mono_ns();
	ck_assert_int_eq(supv_terminate_child(root, "s"), 0);
	ck_assert_uint_lt(ms_since(t0), 2500);
	ck_assert_int_eq(atomic_load(&obs.woke_rc), ECANCELED);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

/*
 * Threads of the worker's own that sleep in supv_sleep() on its run too
 * (any thread that has the run may): a stop wakes every one of them.
 */
#define N_SLEEPERS 4
static atomic_int sleepers_in, sleepers_woke;

static void *
sleeper(void *arg)
{
	atomic_fetch_add(&sleepers_in, 1);
	if (supv_sleep(arg, 60000) == ECANCELED)
		atomic_fetch_add(&sleepers_woke, 1);
	return NULL;
}

static int
w_sleepers(struct supv_worker *self, void *arg)
{
	pthread_t t[N_SLEEPERS];
	int i, n = 0;

	(void)arg;
	for (i = 0; i < N_SLEEPERS; i++)
		if (pthread_create(&t[n], NULL, sleeper, self) == 0)
			n++;
	(void)supv_sleep(self, 60000);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

START_TEST(test_sleepers_all_wake)
{
	struct supv *root;

	atomic_store(&sleepers_in, 0);
	atomic_store(&sleepers_woke, 0);
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	/* A grace far longer than any wake-up: the worker joins its sleepers. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "m",
	    .shutdown_ms = 30000 }, w_sleepers, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&sleepers_in) == N_SLEEPERS, WAIT_MS));
	sleep_ms(20);	/* most of them asleep by now, if not all */
	ck_assert_int_eq(supv_terminate_child(root, "m"), 0);
	/*
	 * The worker returned, so it joined every sleeper: each was woken by
	 * the stop (ECANCELED), none left asleep for its 60 s (which would
	 * have outlasted the grace and left the count short).
	 */
	ck_assert_int_eq(atomic_load(&sleepers_woke), N_SLEEPERS);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

static struct {
	atomic_int fd, same, cloexec, nonblock, before, ready, after, revents, still;
	atomic_int late_fd, late_readable;
} fdo;

static int
w_fd(struct supv_worker *self, void *arg)
{
	struct pollfd p;
	int fd;

	(void)arg;
	fd = supv_stop_fd(self);
	atomic_store(&fdo.fd, fd);
	atomic_store(&fdo.same, supv_stop_fd(self) == fd);
	atomic_store(&fdo.cloexec, fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	atomic_store(&fdo.nonblock, fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	atomic_store(&fdo.before, poll(&p, 1, 0));
	atomic_store(&fdo.ready, 1);
	p.revents = 0;
	atomic_store(&fdo.after, poll(&p, 1, WAIT_MS));
	atomic_store(&fdo.revents, p.revents);
	/* Still readable (the worker does not read it), still the same one. */
	p.revents = 0;
	atomic_store(&fdo.still, poll(&p, 1, 0) == 1 && supv_stop_fd(self) == fd);
	return 0;
}

/* Asks for the descriptor only after the stop request: readable at once. */
static int
w_fd_late(struct supv_worker *self, void *arg)
{
	struct pollfd p;

	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	p = (struct pollfd){ .fd = supv_stop_fd(self), .events = POLLIN };
	atomic_store(&fdo.late_fd, p.fd);
	atomic_store(&fdo.late_readable, poll(&p, 1, 0) == 1 && (p.revents & POLLIN));
	return 0;
}

START_TEST(test_stop_fd)
{
	struct supv *root;

	memset(&fdo, 0, sizeof(fdo));
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "fd" },
	    w_fd, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "late" },
	    w_fd_late, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&fdo.ready), WAIT_MS));
	ck_assert_int_ge(atomic_load(&fdo.fd), 0);
	ck_assert(atomic_load(&fdo.same));
	ck_assert(atomic_load(&fdo.cloexec));
	ck_assert(atomic_load(&fdo.nonblock));
	ck_assert_int_eq(atomic_load(&fdo.before), 0);
	ck_assert_int_eq(supv_terminate_child(root, "fd"), 0);
	ck_assert_int_eq(atomic_load(&fdo.after), 1);
	ck_assert(atomic_load(&fdo.revents) & POLLIN);
	ck_assert(atomic_load(&fdo.still));
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_ge(atomic_load(&fdo.late_fd), 0);
	ck_assert(atomic_load(&fdo.late_readable));
	supv_free(root);
}
END_TEST

enum stub_mode {
	STUB_TESTCANCEL,  /* polls pthread_testcancel(), a cancellation point */
	STUB_CONDWAIT,    /* blocked in pthread_cond_timedwait(), one too */
	STUB_NANOSLEEP,   /* blocked in nanosleep(), one too */
	STUB_SUPV_SLEEP,  /* keeps calling supv_sleep(), ignoring ECANCELED */
	STUB_SPIN,        /* a busy wait with no cancellation point */
	STUB_NMODES
};

struct stub {
	enum stub_mode mode;
	const char    *id;
	atomic_int     started, release, done, freed, freed_after_done;
	atomic_int     stopping_seen, sleep_rc, sleep_ms, id_ok;
};

static void
stub_free(void *arg)
{
	struct stub *s = arg;

	if (atomic_load(&s->done))
		atomic_store(&s->freed_after_done, 1);
	atomic_fetch_add(&s->freed, 1);
}

static pthread_mutex_t stub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stub_cv = PTHREAD_COND_INITIALIZER;

static void
stub_unlock(void *arg)
{
	pthread_mutex_unlock(arg);
}

/* Waits about 2 ms on a condition variable that nobody signals. */
static void
condwait_2ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 2000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&stub_mu);
	pthread_cleanup_push(stub_unlock, &stub_mu);
	pthread_cond_timedwait(&stub_cv, &stub_mu, &ts);
	pthread_cleanup_pop(1);
}

/*
 * A worker that ignores stop requests until released, in one of the ways
 * above; then it checks what an abandoned worker sees, and returns 3.
 */
static int
w_stub(struct supv_worker *self, void *arg)
{
	static const struct timespec one_ms = { 0, 1000000 };
	struct stub *s = arg;
	uint64_t t0;

	if (s->mode == STUB_SPIN)
		(void)supv_stop_fd(self);	/* it has a descriptor, unused */
	atomic_store(&s->started, 1);
	while (!atomic_load(&s->release)) {
		switch (s->mode) {
		case STUB_TESTCANCEL:
			pthread_testcancel();
			sched_yield();
			break;
		case STUB_CONDWAIT:
			condwait_2ms();
			break;
		case STUB_NANOSLEEP:
			nanosleep(&one_ms, NULL);
			break;
		case STUB_SUPV_SLEEP:
			(void)supv_sleep(self, 1000);
			break;
		default:
			sched_yield();
			break;
		}
	}
	if (s->mode != STUB_SPIN) {
		atomic_store(&s->stopping_seen, supv_stopping(self));
		t0 = mono_ns();
		atomic_store(&s->sleep_rc, supv_sleep(self, 30000));
		atomic_store(&s->sleep_ms, (int)ms_since(t0));
		atomic_store(&s->id_ok, supv_worker_id(self) != NULL &&
		    strcmp(supv_worker_id(self), s->id) == 0);
	}
	atomic_store(&s->done, 1);
	return 3;
}

static void
stub_init(struct stub *s, enum stub_mode mode, const char *id)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->id = id;
}

/* Releases an abandoned stub and waits until its arg_free has run. */
static void
stub_finish(struct stub *s)
{
	atomic_store(&s->release, 1);
	ck_assert(POLL_UNTIL(atomic_load(&s->freed) > 0, WAIT_MS));
	ck_assert_int_eq(atomic_load(&s->freed), 1);
	ck_assert_int_eq(atomic_load(&s->freed_after_done), 1);
}

/*
 * ABANDON: the supervisor carries on when the grace runs out; the worker
 * runs on, still sees the stop request and its id after supv_free, and
 * its arg_free runs once, after it has returned.
 */
START_TEST(test_abandon)
{
	static struct stub s;
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	uint64_t t0;
	unsigned n;
	int at;

	stub_init(&s, STUB_CONDWAIT, "w");
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "w",
	    .shutdown_ms = 50, .on_timeout = SUPV_TIMEOUT_ABANDON,
	    .arg_free = stub_free }, w_stub, &s), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&s.started), WAIT_MS));
	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_uint_ge(ms_since(t0), 50);
	ck_assert_uint_lt(ms_since(t0), 4000);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_trace(&rec, "root", 0, "S:w T:w X:w:shutdown E:shutdown");
	at = find_ev(&rec, SUPV_EV_EXIT, "w", 0);
	ck_assert_int_eq(rec.ev[at].code, 0);
	n = rec_len(&rec);
	supv_free(root);
	ck_assert_int_eq(atomic_load(&s.done), 0);
	ck_assert_int_eq(atomic_load(&s.freed), 0);
	stub_finish(&s);
	ck_assert_int_eq(atomic_load(&s.stopping_seen), 1);
	ck_assert_int_eq(atomic_load(&s.sleep_rc), ECANCELED);
	ck_assert_int_lt(atomic_load(&s.sleep_ms), 1000);
	ck_assert_int_eq(atomic_load(&s.id_ok), 1);
	ck_assert_uint_eq(rec_len(&rec), n);
	rec_destroy(&rec);
}
END_TEST

/*
 * The grace, on its own: a worker that ignores its stop is given up once
 * shutdown_ms has passed since the request, never before it, and not
 * much after (a grace counted twice, or from the wrong moment, is caught
 * by the loose upper bound: half a grace of slack for a slow machine).
 */
#define GRACE_MS 2000

START_TEST(test_grace_bounds)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev t;
	uint64_t t0, ms;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "w",
	    .shutdown_ms = GRACE_MS, .on_timeout = SUPV_TIMEOUT_ABANDON },
	    w_ignore, (void *)(intptr_t)(4 * GRACE_MS)), 0);
	ck_assert_int_eq(supv_start(root), 0);
	t0 = mono_ns();
	ck_assert_int_eq(supv_terminate_child(root, "w"), 0);
	ms = ms_since(t0);
	ck_assert_uint_ge(ms, GRACE_MS);
	ck_assert_uint_lt(ms, GRACE_MS * 3 / 2);
	t = ev_get(&rec, SUPV_EV_STOP_TIMEOUT, "w", 0);
	ck_assert_uint_ge(t.at_ns, t0 + (uint64_t)GRACE_MS * 1000000);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "w"), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).exit, SUPV_EXIT_SHUTDOWN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * Restarts do not wait for an abandoned run: the old and the new run
 * overlap, each with a handle of its own.
 */
static struct {
	atomic_int         runs, release, old_done, old_stopping, new_stopping;
	struct supv_worker *_Atomic first;
} ov;

static int
w_overlap(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&ov.runs, 1) == 0) {
		atomic_store(&ov.first, self);
		while (!atomic_load(&ov.release))
			sleep_ms(1);
		atomic_store(&ov.old_stopping, supv_stopping(self));
		atomic_store(&ov.old_done, 1);
		return 0;
	}
	atomic_store(&ov.new_stopping, 1 + (self == atomic_load(&ov.first)));
	return w_sleeper(self, NULL);
}

START_TEST(test_abandoned_overlaps_restart)
{
	struct trip t = { .code = 1 };
	struct supv *root;
	struct rec rec;
	atomic_int freed = 0;

	memset(&ov, 0, sizeof(ov));
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .strategy = SUPV_ONE_FOR_ALL, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "o",
	    .shutdown_ms = 30, .arg_free = count_free }, w_overlap, &freed), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "t" },
	    w_trip, &t), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&t.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "t", 2), 2);
	ck_trace(&rec, "root", 0, "S:o S:t X:t:failure T:o X:o:shutdown R:o S:o R:t S:t");
	ck_assert(POLL_UNTIL(atomic_load(&ov.new_stopping) != 0, WAIT_MS));
	/* The new run has a handle of its own, not asked to stop. */
	ck_assert_int_eq(atomic_load(&ov.new_stopping), 1);
	ck_assert_int_eq(atomic_load(&ov.old_done), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	ck_assert_int_eq(atomic_load(&freed), 0);
	atomic_store(&ov.release, 1);
	ck_assert(POLL_UNTIL(atomic_load(&freed) == 1, WAIT_MS));
	ck_assert_int_eq(atomic_load(&ov.old_stopping), 1);
	rec_destroy(&rec);
}
END_TEST

/*
 * CANCEL: pthread_cancel when the grace runs out.  A worker at a
 * cancellation point (pthread_cond_timedwait, supv_sleep, nanosleep) ends
 * there; one in a busy wait is abandoned after a second grace.
 */
START_TEST(test_cancel)
{
	static struct stub s;
	enum stub_mode mode = (enum stub_mode)_i;
	struct supv *root;
	struct rec rec;
	uint64_t t0;
	int at;

#ifdef UNDER_TSAN
	/*
	 * TSan misses the synchronization done by cleanup handlers that a
	 * cancellation runs inside an intercepted sleep, and reports false
	 * races (google/sanitizers#646): nanosleep is left out there.
	 */
	if (mode == STUB_NANOSLEEP)
		return;
#endif
#ifdef UNDER_ASAN
	/*
	 * GCC's ASan runtime reports a false stack-buffer-underflow (or fails
	 * a CHECK) when a cancellation unwinds through a pthread_cleanup_push
	 * frame above a frame with redzones (google/sanitizers#1399), as a
	 * cancellation in supv_sleep does.
	 */
	if (mode == STUB_SUPV_SLEEP)
		return;
#endif
	stub_init(&s, mode, "w");
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "w",
	    .shutdown_ms = 300, .on_timeout = SUPV_TIMEOUT_CANCEL,
	    .arg_free = stub_free }, w_stub, &s), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&s.started), WAIT_MS));
	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_uint_lt(ms_since(t0), 5000);
	if (mode == STUB_SPIN) {
		ck_assert_uint_ge(ms_since(t0), 600);
		ck_trace(&rec, "root", 0, "S:w T:w T:w X:w:shutdown E:shutdown");
		supv_free(root);
		ck_assert_int_eq(atomic_load(&s.freed), 0);
		stub_finish(&s);
	} else {
		ck_assert_uint_ge(ms_since(t0), 300);
		ck_trace(&rec, "root", 0, "S:w T:w X:w:shutdown E:shutdown");
		/* It ended there: its body never returned, its arg is free. */
		ck_assert_int_eq(atomic_load(&s.done), 0);
		supv_free(root);
		ck_assert_int_eq(atomic_load(&s.freed), 1);
		/* Let a thread that was wrongly abandoned go. */
		atomic_store(&s.release, 1);
	}
	at = find_ev(&rec, SUPV_EV_EXIT, "w", 0);
	ck_assert_int_eq(rec.ev[at].code, 0);
	rec_destroy(&rec);
}
END_TEST

/* ABORT: the process aborts when the grace runs out. */
START_TEST(test_abort)
{
	static struct stub s;
	struct supv *root;

	stub_init(&s, STUB_CONDWAIT, "w");
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "w",
	    .shutdown_ms = 20, .on_timeout = SUPV_TIMEOUT_ABORT }, w_stub, &s), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&s.started), WAIT_MS));
	supv_stop(root);
	ck_abort_msg("supv_stop returned: no abort()");
}
END_TEST

/*
 * A child supervisor's finite shutdown_ms bounds the stop of its subtree:
 * a worker below with an infinite grace is forced (its own on_timeout).
 */
START_TEST(test_forced_subtree)
{
	static struct stub s;
	struct supv *root, *sub;
	struct rec rec;
	uint64_t t0;

	stub_init(&s, STUB_CONDWAIT, "w");
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "sub",
	    .shutdown_ms = 80 }, sub), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "w",
	    .shutdown_ms = SUPV_INFINITY, .arg_free = stub_free }, w_stub, &s), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&s.started), WAIT_MS));
	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_uint_ge(ms_since(t0), 80);
	ck_assert_uint_lt(ms_since(t0), 4000);
	ck_trace(&rec, "root", 0, "S:sub T:sub X:sub:shutdown E:shutdown");
	ck_trace(&rec, "sub", 0, "S:w T:w X:w:shutdown E:shutdown");
	supv_free(root);
	stub_finish(&s);
	rec_destroy(&rec);
}
END_TEST

/* SUPV_ZERO: no grace at all; the default grace is not it. */
START_TEST(test_zero_grace)
{
	static struct stub s;
	struct supv *root;
	struct rec rec;
	uint64_t t0;

	stub_init(&s, STUB_CONDWAIT, "w");
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "w",
	    .shutdown_ms = SUPV_ZERO, .arg_free = stub_free }, w_stub, &s), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&s.started), WAIT_MS));
	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_uint_lt(ms_since(t0), 2500);
	ck_trace(&rec, "root", 0, "S:w T:w X:w:shutdown E:shutdown");
	supv_free(root);
	stub_finish(&s);
	rec_destroy(&rec);
}
END_TEST

static atomic_int twice_runs;

static int
w_fail_twice(struct supv_worker *self, void *arg)
{
	if (atomic_fetch_add(&twice_runs, 1) < 2)
		return 1;
	return w_sleeper(self, arg);
}

/* arg_free runs exactly once per spec, once the spec is gone. */
START_TEST(test_arg_free_once)
{
	atomic_int n_del = 0, n_run = 0, n_temp = 0, n_perm = 0, n_sub = 0,
	    n_grp = 0, n_busy = 0, n_temp_stop = 0;
	struct supv *root, *sub;
	struct rec rec;
	struct trip t = { .code = 1 };

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 10, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .strategy = SUPV_ONE_FOR_ALL, .intensity = 10 }), 0);
	/* Deleted from a stopped supervisor: at once. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "del",
	    .arg_free = count_free }, w_sleeper, &n_del), 0);
	ck_assert_int_eq(supv_delete_child(root, "del"), 0);
	ck_assert_int_eq(atomic_load(&n_del), 1);

	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "run",
	    .arg_free = count_free }, w_sleeper, &n_run), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "perm",
	    .arg_free = count_free }, w_fail_twice, &n_perm), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "tstop",
	    .restart = SUPV_TEMPORARY, .arg_free = count_free }, w_sleeper, &n_temp_stop), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "sw",
	    .arg_free = count_free }, w_sleeper, &n_sub), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "grp",
	    .restart = SUPV_TEMPORARY, .arg_free = count_free }, w_sleeper, &n_grp), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "trip" },
	    w_trip, &t), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "perm", 3), 3);

	/* Terminated, then deleted from a running supervisor. */
	ck_assert_int_eq(supv_terminate_child(root, "run"), 0);
	ck_assert_int_eq(atomic_load(&n_run), 0);
	ck_assert_int_eq(supv_delete_child(root, "run"), 0);
	ck_assert(POLL_UNTIL(atomic_load(&n_run) == 1, WAIT_MS));

	/* A temporary child that ended. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "temp",
	    .restart = SUPV_TEMPORARY, .arg_free = count_free }, w_fail, &n_temp), 0);
	ck_assert(POLL_UNTIL(atomic_load(&n_temp) == 1, WAIT_MS));

	/* A temporary sibling dropped by a group restart. */
	atomic_store(&t.armed, 1);
	ck_assert(POLL_UNTIL(atomic_load(&n_grp) == 1, WAIT_MS));

	/* Added to a running supervisor but failed to start: the caller keeps arg. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "busy",
	    .ready_ms = 5000, .arg_free = count_free }, w_fail, &n_busy), ECHILD);

	ck_assert_int_eq(supv_stop(root), 0);
	/* A temporary child stopped with the tree: its spec went. */
	ck_assert_int_eq(atomic_load(&n_temp_stop), 1);
	ck_assert_int_eq(atomic_load(&n_perm), 0);
	ck_assert_int_eq(atomic_load(&n_sub), 0);
	supv_free(root);
	ck_assert_int_eq(atomic_load(&n_del), 1);
	ck_assert_int_eq(atomic_load(&n_run), 1);
	ck_assert_int_eq(atomic_load(&n_temp), 1);
	ck_assert_int_eq(atomic_load(&n_grp), 1);
	ck_assert_int_eq(atomic_load(&n_perm), 1);
	ck_assert_int_eq(atomic_load(&n_sub), 1);
	ck_assert_int_eq(atomic_load(&n_temp_stop), 1);
	ck_assert_int_eq(atomic_load(&n_busy), 0);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_stopping(void)
{
	Suite *s = suite_create("stopping");
	TCase *tc = tcase_create("stopping");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_stopping_and_sleep);
	tcase_add_test(tc, test_sleepers_all_wake);
	tcase_add_test(tc, test_stop_fd);
	tcase_add_test(tc, test_abandon);
	tcase_add_test(tc, test_grace_bounds);
	tcase_add_test(tc, test_abandoned_overlaps_restart);
	tcase_add_loop_test(tc, test_cancel, 0, STUB_NMODES);
	tcase_add_test_raise_signal(tc, test_abort, SIGABRT);
	tcase_add_test(tc, test_forced_subtree);
	tcase_add_test(tc, test_zero_grace);
	tcase_add_test(tc, test_arg_free_once);
	suite_add_tcase(s, tc);
	return s;
}
