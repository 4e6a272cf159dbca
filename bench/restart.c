/*
 * restart.c - what a restart costs.
 *
 * - one_for_one restart throughput and latency of a worker that fails at
 *   once, against a bare pthread_create + pthread_join loop doing the same
 *   (a thread that records a time and returns, created again as soon as it
 *   has been joined).  Latency is the time from the dying run deciding to
 *   fail (a timestamp taken just before it returns) to the replacement's
 *   body being entered (a timestamp taken first thing in the next run),
 *   handed between the runs through an atomic.
 * - same-thread restarts (the same_thread child option), the same way,
 *   against the raw limit: one thread calling the body again in a loop.
 * - one_for_all group restarts of 10 and 100 workers: N-1 workers blocked
 *   in supv_sleep() and one that fails at once, so every group restart
 *   stops N-1 threads one at a time in reverse start order and starts N
 *   again.  The baseline does the same with raw threads: a flag and a
 *   condition variable per thread, stop-and-join in reverse order, then N
 *   pthread_create calls.  One group restart is the time between two
 *   consecutive entries of the failing worker.
 *
 * Each measurement alternates libsupervise and baseline repetitions and
 * reports medians (of the reps' figures, or of every timed group restart).
 */
#include <stddef.h>

#include "bench.h"
#include "lat.h"

static bool quick;

static atomic_bool bare_stop;

static void *
bare_child(void *arg)
{
	struct lat *l = arg;

	lat_enter(l);
	lat_fail(l);
	return (void *)1;
}

static void *
bare_driver(void *arg)
{
	pthread_t t;
	int rc;

	while (!atomic_load_explicit(&bare_stop, memory_order_relaxed)) {
		if ((rc = pthread_create(&t, NULL, bare_child, arg)) != 0)
			die("pthread_create", rc);
		pthread_join(t, NULL);
	}
	return NULL;
}

struct result {
	double rate, p50, p99;
};

/* Records for window_ns, after warm_ns, and computes the result. */
static void
lat_window(struct lat *l, uint64_t warm_ns, uint64_t window_ns, struct result *out)
{
	unsigned long r0, r1;
	uint64_t t0, t1;
	size_t n;

	sleep_ns(warm_ns);
	r0 = atomic_load(&l->runs);
	t0 = now_ns();
	atomic_store(&l->rec, true);
	sleep_ns(window_ns);
	atomic_store(&l->rec, false);
	r1 = atomic_load(&l->runs);
	t1 = now_ns();
	n = atomic_load_explicit(&l->n, memory_order_acquire);
	out->rate = (double)(r1 - r0) * 1e9 / (double)(t1 - t0);
	out->p50 = quantile_u64(l->samp, n, 0.50);
	out->p99 = quantile_u64(l->samp, n, 0.99);
}

/* A supv_chaos() spec armed on each library rep's tree, or NULL. */
static const char *chaos_spec;

static void
lib_restart_rep(struct lat *l, bool same_thread, uint64_t warm, uint64_t window,
    struct result *out)
{
	struct supv *s;
	int rc;

	lat_reset(l);
	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "rsup",
	    .intensity = SUPV_INFINITY })) != 0)
		die("supv_new", rc);
	if ((rc = supv_add_worker(s, &(struct supv_child_opts){ .id = "w",
	    .same_thread = same_thread }, w_fail, l)) != 0)
		die("supv_add_worker", rc);
	if (chaos_spec != NULL && (rc = supv_chaos(s, chaos_spec)) != 0)
		die("supv_chaos", rc);
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	lat_window(l, warm, window, out);
	supv_stop(s);
	supv_free(s);
}

/*
 * The raw limit of a same-thread restart: one thread calling the body
 * again as soon as it returns.
 */
static void *
bare_inplace_driver(void *arg)
{
	while (!atomic_load_explicit(&bare_stop, memory_order_relaxed))
		bare_child(arg);
	return NULL;
}

static void
bare_restart_rep(struct lat *l, bool same_thread, uint64_t warm, uint64_t window,
    struct result *out)
{
	pthread_t d;
	int rc;

	lat_reset(l);
	atomic_store(&bare_stop, false);
	if ((rc = pthread_create(&d, NULL, same_thread ? bare_inplace_driver :
	    bare_driver, l)) != 0)
		die("pthread_create", rc);
	lat_window(l, warm, window, out);
	atomic_store(&bare_stop, true);
	pthread_join(d, NULL);
}

/* --- one_for_all group restarts --- */

static int
w_sleeper(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, SUPV_INFINITY) == 0)
		;
	return 0;
}

/*
 * The times at which the trigger's runs were entered while recording: one
 * group restart is the interval between two of them.
 */
struct gtimes {
	atomic_bool   rec;
	uint64_t     *t;        /* written by the trigger (one run at a time) */
	size_t        cap;
	atomic_size_t n;
};

static void
gtimes_enter(struct gtimes *g)
{
	uint64_t t = now_ns();
	size_t i;

	if (!atomic_load_explicit(&g->rec, memory_order_relaxed))
		return;
	i = atomic_load_explicit(&g->n, memory_order_relaxed);
	if (i < g->cap) {
		g->t[i] = t;
		atomic_store_explicit(&g->n, i + 1, memory_order_release);
	}
}

static int
w_trigger(struct supv_worker *self, void *arg)
{
	(void)self;
	gtimes_enter(arg);
	return 1;
}

/*
 * Records trigger entries over window, after warm, and appends the
 * intervals between consecutive ones to d[*nd..cap).
 */
static void
group_window(struct gtimes *g, uint64_t warm, uint64_t window, uint64_t *d,
    size_t *nd, size_t cap)
{
	size_t i, n;

	atomic_store(&g->n, 0);
	sleep_ns(warm);
	atomic_store(&g->rec, true);
	sleep_ns(window);
	atomic_store(&g->rec, false);
	n = atomic_load_explicit(&g->n, memory_order_acquire);
	for (i = 1; i < n && *nd < cap; i++)
		d[(*nd)++] = g->t[i] - g->t[i - 1];
}

static void
lib_group_rep(unsigned n, struct gtimes *g, uint64_t warm, uint64_t window,
    uint64_t *d, size_t *nd, size_t cap)
{
	struct supv *s;
	char id[16];
	unsigned i;
	int rc;

	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "gsup",
	    .strategy = SUPV_ONE_FOR_ALL, .intensity = SUPV_INFINITY })) != 0)
		die("supv_new", rc);
	for (i = 0; i + 1 < n; i++) {
		snprintf(id, sizeof(id), "s%u", i);
		if ((rc = supv_add_worker(s, &(struct supv_child_opts){ .id = id },
		    w_sleeper, NULL)) != 0)
			die("supv_add_worker", rc);
	}
	if ((rc = supv_add_worker(s, &(struct supv_child_opts){ .id = "trigger" },
	    w_trigger, g)) != 0)
		die("supv_add_worker", rc);
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	group_window(g, warm, window, d, nd, cap);
	supv_stop(s);
	supv_free(s);
}

struct rthr {
	pthread_t       t;
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            stop;    /* mu */
};

struct rgroup {
	unsigned      n;
	struct rthr  *th;
	struct gtimes *g;
	atomic_bool   stop;
};

static void *
raw_sleeper(void *arg)
{
	struct rthr *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->stop)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void *
raw_trigger(void *arg)
{
	struct rgroup *g = arg;

	gtimes_enter(g->g);
	return (void *)1;
}

static void
raw_stop_join(struct rthr *t)
{
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->t, NULL);
}

static void
raw_start_all(struct rgroup *g)
{
	unsigned i;
	int rc;

	for (i = 0; i + 1 < g->n; i++) {
		g->th[i].stop = false;
		if ((rc = pthread_create(&g->th[i].t, NULL, raw_sleeper, &g->th[i])) != 0)
			die("pthread_create", rc);
	}
	if ((rc = pthread_create(&g->th[g->n - 1].t, NULL, raw_trigger, g)) != 0)
		die("pthread_create", rc);
}

/* The raw one_for_all: the trigger ends, the rest stop in reverse, all start. */
static void *
raw_group_driver(void *arg)
{
	struct rgroup *g = arg;
	unsigned i;

	raw_start_all(g);
	for (;;) {
		pthread_join(g->th[g->n - 1].t, NULL);
		for (i = g->n - 1; i-- > 0;)
			raw_stop_join(&g->th[i]);
		if (atomic_load_explicit(&g->stop, memory_order_relaxed))
			break;
		raw_start_all(g);
	}
	return NULL;
}

static void
raw_group_rep(unsigned n, struct gtimes *gt, uint64_t warm, uint64_t window,
    uint64_t *d, size_t *nd, size_t cap)
{
	struct rgroup g = { .n = n, .g = gt };
	pthread_t drv;
	unsigned i;
	int rc;

	if ((g.th = calloc(n, sizeof(*g.th))) == NULL)
		die("calloc", ENOMEM);
	for (i = 0; i < n; i++) {
		pthread_mutex_init(&g.th[i].mu, NULL);
		pthread_cond_init(&g.th[i].cv, NULL);
	}
	if ((rc = pthread_create(&drv, NULL, raw_group_driver, &g)) != 0)
		die("pthread_create", rc);
	group_window(gt, warm, window, d, nd, cap);
	atomic_store(&g.stop, true);
	pthread_join(drv, NULL);
	for (i = 0; i < n; i++) {
		pthread_mutex_destroy(&g.th[i].mu);
		pthread_cond_destroy(&g.th[i].cv);
	}
	free(g.th);
}

#define MAX_REPS 15
#define GCAP     65536  /* group restarts timed, per size */

/* The median over reps of one field of the results. */
static double
med_of(const struct result *res, int reps, size_t off)
{
	double v[MAX_REPS];
	int r;

	for (r = 0; r < reps; r++)
		memcpy(&v[r], (const char *)&res[r] + off, sizeof(double));
	return median_d(v, (size_t)reps);
}

/*
 * Alternates reps of the library and of the baseline, each a fresh tree
 * or driver, and takes the medians.
 */
struct spreads {
	const char *rate, *p50, *p99;  /* the reps' ratios, lowest to highest */
};

/* The spread of one field's per-rep ratios. */
static const char *
spread_of(const struct result *lr, const struct result *br, int reps, size_t off)
{
	double a[MAX_REPS], b[MAX_REPS];
	int r;

	for (r = 0; r < reps; r++) {
		memcpy(&a[r], (const char *)&lr[r] + off, sizeof(double));
		memcpy(&b[r], (const char *)&br[r] + off, sizeof(double));
	}
	return fmt_spread(a, b, (size_t)reps);
}

static void
restart_pairs(struct lat *l, bool same_thread, int reps, uint64_t warm,
    uint64_t window, struct result *lib, struct result *base, struct spreads *sp)
{
	struct result lr[MAX_REPS], br[MAX_REPS], x;
	int r;

	/* A warm-up of each, not counted. */
	lib_restart_rep(l, same_thread, warm, window / 4, &x);
	bare_restart_rep(l, same_thread, warm, window / 4, &x);
	for (r = 0; r < reps; r++) {
		if (r % 2 == 0) {
			lib_restart_rep(l, same_thread, warm, window, &lr[r]);
			bare_restart_rep(l, same_thread, warm, window, &br[r]);
		} else {
			bare_restart_rep(l, same_thread, warm, window, &br[r]);
			lib_restart_rep(l, same_thread, warm, window, &lr[r]);
		}
	}
	lib->rate = med_of(lr, reps, offsetof(struct result, rate));
	base->rate = med_of(br, reps, offsetof(struct result, rate));
	lib->p50 = med_of(lr, reps, offsetof(struct result, p50));
	base->p50 = med_of(br, reps, offsetof(struct result, p50));
	lib->p99 = med_of(lr, reps, offsetof(struct result, p99));
	base->p99 = med_of(br, reps, offsetof(struct result, p99));
	sp->rate = spread_of(lr, br, reps, offsetof(struct result, rate));
	sp->p50 = spread_of(lr, br, reps, offsetof(struct result, p50));
	sp->p99 = spread_of(lr, br, reps, offsetof(struct result, p99));
}

int
main(void)
{
	static const unsigned groups[] = { 10, 100 };
	static uint64_t ld[GCAP], bd[GCAP];
	struct result lib, base;
	struct spreads sp;
	struct gtimes g = { 0 };
	double create_rate;
	struct lat l = { 0 };
	uint64_t warm, window;
	int reps, greps, r;
	unsigned gi;

	quick = bench_quick();
	/*
	 * Many short windows, libsupervise and baseline taking turns, so that
	 * a burst of load from elsewhere on a shared machine hits few of them
	 * and both sides alike; the medians then ignore it.
	 */
	reps = quick ? 5 : 15;
	warm = (quick ? 10 : 20) * NS_PER_MS;
	window = (quick ? 50 : 100) * NS_PER_MS;
	greps = quick ? 3 : 9;
	l.cap = (size_t)1 << 21;
	if ((l.samp = malloc(l.cap * sizeof(*l.samp))) == NULL)
		die("malloc", ENOMEM);
	g.cap = GCAP;
	if ((g.t = malloc(g.cap * sizeof(*g.t))) == NULL)
		die("malloc", ENOMEM);

	table_begin("bench/restart", "restarts, against raw pthread code");

	/*
	 * Where the scheduler puts the thread that dies and the one that
	 * makes the next decides the figure on a small machine (a create +
	 * join loop ran 17 k/s on two CPUs and 34 k/s on one): both
	 * placements, each with its spread, and the goal must hold in both.
	 */
	for (int one = 1; one >= 0; one--) {
		bench_pin(one ? 0 : -1);
		restart_pairs(&l, false, reps, warm, window, &lib, &base, &sp);
		bench_pin(-1);
		row_s(placed("one_for_one restart throughput", one),
		    fmt_rate(lib.rate), fmt_rate(base.rate),
		    fmt_ratio(lib.rate, base.rate), sp.rate, ">= 0.80x",
		    yesno(lib.rate >= 0.8 * base.rate));
		row_s(placed("restart latency p50", one), fmt_ns(lib.p50),
		    fmt_ns(base.p50), fmt_ratio(lib.p50, base.p50), sp.p50,
		    "<= 1.20x", yesno(lib.p50 <= 1.2 * base.p50));
		row_s(placed("restart latency p99", one), fmt_ns(lib.p99),
		    fmt_ns(base.p99), fmt_ratio(lib.p99, base.p99), sp.p99,
		    "-", "-");
		if (!one)
			create_rate = base.rate;
	}
	note("latency: from the dying run deciding to fail to the next run's "
	    "entry; 1 CPU: this thread, and so the tree or the loop, pinned to "
	    "CPU 0; free: placed by the scheduler");
	note("baseline: pthread_create + pthread_join loop; median of %d reps of "
	    "%.0f ms", reps, (double)window / 1e6);

	/*
	 * Same-thread restarts (the same_thread child option): the body runs
	 * again on its own thread.  The baseline is the raw limit of that: a
	 * thread calling the same body in a loop.
	 */
	restart_pairs(&l, true, quick ? reps : 9, warm, window / 2, &lib, &base, &sp);
	row_s("same-thread restart throughput", fmt_rate(lib.rate),
	    fmt_rate(base.rate), fmt_ratio(lib.rate, base.rate), sp.rate,
	    ">= 860 k/s", yesno(lib.rate >= 860e3));
	row_s("same-thread restart latency p50", fmt_ns(lib.p50), fmt_ns(base.p50),
	    fmt_ratio(lib.p50, base.p50), sp.p50, "-", "-");
	row_s("same-thread restart latency p99", fmt_ns(lib.p99), fmt_ns(base.p99),
	    fmt_ratio(lib.p99, base.p99), sp.p99, "-", "-");
	note("baseline: the body called again in a loop on one thread; %.0fx the "
	    "create+join loop's rate", lib.rate / create_rate);

	/*
	 * The cost of supv_chaos(): the same-thread row again, with a rule
	 * on the failing child that never fires in the window, beside the
	 * same tree without a rule.  Without a rule a run start tests one
	 * NULL pointer, which every other row already pays.
	 */
	{
		struct result on[MAX_REPS], off[MAX_REPS], x;
		int n = quick ? reps : 9;

		lib_restart_rep(&l, true, warm, window / 8, &x);
		for (r = 0; r < n; r++) {
			chaos_spec = "rsup/w:fail%4000000000";
			lib_restart_rep(&l, true, warm, window / 2, &on[r]);
			chaos_spec = NULL;
			lib_restart_rep(&l, true, warm, window / 2, &off[r]);
		}
		lib.rate = med_of(on, n, offsetof(struct result, rate));
		base.rate = med_of(off, n, offsetof(struct result, rate));
		row_s("same-thread restarts, a chaos rule armed", fmt_rate(lib.rate),
		    fmt_rate(base.rate), fmt_ratio(lib.rate, base.rate),
		    spread_of(on, off, n, offsetof(struct result, rate)), "-", "-");
		note("baseline: the same tree without a rule (chaos off); the rule "
		    "never fires in the window");
	}

	for (gi = 0; gi < sizeof(groups) / sizeof(groups[0]); gi++) {
		unsigned n = groups[gi];
		/* A group restart of 100 takes tens of ms: longer, fewer windows. */
		uint64_t gw = n >= 100 ? 3 * window : window;
		int gr = n >= 100 ? (quick ? 3 : 5) : greps;
		size_t nld = 0, nbd = 0, junk = 0;
		char name[64];
		double lt, bt;

		lib_group_rep(n, &g, warm, gw / 4, ld, &junk, 0);
		raw_group_rep(n, &g, warm, gw / 4, bd, &junk, 0);
		for (r = 0; r < gr; r++) {
			if (r % 2 == 0) {
				lib_group_rep(n, &g, warm, gw, ld, &nld, GCAP);
				raw_group_rep(n, &g, warm, gw, bd, &nbd, GCAP);
			} else {
				raw_group_rep(n, &g, warm, gw, bd, &nbd, GCAP);
				lib_group_rep(n, &g, warm, gw, ld, &nld, GCAP);
			}
		}
		/* The median time between two group restarts, over every rep. */
		lt = quantile_u64(ld, nld, 0.5);
		bt = quantile_u64(bd, nbd, 0.5);
		snprintf(name, sizeof(name), "one_for_all group restart, %u workers", n);
		row(name, fmt_ns(lt), fmt_ns(bt), fmt_ratio(lt, bt), "-", "-");
		snprintf(name, sizeof(name), "  ... per worker in the group (%u)", n);
		row(name, fmt_ns(lt / n), fmt_ns(bt / n), fmt_ratio(lt, bt), "-", "-");
		note("%zu and %zu group restarts timed", nld, nbd);
	}
	note("baseline: raw threads, stop+join one at a time in reverse order, then %s",
	    "create all");
	free(l.samp);
	free(g.t);
	return 0;
}
