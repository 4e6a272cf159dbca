/*
 * spec.c - the data model of a tree: child specs (create, copy, link into
 * a supervisor, find by id, destroy), their states, the arguments they
 * share with their runs, and freeing a supervisor.  No thread runs here
 * and nothing waits: every function is called with its tree's lock held unless
 * its comment says otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "core/core.h"

static int
child_cmp_id(struct child *a, struct child *b)
{
	return strcmp(a->id, b->id);
}

RB_GENERATE_FILE(child_ids, child, byid, child_cmp_id)

/*
 * The exit-code lists of opts, checked: a count needs its array, a
 * supervisor returns no code, and no code may be in both lists.
 */
static int
codes_check(const struct supv_child_opts *o, bool is_sup)
{
	unsigned i;

	if ((o->n_no_restart_codes != 0 && o->no_restart_codes == NULL) ||
	    (o->n_escalate_codes != 0 && o->escalate_codes == NULL))
		return EINVAL;
	if (is_sup && o->n_no_restart_codes + o->n_escalate_codes != 0)
		return EINVAL;
	if (o->n_no_restart_codes > SUPV_CODES_MAX ||
	    o->n_escalate_codes > SUPV_CODES_MAX)
		return EINVAL;
	for (i = 0; i < o->n_escalate_codes; i++) {
		unsigned j;

		for (j = 0; j < o->n_no_restart_codes; j++)
			if (o->escalate_codes[i] == o->no_restart_codes[j])
				return EINVAL;
	}
	return 0;
}

/*
 * A spec with room for its id (checked already: at most SUPV_ID_MAX) and,
 * after it, its exit-code lists: n codes from a, then m from b.
 */
static struct child *
spec_alloc(const char *id, const int *a, unsigned n, const int *b, unsigned m)
{
	size_t len = strnlen(id, SUPV_ID_MAX);
	size_t at = offsetof(struct child, id) + len + 1;
	struct child *c;
	int *codes;

	if (n + m != 0)
		at = (at + _Alignof(int) - 1) & ~(_Alignof(int) - 1);
	if ((c = supv__xcalloc(1, at + (n + m) * sizeof(int))) == NULL)
		return NULL;
	memcpy(c->id, id, len);
	if (n + m == 0)
		return c;
	codes = (int *)supv__spec_codes(c);
	if (n != 0)
		memcpy(codes, a, n * sizeof(*a));
	if (m != 0)
		memcpy(codes + n, b, m * sizeof(*b));
	c->n_norestart = (uint16_t)n;
	c->n_escalate = (uint16_t)m;
	return c;
}

/* Builds a spec from opts; nothing is shared with the caller yet. */
int
supv__spec_new(const struct supv *sup, const struct supv_child_opts *o, bool is_sup,
    struct child **out)
{
	struct child *c;
	unsigned bmax;
	int rc;

	if ((rc = supv__check_id(o->id)) != 0)
		return rc;
	if ((unsigned)o->restart > SUPV_TEMPORARY ||
	    (unsigned)o->on_timeout > SUPV_TIMEOUT_ABORT)
		return EINVAL;
	if (is_sup && (o->heartbeat_ms != 0 || o->ready_ms != 0 ||
	    o->on_timeout != SUPV_TIMEOUT_ABANDON))
		return EINVAL;
	if (o->heartbeat_ms == SUPV_ZERO || o->ready_ms == SUPV_ZERO)
		return EINVAL;
	if ((rc = supv__backoff_check(o->backoff_ms, o->backoff_max_ms, &bmax)) != 0)
		return rc;
	if (o->significant && (o->restart == SUPV_PERMANENT ||
	    sup->auto_shutdown == SUPV_AUTO_NEVER))
		return EINVAL;
	if (o->stack_size != 0 && o->stack_size < (size_t)PTHREAD_STACK_MIN)
		return EINVAL;
	if ((rc = codes_check(o, is_sup)) != 0 || o->backoff_reset_ms == SUPV_ZERO)
		return rc != 0 ? rc : EINVAL;
	if ((c = spec_alloc(o->id, o->no_restart_codes, o->n_no_restart_codes,
	    o->escalate_codes, o->n_escalate_codes)) == NULL)
		return ENOMEM;
	c->restart = o->restart;
	if (o->shutdown_ms == 0)
		c->shutdown_ms = is_sup ? SUPV_INFINITY : DEFAULT_SHUTDOWN_MS;
	else if (o->shutdown_ms == SUPV_ZERO)
		c->shutdown_ms = 0;
	else
		c->shutdown_ms = o->shutdown_ms;	/* SUPV_INFINITY too */
	c->on_timeout = o->on_timeout;
	c->heartbeat_ms = o->heartbeat_ms == SUPV_INFINITY ? 0 : o->heartbeat_ms;
	c->ready_ms = o->ready_ms;
	c->backoff_ms = o->backoff_ms == SUPV_ZERO ? 0 : o->backoff_ms;
	c->backoff_max_ms = bmax;
	c->backoff_reset_ms = o->backoff_reset_ms;	/* SUPV_ZERO was refused */
	c->backoff_reset_on_ready = o->backoff_reset_on_ready;
	c->hang_trace = o->hang_trace && !is_sup;
	c->significant = o->significant;
	c->stack_size = o->stack_size;
	c->same_thread = o->same_thread && !is_sup;
	c->state = CH_IDLE;
	*out = c;
	return 0;
}

/*
 * A copy of tmpl's configuration, for a pool worker: unlinked and idle,
 * with its own id and index, sharing tmpl's argument.
 */
struct child *
supv__spec_clone(const struct child *tmpl, const char *id, unsigned index)
{
	const int *codes = supv__spec_codes(tmpl);
	struct child *c;

	if ((c = spec_alloc(id, codes, tmpl->n_norestart, codes + tmpl->n_norestart,
	    tmpl->n_escalate)) == NULL)
		return NULL;
	c->restart = tmpl->restart;
	c->shutdown_ms = tmpl->shutdown_ms;
	c->on_timeout = tmpl->on_timeout;
	c->heartbeat_ms = tmpl->heartbeat_ms;
	c->ready_ms = tmpl->ready_ms;
	c->backoff_ms = tmpl->backoff_ms;
	c->backoff_max_ms = tmpl->backoff_max_ms;
	c->backoff_reset_ms = tmpl->backoff_reset_ms;
	c->backoff_reset_on_ready = tmpl->backoff_reset_on_ready;
	c->hang_trace = tmpl->hang_trace;
	c->significant = tmpl->significant;
	c->stack_size = tmpl->stack_size;
	c->same_thread = tmpl->same_thread;
	c->fn = tmpl->fn;	/* a pool's template is a worker's */
	c->arg = tmpl->arg;
	c->arg_boxed = tmpl->arg_boxed;
	supv__arg_ref(c->arg, c->arg_boxed);
	c->index = index;
	c->state = CH_IDLE;
	return c;
}

/*
 * Frees a spec whose add failed: the caller keeps arg, and arg_free is
 * never called for it (a run abandoned after missing ready_ms may still
 * use arg until it returns: supv_add_worker(3), CAVEATS).
 */
void
supv__spec_discard(struct child *c)
{
	supv__arg_keep(c->arg, c->arg_boxed);
	c->sup = NULL;
	supv__spec_destroy(c);
}

/* Adds to the worker counts of s's subtree, and of every one above it. */
static void
count_up(struct supv *s, int workers, int running)
{
	for (; s != NULL; s = s->parent) {
		s->sub_workers += (unsigned)workers;
		s->sub_running += (unsigned)running;
	}
}

static bool
is_live(enum child_state st)
{
	return st == CH_RUNNING || st == CH_STOPPING;
}

/*
 * The transitions a supervisor may make; anything else is a bug in the
 * library, and aborts in every build.  A start that cannot launch its
 * loop goes back to where it was; a child supervisor whose add failed is
 * handed back to its caller as never started.
 */
void
supv__sup_set_state(struct supv *s, enum sup_state to)
{
	static const bool allowed[5][5] = {
		/* from \ to       IDLE   STARTING RUNNING STOPPING TERMINATED */
		[SUP_IDLE]       = { true,  true,    false,  false,   false },
		[SUP_STARTING]   = { true,  false,   true,   true,    true },
		[SUP_RUNNING]    = { false, false,   false,  true,    false },
		[SUP_STOPPING]   = { false, false,   false,  false,   true },
		[SUP_TERMINATED] = { true,  true,    false,  false,   false },
	};

	if (!allowed[s->state][to])
		abort();
	s->state = to;
}

/*
 * The transitions a child may make.  Anything else is a bug in the
 * library, and aborts in every build.
 */
void
supv__child_set_state(struct child *c, enum child_state to)
{
	static const bool allowed[4][4] = {
		/* from \ to      IDLE   RUNNING STOPPING PENDING */
		[CH_IDLE]     = { true,  true,   false,   true },
		[CH_RUNNING]  = { true,  false,  true,    false },
		[CH_STOPPING] = { true,  false,  false,   false },
		[CH_PENDING]  = { true,  true,   false,   true },
	};

	if (!allowed[c->state][to])
		abort();
	/* The counters that spare the loop a scan of the children. */
	if (c->significant && (c->state == CH_IDLE) != (to == CH_IDLE))
		c->owner->nsig_live += to == CH_IDLE ? -1u : 1u;
	if (c->sup == NULL && is_live(c->state) != is_live(to))
		count_up(c->owner, 0, is_live(to) ? 1 : -1);
	c->state = to;
}

/* Links c under s: 0, or ENOMEM (its heartbeat group), with nothing done. */
int
supv__sup_spec_link(struct supv *s, struct child *c)
{
	int rc;

	if ((rc = supv__hb_link(s, c)) != 0)
		return rc;
	c->owner = s;
	c->seq = s->next_seq++;
	TAILQ_INSERT_TAIL(&s->children, c, order);
	RB_INSERT(child_ids, &s->byid, c);
	s->nchildren++;
	if (c->sup != NULL)
		count_up(s, (int)c->sup->sub_workers, (int)c->sup->sub_running);
	else
		count_up(s, 1, is_live(c->state));
	return 0;
}

void
supv__sup_spec_unlink(struct supv *s, struct child *c)
{
	supv__hb_unlink(s, c);
	TAILQ_REMOVE(&s->children, c, order);
	RB_REMOVE(child_ids, &s->byid, c);
	s->nchildren--;
	if (c->sup != NULL)
		count_up(s, -(int)c->sup->sub_workers, -(int)c->sup->sub_running);
	else
		count_up(s, -1, -(int)is_live(c->state));
}

/* Finds the child id of sup.  Called with its tree's lock held. */
struct child *
supv__find_child(struct supv *sup, const char *id)
{
	struct child *c = RB_ROOT(&sup->byid);
	int d;

	/* By hand: a key would need room for its id (child_cmp's order). */
	while (c != NULL && (d = strcmp(id, c->id)) != 0)
		c = d < 0 ? RB_LEFT(c, byid) : RB_RIGHT(c, byid);
	return c;
}

/*
 * The child that path names below top: "top/a/b" is the child b of top's
 * child supervisor a.  The first part names top itself (its name).
 * ENOENT when nothing has that path (or it is top itself), EINVAL when a
 * part is malformed.  Called with the tree's lock held.
 */
int
supv__resolve_path(struct supv *top, const char *path, struct child **out)
{
	char part[SUPV_ID_MAX + 1];
	const char *p = path, *slash;
	struct supv *s = top;
	struct child *c = NULL;
	int rc;

	*out = NULL;
	for (bool first = true;; first = false) {
		slash = strchr(p, '/');
		if ((rc = supv__path_decode(p, slash != NULL ? slash : p + strlen(p),
		    part, sizeof(part))) != 0)
			return rc;
		if (first) {
			if (strcmp(part, top->name) != 0)
				return ENOENT;
		} else if (s == NULL || (c = supv__find_child(s, part)) == NULL) {
			return ENOENT;
		} else {
			s = c->sup;
		}
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	if (c == NULL)
		return ENOENT;
	*out = c;
	return 0;
}

/*
 * The path of supervisor s from top, which is s or one of its ancestors
 * (NULL: from s's root): "app/db".  Tree's lock held.
 */
void
supv__buf_path(struct supv__buf *b, const struct supv *top, const struct supv *s)
{
	if (s == top || s->parent == NULL || s->spec == NULL) {
		supv__buf_pathpart(b, s->name);
		return;
	}
	supv__buf_path(b, top, s->parent);
	supv__buf_put(b, "/", 1);
	supv__buf_pathpart(b, s->spec->id);
}

/*
 * Frees a spec that no list holds any more, with the subtree of a child
 * supervisor.  Called without its tree's lock: it may run arg_free.
 */
void
supv__spec_destroy(struct child *c)
{
	if (c->sup != NULL)
		supv__sup_destroy(c->sup);
	supv__run_unref(c->run);
	supv__arg_unref(c->arg, c->arg_boxed);
	if (c->is_proc)
		supv__procspec_free(c->proc);
	free(c->chaos);
	free(c);
}

/*
 * Frees a supervisor that no thread runs any more: its children now, its
 * own memory once the last caller holding it has let go.  Called without
 * its tree's lock.
 */
void
supv__sup_destroy(struct supv *s)
{
	struct child *c;

	while ((c = TAILQ_FIRST(&s->children)) != NULL) {
		TAILQ_REMOVE(&s->children, c, order);
		supv__spec_destroy(c);
	}
	RB_INIT(&s->byid);
	supv__hb_destroy(s);
	supv__sup_release(s);
}

static void
mark_deleted(struct supv *s)
{
	struct child *c;

	s->deleted = true;
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			mark_deleted(c->sup);
}

/* A root that is being freed: its whole tree goes.  Tree's lock held. */
void
supv__spec_delete_all(struct supv *root)
{
	mark_deleted(root);
}

/*
 * Unlinks c from s for good: the caller destroys it next, without the
 * lock.  A child supervisor's subtree is marked deleted first, for the
 * callers that hold one of its supervisors across a wait.  Called with
 * the tree's lock held.
 */
void
supv__spec_delete(struct supv *s, struct child *c)
{
	if (c->sup != NULL)
		mark_deleted(c->sup);
	supv__sup_spec_unlink(s, c);
}
