/*
 * snapshot.c - what the control socket says about a tree: its nodes
 * ("tree"), whether it is healthy ("health") and whether it is ready
 * ("ready").  The tree is copied with the tree's lock held (cheap, no
 * text) and written out from the copy after it is dropped, as are the
 * metrics (metrics.c); health and ready are a few lines found under the
 * lock.  The reply is sent after the lock is dropped (control.c).
 *
 * A node is one line: "node", then tab-separated key=value fields.  Values
 * never hold a tab, a space or a newline: paths and ids are written as in
 * supv__buf_pathpart.  Fields that do not apply are left out, so that a
 * reader takes what it knows and ignores the rest.  See
 * supv_control_listen(3), PROTOCOL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "outside/outside.h"

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

/* Room for one more node: its index, or -1 (no memory). */
static int
snap_add(struct supv__snap *sn)
{
	struct supv__snap_node *v;
	size_t cap;

	if (sn->failed)
		return -1;
	if (sn->n == sn->cap) {
		cap = sn->cap != 0 ? sn->cap * 2 : 64;
		if ((v = realloc(sn->v, cap * sizeof(*v))) == NULL) {
			sn->failed = true;
			return -1;
		}
		sn->v = v;
		sn->cap = cap;
	}
	memset(&sn->v[sn->n], 0, sizeof(sn->v[0]));
	return (int)sn->n++;
}

/* What a child's line and samples say of it, copied. */
static void
take_child(struct supv__snap_node *x, const struct child *c, uint64_t now)
{
	const struct supv_worker *r = c->run;

	x->is_child = true;
	strlcpy(x->id, c->id, sizeof(x->id));
	x->state = child_state_name(c);
	x->restart = c->restart;
	x->restarts = c->restarts;
	for (unsigned k = 0; k < SUPV__EXIT_KINDS; k++) {
		x->exits[k] = supv__child_exits(c, k);
		x->exits_sum += x->exits[k];
	}
	x->last_exit = c->last_exit;
	x->last_code = c->last_code;
	x->running = c->state == CH_RUNNING || c->state == CH_STOPPING;
	x->hung = c->hung_asked;
	x->backoff = c->state == CH_PENDING;
	x->uptime_ms = x->backoff_ms = x->hb_age_ms = -1;
	if (c->is_proc) {
		x->is_proc = true;
		if (r != NULL && r->proc != NULL) {
			strlcpy(x->status, r->proc->status_text, sizeof(x->status));
			if (run_alive(c))
				x->pid = r->proc->pid;
		}
	}
	if (run_alive(c)) {
		x->uptime_ms = (int64_t)ms_since(now, r->started_ns);
		/* Read once the lock is dropped: a system call each. */
		x->has_cpu = r->has_cpuclock;
		x->cpuclock = r->cpuclock;
	}
	if (c->state == CH_PENDING)
		x->backoff_ms = (int64_t)ms_since(c->restart_at, now);
	x->heartbeat_ms = c->heartbeat_ms;
	if (c->monitored && r != NULL) {
		/* To within a sampling step: a beat since the last sample is "0". */
		uint32_t v = (uint32_t)atomic_load_explicit(&r->beat,
		    memory_order_relaxed), seen;
		uint64_t last = supv__hb_last(c, &seen);

		x->hb_age_ms = v == seen ? (int64_t)ms_since(now, last) : 0;
	}
}

/* What a supervisor's line and samples say of it, copied. */
static void
take_sup(struct supv__snap_node *x, struct supv *s, uint64_t now)
{
	x->is_sup = true;
	x->is_pool = s->wpool != NULL;
	x->strategy = s->strategy;
	x->sup_state = sup_state_name(s->state);
	x->up = s->state == SUP_RUNNING;
	x->nchildren = s->nchildren;
	x->window = supv__window_count(&s->win, now / NS_PER_MS);
	x->intensity = s->win.intensity;
	x->period_ms = s->win.period_ms;
	x->restarts_total = s->restarts_total;
	x->hung_total = s->hung_total;
	x->gave_up_total = s->gave_up_total;
	x->has_exit = s->parent == NULL && s->state == SUP_TERMINATED;
	x->exit = s->end_kind;
}

static void
take(struct supv__snap *sn, struct supv *s, int owner, unsigned depth,
    uint64_t now)
{
	struct child *c;
	int me;

	TAILQ_FOREACH(c, &s->children, order) {
		if ((me = snap_add(sn)) < 0)
			return;
		sn->v[me].owner = owner;
		sn->v[me].depth = depth;
		take_child(&sn->v[me], c, now);
		if (c->sup != NULL) {
			take_sup(&sn->v[me], c->sup, now);
			take(sn, c->sup, me, depth + 1, now);
		}
	}
}

/*
 * Copies what the tree's line and samples say of root's tree into sn, in
 * the tree's order (each supervisor, then its children, depth first).
 * Cheap, and all that is done with the tree's lock held: the text is
 * written from the copy once it is dropped, so a large tree's reply does
 * not hold the lock while it is formatted.  Tree's lock held.
 */
void
supv__snap_take(struct supv *root, struct supv__snap *sn)
{
	uint64_t now = supv__now_ns();
	int me;

	memset(sn, 0, sizeof(*sn));
	if ((me = snap_add(sn)) < 0)
		return;
	sn->v[me].owner = -1;
	strlcpy(sn->v[me].id, root->name, sizeof(sn->v[me].id));
	sn->v[me].state = sup_state_name(root->state);
	take_sup(&sn->v[me], root, now);
	take(sn, root, me, 1, now);
}

void
supv__snap_free(struct supv__snap *sn)
{
	free(sn->v);
	memset(sn, 0, sizeof(*sn));
}

/* The path of node i from the root, as supv__buf_path writes it. */
void
supv__snap_path(struct supv__buf *b, const struct supv__snap *sn, int i)
{
	if (sn->v[i].owner >= 0) {
		supv__snap_path(b, sn, sn->v[i].owner);
		supv__buf_put(b, "/", 1);
	}
	supv__buf_pathpart(b, sn->v[i].id);
}

/* A process's resident memory (kB), from /proc; -1 if it cannot be read. */
static long
rss_kb(pid_t pid)
{
	char path[64];
	long pages = -1, rss;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if (fscanf(f, "%*s %ld", &rss) == 1)
		pages = rss;
	fclose(f);
	return pages < 0 ? -1 : pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static void
child_fields(struct supv__buf *b, const struct supv__snap_node *x)
{
	struct timespec ts;

	supv__buf_printf(b, "\trestart=%s\trestarts=%u\texits=%llu",
	    restart_name(x->restart), x->restarts,
	    (unsigned long long)x->exits_sum);
	if (x->exits_sum > 0)
		supv__buf_printf(b, "\tlast_exit=%s\tlast_code=%d",
		    supv_exit_kind_name(x->last_exit), x->last_code);
	if (x->uptime_ms >= 0)
		supv__buf_printf(b, "\tuptime_ms=%lld", (long long)x->uptime_ms);
	if (x->backoff_ms >= 0)
		supv__buf_printf(b, "\tbackoff_ms=%lld", (long long)x->backoff_ms);
	if (x->heartbeat_ms != 0)
		supv__buf_printf(b, "\theartbeat_ms=%u", x->heartbeat_ms);
	if (x->hb_age_ms >= 0)
		supv__buf_printf(b, "\thb_age_ms=%lld", (long long)x->hb_age_ms);
	/* A thread that ended since has no clock any more: left out. */
	if (x->has_cpu && clock_gettime(x->cpuclock, &ts) == 0)
		supv__buf_printf(b, "\tcpu_ms=%llu", (unsigned long long)
		    ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / NS_PER_MS));
	if (x->pid > 0) {
		long rss = rss_kb(x->pid);

		supv__buf_printf(b, "\tpid=%d", (int)x->pid);
		if (rss >= 0)
			supv__buf_printf(b, "\trss_kb=%ld", rss);
	}
	if (x->status[0] != '\0') {
		supv__buf_put(b, "\tstatus=", 8);
		supv__buf_pathpart(b, x->status);
	}
}

static void
sup_fields(struct supv__buf *b, const struct supv__snap_node *x)
{
	supv__buf_printf(b, "\tstrategy=%s\tsup_state=%s\tchildren=%u\twindow=%u",
	    strategy_name(x->strategy), x->sup_state, x->nchildren, x->window);
	if (x->intensity == SUPV_INFINITY)
		supv__buf_printf(b, "\tintensity=inf");
	else
		supv__buf_printf(b, "\tintensity=%u", x->intensity);
	supv__buf_printf(b, "\tperiod_ms=%llu\trestarts_total=%llu\thung_total=%llu"
	    "\tgave_up_total=%llu", (unsigned long long)x->period_ms,
	    (unsigned long long)x->restarts_total,
	    (unsigned long long)x->hung_total,
	    (unsigned long long)x->gave_up_total);
	if (x->has_exit)
		supv__buf_printf(b, "\texit=%s", supv_exit_kind_name(x->exit));
}

/* One node line for each node of the copy.  Without the tree's lock. */
void
supv__snap_tree(const struct supv__snap *sn, struct supv__buf *b)
{
	for (size_t i = 0; i < sn->n; i++) {
		const struct supv__snap_node *x = &sn->v[i];

		supv__buf_printf(b, "node\tdepth=%u\tpath=", x->depth);
		supv__snap_path(b, sn, (int)i);
		supv__buf_put(b, "\tid=", 4);
		supv__buf_pathpart(b, x->id);
		supv__buf_printf(b, "\ttype=%s\tstate=%s", x->is_proc ? "process" :
		    !x->is_sup ? "worker" : x->is_pool ? "pool" : "supervisor",
		    x->state);
		if (x->is_child)
			child_fields(b, x);
		if (x->is_sup)
			sup_fields(b, x);
		supv__buf_put(b, "\n", 1);
	}
	if (sn->failed)
		b->failed = true;
}

static void
child_path(struct supv__buf *b, const struct supv *owner, const struct child *c)
{
	supv__buf_path(b, NULL, owner);
	supv__buf_put(b, "/", 1);
	supv__buf_pathpart(b, c->id);
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
		    supv__child_exits(c, SUPV_EXIT_GAVE_UP) > 0 &&
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
		    root->end_kind == SUPV_EXIT_GAVE_UP ? "gave_up" :
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
