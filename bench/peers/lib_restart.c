/*
 * lib_restart.c - libsupervise's side of bench/peers: the restart rows of
 * bench/restart.c, as a server that run.sh drives rep by rep, taking
 * turns with the OTP and suture servers (otp_restart.erl,
 * suture/main.go), which speak the same protocol:
 *
 *   out: "ready libsupervise <version>"
 *   in:  "rep fresh|same WARM_MS WINDOW_MS"
 *   out: "ok RUNS_PER_S P50_NS P99_NS SAMPLES WARM_RUNS_PER_S WARM_P50_NS"
 *   in:  "quit" (or end of input)
 *
 * (otp_restart.erl adds one more field, its supervisor's restart list's
 * length.)  RUNS_PER_S, P50_NS and P99_NS are taken over the window, which starts
 * WARM_MS after the start call returned; WARM_RUNS_PER_S is the rate
 * from that return to the window's start.
 *
 * A rep builds a fresh tree: a SUPV_ONE_FOR_ONE supervisor, intensity
 * SUPV_INFINITY, no on_event, with one permanent worker that returns 1
 * at once; "same" sets .same_thread.  The worker's body is the one of
 * bench/restart.c: first thing, it takes now (CLOCK_MONOTONIC) and, while
 * recording, stores now minus the time the previous run stored just
 * before it returned; then it counts the run, stores now, and returns 1.
 * Self-contained on purpose (no bench.h): it is built by run.sh with cc.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervise.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S  1000000000ULL
#define CAP       ((size_t)1 << 22)	/* latency samples kept per rep */

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NS_PER_S), (long)(ns % NS_PER_S) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

struct lat {
	_Atomic uint64_t fail_ns;   /* when the last run decided to fail; 0: none yet */
	atomic_ulong     runs;      /* runs entered */
	atomic_bool      rec;       /* record latencies now */
	uint64_t        *samp;      /* written by the run (one at a time) */
	atomic_size_t    n;
};

static int
w_fail(struct supv_worker *self, void *arg)
{
	struct lat *l = arg;
	uint64_t t = now_ns();
	uint64_t f = atomic_load_explicit(&l->fail_ns, memory_order_acquire);

	(void)self;
	if (f != 0 && atomic_load_explicit(&l->rec, memory_order_relaxed)) {
		size_t i = atomic_load_explicit(&l->n, memory_order_relaxed);

		if (i < CAP) {
			l->samp[i] = t - f;
			atomic_store_explicit(&l->n, i + 1, memory_order_release);
		}
	}
	atomic_fetch_add_explicit(&l->runs, 1, memory_order_relaxed);
	atomic_store_explicit(&l->fail_ns, now_ns(), memory_order_release);
	return 1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile (nearest rank) of v[0..n), sorted. */
static double
quantile(const uint64_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return NAN;
	k = (size_t)ceil(p * (double)n);
	if (k > 0)
		k--;
	return (double)v[k < n ? k : n - 1];
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "lib_restart: %s: %s\n", what, strerror(rc));
	exit(1);
}

static void
rep(struct lat *l, bool same_thread, uint64_t warm, uint64_t window)
{
	unsigned long r0, r1;
	uint64_t ts, t0, t1;
	struct supv *s;
	size_t nw, n;
	int rc;

	atomic_store(&l->fail_ns, 0);
	atomic_store(&l->runs, 0);
	atomic_store(&l->rec, true);
	atomic_store(&l->n, 0);
	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "rsup",
	    .intensity = SUPV_INFINITY })) != 0)
		die("supv_new", rc);
	if ((rc = supv_add_worker(s, &(struct supv_child_opts){ .id = "w",
	    .same_thread = same_thread }, w_fail, l)) != 0)
		die("supv_add_worker", rc);
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	ts = now_ns();
	sleep_ns(warm);
	r0 = atomic_load(&l->runs);
	t0 = now_ns();
	nw = atomic_load_explicit(&l->n, memory_order_acquire);
	sleep_ns(window);
	atomic_store(&l->rec, false);
	r1 = atomic_load(&l->runs);
	t1 = now_ns();
	supv_stop(s);
	supv_free(s);
	n = atomic_load_explicit(&l->n, memory_order_acquire);
	qsort(l->samp, nw, sizeof(*l->samp), cmp_u64);
	qsort(l->samp + nw, n - nw, sizeof(*l->samp), cmp_u64);
	printf("ok %.1f %.0f %.0f %zu %.1f %.0f\n",
	    (double)(r1 - r0) * 1e9 / (double)(t1 - t0),
	    quantile(l->samp + nw, n - nw, 0.50), quantile(l->samp + nw, n - nw, 0.99),
	    n - nw, (double)r0 * 1e9 / (double)(t0 - ts), quantile(l->samp, nw, 0.50));
	fflush(stdout);
}

int
main(void)
{
	static struct lat l;
	char line[128], kind[16];
	unsigned warm, window;

	if ((l.samp = malloc(CAP * sizeof(*l.samp))) == NULL)
		die("malloc", ENOMEM);
	memset(l.samp, 1, CAP * sizeof(*l.samp));	/* fault the pages in now */
	printf("ready libsupervise %s\n", supv_version());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "quit", 4) == 0)
			break;
		if (sscanf(line, "rep %15s %u %u", kind, &warm, &window) != 3 ||
		    (strcmp(kind, "fresh") != 0 && strcmp(kind, "same") != 0)) {
			printf("error bad command: %s", line);
			fflush(stdout);
			continue;
		}
		rep(&l, strcmp(kind, "same") == 0, warm * NS_PER_MS,
		    window * NS_PER_MS);
	}
	free(l.samp);
	return 0;
}
