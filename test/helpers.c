/* helpers.c - the shared part of the test suites. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tests.h"

void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
}

void
rec_destroy(struct rec *r)
{
	pthread_mutex_destroy(&r->mu);
}

void
rec_cb(const struct supv_event *ev, void *arg)
{
	struct rec *r = arg;

	pthread_mutex_lock(&r->mu);
	if (r->n < REC_MAX) {
		struct rec_ev *e = &r->ev[r->n++];

		e->kind = ev->kind;
		snprintf(e->sup, sizeof(e->sup), "%s", ev->sup ? ev->sup : "");
		snprintf(e->child, sizeof(e->child), "%s", ev->child ? ev->child : "");
		e->exit = ev->exit;
		e->code = ev->code;
		e->restarts = ev->restarts;
		e->delay_ms = ev->delay_ms;
		e->at_ns = ev->at_ns;
		e->spinning = ev->spinning;
	}
	pthread_mutex_unlock(&r->mu);
	if (r->hook != NULL)
		r->hook(ev, r->hook_arg);
}

static bool
match(const struct rec_ev *e, enum supv_event_kind kind, const char *child)
{
	return e->kind == kind && (child == NULL || strcmp(e->child, child) == 0);
}

unsigned
rec_count(struct rec *r, enum supv_event_kind kind, const char *child)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		n += match(&r->ev[i], kind, child);
	pthread_mutex_unlock(&r->mu);
	return n;
}

unsigned
rec_wait(struct rec *r, enum supv_event_kind kind, const char *child, unsigned n)
{
	POLL_UNTIL(rec_count(r, kind, child) >= n, WAIT_MS);
	return rec_count(r, kind, child);
}

unsigned
rec_snapshot(struct rec *r, struct rec_ev *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	memcpy(out, r->ev, sizeof(*out) * (n < max ? n : max));
	pthread_mutex_unlock(&r->mu);
	return n;
}

int
rec_find(struct rec *r, enum supv_event_kind kind, const char *child, unsigned i)
{
	unsigned k;
	int at = -1;

	pthread_mutex_lock(&r->mu);
	for (k = 0; k < r->n; k++)
		if (match(&r->ev[k], kind, child) && i-- == 0) {
			at = (int)k;
			break;
		}
	pthread_mutex_unlock(&r->mu);
	return at;
}

void
rec_dump(struct rec *r)
{
	unsigned i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		const struct rec_ev *e = &r->ev[i];

		fprintf(stderr, "  %3u %-8s %-12s %-10s exit=%s code=%d restarts=%u delay=%u\n",
		    i, e->sup, supv_event_kind_name(e->kind), e->child,
		    supv_exit_kind_name(e->exit), e->code, e->restarts, e->delay_ms);
	}
	pthread_mutex_unlock(&r->mu);
}

int
w_sleeper(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

int
w_fail(struct supv_worker *self, void *arg)
{
	(void)self;
	return (int)(intptr_t)arg;
}

int
w_exit(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	pthread_exit(NULL);
}

int
w_ignore(struct supv_worker *self, void *arg)
{
	(void)self;
	sleep_ms((unsigned)(intptr_t)arg);
	return 0;
}

int
w_beat(struct supv_worker *self, void *arg)
{
	(void)arg;
	do
		supv_heartbeat(self);
	while (supv_sleep(self, 5) == 0);
	return 0;
}

int
w_ready(struct supv_worker *self, void *arg)
{
	supv_ready(self);
	return w_sleeper(self, arg);
}

void
count_free(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}
