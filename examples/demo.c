/*
 * demo.c - a narrated tour of libsupervise, in a few seconds.
 *
 * The tree:
 *
 *     app            one_for_one, at most 5 restarts in 5 s
 *     |-- flaky      a worker that fails when told to
 *     |-- watched    a worker with a 300 ms heartbeat that hangs when told to
 *     `-- db         a child supervisor: one_for_one, at most 2 restarts in 5 s
 *         |-- conn   fails when told to
 *         `-- cache  just runs
 *
 * main narrates five acts and, in each, makes something happen and waits
 * for the events it should cause.  Every event is printed from on_event as
 * it happens, with the time since the start.  Run it with `make demo`.
 * It exits 0 when every act went as expected.
 *
 * $SUPV_EXAMPLE_SECONDS, if set, is roughly how long the demo takes
 * (default 5); it scales the pauses between acts.
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

/* How long main waits for an event it expects before calling the act a failure. */
#define EXPECT_MS 10000
#define LOG_MAX   512

/* One event, kept so that main can wait for it. */
struct logged {
	enum supv_event_kind kind;
	char                 sup[SUPV_ID_MAX + 1];
	char                 child[SUPV_ID_MAX + 1];
};

struct demo {
	uint64_t        t0_ns;        /* CLOCK_MONOTONIC at the start */
	pthread_mutex_t mu;           /* guards the log and keeps lines whole */
	pthread_cond_t  logged;       /* broadcast on every event */
	struct logged   log[LOG_MAX]; /* mu */
	unsigned        nlog;         /* mu */

	/* What main tells the workers to do; the workers read them. */
	atomic_bool     fail_flaky;      /* flaky: fail at the next tick */
	atomic_bool     hang_watched;    /* watched: hang at the next tick */
	atomic_uint     conn_failures;   /* conn: fail this many more times */
};

/* Each supervisor's on_event gets one of these: where it is in the tree. */
struct where {
	struct demo *demo;
	const char  *path;     /* "app" or "app/db" */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux: the events use it too. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
since_start(const struct demo *d, uint64_t ns)
{
	return (double)(ns - d->t0_ns) / 1e9;
}

/* $SUPV_EXAMPLE_SECONDS (the smoke test sets it), else def. */
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

/* Prints one line of narration, timestamped like the events. */
static void
say(struct demo *d, const char *text)
{
	pthread_mutex_lock(&d->mu);
	printf("[%6.3fs] %s\n", since_start(d, now_ns()), text);
	pthread_mutex_unlock(&d->mu);
}

/*
 * The event callback, shared by both supervisors.  It runs on the
 * supervisor's own thread, so it formats and logs under d->mu: app's and
 * db's events can arrive at the same time.
 */
static void
on_event(const struct supv_event *ev, void *arg)
{
	const struct where *w = arg;
	struct demo *d = w->demo;
	char detail[96] = "";
	const char *child;
	int pad;

	switch (ev->kind) {
	case SUPV_EV_EXIT:
		if (ev->exit == SUPV_EXIT_FAILURE)
			snprintf(detail, sizeof(detail), "%s, code %d",
			    supv_exit_kind_name(ev->exit), ev->code);
		else
			snprintf(detail, sizeof(detail), "%s",
			    supv_exit_kind_name(ev->exit));
		break;
	case SUPV_EV_SUP_EXIT:
		snprintf(detail, sizeof(detail), "%s", supv_exit_kind_name(ev->exit));
		break;
	case SUPV_EV_RESTART:
		snprintf(detail, sizeof(detail), "restart %u in its supervisor's window",
		    ev->restarts);
		break;
	case SUPV_EV_HUNG:
		snprintf(detail, sizeof(detail), "missed its heartbeat (%s)",
		    ev->spinning ? "spinning: a busy loop" : "not spinning: blocked");
		break;
	case SUPV_EV_STOP_TIMEOUT:
		snprintf(detail, sizeof(detail), "did not stop within its grace");
		break;
	case SUPV_EV_BACKOFF:
		snprintf(detail, sizeof(detail), "restart in %u ms", ev->delay_ms);
		break;
	case SUPV_EV_GIVE_UP:
		snprintf(detail, sizeof(detail), "%u restarts in its window: over its intensity",
		    ev->restarts);
		break;
	default:
		/* START, and kinds added to the library after this was written. */
		break;
	}

	child = ev->child != NULL ? ev->child : "-";
	pad = strlen(child) < 9 ? 9 - (int)strlen(child) : 1;
	pthread_mutex_lock(&d->mu);
	printf("[%6.3fs]     %-7s %-12s %s%*s%s\n", since_start(d, ev->at_ns),
	    w->path, supv_event_kind_name(ev->kind), child,
	    detail[0] != '\0' ? pad : 0, "", detail);
	if (d->nlog < LOG_MAX) {
		struct logged *l = &d->log[d->nlog++];

		l->kind = ev->kind;
		snprintf(l->sup, sizeof(l->sup), "%s", ev->sup);
		snprintf(l->child, sizeof(l->child), "%s",
		    ev->child != NULL ? ev->child : "");
	}
	pthread_cond_broadcast(&d->logged);
	pthread_mutex_unlock(&d->mu);
}

static unsigned
count_events(const struct demo *d, const char *sup, enum supv_event_kind kind,
    const char *child)
{
	unsigned i, n = 0;

	for (i = 0; i < d->nlog; i++)
		if (d->log[i].kind == kind && strcmp(d->log[i].sup, sup) == 0 &&
		    strcmp(d->log[i].child, child) == 0)
			n++;
	return n;
}

/*
 * Waits until sup has emitted kind for child ("" for none) n times in all.
 * Returns false, after saying so, if that takes longer than EXPECT_MS.
 */
static bool
expect(struct demo *d, const char *sup, enum supv_event_kind kind,
    const char *child, unsigned n)
{
	struct timespec until;
	uint64_t deadline = now_ns() + (uint64_t)EXPECT_MS * 1000000u;
	bool ok = true;

	until.tv_sec = (time_t)(deadline / 1000000000u);
	until.tv_nsec = (long)(deadline % 1000000000u);
	pthread_mutex_lock(&d->mu);
	while (count_events(d, sup, kind, child) < n) {
		int rc = pthread_cond_timedwait(&d->logged, &d->mu, &until);

		if (rc == ETIMEDOUT && count_events(d, sup, kind, child) < n) {
			ok = false;
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	if (!ok)
		fprintf(stderr, "demo: expected %s event #%u from %s for '%s': "
		    "it did not come\n", supv_event_kind_name(kind), n, sup, child);
	return ok;
}

/* Takes one from *n if it is not 0: the workers' "fail this many times". */
static bool
take_one(atomic_uint *n)
{
	unsigned v = atomic_load(n);

	while (v > 0 && !atomic_compare_exchange_weak(n, &v, v - 1))
		;
	return v > 0;
}

/*
 * Worker bodies.  Each ticks with supv_sleep(), which returns ECANCELED as
 * soon as the supervisor asks the worker to stop; returning 0 then is an
 * orderly stop (reported as "shutdown"), returning anything else on its
 * own is a failure.
 */

static int
flaky_main(struct supv_worker *self, void *arg)
{
	struct demo *d = arg;

	while (supv_sleep(self, 20) == 0)
		if (atomic_exchange(&d->fail_flaky, false))
			return 3;
	return 0;
}

static pthread_mutex_t never_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER;

static void
unlock_never(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&never_mu);
}

/*
 * Waits for a wake-up nobody will send: a lost wake-up, the classic hang.
 * pthread_cond_wait() is a cancellation point, so SUPV_TIMEOUT_CANCEL ends
 * it; the cleanup handler gives the mutex back when it does.
 */
static void
hang_forever(void)
{
	if (pthread_mutex_lock(&never_mu) != 0)
		abort();
	pthread_cleanup_push(unlock_never, NULL);
	for (;;)
		pthread_cond_wait(&never_cv, &never_mu);
	pthread_cleanup_pop(1);
}

static int
watched_main(struct supv_worker *self, void *arg)
{
	struct demo *d = arg;

	while (supv_sleep(self, 50) == 0) {
		supv_heartbeat(self);        /* "I am alive": one relaxed store */
		if (atomic_exchange(&d->hang_watched, false))
			hang_forever();
	}
	return 0;
}

static int
conn_main(struct supv_worker *self, void *arg)
{
	struct demo *d = arg;

	do {
		if (take_one(&d->conn_failures))
			return 7;     /* say, "connection refused" */
	} while (supv_sleep(self, 20) == 0);
	return 0;
}

static int
idle_main(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

static int
fail(const char *what, int rc)
{
	fprintf(stderr, "demo: %s: %s\n", what,
	    rc == ECHILD ? "a child failed to start" : strerror(rc));
	return 1;
}

/* Prints app's children as supv_which_children() reports them. */
static int
show_children(struct demo *d, struct supv *sup)
{
	struct supv_child_info kids[8];
	size_t i, total;
	int rc;

	if ((rc = supv_which_children(sup, kids, 8, &total)) != 0)
		return fail("supv_which_children", rc);
	pthread_mutex_lock(&d->mu);
	for (i = 0; i < total && i < 8; i++)
		printf("              %-8s %-10s %-8s restarted %u time%s\n", kids[i].id,
		    kids[i].is_sup ? "supervisor" : "worker",
		    kids[i].running ? "running" : "stopped", kids[i].restarts,
		    kids[i].restarts == 1 ? "" : "s");
	pthread_mutex_unlock(&d->mu);
	return 0;
}

static int
run(struct demo *d, struct supv **appp, unsigned pause_ms)
{
	static struct where app_where, db_where;
	struct supv *app, *db;
	enum supv_exit_kind why;
	int rc;

	app_where = (struct where){ d, "app" };
	db_where = (struct where){ d, "app/db" };

	/* Build the tree while it is stopped: nothing runs yet. */
	if ((rc = supv_new(&app, &(struct supv_opts){ .name = "app",
	    .intensity = 5, .period_ms = 5000,
	    .on_event = on_event, .event_arg = &app_where })) != 0)
		return fail("supv_new app", rc);
	*appp = app;
	if ((rc = supv_add_worker(app, &(struct supv_child_opts){ .id = "flaky" },
	    flaky_main, d)) != 0)
		return fail("supv_add_worker flaky", rc);
	/*
	 * watched must beat at least every 300 ms.  Once it is found hung it
	 * is asked to stop; if it has not stopped 150 ms later, it is
	 * cancelled (pthread_cancel) and then restarted.
	 */
	if ((rc = supv_add_worker(app, &(struct supv_child_opts){ .id = "watched",
	    .heartbeat_ms = 300, .shutdown_ms = 150,
	    .on_timeout = SUPV_TIMEOUT_CANCEL }, watched_main, d)) != 0)
		return fail("supv_add_worker watched", rc);
	if ((rc = supv_new(&db, &(struct supv_opts){ .name = "db",
	    .intensity = 2, .period_ms = 5000,
	    .on_event = on_event, .event_arg = &db_where })) != 0)
		return fail("supv_new db", rc);
	if ((rc = supv_add_worker(db, &(struct supv_child_opts){ .id = "conn" },
	    conn_main, d)) != 0 ||
	    (rc = supv_add_worker(db, &(struct supv_child_opts){ .id = "cache" },
	    idle_main, NULL)) != 0) {
		supv_free(db);
		return fail("supv_add_worker db", rc);
	}
	/* From here app owns db: freeing app frees db. */
	if ((rc = supv_add_sup(app, &(struct supv_child_opts){ .id = "db" }, db)) != 0) {
		supv_free(db);
		return fail("supv_add_sup db", rc);
	}

	/* A configuration that could never escalate is caught before it runs. */
	if ((rc = supv_check(app, NULL, 0)) != 0) {
		char report[2048];

		supv_check(app, report, sizeof(report));
		fputs(report, stderr);
		return fail("supv_check", rc < 0 ? errno : EINVAL);
	}
	say(d, "   supv_check(): the tree's limits can all be reached as written.");
	say(d, "== Act 1: a tree starts ==");
	say(d, "   app supervises flaky, watched (300 ms heartbeat) and db, a");
	say(d, "   supervisor of conn and cache.  Children start in order, depth");
	say(d, "   first: db reports itself started once its own children are.");
	if ((rc = supv_start(app)) != 0)
		return fail("supv_start", rc);
	if (!expect(d, "app", SUPV_EV_START, "db", 1))
		return 1;
	sleep_ms(pause_ms);

	say(d, "== Act 2: a worker fails ==");
	say(d, "   flaky returns 3.  app (one_for_one) restarts just flaky.");
	atomic_store(&d->fail_flaky, true);
	if (!expect(d, "app", SUPV_EV_START, "flaky", 2))
		return 1;
	sleep_ms(pause_ms);

	say(d, "== Act 3: a worker hangs ==");
	say(d, "   watched blocks forever and stops beating.  300 ms later app");
	say(d, "   finds it hung and asks it to stop; it cannot hear, so after its");
	say(d, "   150 ms grace it is cancelled, then restarted.");
	atomic_store(&d->hang_watched, true);
	if (!expect(d, "app", SUPV_EV_START, "watched", 2))
		return 1;
	sleep_ms(pause_ms);

	say(d, "== Act 4: an escalation ==");
	say(d, "   conn fails 3 times in a row.  db allows 2 restarts in 5 s: at the");
	say(d, "   third failure it gives up, stops cache, and ends.  To app that is");
	say(d, "   a failed child, so app restarts db with its children, afresh.");
	atomic_store(&d->conn_failures, 3);
	if (!expect(d, "app", SUPV_EV_START, "db", 2))
		return 1;
	sleep_ms(pause_ms);

	say(d, "== Act 5: an orderly stop ==");
	say(d, "   app's children now, from supv_which_children():");
	if (show_children(d, app) != 0)
		return 1;
	say(d, "   supv_stop(app) stops one child at a time, in reverse start");
	say(d, "   order, depth first, and returns when the whole tree has ended.");
	if ((rc = supv_stop(app)) != 0)
		return fail("supv_stop", rc);
	if ((rc = supv_wait(app, &why)) != 0)
		return fail("supv_wait", rc);
	if (why != SUPV_EXIT_SHUTDOWN) {
		fprintf(stderr, "demo: the tree ended as %s, not shutdown\n",
		    supv_exit_kind_name(why));
		return 1;
	}
	say(d, "   supv_wait(app) says: shutdown.  The end.");
	return 0;
}

int
main(void)
{
	static struct demo d;   /* static: it is large, and zeroed */
	struct supv *app = NULL;
	unsigned pause_ms;
	pthread_condattr_t ca;
	int status;

	/* One line at a time even into a pipe, so the story reads in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Four pauses, plus about half a second for the hang: ~ the budget. */
	pause_ms = run_seconds(5) * 1000 / 6;
	if (pause_ms > 1200)
		pause_ms = 1200;
	d.t0_ns = now_ns();
	/* expect() waits with CLOCK_MONOTONIC deadlines. */
	if (pthread_mutex_init(&d.mu, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&d.logged, &ca) != 0) {
		fprintf(stderr, "demo: cannot make a mutex\n");
		return 1;
	}
	pthread_condattr_destroy(&ca);
	status = run(&d, &app, pause_ms);
	/* On a running tree (after a failure) supv_free stops it first. */
	supv_free(app);
	pthread_cond_destroy(&d.logged);
	pthread_mutex_destroy(&d.mu);
	return status;
}
