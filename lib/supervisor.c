/*
 * supervisor.c - the public calls that build, run and change a tree.
 *
 * A call on a running supervisor is posted to its loop (loop.c) and
 * answered there; a call on a stopped one changes it here, under the tree's lock.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "supervise_internal.h"

static int
copy_name(char *dst, const char *src, const char *dflt)
{
	int rc;

	if (src == NULL)
		src = dflt;
	if ((rc = supv__check_id(src)) != 0)
		return rc;
	strlcpy(dst, src, SUPV_ID_MAX + 1);
	return 0;
}

SUPV_EXPORT int
supv_new_sized(struct supv **out, const struct supv_opts *user, size_t size)
{
	struct supv_opts o;
	const struct supv_opts *opts = &o;
	struct supv *s;
	unsigned intensity, period;
	int rc;

	if (out == NULL)
		return EINVAL;
	/* NULL reads as all defaults, as a zeroed struct does. */
	if ((rc = supv__struct_in(&o, sizeof(o), user, size)) != 0)
		return rc;
	if ((unsigned)opts->strategy > SUPV_REST_FOR_ONE ||
	    (unsigned)opts->auto_shutdown > SUPV_AUTO_ALL)
		return EINVAL;
	intensity = opts->intensity;
	if (intensity == 0)
		intensity = DEFAULT_INTENSITY;
	else if (intensity == SUPV_ZERO)
		intensity = 0;
	else if (intensity != SUPV_INFINITY && intensity > SUPV_INTENSITY_LIMIT)
		return EINVAL;
	period = opts->period_ms;
	if (period == 0)
		period = DEFAULT_PERIOD_MS;
	else if (period == SUPV_ZERO)
		return EINVAL;
	if ((s = supv__xcalloc(1, sizeof(*s))) == NULL)
		return ENOMEM;
	if ((rc = copy_name(s->name, opts->name, DEFAULT_NAME)) != 0)
		goto fail;
	s->strategy = opts->strategy;
	s->auto_shutdown = opts->auto_shutdown;
	s->on_event = opts->on_event;
	s->event_arg = opts->event_arg;
	s->pid = supv__pid();
	s->wait_fd = -1;
	TAILQ_INIT(&s->children);
	RB_INIT(&s->byid);
	TAILQ_INIT(&s->hbgroups);
	TAILQ_INIT(&s->hbfound);
	RB_INIT(&s->pend);
	TAILQ_INIT(&s->hungq);
	TAILQ_INIT(&s->exitq);
	TAILQ_INIT(&s->reqq);
	if ((s->own_dom = supv__dom_new()) == NULL) {
		rc = ENOMEM;
		goto fail;
	}
	atomic_init(&s->dom, s->own_dom);
	atomic_init(&s->refs, 1);
	if ((rc = supv__window_init(&s->win, intensity, period)) != 0)
		goto fail;
	if ((rc = supv__cond_init(&s->done_cv)) != 0)
		goto fail_win;
	if ((rc = supv__cond_init(&s->emit_cv)) != 0)
		goto fail_done;
	*out = s;
	return 0;
fail_done:
	pthread_cond_destroy(&s->done_cv);
fail_win:
	supv__window_free(&s->win);
fail:
	supv__dom_unref(s->own_dom);
	free(s);
	return rc;
}

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

SUPV_EXPORT int
supv_add_worker_sized(struct supv *sup, const struct supv_child_opts *user,
    supv_work_fn *fn, void *arg, size_t size)
{
	struct supv_child_opts o;
	const struct supv_child_opts *opts = &o;
	struct child *c;
	struct dom *d;
	int rc;

	if (sup == NULL || user == NULL || fn == NULL)
		return EINVAL;
	if ((rc = supv__struct_in(&o, sizeof(o), user, size)) != 0)
		return rc;
	/* First: a child process after fork() must not even allocate. */
	if ((rc = supv__check_owner(sup)) != 0 ||
	    (rc = supv__spec_new(sup, opts, false, &c)) != 0)
		return rc;
	c->fn = fn;
	if (supv__arg_init(&c->arg, &c->arg_boxed, arg, opts->arg_free) != 0) {
		free(c);
		return ENOMEM;
	}
	d = supv__tree_enter(sup);
	rc = supv__add_spec(sup, c);
	supv__tree_leave(d);
	if (rc != 0)
		supv__spec_discard(c);
	return rc;
}

SUPV_EXPORT int
supv_add_sup_sized(struct supv *parent, const struct supv_child_opts *user,
    struct supv *child, size_t size)
{
	struct supv_child_opts o;
	const struct supv_child_opts *opts = &o;
	struct child *c;
	struct dom *d;
	int rc;

	if (parent == NULL || user == NULL || child == NULL)
		return EINVAL;
	if ((rc = supv__struct_in(&o, sizeof(o), user, size)) != 0)
		return rc;
	/* First: a child process after fork() must not even allocate. */
	if ((rc = supv__check_owner(parent)) != 0 ||
	    (rc = supv__spec_new(parent, opts, true, &c)) != 0)
		return rc;
	/* child joins parent's tree, and lock: one lock for both from now. */
	if ((rc = supv__dom_merge(parent, child, &d)) != 0) {
		supv__spec_discard(c);
		return rc;
	}
	if (child == parent || child->parent != NULL ||
	    child->state != SUP_IDLE || supv__in_subtree(child, parent) ||
	    child->sigstop != NULL || child->notify != NULL ||
	    child->control != NULL) {
		/* A root's signal thread, notifier or socket would be lost below. */
		rc = EINVAL;
	} else {
		c->sup = child;
		child->parent = parent;
		child->spec = c;
		if ((rc = supv__add_spec(parent, c)) != 0) {
			/* The caller owns child again, as it was. */
			child->parent = NULL;
			child->spec = NULL;
			child->run = NULL;
			supv__sup_set_state(child, SUP_IDLE);
		}
	}
	if (rc != 0 && child->parent == NULL && child != parent &&
	    atomic_load(&child->dom) != child->own_dom)
		supv__dom_split(child);	/* last: child is its own tree again */
	supv__tree_leave(d);	/* parent may be gone: see post() */
	if (rc != 0)
		supv__spec_discard(c);
	return rc;
}

/*
 * Starts a stopped root.  The state turns SUP_STARTING before the lock is
 * first dropped (to join the last run's loop, or in supv__notify_open()), so a
 * concurrent supv_start() gets EBUSY and a concurrent supv_stop() waits for
 * this run; this thread alone goes on with the start.
 */
SUPV_EXPORT int
supv_start(struct supv *root)
{
	struct supv__chaos_prep chaos;
	enum sup_state was;
	pthread_t old;
	int rc, oldcancel;

	if (root == NULL)
		return EINVAL;
	if ((rc = supv__check_owner(root)) != 0 ||
	    (rc = supv__chaos_prepare(secure_getenv("SUPV_CHAOS"), &chaos)) != 0)
		return rc;
	supv__lock_sup(root);
	if (root->parent != NULL)
		rc = EINVAL;
	else if (supv__caller_is_loop_of(root))
		rc = EDEADLK;
	else if (root->state != SUP_IDLE && root->state != SUP_TERMINATED)
		rc = EBUSY;
	else if (chaos.n > 0)
		rc = supv__chaos_check(root, &chaos);
	if (rc != 0) {
		supv__unlock_sup(root);
		supv__chaos_prep_free(&chaos);
		return rc;
	}
	oldcancel = supv__nocancel_begin();
	was = root->state;
	supv__sup_run_begin(root, NULL);
	root->start_done = false;
	root->run_seq++;
	supv__flagfd_clear(root->wait_fd);
	if (root->joinable) {
		root->joinable = false;
		old = root->thread;
		supv__unlock_sup(root);
		fault_pause(FP_START_UNLOCKED);
		pthread_join(old, NULL);
		supv__lock_sup(root);
	}
	supv__notify_open(root);
	/* The lock was dropped since the rules were checked: again. */
	if ((chaos.n == 0 || (rc = supv__chaos_check(root, &chaos)) == 0) &&
	    (rc = supv__sup_launch(root, 0)) != 0)
		rc = EAGAIN;
	if (rc != 0) {
		/* This run ended before it began; a stop waiting for it returns. */
		supv__sup_set_state(root, was);
		root->end_seq = root->run_seq;
		supv__flagfd_set(root->wait_fd);
		pthread_cond_broadcast(&root->done_cv);
		supv__unlock_sup(root);
		supv__nocancel_end(oldcancel);
		supv__chaos_prep_free(&chaos);
		return rc;
	}
	/*
	 * The rules of SUPV_CHAOS only now that the run has begun (a failed
	 * start changes nothing): its loop waits for this lock to start
	 * anything.
	 */
	if (chaos.n > 0)
		supv__chaos_commit(root, &chaos);
	root->joinable = true;
	while (!root->start_done)
		pthread_cond_wait(&root->done_cv, supv__mu_of(root));
	rc = root->start_rc;
	supv__unlock_sup(root);
	supv__nocancel_end(oldcancel);
	supv__chaos_prep_free(&chaos);
	return rc;
}

/* Checks shared by supv_stop and supv_wait.  Called with the tree's lock held. */
static int
root_call_check(struct supv *root)
{
	if (root->parent != NULL)
		return EINVAL;
	if (supv__caller_is_loop_of(root) || supv__caller_worker_sup(root) != NULL)
		return EDEADLK;
	return 0;
}

/*
 * Waits until the current run of root has ended, or until deadline (ns):
 * ETIMEDOUT then.  Called with the tree's lock held.
 */
static int
wait_end(struct supv *root, uint64_t deadline)
{
	unsigned long seq = root->run_seq;
	int old = supv__nocancel_begin();
	bool in_time = true;

	while (root->end_seq < seq && in_time)
		in_time = supv__cond_wait_until(&root->done_cv,
		    supv__mu_of(root), deadline);
	supv__nocancel_end(old);
	return root->end_seq < seq ? ETIMEDOUT : 0;
}

SUPV_EXPORT int
supv_stop(struct supv *root)
{
	int rc;

	if (root == NULL)
		return EINVAL;
	if ((rc = supv__check_owner(root)) != 0)
		return rc;
	supv__lock_sup(root);
	if ((rc = root_call_check(root)) == 0 && root->state != SUP_IDLE) {
		supv__sup_request_stop(root, false);
		wait_end(root, NO_DEADLINE);
	}
	supv__unlock_sup(root);
	return rc;
}

SUPV_EXPORT int
supv_timedwait(struct supv *root, enum supv_exit_kind *why,
    unsigned timeout_ms)
{
	int rc;

	if (root == NULL)
		return EINVAL;
	if ((rc = supv__check_owner(root)) != 0)
		return rc;
	supv__lock_sup(root);
	if ((rc = root_call_check(root)) == 0) {
		if (root->state == SUP_IDLE) {
			rc = ESRCH;
		} else if ((rc = wait_end(root, supv__deadline_after_ms(supv__now_ns(),
		    timeout_ms == SUPV_ZERO ? 0 : timeout_ms))) == 0 &&
		    why != NULL) {
			*why = root->why;
		}
	}
	supv__unlock_sup(root);
	return rc;
}

SUPV_EXPORT int
supv_wait(struct supv *root, enum supv_exit_kind *why)
{
	return supv_timedwait(root, why, SUPV_INFINITY);
}

/*
 * A descriptor for an event loop: readable while no run of root is in
 * progress (from the end of a run to the next supv_start), so that a
 * program can poll for its tree's end and then call supv_wait() without
 * blocking.  The library owns it; it lives as long as root.
 */
SUPV_EXPORT int
supv_wait_fd(struct supv *root)
{
	int fd;

	if (root == NULL || supv__check_owner(root) != 0)
		return -1;
	supv__lock_sup(root);
	if (root->parent == NULL && root->wait_fd < 0) {
		root->wait_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (root->run_seq > 0 && root->end_seq == root->run_seq)
			supv__flagfd_set(root->wait_fd);
	}
	fd = root->parent == NULL ? root->wait_fd : -1;
	supv__unlock_sup(root);
	return fd;
}

SUPV_EXPORT void
supv_free(struct supv *sup)
{
	pthread_t t;
	bool join;

	if (sup == NULL || supv__check_owner(sup) != 0)
		return;
	supv__lock_sup(sup);
	if (sup->parent != NULL || root_call_check(sup) != 0) {
		supv__unlock_sup(sup);
		return;
	}
	supv__unlock_sup(sup);
	/* Nobody outside may ask anything once the tree begins to go. */
	if (sup->control_free != NULL)
		sup->control_free(sup);
	supv_stop(sup);
	supv__sigstop_free(sup);
	supv__lock_sup(sup);
	join = sup->joinable;
	sup->joinable = false;
	t = sup->thread;
	supv__spec_delete_all(sup);	/* a worker holding one of them sees it */
	supv__unlock_sup(sup);
	if (join)
		pthread_join(t, NULL);
	supv__notify_free(sup);
	supv__sup_destroy(sup);
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
	if ((rc = supv__resolve_path(root, path, true, &c)) == 0) {
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
		    (rc = supv__resolve_path(root, path, true, &c)) == 0 &&
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

SUPV_EXPORT const char *
supv_name(const struct supv *sup)
{
	return sup != NULL ? sup->name : NULL;
}
