/*
 * check_exitrules.c - decisions by exit code (no_restart_codes,
 * escalate_codes, the events' rule) and the reset of a child's backoff
 * streak (backoff_reset_ms, backoff_reset_on_ready).
 */
#include <stdint.h>
#include <stdio.h>

#include "tests.h"

/* Returns codes[0], codes[1], ... and then the last one for ever. */
struct seq {
	atomic_uint i;
	unsigned    n;
	int         codes[8];
};

static int
w_codes(struct supv_worker *self, void *arg)
{
	struct seq *q = arg;
	unsigned i = atomic_fetch_add(&q->i, 1);

	(void)self;
	return q->codes[i < q->n ? i : q->n - 1];
}

static struct supv *
root_of(struct rec *rec, unsigned intensity)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = "root",
	    .intensity = intensity, .period_ms = 60000, .on_event = rec_cb,
	    .event_arg = rec }), 0);
	return s;
}

static bool
child_info(struct supv *s, const char *id, struct supv_child_info *out)
{
	struct supv_child_info info[8];
	size_t total, i;

	ck_assert_int_eq(supv_which_children(s, info, 8, &total), 0);
	for (i = 0; i < total && i < 8; i++)
		if (strcmp(info[i].id, id) == 0) {
			*out = info[i];
			return true;
		}
	return false;
}

/*
 * Starts a root with one worker "w" (opts o, body w_codes on q), waits
 * for its first exit and checks that it stays down: not running, not
 * pending, no RESTART.  Returns the root, running, for more checks.
 */
static struct supv *
start_stays_down(struct rec *rec, const struct supv_child_opts *o,
    struct seq *q)
{
	struct supv_child_info ci;
	struct supv *root;

	root = root_of(rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, o, w_codes, q), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(rec, SUPV_EV_EXIT, "w", 1), 1);
	ck_assert(POLL_UNTIL(child_info(root, "w", &ci) && !ci.running, WAIT_MS));
	sleep_ms(50);
	ck_assert(child_info(root, "w", &ci));
	ck_assert(!ci.running && !ci.pending);
	ck_assert_uint_eq(rec_count(rec, SUPV_EV_RESTART, "w"), 0);
	ck_assert_uint_eq(atomic_load(&q->i), 1);
	return root;
}

/* ---- decisions by exit code ---- */

static void
no_restart_code(bool same_thread)
{
	static const int stop[] = { 3, 5 };
	struct seq q = { .n = 3, .codes = { 4, 4, 3 } };
	struct supv_child_info ci;
	struct supv *root;
	struct rec rec;
	struct rec_ev ex;

	rec_init(&rec);
	root = root_of(&rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .same_thread = same_thread, .no_restart_codes = stop,
	    .n_no_restart_codes = 2 }, w_codes, &q), 0);
	ck_assert_int_eq(supv_start(root), 0);
	/* 4 restarts it twice; 3 ends it for good. */
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 3), 3);
	ex = ev_get(&rec, SUPV_EV_EXIT, "w", 0);
	ck_assert_int_eq(ex.code, 4);
	ck_assert_int_eq(ex.rule, SUPV_RULE_RESTART_TYPE);
	ex = ev_get(&rec, SUPV_EV_EXIT, "w", 2);
	ck_assert_int_eq(ex.exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(ex.code, 3);
	ck_assert_int_eq(ex.rule, SUPV_RULE_NO_RESTART_CODE);
	ck_assert(POLL_UNTIL(child_info(root, "w", &ci) && !ci.running, WAIT_MS));
	sleep_ms(50);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 2);
	ck_assert_uint_eq(atomic_load(&q.i), 3);
	ck_assert(child_info(root, "w", &ci));
	ck_assert(!ci.running && !ci.pending);
	/* The spec stays: a restart by hand runs it again (3 again: ends). */
	ck_assert_int_eq(supv_restart_child(root, "w"), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 4), 4);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 3).rule,
	    SUPV_RULE_NO_RESTART_CODE);
	supv_free(root);
	rec_destroy(&rec);
}

START_TEST(test_no_restart_code)
{
	no_restart_code(false);
}
END_TEST

START_TEST(test_no_restart_code_same_thread)
{
	no_restart_code(true);
}
END_TEST

/* 0 may be listed: a permanent child that returns 0 then stays down. */
START_TEST(test_no_restart_code_zero)
{
	static const int done[] = { 0 };
	struct seq q = { .n = 1, .codes = { 0 } };
	struct rec rec;

	rec_init(&rec);
	supv_free(start_stays_down(&rec, &(struct supv_child_opts){ .id = "w",
	    .no_restart_codes = done, .n_no_restart_codes = 1 }, &q));
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).exit, SUPV_EXIT_NORMAL);
	rec_destroy(&rec);
}
END_TEST

/* An escalation code gives the supervisor up at once, infinite intensity or not. */
START_TEST(test_escalate_code)
{
	static const int esc[] = { 7 };
	struct seq q = { .n = 2, .codes = { 1, 7 } };
	struct supv *root, *mid;
	struct rec rec;
	struct rec_ev g, ex;

	rec_init(&rec);
	root = root_of(&rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_new(&mid, &(struct supv_opts){ .name = "mid",
	    .intensity = SUPV_INFINITY, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_add_worker(mid, &(struct supv_child_opts){
	    .id = "w", .escalate_codes = esc, .n_escalate_codes = 1 },
	    w_codes, &q), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "mid", .restart = SUPV_TEMPORARY }, mid), 0);
	ck_assert_int_eq(supv_start(root), 0);
	/* mid gives up; root, its parent, decides (temporary: deleted). */
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "mid", 1), 1);
	ex = ev_get(&rec, SUPV_EV_EXIT, "w", 1);
	ck_assert_int_eq(ex.code, 7);
	ck_assert_int_eq(ex.rule, SUPV_RULE_ESCALATE_CODE);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).rule,
	    SUPV_RULE_RESTART_TYPE);
	g = ev_get(&rec, SUPV_EV_GIVE_UP, NULL, 0);
	ck_assert_str_eq(g.sup, "mid");
	ck_assert_int_eq(g.rule, SUPV_RULE_ESCALATE_CODE);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "mid", 0).exit,
	    SUPV_EXIT_GAVE_UP);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/*
 * 0 may be an escalation code: a worker that returns 0 gives its
 * supervisor up at once, infinite intensity or not, and is not restarted,
 * whatever its restart type: a transient or temporary child's normal exit
 * escalates too, since the codes decide before the type.
 */
START_TEST(test_escalate_code_zero)
{
	static const int esc[] = { 0 };
	static const enum supv_restart type[] = { SUPV_PERMANENT,
	    SUPV_TRANSIENT, SUPV_TEMPORARY };
	struct supv *root;
	struct rec rec;
	struct rec_ev ex;
	enum supv_exit_kind why;

	rec_init(&rec);
	root = root_of(&rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .restart = type[_i], .escalate_codes = esc,
	    .n_escalate_codes = 1 }, w_fail, (void *)(intptr_t)0), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	ex = ev_get(&rec, SUPV_EV_EXIT, "w", 0);
	ck_assert_int_eq(ex.exit, SUPV_EXIT_NORMAL);
	ck_assert_int_eq(ex.rule, SUPV_RULE_ESCALATE_CODE);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_GIVE_UP, NULL, 0).rule,
	    SUPV_RULE_ESCALATE_CODE);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* Giving up by intensity says so. */
START_TEST(test_give_up_rule_intensity)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, 1);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_GIVE_UP, NULL, 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_GIVE_UP, NULL, 0).rule,
	    SUPV_RULE_INTENSITY);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_START, "w", 0).rule, SUPV_RULE_NONE);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* The lists are copied at add time. */
START_TEST(test_codes_copied)
{
	int stop[] = { 3 };
	struct seq q = { .n = 1, .codes = { 3 } };
	struct supv_child_opts o = { .id = "w", .no_restart_codes = stop,
	    .n_no_restart_codes = 1 };
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, &o, w_codes, &q), 0);
	stop[0] = 99;
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "w", 0).rule,
	    SUPV_RULE_NO_RESTART_CODE);
	ck_assert_int_eq(supv_restart_child(root, "w"), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 2), 2);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "w"), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A pool's workers get the template's lists. */
START_TEST(test_codes_pool)
{
	static const int stop[] = { 3 };
	struct seq q = { .n = 1, .codes = { 3 } };
	struct supv_counts n;
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_pool(root, &(struct supv_child_opts){
	    .id = "p", .no_restart_codes = stop, .n_no_restart_codes = 1 },
	    &(struct supv_pool_opts){ .size = 3 }, w_codes, &q), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&q.i) == 3, WAIT_MS));
	sleep_ms(50);
	ck_assert_uint_eq(atomic_load(&q.i), 3);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, NULL), 0);
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.specs, 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_codes_einval)
{
	static const int a[] = { 1, 2 }, b[] = { 2 }, c[] = { 9 };
	static int many[SUPV_CODES_MAX + 1];
	struct supv_counts n;
	struct supv *root, *sub;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, 3);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a", .n_no_restart_codes = 1 }, w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "b", .n_escalate_codes = 2 }, w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "c", .no_restart_codes = a, .n_no_restart_codes = 2,
	    .escalate_codes = b, .n_escalate_codes = 1 }, w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "d", .no_restart_codes = many,
	    .n_no_restart_codes = SUPV_CODES_MAX + 1 }, w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "e", .backoff_ms = 10, .backoff_reset_ms = SUPV_ZERO },
	    w_sleeper, NULL), EINVAL);
	ck_assert_int_eq(supv_new(&sub, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "s", .escalate_codes = c, .n_escalate_codes = 1 }, sub), EINVAL);
	supv_free(sub);
	/* Nothing was added; the same lists apart are fine. */
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.specs, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f", .no_restart_codes = a, .n_no_restart_codes = 2,
	    .escalate_codes = c, .n_escalate_codes = 1,
	    .backoff_reset_ms = SUPV_INFINITY }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "g", .no_restart_codes = many,
	    .n_no_restart_codes = SUPV_CODES_MAX }, w_sleeper, NULL), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_rule_names_and_format)
{
	struct supv_event ev = { .kind = SUPV_EV_EXIT, .sup = "s", .child = "w",
	    .exit = SUPV_EXIT_FAILURE, .code = 3,
	    .rule = SUPV_RULE_NO_RESTART_CODE };
	char buf[256];

	ck_assert_str_eq(supv_rule_name(SUPV_RULE_NONE), "none");
	ck_assert_str_eq(supv_rule_name(SUPV_RULE_RESTART_TYPE), "restart_type");
	ck_assert_str_eq(supv_rule_name(SUPV_RULE_NO_RESTART_CODE), "no_restart_code");
	ck_assert_str_eq(supv_rule_name(SUPV_RULE_ESCALATE_CODE), "escalate_code");
	ck_assert_str_eq(supv_rule_name(SUPV_RULE_INTENSITY), "intensity");
	ck_assert_str_eq(supv_rule_name((enum supv_rule)99), "unknown");
	ck_assert_int_gt(supv_event_format(&ev, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "sup=s event=exit child=w exit=failure code=3 "
	    "rule=no_restart_code restarts=0");
	/* The default rules add nothing: 1.0's lines stay the same. */
	ev.rule = SUPV_RULE_RESTART_TYPE;
	ck_assert_int_gt(supv_event_format(&ev, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "sup=s event=exit child=w exit=failure code=3 restarts=0");
	ev = (struct supv_event){ .kind = SUPV_EV_GIVE_UP, .sup = "s",
	    .rule = SUPV_RULE_ESCALATE_CODE };
	ck_assert_int_gt(supv_event_format(&ev, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "sup=s event=give_up rule=escalate_code restarts=0");
}
END_TEST

/* ---- backoff reset ---- */

#define B_MS 20

static int
w_run_then_fail(struct supv_worker *self, void *arg)
{
	(void)arg;
	/* At least 3 * B_MS: longer than backoff_reset_ms below. */
	return supv_sleep(self, 3 * B_MS) == 0 ? 1 : 0;
}

static int
w_ready_fail(struct supv_worker *self, void *arg)
{
	(void)arg;
	supv_ready(self);
	return 1;
}

/*
 * Runs a failing worker until it has backed off NBACK times and returns
 * the longest delay.  Equal jitter keeps the k-th delay within
 * [d/2, d] for d = B_MS * 2^(k-1): a streak that resets stays at most
 * B_MS, one that grows reaches at least 2 * B_MS by the third.  With a
 * cap of 2 * B_MS, each delay after the first is B_MS exactly with
 * probability 1/(B_MS + 1): eight of them make "all were B_MS" a chance
 * of about 1 in 2 billion (four made it 1 in 9,000, and CI met it).
 */
#define NBACK 8
static unsigned
longest_backoff(const struct supv_child_opts *o, supv_work_fn *fn)
{
	struct supv *root;
	struct rec rec;
	unsigned i, most = 0;

	rec_init(&rec);
	root = root_of(&rec, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, o, fn, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_BACKOFF, "w", NBACK), NBACK);
	for (i = 0; i < NBACK; i++) {
		unsigned d = ev_get(&rec, SUPV_EV_BACKOFF, "w", i).delay_ms;

		if (d > most)
			most = d;
	}
	supv_free(root);
	rec_destroy(&rec);
	return most;
}

START_TEST(test_backoff_reset_ms)
{
	/* Runs of 3 * B_MS reset a streak with backoff_reset_ms = 2 * B_MS ... */
	ck_assert_uint_le(longest_backoff(&(struct supv_child_opts){ .id = "w",
	    .backoff_ms = B_MS, .backoff_max_ms = 100000,
	    .backoff_reset_ms = 2 * B_MS }, w_run_then_fail), B_MS);
	/* ... and do not without it (1.0's rule: longer than backoff_max_ms). */
	ck_assert_uint_ge(longest_backoff(&(struct supv_child_opts){ .id = "w",
	    .backoff_ms = B_MS, .backoff_max_ms = 100000 }, w_run_then_fail),
	    2 * B_MS);
	/* SUPV_INFINITY: never by length, though runs outlast backoff_max_ms. */
	ck_assert_uint_ge(longest_backoff(&(struct supv_child_opts){ .id = "w",
	    .backoff_ms = B_MS, .backoff_max_ms = 2 * B_MS,
	    .backoff_reset_ms = SUPV_INFINITY }, w_run_then_fail), B_MS + 1);
}
END_TEST

/*
 * A run that fails at once never resets the streak: with the default
 * rule (a run longer than backoff_max_ms resets it) the delays grow to
 * the cap.
 */
static int
w_fail_at_once(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	return 1;
}

START_TEST(test_short_runs_keep_streak)
{
	ck_assert_uint_ge(longest_backoff(&(struct supv_child_opts){ .id = "w",
	    .backoff_ms = B_MS, .backoff_max_ms = 4 * B_MS }, w_fail_at_once),
	    2 * B_MS);
}
END_TEST

START_TEST(test_backoff_reset_on_ready)
{
	ck_assert_uint_le(longest_backoff(&(struct supv_child_opts){ .id = "w",
	    .backoff_ms = B_MS, .backoff_max_ms = 100000, .ready_ms = WAIT_MS,
	    .backoff_reset_on_ready = true }, w_ready_fail), B_MS);
	ck_assert_uint_ge(longest_backoff(&(struct supv_child_opts){ .id = "w",
	    .backoff_ms = B_MS, .backoff_max_ms = 100000, .ready_ms = WAIT_MS },
	    w_ready_fail), 2 * B_MS);
}
END_TEST

Suite *
suite_exitrules(void)
{
	Suite *s = suite_create("exitrules");
	TCase *tc = tcase_create("codes");
	TCase *tb = tcase_create("backoff_reset");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_no_restart_code);
	tcase_add_test(tc, test_no_restart_code_same_thread);
	tcase_add_test(tc, test_no_restart_code_zero);
	tcase_add_test(tc, test_escalate_code);
	tcase_add_loop_test(tc, test_escalate_code_zero, 0, 3);
	tcase_add_test(tc, test_give_up_rule_intensity);
	tcase_add_test(tc, test_codes_copied);
	tcase_add_test(tc, test_codes_pool);
	tcase_add_test(tc, test_codes_einval);
	tcase_add_test(tc, test_rule_names_and_format);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tb, TCASE_TIMEOUT);
	tcase_add_test(tb, test_backoff_reset_ms);
	tcase_add_test(tb, test_short_runs_keep_streak);
	tcase_add_test(tb, test_backoff_reset_on_ready);
	suite_add_tcase(s, tb);
	return s;
}
