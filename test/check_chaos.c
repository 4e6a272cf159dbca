/*
 * check_chaos.c - supv_chaos() and SUPV_CHAOS: a chosen worker fails,
 * hangs or misses its ready deadline on its n-th or every n-th run; bad
 * specs change nothing.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

static struct supv *
root_with(struct rec *rec, struct supv_child_opts o, supv_work_fn *fn, void *arg)
{
	struct supv *root;

	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = rec }), 0);
	ck_assert_int_eq(supv_add_worker(root, &o, fn, arg), 0);
	return root;
}

START_TEST(test_fail_nth)
{
	struct supv *root, *sub;
	struct rec rec;
	struct rec_ev ex;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w" }, w_sleeper, NULL);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "w2" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "sub" },
	    sub), 0);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=7@1,root/sub/w2:fail=-5"), 0);
	ck_assert_int_eq(supv_start(root), 0);
	/* Each fails once, as a real failure, and its second run sleeps. */
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w", 2), 2);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w2", 2), 2);
	ex = ev_get(&rec, SUPV_EV_EXIT, "w", 0);
	ck_assert_int_eq(ex.exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(ex.code, 7);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w2", 0).code, -5);
	sleep_ms(50);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "w"), 1);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "w2"), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* %2: every second run from the rule on fails; NULL clears the rules. */
START_TEST(test_every_nth_and_clear)
{
	struct supv *root;
	struct rec rec;
	unsigned i, n;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w" }, w_fail,
	    (void *)(intptr_t)0);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=3%2"), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 6), 6);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", i).code,
		    i % 2 ? 3 : 0);
	ck_assert_int_eq(supv_chaos(root, NULL), 0);
	/* Some runs numbered before the clear may still fail: skip them. */
	n = rec_count(&rec, SUPV_EV_EXIT, "w") + 2;
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", n + 6), n + 6);
	for (i = n; i < n + 6; i++)
		ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", i).code, 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_hang)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w",
	    .heartbeat_ms = 50 }, w_beat, NULL);
	ck_assert_int_eq(supv_chaos(root, "root/w:hang"), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "w", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w", 2), 2);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).exit, SUPV_EXIT_HUNG);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, "w"), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_noready)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w",
	    .ready_ms = 100 }, w_ready, NULL);
	ck_assert_int_eq(supv_start(root), 0);
	/* Armed now: the next run (the 2nd) misses its ready deadline. */
	ck_assert_int_eq(supv_chaos(root, "root/w:noready@1"), 0);
	ck_assert_int_eq(supv_terminate_child(root, "w"), 0);
	ck_assert_int_ne(supv_restart_child(root, "w"), 0);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 1).exit,
	    SUPV_EXIT_START_FAILED);
	/* The 3rd run is itself again. */
	ck_assert_int_eq(supv_restart_child(root, "w"), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w", 2), 2);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_bad_specs)
{
	static const char *const bad[] = {
		"root/w", "root/w:", ":fail", "root/w:explode", "root/w:fail@0",
		"root/w:hang=3", "root/w:fail@x", "root/w:fail@2x", "root/w:fail=",
		"root/w:fail=x", "root/w:failing", "root/w:fail,root/w:hang",
		"root/sub:fail", "root/w:fail,", "root/w:fail@99999999999",
	};
	struct supv *root, *sub;
	struct rec rec;
	size_t i;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w" }, w_sleeper, NULL);
	ck_assert_int_eq(supv_new(&sub, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "sub" },
	    sub), 0);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=4"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(supv_chaos(root, bad[i]) == EINVAL, "%s", bad[i]);
	ck_assert_int_eq(supv_chaos(root, "root/nope:fail"), ENOENT);
	ck_assert_int_eq(supv_chaos(root, "other/w:fail"), ENOENT);
	ck_assert_int_eq(supv_chaos(root, "root/w/deeper:fail"), ENOENT);
	ck_assert_int_eq(supv_chaos(NULL, "root/w:fail"), EINVAL);
	/* Nothing changed: the first rule still holds. */
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).code, 4);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_environment)
{
	struct supv_counts n;
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w" }, w_sleeper, NULL);
	setenv("SUPV_CHAOS", "root/w:fail=explode", 1);
	ck_assert_int_eq(supv_start(root), EINVAL);
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.active, 0);
	setenv("SUPV_CHAOS", "root/w:fail=9", 1);
	ck_assert_int_eq(supv_start(root), 0);
	unsetenv("SUPV_CHAOS");
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w", 2), 2);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).code, 9);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* 26, also: a start that fails (no loop thread) leaves the rules as they were. */
extern atomic_long supv_fault_countdown;

START_TEST(test_failed_start_keeps_rules)
{
	struct supv *root;
	struct rec rec;
	long n;
	int rc = 0;

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w" }, w_sleeper, NULL);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=4"), 0);
	setenv("SUPV_CHAOS", "root/w:fail=9", 1);
	/* Each allocation and thread of the start in turn: EAGAIN once its loop's. */
	for (n = 1; n < 50; n++) {
		atomic_store(&supv_fault_countdown, n);
		rc = supv_start(root);
		atomic_store(&supv_fault_countdown, 0);
		if (rc == EAGAIN)
			break;
		ck_assert_msg(rc == ENOMEM, "fault %ld: supv_start returned %d", n, rc);
	}
	ck_assert_int_eq(rc, EAGAIN);
	unsetenv("SUPV_CHAOS");
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).code, 4);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* 31.7: a failure code may be any int, INT_MIN included. */
START_TEST(test_fail_code_whole_int_range)
{
	struct supv *root;
	struct rec rec;
	char spec[64];

	rec_init(&rec);
	root = root_with(&rec, (struct supv_child_opts){ .id = "w" }, w_sleeper, NULL);
	snprintf(spec, sizeof(spec), "root/w:fail=%d", INT_MIN);
	ck_assert_int_eq(supv_chaos(root, spec), 0);
	snprintf(spec, sizeof(spec), "root/w:fail=%d", INT_MAX);
	ck_assert_int_eq(supv_chaos(root, spec), 0);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=-2147483649"), EINVAL);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=2147483648"), EINVAL);
	ck_assert_int_eq(supv_chaos(root, "root/w:fail=--1"), EINVAL);
	snprintf(spec, sizeof(spec), "root/w:fail=%d", INT_MIN);
	ck_assert_int_eq(supv_chaos(root, spec), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).code, INT_MIN);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_chaos(void)
{
	Suite *s = suite_create("chaos");
	TCase *tc = tcase_create("rules");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_fail_nth);
	tcase_add_test(tc, test_every_nth_and_clear);
	tcase_add_test(tc, test_hang);
	tcase_add_test(tc, test_noready);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_failed_start_keeps_rules);
	tcase_add_test(tc, test_fail_code_whole_int_range);
	suite_add_tcase(s, tc);
	return s;
}
