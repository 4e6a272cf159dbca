/*
 * check_tree.c - building and running trees: start and stop order,
 * nesting, failed starts and their rollback, starting a root again,
 * waiting from many threads, and stopping twice.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"



#define ADD(sup, ...) ck_assert_int_eq(supv_add_worker((sup), \
	&(struct supv_child_opts){ __VA_ARGS__ }, w_sleeper, NULL), 0)

/* Start order is add order, a child added while running comes last, and stopping is the reverse. */
START_TEST(test_start_stop_order)
{
	struct supv_child_info info[8];
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	size_t total, i;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "w3");
	ADD(root, .id = "w1");
	ADD(root, .id = "w4");
	ADD(root, .id = "w0");
	ADD(root, .id = "w2");
	ck_assert_int_eq(supv_start(root), 0);
	ck_trace(&rec, "root", 0, "S:w3 S:w1 S:w4 S:w0 S:w2");
	ck_counts(root, 5, 5, 0, 5);
	ADD(root, .id = "late");
	ck_assert_int_eq(supv_which_children(root, info, 8, &total), 0);
	ck_assert_uint_eq(total, 6);
	for (i = 0; i < total; i++)
		ck_assert(info[i].running && !info[i].is_sup);
	ck_assert_str_eq(info[0].id, "w3");
	ck_assert_str_eq(info[2].id, "w4");
	ck_assert_str_eq(info[5].id, "late");
	ck_assert_int_eq(supv_stop(root), 0);
	ck_trace(&rec, "root", 0, "S:w3 S:w1 S:w4 S:w0 S:w2 S:late "
	    "X:late:shutdown X:w2:shutdown X:w0:shutdown X:w4:shutdown "
	    "X:w1:shutdown X:w3:shutdown E:shutdown");
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_counts(root, 6, 0, 0, 6);
	/* Fields a kind does not use are 0; events carry the time. */
	for (i = 0; i < rec.n; i++) {
		const struct rec_ev *e = &rec.ev[i];

		ck_assert_str_eq(e->sup, "root");
		ck_assert_uint_eq(e->delay_ms, 0);
		ck_assert_uint_eq(e->restarts, 0);
		ck_assert_int_eq(e->code, 0);
		ck_assert(e->at_ns != 0 && (i == 0 || e->at_ns >= rec.ev[i - 1].at_ns));
		if (e->kind == SUPV_EV_START)
			ck_assert_int_eq(e->exit, 0);
		if (e->kind == SUPV_EV_SUP_EXIT)
			ck_assert_str_eq(e->child, "");
	}
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * Three levels with three strategies: depth-first start with each child
 * supervisor's START after its children's, each level restarting by its
 * own strategy, and a depth-first stop in reverse order.
 */
START_TEST(test_nested_mixed)
{
	struct supv *root, *mid, *low;
	struct trip t_m1 = { .code = 1 }, t_l1 = { .code = 1 };
	struct rec rec;
	unsigned mark;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&mid, &(struct supv_opts){ .name = "mid",
	    .strategy = SUPV_ONE_FOR_ALL, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&low, &(struct supv_opts){ .name = "low",
	    .strategy = SUPV_REST_FOR_ONE, .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "a");
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "mid" }, mid), 0);
	ADD(root, .id = "b");
	ck_assert_int_eq(supv_add_worker(mid, &(struct supv_child_opts){ .id = "m1" },
	    w_trip, &t_m1), 0);
	ck_assert_int_eq(supv_add_sup(mid, &(struct supv_child_opts){ .id = "low" }, low), 0);
	ADD(mid, .id = "m2");
	ck_assert_int_eq(supv_add_worker(low, &(struct supv_child_opts){ .id = "l1" },
	    w_trip, &t_l1), 0);
	ADD(low, .id = "l2");
	ck_assert_int_eq(supv_add_worker(low, &(struct supv_child_opts){ .id = "l0" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_delete_child(low, "l0"), 0);

	ck_assert_int_eq(supv_start(root), 0);
	ck_trace(&rec, NULL, 0, "root.S:a mid.S:m1 low.S:l1 low.S:l2 mid.S:low "
	    "mid.S:m2 root.S:mid root.S:b");
	ck_counts(root, 3, 3, 1, 2);
	ck_counts(mid, 3, 3, 1, 2);
	ck_counts(low, 2, 2, 0, 2);

	/* rest_for_one at the bottom: l1 and the ones after it. */
	mark = rec_len(&rec);
	atomic_store(&t_l1.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "l2", 2), 2);
	ck_trace(&rec, NULL, mark, "low.X:l1:failure low.X:l2:shutdown "
	    "low.R:l1 low.S:l1 low.R:l2 low.S:l2");

	/* one_for_all in the middle: the whole subtree, low included. */
	mark = rec_len(&rec);
	atomic_store(&t_m1.armed, 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "m2", 2), 2);
	ck_trace(&rec, NULL, mark, "mid.X:m1:failure mid.X:m2:shutdown "
	    "low.X:l2:shutdown low.X:l1:shutdown low.E:shutdown mid.X:low:shutdown "
	    "mid.R:m1 mid.S:m1 mid.R:low low.S:l1 low.S:l2 mid.S:low mid.R:m2 mid.S:m2");

	mark = rec_len(&rec);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_trace(&rec, NULL, mark, "root.X:b:shutdown mid.X:m2:shutdown "
	    "low.X:l2:shutdown low.X:l1:shutdown low.E:shutdown mid.X:low:shutdown "
	    "mid.X:m1:shutdown mid.E:shutdown root.X:mid:shutdown root.X:a:shutdown "
	    "root.E:shutdown");
	ck_counts(root, 3, 0, 1, 2);
	ck_counts(mid, 3, 0, 1, 2);
	ck_counts(low, 2, 0, 0, 2);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * A worker that returns before supv_ready() fails its start: the ones
 * started before it are stopped in reverse order, the later ones are never
 * started, and the run is over as START_FAILED with every spec kept.
 */
START_TEST(test_start_failed_rollback)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 10, .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "a");
	ADD(root, .id = "b");
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "c",
	    .ready_ms = 5000 }, w_fail, (void *)(intptr_t)9), 0);
	ADD(root, .id = "d");
	ck_assert_int_eq(supv_start(root), ECHILD);
	/* Every child it started has ended by now. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "a"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "b"), 1);
	ck_counts(root, 4, 0, 0, 4);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	ck_trace(&rec, "root", 0, "S:a S:b X:c:start_failed X:b:shutdown "
	    "X:a:shutdown E:start_failed");
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	/* It may be started again, and fails the same way. */
	ck_assert_int_eq(supv_start(root), ECHILD);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "d"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 2);
	ck_counts(root, 4, 0, 0, 4);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A worker that misses its ready_ms fails its start the same way. */
START_TEST(test_start_failed_ready_missed)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "a");
	ADD(root, .id = "slow", .ready_ms = 30);
	ADD(root, .id = "b");
	ck_assert_int_eq(supv_start(root), ECHILD);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	ck_trace(&rec, "root", 0, "S:a X:slow:start_failed X:a:shutdown E:start_failed");
	ck_counts(root, 3, 0, 0, 3);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A child supervisor whose own child fails to start fails the start of the whole tree. */
START_TEST(test_start_failed_nested)
{
	struct supv *root, *sub;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 10, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .intensity = 10, .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "a");
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "sub" }, sub), 0);
	ADD(root, .id = "z");
	ADD(sub, .id = "x");
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){ .id = "y",
	    .ready_ms = 5000 }, w_fail, NULL), 0);
	ADD(sub, .id = "after");
	ck_assert_int_eq(supv_start(root), ECHILD);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	ck_trace(&rec, NULL, 0, "root.S:a sub.S:x sub.X:y:start_failed "
	    "sub.X:x:shutdown sub.E:start_failed root.X:sub:start_failed "
	    "root.X:a:shutdown root.E:start_failed");
	ck_counts(root, 3, 0, 1, 2);
	ck_counts(sub, 3, 0, 0, 3);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

static atomic_int fails_left;

/* Fails while fails_left lasts, then runs until stopped. */
static int
w_fail_some(struct supv_worker *self, void *arg)
{
	if (atomic_fetch_sub(&fails_left, 1) > 0)
		return 4;
	return w_sleeper(self, arg);
}

/* A root that gave up can be started again, with an empty restart history. */
START_TEST(test_restart_root)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;
	unsigned mark;
	int at;

	rec_init(&rec);
	atomic_store(&fails_left, 2);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 1, .period_ms = 60000, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "w" },
	    w_fail_some, NULL), 0);
	ck_assert_int_eq(supv_wait(root, &why), ESRCH);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:w X:w:failure R:w S:w X:w:failure G E:gave_up");
	ck_counts(root, 1, 0, 0, 1);

	/* One failure more: allowed only if the history of the first run is gone. */
	atomic_store(&fails_left, 1);
	mark = rec_len(&rec);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_start(root), EBUSY);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "w", 4), 4);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_trace(&rec, "root", mark, "S:w X:w:failure R:w S:w X:w:shutdown E:shutdown");
	at = find_ev(&rec, SUPV_EV_RESTART, "w", 1);
	ck_assert_int_ge(at, 0);
	ck_assert_uint_eq(rec.ev[at].restarts, 1);
	ck_counts(root, 1, 0, 0, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

#define NWAITERS 8

struct waiter {
	pthread_t           t;
	struct supv        *root;
	atomic_int         *entered;
	int                 rc;
	enum supv_exit_kind why;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	atomic_fetch_add(w->entered, 1);
	w->rc = supv_wait(w->root, &w->why);
	return NULL;
}

/*
 * Many threads wait for one run: all learn how it ended.  A root that gave
 * up is stopped with no effect on the reason.
 */
START_TEST(test_wait_many)
{
	struct waiter w[NWAITERS];
	struct trip trip = { .code = 2 };
	struct supv *root;
	struct rec rec;
	atomic_int entered = 0;
	enum supv_exit_kind why;
	int i;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_ZERO, .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "a");
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "t" },
	    w_trip, &trip), 0);
	ck_assert_int_eq(supv_start(root), 0);
	for (i = 0; i < NWAITERS; i++) {
		w[i] = (struct waiter){ .root = root, .entered = &entered, .rc = -1 };
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, waiter_main, &w[i]), 0);
	}
	ck_assert(POLL_UNTIL(atomic_load(&entered) == NWAITERS, WAIT_MS));
	atomic_store(&trip.armed, 1);
	for (i = 0; i < NWAITERS; i++) {
		ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
		ck_assert_int_eq(w[i].rc, 0);
		ck_assert_int_eq(w[i].why, SUPV_EXIT_GAVE_UP);
	}
	ck_trace(&rec, "root", 0, "S:a S:t X:t:failure G X:a:shutdown E:gave_up");
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 1);
	ck_counts(root, 2, 0, 0, 2);

	/* The same with a stop: the waiters of the next run learn SHUTDOWN. */
	atomic_store(&entered, 0);
	ck_assert_int_eq(supv_start(root), 0);
	for (i = 0; i < NWAITERS; i++) {
		w[i] = (struct waiter){ .root = root, .entered = &entered, .rc = -1 };
		ck_assert_int_eq(pthread_create(&w[i].t, NULL, waiter_main, &w[i]), 0);
	}
	ck_assert(POLL_UNTIL(atomic_load(&entered) == NWAITERS, WAIT_MS));
	ck_assert_int_eq(supv_stop(root), 0);
	for (i = 0; i < NWAITERS; i++) {
		ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
		ck_assert_int_eq(w[i].rc, 0);
		ck_assert_int_eq(w[i].why, SUPV_EXIT_SHUTDOWN);
	}
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A second supv_stop returns 0 and changes nothing; so does one on a never-started root. */
START_TEST(test_stop_twice)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ADD(root, .id = "a");
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), ESRCH);
	ck_assert_uint_eq(rec_len(&rec), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(supv_wait(root, NULL), 0);
	ck_trace(&rec, "root", 0, "S:a X:a:shutdown E:shutdown");
	ck_counts(root, 1, 0, 0, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A root that gave up by itself: supv_stop returns 0 and the reason stays GAVE_UP. */
START_TEST(test_stop_after_give_up)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_ZERO, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){ .id = "f" },
	    w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_SUP_EXIT, NULL, 1), 1);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_trace(&rec, "root", 0, "S:f X:f:failure G E:gave_up");
	ck_counts(root, 1, 0, 0, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* supv_start, supv_stop and supv_wait take a root. */
START_TEST(test_root_only)
{
	struct supv *root, *sub;
	enum supv_exit_kind why = SUPV_EXIT_NORMAL;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_new(&sub, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "sub" }, sub), 0);
	ADD(sub, .id = "w");
	ck_assert_int_eq(supv_start(sub), EINVAL);
	ck_assert_int_eq(supv_stop(sub), EINVAL);
	ck_assert_int_eq(supv_wait(sub, &why), EINVAL);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_start(sub), EINVAL);
	ck_assert_int_eq(supv_stop(sub), EINVAL);
	ck_assert_int_eq(supv_wait(sub, &why), EINVAL);
	ck_counts(sub, 1, 1, 0, 1);
	supv_free(sub);		/* has a parent: does nothing */
	ck_counts(sub, 1, 1, 0, 1);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
}
END_TEST

Suite *
suite_tree(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("tree");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_start_stop_order);
	tcase_add_test(tc, test_nested_mixed);
	tcase_add_test(tc, test_start_failed_rollback);
	tcase_add_test(tc, test_start_failed_ready_missed);
	tcase_add_test(tc, test_start_failed_nested);
	tcase_add_test(tc, test_restart_root);
	tcase_add_test(tc, test_wait_many);
	tcase_add_test(tc, test_stop_twice);
	tcase_add_test(tc, test_stop_after_give_up);
	tcase_add_test(tc, test_root_only);
	suite_add_tcase(s, tc);
	return s;
}
