/*
 * domains.c - whether independent trees scale with the cores.
 *
 * Every tree has a lock of its own (supervise(7), "Locking"), so trees
 * that share nothing should not slow each other down.  Two measurements,
 * each beside a raw baseline in the same run:
 *
 * - K independent trees, each a one_for_one supervisor (intensity
 *   SUPV_INFINITY) with one worker that returns 1 at once, restarting
 *   concurrently for K = 1, 2 and the number of CPUs online.  The figure is
 *   the total of runs started per second.  The baseline is K bare threads,
 *   each looping pthread_create + pthread_join on a body doing the same
 *   bookkeeping.  Goal: at least 0.8x the baseline at every K.  The same
 *   with same_thread workers is shown for information (no thread is
 *   created: the limit there is the library's own path per restart).
 * - Two task pools in separate trees, each fed empty tasks by a thread of
 *   its own, against one pool alone: aggregate tasks per second.  Goal:
 *   the two reach at least 1.6x the one.
 *
 * Each measurement alternates libsupervise and baseline repetitions and
 * reports medians.
 */
#include "bench.h"
#include "ring.h"

#define MAXK   64

static bool quick;

/* --- K trees restarting --- */

/* One counter per tree (or bare loop), each on its own cache line. */
struct runs {
	_Alignas(64) atomic_ulong n;
};

static struct runs counts[MAXK];
static atomic_bool bare_stop;

static int
w_fail(struct supv_worker *self, void *arg)
{
	struct runs *r = arg;

	(void)self;
	atomic_fetch_add_explicit(&r->n, 1, memory_order_relaxed);
	return 1;
}

static void *
bare_child(void *arg)
{
	struct runs *r = arg;

	atomic_fetch_add_explicit(&r->n, 1, memory_order_relaxed);
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

static unsigned long
total(unsigned k)
{
	unsigned long sum = 0;
	unsigned i;

	for (i = 0; i < k; i++)
		sum += atomic_load(&counts[i].n);
	return sum;
}

/* Runs per second, summed over k, counted over window after warm. */
static double
count_window(unsigned k, uint64_t warm, uint64_t window)
{
	unsigned long r0, r1;
	uint64_t t0, t1;

	sleep_ns(warm);
	r0 = total(k);
	t0 = now_ns();
	sleep_ns(window);
	r1 = total(k);
	t1 = now_ns();
	return (double)(r1 - r0) * 1e9 / (double)(t1 - t0);
}

static double
lib_trees_rep(unsigned k, bool same_thread, uint64_t warm, uint64_t window)
{
	struct supv *s[MAXK];
	char name[16];
	unsigned i;
	double rate;
	int rc;

	for (i = 0; i < k; i++) {
		atomic_store(&counts[i].n, 0);
		snprintf(name, sizeof(name), "tree%u", i);
		if ((rc = supv_new(&s[i], &(struct supv_opts){ .name = name,
		    .intensity = SUPV_INFINITY })) != 0)
			die("supv_new", rc);
		if ((rc = supv_add_worker(s[i], &(struct supv_child_opts){
		    .id = "w", .same_thread = same_thread }, w_fail,
		    &counts[i])) != 0)
			die("supv_add_worker", rc);
	}
	for (i = 0; i < k; i++)
		if ((rc = supv_start(s[i])) != 0)
			die("supv_start", rc);
	rate = count_window(k, warm, window);
	for (i = 0; i < k; i++)
		supv_free(s[i]);
	return rate;
}

static double
bare_loops_rep(unsigned k, uint64_t warm, uint64_t window)
{
	pthread_t d[MAXK];
	unsigned i;
	double rate;
	int rc;

	atomic_store(&bare_stop, false);
	for (i = 0; i < k; i++) {
		atomic_store(&counts[i].n, 0);
		if ((rc = pthread_create(&d[i], NULL, bare_driver, &counts[i])) != 0)
			die("pthread_create", rc);
	}
	rate = count_window(k, warm, window);
	atomic_store(&bare_stop, true);
	for (i = 0; i < k; i++)
		pthread_join(d[i], NULL);
	return rate;
}

static void
trees(unsigned k, double *lib1, double *base1)
{
	unsigned reps = quick ? 5 : 11, i;
	uint64_t warm = 20 * NS_PER_MS, window = (quick ? 50 : 150) * NS_PER_MS;
	double lib[16], base[16], same[16], l, b, st;
	const char *sp;

	for (i = 0; i < reps; i++) {
		lib[i] = lib_trees_rep(k, false, warm, window);
		base[i] = bare_loops_rep(k, warm, window);
		same[i] = lib_trees_rep(k, true, warm, window);
	}
	sp = fmt_spread(lib, base, reps);
	l = median_d(lib, reps);
	b = median_d(base, reps);
	st = median_d(same, reps);
	row_s(fmt("%u tree%s restarting at once, total", k, k == 1 ? "" : "s"),
	    fmt_rate(l), fmt_rate(b), fmt_ratio(l, b), sp, ">= 0.8x",
	    yesno(l >= 0.8 * b));
	row(fmt("%u same_thread tree%s, total", k, k == 1 ? "" : "s"),
	    fmt_rate(st), "-", "-", "-", "n/a");
	if (k == 1) {
		*lib1 = l;
		*base1 = b;
	} else
		note("%u trees reach %.2fx one tree (fresh threads); %u bare loops "
		    "%.2fx one loop is the machine's own limit", k, l / *lib1, k,
		    b / *base1);
}

/* --- task pools --- */

struct finish {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	atomic_ulong    count;
	unsigned long   target;
	bool            done;   /* under mu */
};

/* One pool (or raw ring) in a tree of its own, and the thread feeding it. */
struct feeder {
	struct supv          *root;
	struct supv_taskpool *pool;
	struct ring          *ring;      /* the raw baseline instead of a pool */
	bool                  one;       /* one task in flight: submit, wait, release */
	bool                  raw;
	unsigned              idx;       /* pinned to CPU idx (mod the CPUs online) */
	struct finish         fin;
	unsigned long         n;
	pthread_barrier_t    *go;
	uint64_t              t0, t1;
};

static void
finish_one(struct finish *f)
{
	if (atomic_fetch_add_explicit(&f->count, 1, memory_order_acq_rel) + 1 ==
	    f->target) {
		pthread_mutex_lock(&f->mu);
		f->done = true;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
	}
}

static int
empty_task(struct supv_worker *self, void *arg)
{
	(void)self;
	finish_one(arg);
	return 0;
}

static void
ring_task(void *arg)
{
	finish_one(arg);
}

/*
 * Runs on the feeding thread, pinned to its CPU: the threads of the tree
 * (its loop, the pool's worker) inherit that affinity, so each pool has a
 * CPU of its own and the figure does not depend on where the scheduler
 * happens to put four threads on two CPUs.
 */
static void
feeder_start(struct feeder *fd)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned i = fd->idx;
	cpu_set_t set;
	int rc;

	CPU_ZERO(&set);
	CPU_SET(ncpu > 0 ? i % (unsigned)ncpu : 0, &set);
	if ((rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) != 0)
		die("pthread_setaffinity_np", rc);
	pthread_mutex_init(&fd->fin.mu, NULL);
	pthread_cond_init(&fd->fin.cv, NULL);
	fd->fin.target = fd->n;
	if (fd->raw) {
		fd->ring = ring_new(1);
		return;
	}
	if ((rc = supv_new(&fd->root, &(struct supv_opts){
	    .name = i == 0 ? "pool0" : "pool1" })) != 0)
		die("supv_new", rc);
	if ((rc = supv_taskpool_add(fd->root, &(struct supv_child_opts){ .id = "tp" },
	    &(struct supv_taskpool_opts){ .workers = 1, .queue_len = RING_LEN },
	    &fd->pool)) != 0)
		die("supv_taskpool_add", rc);
	if ((rc = supv_start(fd->root)) != 0)
		die("supv_start", rc);
}

static void
feeder_end(struct feeder *fd)
{
	if (fd->ring != NULL)
		ring_free(fd->ring);
	else
		supv_free(fd->root);
	pthread_mutex_destroy(&fd->fin.mu);
	pthread_cond_destroy(&fd->fin.cv);
}

static void
submit_one(struct feeder *fd)
{
	struct supv_task_result res;
	struct supv_task *h;
	int rc;

	if (fd->ring != NULL) {
		ring_push(fd->ring, ring_task, &fd->fin);
		return;
	}
	if ((rc = supv_taskpool_submit(fd->pool, empty_task, &fd->fin, NULL,
	    fd->one ? &h : NULL)) != 0)
		die("supv_taskpool_submit", rc);
	if (!fd->one)
		return;
	if ((rc = supv_task_wait(h, SUPV_INFINITY, &res)) != 0)
		die("supv_task_wait", rc);
	supv_task_release(h);
}

static void *
feed(void *arg)
{
	struct feeder *fd = arg;
	unsigned long i;

	feeder_start(fd);
	pthread_barrier_wait(fd->go);
	fd->t0 = now_ns();
	for (i = 0; i < fd->n; i++)
		submit_one(fd);
	pthread_mutex_lock(&fd->fin.mu);
	while (!fd->fin.done)
		pthread_cond_wait(&fd->fin.cv, &fd->fin.mu);
	pthread_mutex_unlock(&fd->fin.mu);
	fd->t1 = now_ns();
	feeder_end(fd);
	return NULL;
}

/*
 * Aggregate tasks per second of np (1 or 2) pools or raw rings, each fed
 * by its own thread, from the first feeder's start to the last one's end.
 */
static double
pools_rep(unsigned np, bool raw, bool one, unsigned long n)
{
	struct feeder fd[2];
	pthread_t t[2];
	pthread_barrier_t go;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	unsigned i;
	int rc;

	pthread_barrier_init(&go, NULL, np);
	memset(fd, 0, sizeof(fd));
	for (i = 0; i < np; i++) {
		fd[i].idx = i;
		fd[i].raw = raw;
		fd[i].one = one;
		fd[i].n = n;
		fd[i].go = &go;
	}
	for (i = 0; i < np; i++)
		if ((rc = pthread_create(&t[i], NULL, feed, &fd[i])) != 0)
			die("pthread_create", rc);
	for (i = 0; i < np; i++) {
		pthread_join(t[i], NULL);
		if (fd[i].t0 < t0)
			t0 = fd[i].t0;
		if (fd[i].t1 > t1)
			t1 = fd[i].t1;
	}
	pthread_barrier_destroy(&go);
	return (double)(np * n) * 1e9 / (double)(t1 - t0);
}

static void
pools(bool one)
{
	unsigned reps = quick ? 5 : 11, i;
	unsigned long n = (quick ? 20000 : 100000) / (one ? 10 : 1);
	double l1[16], l2[16], q[16], r1[16], r2[16], a, b, c, d, m;
	const char *sp;

	pools_rep(1, false, one, n / 10);   /* warm-up */
	for (i = 0; i < reps; i++) {
		l2[i] = pools_rep(2, false, one, n);
		l1[i] = pools_rep(1, false, one, n);
		q[i] = l2[i] / l1[i];
		if (!one) {
			r2[i] = pools_rep(2, true, false, n);
			r1[i] = pools_rep(1, true, false, n);
		}
	}
	sp = fmt_spread(l2, l1, reps);
	a = median_d(l2, reps);
	b = median_d(l1, reps);
	m = median_d(q, reps);
	row_s(one ? "2 task pools, 1 task in flight each, total" :
	    "2 task pools, fire and forget, total", fmt_rate(a), fmt_rate(b),
	    fmt("%.2fx", m), sp, ">= 1.6x", yesno(m >= 1.6));
	if (one)
		return;
	c = median_d(r2, reps);
	d = median_d(r1, reps);
	note("baseline: one pool alone, in its own tree, fed the same way (1 "
	    "worker, queue %u, %lu empty tasks per pool); ratio: the median of "
	    "each rep's pair", RING_LEN, n);
	note("each pool's tree is started by its feeding thread, pinned to a CPU "
	    "of its own (pool i on CPU i mod %ld); its threads inherit that",
	    sysconf(_SC_NPROCESSORS_ONLN));
	note("2 raw rings (mutex + 2 condvars, 1 thread) reach %s, %.2fx one "
	    "ring (%s): the machine's own limit for this pattern", fmt_rate(c),
	    c / d, fmt_rate(d));
}

int
main(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned ks[3] = { 1, 2, 0 }, nk = 2, i;
	double lib1 = 0, base1 = 0;

	quick = bench_quick();
	if (ncpu > 2)
		ks[nk++] = ncpu > MAXK ? MAXK : (unsigned)ncpu;
	table_begin("bench/domains", "independent trees, one lock each");
	note("baseline: K bare threads, each looping pthread_create + "
	    "pthread_join, in alternating reps");
	for (i = 0; i < nk; i++)
		trees(ks[i], &lib1, &base1);
	pools(false);
	pools(true);
	return 0;
}
