/*
 * task.c - tasks: submitting them (into the queue, queue.c), retries
 * with backoff, results, and the handle the submitter holds.
 *
 * A task is referenced by its submitter's handle (if it asked for one)
 * and by the pool until it is done.  When the pool lets go last, the task
 * goes to the pool's cache, for the next submit: a fire-and-forget task
 * costs no malloc and no free.  A handle holds the pool as well, so that
 * it stays valid after the pool's tree has let the pool go.
 *
 * A task's result is set once, when it finishes: its on_done is called
 * then, without the lock, and only after that do waiters see it done, so
 * that what on_done stored is visible to whoever waited.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "taskpool/taskpool.h"

/* Why submit cannot queue now, or 0.  Called with pool->mu held. */
static int
refused(const struct supv_taskpool *p)
{
	switch (p->state) {
	case POOL_IDLE:
		return ESRCH;
	case POOL_OPEN:
		return 0;
	default:
		return ECANCELED;
	}
}

/*
 * Waits for room in the queue.  Returns 0 when there is, else why not.
 * A caller that waited holds a reference to the pool (*held), to drop
 * once it has unlocked: the pool may be deleted meanwhile.  Called with
 * pool->mu held.
 */
static int
admit(struct supv_taskpool *p, bool nowait, uint64_t deadline, bool *held)
{
	int rc, old;

	if ((rc = refused(p)) != 0 || !pool_full(p))
		return rc;
	if (nowait)
		return EAGAIN;
	*held = true;
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	old = supv__nocancel_begin();
	p->space_waiters++;
	while ((rc = refused(p)) == 0 && pool_full(p)) {
		if (p->nahead > 0)
			atomic_store_explicit(&p->room_wanted, true, memory_order_relaxed);
		if (!supv__cond_wait_until(&p->space_cv, &p->mu, deadline) && pool_full(p) &&
		    (rc = refused(p)) == 0) {
			rc = ETIMEDOUT;
			break;
		}
	}
	p->space_waiters--;
	supv__nocancel_end(old);
	return rc;
}

SUPV_EXPORT int
supv_taskpool_submit_sized(struct supv_taskpool *p, supv_task_fn *fn,
    void *arg, const struct supv_task_opts *uo, struct supv_task **out,
    size_t size)
{
	struct supv_task_opts oo;
	const struct supv_task_opts *o = &oo;
	struct supv_task *t = NULL;
	uint64_t deadline = NO_DEADLINE;
	bool nowait = false, held = false, plain;
	int rc;

	if (p == NULL || fn == NULL)
		return EINVAL;
	if ((rc = supv__struct_in(&oo, sizeof(oo), uo, size)) != 0)
		return rc;
	if (o->attempts == SUPV_ZERO || o->deadline_ms == SUPV_ZERO)
		return EINVAL;
	if (o->wait_ms == SUPV_ZERO)
		nowait = true;
	else if (o->wait_ms != 0 && o->wait_ms != SUPV_INFINITY)
		deadline = supv__now_ns() + (uint64_t)o->wait_ms * NS_PER_MS;

	/* A plain task needs no record (queue.c). */
	plain = out == NULL && o->on_done == NULL && o->attempts == 0 &&
	    o->deadline_ms == 0;
	pthread_mutex_lock(&p->mu);
	if ((rc = admit(p, nowait, deadline, &held)) == 0) {
		if (plain)
			rc = supv__tp_queue_room(p);
		else if ((t = supv__tp_task_get(p)) == NULL)
			rc = ENOMEM;
	}
	if (rc != 0) {
		pthread_mutex_unlock(&p->mu);
		if (held)
			supv__tp_unref(p);
		return rc;
	}
	if (t != NULL) {
		supv__tp_task_reset(p, t, fn, arg);
		t->on_done = o->on_done;
		t->done_arg = o->done_arg;
		if (o->attempts != 0)
			t->max_attempts = o->attempts == SUPV_INFINITY ? UINT_MAX :
			    o->attempts;
		if (o->deadline_ms != 0)
			t->deadline_ns = o->deadline_ms == SUPV_INFINITY ? 0 :
			    (uint64_t)o->deadline_ms * NS_PER_MS;
		if (out != NULL) {
			atomic_init(&t->refs, 2);
			atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
		}
	}
	p->nlive++;
	supv__tp_queue_push(p, fn, arg, t);
	/* Room left: pass the turn to the next submitter waiting. */
	if (p->space_waiters > 0 && !pool_full(p))
		pthread_cond_signal(&p->space_cv);
	pthread_mutex_unlock(&p->mu);
	if (held)
		supv__tp_unref(p);
	if (out != NULL)
		*out = t;
	return 0;
}

SUPV_EXPORT int
supv_task_wait_sized(struct supv_task *t, unsigned timeout_ms,
    struct supv_task_result *res, size_t size)
{
	struct supv_taskpool *p;
	uint64_t deadline;
	int rc = 0, old;

	if (t == NULL)
		return EINVAL;
	if (atomic_load_explicit(&t->finished, memory_order_acquire)) {
		if (res != NULL)
			supv__struct_out(res, size, &t->res, sizeof(t->res));
		return 0;
	}
	p = t->pool;
	if (timeout_ms == SUPV_INFINITY)
		deadline = NO_DEADLINE;
	else
		deadline = supv__now_ns() + (timeout_ms == SUPV_ZERO ? 0 :
		    (uint64_t)timeout_ms * NS_PER_MS);
	old = supv__nocancel_begin();
	pthread_mutex_lock(&p->mu);
	while (t->state != T_DONE) {
		if (!t->has_cv) {
			if ((rc = supv__cond_init(&t->cv)) != 0)
				break;
			t->has_cv = true;
		}
		t->nwaiters++;
		if (!supv__cond_wait_until(&t->cv, &p->mu, deadline) && t->state != T_DONE)
			rc = ETIMEDOUT;
		t->nwaiters--;
		if (rc != 0)
			break;
	}
	if (rc == 0 && res != NULL)
		supv__struct_out(res, size, &t->res, sizeof(t->res));
	pthread_mutex_unlock(&p->mu);
	supv__nocancel_end(old);
	return rc;
}

SUPV_EXPORT int
supv_task_poll_sized(struct supv_task *t, struct supv_task_result *res,
    size_t size)
{
	struct supv_taskpool *p;
	int rc = EBUSY;

	if (t == NULL)
		return EINVAL;
	if (atomic_load_explicit(&t->finished, memory_order_acquire)) {
		if (res != NULL)
			supv__struct_out(res, size, &t->res, sizeof(t->res));
		return 0;
	}
	p = t->pool;
	pthread_mutex_lock(&p->mu);
	if (t->state == T_DONE) {
		rc = 0;
		if (res != NULL)
			supv__struct_out(res, size, &t->res, sizeof(t->res));
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

SUPV_EXPORT int
supv_task_cancel(struct supv_task *t)
{
	struct supv_taskpool *p;
	struct batch b;
	int rc = 0;

	if (t == NULL)
		return EINVAL;
	p = t->pool;
	supv__tp_batch_init(&b);
	pthread_mutex_lock(&p->mu);
	switch (t->state) {
	case T_QUEUED:
		if (pool_full(p) && p->space_waiters > 0)
			pthread_cond_signal(&p->space_cv);
		supv__tp_queue_remove(p, t);
		break;
	case T_DELAYED:
		if (pool_full(p) && p->space_waiters > 0)
			pthread_cond_signal(&p->space_cv);
		TAILQ_REMOVE(&p->delayed, t, link);
		p->ndelayed--;
		break;
	case T_RUNNING:
		rc = EBUSY;
		break;
	default:
		rc = EALREADY;
		break;
	}
	if (rc == 0)
		supv__tp_task_finish(p, t, SUPV_TASK_CANCELLED, t->res.code, &b);
	pthread_mutex_unlock(&p->mu);
	supv__tp_batch_flush(p, &b);
	return rc;
}

SUPV_EXPORT void
supv_task_release(struct supv_task *t)
{
	struct supv_taskpool *p;

	if (t == NULL)
		return;
	/* The handle held the pool too: a task may outlive its tree. */
	p = t->pool;
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		/* Done, and the pool let go: into its cache if it has room. */
		pthread_mutex_lock(&p->mu);
		if (p->nfree < TP_CACHE_MAX) {
			TAILQ_INSERT_HEAD(&p->free, t, link);
			p->nfree++;
			t = NULL;
		}
		pthread_mutex_unlock(&p->mu);
		if (t != NULL)
			supv__tp_task_free(t);
	}
	supv__tp_unref(p);
}

SUPV_EXPORT const char *
supv_task_status_name(enum supv_task_status status)
{
	static const char *const names[] = {
		[SUPV_TASK_PENDING] = "pending",
		[SUPV_TASK_DONE] = "done",
		[SUPV_TASK_FAILED] = "failed",
		[SUPV_TASK_HUNG] = "hung",
		[SUPV_TASK_TIMED_OUT] = "timed_out",
		[SUPV_TASK_CRASHED] = "crashed",
		[SUPV_TASK_CANCELLED] = "cancelled",
	};

	return SUPV__NAME_OF(names, status);
}
