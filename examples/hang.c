/*
 * hang.c - hung workers found by their heartbeat, stopped and restarted.
 *
 * Two workers do a "job" every 40 ms and call supv_heartbeat() after each.
 * Each has heartbeat_ms = 250: when that long passes without a beat, the
 * supervisor emits SUPV_EV_HUNG, asks the worker to stop, and restarts it.
 * Now and then each of them hangs, in one of the two ways threads hang:
 *
 *   lookup   blocks: it waits for a reply that never comes (a lost
 *            wake-up).  The HUNG event has .spinning false.  Blocked, it
 *            cannot see the stop request either, so its grace (shutdown_ms,
 *            100 ms) runs out and, with SUPV_TIMEOUT_CANCEL, it is cancelled:
 *            pthread_cond_wait() is a cancellation point.
 *
 *   poller   spins: it busy-waits for a flag that never gets set.  The HUNG
 *            event has .spinning true.  Its loop also checks
 *            supv_stopping(), so it ends as soon as it is asked to.
 *
 * A worker blocked somewhere that is not a cancellation point (say, in
 * pthread_mutex_lock) can only be abandoned (SUPV_TIMEOUT_ABANDON, the
 * default), leaving its thread behind; or, with SUPV_TIMEOUT_ABORT, the
 * whole process ends for its own supervisor (systemd) to restart.
 *
 * It runs for $SUPV_EXAMPLE_SECONDS (default 4) seconds, then stops.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* for plain cc -std=c11: POSIX and Linux calls */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <supervise.h>

/* One worker's settings and its job count, kept across its restarts. */
struct job {
	unsigned    hang_every;     /* hang at every hang_every-th job */
	atomic_uint done;           /* jobs done, by every run */
};

static struct {
	pthread_mutex_t mu;         /* the "reply" lookup waits for */
	pthread_cond_t  reply;      /* ... and that nobody ever signals */
	atomic_bool     flag;       /* what poller spins on: never set */
	atomic_uint     hung_blocked, hung_spinning, restarts;
	uint64_t        t0_ns;
} g = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.reply = PTHREAD_COND_INITIALIZER,
};

static void
unlock_mu(void *arg)
{
	pthread_mutex_unlock(arg);
}

/* Waits for a reply that never comes.  Ends only by cancellation. */
static void
wait_for_reply(void)
{
	if (pthread_mutex_lock(&g.mu) != 0)
		abort();
	/* On cancellation pthread_cond_wait() relocks g.mu: unlock it then. */
	pthread_cleanup_push(unlock_mu, &g.mu);
	for (;;)
		pthread_cond_wait(&g.reply, &g.mu);
	pthread_cleanup_pop(1);
}

static int
lookup_main(struct supv_worker *self, void *arg)
{
	struct job *j = arg;

	while (supv_sleep(self, 40) == 0) {
		if (atomic_fetch_add(&j->done, 1) % j->hang_every == j->hang_every - 1)
			wait_for_reply();
		supv_heartbeat(self);
	}
	return 0;
}

static int
poller_main(struct supv_worker *self, void *arg)
{
	struct job *j = arg;

	while (supv_sleep(self, 40) == 0) {
		if (atomic_fetch_add(&j->done, 1) % j->hang_every == j->hang_every - 1)
			while (!atomic_load(&g.flag))   /* a busy wait gone wrong */
				if (supv_stopping(self))
					return 0;
		supv_heartbeat(self);
	}
	return 0;
}

static void
on_event(const struct supv_event *ev, void *arg)
{
	const char *who = ev->child != NULL ? ev->child : ev->sup;
	char detail[64] = "";

	(void)arg;
	switch (ev->kind) {
	case SUPV_EV_HUNG:
		snprintf(detail, sizeof(detail), "spinning=%s (%s)",
		    ev->spinning ? "true" : "false",
		    ev->spinning ? "a busy loop" : "blocked");
		atomic_fetch_add(ev->spinning ? &g.hung_spinning : &g.hung_blocked, 1);
		break;
	case SUPV_EV_STOP_TIMEOUT:
		snprintf(detail, sizeof(detail), "its grace ran out: cancelling it");
		break;
	case SUPV_EV_EXIT:
	case SUPV_EV_SUP_EXIT:
		snprintf(detail, sizeof(detail), "%s", supv_exit_kind_name(ev->exit));
		break;
	case SUPV_EV_RESTART:
		atomic_fetch_add(&g.restarts, 1);
		break;
	default:
		break;
	}
	/* Only the root reports, on its own thread: lines cannot mix. */
	printf("[%6.3fs] %-12s %-*s%s\n", (double)(ev->at_ns - g.t0_ns) / 1e9,
	    supv_event_kind_name(ev->kind), detail[0] != '\0' ? 7 : 0, who, detail);
}

static unsigned
run_seconds(unsigned def)
{
	const char *s = getenv("SUPV_EXAMPLE_SECONDS");
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 3600)
		return def;
	return (unsigned)v;
}

int
main(void)
{
	static struct job lookup = { .hang_every = 9 }, poller = { .hang_every = 5 };
	struct supv *root = NULL;
	enum supv_exit_kind why;
	struct timespec ts;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	g.t0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;

	/* Hangs are expected here: allow 20 restarts in 5 s. */
	if ((rc = supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 20, .period_ms = 5000, .on_event = on_event })) != 0 ||
	    (rc = supv_add_worker(root, &(struct supv_child_opts){ .id = "lookup",
	    .heartbeat_ms = 250, .shutdown_ms = 100,
	    .on_timeout = SUPV_TIMEOUT_CANCEL }, lookup_main, &lookup)) != 0 ||
	    (rc = supv_add_worker(root, &(struct supv_child_opts){ .id = "poller",
	    .heartbeat_ms = 250, .shutdown_ms = 100,
	    .on_timeout = SUPV_TIMEOUT_CANCEL }, poller_main, &poller)) != 0 ||
	    (rc = supv_start(root)) != 0) {
		fprintf(stderr, "hang: %s\n", strerror(rc));
		supv_free(root);
		return 1;
	}

	ts = (struct timespec){ .tv_sec = run_seconds(4) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	if ((rc = supv_stop(root)) != 0 || (rc = supv_wait(root, &why)) != 0) {
		fprintf(stderr, "hang: %s\n", strerror(rc));
		supv_free(root);
		return 1;
	}
	supv_free(root);
	printf("hangs found: %u blocked, %u spinning; %u restarts; "
	    "jobs done: lookup %u, poller %u\n",
	    atomic_load(&g.hung_blocked), atomic_load(&g.hung_spinning),
	    atomic_load(&g.restarts), atomic_load(&lookup.done),
	    atomic_load(&poller.done));
	if (why != SUPV_EXIT_SHUTDOWN) {
		fprintf(stderr, "hang: the tree ended as %s\n", supv_exit_kind_name(why));
		return 1;
	}
	return 0;
}
