/*
 * check_restart_policy.c - per-child restart policy: backoff delays,
 * synchronous starts (ready_ms) and auto-shutdown with significant
 * children.
 */
#include <stdint.h>
#include <stdio.h>

#include "tests.h"

#define NS_MS 1000000ULL

static struct supv *
new_sup(const char *name, struct rec *rec, enum supv_strategy strategy,
    unsigned intensity, enum supv_auto_shutdown as)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = name,
	    .strategy = strategy, .intensity = intensity, .period_ms = 60000,
	    .auto_shutdown = as, .on_event = rec_cb, .event_arg = rec }), 0);
	return s;
}

static bool
child_pending(struct supv *s, const char *id)
{
	struct supv_child_info info[8];
	size_t total, i;

	ck_assert_int_eq(supv_which_children(s, info, 8, &total), 0);
	for (i = 0; i < total && i < 8; i++)
		if (strcmp(info[i].id, id) == 0)
			return info[i].pending;
	ck_abort_msg("no child %s", id);
	return false;
}

/* ---- backoff ---- */

#define ROUNDS 10
#define B_MS   20
#define B_MAX  160

/* The full delay of the k-th (1-based) consecutive failure. */
static unsigned
full_delay(unsigned k)
{
	unsigned d = B_MS;

	while (--k > 0 && d < B_MAX)
		d *= 2;
	return d < B_MAX ? d : B_MAX;
}

START_TEST(test_backoff_delays)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev ex, bo, rs, st;
	unsigned streak = 0, resets = 0, capped = 0;
	unsigned cap_min = UINT_MAX, cap_max = 0;

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY, 0);
	/* 20, 40, 80, 160, 160, ... ms, each scaled by [0.5, 1.0]. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f", .backoff_ms = B_MS, .backoff_max_ms = B_MAX },
	    w_fail, (void *)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "f", ROUNDS + 1), ROUNDS + 1);
	ck_assert_int_eq(supv_stop(root), 0);

	for (unsigned k = 0; k < ROUNDS; k++) {
		int iex = rec_find(&rec, SUPV_EV_EXIT, "f", k);
		int ibo = rec_find(&rec, SUPV_EV_BACKOFF, "f", k);
		int irs = rec_find(&rec, SUPV_EV_RESTART, "f", k);
		int ist = rec_find(&rec, SUPV_EV_START, "f", k + 1);
		unsigned full;

		/* EXIT, BACKOFF, RESTART, START, nothing else in between. */
		ck_assert_int_ge(iex, 0);
		ck_assert_int_eq(ibo, iex + 1);
		ck_assert_int_eq(irs, ibo + 1);
		ck_assert_int_eq(ist, irs + 1);
		ex = ev_get(&rec, SUPV_EV_EXIT, "f", k);
		bo = ev_get(&rec, SUPV_EV_BACKOFF, "f", k);
		rs = ev_get(&rec, SUPV_EV_RESTART, "f", k);
		st = ev_get(&rec, SUPV_EV_START, "f", k + 1);
		ck_assert_int_eq(ex.exit, SUPV_EXIT_FAILURE);
		/*
		 * The next step of the doubling; or, on a loaded machine, a
		 * fresh start: the library counts a run from its thread's
		 * creation to the handling of its exit, and a run longer than
		 * backoff_max_ms resets the sequence.
		 */
		full = full_delay(++streak);
		if (bo.delay_ms < full / 2 && bo.delay_ms >= B_MS / 2 &&
		    bo.delay_ms <= B_MS) {
			resets++;
			full = full_delay(streak = 1);
		}
		ck_assert_msg(bo.delay_ms >= full / 2 && bo.delay_ms <= full,
		    "failure %u: delay %u ms, expected [%u, %u]", k + 1,
		    bo.delay_ms, full / 2, full);
		/* The delay is really waited for (counted from the exit). */
		ck_assert_uint_ge(rs.at_ns, ex.at_ns + (uint64_t)bo.delay_ms * NS_MS);
		ck_assert_uint_ge(st.at_ns, rs.at_ns);
		if (full == B_MAX) {
			capped++;
			cap_min = bo.delay_ms < cap_min ? bo.delay_ms : cap_min;
			cap_max = bo.delay_ms > cap_max ? bo.delay_ms : cap_max;
		}
	}
	/* Growing up to the cap, with jitter: the capped delays differ. */
	ck_assert_msg(resets <= 2, "%u resets", resets);
	ck_assert_uint_ge(capped, 3);
	ck_assert_msg(cap_min != cap_max, "all capped delays were %u ms", cap_min);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A child that ran longer than backoff_max_ms starts again at backoff_ms. */
static atomic_int long_runs;

static int
w_fail_after(struct supv_worker *self, void *arg)
{
	/* The 5th run lasts 300 ms (more than backoff_max_ms); the rest fail at once. */
	int n = atomic_fetch_add(&long_runs, 1);

	(void)arg;
	if (n == 4 && supv_sleep(self, 300) != 0)
		return 0;
	return 1;
}

START_TEST(test_backoff_resets_after_long_run)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev bo;
	unsigned grown = 0;

	rec_init(&rec);
	atomic_store(&long_runs, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f", .backoff_ms = B_MS, .backoff_max_ms = B_MAX },
	    w_fail_after, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_BACKOFF, "f", 6), 6);
	ck_assert_int_eq(supv_stop(root), 0);
	/* Failures 1-4: 20, 40, 80, 160 (scaled) ... */
	for (unsigned k = 0; k < 4; k++) {
		bo = ev_get(&rec, SUPV_EV_BACKOFF, "f", k);
		grown += bo.delay_ms > B_MS;
	}
	ck_assert_uint_gt(grown, 0);
	/* ... the 5th came after a long run: 20 again, then 40. */
	bo = ev_get(&rec, SUPV_EV_BACKOFF, "f", 4);
	ck_assert_msg(bo.delay_ms >= B_MS / 2 && bo.delay_ms <= B_MS, "delay %u",
	    bo.delay_ms);
	bo = ev_get(&rec, SUPV_EV_BACKOFF, "f", 5);
	ck_assert_msg(bo.delay_ms >= B_MS / 2 && bo.delay_ms <= 2 * B_MS,
	    "delay %u", bo.delay_ms);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* B fails on request (once) while A waits out a long backoff. */
static atomic_bool b_fail_now;
static atomic_int b_runs;

static int
w_fail_on_request(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&b_runs, 1) > 0)
		return w_sleeper(self, NULL);
	while (!atomic_load(&b_fail_now))
		if (supv_sleep(self, 1) != 0)
			return 0;
	return 4;
}

static atomic_int a_runs;

static int
w_fail_first(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&a_runs, 1) == 0)
		return 1;
	return w_sleeper(self, NULL);
}

START_TEST(test_backoff_serves_siblings)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev bo, aex, bex, bst;

	rec_init(&rec);
	atomic_store(&b_fail_now, false);
	atomic_store(&b_runs, 0);
	atomic_store(&a_runs, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 10, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .backoff_ms = 2000 }, w_fail_first, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b" }, w_fail_on_request, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_BACKOFF, "a", 1), 1);
	bo = ev_get(&rec, SUPV_EV_BACKOFF, "a", 0);
	aex = ev_get(&rec, SUPV_EV_EXIT, "a", 0);
	ck_assert_uint_ge(bo.delay_ms, 1000);
	ck_assert(child_pending(root, "a"));

	atomic_store(&b_fail_now, true);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "b", 2), 2);
	bex = ev_get(&rec, SUPV_EV_EXIT, "b", 0);
	bst = ev_get(&rec, SUPV_EV_START, "b", 1);
	ck_assert_int_eq(bex.exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(bex.code, 4);
	/* B was handled while A still waited. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "a"), 0);
	ck_assert_uint_lt(bst.at_ns, aex.at_ns + (uint64_t)bo.delay_ms * NS_MS);
	ck_assert(child_pending(root, "a"));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A group restart waits for the triggering child's delay, in start order. */
START_TEST(test_backoff_group)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev ex, bo;
	static const char *order[] = { "a", "f", "z" };

	rec_init(&rec);
	atomic_store(&a_runs, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ALL, 5, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f", .backoff_ms = 200 }, w_fail_first, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "z" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "z", 2), 2);
	ex = ev_get(&rec, SUPV_EV_EXIT, "f", 0);
	bo = ev_get(&rec, SUPV_EV_BACKOFF, "f", 0);
	ck_assert_uint_ge(bo.delay_ms, 100);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_BACKOFF, NULL), 1);
	ck_assert_int_eq(rec_find(&rec, SUPV_EV_BACKOFF, "f", 0),
	    rec_find(&rec, SUPV_EV_EXIT, "f", 0) + 1);
	for (unsigned i = 0; i < 3; i++) {
		struct rec_ev rs = ev_get(&rec, SUPV_EV_RESTART, order[i], 0);

		ck_assert_uint_ge(rs.at_ns, ex.at_ns + (uint64_t)bo.delay_ms * NS_MS);
		ck_assert_int_gt(rec_find(&rec, SUPV_EV_RESTART, order[i], 0),
		    rec_find(&rec, SUPV_EV_EXIT, order[i], 0));
		if (i > 0)
			ck_assert_int_gt(rec_find(&rec, SUPV_EV_RESTART, order[i], 0),
			    rec_find(&rec, SUPV_EV_START, order[i - 1], 1));
	}
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_stop_during_backoff)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	uint64_t t0;

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .backoff_ms = 20000 }, w_fail, (void *)1), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_BACKOFF, "a", 1), 1);
	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	/* The delay is at least 10 s; the stop does not wait for it. */
	ck_assert_uint_lt(mono_ns() - t0, 5000 * NS_MS);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "a"), 0);
	ck_assert(!child_pending(root, "a"));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_terminate_cancels_backoff)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev bo;
	struct supv_counts n;

	rec_init(&rec);
	atomic_store(&a_runs, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .backoff_ms = 1000 }, w_fail_first, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_BACKOFF, "a", 1), 1);
	bo = ev_get(&rec, SUPV_EV_BACKOFF, "a", 0);
	/* Pending: restart and delete are refused meanwhile (see the notes). */
	ck_assert_int_eq(supv_restart_child(root, "a"), EBUSY);
	ck_assert_int_eq(supv_delete_child(root, "a"), EBUSY);
	ck_assert_int_eq(supv_terminate_child(root, "a"), 0);
	ck_assert(!child_pending(root, "a"));
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.specs, 1);
	ck_assert_uint_eq(n.active, 0);
	/* Not a synchronization: past the delay, no restart came. */
	while (mono_ns() < bo.at_ns + (uint64_t)(bo.delay_ms + 100) * NS_MS)
		sleep_ms(10);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "a"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "a"), 1);
	/* It can still be started by hand. */
	ck_assert_int_eq(supv_restart_child(root, "a"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "a"), 2);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* ---- ready_ms ---- */

static _Atomic uint64_t ready_ns;

static int
w_ready_late(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_sleep(self, 100);
	atomic_store(&ready_ns, mono_ns());
	supv_ready(self);
	return w_sleeper(self, NULL);
}

START_TEST(test_ready_start_waits)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev ra, b;

	rec_init(&rec);
	atomic_store(&ready_ns, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 0, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "r", .ready_ms = WAIT_MS }, w_ready_late, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	/* supv_start returned after supv_ready. */
	ck_assert_uint_ne(atomic_load(&ready_ns), 0);
	ra = ev_get(&rec, SUPV_EV_START, "r", 0);
	b = ev_get(&rec, SUPV_EV_START, "b", 0);
	ck_assert_uint_ge(ra.at_ns, atomic_load(&ready_ns));
	ck_assert_uint_ge(b.at_ns, ra.at_ns);
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_START, "r", 0),
	    rec_find(&rec, SUPV_EV_START, "b", 0));

	/* supv_restart_child waits for it too. */
	ck_assert_int_eq(supv_terminate_child(root, "r"), 0);
	atomic_store(&ready_ns, 0);
	ck_assert_int_eq(supv_restart_child(root, "r"), 0);
	ck_assert_uint_ne(atomic_load(&ready_ns), 0);
	ck_assert_uint_ge(ev_get(&rec, SUPV_EV_START, "r", 1).at_ns,
	    atomic_load(&ready_ns));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

static int
w_return_before_ready(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	return 9;
}

static void
ready_fails(supv_work_fn *fn, unsigned ready_ms, int code)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev e;
	enum supv_exit_kind why;
	struct supv_counts n;
	uint64_t t0;

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "r", .ready_ms = ready_ms }, fn, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "c" }, w_sleeper, NULL), 0);
	t0 = mono_ns();
	ck_assert_int_eq(supv_start(root), ECHILD);
	/* A worker that returned was noticed at once, not after ready_ms. */
	if (ready_ms == WAIT_MS)
		ck_assert_uint_lt(mono_ns() - t0, WAIT_MS / 2 * NS_MS);
	e = ev_get(&rec, SUPV_EV_EXIT, "r", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_START_FAILED);
	ck_assert_int_eq(e.code, code);
	/* Not retried; "c" never started; "a" stopped again. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "r"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "c"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "a"), 1);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	e = ev_get(&rec, SUPV_EV_SUP_EXIT, NULL, 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_START_FAILED);
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.active, 0);
	supv_free(root);
	rec_destroy(&rec);
}

START_TEST(test_ready_returned_first)
{
	ready_fails(w_return_before_ready, WAIT_MS, 9);
}
END_TEST

START_TEST(test_ready_missed)
{
	uint64_t t0 = mono_ns();

	/* w_sleeper never calls supv_ready(): stopped after 50 ms. */
	ready_fails(w_sleeper, 50, 0);
	ck_assert_uint_ge(mono_ns() - t0, 50 * NS_MS);
}
END_TEST

/* Ready on its first run, then fails; misses ready_ms on its second. */
static atomic_int r_runs;

static int
w_ready_then_not(struct supv_worker *self, void *arg)
{
	(void)arg;
	switch (atomic_fetch_add(&r_runs, 1)) {
	case 0:
		supv_ready(self);
		return 1;
	case 1:
		return w_sleeper(self, NULL);	/* never ready */
	default:
		supv_ready(self);
		return w_sleeper(self, NULL);
	}
}

START_TEST(test_ready_missed_on_restart)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev e;
	enum supv_exit_kind why;

	/*
	 * Intensity 2: the failure and the missed start are both counted.
	 * ready_ms is generous: the first run must make it even on a loaded
	 * machine; the second never calls supv_ready().
	 */
	rec_init(&rec);
	atomic_store(&r_runs, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 2, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "r", .ready_ms = 400 }, w_ready_then_not, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "r", 2), 2);
	e = ev_get(&rec, SUPV_EV_EXIT, "r", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_FAILURE);
	e = ev_get(&rec, SUPV_EV_EXIT, "r", 1);
	ck_assert_int_eq(e.exit, SUPV_EXIT_START_FAILED);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "r"), 2);
	e = ev_get(&rec, SUPV_EV_RESTART, "r", 1);
	ck_assert_uint_eq(e.restarts, 2);
	ck_assert_int_eq(atomic_load(&r_runs), 3);
	supv_free(root);

	/* Intensity 1: the missed start is one restart too many. */
	rec_destroy(&rec);
	rec_init(&rec);
	atomic_store(&r_runs, 0);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 1, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "r", .ready_ms = 400 }, w_ready_then_not, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	e = ev_get(&rec, SUPV_EV_EXIT, "r", 1);
	ck_assert_int_eq(e.exit, SUPV_EXIT_START_FAILED);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* ---- auto_shutdown ---- */

/*
 * Returns code once the test opens the gate; with once, only the first run
 * does, and later runs keep running.
 */
struct gate {
	atomic_bool open;
	int         code;
	bool        once;
	atomic_int  runs;
};

static int
w_gate(struct supv_worker *self, void *arg)
{
	struct gate *g = arg;

	if (atomic_fetch_add(&g->runs, 1) > 0 && g->once)
		return w_sleeper(self, NULL);
	while (!atomic_load(&g->open))
		if (supv_sleep(self, 2) != 0)
			return 0;
	return g->code;
}

START_TEST(test_auto_any)
{
	struct supv *root;
	struct rec rec;
	struct gate g = { .code = 0 };
	struct rec_ev e;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, SUPV_AUTO_ANY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "p" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "s", .restart = SUPV_TRANSIENT, .significant = true },
	    w_gate, &g), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "s2", .restart = SUPV_TEMPORARY, .significant = true },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&g.open, true);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_NORMAL);
	e = ev_get(&rec, SUPV_EV_EXIT, "s", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_NORMAL);
	e = ev_get(&rec, SUPV_EV_EXIT, "p", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_SHUTDOWN);
	e = ev_get(&rec, SUPV_EV_SUP_EXIT, NULL, 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_NORMAL);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A significant transient child that fails is restarted: no shutdown. */
START_TEST(test_auto_any_failure_restarts)
{
	struct supv *root;
	struct rec rec;
	struct gate g = { .code = 3, .once = true };

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, SUPV_AUTO_ANY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "p" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "s", .restart = SUPV_TRANSIENT, .significant = true },
	    w_gate, &g), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&g.open, true);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "s", 2), 2);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "s", 0).exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(supv_restart_child(root, "p"), EBUSY);	/* still up */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_auto_all)
{
	struct supv *root;
	struct rec rec;
	struct gate g1 = { .code = 0 }, g2 = { .code = 1 };
	enum supv_exit_kind why;
	struct rec_ev e;

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, SUPV_AUTO_ALL);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "p" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t1", .restart = SUPV_TEMPORARY, .significant = true },
	    w_gate, &g1), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t2", .restart = SUPV_TEMPORARY, .significant = true },
	    w_gate, &g2), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&g1.open, true);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_EXIT, "t1", 1), 1);
	/* One of two: still running (this call is answered by the loop). */
	ck_assert_int_eq(supv_restart_child(root, "p"), EBUSY);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
	/* The last one, even by a failure (temporary: not restarted). */
	atomic_store(&g2.open, true);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_NORMAL);
	e = ev_get(&rec, SUPV_EV_EXIT, "t2", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_FAILURE);
	e = ev_get(&rec, SUPV_EV_EXIT, "p", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_SHUTDOWN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A child supervisor's auto-shutdown is an EXIT NORMAL to its parent. */
START_TEST(test_auto_child_sup)
{
	struct supv *root, *sub;
	struct rec rec;
	struct gate g = { .code = 0 };
	struct rec_ev e;

	rec_init(&rec);
	root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, SUPV_AUTO_NEVER);
	sub = new_sup("sub", &rec, SUPV_ONE_FOR_ONE, 5, SUPV_AUTO_ANY);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "s", .restart = SUPV_TRANSIENT, .significant = true },
	    w_gate, &g), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "x" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub", .restart = SUPV_TRANSIENT }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "p" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&g.open, true);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_EXIT, "sub", 1), 1);
	e = ev_get(&rec, SUPV_EV_EXIT, "sub", 0);
	ck_assert_str_eq(e.sup, "root");
	ck_assert_int_eq(e.exit, SUPV_EXIT_NORMAL);
	e = ev_get(&rec, SUPV_EV_SUP_EXIT, NULL, 0);
	ck_assert_str_eq(e.sup, "sub");
	ck_assert_int_eq(e.exit, SUPV_EXIT_NORMAL);
	/* Transient and normal: not restarted; the root runs on. */
	ck_assert_int_eq(supv_restart_child(root, "p"), EBUSY);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "p"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* supv_terminate_child of a significant child never triggers it. */
START_TEST(test_auto_not_by_terminate)
{
	struct supv *root;
	struct rec rec;
	struct supv_counts n;

	for (int as = SUPV_AUTO_ANY; as <= SUPV_AUTO_ALL; as++) {
		rec_init(&rec);
		root = new_sup("root", &rec, SUPV_ONE_FOR_ONE, 5, as);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = "p" }, w_sleeper, NULL), 0);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = "s", .restart = SUPV_TRANSIENT, .significant = true },
		    w_sleeper, NULL), 0);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = "t", .restart = SUPV_TEMPORARY, .significant = true },
		    w_sleeper, NULL), 0);
		ck_assert_int_eq(supv_start(root), 0);
		ck_assert_int_eq(supv_terminate_child(root, "s"), 0);
		ck_assert_int_eq(supv_terminate_child(root, "t"), 0);
		ck_assert_int_eq(supv_restart_child(root, "p"), EBUSY);
		ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
		ck_assert_int_eq(supv_count_children(root, &n), 0);
		ck_assert_uint_eq(n.specs, 2);
		ck_assert_uint_eq(n.active, 1);
		ck_assert_int_eq(supv_delete_child(root, "s"), 0);
		ck_assert_int_eq(supv_restart_child(root, "p"), EBUSY);
		ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
		ck_assert_int_eq(supv_stop(root), 0);
		supv_free(root);
		rec_destroy(&rec);
	}
}
END_TEST

Suite *
suite_restart_policy(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("backoff");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_backoff_delays);
	tcase_add_test(tc, test_backoff_resets_after_long_run);
	tcase_add_test(tc, test_backoff_serves_siblings);
	tcase_add_test(tc, test_backoff_group);
	tcase_add_test(tc, test_stop_during_backoff);
	tcase_add_test(tc, test_terminate_cancels_backoff);
	suite_add_tcase(s, tc);

	tc = tcase_create("ready");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_ready_start_waits);
	tcase_add_test(tc, test_ready_returned_first);
	tcase_add_test(tc, test_ready_missed);
	tcase_add_test(tc, test_ready_missed_on_restart);
	suite_add_tcase(s, tc);

	tc = tcase_create("auto_shutdown");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_auto_any);
	tcase_add_test(tc, test_auto_any_failure_restarts);
	tcase_add_test(tc, test_auto_all);
	tcase_add_test(tc, test_auto_child_sup);
	tcase_add_test(tc, test_auto_not_by_terminate);
	suite_add_tcase(s, tc);
	return s;
}
