/*
 * escalate.c - failures climbing a tree until the root gives up.
 *
 *     root            one_for_one, at most 2 restarts in 10 s
 *     |-- web         a healthy worker
 *     `-- storage     one_for_one, at most 3 restarts in 10 s
 *         |-- index   a healthy worker
 *         `-- disk    fails 50 ms after every start ("disk not found")
 *
 * disk fails, and storage restarts it, 3 times; the 4th failure is one
 * restart too many in storage's window: storage gives up, stops index and
 * ends.  To root that is a child exit of kind "gave_up", handled like a
 * failure: root restarts storage, afresh, and it all happens again.  The
 * third time storage gives up, root is over its own intensity and gives up
 * too: the whole tree stops, and supv_wait() reports SUPV_EXIT_GAVE_UP.
 *
 * Events are printed indented by the depth of the supervisor that emits
 * them.  $SUPV_EXAMPLE_SECONDS (default 5) bounds the run: if the root has
 * not given up by then, the tree is stopped and the run is a failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* for plain cc -std=c11: POSIX and Linux calls */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <supervise.h>

/* What each supervisor's on_event knows: its depth in the tree. */
struct level {
	unsigned depth;
};

static struct {
	pthread_mutex_t mu;         /* keeps lines whole; guards root_ended */
	pthread_cond_t  cv;         /* signalled when root_ended is set */
	bool            root_ended; /* the root emitted SUPV_EV_SUP_EXIT */
	uint64_t        t0_ns;
} g = { .mu = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);      /* cannot fail */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* root and storage each call this on their own thread: hence g.mu. */
static void
on_event(const struct supv_event *ev, void *arg)
{
	const struct level *l = arg;
	char what[96] = "";

	switch (ev->kind) {
	case SUPV_EV_EXIT:
		if (ev->exit == SUPV_EXIT_FAILURE)
			snprintf(what, sizeof(what), "%s ended: failure, code %d",
			    ev->child, ev->code);
		else
			snprintf(what, sizeof(what), "%s ended: %s", ev->child,
			    supv_exit_kind_name(ev->exit));
		break;
	case SUPV_EV_RESTART:
		snprintf(what, sizeof(what), "%s restarted (restart %u in %s's window)",
		    ev->child, ev->restarts, ev->sup);
		break;
	case SUPV_EV_GIVE_UP:
		snprintf(what, sizeof(what), "%s GIVES UP: %u restarts in its window",
		    ev->sup, ev->restarts);
		break;
	case SUPV_EV_SUP_EXIT:
		snprintf(what, sizeof(what), "%s itself ended: %s", ev->sup,
		    supv_exit_kind_name(ev->exit));
		break;
	default:
		snprintf(what, sizeof(what), "%s %s", ev->child != NULL ?
		    ev->child : ev->sup, supv_event_kind_name(ev->kind));
		break;
	}
	pthread_mutex_lock(&g.mu);
	printf("[%6.3fs] %*s%-8s| %s\n", (double)(ev->at_ns - g.t0_ns) / 1e9,
	    (int)(l->depth * 4), "", ev->sup, what);
	if (ev->kind == SUPV_EV_SUP_EXIT && l->depth == 0) {
		g.root_ended = true;
		pthread_cond_signal(&g.cv);
	}
	pthread_mutex_unlock(&g.mu);
}

static int
healthy_main(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

static int
disk_main(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (supv_sleep(self, 50) != 0)
		return 0;       /* asked to stop first */
	return 5;               /* "disk not found" */
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

static int
build(struct supv **rootp)
{
	static struct level top = { 0 }, below = { 1 };
	struct supv *root, *storage;
	int rc;

	if ((rc = supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 2, .period_ms = 10000,
	    .on_event = on_event, .event_arg = &top })) != 0)
		return rc;
	*rootp = root;
	if ((rc = supv_add_worker(root, &(struct supv_child_opts){ .id = "web" },
	    healthy_main, NULL)) != 0)
		return rc;
	if ((rc = supv_new(&storage, &(struct supv_opts){ .name = "storage",
	    .intensity = 3, .period_ms = 10000,
	    .on_event = on_event, .event_arg = &below })) != 0)
		return rc;
	if ((rc = supv_add_worker(storage, &(struct supv_child_opts){ .id = "index" },
	    healthy_main, NULL)) != 0 ||
	    (rc = supv_add_worker(storage, &(struct supv_child_opts){ .id = "disk" },
	    disk_main, NULL)) != 0 ||
	    (rc = supv_add_sup(root, &(struct supv_child_opts){ .id = "storage" },
	    storage)) != 0) {
		supv_free(storage);     /* not root's yet: ours to free */
		return rc;
	}
	return 0;
}

int
main(void)
{
	struct supv *root = NULL;
	enum supv_exit_kind why;
	pthread_condattr_t ca;
	struct timespec until;
	uint64_t deadline;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = pthread_condattr_init(&ca)) != 0 ||
	    (rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (rc = pthread_cond_init(&g.cv, &ca)) != 0) {
		fprintf(stderr, "escalate: %s\n", strerror(rc));
		return 1;
	}
	pthread_condattr_destroy(&ca);
	g.t0_ns = now_ns();

	if ((rc = build(&root)) != 0 || (rc = supv_start(root)) != 0) {
		fprintf(stderr, "escalate: %s\n", strerror(rc));
		supv_free(root);
		return 1;
	}

	/* Wait for the root to end, but no longer than the time allowed. */
	deadline = g.t0_ns + (uint64_t)run_seconds(5) * 1000000000u;
	until.tv_sec = (time_t)(deadline / 1000000000u);
	until.tv_nsec = (long)(deadline % 1000000000u);
	pthread_mutex_lock(&g.mu);
	while (!g.root_ended &&
	    pthread_cond_timedwait(&g.cv, &g.mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&g.mu);
	/* Does nothing (returns 0) if the root has already ended on its own. */
	if ((rc = supv_stop(root)) != 0 || (rc = supv_wait(root, &why)) != 0) {
		fprintf(stderr, "escalate: %s\n", strerror(rc));
		supv_free(root);
		return 1;
	}
	supv_free(root);
	pthread_cond_destroy(&g.cv);

	printf("supv_wait: the tree ended as \"%s\"\n", supv_exit_kind_name(why));
	if (why != SUPV_EXIT_GAVE_UP) {
		fprintf(stderr, "escalate: expected gave_up\n");
		return 1;
	}
	printf("storage gave up three times.  root restarted it twice, which is its\n"
	    "intensity, and the third time gave up as well, stopping web on the\n"
	    "way out.  A real program would now exit with a failure status, for\n"
	    "the process supervisor above it (systemd, Kubernetes) to restart it\n"
	    "from a clean slate.  This example exits 0: it did what it shows.\n");
	return 0;
}
