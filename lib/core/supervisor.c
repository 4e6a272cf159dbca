/*
 * supervisor.c - the public calls that make a tree and run it: new,
 * adding workers and child supervisors, start, stop, wait, free.  The
 * calls on children are in children.c.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/core.h"
#include "process/process.h"

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

/* Adds the new spec c to sup; a failure discards it. */
static int
add_new_spec(struct supv *sup, struct child *c)
{
	struct dom *d = supv__tree_enter(sup);
	int rc = supv__add_spec(sup, c);

	supv__tree_leave(d);
	if (rc != 0)
		supv__spec_discard(c);
	return rc;
}

SUPV_EXPORT int
supv_add_worker_sized(struct supv *sup, const struct supv_child_opts *user,
    supv_work_fn *fn, void *arg, size_t size)
{
	struct supv_child_opts o;
	const struct supv_child_opts *opts = &o;
	struct child *c;
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
	c->arg_boxed = opts->arg_free != NULL;	/* a bit-field: no address */
	if (supv__arg_init(&c->arg, arg, opts->arg_free) != 0) {
		free(c);
		return ENOMEM;
	}
	return add_new_spec(sup, c);
}

/*
 * A process child: an external program run as a worker of sup, under the
 * same rules (supv_add_process(3)).  What a thread's options say of its
 * thread (same_thread, on_timeout, stack_size, hang_trace, arg_free)
 * does not apply: same_thread is EINVAL, the others are ignored.
 */
SUPV_EXPORT int
supv_add_process_sized(struct supv *sup, const struct supv_child_opts *user,
    const struct supv_process_opts *upopts, size_t size, size_t psize)
{
	struct supv_child_opts o;
	struct supv_process_opts po;
	struct child *c;
	int rc;

	if (sup == NULL || user == NULL || upopts == NULL)
		return EINVAL;
	if ((rc = supv__struct_in(&o, sizeof(o), user, size)) != 0 ||
	    (rc = supv__struct_in(&po, sizeof(po), upopts, psize)) != 0)
		return rc;
	/* Readiness and heartbeats come through the notify socket alone. */
	if (o.same_thread || ((o.heartbeat_ms != 0 || o.ready_ms != 0) && !po.notify))
		return EINVAL;
	/* Its children's statuses would be lost: refused, clearly. */
	if (!supv__proc_statuses_kept())
		return ECHILD;
	o.hang_trace = false;
	o.stack_size = 0;
	o.arg_free = NULL;
	o.on_timeout = SUPV_TIMEOUT_ABANDON;
	if ((rc = supv__check_owner(sup)) != 0 ||
	    (rc = supv__spec_new(sup, &o, false, &c)) != 0)
		return rc;
	if ((rc = supv__procspec_new(&po, &c->proc)) != 0) {
		c->proc = NULL;
		supv__spec_discard(c);
		return rc;
	}
	c->is_proc = true;
	return add_new_spec(sup, c);
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
			*why = root->end_kind;
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
	/* Its process children have ended: what lingers of their groups goes. */
	supv__procwatch_free(sup);
	supv__notify_free(sup);
	supv__sup_destroy(sup);
}

SUPV_EXPORT const char *
supv_name(const struct supv *sup)
{
	return sup != NULL ? sup->name : NULL;
}
