/*
 * check_lint.c - supv_check(): each rule reported on the child that
 * breaks it, by path; clean trees report nothing; snprintf conventions.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

static struct supv *
sup_of(const char *name, unsigned intensity, unsigned period_ms)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = name,
	    .intensity = intensity, .period_ms = period_ms }), 0);
	return s;
}

static void
add(struct supv *s, struct supv_child_opts o)
{
	ck_assert_int_eq(supv_add_worker(s, &o, w_sleeper, NULL), 0);
}

/* The findings of s, one string; asserts their count. */
static const char *
lint(struct supv *s, int want)
{
	static char buf[4096];

	ck_assert_int_eq(supv_check(s, buf, sizeof(buf)), want);
	return buf;
}

START_TEST(test_clean)
{
	struct supv *root = sup_of("app", 0, 0), *db = sup_of("db", 3, 10000);

	add(root, (struct supv_child_opts){ .id = "web", .heartbeat_ms = 500,
	    .backoff_ms = 100, .backoff_max_ms = 10000 });
	add(db, (struct supv_child_opts){ .id = "conn", .backoff_ms = 10,
	    .backoff_max_ms = 1000 });
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "db" },
	    db), 0);
	ck_assert_str_eq(lint(root, 0), "");
	ck_assert_int_eq(supv_check(root, NULL, 0), 0);
	supv_free(root);
}
END_TEST

START_TEST(test_backoff_never_adds_up)
{
	struct supv *root = sup_of("app", 2, 1000);
	const char *out;

	/* Two restarts take at least 1000 + 2000 ms (half of each step). */
	add(root, (struct supv_child_opts){ .id = "slow", .backoff_ms = 2000,
	    .backoff_max_ms = 8000 });
	/* 100 + 200 ms: fine. */
	add(root, (struct supv_child_opts){ .id = "quick", .backoff_ms = 200,
	    .backoff_max_ms = 8000 });
	out = lint(root, 1);
	ck_assert_msg(strncmp(out, "app/slow: backoff_ms 2000", 25) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "can never exceed its intensity"));
	ck_assert_ptr_null(strstr(out, "quick"));
	supv_free(root);
}
END_TEST

START_TEST(test_grace_longer_than_period)
{
	struct supv *root = sup_of("app", 1, 5000);
	const char *out;

	add(root, (struct supv_child_opts){ .id = "hb", .heartbeat_ms = 100,
	    .shutdown_ms = 6000 });
	/* Not monitored: a long grace is only a stop's business. */
	add(root, (struct supv_child_opts){ .id = "plain", .shutdown_ms = 6000 });
	out = lint(root, 1);
	ck_assert_msg(strncmp(out, "app/hb: shutdown_ms 6000", 24) == 0, "%s", out);
	supv_free(root);
}
END_TEST

START_TEST(test_hung_never_replaced_and_fine_heartbeat)
{
	struct supv *root = sup_of("app", SUPV_INFINITY, 0);
	const char *out;

	add(root, (struct supv_child_opts){ .id = "stuck", .heartbeat_ms = 100,
	    .shutdown_ms = SUPV_INFINITY });
	add(root, (struct supv_child_opts){ .id = "fine", .heartbeat_ms = 2 });
	out = lint(root, 2);
	ck_assert_msg(strstr(out, "app/stuck: heartbeat_ms 100 with an infinite "
	    "shutdown_ms") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\napp/fine: heartbeat_ms 2 is finer") != NULL,
	    "%s", out);
	supv_free(root);
}
END_TEST

/* erlang/otp#1287: a child supervisor too slow to give its parent up. */
START_TEST(test_nested_windows)
{
	struct supv *root = sup_of("app", 1, 1000), *mid = sup_of("mid", 1, 60000);
	const char *out;

	add(mid, (struct supv_child_opts){ .id = "conn", .backoff_ms = 5000,
	    .backoff_max_ms = 5000 });
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "mid" },
	    mid), 0);
	out = lint(root, 1);
	ck_assert_msg(strncmp(out, "app/mid: cannot give up in less than 2500 ms", 44)
	    == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "nested windows"));
	/* The same tree, running: the same answer. */
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_check(root, NULL, 0), 1);
	/* A subtree is checked on its own, its path starting at its name. */
	ck_assert_int_eq(supv_check(mid, NULL, 0), 0);
	supv_free(root);
}
END_TEST

START_TEST(test_snprintf_conventions)
{
	struct supv *root = sup_of("app", SUPV_INFINITY, 0);
	char small[8], full[512];
	int n;

	add(root, (struct supv_child_opts){ .id = "a", .heartbeat_ms = 1 });
	add(root, (struct supv_child_opts){ .id = "b", .heartbeat_ms = 3 });
	n = supv_check(root, full, sizeof(full));
	ck_assert_int_eq(n, 2);
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(supv_check(root, small, sizeof(small)), 2);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert(strncmp(small, full, sizeof(small) - 1) == 0);
	ck_assert_int_eq(supv_check(root, small, 1), 2);
	ck_assert_str_eq(small, "");
	errno = 0;
	ck_assert_int_eq(supv_check(NULL, full, sizeof(full)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(supv_check(root, NULL, 5), -1);
	ck_assert_int_eq(errno, EINVAL);
	supv_free(root);
}
END_TEST

/*
 * 26, also: a finding's path is the control socket's (ids %XX-encoded),
 * and is never cut short, however deep the tree.
 */
START_TEST(test_paths_encoded_and_whole)
{
	struct supv *root = sup_of("app", 0, 0), *s = root, *sub;
	char id[SUPV_ID_MAX + 1], *buf, want[64];
	int depth;

	for (depth = 0; depth < 24; depth++) {
		snprintf(id, sizeof(id), "level %02d/%.40s", depth,
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		sub = sup_of(id, 0, 0);
		ck_assert_int_eq(supv_add_sup(s, &(struct supv_child_opts){ .id = id },
		    sub), 0);
		s = sub;
	}
	add(s, (struct supv_child_opts){ .id = "fine\x01\xff" "beat", .heartbeat_ms = 2 });
	ck_assert_ptr_nonnull(buf = malloc(8192));
	ck_assert_int_eq(supv_check(root, buf, 8192), 1);
	ck_assert_uint_gt(strlen(buf), 1024);
	ck_assert_msg(strncmp(buf, "app/level%2000%2Fxxxx", 21) == 0, "%s", buf);
	snprintf(want, sizeof(want), "/level%%20%02d%%2F", depth - 1);
	ck_assert_msg(strstr(buf, want) != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "/fine%01%FFbeat: heartbeat_ms 2") != NULL, "%s", buf);
	for (const char *p = buf; *p != '\0'; p++)
		ck_assert_msg(*p == '\n' || (*p >= ' ' && *p < 0x7f), "byte %02x",
		    (unsigned char)*p);
	free(buf);
	supv_free(root);
}
END_TEST

Suite *
suite_lint(void)
{
	Suite *s = suite_create("lint");
	TCase *tc = tcase_create("rules");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_clean);
	tcase_add_test(tc, test_backoff_never_adds_up);
	tcase_add_test(tc, test_grace_longer_than_period);
	tcase_add_test(tc, test_hung_never_replaced_and_fine_heartbeat);
	tcase_add_test(tc, test_nested_windows);
	tcase_add_test(tc, test_snprintf_conventions);
	tcase_add_test(tc, test_paths_encoded_and_whole);
	suite_add_tcase(s, tc);
	return s;
}
