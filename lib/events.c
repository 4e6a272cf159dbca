/*
 * events.c - delivering events to the application, and their names.
 */
#include <string.h>

#include "supervise_internal.h"

static void
deliver(struct supv *s, struct supv_event *ev)
{
	supv_event_fn *fn = s->on_event;

	if (fn == NULL)
		return;
	ev->sup = s->name;
	ev->at_ns = now_ns();
	ev->restarts = window_count(&s->win, ev->at_ns / NS_PER_MS);
	/*
	 * Only s's loop emits s's events, so they come one at a time and in
	 * order even though the lock is dropped for the call.
	 */
	unlock();
	fn(ev, s->event_arg);
	lock();
}

/* Called on s's loop with supv_mu held; drops it during the callback. */
void
emit(struct supv *s, enum supv_event_kind kind, const struct child *c,
    enum supv_exit_kind exit, int code, unsigned delay_ms)
{
	struct supv_event ev = {
		.kind = kind,
		.child = c != NULL ? c->id : NULL,
		.exit = exit,
		.code = code,
		.delay_ms = delay_ms,
	};
	char id[SUPV_ID_MAX + 1];

	/* The spec may go while the lock is dropped: pass a copy of its id. */
	if (c != NULL) {
		memcpy(id, c->id, sizeof(id));
		ev.child = id;
	}
	deliver(s, &ev);
}

void
emit_hung(struct supv *s, const struct child *c, bool spinning)
{
	struct supv_event ev = { .kind = SUPV_EV_HUNG, .spinning = spinning };
	char id[SUPV_ID_MAX + 1];

	memcpy(id, c->id, sizeof(id));
	ev.child = id;
	deliver(s, &ev);
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
	};

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
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

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[kind];
}
