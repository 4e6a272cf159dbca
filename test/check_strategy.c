/*
 * check_strategy.c - one_for_one, one_for_all and rest_for_one: which
 * children a failure stops and restarts, in which order, what happens to
 * temporary siblings, and that the trigger's restart type decides.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"


/*
 * Waits until sup's loop has dealt with everything that came before: a
 * call on a running supervisor is answered by its loop, after the exit it
 * is handling.  probe is a running child of sup.
 */
static void
barrier(struct supv *sup, const char *probe)
{
	ck_assert_int_eq(supv_restart_child(sup, probe), EBUSY);
}

#define NCHILD 4

/* A root of the given strategy with children a, b, c, d (w_trip, restart types as given). */
struct fixture {
	struct supv *root;
	struct rec   rec;
	struct trip  trip[NCHILD];
};

static const char *const names[NCHILD] = { "a", "b", "c", "d" };

static void
setup_tree(struct fixture *f, enum supv_strategy strategy,
    const enum supv_restart *types)
{
	unsigned i;

	memset(f, 0, sizeof(*f));
	rec_init(&f->rec);
	ck_assert_int_eq(supv_new(&f->root, &(struct supv_opts){ .name = "root",
	    .strategy = strategy, .intensity = 10, .on_event = rec_cb,
	    .event_arg = &f->rec }), 0);
	for (i = 0; i < NCHILD; i++) {
		f->trip[i].code = 1;
		ck_assert_int_eq(supv_add_worker(f->root, &(struct supv_child_opts){
		    .id = names[i], .restart = types != NULL ? types[i] : SUPV_PERMANENT },
		    w_trip, &f->trip[i]), 0);
	}
	ck_assert_int_eq(supv_start(f->root), 0);
	ck_trace(&f->rec, "root", 0, "S:a S:b S:c S:d");
}

static void
teardown_tree(struct fixture *f)
{
	enum supv_exit_kind why;

	ck_assert_int_eq(supv_stop(f->root), 0);
	ck_assert_int_eq(supv_wait(f->root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	supv_free(f->root);
	rec_destroy(&f->rec);
}

/* Fails child i and waits until the START of last (its n-th). */
static unsigned
fail_and_wait(struct fixture *f, unsigned i, const char *last, unsigned n)
{
	unsigned mark = rec_len(&f->rec);

	atomic_store(&f->trip[i].armed, 1);
	ck_assert_uint_eq(rec_wait(&f->rec, SUPV_EV_START, last, n), n);
	return mark;
}

START_TEST(test_one_for_one)
{
	struct fixture f;
	unsigned mark;

	setup_tree(&f, SUPV_ONE_FOR_ONE, NULL);
	mark = fail_and_wait(&f, 1, "b", 2);
	ck_trace(&f.rec, "root", mark, "X:b:failure R:b S:b");
	mark = fail_and_wait(&f, 0, "a", 2);
	ck_trace(&f.rec, "root", mark, "X:a:failure R:a S:a");
	barrier(f.root, "d");
	ck_assert_uint_eq(rec_count(&f.rec, SUPV_EV_START, "c"), 1);
	ck_counts(f.root, 4, 4, 0, 4);
	teardown_tree(&f);
}
END_TEST

/* The others stop in reverse start order, then all restart in start order. */
START_TEST(test_one_for_all)
{
	struct fixture f;
	unsigned mark, i;

	setup_tree(&f, SUPV_ONE_FOR_ALL, NULL);
	mark = fail_and_wait(&f, 1, "d", 2);
	ck_trace(&f.rec, "root", mark, "X:b:failure X:d:shutdown X:c:shutdown "
	    "X:a:shutdown R:a S:a R:b S:b R:c S:c R:d S:d");
	mark = fail_and_wait(&f, 3, "d", 3);
	ck_trace(&f.rec, "root", mark, "X:d:failure X:c:shutdown X:b:shutdown "
	    "X:a:shutdown R:a S:a R:b S:b R:c S:c R:d S:d");
	/* A group restart is one restart decision. */
	for (i = 0; i < NCHILD; i++) {
		ck_assert_uint_eq(f.rec.ev[find_ev(&f.rec, SUPV_EV_RESTART, names[i], 0)].restarts, 1);
		ck_assert_uint_eq(f.rec.ev[find_ev(&f.rec, SUPV_EV_RESTART, names[i], 1)].restarts, 2);
	}
	ck_counts(f.root, 4, 4, 0, 4);
	teardown_tree(&f);
}
END_TEST

/* Only the ended child and the ones after it. */
START_TEST(test_rest_for_one)
{
	struct fixture f;
	unsigned mark;

	setup_tree(&f, SUPV_REST_FOR_ONE, NULL);
	mark = fail_and_wait(&f, 1, "d", 2);
	ck_trace(&f.rec, "root", mark, "X:b:failure X:d:shutdown X:c:shutdown "
	    "R:b S:b R:c S:c R:d S:d");
	mark = fail_and_wait(&f, 3, "d", 3);
	ck_trace(&f.rec, "root", mark, "X:d:failure R:d S:d");
	mark = fail_and_wait(&f, 0, "d", 4);
	ck_trace(&f.rec, "root", mark, "X:a:failure X:d:shutdown X:c:shutdown "
	    "X:b:shutdown R:a S:a R:b S:b R:c S:c R:d S:d");
	ck_counts(f.root, 4, 4, 0, 4);
	teardown_tree(&f);
}
END_TEST

/* Temporary siblings caught in a group restart are stopped and dropped. */
START_TEST(test_group_drops_temporary)
{
	static const enum supv_restart types[NCHILD] = {
		SUPV_TEMPORARY, SUPV_PERMANENT, SUPV_TEMPORARY, SUPV_TRANSIENT,
	};
	struct supv_child_info info[NCHILD];
	struct fixture f;
	size_t total;
	unsigned mark;

	setup_tree(&f, SUPV_ONE_FOR_ALL, types);
	mark = fail_and_wait(&f, 1, "d", 2);
	ck_trace(&f.rec, "root", mark, "X:b:failure X:d:shutdown X:c:shutdown "
	    "X:a:shutdown R:b S:b R:d S:d");
	ck_counts(f.root, 2, 2, 0, 2);
	ck_assert_int_eq(supv_which_children(f.root, info, NCHILD, &total), 0);
	ck_assert_uint_eq(total, 2);
	ck_assert_str_eq(info[0].id, "b");
	ck_assert_str_eq(info[1].id, "d");
	ck_assert_int_eq(supv_restart_child(f.root, "a"), ENOENT);
	ck_assert_int_eq(supv_restart_child(f.root, "c"), ENOENT);
	teardown_tree(&f);
}
END_TEST

/* With rest_for_one, a temporary sibling before the trigger is untouched. */
START_TEST(test_rest_for_one_temporary)
{
	static const enum supv_restart types[NCHILD] = {
		SUPV_TEMPORARY, SUPV_PERMANENT, SUPV_TEMPORARY, SUPV_PERMANENT,
	};
	struct fixture f;
	unsigned mark;

	setup_tree(&f, SUPV_REST_FOR_ONE, types);
	mark = fail_and_wait(&f, 1, "d", 2);
	ck_trace(&f.rec, "root", mark, "X:b:failure X:d:shutdown X:c:shutdown "
	    "R:b S:b R:d S:d");
	ck_counts(f.root, 3, 3, 0, 3);
	teardown_tree(&f);
}
END_TEST

/*
 * The trigger's restart type decides: a transient child exiting normally,
 * or a temporary one failing, restarts nothing, whatever the strategy.
 */
START_TEST(test_trigger_decides)
{
	static const enum supv_restart types[NCHILD] = {
		SUPV_PERMANENT, SUPV_TRANSIENT, SUPV_TEMPORARY, SUPV_PERMANENT,
	};
	enum supv_strategy strategy = _i == 0 ? SUPV_ONE_FOR_ALL : SUPV_REST_FOR_ONE;
	struct fixture f;
	unsigned mark;

	setup_tree(&f, strategy, types);
	mark = rec_len(&f.rec);
	f.trip[1].code = 0;
	atomic_store(&f.trip[1].armed, 1);
	ck_assert_uint_eq(rec_wait(&f.rec, SUPV_EV_EXIT, "b", 1), 1);
	barrier(f.root, "a");
	ck_trace(&f.rec, "root", mark, "X:b:normal");
	ck_counts(f.root, 4, 3, 0, 4);

	atomic_store(&f.trip[2].armed, 1);
	ck_assert_uint_eq(rec_wait(&f.rec, SUPV_EV_EXIT, "c", 1), 1);
	barrier(f.root, "a");
	ck_trace(&f.rec, "root", mark, "X:b:normal X:c:failure");
	ck_counts(f.root, 3, 2, 0, 3);

	/* A later group restart brings the transient child back (as OTP does). */
	mark = fail_and_wait(&f, 0, "d", 2);
	ck_trace(&f.rec, "root", mark, "X:a:failure X:d:shutdown R:a S:a R:b S:b R:d S:d");
	ck_counts(f.root, 3, 3, 0, 3);
	teardown_tree(&f);
}
END_TEST

/* A transient child failing restarts its group like any other. */
START_TEST(test_transient_failure_restarts_group)
{
	static const enum supv_restart types[NCHILD] = {
		SUPV_PERMANENT, SUPV_TRANSIENT, SUPV_TRANSIENT, SUPV_PERMANENT,
	};
	struct fixture f;
	unsigned mark;

	setup_tree(&f, SUPV_ONE_FOR_ALL, types);
	mark = fail_and_wait(&f, 1, "d", 2);
	ck_trace(&f.rec, "root", mark, "X:b:failure X:d:shutdown X:c:shutdown "
	    "X:a:shutdown R:a S:a R:b S:b R:c S:c R:d S:d");
	teardown_tree(&f);
}
END_TEST

/* Returns 9 when asked to stop. */
static int
w_fail_on_stop(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 9;
}

/*
 * A sibling that fails while the group is being stopped is a SHUTDOWN
 * (with its code) and makes no decision of its own: with intensity 1 the
 * group restart does not give up.
 */
START_TEST(test_stopped_sibling_no_decision)
{
	struct trip t = { .code = 1 };
	struct supv *root;
	struct rec rec;
	int at;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .strategy = SUPV_ONE_FOR_ALL, .intensity = 1, .period_ms = 60000,
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "t" },
	    w_trip, &t), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "s",
	    .restart = SUPV_TRANSIENT }, w_fail_on_stop, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	atomic_store(&t.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "s", 2), 2);
	barrier(root, "t");
	ck_trace(&rec, "root", 0, "S:t S:s X:t:failure X:s:shutdown R:t S:t R:s S:s");
	at = find_ev(&rec, SUPV_EV_EXIT, "s", 0);
	ck_assert_int_eq(rec.ev[at].code, 9);
	ck_assert_uint_eq(rec.ev[find_ev(&rec, SUPV_EV_RESTART, "s", 0)].restarts, 1);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_trace(&rec, "root", 0, "S:t S:s X:t:failure X:s:shutdown R:t S:t R:s S:s "
	    "X:s:shutdown X:t:shutdown E:shutdown");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

static atomic_int slow_stopped;

/* Takes a while to stop once asked. */
static int
w_slow_stop(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	sleep_ms(60);
	atomic_store(&slow_stopped, 1);
	return 0;
}

static atomic_int restarted_early;

static int
w_check_slow(struct supv_worker *self, void *arg)
{
	static atomic_int runs;

	if (atomic_fetch_add(&runs, 1) > 0 && !atomic_load(&slow_stopped))
		atomic_store(&restarted_early, 1);
	return w_trip(self, arg);
}

/* Nothing restarts before every stopped sibling has ended. */
START_TEST(test_group_waits_for_siblings)
{
	struct trip t = { .code = 1 };
	struct supv *root;
	struct rec rec;
	unsigned mark;
	int x, s;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .strategy = SUPV_ONE_FOR_ALL, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "t" },
	    w_check_slow, &t), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "slow" },
	    w_slow_stop, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	mark = rec_len(&rec);
	atomic_store(&t.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "slow", 2), 2);
	ck_trace(&rec, "root", mark, "X:t:failure X:slow:shutdown R:t S:t R:slow S:slow");
	ck_assert_int_eq(atomic_load(&restarted_early), 0);
	x = find_ev(&rec, SUPV_EV_EXIT, "slow", 0);
	s = find_ev(&rec, SUPV_EV_START, "t", 1);
	ck_assert_uint_ge(rec.ev[s].at_ns, rec.ev[x].at_ns);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_strategy(void)
{
	Suite *s = suite_create("strategy");
	TCase *tc = tcase_create("strategy");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_one_for_one);
	tcase_add_test(tc, test_one_for_all);
	tcase_add_test(tc, test_rest_for_one);
	tcase_add_test(tc, test_group_drops_temporary);
	tcase_add_test(tc, test_rest_for_one_temporary);
	tcase_add_loop_test(tc, test_trigger_decides, 0, 2);
	tcase_add_test(tc, test_transient_failure_restarts_group);
	tcase_add_test(tc, test_group_waits_for_siblings);
	tcase_add_test(tc, test_stopped_sibling_no_decision);
	suite_add_tcase(s, tc);
	return s;
}
