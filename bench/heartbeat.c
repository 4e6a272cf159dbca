/*
 * heartbeat.c - what hang detection costs the worker, and how late it is.
 *
 * - supv_heartbeat() per call, timed inside a monitored worker over a long
 *   loop, against a loop of relaxed atomic stores (the cheapest way a
 *   thread can publish "I am alive") timed the same way in the same run.
 * - Hang-detection latency beyond the deadline: workers beat once at a
 *   random moment, then block for ever; the deadline is the time just
 *   before that last beat plus heartbeat_ms, and the detection time is the
 *   SUPV_EV_HUNG event's at_ns.  Measured at heartbeat_ms 100 and 4.  The
 *   baseline is the raw limit of any timer-driven detector: how late a
 *   thread wakes from clock_nanosleep(TIMER_ABSTIME) after its deadline.
 */
#include "bench.h"

static bool quick;

/* --- supv_heartbeat() cost --- */

#define COST_REPS_MAX 15

struct cost {
	long        iters;
	int         reps;
	double      hb_ns[COST_REPS_MAX];
	double      st_ns[COST_REPS_MAX];
	atomic_bool done;
};

/* The baseline's target: a relaxed store per iteration. */
static atomic_ulong sink;

static double
time_heartbeats(struct supv_worker *self, long n)
{
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++)
		supv_heartbeat(self);
	return (double)(now_ns() - t0) / (double)n;
}

static double
time_stores(long n)
{
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++)
		atomic_store_explicit(&sink, (unsigned long)i, memory_order_relaxed);
	return (double)(now_ns() - t0) / (double)n;
}

static int
w_cost(struct supv_worker *self, void *arg)
{
	struct cost *c = arg;
	int r;

	/* Warm-up: caches, branch predictors, CPU frequency. */
	time_heartbeats(self, c->iters / 4);
	time_stores(c->iters / 4);
	for (r = 0; r < c->reps; r++) {
		if (r % 2 == 0) {
			c->hb_ns[r] = time_heartbeats(self, c->iters);
			c->st_ns[r] = time_stores(c->iters);
		} else {
			c->st_ns[r] = time_stores(c->iters);
			c->hb_ns[r] = time_heartbeats(self, c->iters);
		}
		supv_heartbeat(self);
	}
	atomic_store(&c->done, true);
	return 0;
}

static void
bench_cost(void)
{
	struct cost c = { .iters = quick ? 5000000 : 20000000, .reps = quick ? 5 : 11 };
	struct supv *s;
	double hb, st;
	int rc;

	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "hbcost" })) != 0)
		die("supv_new", rc);
	/*
	 * Monitored, as a real worker would be.  The period is long enough
	 * that a store loop of the slowest machine does not look like a hang.
	 */
	if ((rc = supv_add_worker(s, &(struct supv_child_opts){ .id = "beater",
	    .restart = SUPV_TEMPORARY, .heartbeat_ms = 2000 }, w_cost, &c)) != 0)
		die("supv_add_worker", rc);
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	while (!atomic_load(&c.done))
		sleep_ns(5 * NS_PER_MS);
	supv_stop(s);
	supv_free(s);
	hb = median_d(c.hb_ns, (size_t)c.reps);
	st = median_d(c.st_ns, (size_t)c.reps);
	row("supv_heartbeat() per call", fmt_ns(hb), fmt_ns(st), fmt_ratio(hb, st),
	    "<= 1 ns", yesno(hb <= 1.0));
	note("baseline: one relaxed atomic store per loop iteration; median of %d reps "
	    "of %ld calls", c.reps, c.iters);
}

/* --- hang-detection latency --- */

#define NHANG 8

struct hang;

struct hslot {
	struct hang     *h;
	_Atomic uint64_t last_ns;   /* just before the last beat of the current run */
	uint64_t         seed;      /* the run's own generator */
};

struct hang {
	unsigned      hb_ms;
	struct hslot  slot[NHANG];
	uint64_t     *samp;         /* written by the supervisor's loop (on_event) */
	size_t        cap;
	atomic_size_t n;
	atomic_ulong  early;        /* HUNG before the deadline: must stay 0 */
	atomic_ulong  nobeat;       /* HUNG before the run's one beat (a starved start) */
};

/*
 * Sleeps for a random part of the first half of the period (so that the
 * last beat falls at a random phase of the sampling grid), beats once,
 * and blocks until the supervisor, having found it hung, stops it.
 */
static int
w_hang(struct supv_worker *self, void *arg)
{
	struct hslot *sl = arg;
	uint64_t half = (uint64_t)sl->h->hb_ms * NS_PER_MS / 2, t;

	sleep_ns(rnd_next(&sl->seed) % half);
	t = now_ns();
	supv_heartbeat(self);
	atomic_store_explicit(&sl->last_ns, t, memory_order_release);
	while (supv_sleep(self, SUPV_INFINITY) == 0)
		;
	return 0;
}

static void
on_hang_event(const struct supv_event *ev, void *arg)
{
	struct hang *h = arg;
	uint64_t deadline, last;
	unsigned i;
	size_t k;

	if (ev->kind != SUPV_EV_HUNG || ev->child == NULL || ev->child[0] != 'h')
		return;
	i = (unsigned)atoi(ev->child + 1);
	if (i >= NHANG)
		return;
	/* Consumed: a run that is found hung before it beats leaves it 0. */
	last = atomic_exchange_explicit(&h->slot[i].last_ns, 0, memory_order_acquire);
	if (last == 0) {
		atomic_fetch_add(&h->nobeat, 1);
		return;
	}
	deadline = last + (uint64_t)h->hb_ms * NS_PER_MS;
	if (ev->at_ns < deadline) {
		atomic_fetch_add(&h->early, 1);
		return;
	}
	k = atomic_load_explicit(&h->n, memory_order_relaxed);
	if (k < h->cap) {
		h->samp[k] = ev->at_ns - deadline;
		atomic_store_explicit(&h->n, k + 1, memory_order_release);
	}
}

/* Collects up to want samples within budget_ns; returns how many. */
static size_t
lib_hang(struct hang *h, size_t want, uint64_t budget_ns)
{
	struct supv *s;
	uint64_t end;
	char id[8];
	unsigned i;
	int rc;

	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "hangsup",
	    .intensity = SUPV_INFINITY, .on_event = on_hang_event,
	    .event_arg = h })) != 0)
		die("supv_new", rc);
	for (i = 0; i < NHANG; i++) {
		h->slot[i].h = h;
		h->slot[i].seed = 0x9e3779b97f4a7c15ULL * (i + 1) ^ now_ns();
		snprintf(id, sizeof(id), "h%u", i);
		if ((rc = supv_add_worker(s, &(struct supv_child_opts){ .id = id,
		    .heartbeat_ms = h->hb_ms }, w_hang, &h->slot[i])) != 0)
			die("supv_add_worker", rc);
	}
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	end = now_ns() + budget_ns;
	while (atomic_load(&h->n) < want && now_ns() < end)
		sleep_ns(2 * NS_PER_MS);
	supv_stop(s);
	supv_free(s);
	return atomic_load(&h->n);
}

/* The raw limit: how late clock_nanosleep(TIMER_ABSTIME) wakes. */
static void
raw_timer(uint64_t *samp, size_t n)
{
	uint64_t seed = now_ns() | 1, d, t;
	size_t i;

	for (i = 0; i < n; i++) {
		d = now_ns() + NS_PER_MS + rnd_next(&seed) % NS_PER_MS;
		sleep_until_ns(d);
		t = now_ns();
		samp[i] = t - d;
	}
}

static void *
raw_timer_thread(void *arg)
{
	uint64_t **a = arg;

	raw_timer(a[0], (size_t)(uintptr_t)a[1]);
	return NULL;
}

static void
bench_hang(void)
{
	static const unsigned periods[] = { 100, 4 };
	size_t nraw = quick ? 100 : 400, want, n;
	uint64_t *raw, budget;
	double rp50, rp99;
	struct hang h;
	unsigned pi;
	pthread_t t;
	void *targ[2];

	/* The baseline, on a thread of its own like a supervisor's loop. */
	if ((raw = malloc(nraw * sizeof(*raw))) == NULL)
		die("malloc", ENOMEM);
	targ[0] = raw;
	targ[1] = (void *)(uintptr_t)nraw;
	pthread_create(&t, NULL, raw_timer_thread, targ);
	pthread_join(t, NULL);
	rp50 = quantile_u64(raw, nraw, 0.50);
	rp99 = quantile_u64(raw, nraw, 0.99);

	for (pi = 0; pi < sizeof(periods) / sizeof(periods[0]); pi++) {
		unsigned hb = periods[pi];
		double p50, p99;
		char name[64];

		memset(&h, 0, sizeof(h));
		h.hb_ms = hb;
		h.cap = 4096;
		if ((h.samp = malloc(h.cap * sizeof(*h.samp))) == NULL)
			die("malloc", ENOMEM);
		want = quick ? 60 : 300;
		budget = (hb >= 100 ? (quick ? 1500 : 4000) : (quick ? 300 : 1000)) *
		    NS_PER_MS;
		n = lib_hang(&h, want, budget);
		p50 = quantile_u64(h.samp, n, 0.50);
		p99 = quantile_u64(h.samp, n, 0.99);
		snprintf(name, sizeof(name), "hang detection past deadline p50, hb %u ms", hb);
		row(name, fmt_ns(p50), fmt_ns(rp50), fmt_ratio(p50, rp50), "-", "-");
		snprintf(name, sizeof(name), "hang detection past deadline p99, hb %u ms", hb);
		row(name, fmt_ns(p99), fmt_ns(rp99), fmt_ratio(p99, rp99), "<= 2 ms",
		    yesno(n > 0 && p99 <= 2e6 && atomic_load(&h.early) == 0));
		note("%zu hangs; sampling step heartbeat_ms/4 = %s; declared early: %lu%s",
		    n, fmt_ns(hb * 1e6 / 4 < 1e6 ? 1e6 : hb * 1e6 / 4),
		    atomic_load(&h.early), atomic_load(&h.early) ? " (A BUG)" : "");
		if (atomic_load(&h.nobeat) != 0)
			note("%lu runs found hung before their one beat (a starved "
			    "start; left out)", atomic_load(&h.nobeat));
		free(h.samp);
	}
	note("baseline: clock_nanosleep(TIMER_ABSTIME) wake-up past its deadline, "
	    "%zu samples", nraw);
	free(raw);
}

int
main(void)
{
	quick = bench_quick();
	table_begin("bench/heartbeat", "hang detection, against raw stores and timers");
	bench_cost();
	bench_hang();
	return 0;
}
