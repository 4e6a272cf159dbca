/*
 * heartbeat.c - hang detection.
 *
 * supv_heartbeat() is one relaxed store of a counter the worker alone
 * writes: no lock, no system call, no read-modify-write, no clock.  The
 * supervisor samples the counters of its monitored children every quarter
 * of their heartbeat_ms.  Children of one supervisor with the same period
 * form a group (struct hb_group) with one timer, on a grid, and each round
 * samples the whole group as a flat batch: one clock reading before the
 * loads and one after.  The group keeps its monitored children in an
 * array of slots (run, last beat, the count seen), so that a round walks
 * memory in order and fetches the runs' beats ahead rather than chasing
 * a list from child to child: a thousand monitored workers cost the
 * supervisor one timer and, per round, one cache line each (the beat the
 * worker wrote) and half of one for its slot.  A tree with none never
 * wakes.
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
#include <assert.h>
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
 * Room in g's slots for every linked spec, so that watching never
 * allocates: 0 or ENOMEM, g unchanged then.  Shrinks when a quarter is
 * used (a failure to shrink keeps the larger array).
 */
static int
hb_reserve(struct hb_group *g)
{
	struct hb_slot *p;
	unsigned cap;

	if (g->nspecs <= g->cap && g->nspecs >= g->cap / 4)
		return 0;
	cap = g->nspecs <= g->cap ? g->cap / 2 : (g->cap < 8 ? 8 : g->cap * 2);
	if (cap < g->nslots)
		return 0;	/* not reached: a watched spec is linked */
	if (cap == 0) {
		free(g->slots);
		g->slots = NULL;
		g->cap = 0;
		return 0;
	}
	if ((p = reallocarray(g->slots, cap, sizeof(*p))) == NULL)
		return g->nspecs <= g->cap ? 0 : ENOMEM;
	g->slots = p;
	g->cap = cap;
	return 0;
}

/*
 * A linked spec with a heartbeat joins the group of its period, made if
 * it is the first: 0 or ENOMEM, nothing changed then.  Called with the
 * tree's lock held.
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
		g->heartbeat_ms = c->heartbeat_ms;
		g->step = hb_step(c->heartbeat_ms);
		g->at = NO_DEADLINE;
		TAILQ_INSERT_TAIL(&s->hbgroups, g, link);
	}
	g->nspecs++;
	if (hb_reserve(g) != 0) {
		if (--g->nspecs == 0) {
			TAILQ_REMOVE(&s->hbgroups, g, link);
			free(g);
		}
		return ENOMEM;
	}
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
		free(g->slots);
		free(g);
	} else {
		(void)hb_reserve(g);
	}
}

/* Frees s's groups.  Tree's lock held, or s no longer shared. */
void
supv__hb_destroy(struct supv *s)
{
	struct hb_group *g;

	while ((g = TAILQ_FIRST(&s->hbgroups)) != NULL) {
		TAILQ_REMOVE(&s->hbgroups, g, link);
		free(g->slots);
		free(g);
	}
}

/* Takes slot i out of g: the last slot moves into its place. */
static void
slot_remove(struct hb_group *g, unsigned i)
{
	if (i != --g->nslots) {
		g->slots[i] = g->slots[g->nslots];
		g->slots[i].child->hb_slot = i;
	}
	if (g->nslots == 0)
		g->at = NO_DEADLINE;
}

/*
 * When c's last beat is known to have come by (ns), and the beat count
 * the last round saw (low bits).  A round that sees a beat only marks the
 * slot fresh: every round samples every child of the group, so the next
 * one either sees another beat or finds it quiet and fixes the time
 * (sample_round), and between rounds a fresh slot's beat came by the end
 * of the last round.  Tree's lock held, between rounds, c monitored
 * (in a slot, or found hung and not yet handed to the loop).
 */
uint64_t
supv__hb_last(const struct child *c, uint32_t *seen)
{
	const struct hb_group *g;
	const struct hb_slot *sl;

	if (c->hb_found) {
		/* Found hung, not yet handed to the loop: out of the slots. */
		*seen = c->hb_fseen;
		return c->hb_flast;
	}
	g = hb_group(c->owner, c);
	assert(c->hb_slot < g->nslots && g->slots[c->hb_slot].child == c);
	sl = &g->slots[c->hb_slot];
	*seen = sl->seen;
	return sl->fresh ? g->end : sl->last;
}

/* Starts monitoring c from now.  Called on s's loop with the tree's lock held. */
void
supv__hb_watch(struct supv *s, struct child *c, uint64_t now)
{
	struct hb_group *g;
	struct hb_slot *sl;

	if (c->run == NULL || c->monitored || (g = hb_group(s, c)) == NULL)
		return;
	/* Not reached past cap: a linked spec has its room (hb_reserve). */
	assert(g->nslots < g->cap);
	sl = &g->slots[g->nslots];
	sl->run = c->run;
	sl->child = c;
	sl->seen = (uint32_t)atomic_load_explicit(&c->run->beat, memory_order_relaxed);
	sl->fresh = 0;
	sl->last = now;
	c->hb_slot = g->nslots++;
	c->hb_cpu_at = 0;
	if (g->nslots == 1)
		g->at = grid_after(g, now);
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

		assert(c->hb_slot < g->nslots && g->slots[c->hb_slot].child == c);
		slot_remove(g, c->hb_slot);
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
 * A slot quiet since its last beat, at or past its deadline: true if it
 * is hung (then moved to s->hbfound), false if its exit is pending or
 * supv_extend() holds it (*due lowered to the extension's end).
 */
static bool
quiet_too_long(struct supv *s, struct hb_slot *sl, uint64_t now, uint64_t *due)
{
	struct supv_worker *r = sl->run;
	struct child *c = sl->child;
	uint64_t until;

	if (r->exited)
		return false;	/* its exit is handled instead */
	until = atomic_load_explicit(&r->ext_until, memory_order_acquire);
	if (until > now && (uint32_t)atomic_load_explicit(&r->ext_beat,
	    memory_order_relaxed) == sl->seen) {
		if (until < *due)
			*due = until;
		return false;	/* supv_extend(): not yet */
	}
	/* Spinning: it used over half a CPU while quiet. */
	c->hb_spinning = c->hb_cpu_at > sl->last && now > c->hb_cpu_at &&
	    (thread_cpu_ns(r) - c->hb_cpu) * 2 > now - c->hb_cpu_at;
	/* From here on the found state's fields, over the monitored ones. */
	TAILQ_INSERT_TAIL(&s->hbfound, c, hblink);
	c->hb_flast = sl->last;
	c->hb_fseen = sl->seen;
	c->hb_found = true;
	return true;
}

/* How far ahead a round fetches the beat of a run. */
#define HB_AHEAD 8

/*
 * One round of g: every child sampled, those found hung moved to
 * s->hbfound.  now was read before the first load.
 */
static void
sample_round(struct supv *s, struct hb_group *g, uint64_t now)
{
	uint64_t hb = (uint64_t)g->heartbeat_ms * NS_PER_MS;
	uint64_t due = grid_after(g, now), end = g->end;
	unsigned i, k;

	for (k = 0; k < HB_AHEAD && k < g->nslots; k++)
		__builtin_prefetch(&g->slots[k].run->beat);
	for (i = 0; i < g->nslots;) {
		struct hb_slot *sl = &g->slots[i];
		uint32_t v = (uint32_t)atomic_load_explicit(&sl->run->beat,
		    memory_order_relaxed);

		if (i + HB_AHEAD < g->nslots)
			__builtin_prefetch(&g->slots[i + HB_AHEAD].run->beat);
		if (v != sl->seen) {
			/* Its time is this round's end, read after every load. */
			sl->seen = v;
			sl->fresh = 1;
			i++;
			continue;
		}
		if (sl->fresh) {
			/* Quiet since the last round, which saw its beat. */
			sl->last = end;
			sl->fresh = 0;
		}
		if (now - sl->last < hb) {
			struct child *c = sl->child;

			/*
			 * Quiet so far.  Within a step of its deadline it
			 * takes the CPU reading that tells spinning from
			 * blocked (a system call: not for workers that beat
			 * in time), and the deadline itself is a round.
			 */
			if (now + g->step >= sl->last + hb && c->hb_cpu_at <= sl->last) {
				c->hb_cpu = thread_cpu_ns(sl->run);
				c->hb_cpu_at = now;
			}
			if (sl->last + hb < due)
				due = sl->last + hb;
			i++;
			continue;
		}
		if (quiet_too_long(s, sl, now, &due))
			slot_remove(g, i);	/* slot i is the next one now */
		else
			i++;
	}
	g->end = supv__now_ns();
	g->at = g->nslots == 0 ? NO_DEADLINE : due;
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
