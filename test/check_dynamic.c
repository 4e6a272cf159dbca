/*
 * check_dynamic.c - children added, terminated, restarted and deleted
 * while a tree runs (OTP's start_child, terminate_child, restart_child,
 * delete_child, count_children, which_children).
 */
#include <stdint.h>
#include <stdio.h>

#include "tests.h"

#define COUNTS_EQ(s, sp, ac, su, wo) do {                                   \
	struct supv_counts c_;                                              \
	ck_assert_int_eq(supv_count_children((s), &c_), 0);                 \
	ck_assert_msg(c_.specs == (sp) && c_.active == (ac) &&              \
	    c_.supervisors == (su) && c_.workers == (wo),                   \
	    "counts specs=%u active=%u supervisors=%u workers=%u, "         \
	    "expected %u/%u/%u/%u", c_.specs, c_.active, c_.supervisors,    \
	    c_.workers, (unsigned)(sp), (unsigned)(ac), (unsigned)(su),     \
	    (unsigned)(wo));                                                \
} while (0)

/* A worker that takes a while to end once asked to stop, and says when it has. */
struct linger {
	atomic_int runs;
	atomic_int ended;
	atomic_int freed;	/* by linger_free */
	unsigned   ms;
};

static void
linger_free(void *arg)
{
	atomic_fetch_add(&((struct linger *)arg)->freed, 1);
}

static int
w_linger(struct supv_worker *self, void *arg)
{
	struct linger *l = arg;

	atomic_fetch_add(&l->runs, 1);
	while (supv_sleep(self, 1000) == 0)
		;
	sleep_ms(l->ms);
	atomic_fetch_add(&l->ended, 1);
	return 0;
}

/* A worker that is ready only after a while, and records that it got there. */
static int
w_slow_ready(struct supv_worker *self, void *arg)
{
	atomic_int *flag = arg;

	supv_sleep(self, 50);
	atomic_store(flag, 1);
	supv_ready(self);
	return w_sleeper(self, NULL);
}

static int
w_fail_before_ready(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	return 1;
}

START_TEST(test_add_worker_running)
{
	struct supv *root;
	struct rec rec;
	atomic_int readied = 0;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	COUNTS_EQ(root, 1, 1, 0, 1);

	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b" }, w_sleeper, NULL), 0);
	/* Started before the call returned: no waiting here. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "b"), 1);
	COUNTS_EQ(root, 2, 2, 0, 2);

	/* With ready_ms, the call returns only once the worker is ready. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "r", .ready_ms = WAIT_MS }, w_slow_ready, &readied), 0);
	ck_assert_int_eq(atomic_load(&readied), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "r"), 1);
	COUNTS_EQ(root, 3, 3, 0, 3);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);

	ck_assert_int_eq(supv_stop(root), 0);
	COUNTS_EQ(root, 3, 0, 0, 3);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A failed start on a running supervisor: ECHILD, no spec kept, arg kept. */
START_TEST(test_add_worker_start_fails)
{
	struct supv *root;
	struct rec rec;
	atomic_int freed = 0;
	int ev;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "bad", .ready_ms = WAIT_MS, .arg_free = count_free },
	    w_fail_before_ready, &freed), ECHILD);
	COUNTS_EQ(root, 1, 1, 0, 1);
	ck_assert_int_eq(atomic_load(&freed), 0);
	ev = rec_find(&rec, SUPV_EV_EXIT, "bad", 0);
	ck_assert_int_ge(ev, 0);
	ck_assert_int_eq(rec.ev[ev].exit, SUPV_EXIT_START_FAILED);
	ck_assert_int_eq(supv_terminate_child(root, "bad"), ENOENT);
	/* No restart decision was made for it. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	/* The id is free again. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "bad", .arg_free = count_free }, w_sleeper, &freed), 0);
	COUNTS_EQ(root, 2, 2, 0, 2);
	supv_free(root);
	ck_assert_int_eq(atomic_load(&freed), 1);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_add_sup_running)
{
	struct supv *root, *sub;
	struct rec rec;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);

	sub = new_root("sub", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "s1" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "s2" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	/* The subtree started before the call returned, its children first. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "sub"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "s1"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "s2"), 1);
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_START, "s2", 0),
	    rec_find(&rec, SUPV_EV_START, "sub", 0));
	COUNTS_EQ(root, 2, 2, 1, 1);
	COUNTS_EQ(sub, 2, 2, 0, 2);
	/* start/stop/wait take a root. */
	ck_assert_int_eq(supv_start(sub), EINVAL);
	ck_assert_int_eq(supv_stop(sub), EINVAL);

	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_ge(rec_find(&rec, SUPV_EV_SUP_EXIT, NULL, 1), 0);
	COUNTS_EQ(root, 2, 0, 1, 1);
	COUNTS_EQ(sub, 2, 0, 0, 2);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_terminate_worker)
{
	struct supv *root;
	struct rec rec;
	struct linger p = { .ms = 100 }, t = { .ms = 100 }, tr = { .ms = 0 };
	int ev;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "p" }, w_linger, &p), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t", .restart = SUPV_TEMPORARY }, w_linger, &t), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "tr", .restart = SUPV_TRANSIENT }, w_linger, &tr), 0);
	ck_assert_int_eq(supv_start(root), 0);
	COUNTS_EQ(root, 3, 3, 0, 3);

	/* Returns only after the worker has ended (it lingers 100 ms). */
	ck_assert_int_eq(supv_terminate_child(root, "p"), 0);
	ck_assert_int_eq(atomic_load(&p.ended), 1);
	ev = rec_find(&rec, SUPV_EV_EXIT, "p", 0);
	ck_assert_int_ge(ev, 0);
	ck_assert_int_eq(rec.ev[ev].exit, SUPV_EXIT_SHUTDOWN);
	COUNTS_EQ(root, 3, 2, 0, 3);	/* a permanent spec is kept */
	/* A child that is not running: 0, nothing happens. */
	ck_assert_int_eq(supv_terminate_child(root, "p"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "p"), 1);

	ck_assert_int_eq(supv_terminate_child(root, "t"), 0);
	ck_assert_int_eq(atomic_load(&t.ended), 1);
	COUNTS_EQ(root, 2, 1, 0, 2);	/* a temporary spec is deleted */
	ck_assert_int_eq(supv_terminate_child(root, "t"), ENOENT);

	ck_assert_int_eq(supv_terminate_child(root, "tr"), 0);
	ck_assert_int_eq(atomic_load(&tr.ended), 1);
	COUNTS_EQ(root, 2, 0, 0, 2);	/* a transient spec is kept */

	/* Nothing was restarted. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert_int_eq(atomic_load(&p.runs), 1);
	ck_assert_int_eq(atomic_load(&tr.runs), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	/* On a stopped supervisor there is nothing to terminate. */
	ck_assert_int_eq(supv_terminate_child(root, "p"), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_terminate_child_sup)
{
	struct supv *root, *sub, *subsub;
	struct rec rec;
	struct linger s1 = { .ms = 50 }, s2 = { .ms = 50 }, ss = { .ms = 50 };
	int ev;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	sub = new_root("sub", &rec, SUPV_ONE_FOR_ONE, 0);
	subsub = new_root("subsub", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(subsub, &(struct supv_child_opts){
	    .id = "ss", .arg_free = linger_free }, w_linger, &ss), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "s1", .arg_free = linger_free }, w_linger, &s1), 0);
	ck_assert_int_eq(supv_add_sup(sub, &(struct supv_child_opts){
	    .id = "subsub" }, subsub), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "s2", .arg_free = linger_free }, w_linger, &s2), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	COUNTS_EQ(root, 2, 2, 1, 1);
	COUNTS_EQ(sub, 3, 3, 1, 2);

	/* Returns after the whole subtree has ended. */
	ck_assert_int_eq(supv_terminate_child(root, "sub"), 0);
	ck_assert_int_eq(atomic_load(&s1.ended), 1);
	ck_assert_int_eq(atomic_load(&s2.ended), 1);
	ck_assert_int_eq(atomic_load(&ss.ended), 1);
	ev = rec_find(&rec, SUPV_EV_EXIT, "sub", 0);
	ck_assert_int_ge(ev, 0);
	ck_assert_int_eq(rec.ev[ev].exit, SUPV_EXIT_SHUTDOWN);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 2);
	COUNTS_EQ(root, 2, 1, 1, 1);
	COUNTS_EQ(sub, 3, 0, 1, 2);	/* the handle is still valid */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "a"), 0);

	/* It can be started again, with its whole subtree. */
	ck_assert_int_eq(supv_restart_child(root, "sub"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "sub"), 2);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	COUNTS_EQ(sub, 3, 3, 1, 2);
	ck_assert(POLL_UNTIL(atomic_load(&ss.runs) == 2, WAIT_MS));

	/* Deleting it frees the subtree (its workers' args are released). */
	ck_assert_int_eq(supv_delete_child(root, "sub"), EBUSY);
	ck_assert_int_eq(supv_terminate_child(root, "sub"), 0);
	ck_assert_int_eq(atomic_load(&s1.freed) + atomic_load(&s2.freed) +
	    atomic_load(&ss.freed), 0);
	ck_assert_int_eq(supv_delete_child(root, "sub"), 0);
	ck_assert_int_eq(atomic_load(&s1.freed), 1);
	ck_assert_int_eq(atomic_load(&s2.freed), 1);
	ck_assert_int_eq(atomic_load(&ss.freed), 1);
	COUNTS_EQ(root, 1, 1, 0, 1);
	ck_assert_int_eq(supv_delete_child(root, "sub"), ENOENT);

	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_restart_child)
{
	struct supv *root;
	struct rec rec;
	struct linger w = { .ms = 0 };
	struct supv_child_info info[2];
	size_t total;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_linger, &w), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_restart_child(root, "w"), EBUSY);
	COUNTS_EQ(root, 1, 1, 0, 1);
	ck_assert_int_eq(supv_terminate_child(root, "w"), 0);
	COUNTS_EQ(root, 1, 0, 0, 1);
	ck_assert_int_eq(supv_restart_child(root, "w"), 0);
	/* Started before the call returned; START but no RESTART, no count. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "w"), 2);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert(POLL_UNTIL(atomic_load(&w.runs) == 2, WAIT_MS));
	COUNTS_EQ(root, 1, 1, 0, 1);
	ck_assert_int_eq(supv_which_children(root, info, 2, &total), 0);
	ck_assert_uint_eq(total, 1);
	ck_assert_uint_eq(info[0].restarts, 0);
	ck_assert(info[0].running);

	ck_assert_int_eq(supv_stop(root), 0);
	/* Not running: there is no loop to start it (see the notes). */
	ck_assert_int_eq(supv_restart_child(root, "w"), ESRCH);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_delete_child)
{
	struct supv *root;
	struct rec rec;
	atomic_int freed_a = 0, freed_b = 0, freed_c = 0;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .arg_free = count_free }, w_sleeper, &freed_a), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b", .arg_free = count_free }, w_sleeper, &freed_b), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "c", .arg_free = count_free }, w_sleeper, &freed_c), 0);
	/* On a never-started supervisor it acts at once. */
	ck_assert_int_eq(supv_delete_child(root, "c"), 0);
	ck_assert_int_eq(atomic_load(&freed_c), 1);
	ck_assert_int_eq(supv_delete_child(root, "c"), ENOENT);
	COUNTS_EQ(root, 2, 0, 0, 2);

	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_delete_child(root, "a"), EBUSY);
	COUNTS_EQ(root, 2, 2, 0, 2);
	ck_assert_int_eq(atomic_load(&freed_a), 0);
	ck_assert_int_eq(supv_terminate_child(root, "a"), 0);
	ck_assert_int_eq(supv_delete_child(root, "a"), 0);
	ck_assert_int_eq(atomic_load(&freed_a), 1);
	COUNTS_EQ(root, 1, 1, 0, 1);
	ck_assert_int_eq(supv_delete_child(root, "a"), ENOENT);
	ck_assert_int_eq(supv_restart_child(root, "a"), ENOENT);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "b"), 0);

	/* The id can be used again. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	COUNTS_EQ(root, 2, 2, 0, 2);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);

	/* After a stop, a stopped supervisor's spec is deleted directly. */
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_delete_child(root, "b"), 0);
	ck_assert_int_eq(atomic_load(&freed_b), 1);
	COUNTS_EQ(root, 1, 0, 0, 1);
	/* A child supervisor too, with its subtree. */
	{
		struct supv *sub;

		ck_assert_int_eq(supv_new(&sub, NULL), 0);
		ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
		    .id = "x", .arg_free = count_free }, w_sleeper, &freed_c), 0);
		ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
		    .id = "sub" }, sub), 0);
		ck_assert_int_eq(supv_start(root), 0);
		ck_assert_int_eq(supv_stop(root), 0);
		COUNTS_EQ(root, 2, 0, 1, 1);
		ck_assert_int_eq(supv_delete_child(root, "sub"), 0);
		ck_assert_int_eq(atomic_load(&freed_c), 2);
		COUNTS_EQ(root, 1, 0, 0, 1);
	}
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_enoent)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 5);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_terminate_child(root, "nope"), ENOENT);
	ck_assert_int_eq(supv_restart_child(root, "nope"), ENOENT);
	ck_assert_int_eq(supv_delete_child(root, "nope"), ENOENT);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_terminate_child(root, "nope"), ENOENT);
	ck_assert_int_eq(supv_restart_child(root, "nope"), ENOENT);
	ck_assert_int_eq(supv_delete_child(root, "nope"), ENOENT);

	/* A temporary child that ended on its own is gone, normal or not. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t0", .restart = SUPV_TEMPORARY }, w_fail, (void *)0), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t1", .restart = SUPV_TEMPORARY }, w_fail, (void *)1), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_EXIT, "t0", 1), 1);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_EXIT, "t1", 1), 1);
	ck_assert(POLL_UNTIL(({ struct supv_counts c_;
	    supv_count_children(root, &c_); c_.specs == 1; }), WAIT_MS));
	ck_assert_int_eq(supv_terminate_child(root, "t0"), ENOENT);
	ck_assert_int_eq(supv_restart_child(root, "t0"), ENOENT);
	ck_assert_int_eq(supv_delete_child(root, "t1"), ENOENT);
	ck_assert_int_eq(supv_restart_child(root, "t1"), ENOENT);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	COUNTS_EQ(root, 1, 1, 0, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_count_children)
{
	struct supv *root, *sub;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	sub = new_root("sub", &rec, SUPV_ONE_FOR_ONE, 0);
	COUNTS_EQ(root, 0, 0, 0, 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "x" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w1" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w2", .restart = SUPV_TRANSIENT }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t", .restart = SUPV_TEMPORARY }, w_sleeper, NULL), 0);
	COUNTS_EQ(root, 4, 0, 1, 3);
	COUNTS_EQ(sub, 1, 0, 0, 1);
	ck_assert_int_eq(supv_start(root), 0);
	COUNTS_EQ(root, 4, 4, 1, 3);
	COUNTS_EQ(sub, 1, 1, 0, 1);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	/* Non-temporary specs stay, inactive; the temporary one is gone. */
	COUNTS_EQ(root, 3, 0, 1, 2);
	COUNTS_EQ(sub, 1, 0, 0, 1);
	/* And a second run counts the same. */
	ck_assert_int_eq(supv_start(root), 0);
	COUNTS_EQ(root, 3, 3, 1, 2);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* After a give-up and after a failed start, the specs stay counted too. */
START_TEST(test_count_after_gave_up_and_failed_start)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, SUPV_ZERO);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "ok" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t", .restart = SUPV_TEMPORARY }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "bad", .restart = SUPV_TRANSIENT }, w_fail, (void *)2), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	COUNTS_EQ(root, 2, 0, 0, 2);
	supv_free(root);

	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "ok" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t", .restart = SUPV_TEMPORARY }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "bad", .ready_ms = WAIT_MS }, w_fail_before_ready, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "never" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), ECHILD);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_START_FAILED);
	/* A failed start changes no spec: the temporary one is kept too. */
	COUNTS_EQ(root, 4, 0, 0, 4);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

static int fail_once_left;

static int
w_fail_once(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (__atomic_fetch_sub(&fail_once_left, 1, __ATOMIC_SEQ_CST) > 0)
		return 1;
	return w_sleeper(self, NULL);
}

START_TEST(test_which_children)
{
	struct supv *root, *sub;
	struct rec rec;
	struct supv_child_info info[8];
	size_t total = 0;

	rec_init(&rec);
	fail_once_left = 1;
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 5);
	sub = new_root("sub", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub", .restart = SUPV_TRANSIENT }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t", .restart = SUPV_TEMPORARY }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f", .restart = SUPV_TRANSIENT }, w_fail_once, NULL), 0);

	ck_assert_int_eq(supv_which_children(root, NULL, 0, &total), 0);
	ck_assert_uint_eq(total, 4);
	ck_assert_int_eq(supv_which_children(root, info, 8, &total), 0);
	ck_assert_uint_eq(total, 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert(!info[i].running && !info[i].pending);

	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "f", 2), 2);
	ck_assert_int_eq(supv_which_children(root, info, 8, &total), 0);
	ck_assert_uint_eq(total, 4);
	ck_assert_str_eq(info[0].id, "a");
	ck_assert_str_eq(info[1].id, "sub");
	ck_assert_str_eq(info[2].id, "t");
	ck_assert_str_eq(info[3].id, "f");
	ck_assert(!info[0].is_sup && info[1].is_sup && !info[2].is_sup &&
	    !info[3].is_sup);
	ck_assert_int_eq(info[0].restart, SUPV_PERMANENT);
	ck_assert_int_eq(info[1].restart, SUPV_TRANSIENT);
	ck_assert_int_eq(info[2].restart, SUPV_TEMPORARY);
	ck_assert_int_eq(info[3].restart, SUPV_TRANSIENT);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert(info[i].running);
		ck_assert(!info[i].pending);
	}
	ck_assert_uint_eq(info[0].restarts, 0);
	ck_assert_uint_eq(info[3].restarts, 1);

	/* A short buffer: n entries filled, the total still reported. */
	memset(info, 0x5a, sizeof(info));
	ck_assert_int_eq(supv_which_children(root, info, 2, &total), 0);
	ck_assert_uint_eq(total, 4);
	ck_assert_str_eq(info[0].id, "a");
	ck_assert_str_eq(info[1].id, "sub");
	ck_assert_int_eq((unsigned char)info[2].id[0], 0x5a);

	/* Listing a child supervisor. */
	ck_assert_int_eq(supv_which_children(sub, info, 8, &total), 0);
	ck_assert_uint_eq(total, 0);

	/* After a stop: the temporary child is gone, nothing runs. */
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_which_children(root, info, 8, &total), 0);
	ck_assert_uint_eq(total, 3);
	ck_assert_str_eq(info[0].id, "a");
	ck_assert_str_eq(info[1].id, "sub");
	ck_assert_str_eq(info[2].id, "f");
	for (unsigned i = 0; i < 3; i++)
		ck_assert(!info[i].running && !info[i].pending);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A worker that changes its own supervisor's children. */
struct boss {
	struct supv *sup;
	atomic_int   rc[6];
	atomic_int   done;
};

static int
w_boss(struct supv_worker *self, void *arg)
{
	struct boss *b = arg;

	atomic_store(&b->rc[0], supv_add_worker(b->sup,
	    &(struct supv_child_opts){ .id = "kid" }, w_sleeper, NULL));
	atomic_store(&b->rc[1], supv_terminate_child(b->sup, "victim"));
	atomic_store(&b->rc[2], supv_restart_child(b->sup, "victim"));
	atomic_store(&b->rc[3], supv_terminate_child(b->sup, "kid"));
	atomic_store(&b->rc[4], supv_delete_child(b->sup, "kid"));
	atomic_store(&b->rc[5], supv_restart_child(b->sup, "kid"));
	atomic_store(&b->done, 1);
	return w_sleeper(self, NULL);
}

START_TEST(test_from_worker)
{
	struct supv *root;
	struct rec rec;
	struct boss b = { 0 };

	rec_init(&rec);
	/* one_for_all with no restart allowed: a strategy or a count shows. */
	root = new_root("root", &rec, SUPV_ONE_FOR_ALL, SUPV_ZERO);
	b.sup = root;
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "victim" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "boss" }, w_boss, &b), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&b.done), WAIT_MS));
	ck_assert_int_eq(atomic_load(&b.rc[0]), 0);
	ck_assert_int_eq(atomic_load(&b.rc[1]), 0);
	ck_assert_int_eq(atomic_load(&b.rc[2]), 0);
	ck_assert_int_eq(atomic_load(&b.rc[3]), 0);
	ck_assert_int_eq(atomic_load(&b.rc[4]), 0);
	ck_assert_int_eq(atomic_load(&b.rc[5]), ENOENT);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "kid"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "kid"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "victim"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "victim"), 2);
	/* No restart counted, no strategy applied: the boss runs on. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "boss"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
	COUNTS_EQ(root, 2, 2, 0, 2);
	ck_assert_int_eq(supv_restart_child(root, "boss"), EBUSY);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* terminate/restart/delete from outside count no restart, apply no strategy. */
START_TEST(test_no_strategy_no_count)
{
	struct supv *root, *sub;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = new_root("root", &rec, SUPV_ONE_FOR_ALL, SUPV_ZERO);
	sub = new_root("sub", &rec, SUPV_ONE_FOR_ALL, SUPV_ZERO);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "x" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "c" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);

	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(supv_terminate_child(root, "b"), 0);
		ck_assert_int_eq(supv_restart_child(root, "b"), 0);
		ck_assert_int_eq(supv_terminate_child(root, "sub"), 0);
		ck_assert_int_eq(supv_restart_child(root, "sub"), 0);
		ck_assert_int_eq(supv_terminate_child(sub, "x"), 0);
		ck_assert_int_eq(supv_restart_child(sub, "x"), 0);
	}
	ck_assert_int_eq(supv_terminate_child(root, "b"), 0);
	ck_assert_int_eq(supv_delete_child(root, "b"), 0);
	/* The siblings were never touched. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "a"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "c"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "a"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "c"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 0);
	COUNTS_EQ(root, 3, 3, 1, 2);
	ck_assert_int_eq(supv_restart_child(root, "a"), EBUSY);	/* still running */
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_dynamic(void)
{
	Suite *s = suite_create("dynamic");
	TCase *tc = tcase_create("dynamic");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_add_worker_running);
	tcase_add_test(tc, test_add_worker_start_fails);
	tcase_add_test(tc, test_add_sup_running);
	tcase_add_test(tc, test_terminate_worker);
	tcase_add_test(tc, test_terminate_child_sup);
	tcase_add_test(tc, test_restart_child);
	tcase_add_test(tc, test_delete_child);
	tcase_add_test(tc, test_enoent);
	tcase_add_test(tc, test_count_children);
	tcase_add_test(tc, test_count_after_gave_up_and_failed_start);
	tcase_add_test(tc, test_which_children);
	tcase_add_test(tc, test_from_worker);
	tcase_add_test(tc, test_no_strategy_no_count);
	suite_add_tcase(s, tc);
	return s;
}
