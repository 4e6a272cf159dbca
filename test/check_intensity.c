/*
 * check_intensity.c - restart intensity: how many restarts a supervisor
 * allows, the sliding window, SUPV_ZERO and SUPV_INFINITY, escalation of a
 * child supervisor that gives up, and the restarts field of events.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"



static struct supv *
new_sup(const char *name, unsigned intensity, unsigned period_ms, struct rec *rec)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = name,
	    .intensity = intensity, .period_ms = period_ms, .on_event = rec_cb,
	    .event_arg = rec }), 0);
	return s;
}

/*
 * With intensity N, a child that fails every time is started 1 + N times,
 * and N RESTARTs come before the GIVE_UP; the k-th RESTART reports k
 * restarts in the window.
 */
START_TEST(test_intensity_n)
{
	unsigned n = (unsigned)_i + 1, k;
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	char want[1024];
	size_t len = 0;
	int at;

	rec_init(&rec);
	root = new_sup("root", n, 60000, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "f" },
	    w_fail, (void *)(intptr_t)6), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	len += (size_t)snprintf(want + len, sizeof(want) - len, "S:f");
	for (k = 0; k < n; k++)
		len += (size_t)snprintf(want + len, sizeof(want) - len,
		    " X:f:failure R:f S:f");
	snprintf(want + len, sizeof(want) - len, " X:f:failure G E:gave_up");
	ck_trace(&rec, "root", 0, want);
	for (k = 0; k < n; k++) {
		at = find_ev(&rec, SUPV_EV_RESTART, "f", k);
		ck_assert_uint_eq(rec.ev[at].restarts, k + 1);
		at = find_ev(&rec, SUPV_EV_EXIT, "f", k);
		ck_assert_uint_eq(rec.ev[at].restarts, k);
		ck_assert_int_eq(rec.ev[at].code, 6);
	}
	ck_counts(root, 1, 0, 0, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* The default intensity is 1. */
START_TEST(test_intensity_default)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = new_sup("root", 0, 0, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "f" },
	    w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:f X:f:failure R:f S:f X:f:failure G E:gave_up");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* SUPV_ZERO: the first failure gives up. */
START_TEST(test_intensity_zero)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	int at;

	rec_init(&rec);
	root = new_sup("root", SUPV_ZERO, 0, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "a" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "f" },
	    w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:a S:f X:f:failure G X:a:shutdown E:gave_up");
	at = find_ev(&rec, SUPV_EV_SUP_EXIT, NULL, 0);
	ck_assert_int_eq(rec.ev[at].exit, SUPV_EXIT_GAVE_UP);
	ck_counts(root, 2, 0, 0, 2);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

static atomic_int fails_left;

/* Fails (returns 2) while fails_left lasts, then runs until stopped. */
static int
w_fail_some(struct supv_worker *self, void *arg)
{
	if (atomic_fetch_sub(&fails_left, 1) > 0)
		return 2;
	return w_sleeper(self, arg);
}

/* SUPV_INFINITY: never gives up. */
START_TEST(test_intensity_infinity)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	atomic_store(&fails_left, 200);
	root = new_sup("root", SUPV_INFINITY, 0, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "f" },
	    w_fail_some, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "f", 201), 201);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "f"), 200);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "f"), 200);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

static atomic_int slow_runs;

/* Fails 120 ms after it starts, 4 times; then runs until stopped. */
static int
w_fail_slowly(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&slow_runs, 1) >= 4)
		return w_sleeper(self, NULL);
	if (supv_sleep(self, 120) != 0)
		return 0;
	return 3;
}

/*
 * Restarts spaced wider than period_ms never add up: each one is alone in
 * its window.
 */
START_TEST(test_sliding_window)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	unsigned k;
	int at;

	rec_init(&rec);
	root = new_sup("root", 1, 50, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "f" },
	    w_fail_slowly, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "f", 5), 5);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 0);
	for (k = 0; k < 4; k++) {
		at = find_ev(&rec, SUPV_EV_RESTART, "f", k);
		ck_assert_int_ge(at, 0);
		ck_assert_uint_eq(rec.ev[at].restarts, 1);
	}
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_trace(&rec, "root", 0, "S:f X:f:failure R:f S:f X:f:failure R:f S:f "
	    "X:f:failure R:f S:f X:f:failure R:f S:f X:f:shutdown E:shutdown");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A restart leaves the window period_ms after it was counted. */
START_TEST(test_window_expires)
{
	struct supv *root;
	struct rec rec;
	struct trip t = { .code = 1 };
	enum supv_exit_kind why;
	uint64_t t0;
	int at;

	rec_init(&rec);
	root = new_sup("root", 1, 300, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "t" },
	    w_trip, &t), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&t.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "t", 2), 2);
	at = find_ev(&rec, SUPV_EV_RESTART, "t", 0);
	t0 = rec.ev[at].at_ns;
	ck_assert_uint_eq(rec.ev[at].restarts, 1);
	/* Once the first restart has left the window, a second one is allowed. */
	while (mono_ns() < t0 + 350 * 1000000ULL)
		sleep_ms(10);
	atomic_store(&t.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "t", 3), 3);
	at = find_ev(&rec, SUPV_EV_RESTART, "t", 1);
	ck_assert_uint_eq(rec.ev[at].restarts, 1);
	/* Two inside the window are one too many. */
	atomic_store(&t.armed, 1);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:t X:t:failure R:t S:t X:t:failure R:t S:t "
	    "X:t:failure G E:gave_up");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * A child supervisor that gives up is an EXIT of kind GAVE_UP to its
 * parent, which restarts it even from a transient spec; the restarted one
 * starts with an empty history.
 */
START_TEST(test_escalation_restarts_child_sup)
{
	struct supv *root, *mid;
	struct rec rec;
	enum supv_exit_kind why;
	int at;

	rec_init(&rec);
	/* Two failures make mid give up; a third is allowed only with an empty history. */
	atomic_store(&fails_left, 3);
	root = new_sup("root", 5, 60000, &rec);
	mid = new_sup("mid", 1, 60000, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "a" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "mid",
	    .restart = SUPV_TRANSIENT }, mid), 0);
	ck_assert_int_eq(supv_add_worker(mid, &(struct supv_child_opts){ .id = "f" },
	    w_fail_some, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "f", 4), 4);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "mid", 2), 2);
	ck_trace(&rec, "root", 0, "S:a S:mid X:mid:gave_up R:mid S:mid");
	ck_trace(&rec, "mid", 0, "S:f X:f:failure R:f S:f X:f:failure G E:gave_up "
	    "S:f X:f:failure R:f S:f");
	at = find_ev(&rec, SUPV_EV_RESTART, "f", 1);
	ck_assert_uint_eq(rec.ev[at].restarts, 1);
	at = find_ev(&rec, SUPV_EV_EXIT, "mid", 0);
	ck_assert_int_eq(rec.ev[at].code, 0);
	at = find_ev(&rec, SUPV_EV_RESTART, "mid", 0);
	ck_assert_uint_eq(rec.ev[at].restarts, 1);
	ck_counts(root, 2, 2, 1, 1);
	ck_counts(mid, 1, 1, 0, 1);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* Escalation all the way up: the root giving up ends the run. */
START_TEST(test_escalation_to_root)
{
	struct supv *root, *mid;
	struct rec rec;
	enum supv_exit_kind why;
	char want[1024];
	size_t len = 0;
	unsigned k;

	rec_init(&rec);
	root = new_sup("root", 2, 60000, &rec);
	mid = new_sup("mid", 1, 60000, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "a" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "mid" }, mid), 0);
	ck_assert_int_eq(supv_add_worker(mid, &(struct supv_child_opts){ .id = "f" },
	    w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:a S:mid X:mid:gave_up R:mid S:mid "
	    "X:mid:gave_up R:mid S:mid X:mid:gave_up G X:a:shutdown E:gave_up");
	for (k = 0; k < 3; k++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s",
		    k != 0 ? " " : "",
		    "S:f X:f:failure R:f S:f X:f:failure G E:gave_up");
	ck_trace(&rec, "mid", 0, want);
	ck_counts(root, 2, 0, 1, 1);
	ck_counts(mid, 1, 0, 0, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A restarted child supervisor keeps every spec, those added at run time included. */
START_TEST(test_restarted_sup_keeps_specs)
{
	struct trip t = { .code = 1 };
	struct supv *root, *mid;
	struct rec rec;

	rec_init(&rec);
	root = new_sup("root", 5, 60000, &rec);
	mid = new_sup("mid", SUPV_ZERO, 60000, &rec);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "mid" }, mid), 0);
	ck_assert_int_eq(supv_add_worker(mid, &(struct supv_child_opts){ .id = "t" },
	    w_trip, &t), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_add_worker(mid, &(struct supv_child_opts){ .id = "late" },
	    w_sleeper, NULL), 0);
	atomic_store(&t.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "mid", 2), 2);
	ck_trace(&rec, "mid", 0, "S:t S:late X:t:failure G X:late:shutdown E:gave_up "
	    "S:t S:late");
	ck_trace(&rec, "root", 0, "S:mid X:mid:gave_up R:mid S:mid");
	ck_counts(mid, 2, 2, 0, 2);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * A failed start during a restart counts as an exit of kind START_FAILED:
 * with intensity 1 the second failure in a row gives up.
 */
static atomic_int rf_runs;

static int
w_ready_fails(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&rf_runs, 1) == 0) {
		supv_ready(self);
		return 1;
	}
	return 0;	/* returns before supv_ready(): a failed start */
}

START_TEST(test_restart_start_failed)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = new_sup("root", 2, 60000, &rec);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "r",
	    .ready_ms = 5000 }, w_ready_fails, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:r X:r:failure R:r X:r:start_failed R:r "
	    "X:r:start_failed G E:gave_up");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_intensity(void)
{
	Suite *s = suite_create("intensity");
	TCase *tc = tcase_create("intensity");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_loop_test(tc, test_intensity_n, 0, 4);
	tcase_add_test(tc, test_intensity_default);
	tcase_add_test(tc, test_intensity_zero);
	tcase_add_test(tc, test_intensity_infinity);
	tcase_add_test(tc, test_sliding_window);
	tcase_add_test(tc, test_window_expires);
	tcase_add_test(tc, test_escalation_restarts_child_sup);
	tcase_add_test(tc, test_escalation_to_root);
	tcase_add_test(tc, test_restarted_sup_keeps_specs);
	tcase_add_test(tc, test_restart_start_failed);
	suite_add_tcase(s, tc);
	return s;
}
