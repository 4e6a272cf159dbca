/*
 * heartbeat.c - hang detection.
 *
 * supv_heartbeat() is one relaxed store of a counter the worker alone
 * writes: no lock, no system call, no read-modify-write, no clock.  The
 * supervisor samples the counters of its monitored children every quarter
 * of their heartbeat_ms.  Children of one supervisor with the same period
 * form a group (struct hb_group) with one timer, on a grid, and each round
 * samples the whole group as a flat batch: one clock reading before the
 * loads and one after, and no ordered structure touched per child.  So a
 * thousand monitored workers cost the supervisor one timer and about one
 * cache line each per round, and a tree with none never wakes.
 *
 * A round that finds a child's counter moved records the round, and the
 * clock reading taken after all the round's loads stands for its last beat
 * (the beat came before it); a round that finds it
 * unmoved decides with the reading taken before the loads (the worker was
 * quiet at least until then).  A child is hung at the first round at or
 * after heartbeat_ms past its last beat, and a quiet child's deadline is
 * itself a round.  So it is never declared hung early, and at most one
 * step late: the worker does not read the clock,
 * so its last beat is known only to within a step.  Sampling finer would
 * cut that lateness, at a cost in CPU in proportion; supv_heartbeat(3)
 * gives the measured trade-off.  The thread's CPU clock, read once a
 * child has gone quiet, tells a spinning hang from a blocked one.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/core.h"

#define HB_SAMPLES 4

static uint64_t
hb_step(unsigned heartbeat_ms)
{
	uint64_t q = (uint64_t)heartbeat_ms * NS_PER_MS / HB_SAMPLES;

	return q < NS_PER_MS ? NS_PER_MS : q;
}

/* The next round after now, on the group's grid. */
static uint64_t
grid_after(const struct hb_group *g, uint64_t now)
{
	return (now / g->step + 1) * g->step;
}

static uint64_t
thread_cpu_ns(const struct supv_worker *r)
{
	struct timespec ts;

	if (!r->has_cpuclock || clock_gettime(r->cpuclock, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The group of c's period in s, c's owner, if c is counted in one: found
 * by its period, among the few periods of s's children (a pointer in
 * every spec cost 8 bytes a child).  Tree's lock held.
 */
static struct hb_group *
hb_group(const struct supv *s, const struct child *c)
{
	struct hb_group *g;

	if (!c->hb_linked)
		return NULL;
	TAILQ_FOREACH(g, &s->hbgroups, link)
		if (g->heartbeat_ms == c->heartbeat_ms)
			return g;
	return NULL;	/* not reached: a linked spec's group lives */
}

/*
 * A linked spec with a heartbeat joins the group of its period, made if
 * it is the first: 0 or ENOMEM.  Called with the tree's lock held.
 */
int
supv__hb_link(struct supv *s, struct child *c)
{
	struct hb_group *g;

	if (c->heartbeat_ms == 0)
		return 0;
	TAILQ_FOREACH(g, &s->hbgroups, link)
		if (g->heartbeat_ms == c->heartbeat_ms)
			break;
	if (g == NULL) {
		if ((g = supv__xcalloc(1, sizeof(*g))) == NULL)
			return ENOMEM;
		TAILQ_INIT(&g->kids);
		g->heartbeat_ms = c->heartbeat_ms;
		g->step = hb_step(c->heartbeat_ms);
		g->at = NO_DEADLINE;
		TAILQ_INSERT_TAIL(&s->hbgroups, g, link);
	}
	g->nspecs++;
	c->hb_linked = true;
	return 0;
}

void
supv__hb_unlink(struct supv *s, struct child *c)
{
	struct hb_group *g = hb_group(s, c);

	supv__hb_unwatch(s, c);
	if (g == NULL)
		return;
	c->hb_linked = false;
	if (--g->nspecs == 0) {
		TAILQ_REMOVE(&s->hbgroups, g, link);
		free(g);
	}
}

/*
 * When c's last beat is known to have come by (ns).  A round that sees a
 * beat records only its own number: every round samples every child of
 * the group, so the next one either sees another beat or finds it quiet
 * and fixes the time (sample_round), and between rounds the number is
 * always the last round's.  Tree's lock held, between rounds.
 */
uint64_t
supv__hb_last(const struct child *c)
{
	const struct hb_group *g;

	return c->hb_round != 0 && (g = hb_group(c->owner, c)) != NULL ? g->end :
	    c->hb_last;
}

/* Starts monitoring c from now.  Called on s's loop with the tree's lock held. */
void
supv__hb_watch(struct supv *s, struct child *c, uint64_t now)
{
	struct hb_group *g;

	if (c->run == NULL || c->monitored || (g = hb_group(s, c)) == NULL)
		return;
	c->hb_seen = atomic_load_explicit(&c->run->beat, memory_order_relaxed);
	c->hb_last = now;
	c->hb_round = 0;
	c->hb_cpu_at = 0;
	if (TAILQ_EMPTY(&g->kids))
		g->at = grid_after(g, now);
	TAILQ_INSERT_TAIL(&g->kids, c, hblink);
	c->monitored = true;
}

void
supv__hb_unwatch(struct supv *s, struct child *c)
{
	if (!c->monitored)
		return;
	if (c->hb_found) {
		TAILQ_REMOVE(&s->hbfound, c, hblink);
		c->hb_found = false;
	} else {
		struct hb_group *g = hb_group(s, c);

		TAILQ_REMOVE(&g->kids, c, hblink);
		if (TAILQ_EMPTY(&g->kids))
			g->at = NO_DEADLINE;
	}
	c->monitored = false;
}

uint64_t
supv__hb_next(struct supv *s)
{
	struct hb_group *g;
	uint64_t next = NO_DEADLINE;

	if (!TAILQ_EMPTY(&s->hbfound))
		return 0;
	TAILQ_FOREACH(g, &s->hbgroups, link)
		if (g->at < next)
			next = g->at;
	return next;
}

/*
 * One round of g: every child sampled, those found hung moved to
 * s->hbfound.  now was read before the first load.
 */
static void
sample_round(struct supv *s, struct hb_group *g, uint64_t now)
{
	uint64_t hb = (uint64_t)g->heartbeat_ms * NS_PER_MS, round = g->rounds + 1;
	uint64_t due = grid_after(g, now);
	struct child *c, *next;

	for (c = TAILQ_FIRST(&g->kids); c != NULL; c = next) {
		struct supv_worker *r = c->run;
		unsigned long v = atomic_load_explicit(&r->beat, memory_order_relaxed);
		uint64_t until, last;

		next = TAILQ_NEXT(c, hblink);
		if (next != NULL)
			__builtin_prefetch(next->run);
		if (v != c->hb_seen) {
			/* Its time is this round's end, read after every load. */
			c->hb_seen = v;
			c->hb_round = round;
			c->hb_cpu_at = 0;
			continue;
		}
		if (c->hb_round != 0) {
			/* Quiet since the last round, which saw its beat. */
			c->hb_last = g->end;
			c->hb_round = 0;
		}
		if (now - (last = c->hb_last) < hb) {
			/*
			 * Quiet so far.  Within a step of its deadline it
			 * takes the CPU reading that tells spinning from
			 * blocked (a system call: not for workers that beat
			 * in time), and the deadline itself is a round.
			 */
			if (c->hb_cpu_at == 0 && now + g->step >= last + hb) {
				c->hb_cpu = thread_cpu_ns(r);
				c->hb_cpu_at = now;
			}
			if (last + hb < due)
				due = last + hb;
			continue;
		}
		if (r->exited)
			continue;	/* its exit is handled instead */
		until = atomic_load_explicit(&r->ext_until, memory_order_acquire);
		if (until > now &&
		    atomic_load_explicit(&r->ext_beat, memory_order_relaxed) == v) {
			if (until < due)
				due = until;
			continue;	/* supv_extend(): not yet */
		}
		/* Spinning: it used over half a CPU while quiet. */
		c->hb_spinning = c->hb_cpu_at != 0 && now > c->hb_cpu_at &&
		    (thread_cpu_ns(r) - c->hb_cpu) * 2 > now - c->hb_cpu_at;
		TAILQ_REMOVE(&g->kids, c, hblink);
		TAILQ_INSERT_TAIL(&s->hbfound, c, hblink);
		c->hb_found = true;
	}
	g->end = supv__now_ns();
	g->rounds = round;
	g->at = TAILQ_EMPTY(&g->kids) ? NO_DEADLINE : due;
}

/*
 * Samples the groups whose round has come.  Returns the first child found
 * hung (no longer monitored), for the loop to stop, or NULL; the loop
 * calls it again for the next.  Called on s's loop with the tree's lock held.
 */
struct child *
supv__hb_check_due(struct supv *s, bool *spinning)
{
	struct hb_group *g;
	struct child *c;

	if (TAILQ_EMPTY(&s->hbfound)) {
		uint64_t now = supv__now_ns();

		TAILQ_FOREACH(g, &s->hbgroups, link)
			if (g->at <= now)
				sample_round(s, g, now);
	}
	if ((c = TAILQ_FIRST(&s->hbfound)) == NULL)
		return NULL;
	TAILQ_REMOVE(&s->hbfound, c, hblink);
	c->hb_found = false;
	c->monitored = false;
	*spinning = c->hb_spinning;
	return c;
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
