/*
 * soak.c - restarts by the million, with resident memory measured.
 *
 * Three phases, each on a tree of its own:
 *   one_for_one  a worker that fails at once, restarted 1,000,000 times
 *                (intensity SUPV_INFINITY): a new thread each time;
 *   one_for_all  a group of three of which one fails at once: 100,000
 *                group restarts (the other two stopped and restarted);
 *   same_thread  the first phase with same_thread: 1,000,000 restarts in
 *                place, on one thread.
 * Resident memory (VmRSS) is read after a warm-up and at the end of each
 * phase; the program fails (exit 1) if it grew by more than RSS_SLACK_KB,
 * or if the events do not add up.  It prints one summary line.
 *
 * --quick (make check): each phase runs for about QUICK_SECONDS.  Both
 * samples are taken at restart counts, not at times, so that a machine
 * however fast or slow takes them both, with restarts between them to
 * show a leak; the time only lengthens the run on a fast machine.
 * Under a sanitizer or valgrind, whose allocators hold freed memory back
 * on purpose, the memory figures are printed but not checked.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervise.h"

#define RSS_SLACK_KB   2048
#define QUICK_SECONDS  0.8
#define STALL_SECONDS  60	/* no restart for this long: the tree is stuck */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static atomic_ulong n_start, n_exit, n_restart, n_give_up, n_sup_exit, n_bad;
static atomic_ulong n_counted;	/* RESTARTs of the child a phase counts */
static const char *counted_child;

static void
on_event(const struct supv_event *ev, void *arg)
{
	(void)arg;
	switch (ev->kind) {
	case SUPV_EV_START:
		atomic_fetch_add_explicit(&n_start, 1, memory_order_relaxed);
		break;
	case SUPV_EV_EXIT:
		atomic_fetch_add_explicit(&n_exit, 1, memory_order_relaxed);
		if (ev->exit == SUPV_EXIT_START_FAILED)
			atomic_fetch_add(&n_bad, 1);
		break;
	case SUPV_EV_RESTART:
		atomic_fetch_add_explicit(&n_restart, 1, memory_order_relaxed);
		if (strcmp(ev->child, counted_child) == 0)
			atomic_fetch_add_explicit(&n_counted, 1, memory_order_relaxed);
		break;
	case SUPV_EV_GIVE_UP:
		atomic_fetch_add(&n_give_up, 1);
		break;
	case SUPV_EV_SUP_EXIT:
		atomic_fetch_add(&n_sup_exit, 1);
		break;
	default:
		atomic_fetch_add(&n_bad, 1);
		break;
	}
}

static int
w_crash(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	return 1;
}

static int
w_sleeper(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* VmRSS in KiB, or -1. */
static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* valgrind runs the program under its own allocator. */
static bool
under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

struct phase {
	const char   *name;
	unsigned long target;	/* counted restarts */
	unsigned long quick_warm;	/* --quick: warm-up sample after this many */
	unsigned long quick_span;	/* --quick: end sample at least this many later */
	unsigned long done;
	unsigned long warm_n;	/* restarts when the warm-up sample was taken */
	double        secs;
	long          rss_warm, rss_end;
};

static bool quick, check_rss;

#define FAIL(...) do {                                                        \
	fprintf(stderr, "soak: " __VA_ARGS__);                                \
	fputc('\n', stderr);                                                  \
	return false;                                                         \
} while (0)

/*
 * Runs root until the counted child has restarted target times, or with
 * --quick for QUICK_SECONDS if that is shorter, then stops it and checks
 * the events.  Memory is read once warm, after warm restarts, and at the
 * end, which waits for span more restarts after that first reading: both
 * are restart counts, so that a fast machine cannot end the run before the
 * first reading, nor a slow one take the two with nothing in between.
 */
static bool
run_phase(struct phase *p, struct supv *root, unsigned group)
{
	unsigned long warm = quick ? p->quick_warm : p->target / 10;
	unsigned long span = quick ? p->quick_span : p->target / 2;
	unsigned long n, last = 0;
	double t, t0, t_last;
	bool warmed = false;
	enum supv_exit_kind why;
	int rc;

	atomic_store(&n_start, 0);
	atomic_store(&n_exit, 0);
	atomic_store(&n_restart, 0);
	atomic_store(&n_counted, 0);
	atomic_store(&n_give_up, 0);
	atomic_store(&n_sup_exit, 0);
	atomic_store(&n_bad, 0);
	t0 = t_last = now_s();
	if ((rc = supv_start(root)) != 0)
		FAIL("%s: supv_start: %s", p->name, strerror(rc));
	for (;;) {
		n = atomic_load(&n_counted);
		t = now_s();
		if (!warmed && n >= warm) {
			warmed = true;
			p->rss_warm = rss_kb();
			/* Read after the sample: what follows came after it. */
			p->warm_n = atomic_load(&n_counted);
			continue;
		}
		if (warmed && n >= p->warm_n + span &&
		    (n >= p->target || (quick && t - t0 >= QUICK_SECONDS)))
			break;
		if (n != last) {
			last = n;
			t_last = t;
		} else if (t - t_last >= STALL_SECONDS) {
			supv_stop(root);
			FAIL("%s: no restart in %d s, after %lu", p->name,
			    STALL_SECONDS, n);
		}
		nap_ms(1);
	}
	p->rss_end = rss_kb();
	if ((rc = supv_stop(root)) != 0)
		FAIL("%s: supv_stop: %s", p->name, strerror(rc));
	p->secs = now_s() - t0;
	p->done = atomic_load(&n_counted);
	if ((rc = supv_wait(root, &why)) != 0 || why != SUPV_EXIT_SHUTDOWN)
		FAIL("%s: supv_wait: %s, %s", p->name, strerror(rc),
		    supv_exit_kind_name(why));
	supv_free(root);

	/* Every run started ended; every restart was of the group. */
	if (atomic_load(&n_start) != atomic_load(&n_exit))
		FAIL("%s: %lu STARTs, %lu EXITs", p->name, atomic_load(&n_start),
		    atomic_load(&n_exit));
	if (atomic_load(&n_start) != atomic_load(&n_restart) + group)
		FAIL("%s: %lu STARTs, %lu RESTARTs", p->name,
		    atomic_load(&n_start), atomic_load(&n_restart));
	if (atomic_load(&n_restart) < p->done * group ||
	    atomic_load(&n_restart) > (p->done + 1) * group)
		FAIL("%s: %lu RESTARTs for %lu group restarts", p->name,
		    atomic_load(&n_restart), p->done);
	if (atomic_load(&n_give_up) != 0 || atomic_load(&n_bad) != 0 ||
	    atomic_load(&n_sup_exit) != 1)
		FAIL("%s: unexpected events", p->name);
	if (p->done < p->warm_n + span)
		FAIL("%s: only %lu restarts", p->name, p->done);
	if (p->rss_warm < 0 || p->rss_end < 0)
		FAIL("%s: cannot read VmRSS", p->name);
	if (check_rss && p->rss_end - p->rss_warm > RSS_SLACK_KB)
		FAIL("%s: resident memory grew from %ld to %ld KiB", p->name,
		    p->rss_warm, p->rss_end);
	return true;
}

static struct supv *
new_root(const char *name, enum supv_strategy strategy)
{
	struct supv *root;
	int rc;

	if ((rc = supv_new(&root, &(struct supv_opts){ .name = name,
	    .strategy = strategy, .intensity = SUPV_INFINITY,
	    .on_event = on_event })) != 0) {
		fprintf(stderr, "soak: supv_new: %s\n", strerror(rc));
		exit(1);
	}
	return root;
}

static void
add(struct supv *root, const char *id, supv_work_fn *fn, bool same_thread)
{
	int rc;

	if ((rc = supv_add_worker(root, &(struct supv_child_opts){ .id = id,
	    .same_thread = same_thread }, fn, NULL)) != 0) {
		fprintf(stderr, "soak: supv_add_worker: %s\n", strerror(rc));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct phase ph[3] = {
		{ .name = "one_for_one", .target = 1000000, .quick_warm = 100,
		  .quick_span = 1000 },
		{ .name = "one_for_all", .target = 100000, .quick_warm = 20,
		  .quick_span = 200 },
		{ .name = "same_thread", .target = 1000000, .quick_warm = 1000,
		  .quick_span = 10000 },
	};
	struct supv *root;
	long rss0 = rss_kb();
	bool ok = true;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else {
			fprintf(stderr, "usage: soak [--quick]\n");
			return 2;
		}
	}
	check_rss = !SANITIZED && !under_valgrind();

	counted_child = "crash";
	root = new_root("one_for_one", SUPV_ONE_FOR_ONE);
	add(root, "crash", w_crash, false);
	ok = ok && run_phase(&ph[0], root, 1);

	counted_child = "f";
	root = new_root("one_for_all", SUPV_ONE_FOR_ALL);
	add(root, "a", w_sleeper, false);
	add(root, "b", w_sleeper, false);
	add(root, "f", w_crash, false);
	ok = ok && run_phase(&ph[1], root, 3);

	counted_child = "crash";
	root = new_root("same_thread", SUPV_ONE_FOR_ONE);
	add(root, "crash", w_crash, true);
	ok = ok && run_phase(&ph[2], root, 1);

	printf("soak%s:", quick ? " (quick)" : "");
	for (i = 0; i < 3; i++)
		printf("%s %s %lu restarts in %.1f s (%.0f/s), RSS %+ld KiB",
		    i ? ";" : "", ph[i].name, ph[i].done, ph[i].secs,
		    ph[i].secs > 0 ? (double)ph[i].done / ph[i].secs : 0.0,
		    ph[i].rss_end - ph[i].rss_warm);
	printf("; VmRSS %ld -> %ld KiB%s\n", rss0, rss_kb(),
	    check_rss ? "" : " (not checked: sanitizer or valgrind)");
	return ok ? 0 : 1;
}
