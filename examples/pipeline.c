/*
 * pipeline.c - three stages under rest_for_one: reader -> transformer -> writer.
 *
 * The reader makes numbered records (standing in for lines of a file), the
 * transformer squares them, the writer checks their order and counts them.
 * Small bounded queues connect the stages; they belong to main, so records
 * already queued survive the restart of a stage.
 *
 * Under rest_for_one a stage that fails is restarted together with every
 * stage after it, never the ones before it: here the transformer "crashes"
 * now and then (on a bad record), which restarts it and the writer, while
 * the reader carries on.  Each stage has ready_ms and calls supv_ready()
 * once it is set up, so the stages start one after the other, in order.
 *
 * It runs for $SUPV_EXAMPLE_SECONDS (default 3) seconds, stops the tree and
 * prints the totals, checking that every record is accounted for.
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

#define QUEUE_CAP  32
/* A queue wait rechecks supv_stopping() this often (ms). */
#define STOP_CHECK 20
/* The transformer cannot digest records whose number is a multiple of this. */
#define BAD_EVERY  293

/* A bounded queue of records (record numbers). */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t  changed;        /* broadcast on every push and pop */
	long            rec[QUEUE_CAP]; /* mu: a ring */
	unsigned        head, len;      /* mu */
};

struct pipeline {
	struct queue raw;               /* reader -> transformer */
	struct queue cooked;            /* transformer -> writer */

	/* Totals, across every run of every stage. */
	atomic_long  next;              /* the next record the reader makes */
	atomic_long  read, transformed, written;
	atomic_long  crashed;           /* records lost with a crashing transformer */
	atomic_long  dropped;           /* records a stage held when asked to stop */
	atomic_long  last_written;      /* the writer's last record, for order */
	atomic_long  gaps;              /* records the writer saw missing */
};

static int
queue_init(struct queue *q)
{
	pthread_condattr_t ca;
	int rc;

	q->head = q->len = 0;
	if ((rc = pthread_condattr_init(&ca)) != 0)
		return rc;
	/* The waits below use CLOCK_MONOTONIC deadlines. */
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0 &&
	    (rc = pthread_cond_init(&q->changed, &ca)) == 0 &&
	    (rc = pthread_mutex_init(&q->mu, NULL)) != 0)
		pthread_cond_destroy(&q->changed);
	pthread_condattr_destroy(&ca);
	return rc;
}

static void
queue_destroy(struct queue *q)
{
	pthread_cond_destroy(&q->changed);
	pthread_mutex_destroy(&q->mu);
}

/* Waits on q->changed for up to STOP_CHECK ms.  Called with q->mu held. */
static void
queue_wait(struct queue *q)
{
	struct timespec until;

	(void)clock_gettime(CLOCK_MONOTONIC, &until);   /* cannot fail */
	until.tv_nsec += STOP_CHECK * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	/* A timeout only means "look at supv_stopping() again". */
	(void)pthread_cond_timedwait(&q->changed, &q->mu, &until);
}

/*
 * Pushes r, waiting while the queue is full.  Returns false if the worker
 * was asked to stop first.  A condition variable cannot be polled together
 * with supv_stop_fd(), so the wait wakes every STOP_CHECK ms to look.
 */
static bool
queue_push(struct queue *q, struct supv_worker *self, long r)
{
	bool ok;

	pthread_mutex_lock(&q->mu);
	while (q->len == QUEUE_CAP && !supv_stopping(self))
		queue_wait(q);
	if ((ok = q->len < QUEUE_CAP)) {
		q->rec[(q->head + q->len) % QUEUE_CAP] = r;
		q->len++;
		pthread_cond_broadcast(&q->changed);
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

/* Pops into *r, waiting while the queue is empty; false if asked to stop. */
static bool
queue_pop(struct queue *q, struct supv_worker *self, long *r)
{
	bool ok;

	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && !supv_stopping(self))
		queue_wait(q);
	if ((ok = q->len > 0 && !supv_stopping(self))) {
		*r = q->rec[q->head];
		q->head = (q->head + 1) % QUEUE_CAP;
		q->len--;
		pthread_cond_broadcast(&q->changed);
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

static unsigned
queue_len(struct queue *q)
{
	unsigned n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* The reader: one record every 2 ms, as if from a slow file. */
static int
reader_main(struct supv_worker *self, void *arg)
{
	struct pipeline *p = arg;

	/* "Opening the input" would go here; then the next stage may start. */
	supv_ready(self);
	while (supv_sleep(self, 2) == 0) {
		long r = atomic_fetch_add(&p->next, 1);

		atomic_fetch_add(&p->read, 1);
		if (!queue_push(&p->raw, self, r)) {
			atomic_fetch_add(&p->dropped, 1);
			break;
		}
	}
	return 0;       /* asked to stop */
}

/* The transformer: squares each record; crashes on a "bad" one. */
static int
transformer_main(struct supv_worker *self, void *arg)
{
	struct pipeline *p = arg;
	long r;

	supv_ready(self);
	while (queue_pop(&p->raw, self, &r)) {
		if (r % BAD_EVERY == BAD_EVERY - 1) {
			/* A bug: it gives up on this record, which is lost. */
			atomic_fetch_add(&p->crashed, 1);
			return 2;
		}
		atomic_fetch_add(&p->transformed, 1);
		/* r * r would be the output; the record number travels on. */
		if (!queue_push(&p->cooked, self, r)) {
			atomic_fetch_add(&p->dropped, 1);
			break;
		}
	}
	return 0;
}

/* The writer: checks that records come in order, and counts them. */
static int
writer_main(struct supv_worker *self, void *arg)
{
	struct pipeline *p = arg;
	long r;

	/* "Opening the output", then ready. */
	supv_ready(self);
	while (queue_pop(&p->cooked, self, &r)) {
		long last = atomic_exchange(&p->last_written, r);
		long n;

		if (r == last + 2)
			printf("writer: record %ld is missing (lost in a crash)\n",
			    last + 1);
		else if (r > last + 2)
			printf("writer: records %ld to %ld are missing\n", last + 1, r - 1);
		if (r != last + 1)
			atomic_fetch_add(&p->gaps, r - last - 1);
		n = atomic_fetch_add(&p->written, 1) + 1;
		if (n % 250 == 0)
			printf("writer: %ld records written\n", n);
	}
	return 0;
}

static uint64_t t0_ns;

static void
on_event(const struct supv_event *ev, void *arg)
{
	const char *who = ev->child != NULL ? ev->child : ev->sup;
	char detail[64] = "";

	(void)arg;
	if (ev->kind == SUPV_EV_EXIT && ev->exit == SUPV_EXIT_FAILURE)
		snprintf(detail, sizeof(detail), "failure, code %d", ev->code);
	else if (ev->kind == SUPV_EV_EXIT || ev->kind == SUPV_EV_SUP_EXIT)
		snprintf(detail, sizeof(detail), "%s", supv_exit_kind_name(ev->exit));
	/* Only the root reports, on its own thread: lines cannot mix. */
	printf("[%6.3fs] %-8s %-*s%s\n", (double)(ev->at_ns - t0_ns) / 1e9,
	    supv_event_kind_name(ev->kind), detail[0] != '\0' ? 12 : 0, who, detail);
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
build(struct supv **root, struct pipeline *p)
{
	static const struct {
		const char   *id;
		supv_work_fn *fn;
	} stage[] = {
		{ "reader", reader_main },
		{ "transformer", transformer_main },
		{ "writer", writer_main },
	};
	int rc;

	/* Up to 10 restarts in 5 s: a crash every ~0.7 s is well within. */
	if ((rc = supv_new(root, &(struct supv_opts){ .name = "pipeline",
	    .strategy = SUPV_REST_FOR_ONE, .intensity = 10, .period_ms = 5000,
	    .on_event = on_event })) != 0)
		return rc;
	for (size_t i = 0; i < sizeof(stage) / sizeof(stage[0]); i++)
		if ((rc = supv_add_worker(*root, &(struct supv_child_opts){
		    .id = stage[i].id, .ready_ms = 1000 }, stage[i].fn, p)) != 0)
			return rc;
	return 0;
}

int
main(void)
{
	static struct pipeline p;
	struct supv *root = NULL;
	enum supv_exit_kind why;
	struct timespec ts;
	long queued, accounted;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	t0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	atomic_init(&p.last_written, -1);
	if ((rc = queue_init(&p.raw)) != 0 || (rc = queue_init(&p.cooked)) != 0) {
		fprintf(stderr, "pipeline: %s\n", strerror(rc));
		return 1;
	}
	if ((rc = build(&root, &p)) != 0 || (rc = supv_start(root)) != 0) {
		fprintf(stderr, "pipeline: %s\n", strerror(rc));
		supv_free(root);
		return 1;
	}

	ts = (struct timespec){ .tv_sec = run_seconds(3) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	/* The writer stops first, the reader last: nothing is pushed after. */
	if ((rc = supv_stop(root)) != 0 || (rc = supv_wait(root, &why)) != 0) {
		fprintf(stderr, "pipeline: %s\n", strerror(rc));
		supv_free(root);
		return 1;
	}
	supv_free(root);

	queued = (long)queue_len(&p.raw) + (long)queue_len(&p.cooked);
	accounted = atomic_load(&p.written) + atomic_load(&p.crashed) +
	    atomic_load(&p.dropped) + queued;
	printf("totals: read %ld, transformed %ld, written %ld\n",
	    atomic_load(&p.read), atomic_load(&p.transformed), atomic_load(&p.written));
	printf("        lost in crashes %ld (the writer saw %ld missing),"
	    " dropped at the stop %ld, still queued %ld\n",
	    atomic_load(&p.crashed), atomic_load(&p.gaps), atomic_load(&p.dropped),
	    queued);
	queue_destroy(&p.raw);
	queue_destroy(&p.cooked);
	if (why != SUPV_EXIT_SHUTDOWN) {
		fprintf(stderr, "pipeline: the tree ended as %s\n",
		    supv_exit_kind_name(why));
		return 1;
	}
	if (accounted != atomic_load(&p.read)) {
		fprintf(stderr, "pipeline: %ld records read but %ld accounted for\n",
		    atomic_load(&p.read), accounted);
		return 1;
	}
	printf("every record read is accounted for\n");
	return 0;
}
