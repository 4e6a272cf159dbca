/*
 * taskpool.c - what a task pool costs.
 *
 * - Throughput of empty tasks with 1, 2 and 8 workers: one thread submits
 *   N tasks (fire and forget, blocking while the queue of 1024 is full)
 *   and waits until the last one has run.  The baseline does the same
 *   job with raw pthread code: a ring of 1024 (function, argument) pairs
 *   under one mutex with two condition variables, and W threads popping
 *   and calling.  Both run the same task body: it counts, and the last one
 *   wakes the submitter.  Goal: at least 0.8x the baseline.
 * - The same through handles: submit, then wait for and release each task
 *   in submission order (the caller holding every result).
 * - The cost of a retry: tasks that fail once and then succeed, against
 *   tasks that succeed at once, on one worker; the difference per task is
 *   one failed attempt, which restarts the worker (a thread) and requeues
 *   the task.  It is shown next to a bare pthread_create + pthread_join.
 *
 * Each measurement alternates libsupervise and baseline repetitions and
 * reports the median over the repetitions.  Each pool repetition has a
 * tree of its own, as each baseline repetition has threads of its own,
 * warmed up with a twentieth as many tasks of the same kind.  Where the
 * scheduler puts the threads weighs more than the code on a small
 * machine, so each row is measured in three placements: all on CPU 0;
 * the submitter on CPU 0 and the pool's (or ring's) threads on CPU 1;
 * and free.  The goal holds in the first two; free is shown beside them.
 * Each row runs in a process of its own (run_row()).
 */
#include <sys/wait.h>

#include "bench.h"
#include "ring.h"

#define QUEUE 1024
#define REPS  11
#define RETRY_REPS 5

static bool quick;

/*
 * Where the threads run (pairs()): the pool's or ring's threads are made
 * on workers_cpu (they inherit the mask of the thread that makes them,
 * and a pool's restarts are made by its loop), then the submitting
 * thread moves to submit_cpu; -1 is anywhere.
 */
enum place { PLACE_ONE, PLACE_SPLIT, PLACE_FREE };
static int workers_cpu = -1, submit_cpu = -1;

/* Whether CPUs 0 and 1 are both ours, for the split placement. */
static bool
two_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

static void
pin_workers(void)
{
	bench_pin(workers_cpu);
}

static void
pin_submitter(void)
{
	bench_pin(submit_cpu);
}

/* --- the task body both sides run --- */

struct finish {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	atomic_ulong    count;
	unsigned long   target;
	bool            done;
};

static struct finish fin = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void
fin_reset(unsigned long target)
{
	atomic_store(&fin.count, 0);
	fin.target = target;
	fin.done = false;
}

static void
fin_wait(void)
{
	pthread_mutex_lock(&fin.mu);
	while (!fin.done)
		pthread_cond_wait(&fin.cv, &fin.mu);
	pthread_mutex_unlock(&fin.mu);
}

static void
empty_body(void)
{
	if (atomic_fetch_add_explicit(&fin.count, 1, memory_order_acq_rel) + 1 ==
	    fin.target) {
		pthread_mutex_lock(&fin.mu);
		fin.done = true;
		pthread_cond_signal(&fin.cv);
		pthread_mutex_unlock(&fin.mu);
	}
}

static int
empty_task(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	empty_body();
	return 0;
}

/* Fails its first attempt. */
static int
fail_once_task(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (supv_task_attempt(self) == 1)
		return 1;
	empty_body();
	return 0;
}

/* --- the baseline: a mutex + condvar ring --- */

static void
ring_body(void *arg)
{
	(void)arg;
	empty_body();
}

/* Tasks per second through the ring with w workers. */
static double
run_ring(unsigned w, unsigned long n)
{
	struct ring *r;
	uint64_t t0, t1;
	unsigned long i;

	pin_workers();
	r = ring_new(w);
	pin_submitter();
	fin_reset(n);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		ring_push(r, ring_body, NULL);
	fin_wait();
	t1 = now_ns();
	ring_free(r);
	return (double)n * 1e9 / (double)(t1 - t0);
}

/* --- the pool --- */

struct tree {
	struct supv          *root;
	struct supv_taskpool *pool;
};

static void
tree_start(struct tree *t, unsigned w)
{
	int rc;

	if ((rc = supv_new(&t->root, &(struct supv_opts){ .name = "bench" })) != 0)
		die("supv_new", rc);
	if ((rc = supv_taskpool_add(t->root, &(struct supv_child_opts){ .id = "tp" },
	    &(struct supv_taskpool_opts){ .workers = w, .queue_len = QUEUE },
	    &t->pool)) != 0)
		die("supv_taskpool_add", rc);
	if ((rc = supv_start(t->root)) != 0)
		die("supv_start", rc);
}

static void
tree_end(struct tree *t)
{
	supv_free(t->root);
}

/* Tasks per second, fire and forget. */
static double
run_pool(struct tree *t, supv_task_fn *fn, unsigned long n)
{
	uint64_t t0, t1;
	unsigned long i;
	int rc;

	fin_reset(n);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if ((rc = supv_taskpool_submit(t->pool, fn, NULL, NULL, NULL)) != 0)
			die("supv_taskpool_submit", rc);
	fin_wait();
	t1 = now_ns();
	return (double)n * 1e9 / (double)(t1 - t0);
}

/* Tasks per second, each one waited for and released (in batches of QUEUE). */
static double
run_pool_handles(struct tree *t, unsigned long n)
{
	static struct supv_task *h[QUEUE];
	struct supv_task_result res;
	uint64_t t0, t1;
	unsigned long i, j, k;
	int rc;

	fin_reset(n);
	t0 = now_ns();
	for (i = 0; i < n; i += k) {
		k = n - i < QUEUE ? n - i : QUEUE;
		for (j = 0; j < k; j++)
			if ((rc = supv_taskpool_submit(t->pool, empty_task, NULL, NULL,
			    &h[j])) != 0)
				die("supv_taskpool_submit", rc);
		for (j = 0; j < k; j++) {
			if ((rc = supv_task_wait(h[j], SUPV_INFINITY, &res)) != 0)
				die("supv_task_wait", rc);
			supv_task_release(h[j]);
		}
	}
	t1 = now_ns();
	return (double)n * 1e9 / (double)(t1 - t0);
}

/* The baseline of the handles row: the ring, with a result slot per task. */
struct slot_res {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	bool            done;
	int             code;
};

static void
ring_body_res(void *arg)
{
	struct slot_res *s = arg;

	empty_body();
	pthread_mutex_lock(&s->mu);
	s->done = true;
	s->code = 0;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static double
run_ring_handles(unsigned w, unsigned long n)
{
	struct ring *r;
	struct slot_res *s;
	uint64_t t0, t1;
	unsigned long i, j, k;

	pin_workers();
	r = ring_new(w);
	pin_submitter();
	fin_reset(n);
	t0 = now_ns();
	for (i = 0; i < n; i += k) {
		k = n - i < QUEUE ? n - i : QUEUE;
		if ((s = malloc(k * sizeof(*s))) == NULL)
			die("malloc", ENOMEM);
		for (j = 0; j < k; j++) {
			pthread_mutex_init(&s[j].mu, NULL);
			pthread_cond_init(&s[j].cv, NULL);
			s[j].done = false;
			ring_push(r, ring_body_res, &s[j]);
		}
		for (j = 0; j < k; j++) {
			pthread_mutex_lock(&s[j].mu);
			while (!s[j].done)
				pthread_cond_wait(&s[j].cv, &s[j].mu);
			pthread_mutex_unlock(&s[j].mu);
			pthread_mutex_destroy(&s[j].mu);
			pthread_cond_destroy(&s[j].cv);
		}
		free(s);
	}
	t1 = now_ns();
	ring_free(r);
	return (double)n * 1e9 / (double)(t1 - t0);
}

static void *
bare_thread(void *arg)
{
	return arg;
}

/* ns per pthread_create + pthread_join. */
static double
run_bare_threads(unsigned n)
{
	uint64_t t0 = now_ns();
	pthread_t th;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (pthread_create(&th, NULL, bare_thread, NULL) != 0)
			die("pthread_create", EAGAIN);
		pthread_join(th, NULL);
	}
	return (double)(now_ns() - t0) / n;
}

/*
 * One repetition on a fresh tree, as the baseline's threads are fresh in
 * each: where the scheduler puts the threads weighs a lot on a small
 * machine, and each repetition draws anew.
 */
static double
run_pool_fresh(unsigned w, supv_task_fn *fn, unsigned long n,
    double (*run)(struct tree *, unsigned long))
{
	struct tree t;
	double r;

	pin_workers();
	tree_start(&t, w);
	pin_submitter();
	/* Warm-up, the same kind of task: every worker has started, and
	   the pool holds what it keeps for them. */
	if (run != NULL)
		run(&t, n / 20);
	else
		run_pool(&t, fn, n / 20);
	r = run != NULL ? run(&t, n) : run_pool(&t, fn, n);
	tree_end(&t);
	return r;
}

/*
 * Alternating reps of the pool (run_pool_fresh with run) and the raw ring
 * (ring), each with w workers, placed as pl says: one row with the
 * medians and the spread of the reps' ratios.  The goal holds for the two
 * placements the scheduler does not decide; free is what a program gets,
 * shown beside them.
 */
static void
pairs(const char *what, unsigned w, unsigned long n, enum place pl,
    double (*run)(struct tree *, unsigned long), double (*ring)(unsigned, unsigned long))
{
	static const char *const names[] = { "1 CPU", "split", "free" };
	double lib[REPS], base[REPS], l, b;
	const char *spread;
	unsigned i;

	workers_cpu = pl == PLACE_ONE ? 0 : pl == PLACE_SPLIT ? 1 : -1;
	submit_cpu = pl == PLACE_FREE ? -1 : 0;
	/* Alternating which goes first, so that neither gets the warmer cache. */
	for (i = 0; i < REPS; i++) {
		if (i % 2 == 0) {
			lib[i] = run_pool_fresh(w, empty_task, n, run);
			base[i] = ring(w, n);
		} else {
			base[i] = ring(w, n);
			lib[i] = run_pool_fresh(w, empty_task, n, run);
		}
	}
	workers_cpu = submit_cpu = -1;
	bench_pin(-1);
	spread = fmt_spread(lib, base, REPS);
	l = median_d(lib, REPS);
	b = median_d(base, REPS);
	row_s(fmt("empty tasks, %u worker%s, %s, %s", w, w > 1 ? "s" : "",
	    what, names[pl]), fmt_rate(l), fmt_rate(b), fmt_ratio(l, b), spread,
	    pl == PLACE_FREE ? "-" : ">= 0.8x",
	    pl == PLACE_FREE ? "-" : yesno(l >= 0.8 * b));
}

static void
retry_cost(unsigned long n)
{
	double ok[REPS], retry[REPS], bare[REPS], c, b;
	struct tree t;
	unsigned i;

	tree_start(&t, 1);
	for (i = 0; i < RETRY_REPS; i++) {
		ok[i] = 1e9 / run_pool(&t, empty_task, n);
		retry[i] = 1e9 / run_pool(&t, fail_once_task, n);
		bare[i] = run_bare_threads((unsigned)n);
	}
	tree_end(&t);
	c = median_d(retry, RETRY_REPS) - median_d(ok, RETRY_REPS);
	b = median_d(bare, RETRY_REPS);
	row("one retry (worker restart + requeue), 1 worker", fmt_ns(c),
	    fmt_ns(b), fmt_ratio(c, b), "(measured)", "-");
	note("baseline of the retry row: one bare pthread_create + pthread_join;");
	note("a failed attempt restarts its worker thread, so it costs about that");
	note("plus the supervisor's round trip.");
}

/*
 * The rows, each run by this program run again ("taskpool ROW"): what
 * earlier rows left in a process (its heap, cached thread stacks) moved a
 * later row by as much as 1.5x, in the build before a change and the one
 * after alike but not by the same amount, so each row starts afresh.
 */
enum { ROW_FIRE = 0, ROW_WAIT = 9, ROW_RETRY = 18, NROWS = 19 };

static void
run_row(unsigned k, unsigned long n)
{
	static const unsigned ws[] = { 1, 2, 8 };
	unsigned w = ws[k % 9 / 3];
	enum place pl = (enum place)(k % 3);

	if (k >= ROW_RETRY) {
		retry_cost(quick ? 300 : 1000);
		return;
	}
	if (pl == PLACE_SPLIT && !two_cpus())
		return;
	if (k < ROW_WAIT)
		pairs("fire and forget", w, n, pl, NULL, run_ring);
	else
		pairs("wait each", w, n / 4, pl, run_pool_handles, run_ring_handles);
}

int
main(int argc, char **argv)
{
	unsigned long n;
	unsigned k;
	char arg[16];
	pid_t pid;
	int st;

	quick = bench_quick();
	n = quick ? 20000 : 100000;
	if (argc == 2) {
		run_row((unsigned)strtoul(argv[1], NULL, 10), n);
		return 0;
	}
	table_begin("taskpool", "task pool throughput and the cost of a retry");
	/*
	 * Each row in three placements: the submitter, the loop and the
	 * workers on one CPU; the submitter on CPU 0 and the pool's threads
	 * on CPU 1 (when there is one); wherever the scheduler puts them.
	 */
	for (k = 0; k < NROWS; k++) {
		if (k == ROW_RETRY)
			note("1 CPU: the submitting thread and the pool's (or ring's) "
			    "threads pinned to CPU 0; split: the submitter on CPU 0, "
			    "the others on CPU 1; free: placed by the scheduler, no "
			    "goal (it decides more than the code: see "
			    "bench/README.md); median of %d alternating reps; each "
			    "row in a process of its own", REPS);
		fflush(stdout);
		snprintf(arg, sizeof(arg), "%u", k);
		if ((pid = fork()) < 0)
			die("fork", errno);
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], arg, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("row", ECHILD);
	}
	return 0;
}
