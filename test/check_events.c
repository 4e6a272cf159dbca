/*
 * check_events.c - what on_event receives: the fields of each kind, one
 * supervisor's events one at a time and in order, SUP_EXIT for every
 * supervisor, and nothing once supv_stop, supv_wait or supv_free returned.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include "tests.h"

/*
 * A checking callback: it records through rec_cb and checks, as events
 * come, what the recorder cannot see (a NULL child, the order of at_ns per
 * supervisor, and overlapping deliveries).
 */
#define NSUP 8

struct chk {
	struct rec      rec;
	const char     *names[NSUP];      /* the supervisors, by slot */
	atomic_bool     busy[NSUP];       /* a delivery is under way */
	_Atomic uint64_t last_ns[NSUP];   /* at_ns of the last event */
	atomic_int      overlaps;
	atomic_int      backwards;        /* at_ns went down */
	atomic_int      bad_child;        /* child NULL where it must not be, or not NULL */
	atomic_int      bad_sup;          /* sup NULL or unknown */
	atomic_int      total;
	atomic_bool     closed;           /* set once no event may come */
	atomic_int      late;             /* events after closed */
	bool            slow;             /* linger in the callback to widen races */
};

static void
chk_init(struct chk *c)
{
	memset(c, 0, sizeof(*c));
	rec_init(&c->rec);
}

static int
chk_slot(struct chk *c, const char *name)
{
	for (int i = 0; i < NSUP && c->names[i] != NULL; i++)
		if (strcmp(c->names[i], name) == 0)
			return i;
	return -1;
}

static void
chk_cb(const struct supv_event *ev, void *arg)
{
	struct chk *c = arg;
	bool nochild = ev->kind == SUPV_EV_GIVE_UP || ev->kind == SUPV_EV_SUP_EXIT;
	int slot;

	if (atomic_load(&c->closed))
		atomic_fetch_add(&c->late, 1);
	atomic_fetch_add(&c->total, 1);
	if (ev->sup == NULL || (slot = chk_slot(c, ev->sup)) < 0) {
		atomic_fetch_add(&c->bad_sup, 1);
		return;
	}
	if (atomic_exchange(&c->busy[slot], true))
		atomic_fetch_add(&c->overlaps, 1);
	if (ev->at_ns < atomic_load(&c->last_ns[slot]))
		atomic_fetch_add(&c->backwards, 1);
	atomic_store(&c->last_ns[slot], ev->at_ns);
	if (nochild != (ev->child == NULL))
		atomic_fetch_add(&c->bad_child, 1);
	rec_cb(ev, &c->rec);
	if (c->slow)
		for (int i = 0; i < 20; i++)
			sched_yield();
	atomic_store(&c->busy[slot], false);
}

static struct supv *
new_sup(struct chk *c, int slot, const char *name, enum supv_strategy strategy,
    unsigned intensity)
{
	struct supv *s;

	c->names[slot] = name;
	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = name,
	    .strategy = strategy, .intensity = intensity, .period_ms = 60000,
	    .on_event = chk_cb, .event_arg = c }), 0);
	return s;
}

static void
chk_clean(struct chk *c)
{
	ck_assert_int_eq(atomic_load(&c->overlaps), 0);
	ck_assert_int_eq(atomic_load(&c->backwards), 0);
	ck_assert_int_eq(atomic_load(&c->bad_child), 0);
	ck_assert_int_eq(atomic_load(&c->bad_sup), 0);
}

static struct rec_ev *
ev_at(struct chk *c, enum supv_event_kind kind, const char *child, unsigned i)
{
	int at = rec_find(&c->rec, kind, child, i);

	ck_assert_msg(at >= 0, "no %s event #%u for %s", supv_event_kind_name(kind),
	    i, child ? child : "(any)");
	return &c->rec.ev[at];
}

static atomic_int fail_left;

/* Returns (intptr_t)arg while fail_left lasts, then runs until stopped. */
static int
w_fail_then_sleep(struct supv_worker *self, void *arg)
{
	if (atomic_fetch_sub(&fail_left, 1) > 0)
		return (int)(intptr_t)arg;
	return w_sleeper(self, NULL);
}

START_TEST(test_fields)
{
	struct chk c;
	struct supv *root, *sub;
	struct rec_ev *e;
	uint64_t t0, t1;
	unsigned i, n;

	chk_init(&c);
	atomic_store(&fail_left, 1);
	root = new_sup(&c, 0, "evroot", SUPV_ONE_FOR_ONE, 5);
	sub = new_sup(&c, 1, "evsub", SUPV_ONE_FOR_ONE, 5);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "x" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "s" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f" }, w_fail_then_sleep, (void *)7), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "c", .restart = SUPV_TEMPORARY }, w_exit, NULL), 0);
	t0 = mono_ns();
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&c.rec, SUPV_EV_START, "f", 2), 2);
	ck_assert_uint_eq(rec_wait(&c.rec, SUPV_EV_EXIT, "c", 1), 1);
	ck_assert_int_eq(supv_stop(root), 0);
	t1 = mono_ns();
	chk_clean(&c);

	/* START: the child and supervisor names; no exit, code or delay. */
	e = ev_at(&c, SUPV_EV_START, "s", 0);
	ck_assert_str_eq(e->sup, "evroot");
	ck_assert_int_eq(e->exit, 0);
	ck_assert_int_eq(e->code, 0);
	ck_assert_uint_eq(e->delay_ms, 0);
	e = ev_at(&c, SUPV_EV_START, "x", 0);
	ck_assert_str_eq(e->sup, "evsub");
	e = ev_at(&c, SUPV_EV_START, "sub", 0);
	ck_assert_str_eq(e->sup, "evroot");

	/* EXIT of a failure: its code; RESTART counts it in the window. */
	e = ev_at(&c, SUPV_EV_EXIT, "f", 0);
	ck_assert_str_eq(e->sup, "evroot");
	ck_assert_int_eq(e->exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(e->code, 7);
	ck_assert_uint_eq(e->delay_ms, 0);
	e = ev_at(&c, SUPV_EV_RESTART, "f", 0);
	ck_assert_int_eq(e->code, 0);
	ck_assert_uint_eq(e->restarts, 1);

	/* pthread_exit(): CANCELLED, code 0. */
	e = ev_at(&c, SUPV_EV_EXIT, "c", 0);
	ck_assert_int_eq(e->exit, SUPV_EXIT_CANCELLED);
	ck_assert_int_eq(e->code, 0);

	/* Stopped: SHUTDOWN, code 0 (w_sleeper returns 0 anyway). */
	e = ev_at(&c, SUPV_EV_EXIT, "s", 0);
	ck_assert_int_eq(e->exit, SUPV_EXIT_SHUTDOWN);
	e = ev_at(&c, SUPV_EV_EXIT, "sub", 0);
	ck_assert_int_eq(e->exit, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(e->code, 0);

	/* SUP_EXIT: no child (checked by chk_cb), how it ended. */
	e = ev_at(&c, SUPV_EV_SUP_EXIT, NULL, 0);
	ck_assert_str_eq(e->sup, "evsub");
	ck_assert_int_eq(e->exit, SUPV_EXIT_SHUTDOWN);
	ck_assert_str_eq(e->child, "");
	e = ev_at(&c, SUPV_EV_SUP_EXIT, NULL, 1);
	ck_assert_str_eq(e->sup, "evroot");
	ck_assert_int_eq(e->exit, SUPV_EXIT_SHUTDOWN);

	/* at_ns: CLOCK_MONOTONIC, within the test's own readings. */
	n = rec_count(&c.rec, SUPV_EV_START, NULL);
	ck_assert_uint_ge(n, 5);
	for (i = 0; i < c.rec.n; i++) {
		ck_assert_uint_ge(c.rec.ev[i].at_ns, t0);
		ck_assert_uint_le(c.rec.ev[i].at_ns, t1);
	}
	supv_free(root);
	rec_destroy(&c.rec);
}
END_TEST

START_TEST(test_fields_give_up)
{
	struct chk c;
	struct supv *root;
	struct rec_ev *e;
	enum supv_exit_kind why;

	chk_init(&c);
	root = new_sup(&c, 0, "gu", SUPV_ONE_FOR_ONE, 2);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "bad" }, w_fail, (void *)3), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "ok" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	chk_clean(&c);
	/* 1 + 2 starts, 2 restarts, 3 exits, then the give-up. */
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_START, "bad"), 3);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_RESTART, "bad"), 2);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_EXIT, "bad"), 3);
	e = ev_at(&c, SUPV_EV_EXIT, "bad", 2);
	ck_assert_int_eq(e->exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(e->code, 3);
	e = ev_at(&c, SUPV_EV_GIVE_UP, NULL, 0);
	ck_assert_str_eq(e->sup, "gu");
	ck_assert_str_eq(e->child, "");
	ck_assert_int_eq(e->code, 0);
	ck_assert_uint_eq(e->delay_ms, 0);
	ck_assert_int_lt(rec_find(&c.rec, SUPV_EV_RESTART, "bad", 1),
	    rec_find(&c.rec, SUPV_EV_GIVE_UP, NULL, 0));
	/* The rest stopped after the give-up, then the supervisor ended. */
	ck_assert_int_lt(rec_find(&c.rec, SUPV_EV_GIVE_UP, NULL, 0),
	    rec_find(&c.rec, SUPV_EV_EXIT, "ok", 0));
	e = ev_at(&c, SUPV_EV_EXIT, "ok", 0);
	ck_assert_int_eq(e->exit, SUPV_EXIT_SHUTDOWN);
	e = ev_at(&c, SUPV_EV_SUP_EXIT, NULL, 0);
	ck_assert_int_eq(e->exit, SUPV_EXIT_GAVE_UP);
	ck_assert_int_eq(rec_find(&c.rec, SUPV_EV_SUP_EXIT, NULL, 0),
	    (int)c.rec.n - 1);
	supv_free(root);
	rec_destroy(&c.rec);
}
END_TEST

/* Many children failing at once: each supervisor's events one at a time. */
START_TEST(test_one_at_a_time)
{
	struct chk c;
	struct supv *root, *sub;
	char id[16];

	chk_init(&c);
	c.slow = true;
	root = new_sup(&c, 0, "ser", SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	sub = new_sup(&c, 1, "ser2", SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = id }, w_fail, (void *)1), 0);
		snprintf(id, sizeof(id), "s%d", i);
		ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
		    .id = id }, w_fail, (void *)1), 0);
	}
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&c.total) >= 2000, WAIT_MS));
	ck_assert_int_eq(supv_stop(root), 0);
	chk_clean(&c);
	ck_assert_uint_gt(rec_count(&c.rec, SUPV_EV_RESTART, "r0"), 0);
	ck_assert_uint_gt(rec_count(&c.rec, SUPV_EV_RESTART, "s0"), 0);
	supv_free(root);
	rec_destroy(&c.rec);
}
END_TEST

/* A tree that keeps making events, with a child supervisor. */
static struct supv *
busy_tree(struct chk *c, struct supv **subp)
{
	struct supv *root, *sub;

	root = new_sup(c, 0, "busy", SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	sub = new_sup(c, 1, "busysub", SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	/* Short backoffs keep the recorder from filling up. */
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "sf", .backoff_ms = 2 }, w_fail, (void *)1), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "ss" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "rf", .backoff_ms = 2 }, w_fail, (void *)1), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "rs" }, w_sleeper, NULL), 0);
	if (subp != NULL)
		*subp = sub;
	return root;
}

static void
no_late_events(struct chk *c)
{
	atomic_store(&c->closed, true);
	/* Not a synchronization: a window for a stray event to show up. */
	sleep_ms(100);
	ck_assert_int_eq(atomic_load(&c->late), 0);
}

START_TEST(test_none_after_stop)
{
	struct chk c;
	struct supv *root;

	chk_init(&c);
	root = busy_tree(&c, NULL);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&c.total) >= 200, WAIT_MS));
	ck_assert_int_eq(supv_stop(root), 0);
	no_late_events(&c);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_SUP_EXIT, NULL), 2);
	/* A second run, then the same again. */
	atomic_store(&c.closed, false);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&c.total) >= 400, WAIT_MS));
	ck_assert_int_eq(supv_stop(root), 0);
	no_late_events(&c);
	chk_clean(&c);
	supv_free(root);
	rec_destroy(&c.rec);
}
END_TEST

START_TEST(test_none_after_free)
{
	struct chk c;
	struct supv *root;

	chk_init(&c);
	root = busy_tree(&c, NULL);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&c.total) >= 200, WAIT_MS));
	supv_free(root);
	no_late_events(&c);
	chk_clean(&c);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_SUP_EXIT, NULL), 2);
	rec_destroy(&c.rec);
}
END_TEST

/* Runs a while, then fails; returns 0 if stopped first. */
static int
w_delayed_fail(struct supv_worker *self, void *arg)
{
	(void)arg;
	return supv_sleep(self, 200) == 0 ? 1 : 0;
}

/* Ignores stop requests: returns after 500 ms whatever happens. */
static int
w_ignore_500(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	sleep_ms(500);
	return 0;
}

/* A run that ends on its own (the root gives up) while the subtree is busy. */
START_TEST(test_none_after_wait)
{
	struct chk c;
	struct supv *root, *sub, *inner;
	enum supv_exit_kind why;
	atomic_int freed = 0;

	chk_init(&c);
	root = new_sup(&c, 0, "gur", SUPV_ONE_FOR_ONE, SUPV_ZERO);
	sub = new_sup(&c, 1, "gusub", SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	inner = new_sup(&c, 2, "guin", SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(inner, &(struct supv_child_opts){
	    .id = "if", .backoff_ms = 2 }, w_fail, (void *)1), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "sf", .backoff_ms = 2 }, w_fail, (void *)1), 0);
	ck_assert_int_eq(supv_add_sup(sub, &(struct supv_child_opts){
	    .id = "inner" }, inner), 0);
	/* One that ignores the stop request and is abandoned. */
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "ign", .shutdown_ms = 20, .arg_free = count_free },
	    w_ignore_500, &freed), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "bomb" }, w_delayed_fail, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	no_late_events(&c);
	chk_clean(&c);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_GIVE_UP, NULL), 1);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_SUP_EXIT, NULL), 3);
	supv_free(root);
	/* The abandoned run ends later; nothing is reported then. */
	ck_assert(POLL_UNTIL(atomic_load(&freed) == 1, WAIT_MS));
	ck_assert_int_eq(atomic_load(&c.late), 0);
	rec_destroy(&c.rec);
}
END_TEST

/* Each supervisor in the tree reports its own end, depth first. */
START_TEST(test_sup_exit_every_supervisor)
{
	struct chk c;
	struct supv *root, *a, *a1, *b;
	struct rec_ev *e;
	enum supv_exit_kind why;
	const char *names[] = { "root", "a", "a1", "b" };

	chk_init(&c);
	root = new_sup(&c, 0, "root", SUPV_ONE_FOR_ONE, SUPV_ZERO);
	a = new_sup(&c, 1, "a", SUPV_ONE_FOR_ONE, 0);
	a1 = new_sup(&c, 2, "a1", SUPV_ONE_FOR_ONE, 0);
	b = new_sup(&c, 3, "b", SUPV_ONE_FOR_ONE, SUPV_ZERO);
	ck_assert_int_eq(supv_add_worker(a1, &(struct supv_child_opts){
	    .id = "w_a1" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(a, &(struct supv_child_opts){
	    .id = "a1" }, a1), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "a" }, a), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "b" }, b), 0);	/* no children at all */
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	chk_clean(&c);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_SUP_EXIT, NULL), 4);
	for (unsigned i = 0; i < 4; i++) {
		int k, found = 0;

		for (k = 0; k < (int)c.rec.n; k++) {
			e = &c.rec.ev[k];
			if (e->kind == SUPV_EV_SUP_EXIT &&
			    strcmp(e->sup, names[i]) == 0) {
				found++;
				ck_assert_int_eq(e->exit, SUPV_EXIT_SHUTDOWN);
			}
		}
		ck_assert_msg(found == 1, "%d SUP_EXIT from %s", found, names[i]);
	}
	/* Reverse start order, depth first: b, then a1, a, then the root. */
	ck_assert_int_lt(rec_find(&c.rec, SUPV_EV_EXIT, "b", 0),
	    rec_find(&c.rec, SUPV_EV_EXIT, "w_a1", 0));
	ck_assert_int_lt(rec_find(&c.rec, SUPV_EV_EXIT, "w_a1", 0),
	    rec_find(&c.rec, SUPV_EV_EXIT, "a1", 0));
	ck_assert_int_lt(rec_find(&c.rec, SUPV_EV_EXIT, "a1", 0),
	    rec_find(&c.rec, SUPV_EV_EXIT, "a", 0));
	ck_assert_int_eq(rec_find(&c.rec, SUPV_EV_SUP_EXIT, NULL, 3),
	    (int)c.rec.n - 1);
	ck_assert_str_eq(c.rec.ev[c.rec.n - 1].sup, "root");

	/* The same when "b" gives up and brings the root down with it. */
	ck_assert_int_eq(supv_add_worker(b, &(struct supv_child_opts){
	    .id = "w_b" }, w_fail, (void *)1), 0);
	rec_destroy(&c.rec);
	rec_init(&c.rec);
	supv_start(root);	/* "w_b" may fail before the start is over */
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_GAVE_UP);
	chk_clean(&c);
	ck_assert_uint_eq(rec_count(&c.rec, SUPV_EV_SUP_EXIT, NULL), 4);
	for (unsigned i = 0; i < 4; i++) {
		int k, found = 0;

		for (k = 0; k < (int)c.rec.n; k++) {
			e = &c.rec.ev[k];
			if (e->kind == SUPV_EV_SUP_EXIT &&
			    strcmp(e->sup, names[i]) == 0) {
				found++;
				ck_assert_int_eq(e->exit, i == 0 || i == 3 ?
				    SUPV_EXIT_GAVE_UP : SUPV_EXIT_SHUTDOWN);
			}
		}
		ck_assert_msg(found == 1, "%d SUP_EXIT from %s", found, names[i]);
	}
	e = ev_at(&c, SUPV_EV_EXIT, "b", 0);
	ck_assert_str_eq(e->sup, "root");
	ck_assert_int_eq(e->exit, SUPV_EXIT_GAVE_UP);
	supv_free(root);
	rec_destroy(&c.rec);
}
END_TEST

START_TEST(test_restart_order)
{
	struct chk c;
	struct supv *root;
	int ex, rs, st;

	chk_init(&c);
	atomic_store(&fail_left, 1);
	root = new_sup(&c, 0, "root", SUPV_ONE_FOR_ONE, 5);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f" }, w_fail_then_sleep, (void *)1), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&c.rec, SUPV_EV_START, "f", 2), 2);
	ck_assert_int_eq(supv_stop(root), 0);
	ex = rec_find(&c.rec, SUPV_EV_EXIT, "f", 0);
	rs = rec_find(&c.rec, SUPV_EV_RESTART, "f", 0);
	st = rec_find(&c.rec, SUPV_EV_START, "f", 1);
	ck_assert_int_eq(rec_find(&c.rec, SUPV_EV_START, "f", 0), 0);
	ck_assert_int_eq(ex, 1);
	ck_assert_int_eq(rs, 2);
	ck_assert_int_eq(st, 3);
	supv_free(root);
	rec_destroy(&c.rec);

	/* one_for_all: every EXIT first, then RESTART/START in start order. */
	chk_init(&c);
	atomic_store(&fail_left, 1);
	root = new_sup(&c, 0, "root", SUPV_ONE_FOR_ALL, 5);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "f" }, w_fail_then_sleep, (void *)1), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "z" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_wait(&c.rec, SUPV_EV_START, "z", 2), 2);
	ck_assert_int_eq(supv_stop(root), 0);
	{
		static const struct { enum supv_event_kind k; const char *id; } want[] = {
			{ SUPV_EV_START, "a" }, { SUPV_EV_START, "f" },
			{ SUPV_EV_START, "z" }, { SUPV_EV_EXIT, "f" },
			{ SUPV_EV_EXIT, "z" }, { SUPV_EV_EXIT, "a" },
			{ SUPV_EV_RESTART, "a" }, { SUPV_EV_START, "a" },
			{ SUPV_EV_RESTART, "f" }, { SUPV_EV_START, "f" },
			{ SUPV_EV_RESTART, "z" }, { SUPV_EV_START, "z" },
		};

		ck_assert_uint_ge(c.rec.n, 12);
		for (unsigned i = 0; i < 12; i++) {
			if (c.rec.ev[i].kind != want[i].k ||
			    strcmp(c.rec.ev[i].child, want[i].id) != 0)
				rec_dump(&c.rec);
			ck_assert_int_eq(c.rec.ev[i].kind, want[i].k);
			ck_assert_str_eq(c.rec.ev[i].child, want[i].id);
		}
		ck_assert_int_eq(c.rec.ev[4].exit, SUPV_EXIT_SHUTDOWN);
		ck_assert_int_eq(c.rec.ev[5].exit, SUPV_EXIT_SHUTDOWN);
	}
	supv_free(root);
	rec_destroy(&c.rec);
}
END_TEST

Suite *
suite_events(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_fields_give_up);
	tcase_add_test(tc, test_one_at_a_time);
	tcase_add_test(tc, test_none_after_stop);
	tcase_add_test(tc, test_none_after_free);
	tcase_add_test(tc, test_none_after_wait);
	tcase_add_test(tc, test_sup_exit_every_supervisor);
	tcase_add_test(tc, test_restart_order);
	suite_add_tcase(s, tc);
	return s;
}
