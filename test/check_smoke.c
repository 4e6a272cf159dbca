/* check_smoke.c - a tree starts, restarts a failing worker, and stops. */
#include "tests.h"

static int fails_left;

static int
w_fail_twice(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (__atomic_fetch_sub(&fails_left, 1, __ATOMIC_SEQ_CST) > 0)
		return 3;
	return w_sleeper(self, NULL);
}

START_TEST(test_restart_and_stop)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	fails_left = 2;
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 5, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_fail_twice, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w", 3), 3);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 2);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_smoke(void)
{
	Suite *s = suite_create("smoke");
	TCase *tc = tcase_create("smoke");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_restart_and_stop);
	suite_add_tcase(s, tc);
	return s;
}
