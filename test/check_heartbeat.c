/*
 * check_heartbeat.c - hang detection: a worker that stops beating is
 * declared hung (never early), stopped and restarted; healthy ones never
 * are; supv_extend; what on_timeout does to a hung worker that does not
 * stop; and .spinning.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests.h"

#define NS_MS 1000000ULL

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/*
 * Sleeps ms milliseconds in nanosleep(), a cancellation point, for workers
 * that SUPV_TIMEOUT_CANCEL cancels.  Two sanitizer limitations shape it:
 * TSan does not see the synchronization of cleanup handlers run from
 * inside its nanosleep interceptor (google/sanitizers#646), so under TSan
 * a cancellation is acted on only between short naps; and ASan reports a
 * false stack-buffer-overflow when a thread is cancelled while a frame
 * with poisoned locals is live (google/sanitizers#1399), so this frame is
 * not instrumented.
 */
__attribute__((no_sanitize_address)) static void
nap(unsigned ms)
{
#ifdef UNDER_TSAN
	int old;

	for (unsigned i = 0; i < ms; i += 5) {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		sleep_ms(5);
		pthread_setcancelstate(old, NULL);
		pthread_testcancel();
	}
#else
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
#endif
}

static struct supv *
hb_root(const char *name, struct rec *rec, enum supv_strategy strategy)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = name,
	    .strategy = strategy, .intensity = 10, .period_ms = 60000,
	    .on_event = rec_cb, .event_arg = rec }), 0);
	return s;
}

/*
 * A run that is never declared hung: it suspends its monitoring before it
 * says it is ready (a loaded machine could starve a beating thread past
 * its deadline, and later runs are not what the tests look at).  The
 * children that use it have ready_ms, so that monitoring starts only at
 * supv_ready(); their first runs call supv_ready() at once.
 */
static int
w_exempt(struct supv_worker *self, void *arg)
{
	supv_extend(self, SUPV_INFINITY);
	supv_ready(self);
	return w_sleeper(self, arg);
}

/* Hangs (never beats) on its first run; the later ones are exempt. */
static atomic_int runs;

static int
w_hang_once(struct supv_worker *self, void *arg)
{
	if (atomic_fetch_add(&runs, 1) == 0) {
		supv_ready(self);
		return w_sleeper(self, arg);
	}
	return w_exempt(self, arg);
}

START_TEST(test_hung_detected_restarted)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev start, hung, ex;

	rec_init(&rec);
	atomic_store(&runs, 0);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "h", .heartbeat_ms = 50, .ready_ms = WAIT_MS }, w_hang_once,
	    NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "h", 2), 2);
	start = ev_get(&rec, SUPV_EV_START, "h", 0);
	hung = ev_get(&rec, SUPV_EV_HUNG, "h", 0);
	ex = ev_get(&rec, SUPV_EV_EXIT, "h", 0);
	/* Never before 50 ms after its start; not very long after either. */
	ck_assert_msg(hung.at_ns >= start.at_ns + 50 * NS_MS,
	    "hung after %llu us", (unsigned long long)(hung.at_ns - start.at_ns) / 1000);
	ck_assert_uint_lt(hung.at_ns, start.at_ns + 5000 * NS_MS);
	ck_assert_str_eq(hung.sup, "root");
	ck_assert_int_eq(ex.exit, SUPV_EXIT_HUNG);
	ck_assert_int_eq(ex.code, 0);
	/* Order: HUNG, EXIT, RESTART, START. */
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_HUNG, "h", 0),
	    rec_find(&rec, SUPV_EV_EXIT, "h", 0));
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_EXIT, "h", 0),
	    rec_find(&rec, SUPV_EV_RESTART, "h", 0));
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_RESTART, "h", 0),
	    rec_find(&rec, SUPV_EV_START, "h", 1));
	ck_assert(POLL_UNTIL(atomic_load(&runs) >= 2, WAIT_MS));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* With ready_ms, the heartbeat deadline counts from supv_ready(). */
static _Atomic uint64_t ready_at;

static int
w_ready_late_then_hang(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&runs, 1) > 0)
		return w_exempt(self, NULL);
	supv_sleep(self, 100);	/* longer than heartbeat_ms, before ready */
	atomic_store(&ready_at, mono_ns());
	supv_ready(self);
	return w_sleeper(self, NULL);
}

START_TEST(test_hung_counts_from_ready)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev hung;

	rec_init(&rec);
	atomic_store(&runs, 0);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "h", .heartbeat_ms = 50, .ready_ms = WAIT_MS },
	    w_ready_late_then_hang, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_HUNG, "h", 1), 1);
	hung = ev_get(&rec, SUPV_EV_HUNG, "h", 0);
	ck_assert_uint_ge(hung.at_ns, atomic_load(&ready_at) + 50 * NS_MS);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * A beating worker that measures its own longest silence: the time from
 * just before a beat to the next one (or to its wake-up when asked to
 * stop).  That is never less than the silence the supervisor saw.
 */
struct gap {
	_Atomic uint64_t before;   /* mono_ns() just before the last beat */
	_Atomic uint64_t longest;
};

static void
gap_note(struct gap *g)
{
	uint64_t now = mono_ns(), b = atomic_load(&g->before);

	if (b != 0 && now - b > atomic_load(&g->longest))
		atomic_store(&g->longest, now - b);
}

static int
w_beat_gap(struct supv_worker *self, void *arg)
{
	struct gap *g = arg;

	do {
		gap_note(g);
		atomic_store(&g->before, mono_ns());
		supv_heartbeat(self);
	} while (supv_sleep(self, 5) == 0);
	gap_note(g);
	return 0;
}

/*
 * Many children in one heartbeat group, a third of them hanging at once
 * and some deleted meanwhile: a round finds several hung in one pass
 * (the group's slots move as it goes), and reports each hung child once
 * and no other.
 */
#define NGROUP 36
static atomic_int group_runs[NGROUP];
static struct supv *group_root;

static atomic_int group_hung;

/*
 * Records, and at each HUNG takes a snapshot of the tree: the loop emits
 * it with the lock dropped while the other children found in the same
 * round wait their turn, and a snapshot must read them too.  The first
 * HUNG holds the loop until every other hang is due, so that the next
 * round finds them all at once.
 */
static void
group_cb(const struct supv_event *ev, void *arg)
{
	static char buf[1 << 16];

	rec_cb(ev, arg);
	if (ev->kind != SUPV_EV_HUNG)
		return;
	if (atomic_fetch_add(&group_hung, 1) == 0)
		sleep_ms(200);
	ck_assert_int_ge(supv_metrics_format(group_root, buf, sizeof(buf)), 0);
}

static int
w_group(struct supv_worker *self, void *arg)
{
	int i = (int)(intptr_t)arg;

	if (i % 3 == 1 && atomic_fetch_add(&group_runs[i], 1) == 0) {
		supv_ready(self);
		return w_sleeper(self, NULL);	/* hangs: never beats */
	}
	return w_exempt(self, NULL);
}

START_TEST(test_many_hang_in_one_round)
{
	struct supv *root;
	struct rec rec;
	char id[16];
	int i;

	rec_init(&rec);
	for (i = 0; i < NGROUP; i++)
		atomic_store(&group_runs[i], 0);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = group_cb, .event_arg = &rec }), 0);
	group_root = root;
	atomic_store(&group_hung, 0);
	for (i = 0; i < NGROUP; i++) {
		snprintf(id, sizeof(id), "g%d", i);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = id, .heartbeat_ms = 50, .ready_ms = WAIT_MS },
		    w_group, (void *)(intptr_t)i), 0);
	}
	ck_assert_int_eq(supv_start(root), 0);
	/* Monitored ones leave the group before the hangs are found. */
	for (i = 0; i < NGROUP; i += 6) {
		snprintf(id, sizeof(id), "g%d", i);
		ck_assert_int_eq(supv_terminate_child(root, id), 0);
		ck_assert_int_eq(supv_delete_child(root, id), 0);
	}
	/* And the ones that moved into their places leave and come back. */
	for (i = 0; i < NGROUP; i++) {
		if (i % 3 == 1 || i % 6 == 0)
			continue;
		snprintf(id, sizeof(id), "g%d", i);
		ck_assert_int_eq(supv_terminate_child(root, id), 0);
		ck_assert_int_eq(supv_restart_child(root, id), 0);
	}
	for (i = 1; i < NGROUP; i += 3) {
		snprintf(id, sizeof(id), "g%d", i);
		ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, id, 2), 2);
	}
	ck_assert_int_eq(supv_stop(root), 0);
	for (i = 0; i < NGROUP; i++) {
		snprintf(id, sizeof(id), "g%d", i);
		ck_assert_msg(rec_count(&rec, SUPV_EV_HUNG, id) == (i % 3 == 1 ? 1u : 0u),
		    "%s: %u HUNG events", id, rec_count(&rec, SUPV_EV_HUNG, id));
	}
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

#define NHEALTHY 100

START_TEST(test_healthy_never_flagged)
{
	struct supv *root;
	struct rec rec;
	char id[16];
	uint64_t t0;
	const unsigned hb = 300;
	static struct gap gaps[NHEALTHY];
	unsigned flagged = 0;

	rec_init(&rec);
	memset(gaps, 0, sizeof(gaps));
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	for (int i = 0; i < NHEALTHY; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		/* Beats every 5 ms; 300 ms allowed. */
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = id, .heartbeat_ms = hb }, w_beat_gap, &gaps[i]), 0);
	}
	ck_assert_int_eq(supv_start(root), 0);
	/* Not a synchronization: the span over which they are watched. */
	t0 = mono_ns();
	while (mono_ns() - t0 < 1000 * NS_MS)
		sleep_ms(50);
	ck_assert_int_eq(supv_stop(root), 0);
	/*
	 * None is flagged unless it really was silent for heartbeat_ms: a
	 * loaded machine (or TSan, with 100 threads on few CPUs) can starve a
	 * thread that long, and then the report is right.
	 */
	for (int i = 0; i < NHEALTHY; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		if (rec_count(&rec, SUPV_EV_HUNG, id) == 0)
			continue;
		flagged++;
		ck_assert_msg(atomic_load(&gaps[i].longest) >= hb * NS_MS,
		    "%s flagged, its longest silence was %llu us", id,
		    (unsigned long long)atomic_load(&gaps[i].longest) / 1000);
	}
	if (flagged > 0)
		fprintf(stderr, "test_healthy_never_flagged: %u workers were starved "
		    "for %u ms (a loaded machine)\n", flagged, hb);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * A hung worker that ignores the stop request: its first run blocks in
 * nanosleep (a cancellation point) until released; later runs beat.
 */
struct stuck {
	atomic_int  runs;
	atomic_int  returned;
	atomic_bool release;
	atomic_int  freed;
};

static void
stuck_free(void *arg)
{
	atomic_fetch_add(&((struct stuck *)arg)->freed, 1);
}

static int
w_stuck_once(struct supv_worker *self, void *arg)
{
	struct stuck *s = arg;

	if (atomic_fetch_add(&s->runs, 1) > 0)
		return w_exempt(self, NULL);
	supv_ready(self);
	while (!atomic_load(&s->release))
		nap(5);
	atomic_fetch_add(&s->returned, 1);
	return 0;
}

static void
hung_ignoring(enum supv_on_timeout how)
{
	struct supv *root;
	struct rec rec;
	struct stuck st = { 0 };
	struct rec_ev ex;
	int h, t, e, r;
	unsigned n;

	rec_init(&rec);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "h", .heartbeat_ms = 50, .ready_ms = WAIT_MS,
	    .shutdown_ms = 200, .on_timeout = how,
	    .arg_free = stuck_free }, w_stuck_once, &st), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "h", 2), 2);
	h = rec_find(&rec, SUPV_EV_HUNG, "h", 0);
	t = rec_find(&rec, SUPV_EV_STOP_TIMEOUT, "h", 0);
	e = rec_find(&rec, SUPV_EV_EXIT, "h", 0);
	r = rec_find(&rec, SUPV_EV_RESTART, "h", 0);
	ck_assert_int_ge(h, 0);
	ck_assert_int_gt(t, h);
	ck_assert_int_gt(e, t);
	ck_assert_int_gt(r, e);
	ex = ev_get(&rec, SUPV_EV_EXIT, "h", 0);
	ck_assert_int_eq(ex.exit, SUPV_EXIT_HUNG);
	ck_assert_int_eq(ex.code, 0);
	/* Cancelled within the second grace: one STOP_TIMEOUT only. */
	if (how == SUPV_TIMEOUT_CANCEL)
		ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "h"), 1);
	ck_assert(POLL_UNTIL(atomic_load(&st.runs) >= 2, WAIT_MS));
	atomic_store(&st.release, true);
	supv_free(root);
	n = rec_count(&rec, SUPV_EV_EXIT, "h");
	/* Every run has returned (or was cancelled) before arg_free. */
	ck_assert(POLL_UNTIL(atomic_load(&st.freed) == 1, WAIT_MS));
	if (how == SUPV_TIMEOUT_CANCEL)
		ck_assert_int_eq(atomic_load(&st.returned), 0);
	else
		ck_assert_int_eq(atomic_load(&st.returned), 1);
	/* Nothing is reported when an abandoned run returns. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "h"), n);
	rec_destroy(&rec);
}

START_TEST(test_hung_ignores_stop_abandon)
{
	hung_ignoring(SUPV_TIMEOUT_ABANDON);
}
END_TEST

START_TEST(test_hung_ignores_stop_cancel)
{
	hung_ignoring(SUPV_TIMEOUT_CANCEL);
}
END_TEST

START_TEST(test_hung_one_for_all)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev e;

	rec_init(&rec);
	atomic_store(&runs, 0);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ALL);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "h", .heartbeat_ms = 50, .ready_ms = WAIT_MS }, w_hang_once,
	    NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "z" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "z", 2), 2);
	e = ev_get(&rec, SUPV_EV_EXIT, "h", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_HUNG);
	e = ev_get(&rec, SUPV_EV_EXIT, "a", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_SHUTDOWN);
	e = ev_get(&rec, SUPV_EV_EXIT, "z", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_SHUTDOWN);
	ck_assert_uint_ge(rec_count(&rec, SUPV_EV_RESTART, "a"), 1);
	ck_assert_uint_ge(rec_count(&rec, SUPV_EV_RESTART, "h"), 1);
	ck_assert_uint_ge(rec_count(&rec, SUPV_EV_RESTART, "z"), 1);
	/* The group stopped before anything restarted. */
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_EXIT, "a", 0),
	    rec_find(&rec, SUPV_EV_RESTART, "a", 0));
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_START, "a", 1),
	    rec_find(&rec, SUPV_EV_START, "h", 1));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * supv_extend: a long quiet phase after an extension is no hang; the next
 * heartbeat ends the extension, after which silence is a hang again.
 */
static _Atomic uint64_t ext_at, beat_at;
static atomic_int ext_rc = -1;

static int
w_extend(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&runs, 1) > 0)
		return w_exempt(self, NULL);
	supv_heartbeat(self);
	atomic_store(&ext_at, mono_ns());
	atomic_store(&ext_rc, supv_extend(self, 5000));
	supv_ready(self);
	if (supv_sleep(self, 300) != 0)	/* 6 heartbeat periods of silence */
		return 0;
	atomic_store(&beat_at, mono_ns());
	supv_heartbeat(self);		/* ends the extension */
	return w_sleeper(self, NULL);	/* and never beats again */
}

START_TEST(test_extend)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev hung;

	atomic_store(&ext_rc, -1);
	atomic_store(&beat_at, 0);
	rec_init(&rec);
	atomic_store(&runs, 0);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "x", .heartbeat_ms = 50, .ready_ms = WAIT_MS }, w_extend,
	    NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_HUNG, "x", 1), 1);
	ck_assert_int_eq(atomic_load(&ext_rc), 0);
	hung = ev_get(&rec, SUPV_EV_HUNG, "x", 0);
	ck_assert_uint_ne(atomic_load(&beat_at), 0);
	/* Not during the extension's quiet phase ... */
	ck_assert_uint_ge(hung.at_ns, atomic_load(&beat_at) + 50 * NS_MS);
	/* ... and well before the 5 s extension would have run out. */
	ck_assert_uint_lt(hung.at_ns, atomic_load(&ext_at) + 5000 * NS_MS);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* An extension that runs out without a beat: hung, but not before its end. */
static int
w_extend_expire(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&runs, 1) > 0)
		return w_exempt(self, NULL);
	atomic_store(&ext_at, mono_ns());
	atomic_store(&ext_rc, supv_extend(self, 200));
	supv_ready(self);
	return w_sleeper(self, NULL);
}

START_TEST(test_extend_expires)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev hung;

	atomic_store(&ext_rc, -1);
	atomic_store(&beat_at, 0);
	rec_init(&rec);
	atomic_store(&runs, 0);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "x", .heartbeat_ms = 50, .ready_ms = WAIT_MS },
	    w_extend_expire, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_HUNG, "x", 1), 1);
	ck_assert_int_eq(atomic_load(&ext_rc), 0);
	hung = ev_get(&rec, SUPV_EV_HUNG, "x", 0);
	ck_assert_uint_ge(hung.at_ns, atomic_load(&ext_at) + 200 * NS_MS);
	ck_assert_uint_lt(hung.at_ns, atomic_load(&ext_at) + 5000 * NS_MS);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* SUPV_INFINITY: no hang at all until the next heartbeat. */
static int
w_extend_forever(struct supv_worker *self, void *arg)
{
	(void)arg;
	atomic_store(&ext_rc, supv_extend(self, SUPV_INFINITY));
	supv_ready(self);
	return w_sleeper(self, NULL);
}

START_TEST(test_extend_infinity)
{
	struct supv *root;
	struct rec rec;

	atomic_store(&ext_rc, -1);
	atomic_store(&beat_at, 0);
	rec_init(&rec);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "x", .heartbeat_ms = 20, .ready_ms = WAIT_MS },
	    w_extend_forever, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&ext_rc) != -1, WAIT_MS));
	ck_assert_int_eq(atomic_load(&ext_rc), 0);
	/* Not a synchronization: 15 heartbeat periods in which nothing may happen. */
	sleep_ms(300);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, NULL), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * .spinning: a busy loop, versus a thread blocked in a long sleep.  The
 * spinner notes the share of a CPU it got, in per mille: on a machine with
 * more runnable threads than CPUs it may get less than the half that
 * counts as spinning.
 */
static atomic_uint spin_share;

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
w_spin(struct supv_worker *self, void *arg)
{
	uint64_t t0 = mono_ns(), c0 = cpu_ns(), wall;
	unsigned share;

	(void)arg;
	while (!supv_stopping(self))
		;
	wall = mono_ns() - t0;
	share = wall > 0 ? (unsigned)((cpu_ns() - c0) * 1000 / wall) : 0;
	if (share > atomic_load(&spin_share))
		atomic_store(&spin_share, share);
	return 0;
}

static int
w_nanosleep(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	nap(10000);	/* cancelled long before it ends */
	return 0;
}

/* Counts the HUNG events of "spin", and those that say it was spinning. */
struct spins {
	atomic_int hung, spinning;
};

static void
spin_hook(const struct supv_event *ev, void *arg)
{
	struct spins *sp = arg;

	if (ev->kind != SUPV_EV_HUNG || strcmp(ev->child, "spin") != 0)
		return;
	atomic_fetch_add(&sp->spinning, ev->spinning);
	atomic_fetch_add(&sp->hung, 1);
}

START_TEST(test_spinning)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev block, e;
	struct spins sp = { 0 };

	atomic_store(&spin_share, 0);
	rec_init(&rec);
	rec.hook = spin_hook;
	rec.hook_arg = &sp;
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	/*
	 * A spinner needs more than half a CPU to be seen spinning, which a
	 * loaded machine may not give it every time: it hangs again after
	 * each restart, and one report in a few must say it spins.
	 */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "spin", .heartbeat_ms = 200 }, w_spin, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "block", .heartbeat_ms = 200, .restart = SUPV_TEMPORARY,
	    .on_timeout = SUPV_TIMEOUT_CANCEL, .shutdown_ms = 20 },
	    w_nanosleep, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_EXIT, "block", 1), 1);
	ck_assert(POLL_UNTIL(atomic_load(&sp.spinning) > 0 ||
	    atomic_load(&sp.hung) >= 8, WAIT_MS));
	ck_assert_msg(atomic_load(&sp.spinning) > 0 || atomic_load(&spin_share) < 750,
	    "a spinner that got %u per mille of a CPU was never seen spinning",
	    atomic_load(&spin_share));
	block = ev_get(&rec, SUPV_EV_HUNG, "block", 0);
	ck_assert(!block.spinning);
	e = ev_get(&rec, SUPV_EV_EXIT, "spin", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_HUNG);
	e = ev_get(&rec, SUPV_EV_EXIT, "block", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_HUNG);
	/* Other kinds leave .spinning false. */
	e = ev_get(&rec, SUPV_EV_START, "spin", 0);
	ck_assert(!e.spinning);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A worker being stopped is no longer monitored. */
static int
w_slow_stop(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_heartbeat(self);
	while (supv_sleep(self, 10) == 0)
		supv_heartbeat(self);
	sleep_ms(300);	/* 3 heartbeat periods without a beat while stopping */
	return 0;
}

START_TEST(test_not_monitored_while_stopping)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev e;

	rec_init(&rec);
	root = hb_root("root", &rec, SUPV_ONE_FOR_ONE);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "x", .heartbeat_ms = 100 }, w_slow_stop, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_terminate_child(root, "x"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, NULL), 0);
	e = ev_get(&rec, SUPV_EV_EXIT, "x", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_SHUTDOWN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * 26, also: a child found hung in the same round as a sibling, that
 * returns on its own while the sibling's HUNG callback runs, was not
 * hung: it gets no HUNG event, and its EXIT says how it ended.
 */
static atomic_int quiet_go, quiet_tid;

static int
w_quiet_then_return(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	atomic_store(&quiet_tid, (int)syscall(SYS_gettid));
	while (!atomic_load(&quiet_go))
		sleep_ms(1);
	return 0;
}

static bool
task_gone(int tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	return access(path, F_OK) != 0;
}

static void
quiet_hook(const struct supv_event *ev, void *arg)
{
	(void)arg;
	/* The loop samples nothing meanwhile: a and b are overdue together. */
	if (ev->kind == SUPV_EV_START && strcmp(ev->child, "z") == 0)
		sleep_ms(200);
	if (ev->kind != SUPV_EV_HUNG || strcmp(ev->child, "a") != 0)
		return;
	/* b returns now, and its thread is gone before this callback ends. */
	atomic_store(&quiet_go, 1);
	for (int i = 0; i < WAIT_MS && !task_gone(atomic_load(&quiet_tid)); i++)
		sleep_ms(1);
}

START_TEST(test_hung_sibling_returned_meanwhile)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	rec.hook = quiet_hook;
	atomic_store(&quiet_go, 0);
	atomic_store(&quiet_tid, 0);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	/* Two quiet workers of one period, found hung in one round. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .heartbeat_ms = 50, .restart = SUPV_TEMPORARY },
	    w_ignore, (void *)(intptr_t)300), 0);	/* its stop takes a while */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b", .heartbeat_ms = 50, .restart = SUPV_TEMPORARY },
	    w_quiet_then_return, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "z" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "a", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "b", 1), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, "a"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, "b"), 0);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "a", 0).exit, SUPV_EXIT_HUNG);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "b", 0).exit, SUPV_EXIT_NORMAL);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_heartbeat(void)
{
	Suite *s = suite_create("heartbeat");
	TCase *tc = tcase_create("heartbeat");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_hung_detected_restarted);
	tcase_add_test(tc, test_hung_counts_from_ready);
	tcase_add_test(tc, test_healthy_never_flagged);
	tcase_add_test(tc, test_many_hang_in_one_round);
	tcase_add_test(tc, test_hung_ignores_stop_abandon);
	tcase_add_test(tc, test_hung_ignores_stop_cancel);
	tcase_add_test(tc, test_hung_one_for_all);
	tcase_add_test(tc, test_extend);
	tcase_add_test(tc, test_extend_expires);
	tcase_add_test(tc, test_extend_infinity);
	tcase_add_test(tc, test_spinning);
	tcase_add_test(tc, test_not_monitored_while_stopping);
	tcase_add_test(tc, test_hung_sibling_returned_meanwhile);
	suite_add_tcase(s, tc);
	return s;
}
