/*
 * snapshot.c - what the control socket says about a tree: its nodes
 * ("tree"), whether it is healthy ("health") and whether it is ready
 * ("ready").  Each is written into a private buffer with the tree's lock
 * held, and sent after the lock is dropped (control.c).
 *
 * A node is one line: "node", then tab-separated key=value fields.  Values
 * never hold a tab, a space or a newline: paths and ids are written as in
 * supv__buf_pathpart.  Fields that do not apply are left out, so that a
 * reader takes what it knows and ignores the rest.  See
 * supv_control_listen(3), PROTOCOL.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "supervise_internal.h"

static const char *
sup_state_name(enum sup_state st)
{
	static const char *const names[] = {
		[SUP_IDLE] = "idle",
		[SUP_STARTING] = "starting",
		[SUP_RUNNING] = "running",
		[SUP_STOPPING] = "stopping",
		[SUP_TERMINATED] = "terminated",
	};

	return SUPV__NAME_OF(names, st);
}

static const char *
strategy_name(enum supv_strategy st)
{
	static const char *const names[] = {
		[SUPV_ONE_FOR_ONE] = "one_for_one",
		[SUPV_ONE_FOR_ALL] = "one_for_all",
		[SUPV_REST_FOR_ONE] = "rest_for_one",
	};

	return SUPV__NAME_OF(names, st);
}

static const char *
restart_name(enum supv_restart r)
{
	static const char *const names[] = {
		[SUPV_PERMANENT] = "permanent",
		[SUPV_TRANSIENT] = "transient",
		[SUPV_TEMPORARY] = "temporary",
	};

	return SUPV__NAME_OF(names, r);
}

static const char *
child_state_name(const struct child *c)
{
	static const char *const names[] = {
		[CH_IDLE] = "idle",
		[CH_RUNNING] = "running",
		[CH_STOPPING] = "stopping",
		[CH_PENDING] = "backoff",
	};

	return c->hung_asked ? "hung" : SUPV__NAME_OF(names, c->state);
}

static uint64_t
ms_since(uint64_t now, uint64_t then)
{
	return now > then ? (now - then) / NS_PER_MS : 0;
}

static bool
run_alive(const struct child *c)
{
	return (c->state == CH_RUNNING || c->state == CH_STOPPING) &&
	    c->run != NULL && !c->run->exited;
}

/* The fields of c as its supervisor's child. */
static void
child_fields(struct supv__buf *b, const struct child *c, uint64_t now)
{
	const struct supv_worker *r = c->run;
	uint64_t exits = 0;
	struct timespec ts;

	for (unsigned k = 0; k <= SUPV_EXIT_GAVE_UP; k++)
		exits += c->exits[k];
	supv__buf_printf(b, "\trestart=%s\trestarts=%u\texits=%llu",
	    restart_name(c->restart), c->restarts, (unsigned long long)exits);
	if (exits > 0)
		supv__buf_printf(b, "\tlast_exit=%s\tlast_code=%d",
		    supv_exit_kind_name(c->last_exit), c->last_code);
	if (run_alive(c))
		supv__buf_printf(b, "\tuptime_ms=%llu",
		    (unsigned long long)ms_since(now, r->started_ns));
	if (c->state == CH_PENDING)
		supv__buf_printf(b, "\tbackoff_ms=%llu",
		    (unsigned long long)ms_since(c->restart_at, now));
	if (c->heartbeat_ms != 0)
		supv__buf_printf(b, "\theartbeat_ms=%u", c->heartbeat_ms);
	if (c->monitored && r != NULL) {
		/* To within a sampling step: a beat since the last sample is "0". */
		unsigned long v = atomic_load_explicit(&r->beat, memory_order_relaxed);
		supv__buf_printf(b, "\thb_age_ms=%llu", (unsigned long long)
		    (v == c->hb_seen ? ms_since(now, supv__hb_last(c)) : 0));
	}
	if (run_alive(c) && r->has_cpuclock &&
	    clock_gettime(r->cpuclock, &ts) == 0)
		supv__buf_printf(b, "\tcpu_ms=%llu", (unsigned long long)
		    ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / NS_PER_MS));
}

/* The fields of s as a supervisor. */
static void
sup_fields(struct supv__buf *b, struct supv *s, uint64_t now)
{
	supv__buf_printf(b, "\tstrategy=%s\tsup_state=%s\tchildren=%u\twindow=%u",
	    strategy_name(s->strategy), sup_state_name(s->state), s->nchildren,
	    supv__window_count(&s->win, now / NS_PER_MS));
	if (s->win.intensity == SUPV_INFINITY)
		supv__buf_printf(b, "\tintensity=inf");
	else
		supv__buf_printf(b, "\tintensity=%u", s->win.intensity);
	supv__buf_printf(b, "\tperiod_ms=%llu\trestarts_total=%llu\thung_total=%llu"
	    "\tgave_up_total=%llu", (unsigned long long)s->win.period_ms,
	    (unsigned long long)s->restarts_total, (unsigned long long)s->hung_total,
	    (unsigned long long)s->gave_up_total);
	if (s->parent == NULL && s->state == SUP_TERMINATED)
		supv__buf_printf(b, "\texit=%s", supv_exit_kind_name(s->why));
}

static void
child_path(struct supv__buf *b, const struct supv *owner, const struct child *c)
{
	supv__buf_path(b, NULL, owner);
	supv__buf_printf(b, "/");
	supv__buf_pathpart(b, c->id);
}

static void
node(struct supv__buf *b, struct supv *s, struct child *c, unsigned depth,
    uint64_t now)
{
	struct supv *sup = c != NULL ? c->sup : s;

	supv__buf_printf(b, "node\tdepth=%u\tpath=", depth);
	if (c != NULL)
		child_path(b, s, c);
	else
		supv__buf_path(b, NULL, s);
	supv__buf_printf(b, "\tid=");
	supv__buf_pathpart(b, c != NULL ? c->id : s->name);
	supv__buf_printf(b, "\ttype=%s\tstate=%s", sup == NULL ? "worker" :
	    sup->pool != NULL ? "pool" : "supervisor",
	    c != NULL ? child_state_name(c) : sup_state_name(s->state));
	if (c != NULL)
		child_fields(b, c, now);
	if (sup != NULL)
		sup_fields(b, sup, now);
	supv__buf_printf(b, "\n");
	if (sup != NULL) {
		struct child *x;

		TAILQ_FOREACH(x, &sup->children, order)
			node(b, sup, x, depth + 1, now);
	}
}

/* One node line for root and each node below it.  Tree's lock held. */
void
supv__snapshot_tree(struct supv *root, struct supv__buf *b)
{
	node(b, root, NULL, 0, supv__now_ns());
}

/*
 * The first child supervisor of s's tree that gave up and was not
 * restarted (a temporary one, or one waiting in backoff), or NULL.
 */
static const struct child *
first_gave_up(const struct supv *s, const struct supv **owner)
{
	const struct child *c, *g;

	TAILQ_FOREACH(c, &s->children, order) {
		if (c->sup == NULL)
			continue;
		if ((c->state == CH_IDLE || c->state == CH_PENDING) &&
		    c->exits[SUPV_EXIT_GAVE_UP] > 0 &&
		    c->last_exit == SUPV_EXIT_GAVE_UP) {
			*owner = s;
			return c;
		}
		if ((g = first_gave_up(c->sup, owner)) != NULL)
			return g;
	}
	return NULL;
}

/* The first child of s's tree being stopped as hung, or NULL. */
static const struct child *
first_hung(const struct supv *s, const struct supv **owner)
{
	const struct child *c, *h;

	if ((h = TAILQ_FIRST(&s->hungq)) != NULL) {
		*owner = s;
		return h;
	}
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL && (h = first_hung(c->sup, owner)) != NULL)
			return h;
	return NULL;
}

/*
 * Whether root's tree is healthy, but for its loops' answer to a probe:
 * running, no supervisor in it given up (and not restarted), no child
 * hung.  When not, the reason goes into b
 * ("reason=...").  Tree's lock held.
 */
bool
supv__snapshot_healthy(struct supv *root, struct supv__buf *b)
{
	const struct supv *owner = NULL;
	const struct child *h;

	if (root->state != SUP_RUNNING) {
		supv__buf_printf(b, "reason=%s", root->state == SUP_TERMINATED &&
		    root->why == SUPV_EXIT_GAVE_UP ? "gave_up" :
		    sup_state_name(root->state));
		return false;
	}
	if (root->hung_now > 0 && (h = first_hung(root, &owner)) != NULL) {
		supv__buf_printf(b, "reason=hung\tpath=");
		child_path(b, owner, h);
		return false;
	}
	if ((h = first_gave_up(root, &owner)) != NULL) {
		supv__buf_printf(b, "reason=gave_up\tpath=");
		child_path(b, owner, h);
		return false;
	}
	return true;
}

/* The first supervisor of s's tree that is not running, or NULL. */
static const struct supv *
not_running(const struct supv *s)
{
	const struct supv *m;
	const struct child *c;

	if (s->state != SUP_RUNNING)
		return s;
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL && (m = not_running(c->sup)) != NULL)
			return m;
	return NULL;
}

/*
 * Whether root's tree is started and ready: the root's start finished
 * (every child started, and those with ready_ms said so), and every
 * supervisor in it runs (none is restarting).  Tree's lock held.
 */
bool
supv__snapshot_ready(struct supv *root, struct supv__buf *b)
{
	const struct supv *m = not_running(root);

	if (m == NULL)
		return true;
	supv__buf_printf(b, "reason=%s\tpath=", sup_state_name(m->state));
	supv__buf_path(b, NULL, m);
	return false;
}
