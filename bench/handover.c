/*
 * handover.c - where a fire-and-forget task's time goes when the pool's
 * worker is on the other CPU: the time of each single submit.
 *
 * One thread on CPU 0 submits empty tasks, one after the other, to a
 * task pool of one worker on CPU 1, and times every call; the baseline
 * does the same with ring_push() on the raw mutex + condvar ring of
 * bench/ring.h (bench/taskpool's baseline).  A submit that finds the
 * queue's lock and lines in its own cache costs tens of nanoseconds on
 * both; the others pay for what the other CPU did meanwhile (a cache
 * line's trip between the CPUs, a lock the worker holds, a futex sleep
 * and wake-up), and those set the mean.  The rows give the median,
 * p90, p99 and mean of the calls, and the share of the time spent in
 * calls over 2 us.  No goals: this row explains bench/taskpool's
 * "split" rows (bench/README.md).
 */
#include <sys/wait.h>

#include "bench.h"
#include "ring.h"

#define REPS 5
#define SLOW_NS 2000

static bool quick;
static uint64_t *lat;		/* each call's time (ns) */
/* What the tasks count, on lines of its own: the submitter reads lat. */
static struct {
	_Alignas(64) atomic_ulong n;
	char pad[64 - sizeof(atomic_ulong)];
} ran;

static int
count_task(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	atomic_fetch_add_explicit(&ran.n, 1, memory_order_relaxed);
	return 0;
}

static void
count_body(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&ran.n, 1, memory_order_relaxed);
}

/* What one rep found: the calls' quantiles and mean, and the slow share. */
struct stats {
	double p50, p90, p99, mean, slow;
};

static struct stats
summarize(unsigned long n)
{
	struct stats s;
	double sum = 0, slow = 0;
	unsigned long i;

	for (i = 0; i < n; i++) {
		sum += (double)lat[i];
		if (lat[i] > SLOW_NS)
			slow += (double)lat[i];
	}
	s.mean = sum / (double)n;
	s.slow = 100 * slow / sum;
	s.p50 = quantile_u64(lat, n, 0.5);
	s.p90 = quantile_u64(lat, n, 0.9);
	s.p99 = quantile_u64(lat, n, 0.99);
	return s;
}

static struct stats
run_pool(unsigned long n)
{
	struct supv *root;
	struct supv_taskpool *p;
	uint64_t t0, t1;
	unsigned long i;
	int rc;

	bench_pin(1);
	if ((rc = supv_new(&root, &(struct supv_opts){ .name = "bench" })) != 0 ||
	    (rc = supv_taskpool_add(root, &(struct supv_child_opts){ .id = "tp" },
	    &(struct supv_taskpool_opts){ .workers = 1, .queue_len = RING_LEN },
	    &p)) != 0 || (rc = supv_start(root)) != 0)
		die("pool", rc);
	bench_pin(0);
	/* Warm-up, as bench/taskpool does. */
	for (i = 0; i < n / 20; i++)
		if ((rc = supv_taskpool_submit(p, count_task, NULL, NULL, NULL)) != 0)
			die("supv_taskpool_submit", rc);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if ((rc = supv_taskpool_submit(p, count_task, NULL, NULL, NULL)) != 0)
			die("supv_taskpool_submit", rc);
		t1 = now_ns();
		lat[i] = t1 - t0;
		t0 = t1;
	}
	supv_free(root);
	return summarize(n);
}

static struct stats
run_ring(unsigned long n)
{
	struct ring *r;
	uint64_t t0, t1;
	unsigned long i;

	bench_pin(1);
	r = ring_new(1);
	bench_pin(0);
	for (i = 0; i < n / 20; i++)
		ring_push(r, count_body, NULL);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		ring_push(r, count_body, NULL);
		t1 = now_ns();
		lat[i] = t1 - t0;
		t0 = t1;
	}
	ring_free(r);
	return summarize(n);
}

static void
show(const char *name, const double *lib, const double *base, bool percent)
{
	double l[REPS], b[REPS];

	memcpy(l, lib, sizeof(l));
	memcpy(b, base, sizeof(b));
	const char *spread = fmt_spread(l, b, REPS);
	double ml = median_d(l, REPS), mb = median_d(b, REPS);

	row_s(name, percent ? fmt("%.0f%%", ml) : fmt_ns(ml),
	    percent ? fmt("%.0f%%", mb) : fmt_ns(mb), fmt_ratio(ml, mb), spread,
	    "-", "-");
}

int
main(void)
{
	struct stats ls[REPS], bs[REPS];
	double l[5][REPS], b[5][REPS];
	unsigned long n;
	cpu_set_t set;
	unsigned i;

	quick = bench_quick();
	n = quick ? 20000 : 200000;
	table_begin("handover", "one fire-and-forget submit, the worker on the other CPU");
	if (sched_getaffinity(0, sizeof(set), &set) != 0 || !CPU_ISSET(0, &set) ||
	    !CPU_ISSET(1, &set)) {
		note("skipped: needs CPUs 0 and 1");
		return 0;
	}
	if ((lat = malloc(n * sizeof(*lat))) == NULL)
		die("malloc", ENOMEM);
	for (i = 0; i < REPS; i++) {
		if (i % 2 == 0) {
			ls[i] = run_pool(n);
			bs[i] = run_ring(n);
		} else {
			bs[i] = run_ring(n);
			ls[i] = run_pool(n);
		}
		l[0][i] = ls[i].p50, b[0][i] = bs[i].p50;
		l[1][i] = ls[i].p90, b[1][i] = bs[i].p90;
		l[2][i] = ls[i].p99, b[2][i] = bs[i].p99;
		l[3][i] = ls[i].mean, b[3][i] = bs[i].mean;
		l[4][i] = ls[i].slow, b[4][i] = bs[i].slow;
	}
	bench_pin(-1);
	show("submit, 1 worker, split: p50", l[0], b[0], false);
	show("submit, 1 worker, split: p90", l[1], b[1], false);
	show("submit, 1 worker, split: p99", l[2], b[2], false);
	show("submit, 1 worker, split: mean", l[3], b[3], false);
	show("submit, 1 worker, split: time in calls > 2 us", l[4], b[4], true);
	note("submitter on CPU 0, the pool's (or ring's) threads on CPU 1; each "
	    "call timed; medians of %d alternating reps of %lu calls", REPS, n);
	free(lat);
	return 0;
}
