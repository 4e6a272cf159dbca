/*
 * bench.h - what the benchmark programs share: time, statistics, the
 * table format, and per-thread counters read from /proc.
 *
 * Every program prints rows of one format:
 *
 *   name | libsupervise | baseline | ratio | goal | met?
 *
 * The baseline is measured in the same run, on the same machine, by raw
 * pthread code doing the same job; the ratio is libsupervise / baseline.
 * BENCH_QUICK=1 in the environment shortens every measurement.
 */
#ifndef BENCH_H
#define BENCH_H

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervise.h"

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S  1000000000ULL

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleeps until the CLOCK_MONOTONIC time t (ns). */
static inline void
sleep_until_ns(uint64_t t)
{
	struct timespec ts = { (time_t)(t / NS_PER_S), (long)(t % NS_PER_S) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static inline bool
bench_quick(void)
{
	const char *q = getenv("BENCH_QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

/* A small deterministic generator (xorshift64*), for random phases. */
static inline uint64_t
rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

/* --- statistics --- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile (0..1, nearest rank) of v[0..n); sorts v. */
static inline double
quantile_u64(uint64_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_u64);
	k = (size_t)ceil(p * (double)n);
	if (k > 0)
		k--;
	if (k >= n)
		k = n - 1;
	return (double)v[k];
}

/* The median of v[0..n); sorts v (take a spread of pairs before). */
static inline double
median_d(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- formatting: each call returns one of a ring of static buffers --- */

static inline char *
fbuf(void)
{
	static char ring[32][64];
	static unsigned i;

	return ring[i++ % 32];
}

static inline const char *
fmt(const char *f, ...)
{
	char *b = fbuf();
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, 64, f, ap);
	va_end(ap);
	return b;
}

/* A duration given in ns, in a unit that suits it. */
static inline const char *
fmt_ns(double ns)
{
	if (isnan(ns))
		return "n/a";
	if (ns < 10)
		return fmt("%.2f ns", ns);
	if (ns < 1000)
		return fmt("%.0f ns", ns);
	if (ns < 1e6)
		return fmt("%.1f us", ns / 1e3);
	if (ns < 1e9)
		return fmt("%.2f ms", ns / 1e6);
	return fmt("%.2f s", ns / 1e9);
}

/* A rate per second. */
static inline const char *
fmt_rate(double r)
{
	if (isnan(r))
		return "n/a";
	if (r >= 1e6)
		return fmt("%.2f M/s", r / 1e6);
	if (r >= 1e4)
		return fmt("%.1f k/s", r / 1e3);
	return fmt("%.1f /s", r);
}

static inline const char *
fmt_ratio(double lib, double base)
{
	if (isnan(lib) || isnan(base) || base == 0)
		return "-";
	return fmt("%.2fx", lib / base);
}

static inline const char *
yesno(bool met)
{
	return met ? "yes" : "NO";
}

static inline void
table_begin(const char *prog, const char *what)
{
	char model[128] = "unknown", line[256];
	FILE *f;

	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "model name", 10) == 0) {
				char *p = strchr(line, ':');

				if (p != NULL) {
					p += 1 + (p[1] == ' ');
					p[strcspn(p, "\n")] = '\0';
					snprintf(model, sizeof(model), "%s", p);
				}
				break;
			}
		}
		fclose(f);
	}
	printf("\n# %s: %s\n", prog, what);
	printf("# %ld CPUs online, %s%s\n", sysconf(_SC_NPROCESSORS_ONLN), model,
	    bench_quick() ? ", BENCH_QUICK (short runs: noisier)" : "");
	printf("%-46s | %-15s | %-15s | %-7s | %-13s | %-12s | %s\n", "name",
	    "libsupervise", "baseline", "ratio", "spread", "goal", "met?");
	printf("%.46s-|-%.15s-|-%.15s-|-%.7s-|-%.13s-|-%.12s-|-%s\n",
	    "----------------------------------------------------",
	    "--------------------", "--------------------", "----------",
	    "--------------------", "--------------------", "----");
	fflush(stdout);
}

/*
 * One row.  spread is the range of the ratio over the reps (fmt_spread),
 * "-" where there is one measurement or none to pair.
 */
static inline void
row_s(const char *name, const char *lib, const char *base, const char *ratio,
    const char *spread, const char *goal, const char *met)
{
	printf("%-46s | %-15s | %-15s | %-7s | %-13s | %-12s | %s\n", name, lib,
	    base, ratio, spread, goal, met);
	fflush(stdout);
}

static inline void
row(const char *name, const char *lib, const char *base, const char *ratio,
    const char *goal, const char *met)
{
	row_s(name, lib, base, ratio, "-", goal, met);
}

/*
 * The lowest and highest of the reps' own ratios lib[i] / base[i] (each
 * rep's pair measured back to back): how far one rep can be from the
 * median, which is what a reader needs to tell a change from noise.
 */
static inline void
ratio_range(const double *lib, const double *base, size_t n, double *lo,
    double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		double q = lib[i] / base[i];

		if (isnan(q) || isinf(q))
			continue;
		if (q < *lo)
			*lo = q;
		if (q > *hi)
			*hi = q;
	}
}

static inline const char *
fmt_spread(const double *lib, const double *base, size_t n)
{
	double lo, hi;

	ratio_range(lib, base, n, &lo, &hi);
	if (n < 2 || isinf(lo))
		return "-";
	return fmt("%.2f-%.2fx", lo, hi);
}

/* --- where the threads run --- */

/*
 * The calling thread, and so every thread and process it makes from now
 * on (they inherit its mask), on CPU cpu alone; cpu < 0: on every CPU it
 * was allowed at the first call.
 */
static inline void
bench_pin(int cpu)
{
	static cpu_set_t all;
	static bool saved;
	cpu_set_t set;
	int rc;

	if (!saved) {
		if ((rc = pthread_getaffinity_np(pthread_self(), sizeof(all),
		    &all)) != 0) {
			fprintf(stderr, "bench: pthread_getaffinity_np: %s\n",
			    strerror(rc));
			exit(1);
		}
		saved = true;
	}
	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	if ((rc = pthread_setaffinity_np(pthread_self(), sizeof(set),
	    cpu >= 0 ? &set : &all)) != 0) {
		fprintf(stderr, "bench: pthread_setaffinity_np: %s\n", strerror(rc));
		exit(1);
	}
}

/* Row names for the two placements every unstable figure is shown in. */
static inline const char *
placed(const char *what, bool one_cpu)
{
	return fmt("%s, %s", what, one_cpu ? "1 CPU" : "free");
}

static inline void
note(const char *f, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, f);
	vprintf(f, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline void
die(const char *what, int rc)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(rc));
	exit(1);
}

/* --- per-thread counters from /proc/self/task --- */

struct task_stat {
	uint64_t cpu_ns;     /* time on a CPU (schedstat) */
	uint64_t vcsw;       /* voluntary context switches: times it blocked */
	uint64_t ivcsw;      /* involuntary ones: times it was preempted */
};

static inline bool
task_read(pid_t tid, struct task_stat *out)
{
	char path[64], line[128];
	unsigned long long a;
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	if (fscanf(f, "%llu", &a) == 1)
		out->cpu_ns = a;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &a) == 1)
			out->vcsw = a;
		else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &a) == 1)
			out->ivcsw = a;
	}
	fclose(f);
	return true;
}

/* The thread's name (comm), or "" if it is gone. */
static inline void
task_comm(pid_t tid, char *out, size_t n)
{
	char path[64];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(out, (int)n, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The counters of every thread of this process but the caller, at a moment. */
struct task_snap {
	size_t n, cap;
	struct {
		pid_t            tid;
		char             comm[16];
		struct task_stat st;
	} *t;
};

static inline void
tasks_snap(struct task_snap *s)
{
	pid_t self = (pid_t)gettid();
	struct dirent *d;
	DIR *dir;

	s->n = 0;
	if ((dir = opendir("/proc/self/task")) == NULL)
		return;
	while ((d = readdir(dir)) != NULL) {
		pid_t tid = (pid_t)atoi(d->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 256;
			void *p = realloc(s->t, cap * sizeof(*s->t));

			if (p == NULL)
				break;
			s->t = p;
			s->cap = cap;
		}
		task_comm(tid, s->t[s->n].comm, sizeof(s->t[s->n].comm));
		if (!task_read(tid, &s->t[s->n].st))
			continue;
		s->t[s->n].tid = tid;
		s->n++;
	}
	closedir(dir);
}

static inline void
tasks_snap_free(struct task_snap *s)
{
	free(s->t);
	memset(s, 0, sizeof(*s));
}

/*
 * What the threads alive in both snapshots did between them, split in
 * two: those named `name` at the end (e.g. a supervisor's loop, which is
 * named after the supervisor) into *match, the others into *rest.
 * Returns how many threads were in only one of the snapshots (threads
 * that ended or began in between, whose counters are left out).
 */
static inline unsigned
tasks_delta(const struct task_snap *a, const struct task_snap *b,
    const char *name, struct task_stat *match, unsigned *nmatch,
    struct task_stat *rest)
{
	unsigned churn = 0;
	size_t i, j, found = 0;

	memset(match, 0, sizeof(*match));
	memset(rest, 0, sizeof(*rest));
	*nmatch = 0;
	for (j = 0; j < b->n; j++) {
		struct task_stat *into;

		/* A linear search: cheap next to reading /proc. */
		for (i = 0; i < a->n && a->t[i].tid != b->t[j].tid; i++)
			;
		if (i == a->n) {
			churn++;
			continue;
		}
		found++;
		if (name != NULL && strcmp(b->t[j].comm, name) == 0) {
			into = match;
			++*nmatch;
		} else {
			into = rest;
		}
		into->cpu_ns += b->t[j].st.cpu_ns - a->t[i].st.cpu_ns;
		into->vcsw += b->t[j].st.vcsw - a->t[i].st.vcsw;
		into->ivcsw += b->t[j].st.ivcsw - a->t[i].st.ivcsw;
	}
	return churn + (unsigned)(a->n - found);
}

/*
 * What the threads did over a window of window_ns from now: those named
 * name (NULL: none) into *match, the others but the caller into *rest,
 * per second.  Returns the threads that began or ended meanwhile (left
 * out); *nthreads: how many there were at the end.
 */
struct task_rates {
	double   cpu_ns, vcsw;         /* per second */
};

static inline unsigned
tasks_window(const char *name, uint64_t window_ns, struct task_rates *match,
    unsigned *nmatch, struct task_rates *rest, size_t *nthreads)
{
	struct task_snap a = { 0 }, b = { 0 };
	struct task_stat m, r;
	uint64_t t0, t1;
	unsigned churn;
	double sec;

	tasks_snap(&a);
	t0 = now_ns();
	sleep_ns(window_ns);
	tasks_snap(&b);
	t1 = now_ns();
	sec = (double)(t1 - t0) / 1e9;
	churn = tasks_delta(&a, &b, name, &m, nmatch, &r);
	*match = (struct task_rates){ (double)m.cpu_ns / sec, (double)m.vcsw / sec };
	*rest = (struct task_rates){ (double)r.cpu_ns / sec, (double)r.vcsw / sec };
	*nthreads = b.n;
	tasks_snap_free(&a);
	tasks_snap_free(&b);
	return churn;
}

/* The heap in use, by mallinfo2() (set M_ARENA_MAX 1 to see every thread's). */
static inline size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

#endif /* BENCH_H */
