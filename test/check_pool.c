/* check_pool.c - pools of identical workers (supv_add_pool). */
#include <stdio.h>

#include "tests.h"

static atomic_int seen_index[64];
static atomic_int ignoring;

/* Records its index; the ones whose index is in ignoring ignore stops. */
static int
w_indexed(struct supv_worker *self, void *arg)
{
	unsigned i = supv_worker_index(self);
	char want[SUPV_ID_MAX + 1];

	(void)arg;
	snprintf(want, sizeof(want), "p.%u", i);
	if (strcmp(supv_worker_id(self), want) == 0 && i < 64)
		atomic_fetch_add(&seen_index[i], 1);
	while (supv_sleep(self, 1000) == 0)
		;
	if (i < (unsigned)atomic_load(&ignoring))
		sleep_ms(1000);		/* deaf to the stop request */
	return 0;
}

static void
reset(void)
{
	for (unsigned i = 0; i < 64; i++)
		atomic_store(&seen_index[i], 0);
	atomic_store(&ignoring, 0);
}

/* A pool is listed among its parent's children as a supervisor. */
static void
assert_is_pool(struct supv *root, const char *id)
{
	struct supv_child_info ci[8];
	size_t total, i;
	bool found = false;

	ck_assert_int_eq(supv_which_children(root, ci, 8, &total), 0);
	for (i = 0; i < total && i < 8; i++)
		if (strcmp(ci[i].id, id) == 0)
			found = ci[i].is_sup;
	ck_assert(found);
}

START_TEST(test_pool_start_index_ids)
{
	struct supv *root;
	struct rec rec;
	unsigned i;

	reset();
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p" },
	    &(struct supv_pool_opts){ .size = 8 }, w_indexed, NULL), 0);
	assert_is_pool(root, "p");
	ck_assert_int_eq(supv_start(root), 0);
	for (i = 0; i < 8; i++)
		ck_assert(POLL_UNTIL(atomic_load(&seen_index[i]) == 1, WAIT_MS));
	/* Pool events come from the pool supervisor, named after the pool. */
	ck_assert_uint_eq(rec_wait(&rec, SUPV_EV_START, "p.7", 1), 1);
	ck_assert_str_eq(rec.ev[rec_find(&rec, SUPV_EV_START, "p.7", 0)].sup, "p");
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "p"), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_pool_resize)
{
	struct supv *root;
	struct rec rec;
	unsigned i;

	reset();
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p",
	    .shutdown_ms = 200 }, &(struct supv_pool_opts){ .size = 2 },
	    w_indexed, NULL), 0);
	/* Resizing a stopped pool changes its specs. */
	ck_assert_int_eq(supv_pool_resize(root, "p", 3), 0);
	ck_assert_int_eq(supv_start(root), 0);
	for (i = 0; i < 3; i++)
		ck_assert(POLL_UNTIL(atomic_load(&seen_index[i]) == 1, WAIT_MS));
	/* Grow a running pool: the new workers start before it returns. */
	ck_assert_int_eq(supv_pool_resize(root, "p", 6), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "p.5"), 1);
	/* Shrink: the highest indices stop and their specs go. */
	ck_assert_int_eq(supv_pool_resize(root, "p", 1), 0);
	for (i = 1; i < 6; i++) {
		char id[8];

		snprintf(id, sizeof(id), "p.%u", i);
		ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, id), 1);
	}
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "p.0"), 0);
	/* Shrinking to zero and growing again reuses the indices. */
	ck_assert_int_eq(supv_pool_resize(root, "p", SUPV_ZERO), 0);
	ck_assert_int_eq(supv_pool_resize(root, "p", 2), 0);
	ck_assert(POLL_UNTIL(atomic_load(&seen_index[1]) == 2, WAIT_MS));
	/* Errors. */
	ck_assert_int_eq(supv_pool_resize(root, "nope", 2), ENOENT);
	ck_assert_int_eq(supv_pool_resize(NULL, "p", 2), EINVAL);
	ck_assert_int_eq(supv_pool_resize(root, "", 2), EINVAL);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_pool_errors)
{
	struct supv *root;
	char long_id[SUPV_ID_MAX + 1];
	struct supv_counts n;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_pool(NULL, &(struct supv_child_opts){ .id = "p" },
	    NULL, w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_add_pool(root, NULL, NULL, w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p" },
	    NULL, NULL, NULL), EINVAL);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "w" },
	    NULL, w_sleeper, NULL), EEXIST);
	/* Worker ids "<id>.<index>" must fit in SUPV_ID_MAX. */
	memset(long_id, 'x', SUPV_ID_MAX - 2);
	long_id[SUPV_ID_MAX - 2] = '\0';
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){
	    .id = long_id }, &(struct supv_pool_opts){ .size = 10 }, w_sleeper,
	    NULL), 0);
	ck_assert_int_eq(supv_pool_resize(root, long_id, 11), ENAMETOOLONG);
	/* A worker spec is not a pool. */
	ck_assert_int_eq(supv_pool_resize(root, "w", 3), EINVAL);
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.specs, 2);
	ck_assert_uint_eq(n.supervisors, 1);
	supv_free(root);
}
END_TEST

/* A pool stops its workers all at once: about one grace, not one each. */
START_TEST(test_pool_parallel_stop)
{
	struct supv *root;
	struct rec rec;
	uint64_t t0, took_ms;

	reset();
	atomic_store(&ignoring, 20);	/* every worker ignores the stop */
	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p",
	    .shutdown_ms = 300 }, &(struct supv_pool_opts){ .size = 20 },
	    w_indexed, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&seen_index[19]) == 1, WAIT_MS));
	t0 = mono_ns();
	ck_assert_int_eq(supv_stop(root), 0);
	took_ms = (mono_ns() - t0) / 1000000;
	/* Each was given its grace... */
	ck_assert_uint_ge(took_ms, 300);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, NULL), 20);
	/* ... all at once: 20 one after the other would take 6 s. */
	ck_assert_uint_lt(took_ms, 3000);
	supv_free(root);
	/* The abandoned threads finish on their own: let them. */
	sleep_ms(1100);
	rec_destroy(&rec);
}
END_TEST

static atomic_int pool_frees;

START_TEST(test_pool_arg_free_once)
{
	struct supv *root;

	atomic_store(&pool_frees, 0);
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){ .id = "p",
	    .arg_free = count_free }, &(struct supv_pool_opts){ .size = 4 },
	    w_sleeper, &pool_frees), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_pool_resize(root, "p", 1), 0);
	ck_assert_int_eq(atomic_load(&pool_frees), 0);
	supv_free(root);
	ck_assert_int_eq(atomic_load(&pool_frees), 1);
}
END_TEST

Suite *
suite_pool(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_pool_start_index_ids);
	tcase_add_test(tc, test_pool_resize);
	tcase_add_test(tc, test_pool_errors);
	tcase_add_test(tc, test_pool_parallel_stop);
	tcase_add_test(tc, test_pool_arg_free_once);
	suite_add_tcase(s, tc);
	return s;
}
