/* check_samethread.c - same-thread restarts (the same_thread child option). */
#include "tests.h"

static _Thread_local int runs_here;	/* carries over on the same thread */
static atomic_int runs, max_runs_here;
static pthread_t first_thread;
static atomic_bool other_thread;

static int
w_fail_n(struct supv_worker *self, void *arg)
{
	int n = atomic_fetch_add(&runs, 1);

	if (n == 0)
		first_thread = pthread_self();
	else if (!pthread_equal(first_thread, pthread_self()))
		atomic_store(&other_thread, true);
	runs_here++;
	if (runs_here > atomic_load(&max_runs_here))
		atomic_store(&max_runs_here, runs_here);
	if (n < (int)(intptr_t)arg)
		return 5;
	return w_sleeper(self, NULL);
}

START_TEST(test_same_thread_restarts)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	atomic_store(&runs, 0);
	atomic_store(&max_runs_here, 0);
	atomic_store(&other_thread, false);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "st",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .same_thread = true }, w_fail_n, (void *)(intptr_t)500), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&runs) == 501, WAIT_MS));
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "w", 501), 501);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 500);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "w"), 500);
	/* One OS thread did it all, its thread-local storage carried over. */
	ck_assert(!atomic_load(&other_thread));
	ck_assert_int_eq(atomic_load(&max_runs_here), 501);
	/* EXIT, RESTART, START, in that order, every time. */
	for (unsigned i = 0; i < 500; i++) {
		int e = rec_find(&rec, SUPV_EV_EXIT, "w", i);
		int r = rec_find(&rec, SUPV_EV_RESTART, "w", i);
		int s = rec_find(&rec, SUPV_EV_START, "w", i + 1);

		ck_assert_int_eq(rec.ev[e].exit, SUPV_EXIT_FAILURE);
		ck_assert_int_eq(rec.ev[e].code, 5);
		ck_assert(e < r && r < s);
	}
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(rec.ev[rec_find(&rec, SUPV_EV_EXIT, "w", 500)].exit,
	    SUPV_EXIT_SHUTDOWN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* The intensity still holds: the loop gives up when it is exceeded. */
START_TEST(test_same_thread_intensity)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	atomic_store(&runs, 0);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "st",
	    .intensity = 3, .period_ms = 60000, .on_event = rec_cb,
	    .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .same_thread = true }, w_fail_n, (void *)(intptr_t)1000), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ck_assert_int_eq(atomic_load(&runs), 4);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 3);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_GIVE_UP, NULL), 1);
	ck_assert_int_lt(rec_find(&rec, SUPV_EV_RESTART, "w", 2),
	    rec_find(&rec, SUPV_EV_GIVE_UP, NULL, 0));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A transient worker that returns 0 is not restarted, on any thread. */
START_TEST(test_same_thread_transient_normal)
{
	struct supv *root;
	struct supv_counts n;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "t", .restart = SUPV_TRANSIENT, .same_thread = true },
	    w_fail, (void *)0), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(supv_count_children(root, &n) == 0 && n.active == 0,
	    WAIT_MS));
	ck_assert_uint_eq(n.specs, 1);
	supv_free(root);
}
END_TEST

Suite *
suite_samethread(void)
{
	Suite *s = suite_create("samethread");
	TCase *tc = tcase_create("samethread");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_same_thread_restarts);
	tcase_add_test(tc, test_same_thread_intensity);
	tcase_add_test(tc, test_same_thread_transient_normal);
	suite_add_tcase(s, tc);
	return s;
}
