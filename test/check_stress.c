/*
 * check_stress.c - concurrency stress and shutdown under faults.
 *
 * Stress: for a few seconds, threads add, terminate, restart and delete
 * children of a running tree while 200 pooled workers fail at random times
 * (returning, pthread_exit, going silent on their heartbeat) and others
 * hang deaf to stop requests.  Every call must come back (no deadlock),
 * return what its caller's own model of its children says, and at the end
 * the counts, the events and the arg_free calls must all agree.
 *
 * Shutdown: a tree of 100 workers of which 10 ignore stop requests stops
 * within their graces, one at a time for a plain supervisor, all at once
 * for a pool, reports each grace that ran out, and the threads it abandoned
 * finish after supv_free without harm.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

#define STRESS_MS   4000	/* how long the mutators run */
#define STUCK_MS    stuck_ms()	/* a call that long is a deadlock */
#define NMUT        4		/* mutator threads */
#define NSLOT       9		/* ids per mutator: 8 workers, 1 supervisor */
#define POOL_SIZE   200
#define NHANG       10

/* Check's CK_TIMEOUT_MULTIPLIER (valgrind runs): time bounds stretch by it. */
static unsigned
slow(void)
{
	const char *e = getenv("CK_TIMEOUT_MULTIPLIER");

	return e != NULL && atoi(e) > 1 ? (unsigned)atoi(e) : 1;
}

/* How long one call may take before it counts as a deadlock. */
static unsigned
stuck_ms(void)
{
	const char *e = getenv("STRESS_STUCK_MS");

	return e != NULL ? (unsigned)atoi(e) : 10000 * slow();
}


/* A small per-thread random generator (xorshift), seeded per thread. */
static atomic_uint seeds = 1;
static _Thread_local uint64_t rnd_state;

static unsigned
rnd(void)
{
	if (rnd_state == 0)
		rnd_state = 0x9e3779b97f4a7c15ULL * atomic_fetch_add(&seeds, 1) ^
		    mono_ns();
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state >> 11);
}

/*
 * Threads that ran a worker body and have not ended yet, abandoned ones
 * included.  A thread-specific value's destructor counts the end, however
 * the thread ends (return, pthread_exit, cancellation): with no cleanup
 * handler of the test's own, which GCC's ASan cannot unwind through
 * (google/sanitizers#1399).
 */
static atomic_int live;
static pthread_key_t live_key;
static pthread_once_t live_once = PTHREAD_ONCE_INIT;

static void
live_end(void *arg)
{
	(void)arg;
	atomic_fetch_sub(&live, 1);
}

static void
live_init(void)
{
	pthread_key_create(&live_key, live_end);
}

/* Runs body, counted in live from its thread's first run to its end. */
static int
counted(int (*body)(struct supv_worker *, void *), struct supv_worker *self,
    void *arg)
{
	pthread_once(&live_once, live_init);
	if (pthread_getspecific(live_key) == NULL) {
		atomic_fetch_add(&live, 1);
		pthread_setspecific(live_key, &live);
	}
	return body(self, arg);
}

/*
 * Beats every slice ms for about ms; false once asked to stop.  Its naps
 * are no cancellation points (see deaf_sleep): a worker woken by a stop
 * request late, past its grace, is cancelled after its nap.
 */
static bool
beat_for(struct supv_worker *self, unsigned ms, unsigned slice)
{
	uint64_t end = mono_ns() + (uint64_t)ms * 1000000;
	int rc;

	while (mono_ns() < end) {
		supv_heartbeat(self);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		rc = supv_sleep(self, slice);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		pthread_testcancel();
		if (rc != 0)
			return false;
	}
	return true;
}

/*
 * Runs 20-200 ms, then ends at random: normally, with a failure,
 * through pthread_exit, or by going silent until stopped as hung.
 */
static int
flaky_body(struct supv_worker *self, void *arg)
{
	unsigned r = rnd() % 10;

	(void)arg;
	if (!beat_for(self, 20 + rnd() % 180, 20))
		return 0;
	switch (r) {
	case 0:
		return 0;
	case 1:
		pthread_exit(NULL);
	case 2:
		while (supv_sleep(self, 1000) == 0)
			;
		return 0;
	default:
		return (int)r;
	}
}

static int
w_flaky(struct supv_worker *self, void *arg)
{
	return counted(flaky_body, self, arg);
}

/*
 * Sleeps ms deaf to stop requests.  A cancellation takes effect between
 * naps, not inside nanosleep: TSan cannot follow a thread cancelled in a
 * sleep and reports false races in its cleanup handlers
 * (google/sanitizers#646).  No local of the frames a cancellation unwinds
 * has its address taken: GCC's ASan finds the stale poison of such frames
 * when the library's cleanup handler runs, and fails a CHECK
 * (google/sanitizers#1399).
 */
static void
deaf_sleep(unsigned ms)
{
	uint64_t end = mono_ns() + (uint64_t)ms * 1000000;

	while (mono_ns() < end) {
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		sleep_ms(1);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		pthread_testcancel();
	}
}

/* Beats a while, then hangs 20-170 ms deaf to stop requests. */
static int
hanger_body(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (beat_for(self, 10 + rnd() % 90, 5))
		deaf_sleep(20 + rnd() % 150);
	return 0;
}

static int
w_hanger(struct supv_worker *self, void *arg)
{
	return counted(hanger_body, self, arg);
}

static int
sleeper_body(struct supv_worker *self, void *arg)
{
	return w_sleeper(self, arg);
}

/* Ignores a stop request for 5-60 ms. */
static int
deaf_body(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	deaf_sleep(5 + rnd() % 55);
	return 0;
}

static int
w_dyn(struct supv_worker *self, void *arg)
{
	switch ((intptr_t)arg) {
	case 0:
		return counted(sleeper_body, self, arg);
	case 1:
		return counted(flaky_body, self, arg);
	default:
		return counted(deaf_body, self, arg);
	}
}

static atomic_int dyn_frees;

static void
dyn_free(void *arg)
{
	(void)arg;
	atomic_fetch_add(&dyn_frees, 1);
}

/* Events, counted by kind; RESTARTs of "hangers" on their own. */
static atomic_uint ev_n[SUPV_EV_SUP_EXIT + 1];
static atomic_uint ev_start_failed, ev_hangers_restarts, ev_bad;

static void
count_cb(const struct supv_event *ev, void *arg)
{
	(void)arg;
	if ((unsigned)ev->kind > SUPV_EV_SUP_EXIT || ev->sup == NULL) {
		atomic_fetch_add(&ev_bad, 1);
		return;
	}
	atomic_fetch_add(&ev_n[ev->kind], 1);
	if (ev->kind == SUPV_EV_EXIT && ev->exit == SUPV_EXIT_START_FAILED)
		atomic_fetch_add(&ev_start_failed, 1);
	if (ev->kind == SUPV_EV_RESTART && strcmp(ev->sup, "hangers") == 0)
		atomic_fetch_add(&ev_hangers_restarts, 1);
	/* Every kind but these names a child. */
	if ((ev->child == NULL) != (ev->kind == SUPV_EV_GIVE_UP ||
	    ev->kind == SUPV_EV_SUP_EXIT))
		atomic_fetch_add(&ev_bad, 1);
}

/* One mutator: its own ids "m<k>.<slot>", and its model of which exist. */
struct mut {
	pthread_t        thread;
	int              k;
	struct supv     *dyn, *root;
	bool             present[NSLOT];
	unsigned         ops, adds;
	_Atomic uint64_t progress;	/* when its last call returned */
	atomic_int       op, slot;	/* the call it is in, on which slot */
	atomic_bool      done;		/* it has returned (err tells why) */
	uint64_t         max_ns[8];	/* the longest call of each kind */
	char             err[256];
};

static atomic_bool muts_stop;

static void
slot_id(char *buf, size_t n, int k, int slot)
{
	snprintf(buf, n, "m%d.%d", k, slot);
}

#define MUT_EXPECT(m, cond, ...) do {                                         \
	if (!(cond) && (m)->err[0] == '\0')                                   \
		snprintf((m)->err, sizeof((m)->err), __VA_ARGS__);            \
} while (0)

/*
 * Adds slot's child.  m->adds counts the specs made with dyn_free as
 * arg_free that will be freed: an added worker, and the worker "s" of a
 * subtree whether the subtree was added or freed here.
 */
static int
add_slot(struct mut *m, int slot, const char *id)
{
	struct supv *sub;
	int rc;

	if (slot < NSLOT - 1) {
		rc = supv_add_worker(m->dyn, &(struct supv_child_opts){
		    .id = id,
		    .restart = rnd() % 2 ? SUPV_PERMANENT : SUPV_TRANSIENT,
		    .shutdown_ms = 20,
		    .backoff_ms = rnd() % 3 == 0 ? 5 : 0,
		    .same_thread = rnd() % 4 == 0,
		    .arg_free = dyn_free }, w_dyn, (void *)(intptr_t)(rnd() % 3));
		m->adds += rc == 0;
		return rc;
	}
	/* A small subtree: a sleeper and a flaky worker. */
	if ((rc = supv_new(&sub, &(struct supv_opts){ .name = id,
	    .intensity = SUPV_INFINITY, .on_event = count_cb })) != 0)
		return rc;
	rc = supv_add_worker(sub, &(struct supv_child_opts){ .id = "s",
	    .arg_free = dyn_free }, w_dyn, (void *)0);
	m->adds += rc == 0;
	if (rc != 0 ||
	    (rc = supv_add_worker(sub, &(struct supv_child_opts){ .id = "f",
	    .heartbeat_ms = 100 }, w_dyn, (void *)1)) != 0 ||
	    (rc = supv_add_sup(m->dyn, &(struct supv_child_opts){ .id = id }, sub)) != 0) {
		supv_free(sub);
		return rc;
	}
	return 0;
}

static void
check_listing(struct mut *m)
{
	struct supv_child_info ci[NMUT * NSLOT + 8];
	char prefix[16], id[SUPV_ID_MAX + 1];
	bool seen[NSLOT] = { false };
	size_t n, i;
	int rc, slot;

	rc = supv_which_children(m->dyn, ci, sizeof(ci) / sizeof(ci[0]), &n);
	MUT_EXPECT(m, rc == 0, "which_children: %s", strerror(rc));
	MUT_EXPECT(m, n <= sizeof(ci) / sizeof(ci[0]), "which_children: %zu children", n);
	snprintf(prefix, sizeof(prefix), "m%d.", m->k);
	for (i = 0; rc == 0 && i < n && i < sizeof(ci) / sizeof(ci[0]); i++) {
		if (strncmp(ci[i].id, prefix, strlen(prefix)) != 0)
			continue;
		slot = atoi(ci[i].id + strlen(prefix));
		slot_id(id, sizeof(id), m->k, slot);
		MUT_EXPECT(m, slot >= 0 && slot < NSLOT && strcmp(id, ci[i].id) == 0,
		    "which_children: stray id %.63s", ci[i].id);
		if (slot >= 0 && slot < NSLOT)
			seen[slot] = true;
		MUT_EXPECT(m, ci[i].is_sup == (slot == NSLOT - 1),
		    "which_children: %.63s is_sup %d", ci[i].id, ci[i].is_sup);
		MUT_EXPECT(m, !(ci[i].running && ci[i].pending),
		    "which_children: %.63s running and pending", ci[i].id);
	}
	for (slot = 0; rc == 0 && slot < NSLOT; slot++)
		MUT_EXPECT(m, seen[slot] == m->present[slot],
		    "which_children: m%d.%d listed %d, model %d", m->k, slot,
		    seen[slot], m->present[slot]);
}

static void *
mutator(void *arg)
{
	struct mut *m = arg;
	char id[SUPV_ID_MAX + 1];
	struct supv_counts cnt;
	uint64_t now;
	int slot, op, rc;

	while (!atomic_load(&muts_stop) && m->err[0] == '\0') {
		slot = (int)(rnd() % NSLOT);
		slot_id(id, sizeof(id), m->k, slot);
		op = (int)(rnd() % 8);
		atomic_store(&m->slot, slot);
		atomic_store(&m->op, op);
		switch (op) {
		case 0:
		case 1:
			rc = add_slot(m, slot, id);
			MUT_EXPECT(m, rc == (m->present[slot] ? EEXIST : 0),
			    "add %s: %s (present %d)", id, strerror(rc),
			    m->present[slot]);
			if (rc == 0)
				m->present[slot] = true;
			break;
		case 2:
			rc = supv_terminate_child(m->dyn, id);
			MUT_EXPECT(m, rc == (m->present[slot] ? 0 : ENOENT),
			    "terminate %s: %s (present %d)", id, strerror(rc),
			    m->present[slot]);
			break;
		case 3:
			rc = supv_restart_child(m->dyn, id);
			MUT_EXPECT(m, m->present[slot] ? rc == 0 || rc == EBUSY :
			    rc == ENOENT, "restart %s: %s (present %d)", id,
			    strerror(rc), m->present[slot]);
			break;
		case 4:
			rc = supv_delete_child(m->dyn, id);
			MUT_EXPECT(m, m->present[slot] ? rc == 0 || rc == EBUSY :
			    rc == ENOENT, "delete %s: %s (present %d)", id,
			    strerror(rc), m->present[slot]);
			if (rc == 0)
				m->present[slot] = false;
			break;
		case 5:
			rc = supv_count_children(m->dyn, &cnt);
			MUT_EXPECT(m, rc == 0 && cnt.active <= cnt.specs &&
			    cnt.specs == cnt.workers + cnt.supervisors &&
			    cnt.specs <= NMUT * NSLOT, "count: %s %u/%u", strerror(rc),
			    cnt.active, cnt.specs);
			break;
		case 6:
			check_listing(m);
			break;
		case 7:
			if (m->k == 0 && rnd() % 4 == 0) {
				unsigned size = POOL_SIZE - 20 + rnd() % 21;

				rc = supv_pool_resize(m->root, "flaky", size);
				MUT_EXPECT(m, rc == 0, "pool_resize %u: %s", size,
				    strerror(rc));
			} else {
				sleep_ms(1);
			}
			break;
		}
		m->ops++;
		now = mono_ns();
		if (now - atomic_load(&m->progress) > m->max_ns[op])
			m->max_ns[op] = now - atomic_load(&m->progress);
		atomic_store(&m->progress, now);
	}
	atomic_store(&m->done, true);
	return NULL;
}

static const char *const op_names[] = {
	"add", "add", "terminate", "restart", "delete", "count", "which",
	"pool_resize",
};

/* A mutator that stopped early failed: say why. */
static void
check_mutator(struct mut *m)
{
	if (atomic_load(&m->done))
		ck_assert_msg(m->err[0] == '\0', "mutator %d: %s", m->k, m->err);
}

/* Whether a mutator still running has been in one call for STUCK_MS. */
static void
check_stuck(struct mut *m)
{
	/* Progress first: a mutator may move it on after the clock is read. */
	uint64_t p = atomic_load(&m->progress), now = mono_ns();
	uint64_t d = now > p ? now - p : 0;

	ck_assert_msg(atomic_load(&m->done) || d < (uint64_t)STUCK_MS * 1000000,
	    "mutator %d: %s of slot %d has not returned in %llu ms (deadlock?)",
	    m->k, op_names[atomic_load(&m->op)], atomic_load(&m->slot),
	    (unsigned long long)(d / 1000000));
}

START_TEST(test_concurrency)
{
	int base = base_threads(), i, j, live_specs = 0;
	unsigned adds = 0, ops = 0, hr = 0;
	struct supv *root, *dyn, *hangers;
	struct supv_child_info hci[NHANG];
	struct supv_counts cnt;
	struct mut m[NMUT];
	uint64_t t0, stop_ns;
	size_t n;
	char id[16];

	atomic_store(&live, 0);
	atomic_store(&dyn_frees, 0);
	atomic_store(&muts_stop, false);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = count_cb }), 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){
	    .id = "flaky", .heartbeat_ms = 100, .shutdown_ms = 1000 },
	    &(struct supv_pool_opts){ .size = POOL_SIZE,
	    .intensity = SUPV_INFINITY }, w_flaky, NULL), 0);
	ck_assert_int_eq(supv_new(&hangers, &(struct supv_opts){
	    .name = "hangers", .intensity = SUPV_INFINITY,
	    .on_event = count_cb }), 0);
	for (i = 0; i < NHANG; i++) {
		snprintf(id, sizeof(id), "h%d", i);
		ck_assert_int_eq(supv_add_worker(hangers, &(struct supv_child_opts){
		    .id = id, .heartbeat_ms = 30, .shutdown_ms = 20,
		    .on_timeout = i % 2 ? SUPV_TIMEOUT_CANCEL : SUPV_TIMEOUT_ABANDON },
		    w_hanger, NULL), 0);
	}
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "hangers" }, hangers), 0);
	ck_assert_int_eq(supv_new(&dyn, &(struct supv_opts){ .name = "dyn",
	    .intensity = SUPV_INFINITY, .on_event = count_cb }), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "dyn" }, dyn), 0);
	ck_assert_int_eq(supv_start(root), 0);

	t0 = mono_ns();
	for (i = 0; i < NMUT; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].k = i;
		m[i].dyn = dyn;
		m[i].root = root;
		atomic_store(&m[i].progress, t0);
		ck_assert_int_eq(pthread_create(&m[i].thread, NULL, mutator, &m[i]), 0);
	}
	/* No call may take STUCK_MS: that would be a deadlock. */
	while (mono_ns() - t0 < (uint64_t)STRESS_MS * 1000000) {
		sleep_ms(20);
		for (i = 0; i < NMUT; i++) {
			check_mutator(&m[i]);
			check_stuck(&m[i]);
		}
	}
	atomic_store(&muts_stop, true);
	for (i = 0; i < NMUT; i++) {
		while (!atomic_load(&m[i].done)) {
			sleep_ms(1);
			check_stuck(&m[i]);
		}
		pthread_join(m[i].thread, NULL);
		ck_assert_msg(m[i].err[0] == '\0', "mutator %d: %s", i, m[i].err);
		ck_assert_uint_gt(m[i].ops, 0);
		ops += m[i].ops;
		adds += m[i].adds;
		for (j = 0; j < NSLOT; j++)
			live_specs += m[i].present[j];
		check_listing(&m[i]);
		ck_assert_msg(m[i].err[0] == '\0', "at the end: %s", m[i].err);
	}
	ck_assert_int_eq(supv_count_children(dyn, &cnt), 0);
	ck_assert_uint_eq(cnt.specs, (unsigned)live_specs);

	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	stop_ns = mono_ns() - t0;
	/* Graces: 1 s for the flaky pool (all at once), 20 ms for the rest. */
	ck_assert_msg(stop_ns < 10000000000ULL * slow(), "supv_stop took %llu ms",
	    (unsigned long long)(stop_ns / 1000000));

	/* The counts and the events agree. */
	ck_assert_int_eq(supv_count_children(dyn, &cnt), 0);
	ck_assert_uint_eq(cnt.specs, (unsigned)live_specs);
	ck_assert_uint_eq(cnt.active, 0);
	ck_assert_int_eq(supv_count_children(root, &cnt), 0);
	ck_assert_uint_eq(cnt.specs, 3);
	ck_assert_uint_eq(cnt.active, 0);
	ck_assert_int_eq(supv_which_children(hangers, hci, NHANG, &n), 0);
	ck_assert_uint_eq(n, NHANG);
	for (i = 0; i < NHANG; i++)
		hr += hci[i].restarts;
	ck_assert_uint_eq(hr, atomic_load(&ev_hangers_restarts));
	ck_assert_uint_eq(atomic_load(&ev_bad), 0);
	ck_assert_uint_eq(atomic_load(&ev_start_failed), 0);
	ck_assert_uint_eq(atomic_load(&ev_n[SUPV_EV_GIVE_UP]), 0);
	ck_assert_uint_eq(atomic_load(&ev_n[SUPV_EV_START]),
	    atomic_load(&ev_n[SUPV_EV_EXIT]));
	ck_assert_uint_gt(atomic_load(&ev_n[SUPV_EV_RESTART]), POOL_SIZE);
	ck_assert_uint_gt(atomic_load(&ev_n[SUPV_EV_HUNG]), 0);
	ck_assert_uint_gt(atomic_load(&ev_n[SUPV_EV_STOP_TIMEOUT]), 0);

	/* Abandoned runs finish after supv_free; each spec's arg is freed once. */
	supv_free(root);
	ck_assert_msg(POLL_UNTIL(atomic_load(&live) == 0, WAIT_MS * slow()),
	    "%d worker bodies still running", atomic_load(&live));
	ck_assert_msg(POLL_UNTIL((unsigned)atomic_load(&dyn_frees) == adds, WAIT_MS),
	    "arg_free called %d times for %u specs", atomic_load(&dyn_frees), adds);
	ck_assert_msg(POLL_UNTIL(nthreads() == base, WAIT_MS), "%d threads left",
	    nthreads() - base);
	if (getenv("STRESS_VERBOSE") != NULL) {
		for (i = 0; i < NMUT; i++) {
			fprintf(stderr, "stress: mutator %d: %u calls, longest (ms):", i, m[i].ops);
			for (j = 0; j < 8; j++)
				fprintf(stderr, " %llu", (unsigned long long)(m[i].max_ns[j] / 1000000));
			fprintf(stderr, "\n");
		}
	}
	if (getenv("STRESS_VERBOSE") != NULL)
		fprintf(stderr, "stress: %u calls, %u adds, %u starts, %u restarts, "
		    "%u hung, %u stop timeouts, supv_stop %llu ms\n", ops, adds,
		    atomic_load(&ev_n[SUPV_EV_START]),
		    atomic_load(&ev_n[SUPV_EV_RESTART]),
		    atomic_load(&ev_n[SUPV_EV_HUNG]),
		    atomic_load(&ev_n[SUPV_EV_STOP_TIMEOUT]),
		    (unsigned long long)(stop_ns / 1000000));
}
END_TEST

/* --- shutdown under faults --- */

#define NWORK     100
#define GRACE_MS  300
/* How long a stubborn worker ignores a stop request: it outlives supv_free. */
#define DEAF_MS      700
#define POOL_DEAF_MS 1500

/* One worker's arg: what it saw after it was abandoned. */
struct stub {
	char        id[16];
	bool        stubborn;
	atomic_bool returned;	/* its body returned */
	atomic_bool ok;		/* it saw what an abandoned worker should */
	atomic_int  freed;	/* arg_free calls */
	atomic_bool freed_early;	/* arg_free came before the body returned */
};

static struct stub stubs[NWORK];

/*
 * Ignores a stop request for deaf_ms, then checks that it still sees
 * itself as a stopped worker, even after supv_free: supv_stopping() true,
 * supv_sleep() ECANCELED, its id.
 */
static bool
stubborn_body(struct supv_worker *self, const char *id, unsigned deaf_ms)
{
	while (!supv_stopping(self))
		sleep_ms(1);
	sleep_ms(deaf_ms);
	return supv_stopping(self) && supv_sleep(self, 10) == ECANCELED &&
	    strcmp(supv_worker_id(self), id) == 0;
}

static int
stub_body(struct supv_worker *self, void *arg)
{
	struct stub *st = arg;

	if (st->stubborn)
		atomic_store(&st->ok, stubborn_body(self, st->id, DEAF_MS * slow()));
	else
		w_sleeper(self, NULL);
	atomic_store(&st->returned, true);
	return 0;
}

static int
w_stub(struct supv_worker *self, void *arg)
{
	return counted(stub_body, self, arg);
}

static void
stub_free(void *arg)
{
	struct stub *st = arg;

	if (!atomic_load(&st->returned))
		atomic_store(&st->freed_early, true);
	atomic_fetch_add(&st->freed, 1);
}

/* A pool's workers share one arg: which ones are stubborn is by index. */
static atomic_int pool_frees, pool_ok, pool_returned;
static atomic_bool pool_freed_early;

static int
pool_body(struct supv_worker *self, void *arg)
{
	char id[16];

	(void)arg;
	if (supv_worker_index(self) % 10 == 0) {
		snprintf(id, sizeof(id), "p.%u", supv_worker_index(self));
		if (stubborn_body(self, id, POOL_DEAF_MS * slow()))
			atomic_fetch_add(&pool_ok, 1);
	} else {
		w_sleeper(self, NULL);
	}
	atomic_fetch_add(&pool_returned, 1);
	return 0;
}

static int
w_pool(struct supv_worker *self, void *arg)
{
	return counted(pool_body, self, arg);
}

static void
pool_free(void *arg)
{
	(void)arg;
	if (atomic_load(&pool_returned) != NWORK)
		atomic_store(&pool_freed_early, true);
	atomic_fetch_add(&pool_frees, 1);
}

START_TEST(test_shutdown_sequential)
{
	int base = base_threads(), i;
	struct supv *root;
	struct rec *rec = malloc(sizeof(*rec));
	uint64_t t0, ms;
	enum supv_exit_kind why;

	rec_init(rec);
	atomic_store(&live, 0);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "seq",
	    .on_event = rec_cb, .event_arg = rec }), 0);
	for (i = 0; i < NWORK; i++) {
		struct stub *st = &stubs[i];

		memset(st, 0, sizeof(*st));
		snprintf(st->id, sizeof(st->id), "w%02d", i);
		st->stubborn = i % 10 == 5;
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = st->id, .shutdown_ms = st->stubborn ? GRACE_MS : 0,
		    .on_timeout = SUPV_TIMEOUT_ABANDON, .arg_free = stub_free },
		    w_stub, st), 0);
	}
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&live) == NWORK, WAIT_MS));

	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	ms = (mono_ns() - t0) / 1000000;
	/* One stubborn worker at a time: ten full graces, not much more. */
	ck_assert_msg(ms >= 10 * GRACE_MS && ms <= 10 * GRACE_MS + 3000 * slow(),
	    "supv_stop took %llu ms", (unsigned long long)ms);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	for (i = 0; i < NWORK; i++) {
		ck_assert_uint_eq(rec_count(rec, SUPV_EV_STOP_TIMEOUT, stubs[i].id),
		    stubs[i].stubborn ? 1 : 0);
		ck_assert_uint_eq(rec_count(rec, SUPV_EV_EXIT, stubs[i].id), 1);
		ck_assert_int_eq(rec->ev[rec_find(rec, SUPV_EV_EXIT, stubs[i].id, 0)].exit,
		    SUPV_EXIT_SHUTDOWN);
	}
	ck_assert_uint_eq(rec_count(rec, SUPV_EV_SUP_EXIT, NULL), 1);

	/* Free while the last ones abandoned still ignore their stop request. */
	ck_assert_int_gt(atomic_load(&live), 0);
	supv_free(root);
	ck_assert(POLL_UNTIL(atomic_load(&live) == 0, WAIT_MS * slow()));
	for (i = 0; i < NWORK; i++) {
		ck_assert(POLL_UNTIL(atomic_load(&stubs[i].freed) == 1, WAIT_MS));
		ck_assert_msg(!atomic_load(&stubs[i].freed_early),
		    "%s: arg_free before its run returned", stubs[i].id);
		if (stubs[i].stubborn)
			ck_assert_msg(atomic_load(&stubs[i].ok), "%s: abandoned run "
			    "saw the wrong thing", stubs[i].id);
	}
	ck_assert_msg(POLL_UNTIL(nthreads() == base, WAIT_MS), "%d threads left",
	    nthreads() - base);
	/* Nothing arrives after supv_free. */
	ck_assert_uint_eq(rec_count(rec, SUPV_EV_EXIT, NULL), NWORK);
	rec_destroy(rec);
	free(rec);
}
END_TEST

START_TEST(test_shutdown_pool)
{
	int base = base_threads(), i;
	struct supv *root;
	struct rec *rec = malloc(sizeof(*rec));
	uint64_t t0, ms;
	char id[16];

	rec_init(rec);
	atomic_store(&live, 0);
	atomic_store(&pool_frees, 0);
	atomic_store(&pool_ok, 0);
	atomic_store(&pool_returned, 0);
	atomic_store(&pool_freed_early, false);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = rec }), 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p",
	    .shutdown_ms = GRACE_MS, .on_timeout = SUPV_TIMEOUT_ABANDON,
	    .arg_free = pool_free }, &(struct supv_pool_opts){ .size = NWORK },
	    w_pool, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&live) == NWORK, WAIT_MS));

	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	ms = (mono_ns() - t0) / 1000000;
	/* All at once: one grace, well under three. */
	ck_assert_msg(ms >= GRACE_MS && ms < 3 * GRACE_MS + 1000 * slow(),
	    "supv_stop took %llu ms", (unsigned long long)ms);
	for (i = 0; i < NWORK; i++) {
		snprintf(id, sizeof(id), "p.%d", i);
		ck_assert_uint_eq(rec_count(rec, SUPV_EV_STOP_TIMEOUT, id),
		    i % 10 == 0 ? 1 : 0);
		ck_assert_uint_eq(rec_count(rec, SUPV_EV_EXIT, id), 1);
		ck_assert_int_eq(rec->ev[rec_find(rec, SUPV_EV_EXIT, id, 0)].exit,
		    SUPV_EXIT_SHUTDOWN);
	}
	ck_assert_uint_eq(rec_count(rec, SUPV_EV_EXIT, "p"), 1);
	ck_assert_uint_eq(rec_count(rec, SUPV_EV_SUP_EXIT, NULL), 2);

	ck_assert_int_gt(atomic_load(&live), 0);
	supv_free(root);
	ck_assert(POLL_UNTIL(atomic_load(&live) == 0, WAIT_MS * slow()));
	ck_assert(POLL_UNTIL(atomic_load(&pool_frees) == 1, WAIT_MS));
	ck_assert(!atomic_load(&pool_freed_early));
	ck_assert_int_eq(atomic_load(&pool_ok), NWORK / 10);
	ck_assert_msg(POLL_UNTIL(nthreads() == base, WAIT_MS), "%d threads left",
	    nthreads() - base);
	rec_destroy(rec);
	free(rec);
}
END_TEST

Suite *
suite_stress(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("stress");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_concurrency);
	tcase_add_test(tc, test_shutdown_sequential);
	tcase_add_test(tc, test_shutdown_pool);
	suite_add_tcase(s, tc);
	return s;
}
