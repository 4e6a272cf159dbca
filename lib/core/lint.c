/*
 * lint.c - supv_check(): a linter for a tree's configuration.  It
 * reports what cannot behave as written: restarts that can never add up
 * to a supervisor's intensity (backoff, graces, nested windows, as in
 * erlang/otp#1287), heartbeats finer than the sampler, and a hung run
 * that could never be replaced.  Each rule is a bound that holds on any
 * machine, so a finding is never a matter of speed.  Reads the specs
 * with the tree's lock held, and calls no user code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

/* The sampler's finest step (heartbeat.c samples each child 4 times a period, 1 ms at least). */
#define CHECK_HB_MIN_MS 4

#define NEVER UINT64_MAX

struct out {
	char   *buf;
	size_t  size;
	size_t  len;      /* what would have been written */
	int     n;        /* findings */
	bool    err;
	bool    nomem;
};

static void
finding(struct out *o, const char *path, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int k, m;

	va_start(ap, fmt);
	k = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (k < 0) {
		o->err = true;
		return;
	}
	m = snprintf(o->len < o->size ? o->buf + o->len : NULL,
	    o->len < o->size ? o->size - o->len : 0, "%s: %s\n", path, line);
	if (m < 0) {
		o->err = true;
		return;
	}
	o->len += (size_t)m;
	o->n++;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > NEVER - b ? NEVER : a + b;
}

static uint64_t sup_fastest_give_up(const struct supv *s);

/*
 * The shortest time (ms) in which n consecutive restarts of c can follow
 * each other: each waits at least half its backoff step (the jitter's
 * floor), and a child supervisor must give up again before each one.
 * NEVER if it cannot restart that often at all.  Stops counting at cap.
 */
static uint64_t
fastest_restarts(const struct child *c, unsigned n, uint64_t cap)
{
	uint64_t sum = 0, d = c->backoff_ms, sub = 0;
	unsigned k;

	if (c->sup != NULL && (sub = sup_fastest_give_up(c->sup)) == NEVER)
		return NEVER;
	for (k = 1; k <= n && sum < cap; k++) {
		uint64_t step = d < c->backoff_max_ms ? d : c->backoff_max_ms;

		sum = sat_add(sum, sat_add(step / 2, sub));
		if (d < c->backoff_max_ms)
			d *= 2;
	}
	return sum;
}

/*
 * The shortest time (ms) in which s can give up: intensity + 1 restarts
 * of one of its children within its period.  NEVER with an infinite
 * intensity or no child that restarts.
 */
static uint64_t
sup_fastest_give_up(const struct supv *s)
{
	uint64_t best = NEVER, t;
	const struct child *c;

	if (s->win.intensity == SUPV_INFINITY)
		return NEVER;
	TAILQ_FOREACH(c, &s->children, order) {
		if (c->restart == SUPV_TEMPORARY)
			continue;
		t = fastest_restarts(c, s->win.intensity, best);
		if (t < best)
			best = t;
	}
	return best;
}

static void
check_child(struct out *o, const struct supv *s, const struct child *c,
    const char *path)
{
	const struct window *w = &s->win;
	uint64_t t;

	if (c->sup == NULL && c->heartbeat_ms != 0 && c->shutdown_ms == SUPV_INFINITY)
		finding(o, path, "heartbeat_ms %u with an infinite shutdown_ms: a run "
		    "found hung that ignores its stop is never replaced",
		    c->heartbeat_ms);
	if (c->sup == NULL && c->heartbeat_ms != 0 &&
	    c->heartbeat_ms < CHECK_HB_MIN_MS)
		finding(o, path, "heartbeat_ms %u is finer than the sampler: it "
		    "samples every 1 ms at best, so a hang may be seen up to "
		    "1 ms late; use %u or more", c->heartbeat_ms, CHECK_HB_MIN_MS);
	/* The rest is about adding up to the intensity, when there is one. */
	if (w->intensity == SUPV_INFINITY || w->intensity == 0 ||
	    w->period_ms == UINT64_MAX || c->restart == SUPV_TEMPORARY)
		return;
	if (c->sup == NULL && c->heartbeat_ms != 0 &&
	    c->shutdown_ms != SUPV_INFINITY &&
	    c->shutdown_ms > w->period_ms)
		finding(o, path, "shutdown_ms %llu is longer than the period_ms "
		    "%llu of %s: a hung run that ignores its stop takes longer "
		    "than the period to replace, so its hangs alone can never "
		    "exceed its intensity", (unsigned long long)c->shutdown_ms,
		    (unsigned long long)w->period_ms, s->name);
	t = fastest_restarts(c, w->intensity, w->period_ms);
	if (t == NEVER || t < w->period_ms)
		return;
	if (c->sup != NULL)
		finding(o, path, "cannot give up in less than %llu ms, so %u of its "
		    "restarts take at least %llu ms, not less than the period_ms "
		    "%llu of %s: it can never give its parent up "
		    "(nested windows that do not nest)",
		    (unsigned long long)sup_fastest_give_up(c->sup), w->intensity,
		    (unsigned long long)t, (unsigned long long)w->period_ms,
		    s->name);
	else
		finding(o, path, "backoff_ms %u (up to %u): %u restarts take at "
		    "least %llu ms, not less than the period_ms %llu of %s: its "
		    "restarts alone can never exceed its intensity",
		    c->backoff_ms, c->backoff_max_ms, w->intensity,
		    (unsigned long long)t, (unsigned long long)w->period_ms,
		    s->name);
}

/* Each child of s, and the subtree below, named by path from top. */
static void
check_sup(struct out *o, const struct supv *top, const struct supv *s)
{
	const struct child *c;

	TAILQ_FOREACH(c, &s->children, order) {
		struct supv__buf path = { 0 };

		supv__buf_path(&path, top, s);
		supv__buf_put(&path, "/", 1);
		supv__buf_pathpart(&path, c->id);
		if (path.failed)
			o->nomem = true;
		else
			check_child(o, s, c, path.p);
		free(path.p);
		if (c->sup != NULL)
			check_sup(o, top, c->sup);
	}
}

SUPV_EXPORT int
supv_check(struct supv *root, char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };

	if (root == NULL || (buf == NULL && size != 0)) {
		errno = EINVAL;
		return -1;
	}
	if (size != 0)
		buf[0] = '\0';
	supv__lock_sup(root);
	check_sup(&o, root, root);
	supv__unlock_sup(root);
	if (o.err || o.nomem) {
		errno = o.nomem ? ENOMEM : EOVERFLOW;
		return -1;
	}
	return o.n;
}
