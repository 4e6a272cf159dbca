/*
 * heartbeat.c - hang detection.
 *
 * supv_heartbeat() is one relaxed store of a counter the worker alone
 * writes: no lock, no system call, no read-modify-write, no clock.  The
 * supervisor samples the counters of its monitored children every quarter
 * of their heartbeat_ms, on a grid shared by every child with the same
 * period, so a thousand monitored workers cost the supervisor one timer
 * (and a tree with none never wakes).  A sample that finds the counter
 * moved records a clock reading taken after the load as the last beat
 * (the beat came before it); one that finds it unmoved decides with a
 * reading taken before the load (the worker was quiet at least until
 * then).  A child is hung at the first sample, or at the exact deadline,
 * heartbeat_ms after its last beat.  So it is never declared hung early, and at most one sampling step late: the
 * worker does not read the clock, so its last beat is known only to
 * within a step.  The thread's CPU clock, read once a child has gone
 * quiet, tells a spinning hang from a blocked one.
 */
#include <errno.h>

#include "supervise_internal.h"

#define HB_SAMPLES 4

static int
child_cmp_hb(struct child *a, struct child *b)
{
	if (a->hb_at != b->hb_at)
		return a->hb_at < b->hb_at ? -1 : 1;
	return a < b ? -1 : a > b;
}

RB_GENERATE_FILE(child_hb, child, hbnode, child_cmp_hb)

static uint64_t
hb_step(const struct child *c)
{
	uint64_t q = (uint64_t)c->heartbeat_ms * NS_PER_MS / HB_SAMPLES;

	return q < NS_PER_MS ? NS_PER_MS : q;
}

/* The next sample after now, on the child's grid. */
static uint64_t
hb_grid_after(const struct child *c, uint64_t now)
{
	uint64_t q = hb_step(c);

	return (now / q + 1) * q;
}

/* Monitors c again from its next sample at.  Called with the tree's lock held. */
static void
hb_schedule(struct supv *s, struct child *c, uint64_t at)
{
	c->hb_at = at;
	RB_INSERT(child_hb, &s->hb, c);
	c->monitored = true;
}

static uint64_t
thread_cpu_ns(const struct supv_worker *r)
{
	struct timespec ts;

	if (!r->has_cpuclock || clock_gettime(r->cpuclock, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Starts monitoring c from now.  Called on s's loop with the tree's lock held. */
void
supv__hb_watch(struct supv *s, struct child *c, uint64_t now)
{
	if (c->heartbeat_ms == 0 || c->run == NULL || c->monitored)
		return;
	c->hb_seen = atomic_load_explicit(&c->run->beat, memory_order_relaxed);
	c->hb_last = now;
	c->hb_cpu_at = 0;
	hb_schedule(s, c, hb_grid_after(c, now));
}

void
supv__hb_unwatch(struct supv *s, struct child *c)
{
	if (!c->monitored)
		return;
	RB_REMOVE(child_hb, &s->hb, c);
	c->monitored = false;
}

uint64_t
supv__hb_next(struct supv *s)
{
	struct child *c = RB_MIN(child_hb, &s->hb);

	return c != NULL ? c->hb_at : NO_DEADLINE;
}

/*
 * Samples the children whose time has come.  Returns the first one found
 * hung (no longer monitored), for the loop to stop, or NULL.  Called on
 * s's loop with the tree's lock held.
 */
struct child *
supv__hb_check_due(struct supv *s, bool *spinning)
{
	struct child *c;
	uint64_t due = supv__now_ns();

	while ((c = RB_MIN(child_hb, &s->hb)) != NULL && c->hb_at <= due) {
		struct supv_worker *r = c->run;
		uint64_t hb = (uint64_t)c->heartbeat_ms * NS_PER_MS;
		uint64_t now, next, until;
		unsigned long v;

		supv__hb_unwatch(s, c);
		if (r->exited)
			continue;	/* its exit is handled instead */
		/* Read before the load: quiet at least until now. */
		now = supv__now_ns();
		v = atomic_load_explicit(&r->beat, memory_order_relaxed);
		next = hb_grid_after(c, now);
		if (v != c->hb_seen) {
			/* Read after the load: the beat came before it. */
			c->hb_seen = v;
			c->hb_last = supv__now_ns();
			c->hb_cpu_at = 0;
		} else if (now - c->hb_last >= hb) {
			until = atomic_load_explicit(&r->ext_until, memory_order_acquire);
			if (until <= now ||
			    atomic_load_explicit(&r->ext_beat, memory_order_relaxed) != v) {
				/* Spinning: it used over half a CPU while quiet. */
				*spinning = c->hb_cpu_at != 0 && now > c->hb_cpu_at &&
				    (thread_cpu_ns(r) - c->hb_cpu) * 2 >
				    now - c->hb_cpu_at;
				return c;
			}
			if (until < next)
				next = until;
		} else {
			/*
			 * Quiet so far: the first quiet sample takes the CPU
			 * reading that tells spinning from blocked, and the
			 * deadline itself is checked exactly when it comes
			 * before the next grid point.
			 */
			if (c->hb_cpu_at == 0) {
				c->hb_cpu = thread_cpu_ns(r);
				c->hb_cpu_at = now;
			}
			if (c->hb_last + hb < next)
				next = c->hb_last + hb;
		}
		hb_schedule(s, c, next);
	}
	return NULL;
}

SUPV_EXPORT void
supv_heartbeat(struct supv_worker *self)
{
	if (self == NULL)
		return;
	/* Only this worker writes beat: a plain increment, then one store. */
	atomic_store_explicit(&self->beat, ++self->beat_local, memory_order_relaxed);
}

SUPV_EXPORT int
supv_extend(struct supv_worker *self, unsigned ms)
{
	uint64_t until;

	if (self == NULL || ms == 0)
		return EINVAL;
	until = ms == SUPV_INFINITY ? NO_DEADLINE : supv__deadline_after_ms(supv__now_ns(),
	    ms == SUPV_ZERO ? 0 : ms);
	atomic_store_explicit(&self->ext_beat, self->beat_local, memory_order_relaxed);
	atomic_store_explicit(&self->ext_until, until, memory_order_release);
	return 0;
}
