/*
 * probe.c - the liveness probe of a tree's loops, for the systemd watchdog
 * (process/notify.c) and the control socket's "health" (outside/protocol.c).  A probe is a
 * number: the root's probe_seq, raised and sent by waking every loop; a
 * loop answers it (supv__loop_alive) when it runs its loop, not while it
 * waits without end for one worker (an infinite grace or ready_ms) or
 * sits in a slow on_event.  A loop that answered a later probe answered
 * this one too, so two askers never spoil each other's probes.
 */
#include "core/core.h"

static bool
has_loop(const struct supv *s)
{
	return s->state == SUP_STARTING || s->state == SUP_RUNNING ||
	    s->state == SUP_STOPPING;
}

static void
wake_subtree(struct supv *s)
{
	struct child *c;

	if (has_loop(s))
		supv__sup_wake(s);
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			wake_subtree(c->sup);
}

/* Sends a new probe to every loop of root's tree; returns its number. */
unsigned long
supv__probe_send(struct supv *root)
{
	unsigned long seq = ++root->probe_seq;

	wake_subtree(root);
	return seq;
}

/* The first supervisor of s's tree whose loop has not answered seq, or NULL. */
const struct supv *
supv__probe_missing(struct supv *s, unsigned long seq)
{
	const struct supv *m;
	struct child *c;

	if (has_loop(s) && s->probe_ack < seq)
		return s;
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL && (m = supv__probe_missing(c->sup, seq)) != NULL)
			return m;
	return NULL;
}
