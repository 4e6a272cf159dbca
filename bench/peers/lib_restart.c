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
 * at once; "same" sets .same_thread.  The worker is bench/restart.c's
 * (bench/lat.h): first thing, it takes now (CLOCK_MONOTONIC) and, while
 * recording, stores now minus the time the previous run stored just
 * before it returned; then it counts the run, stores now, and returns 1.
 */
#include "bench.h"
#include "lat.h"

#define CAP       ((size_t)1 << 22)	/* latency samples kept per rep */

static void
rep(struct lat *l, bool same_thread, uint64_t warm, uint64_t window)
{
	unsigned long r0, r1;
	uint64_t ts, t0, t1;
	struct supv *s;
	size_t nw, n;
	int rc;

	lat_reset(l);
	atomic_store(&l->rec, true);
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
	printf("ok %.1f %.0f %.0f %zu %.1f %.0f\n",
	    (double)(r1 - r0) * 1e9 / (double)(t1 - t0),
	    quantile_u64(l->samp + nw, n - nw, 0.50),
	    quantile_u64(l->samp + nw, n - nw, 0.99),
	    n - nw, (double)r0 * 1e9 / (double)(t0 - ts),
	    quantile_u64(l->samp, nw, 0.50));
	fflush(stdout);
}

int
main(void)
{
	static struct lat l;
	char line[128], kind[16];
	unsigned warm, window;

	l.cap = CAP;
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
