/*
 * events.c - delivering events to the application, and their names.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* uncount: the event comes before a restart already counted. */
static void
deliver(struct supv *s, struct supv_event *ev, bool uncount)
{
	supv_event_fn *fn = s->on_event;
	struct dom *d;

	if (fn == NULL)
		return;
	/*
	 * s's loop emits s's events, and so does a worker restarting itself
	 * on its own thread: the emitting token keeps them one at a time and
	 * in order, though no lock is held during the call.
	 */
	while (s->emitting)
		pthread_cond_wait(&s->emit_cv, supv__mu_of(s));
	s->emitting = true;
	ev->sup = s->name;
	ev->at_ns = supv__now_ns();
	ev->restarts = supv__window_count(&s->win, ev->at_ns / NS_PER_MS);
	if (uncount && ev->restarts > 0)
		ev->restarts--;
	d = supv__dom_of(s);
	supv__dom_unlock(d);
	fn(ev, s->event_arg);
	supv__dom_lock(d);
	s->emitting = false;
	pthread_cond_broadcast(&s->emit_cv);
}

static void
emit_ev(struct supv *s, enum supv_event_kind kind, const struct child *c,
    enum supv_exit_kind exit, int code, unsigned delay_ms, enum supv_rule rule,
    bool uncount)
{
	struct supv_event ev = {
		.kind = kind,
		.exit = exit,
		.code = code,
		.delay_ms = delay_ms,
		.rule = rule,
	};
	char id[SUPV_ID_MAX + 1];

	/* The spec may go while the lock is dropped: pass a copy of its id. */
	if (c != NULL) {
		strlcpy(id, c->id, sizeof(id));
		ev.child = id;
	}
	deliver(s, &ev, uncount);
}

/*
 * The events, one function each.  Called with the tree's lock held, on s's loop
 * or on a worker of s restarting itself (with supv__tls_sup set to s); they
 * drop the lock during the callback.
 */
void
supv__emit_start(struct supv *s, const struct child *c)
{
	emit_ev(s, SUPV_EV_START, c, 0, 0, 0, SUPV_RULE_NONE, false);
}

/*
 * The counters (metrics, the control socket): every exit of a child is
 * noted here once, and every restart.  Called with the tree's lock held.
 */
void
supv__note_exit(struct supv *s, struct child *c, enum supv_exit_kind exit,
    int code)
{
	(void)s;
	if ((unsigned)exit < SUPV__EXIT_KINDS && ++c->exits_lo[exit] == 0)
		c->exits_hi[exit]++;	/* 48 bits: see struct child */
	c->last_exit = (unsigned char)exit;
	c->last_code = code;
}

void
supv__note_restart(struct supv *s, struct child *c)
{
	c->restarts++;
	s->restarts_total++;
}

/* Notes the exit, then reports it with the rule its codes gave. */
void
supv__emit_exit(struct supv *s, struct child *c, enum supv_exit_kind exit,
    int code, enum supv_rule rule)
{
	supv__note_exit(s, c, exit, code);
	emit_ev(s, SUPV_EV_EXIT, c, exit, code, 0, rule, false);
}

void
supv__emit_restart(struct supv *s, const struct child *c)
{
	emit_ev(s, SUPV_EV_RESTART, c, 0, 0, 0, SUPV_RULE_NONE, false);
}

void
supv__emit_backoff(struct supv *s, const struct child *c, unsigned delay_ms)
{
	emit_ev(s, SUPV_EV_BACKOFF, c, 0, 0, delay_ms, SUPV_RULE_NONE, false);
}

void
supv__emit_stop_timeout(struct supv *s, const struct child *c)
{
	emit_ev(s, SUPV_EV_STOP_TIMEOUT, c, 0, 0, 0, SUPV_RULE_NONE, false);
}

void
supv__emit_give_up(struct supv *s, enum supv_rule rule)
{
	struct supv_event ev = { .kind = SUPV_EV_GIVE_UP, .rule = rule };

	s->gave_up_total++;
	deliver(s, &ev, false);
}

void
supv__emit_sup_exit(struct supv *s, enum supv_exit_kind why)
{
	emit_ev(s, SUPV_EV_SUP_EXIT, NULL, why, 0, 0, SUPV_RULE_NONE, false);
}

/*
 * The EXIT of a run restarted in place (same thread): its restart was
 * counted before the event, whose restarts field leaves it out, as the
 * loop's EXIT, emitted before its decision, does.  The caller noted the
 * exit (supv__note_exit), callback or not.
 */
void
supv__emit_exit_restarted(struct supv *s, const struct child *c,
    enum supv_exit_kind exit, int code, enum supv_rule rule)
{
	emit_ev(s, SUPV_EV_EXIT, c, exit, code, 0, rule, true);
}

/* detail: what it is stuck on (hang_trace), or NULL; the caller frees it. */
void
supv__emit_hung(struct supv *s, const struct child *c, bool spinning,
    const char *detail)
{
	struct supv_event ev = { .kind = SUPV_EV_HUNG, .spinning = spinning,
	    .detail = detail };
	char id[SUPV_ID_MAX + 1];

	strlcpy(id, c->id, sizeof(id));
	ev.child = id;
	deliver(s, &ev, false);
}

SUPV_EXPORT const char *
supv_rule_name(enum supv_rule rule)
{
	static const char *const names[] = {
		[SUPV_RULE_NONE] = "none",
		[SUPV_RULE_RESTART_TYPE] = "restart_type",
		[SUPV_RULE_NO_RESTART_CODE] = "no_restart_code",
		[SUPV_RULE_ESCALATE_CODE] = "escalate_code",
		[SUPV_RULE_INTENSITY] = "intensity",
	};

	return SUPV__NAME_OF(names, rule);
}

SUPV_EXPORT const char *
supv_exit_kind_name(enum supv_exit_kind kind)
{
	static const char *const names[] = {
		[SUPV_EXIT_NORMAL] = "normal",
		[SUPV_EXIT_FAILURE] = "failure",
		[SUPV_EXIT_SHUTDOWN] = "shutdown",
		[SUPV_EXIT_HUNG] = "hung",
		[SUPV_EXIT_CANCELLED] = "cancelled",
		[SUPV_EXIT_START_FAILED] = "start_failed",
		[SUPV_EXIT_GAVE_UP] = "gave_up",
		[SUPV_EXIT_KILLED] = "killed",
	};

	return SUPV__NAME_OF(names, kind);
}

SUPV_EXPORT const char *
supv_event_kind_name(enum supv_event_kind kind)
{
	static const char *const names[] = {
		[SUPV_EV_START] = "start",
		[SUPV_EV_EXIT] = "exit",
		[SUPV_EV_RESTART] = "restart",
		[SUPV_EV_HUNG] = "hung",
		[SUPV_EV_STOP_TIMEOUT] = "stop_timeout",
		[SUPV_EV_BACKOFF] = "backoff",
		[SUPV_EV_GIVE_UP] = "give_up",
		[SUPV_EV_SUP_EXIT] = "sup_exit",
	};

	return SUPV__NAME_OF(names, kind);
}
