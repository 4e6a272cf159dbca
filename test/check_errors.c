/*
 * check_errors.c - bad input to every public function, and the calls that
 * would wait for the calling thread (EDEADLK).  A failed call changes
 * nothing: after each one the tree's counts are checked.
 */
#include <stdint.h>
#include <stdio.h>

#include "tests.h"

static char id63[SUPV_ID_MAX + 1];	/* the longest id allowed */
static char id64[SUPV_ID_MAX + 2];	/* one byte too long */

static void
make_ids(void)
{
	memset(id63, 'i', SUPV_ID_MAX);
	id63[SUPV_ID_MAX] = '\0';
	memset(id64, 'i', SUPV_ID_MAX + 1);
	id64[SUPV_ID_MAX + 1] = '\0';
}

/*
 * The fixture: a root (auto_shutdown ANY, so that "significant" is allowed
 * on it) with a worker "w" and a child supervisor "sub" (auto_shutdown
 * NEVER) holding a worker "sw"; a root "started" that runs, one "ran" that
 * has run and stopped, and a spare never-started one.
 */
struct fx {
	struct supv *root, *sub, *started, *ran, *spare;
	struct rec   rec;
};

static struct fx F;

static void
fx_setup(void)
{
	struct fx *f = &F;

	make_ids();
	rec_init(&f->rec);
	ck_assert_int_eq(supv_new(&f->root, &(struct supv_opts){ .name = "root",
	    .auto_shutdown = SUPV_AUTO_ANY, .on_event = rec_cb,
	    .event_arg = &f->rec }), 0);
	ck_assert_int_eq(supv_new(&f->sub, &(struct supv_opts){ .name = "sub",
	    .on_event = rec_cb, .event_arg = &f->rec }), 0);
	ck_assert_int_eq(supv_add_worker(f->root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(f->sub, &(struct supv_child_opts){
	    .id = "sw" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(f->root, &(struct supv_child_opts){
	    .id = "sub" }, f->sub), 0);
	ck_assert_int_eq(supv_new(&f->started, &(struct supv_opts){
	    .name = "started" }), 0);
	ck_assert_int_eq(supv_start(f->started), 0);
	ck_assert_int_eq(supv_new(&f->ran, &(struct supv_opts){ .name = "ran" }), 0);
	ck_assert_int_eq(supv_start(f->ran), 0);
	ck_assert_int_eq(supv_stop(f->ran), 0);
	ck_assert_int_eq(supv_new(&f->spare, NULL), 0);
}

static void
fx_teardown(void)
{
	struct fx *f = &F;

	/* Every failed add_sup left these to their owner: free them here. */
	supv_free(f->spare);
	supv_free(f->ran);
	supv_free(f->started);
	supv_free(f->root);
	rec_destroy(&f->rec);
}

/* supv_new, freeing what a call that should have failed made. */
static int
new_rc(const struct supv_opts *o)
{
	struct supv *s = NULL;
	int rc = supv_new(&s, o);

	if (rc == 0)
		supv_free(s);
	return rc;
}

/* supv_add_sup of a fresh supervisor, which the caller frees on failure. */
static int
add_fresh_sup(struct supv *parent, const struct supv_child_opts *o)
{
	struct supv *c;
	int rc;

	ck_assert_int_eq(supv_new(&c, &(struct supv_opts){ .name = "fresh" }), 0);
	if ((rc = supv_add_sup(parent, o, c)) != 0)
		supv_free(c);	/* the caller still owns it */
	return rc;
}

static int
which_rc(struct supv *s, struct supv_child_info *out, size_t n, bool total)
{
	size_t t;

	return supv_which_children(s, out, n, total ? &t : NULL);
}

#define ST   1u	/* run on the never-started tree */
#define RUN  2u	/* run on the running tree */
#define BOTH 3u

#define CO(...) (&(struct supv_child_opts){ __VA_ARGS__ })
#define SO(...) (&(struct supv_opts){ __VA_ARGS__ })

/* name, when, expected return value, the call (f is the fixture) */
#define BAD_CASES(X)                                                          \
	/* supv_new */                                                        \
	X(new_null_out,      BOTH, EINVAL, (supv_new(NULL, NULL)))            \
	X(new_bad_strategy,  BOTH, EINVAL, (new_rc(SO(.strategy = 3))))       \
	X(new_bad_strategy2, BOTH, EINVAL, (new_rc(SO(.strategy = -1))))      \
	X(new_bad_auto,      BOTH, EINVAL, (new_rc(SO(.auto_shutdown = 3))))  \
	X(new_empty_name,    BOTH, EINVAL, (new_rc(SO(.name = ""))))          \
	X(new_long_name,     BOTH, ENAMETOOLONG, (new_rc(SO(.name = id64))))  \
	X(new_intensity,     BOTH, EINVAL, (new_rc(SO(.intensity = 65536))))  \
	X(new_period_zero,   BOTH, EINVAL, (new_rc(SO(.period_ms = SUPV_ZERO)))) \
	/* supv_add_worker */                                                 \
	X(aw_null_sup,       BOTH, EINVAL,                                    \
	    (supv_add_worker(NULL, CO(.id = "x"), w_sleeper, NULL)))          \
	X(aw_null_opts,      BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, NULL, w_sleeper, NULL)))                \
	X(aw_null_fn,        BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x"), NULL, NULL)))            \
	X(aw_null_id,        BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = NULL), w_sleeper, NULL)))      \
	X(aw_empty_id,       BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = ""), w_sleeper, NULL)))        \
	X(aw_long_id,        BOTH, ENAMETOOLONG,                              \
	    (supv_add_worker(f->root, CO(.id = id64), w_sleeper, NULL)))      \
	X(aw_long_id_sub,    BOTH, ENAMETOOLONG,                              \
	    (supv_add_worker(f->sub, CO(.id = id64), w_sleeper, NULL)))       \
	X(aw_dup,            BOTH, EEXIST,                                    \
	    (supv_add_worker(f->root, CO(.id = "w"), w_sleeper, NULL)))       \
	X(aw_dup_sup,        BOTH, EEXIST,                                    \
	    (supv_add_worker(f->root, CO(.id = "sub"), w_sleeper, NULL)))     \
	X(aw_dup_in_sub,     BOTH, EEXIST,                                    \
	    (supv_add_worker(f->sub, CO(.id = "sw"), w_sleeper, NULL)))       \
	X(aw_bad_restart,    BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .restart = 3), w_sleeper, NULL))) \
	X(aw_bad_restart2,   BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .restart = -1), w_sleeper, NULL))) \
	X(aw_bad_timeout,    BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .on_timeout = 3), w_sleeper, NULL))) \
	X(aw_sig_permanent,  BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .significant = true),     \
	    w_sleeper, NULL)))                                                \
	X(aw_sig_auto_never, BOTH, EINVAL,                                    \
	    (supv_add_worker(f->sub, CO(.id = "x", .significant = true,       \
	    .restart = SUPV_TRANSIENT), w_sleeper, NULL)))                    \
	X(aw_sig_temp_never, BOTH, EINVAL,                                    \
	    (supv_add_worker(f->sub, CO(.id = "x", .significant = true,       \
	    .restart = SUPV_TEMPORARY), w_sleeper, NULL)))                    \
	X(aw_backoff_max,    BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .backoff_ms = 100,        \
	    .backoff_max_ms = 99), w_sleeper, NULL)))                         \
	X(aw_hb_zero,        BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .heartbeat_ms = SUPV_ZERO), \
	    w_sleeper, NULL)))                                                \
	X(aw_ready_zero,     BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .ready_ms = SUPV_ZERO),   \
	    w_sleeper, NULL)))                                                \
	X(aw_backoff_inf,    BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .backoff_ms = SUPV_INFINITY), \
	    w_sleeper, NULL)))                                                \
	X(aw_small_stack,    BOTH, EINVAL,                                    \
	    (supv_add_worker(f->root, CO(.id = "x", .stack_size = 1), w_sleeper, NULL))) \
	/* supv_add_sup */                                                    \
	X(as_null_parent,    BOTH, EINVAL, (add_fresh_sup(NULL, CO(.id = "x")))) \
	X(as_null_opts,      BOTH, EINVAL, (add_fresh_sup(f->root, NULL)))    \
	X(as_null_child,     BOTH, EINVAL,                                    \
	    (supv_add_sup(f->root, CO(.id = "x"), NULL)))                     \
	X(as_null_id,        BOTH, EINVAL, (add_fresh_sup(f->root, CO(.id = NULL)))) \
	X(as_empty_id,       BOTH, EINVAL, (add_fresh_sup(f->root, CO(.id = "")))) \
	X(as_long_id,        BOTH, ENAMETOOLONG,                              \
	    (add_fresh_sup(f->root, CO(.id = id64))))                         \
	X(as_dup,            BOTH, EEXIST, (add_fresh_sup(f->root, CO(.id = "w")))) \
	X(as_dup_sup,        BOTH, EEXIST, (add_fresh_sup(f->root, CO(.id = "sub")))) \
	X(as_bad_restart,    BOTH, EINVAL,                                    \
	    (add_fresh_sup(f->root, CO(.id = "x", .restart = 3))))            \
	X(as_heartbeat,      BOTH, EINVAL,                                    \
	    (add_fresh_sup(f->root, CO(.id = "x", .heartbeat_ms = 100))))     \
	X(as_ready,          BOTH, EINVAL,                                    \
	    (add_fresh_sup(f->root, CO(.id = "x", .ready_ms = 100))))         \
	X(as_on_timeout,     BOTH, EINVAL,                                    \
	    (add_fresh_sup(f->root, CO(.id = "x", .on_timeout = SUPV_TIMEOUT_CANCEL)))) \
	X(as_sig_permanent,  BOTH, EINVAL,                                    \
	    (add_fresh_sup(f->root, CO(.id = "x", .significant = true))))     \
	X(as_backoff_max,    BOTH, EINVAL,                                    \
	    (add_fresh_sup(f->root, CO(.id = "x", .backoff_ms = 10,           \
	    .backoff_max_ms = 5))))                                           \
	X(as_has_parent,     BOTH, EINVAL,                                    \
	    (supv_add_sup(f->root, CO(.id = "x"), f->sub)))                   \
	X(as_has_parent2,    BOTH, EINVAL,                                    \
	    (supv_add_sup(f->spare, CO(.id = "x"), f->sub)))                  \
	X(as_itself,         BOTH, EINVAL,                                    \
	    (supv_add_sup(f->root, CO(.id = "x"), f->root)))                  \
	X(as_itself_sub,     BOTH, EINVAL,                                    \
	    (supv_add_sup(f->sub, CO(.id = "x"), f->sub)))                    \
	X(as_ancestor,       BOTH, EINVAL,                                    \
	    (supv_add_sup(f->sub, CO(.id = "x"), f->root)))                   \
	X(as_started,        BOTH, EINVAL,                                    \
	    (supv_add_sup(f->root, CO(.id = "x"), f->started)))               \
	X(as_ran,            BOTH, EINVAL,                                    \
	    (supv_add_sup(f->sub, CO(.id = "x"), f->ran)))                    \
	/* supv_start, supv_stop, supv_wait */                                \
	X(start_null,        BOTH, EINVAL, (supv_start(NULL)))                \
	X(stop_null,         BOTH, EINVAL, (supv_stop(NULL)))                 \
	X(wait_null,         BOTH, EINVAL, (supv_wait(NULL, NULL)))           \
	X(start_child_sup,   BOTH, EINVAL, (supv_start(f->sub)))              \
	X(stop_child_sup,    BOTH, EINVAL, (supv_stop(f->sub)))               \
	X(wait_child_sup,    BOTH, EINVAL, (supv_wait(f->sub, NULL)))         \
	X(start_running,     RUN,  EBUSY,  (supv_start(f->root)))             \
	X(start_started,     BOTH, EBUSY,  (supv_start(f->started)))          \
	X(wait_never,        ST,   ESRCH,  (supv_wait(f->root, NULL)))        \
	X(wait_spare,        BOTH, ESRCH,  (supv_wait(f->spare, NULL)))       \
	/* supv_terminate_child */                                            \
	X(tc_null_sup,       BOTH, EINVAL, (supv_terminate_child(NULL, "w"))) \
	X(tc_null_id,        BOTH, EINVAL, (supv_terminate_child(f->root, NULL))) \
	X(tc_empty_id,       BOTH, EINVAL, (supv_terminate_child(f->root, ""))) \
	X(tc_long_id,        BOTH, ENAMETOOLONG, (supv_terminate_child(f->root, id64))) \
	X(tc_unknown,        BOTH, ENOENT, (supv_terminate_child(f->root, "nope"))) \
	X(tc_grandchild,     BOTH, ENOENT, (supv_terminate_child(f->root, "sw"))) \
	/* supv_restart_child */                                              \
	X(rc_null_sup,       BOTH, EINVAL, (supv_restart_child(NULL, "w")))   \
	X(rc_null_id,        BOTH, EINVAL, (supv_restart_child(f->root, NULL))) \
	X(rc_empty_id,       BOTH, EINVAL, (supv_restart_child(f->root, "")))   \
	X(rc_long_id,        BOTH, ENAMETOOLONG, (supv_restart_child(f->root, id64))) \
	X(rc_unknown,        BOTH, ENOENT, (supv_restart_child(f->root, "nope"))) \
	X(rc_running,        RUN,  EBUSY,  (supv_restart_child(f->root, "w")))  \
	X(rc_running_sup,    RUN,  EBUSY,  (supv_restart_child(f->root, "sub"))) \
	X(rc_running_sub,    RUN,  EBUSY,  (supv_restart_child(f->sub, "sw")))  \
	X(rc_stopped,        ST,   ESRCH,  (supv_restart_child(f->root, "w")))  \
	/* supv_delete_child */                                               \
	X(dc_null_sup,       BOTH, EINVAL, (supv_delete_child(NULL, "w")))    \
	X(dc_null_id,        BOTH, EINVAL, (supv_delete_child(f->root, NULL))) \
	X(dc_empty_id,       BOTH, EINVAL, (supv_delete_child(f->root, "")))  \
	X(dc_long_id,        BOTH, ENAMETOOLONG, (supv_delete_child(f->root, id64))) \
	X(dc_unknown,        BOTH, ENOENT, (supv_delete_child(f->root, "nope"))) \
	X(dc_running,        RUN,  EBUSY,  (supv_delete_child(f->root, "w")))   \
	X(dc_running_sup,    RUN,  EBUSY,  (supv_delete_child(f->root, "sub"))) \
	X(dc_running_sub,    RUN,  EBUSY,  (supv_delete_child(f->sub, "sw")))   \
	/* supv_count_children, supv_which_children */                        \
	X(cc_null_sup,       BOTH, EINVAL,                                    \
	    (supv_count_children(NULL, &(struct supv_counts){ 0 })))          \
	X(cc_null_out,       BOTH, EINVAL, (supv_count_children(f->root, NULL))) \
	X(wc_null_sup,       BOTH, EINVAL, (which_rc(NULL, NULL, 0, true)))   \
	X(wc_null_total,     BOTH, EINVAL, (which_rc(f->root, NULL, 0, false))) \
	X(wc_null_out,       BOTH, EINVAL, (which_rc(f->root, NULL, 4, true))) \
	/* inside a worker, given no worker */                                \
	X(sleep_null,        BOTH, EINVAL, (supv_sleep(NULL, 1)))             \
	X(extend_null,       BOTH, EINVAL, (supv_extend(NULL, 10)))           \
	X(stop_fd_null,      BOTH, -1,     (supv_stop_fd(NULL)))

#define X_FN(n, w, e, expr) static int bad_##n(struct fx *f) { (void)f; return expr; }
BAD_CASES(X_FN)
#undef X_FN

static const struct bad {
	const char *name;
	unsigned    when;
	int         expect;
	int       (*call)(struct fx *f);
} bads[] = {
#define X_ENT(n, w, e, expr) { #n, w, e, bad_##n },
	BAD_CASES(X_ENT)
#undef X_ENT
};

struct snap {
	struct supv_counts root, sub;
	unsigned           started;	/* START events so far */
};

static void
snap(struct fx *f, struct snap *s)
{
	ck_assert_int_eq(supv_count_children(f->root, &s->root), 0);
	ck_assert_int_eq(supv_count_children(f->sub, &s->sub), 0);
	s->started = rec_count(&f->rec, SUPV_EV_START, NULL);
}

static void
run_bads(struct fx *f, unsigned when)
{
	struct snap before, after;
	size_t i;
	int rc;

	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		if ((bads[i].when & when) == 0)
			continue;
		snap(f, &before);
		rc = bads[i].call(f);
		ck_assert_msg(rc == bads[i].expect, "%s (%s tree): returned %d, expected %d",
		    bads[i].name, when == ST ? "stopped" : "running", rc,
		    bads[i].expect);
		snap(f, &after);
		ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0,
		    "%s (%s tree) changed the tree", bads[i].name,
		    when == ST ? "stopped" : "running");
	}
}

START_TEST(test_bad_input_stopped)
{
	run_bads(&F, ST);
	/* And the tree still starts and works. */
	ck_assert_int_eq(supv_start(F.root), 0);
	ck_assert_uint_eq(rec_count(&F.rec, SUPV_EV_START, NULL), 3);
}
END_TEST

START_TEST(test_bad_input_running)
{
	ck_assert_int_eq(supv_start(F.root), 0);
	run_bads(&F, RUN);
	ck_assert_uint_eq(rec_count(&F.rec, SUPV_EV_START, NULL), 3);
	ck_assert_uint_eq(rec_count(&F.rec, SUPV_EV_EXIT, NULL), 0);
	ck_assert_int_eq(supv_stop(F.root), 0);
}
END_TEST

/* The other ends of the limits: what is allowed. */
START_TEST(test_limits_allowed)
{
	struct supv *s, *c;
	struct supv_counts n;

	make_ids();
	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = id63,
	    .intensity = 65535, .auto_shutdown = SUPV_AUTO_ALL }), 0);
	ck_assert_str_eq(supv_name(s), id63);
	ck_assert_int_eq(supv_add_worker(s, &(struct supv_child_opts){
	    .id = id63, .restart = SUPV_TRANSIENT, .significant = true,
	    .backoff_ms = 10, .backoff_max_ms = 10, .heartbeat_ms = SUPV_INFINITY },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_new(&c, NULL), 0);
	ck_assert_str_eq(supv_name(c), "supervisor");
	/* Same first 63 bytes: the long one is refused, not found. */
	ck_assert_int_eq(supv_terminate_child(s, id64), ENAMETOOLONG);
	ck_assert_int_eq(supv_add_sup(s, &(struct supv_child_opts){
	    .id = "c", .restart = SUPV_TEMPORARY, .significant = true,
	    .shutdown_ms = 100 }, c), 0);
	ck_assert_int_eq(supv_count_children(s, &n), 0);
	ck_assert_uint_eq(n.specs, 2);
	ck_assert_int_eq(supv_start(s), 0);
	ck_assert_int_eq(supv_restart_child(s, id63), EBUSY);
	ck_assert_int_eq(supv_terminate_child(s, id63), 0);
	ck_assert_int_eq(supv_restart_child(s, id63), 0);
	ck_assert_int_eq(supv_terminate_child(s, id63), 0);
	ck_assert_int_eq(supv_delete_child(s, id63), 0);
	ck_assert_int_eq(supv_add_worker(s, &(struct supv_child_opts){
	    .id = id63 }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_count_children(s, &n), 0);
	ck_assert_uint_eq(n.specs, 2);
	ck_assert_uint_eq(n.active, 2);
	supv_free(s);
}
END_TEST

START_TEST(test_names_and_nulls)
{
	ck_assert_ptr_null(supv_name(NULL));
	ck_assert_ptr_null(supv_worker_id(NULL));
	ck_assert(!supv_stopping(NULL));
	supv_ready(NULL);
	ck_assert_str_eq(supv_exit_kind_name(SUPV_EXIT_GAVE_UP), "gave_up");
	ck_assert_str_eq(supv_exit_kind_name((enum supv_exit_kind)99), "unknown");
	ck_assert_str_eq(supv_exit_kind_name((enum supv_exit_kind)-1), "unknown");
	ck_assert_str_eq(supv_event_kind_name(SUPV_EV_SUP_EXIT), "sup_exit");
	ck_assert_str_eq(supv_event_kind_name((enum supv_event_kind)99), "unknown");
	ck_assert_str_eq(supv_event_kind_name((enum supv_event_kind)-1), "unknown");
}
END_TEST

/* supv_free(NULL) and supv_free of a child supervisor do nothing. */
START_TEST(test_free_noop)
{
	struct fx *f = &F;
	struct supv_counts n;

	supv_free(NULL);
	supv_free(f->sub);
	ck_assert_int_eq(supv_count_children(f->sub, &n), 0);
	ck_assert_uint_eq(n.specs, 1);
	ck_assert_int_eq(supv_start(f->root), 0);
	supv_free(f->sub);
	ck_assert_int_eq(supv_count_children(f->sub, &n), 0);
	ck_assert_uint_eq(n.active, 1);
	ck_assert_int_eq(supv_count_children(f->root, &n), 0);
	ck_assert_uint_eq(n.active, 2);
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_SUP_EXIT, NULL), 0);
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_EXIT, NULL), 0);
	ck_assert_int_eq(supv_stop(f->root), 0);
	ck_assert_uint_eq(rec_count(&f->rec, SUPV_EV_SUP_EXIT, NULL), 2);
}
END_TEST

/* supv_extend with 0 ms, from a real worker. */
static atomic_int extend_rc = -1;

static int
w_extend_zero(struct supv_worker *self, void *arg)
{
	(void)arg;
	atomic_store(&extend_rc, supv_extend(self, 0));
	return w_sleeper(self, NULL);
}

START_TEST(test_extend_zero)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, NULL), 0);
	ck_assert_int_eq(supv_add_worker(s, &(struct supv_child_opts){
	    .id = "x", .heartbeat_ms = 1000 }, w_extend_zero, NULL), 0);
	ck_assert_int_eq(supv_start(s), 0);
	ck_assert(POLL_UNTIL(atomic_load(&extend_rc) != -1, WAIT_MS));
	ck_assert_int_eq(atomic_load(&extend_rc), EINVAL);
	supv_free(s);
}
END_TEST

/*
 * EDEADLK from a worker: calls that would wait for itself.  "k" runs in
 * the child supervisor "sub", "rk" in the root.
 */
#define NDL 10
struct dl {
	struct supv *root, *sub;
	atomic_int   rc[NDL];
	atomic_int   done;
};

static int
w_deadlock_sub(struct supv_worker *self, void *arg)
{
	struct dl *d = arg;

	atomic_store(&d->rc[0], supv_stop(d->root));
	atomic_store(&d->rc[1], supv_wait(d->root, NULL));
	atomic_store(&d->rc[2], supv_terminate_child(d->sub, "k"));	/* itself */
	atomic_store(&d->rc[3], supv_delete_child(d->sub, "k"));
	atomic_store(&d->rc[4], supv_terminate_child(d->root, "sub"));	/* its parent */
	atomic_store(&d->rc[5], supv_delete_child(d->root, "sub"));
	/* A child supervisor is not a root: EINVAL comes first. */
	atomic_store(&d->rc[6], supv_stop(d->sub));
	atomic_store(&d->rc[7], supv_wait(d->sub, NULL));
	/* Inside the tree, supv_free does nothing. */
	supv_free(d->root);
	atomic_store(&d->done, 1);
	return w_sleeper(self, NULL);
}

static int
w_deadlock_root(struct supv_worker *self, void *arg)
{
	struct dl *d = arg;

	atomic_store(&d->rc[0], supv_stop(d->root));
	atomic_store(&d->rc[1], supv_wait(d->root, NULL));
	atomic_store(&d->rc[2], supv_terminate_child(d->root, "rk"));
	atomic_store(&d->rc[3], supv_delete_child(d->root, "rk"));
	atomic_store(&d->done, 1);
	return w_sleeper(self, NULL);
}

START_TEST(test_edeadlk_worker)
{
	struct supv *root, *sub, *mid;
	struct rec rec;
	struct dl k = { 0 }, rk = { 0 };
	struct supv_counts n;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&mid, &(struct supv_opts){ .name = "mid",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	k.root = rk.root = root;
	k.sub = sub;
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "k" }, w_deadlock_sub, &k), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "rk" }, w_deadlock_root, &rk), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "mid" }, mid), 0);
	ck_assert_int_eq(supv_start(root), 0);

	ck_assert(POLL_UNTIL(atomic_load(&k.done) && atomic_load(&rk.done), WAIT_MS));
	for (int i = 0; i < 6; i++)
		ck_assert_msg(atomic_load(&k.rc[i]) == EDEADLK, "k call %d returned %d",
		    i, atomic_load(&k.rc[i]));
	ck_assert_int_eq(atomic_load(&k.rc[6]), EINVAL);
	ck_assert_int_eq(atomic_load(&k.rc[7]), EINVAL);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(atomic_load(&rk.rc[i]) == EDEADLK, "rk call %d returned %d",
		    i, atomic_load(&rk.rc[i]));

	/* Nothing changed. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.specs, 3);
	ck_assert_uint_eq(n.active, 3);
	ck_assert_int_eq(supv_count_children(sub, &n), 0);
	ck_assert_uint_eq(n.active, 1);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* The deadlock check covers a grandparent too: root > mid > sub2 > worker. */
static int
w_deadlock_deep(struct supv_worker *self, void *arg)
{
	struct dl *d = arg;

	atomic_store(&d->rc[0], supv_terminate_child(d->root, "mid"));
	atomic_store(&d->rc[1], supv_delete_child(d->root, "mid"));
	atomic_store(&d->rc[2], supv_terminate_child(d->sub, "sub2"));
	atomic_store(&d->rc[3], supv_delete_child(d->sub, "sub2"));
	atomic_store(&d->rc[4], supv_stop(d->root));
	atomic_store(&d->done, 1);
	return w_sleeper(self, NULL);
}

START_TEST(test_edeadlk_ancestors)
{
	struct supv *root, *mid, *sub2;
	struct dl d = { 0 };
	struct supv_counts n;

	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root" }), 0);
	ck_assert_int_eq(supv_new(&mid, &(struct supv_opts){ .name = "mid" }), 0);
	ck_assert_int_eq(supv_new(&sub2, &(struct supv_opts){ .name = "sub2" }), 0);
	d.root = root;
	d.sub = mid;
	ck_assert_int_eq(supv_add_worker(sub2, &(struct supv_child_opts){
	    .id = "deep" }, w_deadlock_deep, &d), 0);
	ck_assert_int_eq(supv_add_sup(mid, &(struct supv_child_opts){
	    .id = "sub2" }, sub2), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "mid" }, mid), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "other" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(atomic_load(&d.done), WAIT_MS));
	for (int i = 0; i < 5; i++)
		ck_assert_msg(atomic_load(&d.rc[i]) == EDEADLK, "call %d returned %d",
		    i, atomic_load(&d.rc[i]));
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.active, 2);
	ck_assert_int_eq(supv_count_children(sub2, &n), 0);
	ck_assert_uint_eq(n.active, 1);
	/* A sibling subtree is not an ancestor: that is allowed. */
	ck_assert_int_eq(supv_terminate_child(root, "other"), 0);
	supv_free(root);
}
END_TEST

/*
 * EDEADLK from on_event: any call that changes the emitting tree.
 * Counting and listing are allowed.  The calls are made from the event
 * callback of the child supervisor "sub" (START of "trigger") and of the
 * root (START of "trigger2"); results are checked afterwards.
 */
enum {
	EV_ADD_ROOT, EV_ADD_SUB, EV_ADD_SUP, EV_TERM_ROOT, EV_TERM_SUB,
	EV_RESTART, EV_RESTART_SUB, EV_DELETE, EV_DELETE_SUB, EV_START,
	EV_STOP, EV_WAIT, EV_STOP_SUB, EV_COUNT_ROOT, EV_COUNT_SUB,
	EV_WHICH, EV_WHICH_TOTAL, EV_NCALLS
};

struct evcalls {
	struct supv *root, *sub, *spare;
	atomic_int   rc[2][EV_NCALLS];
	atomic_int   fired[2];
};

static void
ev_hook(const struct supv_event *ev, void *arg)
{
	struct evcalls *e = arg;
	struct supv_child_info info[4];
	struct supv_counts n;
	enum supv_exit_kind why;
	size_t total = 0;
	int k;

	if (ev->kind != SUPV_EV_START || ev->child == NULL)
		return;
	if (strcmp(ev->child, "trigger") == 0)
		k = 0;
	else if (strcmp(ev->child, "trigger2") == 0)
		k = 1;
	else
		return;
	atomic_store(&e->rc[k][EV_ADD_ROOT], supv_add_worker(e->root,
	    &(struct supv_child_opts){ .id = "n1" }, w_sleeper, NULL));
	atomic_store(&e->rc[k][EV_ADD_SUB], supv_add_worker(e->sub,
	    &(struct supv_child_opts){ .id = "n2" }, w_sleeper, NULL));
	atomic_store(&e->rc[k][EV_ADD_SUP], supv_add_sup(e->root,
	    &(struct supv_child_opts){ .id = "n3" }, e->spare));
	atomic_store(&e->rc[k][EV_TERM_ROOT], supv_terminate_child(e->root, "w"));
	atomic_store(&e->rc[k][EV_TERM_SUB], supv_terminate_child(e->sub, "sw"));
	atomic_store(&e->rc[k][EV_RESTART], supv_restart_child(e->root, "w"));
	atomic_store(&e->rc[k][EV_RESTART_SUB], supv_restart_child(e->sub, "sw"));
	atomic_store(&e->rc[k][EV_DELETE], supv_delete_child(e->root, "w"));
	atomic_store(&e->rc[k][EV_DELETE_SUB], supv_delete_child(e->root, "sub"));
	atomic_store(&e->rc[k][EV_START], supv_start(e->root));
	atomic_store(&e->rc[k][EV_STOP], supv_stop(e->root));
	atomic_store(&e->rc[k][EV_WAIT], supv_wait(e->root, &why));
	atomic_store(&e->rc[k][EV_STOP_SUB], supv_stop(e->sub));
	atomic_store(&e->rc[k][EV_COUNT_ROOT], supv_count_children(e->root, &n));
	atomic_store(&e->rc[k][EV_COUNT_SUB], supv_count_children(e->sub, &n));
	atomic_store(&e->rc[k][EV_WHICH], supv_which_children(e->root, info, 4,
	    &total));
	atomic_store(&e->rc[k][EV_WHICH_TOTAL], (int)total);
	/* Inside the tree, supv_free does nothing. */
	supv_free(e->root);
	atomic_store(&e->fired[k], 1);
}

START_TEST(test_edeadlk_on_event)
{
	struct supv *root, *sub, *spare;
	struct rec rec;
	struct evcalls e;
	struct supv_counts n;

	memset(&e, 0, sizeof(e));
	rec_init(&rec);
	rec.hook = ev_hook;
	rec.hook_arg = &e;
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "root",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&spare, NULL), 0);
	e.root = root;
	e.sub = sub;
	e.spare = spare;
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "sw" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_start(root), 0);

	/* The callback runs before each add returns. */
	ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
	    .id = "trigger" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(atomic_load(&e.fired[0]), 1);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "trigger2" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(atomic_load(&e.fired[1]), 1);

	for (int k = 0; k < 2; k++) {
		for (int i = EV_ADD_ROOT; i <= EV_WAIT; i++)
			ck_assert_msg(atomic_load(&e.rc[k][i]) == EDEADLK,
			    "from %s's on_event, call %d returned %d",
			    k ? "root" : "sub", i, atomic_load(&e.rc[k][i]));
		ck_assert_int_eq(atomic_load(&e.rc[k][EV_STOP_SUB]), EINVAL);
		ck_assert_int_eq(atomic_load(&e.rc[k][EV_COUNT_ROOT]), 0);
		ck_assert_int_eq(atomic_load(&e.rc[k][EV_COUNT_SUB]), 0);
		ck_assert_int_eq(atomic_load(&e.rc[k][EV_WHICH]), 0);
	}
	ck_assert_int_eq(atomic_load(&e.rc[0][EV_WHICH_TOTAL]), 2);
	ck_assert_int_eq(atomic_load(&e.rc[1][EV_WHICH_TOTAL]), 3);

	/* The tree is as it was. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_SUP_EXIT, NULL), 0);
	ck_assert_int_eq(supv_count_children(root, &n), 0);
	ck_assert_uint_eq(n.specs, 3);
	ck_assert_uint_eq(n.active, 3);
	ck_assert_int_eq(supv_count_children(sub, &n), 0);
	ck_assert_uint_eq(n.specs, 2);
	ck_assert_uint_eq(n.active, 2);
	ck_assert_int_eq(supv_stop(root), 0);
	supv_free(root);
	supv_free(spare);	/* the failed add_sup left it to us */
	rec_destroy(&rec);
}
END_TEST

/* Another tree's callback may change this one: no EDEADLK there. */
struct cross {
	struct supv *other;
	atomic_int   rc;
	atomic_int   fired;
};

static void
cross_hook(const struct supv_event *ev, void *arg)
{
	struct cross *x = arg;

	if (ev->kind == SUPV_EV_START && ev->child != NULL &&
	    strcmp(ev->child, "a") == 0 &&
	    !atomic_exchange(&x->fired, 1))
		atomic_store(&x->rc, supv_add_worker(x->other,
		    &(struct supv_child_opts){ .id = "from_a" }, w_sleeper, NULL));
}

START_TEST(test_other_tree_allowed)
{
	struct supv *a, *b;
	struct rec rec;
	struct cross x = { .rc = -1 };
	struct supv_counts n;

	rec_init(&rec);
	rec.hook = cross_hook;
	rec.hook_arg = &x;
	ck_assert_int_eq(supv_new(&a, &(struct supv_opts){ .name = "ta",
	    .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_new(&b, &(struct supv_opts){ .name = "tb" }), 0);
	x.other = b;
	ck_assert_int_eq(supv_add_worker(b, &(struct supv_child_opts){
	    .id = "b" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(b), 0);
	ck_assert_int_eq(supv_add_worker(a, &(struct supv_child_opts){
	    .id = "a" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(a), 0);
	ck_assert_int_eq(atomic_load(&x.rc), 0);
	ck_assert_int_eq(supv_count_children(b, &n), 0);
	ck_assert_uint_eq(n.active, 2);
	supv_free(a);
	supv_free(b);
	rec_destroy(&rec);
}
END_TEST

Suite *
suite_errors(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("bad_input");
	TCase *td = tcase_create("edeadlk");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_add_test(tc, test_bad_input_stopped);
	tcase_add_test(tc, test_bad_input_running);
	tcase_add_test(tc, test_free_noop);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_limits_allowed);
	tcase_add_test(tc, test_names_and_nulls);
	tcase_add_test(tc, test_extend_zero);
	suite_add_tcase(s, tc);

	tcase_set_timeout(td, TCASE_TIMEOUT);
	tcase_add_test(td, test_edeadlk_worker);
	tcase_add_test(td, test_edeadlk_ancestors);
	tcase_add_test(td, test_edeadlk_on_event);
	tcase_add_test(td, test_other_tree_allowed);
	suite_add_tcase(s, td);
	return s;
}
