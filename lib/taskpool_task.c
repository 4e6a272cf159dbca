/*
 * taskpool_task.c - tasks: submitting them, the queue, retries with
 * backoff, results, and the handle the submitter holds.
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

#include "taskpool.h"

void
supv__tp_batch_init(struct batch *b)
{
	TAILQ_INIT(&b->fin);
	TAILQ_INIT(&b->dead);
}

bool
supv__tp_batch_empty(const struct batch *b)
{
	return TAILQ_EMPTY(&b->fin) && TAILQ_EMPTY(&b->dead);
}

/*
 * The transitions a task may make.  Anything else is a bug in the
 * library, caught here.
 */
void
supv__tp_task_set_state(struct supv_task *t, enum task_state to)
{
	static const bool allowed[5][5] = {
		/* from \ to       QUEUED DELAYED RUNNING FINISHING DONE */
		[T_QUEUED]    = { false, false,  true,   true,     false },
		[T_DELAYED]   = { true,  false,  false,  true,     false },
		[T_RUNNING]   = { true,  true,   false,  true,     false },
		[T_FINISHING] = { false, false,  false,  false,    true },
		[T_DONE]      = { false, false,  false,  false,    false },
	};

	if (!allowed[t->state][to])
		abort();
	t->state = to;
}

/* Frees a task that no one references.  Called without pool->mu. */
void
supv__tp_task_free(struct supv_task *t)
{
	if (t->has_cv)
		pthread_cond_destroy(&t->cv);
	free(t);
}

/*
 * Drops the pool's reference with pool->mu held.  The last one keeps the
 * task in the pool's cache for a later submit, or frees it with the
 * batch.
 */
static void
task_unref_locked(struct supv_taskpool *p, struct supv_task *t, struct batch *b)
{
	/*
	 * A count of 1 is ours alone: the handle, if any, is gone, and no
	 * reference is taken after submit.  That spares an atomic RMW.
	 */
	if (atomic_load_explicit(&t->refs, memory_order_acquire) != 1 &&
	    atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (p->nfree < TP_CACHE_MAX) {
		TAILQ_INSERT_HEAD(&p->free, t, link);
		p->nfree++;
	} else {
		TAILQ_INSERT_TAIL(&b->dead, t, link);
	}
}

/* The end of a finished task: waiters return, the pool lets it go. */
static void
task_done(struct supv_taskpool *p, struct supv_task *t, struct batch *b)
{
	supv__tp_task_set_state(t, T_DONE);
	atomic_store_explicit(&t->finished, true, memory_order_release);
	if (t->res.status == SUPV_TASK_DONE)
		p->n_succeeded++;
	else if (t->res.status == SUPV_TASK_CANCELLED)
		p->n_cancelled++;
	else
		p->n_failed++;
	if (t->nwaiters > 0)
		pthread_cond_broadcast(&t->cv);
	if (--p->nlive == 0 && p->drain_waiters > 0)
		pthread_cond_broadcast(&p->drain_cv);
	task_unref_locked(p, t, b);
}

/*
 * Gives t (in no list, on no slot) its result.  A task with an on_done
 * goes to the batch, whose flush calls it and then makes it done.
 */
void
supv__tp_task_finish(struct supv_taskpool *p, struct supv_task *t,
    enum supv_task_status status, int code, struct batch *b)
{
	t->res.status = status;
	t->res.code = code;
	t->res.attempts = t->attempts;
	supv__tp_task_set_state(t, T_FINISHING);
	if (t->on_done != NULL)
		TAILQ_INSERT_TAIL(&b->fin, t, link);
	else
		task_done(p, t, b);
}

/*
 * Calls the on_done of the tasks that finished, then makes them done, and
 * frees what lost its last reference.  A cancellation of the calling
 * worker waits until it is over: no task is left finishing.  Called
 * without pool->mu.
 */
void
supv__tp_batch_flush(struct supv_taskpool *p, struct batch *b)
{
	struct supv_task *t, *next;
	int old;

	if (!TAILQ_EMPTY(&b->fin)) {
		old = supv__nocancel_begin();
		/* A finishing task's result no longer changes: no lock. */
		TAILQ_FOREACH(t, &b->fin, link)
			t->on_done(&t->res, t->done_arg);
		pthread_mutex_lock(&p->mu);
		while ((t = TAILQ_FIRST(&b->fin)) != NULL) {
			TAILQ_REMOVE(&b->fin, t, link);
			task_done(p, t, b);
		}
		pthread_mutex_unlock(&p->mu);
		supv__nocancel_end(old);
	}
	TAILQ_FOREACH_SAFE(t, &b->dead, link, next)
		supv__tp_task_free(t);
	TAILQ_INIT(&b->dead);
}

static void
queue_push(struct supv_taskpool *p, struct supv_task *t)
{
	TAILQ_INSERT_TAIL(&p->queue, t, link);
	p->nqueued++;
	supv__tp_pool_wake_one(p);
}

/*
 * The delay (ms) before try k+1 after k >= 1 failed ones: min(base_ms *
 * 2^(k-1), max_ms), scaled by a random factor in [0.5, 1.0], as for
 * restarts (the cap always holds).  For the attempts of a task, and the
 * starts of a worker the pool replaces.
 */
unsigned
supv__tp_backoff(unsigned base_ms, unsigned max_ms, unsigned k)
{
	uint64_t d = base_ms, max = max_ms;

	if (d == 0)
		return 0;
	while (--k > 0 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	d = d / 2 + arc4random_uniform((uint32_t)(d - d / 2 + 1));
	return (unsigned)d;
}

/*
 * An attempt of t (taken off its slot) failed: retry it, after its
 * backoff, or finish it with status once it has no attempts left or the
 * pool is stopping.
 */
void
supv__tp_task_failed(struct supv_taskpool *p, struct supv_task *t,
    enum supv_task_status status, int code, struct batch *b)
{
	struct supv_task *x;
	unsigned delay;

	t->res.code = code;
	if (p->state != POOL_OPEN && p->state != POOL_DRAINING) {
		supv__tp_task_finish(p, t, SUPV_TASK_CANCELLED, code, b);
		return;
	}
	if (t->attempts >= t->max_attempts) {
		supv__tp_task_finish(p, t, status, code, b);
		return;
	}
	if ((delay = supv__tp_backoff(p->backoff_ms, p->backoff_max_ms,
	    t->attempts)) == 0) {
		supv__tp_task_set_state(t, T_QUEUED);
		queue_push(p, t);
		return;
	}
	supv__tp_task_set_state(t, T_DELAYED);
	t->due = supv__now_ns() + (uint64_t)delay * NS_PER_MS;
	TAILQ_FOREACH_REVERSE(x, &p->delayed, task_list, link)
		if (x->due <= t->due)
			break;
	if (x == NULL)
		TAILQ_INSERT_HEAD(&p->delayed, t, link);
	else
		TAILQ_INSERT_AFTER(&p->delayed, x, t, link);
	p->ndelayed++;
	/* Idle workers wait for the first due time: tell one of a new one. */
	if (TAILQ_FIRST(&p->delayed) == t)
		supv__tp_pool_wake_one(p);
}

/*
 * Moves the retries whose time has come to the queue, waking idle
 * workers for them (the caller, not idle, takes one of them).
 */
void
supv__tp_tasks_promote_due(struct supv_taskpool *p, uint64_t now)
{
	struct supv_task *t;

	while ((t = TAILQ_FIRST(&p->delayed)) != NULL && t->due <= now) {
		TAILQ_REMOVE(&p->delayed, t, link);
		p->ndelayed--;
		supv__tp_task_set_state(t, T_QUEUED);
		queue_push(p, t);
	}
}

/* Cancels every task that is waiting to start or to be retried. */
void
supv__tp_tasks_cancel_waiting(struct supv_taskpool *p, struct batch *b)
{
	struct supv_task *t;

	while ((t = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, t, link);
		p->nqueued--;
		supv__tp_task_finish(p, t, SUPV_TASK_CANCELLED, t->res.code, b);
	}
	while ((t = TAILQ_FIRST(&p->delayed)) != NULL) {
		TAILQ_REMOVE(&p->delayed, t, link);
		p->ndelayed--;
		supv__tp_task_finish(p, t, SUPV_TASK_CANCELLED, t->res.code, b);
	}
	if (p->space_waiters > 0)
		pthread_cond_broadcast(&p->space_cv);
}

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
		if (!supv__tp_pool_wait(p, &p->space_cv, deadline) && pool_full(p) &&
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
	struct supv_task *t;
	uint64_t deadline = NO_DEADLINE;
	bool nowait = false, held = false;
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

	pthread_mutex_lock(&p->mu);
	if ((rc = admit(p, nowait, deadline, &held)) != 0) {
		pthread_mutex_unlock(&p->mu);
		if (held)
			supv__tp_pool_unref(p);
		return rc;
	}
	/* A task from the cache, else a new one (rare: not worth a relock). */
	if ((t = TAILQ_FIRST(&p->free)) != NULL) {
		TAILQ_REMOVE(&p->free, t, link);
		p->nfree--;
	} else if ((t = supv__xcalloc(1, sizeof(*t))) == NULL) {
		pthread_mutex_unlock(&p->mu);
		if (held)
			supv__tp_pool_unref(p);
		return ENOMEM;
	} else {
		t->has_cv = false;
	}
	t->pool = p;
	t->fn = fn;
	t->arg = arg;
	t->on_done = o->on_done;
	t->done_arg = o->done_arg;
	t->max_attempts = o->attempts == 0 ? p->attempts :
	    o->attempts == SUPV_INFINITY ? UINT_MAX : o->attempts;
	t->deadline_ns = o->deadline_ms == 0 ? p->deadline_ns :
	    o->deadline_ms == SUPV_INFINITY ? 0 :
	    (uint64_t)o->deadline_ms * NS_PER_MS;
	atomic_init(&t->refs, out != NULL ? 2 : 1);
	t->state = T_QUEUED;
	t->attempts = 0;
	t->slot = NULL;
	t->res = (struct supv_task_result){ .status = SUPV_TASK_PENDING };
	t->nwaiters = 0;
	atomic_init(&t->finished, false);
	if (out != NULL)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	p->nlive++;
	p->n_submitted++;
	queue_push(p, t);
	/* Room left: pass the turn to the next submitter waiting. */
	if (p->space_waiters > 0 && !pool_full(p))
		pthread_cond_signal(&p->space_cv);
	pthread_mutex_unlock(&p->mu);
	if (held)
		supv__tp_pool_unref(p);
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
		if (!supv__tp_pool_wait(p, &t->cv, deadline) && t->state != T_DONE)
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
		TAILQ_REMOVE(&p->queue, t, link);
		p->nqueued--;
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
	supv__tp_pool_unref(p);
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

	if ((unsigned)status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}
