/*
 * restart.c - what an exit means, decided once (supv__decide: nothing, a
 * deletion, a restart of which children after what delay, giving up, an
 * auto-shutdown, and the rule that decided) and counted once
 * (supv__verdict_commit); the loop and the same-thread path both act on
 * it.  Also the restart intensity window, and backoff delays (shared
 * with task retries).
 *
 * The window keeps the times of the restarts that may still be inside it,
 * oldest first, in a ring of intensity + 1 slots.  Adding a restart drops
 * the entries that have left the window (each entry is dropped once, so
 * that is O(1) amortized) and pushes the new one: the supervisor gives up
 * when the ring then holds more than intensity entries.  Nothing is
 * allocated after supv__window_init().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int
supv__window_init(struct window *w, unsigned intensity, unsigned period_ms)
{
	w->ts = NULL;
	w->cap = w->head = w->len = 0;
	w->intensity = intensity;
	w->period_ms = period_ms == SUPV_INFINITY ? UINT64_MAX : period_ms;
	if (intensity == SUPV_INFINITY)
		return 0;
	w->cap = intensity + 1;
	if ((w->ts = supv__xcalloc(w->cap, sizeof(*w->ts))) == NULL)
		return ENOMEM;
	return 0;
}

void
supv__window_reset(struct window *w)
{
	w->head = w->len = 0;
}

void
supv__window_free(struct window *w)
{
	free(w->ts);
	w->ts = NULL;
}

static void
window_expire(struct window *w, uint64_t now_ms)
{
	while (w->len > 0) {
		uint64_t t = w->ts[w->head];

		/* A restart at t counts while now - t < period. */
		if (now_ms - t < w->period_ms)
			break;
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
}

unsigned
supv__window_count(struct window *w, uint64_t now_ms)
{
	if (w->intensity == SUPV_INFINITY)
		return 0;
	window_expire(w, now_ms);
	return w->len;
}

/* Counts one restart at now_ms; true when that exceeds the intensity. */
bool
supv__window_add(struct window *w, uint64_t now_ms)
{
	if (w->intensity == SUPV_INFINITY)
		return false;
	window_expire(w, now_ms);
	w->ts[(w->head + w->len) % w->cap] = now_ms;
	w->len++;
	return w->len > w->intensity;
}

/* Whether one more restart at now_ms would exceed the intensity. */
bool
supv__window_full(struct window *w, uint64_t now_ms)
{
	if (w->intensity == SUPV_INFINITY)
		return false;
	window_expire(w, now_ms);
	return w->len + 1 > w->intensity;
}

/*
 * The delay before restarting c after a counted failure: the k-th
 * consecutive failure waits min(backoff_ms * 2^(k-1), backoff_max_ms),
 * scaled by a random factor in [0.5, 1.0] ("equal jitter", so the cap
 * holds).  A run of at least backoff_reset_ms (when set), else one longer
 * than backoff_max_ms, resets the count; so does supv_ready() with
 * backoff_reset_on_ready.
 */
static unsigned
backoff_delay(const struct child *c, uint64_t ran_ns, unsigned *streak)
{
	unsigned k = c->streak;

	*streak = k;
	if (c->backoff_ms == 0)
		return 0;
	if (c->backoff_reset_ms != 0 ? ran_ns >= supv__backoff_reset_ns(c) :
	    ran_ns > (uint64_t)c->backoff_max_ms * NS_PER_MS)
		k = 0;
	if (k < 64)
		k++;
	*streak = k;
	return supv__backoff_step(c->backoff_ms, c->backoff_max_ms, k);
}

/*
 * One backoff step, for restarts and for a task pool's retries: the delay
 * (ms) after the k-th consecutive failure (k >= 1), min(base_ms *
 * 2^(k-1), max_ms), scaled by a random factor in [0.5, 1.0] ("equal
 * jitter", so the cap always holds).
 */
unsigned
supv__backoff_step(unsigned base_ms, unsigned max_ms, unsigned k)
{
	uint64_t d = base_ms, max = max_ms;

	if (d == 0)
		return 0;
	while (k-- > 1 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	/* d/2 + uniform[0, d - d/2]: from half of d to all of it. */
	d = d / 2 + arc4random_uniform((uint32_t)(d - d / 2 + 1));
	return (unsigned)d;
}

/*
 * The backoff options' rule, for children and task pools alike: the cap
 * (0: the first delay; SUPV_ZERO: 0) may not be below the first delay,
 * which may not be SUPV_INFINITY.  EINVAL if they break it.
 */
int
supv__backoff_check(unsigned base_ms, unsigned max_opt, unsigned *max_ms)
{
	unsigned bmax = max_opt == 0 ? base_ms : max_opt;

	if (base_ms == SUPV_INFINITY)
		return EINVAL;
	if (bmax == SUPV_ZERO)
		bmax = 0;
	if (base_ms != SUPV_ZERO && bmax < base_ms)
		return EINVAL;
	*max_ms = bmax;
	return 0;
}

/* Whether code is in v[from, from + n); v may be NULL when it is empty. */
static bool
has_code(const int *v, unsigned from, unsigned n, int code)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (v[from + i] == code)
			return true;
	return false;
}

/*
 * The rule that decides what an exit of c means, written once: a code the
 * worker returned (kinds NORMAL and FAILURE) that is in one of its lists
 * decides first (escalate, or finished); anything else is decided by its
 * restart type, as in OTP.
 */
enum supv_rule
supv__exit_rule(const struct child *c, enum supv_exit_kind kind, int code)
{
	if (kind == SUPV_EXIT_NORMAL || kind == SUPV_EXIT_FAILURE) {
		const int *codes;

		if (c->n_norestart + c->n_escalate == 0)
			return SUPV_RULE_RESTART_TYPE;
		codes = supv__spec_codes(c);
		if (has_code(codes, c->n_norestart, c->n_escalate, code))
			return SUPV_RULE_ESCALATE_CODE;
		if (has_code(codes, 0, c->n_norestart, code))
			return SUPV_RULE_NO_RESTART_CODE;
	}
	return SUPV_RULE_RESTART_TYPE;
}

/*
 * Whether an exit restarts c, given the rule its codes gave: by its
 * restart type (OTP's), unless one of its code lists decided otherwise
 * (an escalation restarts nothing: the supervisor gives up).
 */
static bool
restart_wanted(const struct child *c, enum supv_exit_kind kind,
    enum supv_rule rule)
{
	if (rule != SUPV_RULE_RESTART_TYPE)
		return false;
	switch (c->restart) {
	case SUPV_PERMANENT:
		return true;
	case SUPV_TRANSIENT:
		return kind != SUPV_EXIT_NORMAL && kind != SUPV_EXIT_SHUTDOWN;
	default:
		return false;
	}
}

/*
 * The children that restart with c under s's strategy, from *first to
 * *last in start order: c alone, every child, or c and those after it.
 */
void
supv__restart_group(const struct supv *s, struct child *c,
    struct child **first, struct child **last)
{
	*first = *last = c;
	if (s->strategy == SUPV_ONE_FOR_ALL)
		*first = TAILQ_FIRST(&s->children);
	if (s->strategy != SUPV_ONE_FOR_ONE)
		*last = TAILQ_LAST(&s->children, child_list);
}

/*
 * What an exit of c means, decided in one place (OTP's add_restart):
 * given how it ended, its code, the rule its codes gave (supv__exit_rule,
 * computed once per exit and carried to its EXIT event) and how long it
 * ran.  Changes nothing but the expiry of old entries of the window: a
 * caller may decide and then not act (the same-thread path, when the
 * verdict is not to restart the child alone at once).  Tree's lock held.
 */
void
supv__decide(struct supv *s, struct child *c, enum supv_exit_kind kind,
    int code, enum supv_rule rule, uint64_t ran_ns, uint64_t now,
    struct supv__verdict *v)
{
	(void)code;
	memset(v, 0, sizeof(*v));
	v->rule = rule;
	v->now = now;
	if (rule == SUPV_RULE_ESCALATE_CODE) {
		/* Its code says so: give up at once, whatever the window holds. */
		v->act = SUPV__ACT_GIVE_UP;
		return;
	}
	if (!restart_wanted(c, kind, rule)) {
		v->act = c->restart == SUPV_TEMPORARY ? SUPV__ACT_DELETE :
		    SUPV__ACT_NONE;
		/* An auto-shutdown follows when this was the significant end. */
		v->shutdown = c->significant &&
		    (s->auto_shutdown == SUPV_AUTO_ANY ||
		    (s->auto_shutdown == SUPV_AUTO_ALL && s->nsig_live == 0));
		return;
	}
	if (supv__window_full(&s->win, now / NS_PER_MS)) {
		v->act = SUPV__ACT_GIVE_UP;
		v->rule = SUPV_RULE_INTENSITY;
		return;
	}
	v->act = SUPV__ACT_RESTART;
	v->delay_ms = backoff_delay(c, ran_ns, &v->streak);
	supv__restart_group(s, c, &v->first, &v->last);
}

/*
 * Counts what the verdict decided, in the one place restarts are counted:
 * a restart (or the one too many that gives up) in the intensity window,
 * the child's failure streak for its backoff.  Tree's lock held.
 */
void
supv__verdict_commit(struct supv *s, struct child *c,
    const struct supv__verdict *v)
{
	if (v->act == SUPV__ACT_RESTART ||
	    (v->act == SUPV__ACT_GIVE_UP && v->rule == SUPV_RULE_INTENSITY))
		(void)supv__window_add(&s->win, v->now / NS_PER_MS);
	if (v->act == SUPV__ACT_RESTART)
		c->streak = v->streak;
}
