/*
 * children.c - the calls on a supervisor's children: adding a spec,
 * terminating, restarting and deleting a child (by id, or by path from
 * the control socket), counting and listing them.  A call on a running
 * supervisor is posted to its loop and answered there (post()); on a
 * stopped one it changes the tree here, under the tree's lock.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/core.h"

/*
 * Whether s's loop is waiting for the calling worker's start: the worker
 * has ready_ms and has not called supv_ready() yet, and s is its
 * supervisor, or an ancestor whose loop waits for that supervisor's start.
 * A call posted there would wait for the caller.  Called with the tree's lock held.
 */
static bool
start_waits_for_caller(const struct supv *s)
{
	struct supv_worker *r = supv__tls_run;
	const struct supv *up;

	if (r == NULL || r->dom != atomic_load(&s->dom) || r->child == NULL ||
	    r->ready || r->child->ready_ms == 0)
		return false;
	for (up = r->child->owner; up != NULL; up = up->parent) {
		if (up == s)
			return true;
		if (up->state != SUP_STARTING)
			break;
	}
	return false;
}

/*
 * Posts q to s's loop and waits for the answer on q's own condition
 * variable.  A worker of the same tree that is asked to stop meanwhile
 * withdraws a call the loop has not begun (its stop request wakes it
 * through r->waiting).  Called with the tree's lock held, entered with
 * supv__tree_enter(); s must not be touched once it returns.
 */
static int
post(struct supv *s, struct request *q)
{
	struct supv_worker *r = supv__tls_run;
	struct dom *d = supv__dom_of(s);
	int old, rc;

	if (start_waits_for_caller(s))
		return EDEADLK;
	if ((rc = supv__cond_init(&q->cv)) != 0)
		return rc;
	old = supv__nocancel_begin();
	if (r != NULL && r->dom == atomic_load(&s->dom)) {
		q->from = r;
		r->waiting = q;
	}
	TAILQ_INSERT_TAIL(&s->reqq, q, link);
	supv__sup_wake(s);
	/*
	 * s may be freed once the request is answered (a temporary child
	 * supervisor that ended): the wait is on d, which the caller pinned,
	 * and s is touched only while the request is still queued in it.
	 */
	assert(atomic_load(&d->refs) >= 2);
	while (!q->done) {
		if (!q->taken && q->from != NULL &&
		    atomic_load(&q->from->stopping)) {
			TAILQ_REMOVE(&s->reqq, q, link);
			q->rc = ECANCELED;
			break;
		}
		pthread_cond_wait(&q->cv, &d->mu);
	}
	if (q->from != NULL)
		q->from->waiting = NULL;
	supv__nocancel_end(old);
	pthread_cond_destroy(&q->cv);
	return q->rc;
}

static bool
has_loop(const struct supv *s)
{
	return s->state == SUP_STARTING || s->state == SUP_RUNNING;
}

/*
 * Adds spec c to sup.  Called with the tree's lock held, entered with
 * supv__tree_enter(): sup may be gone when it returns.
 */
int
supv__add_spec(struct supv *sup, struct child *c)
{
	struct request q = { .op = REQ_ADD, .spec = c };

	if (supv__caller_is_loop_of(sup))
		return EDEADLK;
	if (sup->deleted)
		return ECANCELED;	/* held across a wait (a pool's resize) */
	if (supv__find_child(sup, c->id) != NULL)
		return EEXIST;
	if (sup->state == SUP_STOPPING)
		return ECANCELED;
	if (has_loop(sup))
		return post(sup, &q);
	return supv__sup_spec_link(sup, c);
}

/*
 * Common checks of the calls on a child: EDEADLK from the tree's own event
 * callback, or from a worker on itself or an ancestor when self_ok is
 * false.  Called with the tree's lock held.
 */
static int
child_call(struct supv *sup, const char *id, bool self_ok, struct child **out)
{
	struct supv *ws;
	struct child *c;

	if (supv__caller_is_loop_of(sup))
		return EDEADLK;
	if ((c = supv__find_child(sup, id)) == NULL)
		return ENOENT;
	if (!self_ok && (ws = supv__caller_worker_sup(sup)) != NULL &&
	    (supv__tls_run->child == c || (c->sup != NULL && supv__in_subtree(c->sup, ws))))
		return EDEADLK;
	if (sup->state == SUP_STOPPING)
		return ECANCELED;
	*out = c;
	return 0;
}

static int
check_child_args(const struct supv *sup, const char *id)
{
	if (sup == NULL)
		return EINVAL;
	return supv__check_id(id);
}

/*
 * The calls on one child: posted to a running supervisor's loop; on a
 * stopped one nothing runs, so a deleted spec, or a terminated temporary
 * one, is removed here (*gone, to destroy without the lock) and
 * restarting is ESRCH.  Called with the tree's lock held, entered with
 * supv__tree_enter(): sup may be gone when it returns.
 */
int
supv__child_op_locked(struct supv *sup, const char *id, enum req_op op,
    struct child **gone)
{
	struct request q = { .op = op, .id = id };
	struct child *c;
	int rc;

	if (sup->deleted)
		return ECANCELED;	/* held across a wait (a pool's resize) */
	if ((rc = child_call(sup, id, op == REQ_RESTART, &c)) == 0) {
		if (has_loop(sup)) {
			rc = post(sup, &q);
		} else if (op == REQ_RESTART) {
			rc = ESRCH;
		} else if (op == REQ_DELETE || c->restart == SUPV_TEMPORARY) {
			supv__spec_delete(sup, c);
			*gone = c;
		}
	}
	return rc;
}

static int
child_op(struct supv *sup, const char *id, enum req_op op)
{
	struct child *gone = NULL;
	struct dom *d;
	int rc;

	if ((rc = check_child_args(sup, id)) != 0 ||
	    (rc = supv__check_owner(sup)) != 0)
		return rc;
	d = supv__tree_enter(sup);
	rc = supv__child_op_locked(sup, id, op, &gone);
	supv__tree_leave(d);
	if (gone != NULL)
		supv__spec_destroy(gone);
	return rc;
}

/*
 * Restarts or terminates the child path names in root's tree ("app/db/w",
 * %XX decoded): the path is resolved and the call posted under one hold
 * of the tree's lock, so the supervisor found cannot go in between.  A
 * restart of a running child terminates it first (what an operator means
 * by it); one found running again meanwhile is left so.
 */
int
supv__child_op_path(struct supv *root, const char *path, bool restart)
{
	char id[SUPV_ID_MAX + 1];
	struct child *c, *gone = NULL;
	struct dom *d;
	int rc;

	if ((rc = supv__check_owner(root)) != 0)
		return rc;
	d = supv__tree_enter(root);
	if ((rc = supv__resolve_path(root, path, &c)) == 0) {
		/* The loop finds it by id: a copy, in case it goes. */
		strlcpy(id, c->id, sizeof(id));
		if (!restart || c->state == CH_RUNNING || c->state == CH_STOPPING)
			rc = supv__child_op_locked(c->owner, id, REQ_TERMINATE,
			    &gone);
		/*
		 * The lock was dropped while the loop stopped it: its
		 * supervisor may have gone meanwhile, so find it again.
		 */
		if (restart && rc == 0 && gone == NULL &&
		    (rc = supv__resolve_path(root, path, &c)) == 0 &&
		    (rc = supv__child_op_locked(c->owner, id, REQ_RESTART,
		    &gone)) == EBUSY)
			rc = 0;
	}
	supv__tree_leave(d);
	if (gone != NULL)
		supv__spec_destroy(gone);
	return rc;
}

SUPV_EXPORT int
supv_terminate_child(struct supv *sup, const char *id)
{
	return child_op(sup, id, REQ_TERMINATE);
}

SUPV_EXPORT int
supv_restart_child(struct supv *sup, const char *id)
{
	return child_op(sup, id, REQ_RESTART);
}

SUPV_EXPORT int
supv_delete_child(struct supv *sup, const char *id)
{
	return child_op(sup, id, REQ_DELETE);
}

SUPV_EXPORT int
supv_count_children_sized(struct supv *sup, struct supv_counts *out,
    size_t size)
{
	struct supv_counts k = { 0 };
	struct child *c;

	if (sup == NULL || out == NULL)
		return EINVAL;
	supv__lock_sup(sup);
	TAILQ_FOREACH(c, &sup->children, order) {
		k.specs++;
		if (c->state == CH_RUNNING || c->state == CH_STOPPING)
			k.active++;
		if (c->sup != NULL)
			k.supervisors++;
		else
			k.workers++;
	}
	supv__unlock_sup(sup);
	supv__struct_out(out, size, &k, sizeof(k));
	return 0;
}

/* The entries are written at the caller's stride, each up to its size. */
SUPV_EXPORT int
supv_which_children_sized(struct supv *sup, struct supv_child_info *out,
    size_t n, size_t *total, size_t stride)
{
	struct supv_child_info ci;
	struct child *c;
	size_t i = 0;

	if (sup == NULL || total == NULL || (out == NULL && n != 0))
		return EINVAL;
	supv__lock_sup(sup);
	TAILQ_FOREACH(c, &sup->children, order) {
		if (i < n) {
			memset(&ci, 0, sizeof(ci));
			strlcpy(ci.id, c->id, sizeof(ci.id));
			ci.is_sup = c->sup != NULL;
			ci.running = c->state == CH_RUNNING ||
			    c->state == CH_STOPPING;
			ci.pending = c->state == CH_PENDING;
			ci.restart = c->restart;
			ci.restarts = c->restarts;
			supv__struct_out((char *)out + i * stride, stride, &ci,
			    sizeof(ci));
		}
		i++;
	}
	*total = i;
	supv__unlock_sup(sup);
	return 0;
}
