/*
 * worker.c - a task pool's workers: each takes tasks from the queue
 * and runs them, one attempt at a time, idle in between; a task that
 * fails ends its worker's run, for the supervisor to restart it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "taskpool/taskpool.h"

/* The run and attempt of the task the calling thread is running. */
static _Thread_local const struct supv_worker *tls_task_self;
static _Thread_local unsigned tls_task_attempt;

/*
 * Waits, idle, until work is handed over, the next retry is due, or the
 * run is asked to stop.  Hang detection is suspended meanwhile: the next
 * heartbeat resumes it.  The run may be abandoned while it waits (it did
 * not wake within its grace), and its slot given to a successor: once it
 * has the locks back, it touches the slot only if the slot is still its
 * own.  Called with pool->mu held, and sl owned by self; drops the lock
 * meanwhile.
 */
static void
tp_slot_idle(struct supv_taskpool *p, struct tp_slot *sl, struct supv_worker *self,
    uint64_t deadline)
{
	struct supv_task *first = TAILQ_FIRST(&p->delayed);
	int old;

	if (first != NULL && first->due < deadline)
		deadline = first->due;
	supv__tp_queue_trim(p);

	sl->idle = true;
	LIST_INSERT_HEAD(&p->idle, sl, idle_link);
	supv_extend(self, SUPV_INFINITY);
	pthread_mutex_unlock(&p->mu);
	old = supv__nocancel_begin();
	(void)supv__run_wait(self, deadline);
	supv__nocancel_end(old);
	pthread_mutex_lock(&p->mu);
	if (sl->run == self && sl->idle) {
		LIST_REMOVE(sl, idle_link);
		sl->idle = false;
	}
}

/* How long a worker waits for memory for its spare record (ns). */
#define TP_NOMEM_WAIT_NS (10 * NS_PER_MS)

/*
 * Takes the oldest queued task, a plain one into sl's spare record:
 * NULL if there is none, or (rare) no memory for a spare, when the task
 * stays queued.
 */
static void tp_take_more(struct supv_taskpool *p, struct tp_slot *sl,
    const struct tp_entry *first);

static struct supv_task *
tp_take(struct supv_taskpool *p, struct tp_slot *sl)
{
	struct supv_task *t;
	struct tp_entry e;

	if (p->nqueued == 0)
		return NULL;
	if (sl->spare == NULL && supv__tp_queue_plain_first(p)) {
		if ((t = supv__tp_task_get(p)) == NULL)
			return NULL;
		supv__tp_task_reset(p, t, NULL, NULL);
		t->home = sl;
		sl->spare = t;
	}
	if ((t = supv__tp_queue_pop(p, &e)) != NULL)
		return t;
	supv__tp_task_rerun(sl->spare, e.fn, e.arg);
	tp_take_more(p, sl, &e);
	return sl->spare;
}

/*
 * After taking the plain task first, takes the plain ones queued after
 * it too, up to the pool's take_max in all and to this worker's share of
 * the queue, so that the others have theirs: the worker then runs them
 * one after the other without the lock (supv__tp_worker).  Not when the
 * pool gives attempts a deadline, which each attempt sets under the lock.
 */
static void
tp_take_more(struct supv_taskpool *p, struct tp_slot *sl, const struct tp_entry *first)
{
	unsigned n;

	if (p->take_max <= 1 || p->deadline_ns != 0)
		return;
	n = supv__tp_queue_plain_run(p);
	if (n > p->nplain / p->nworkers)
		n = p->nplain / p->nworkers;
	if (n > p->take_max - 1)
		n = p->take_max - 1;
	if (n == 0)
		return;
	atomic_store_explicit(&sl->took[0].fn, first->fn, memory_order_relaxed);
	atomic_store_explicit(&sl->took[0].arg, first->arg, memory_order_relaxed);
	supv__tp_queue_take_plain(p, &sl->took[1], n);
	sl->ntook = n + 1;
	sl->seq++;
	atomic_store_explicit(&sl->at, (uint64_t)sl->seq << 32, memory_order_relaxed);
	LIST_INSERT_HEAD(&p->took_runs, sl, took_link);
	p->nahead += n;
}

/*
 * With the queue empty, takes over what another worker took at once and
 * has not begun: whether there was any.  Called with pool->mu held.
 */
static bool
tp_take_over(struct supv_taskpool *p, struct tp_slot *sl)
{
	struct tp_slot *o;
	unsigned ahead;

	LIST_FOREACH(o, &p->took_runs, took_link) {
		if (o == sl)
			continue;
		(void)supv__tp_slot_ran(o, &ahead);
		if (ahead > 0) {
			supv__tp_slot_settle(p, o);
			return true;
		}
	}
	return false;
}

/*
 * The next task for this run, its attempt begun, or NULL when the run
 * must take no more (stopping, replaced, the pool closed).  What is in
 * the batch is flushed before it waits.  Called with pool->mu held; may
 * drop it.
 */
static struct supv_task *
tp_slot_next(struct supv_taskpool *p, struct tp_slot *sl, struct supv_worker *self,
    struct batch *b)
{
	struct supv_task *t;

	for (;;) {
		if (sl->run != self || sl->doomed || p->state == POOL_CLOSED ||
		    supv_stopping(self)) {
			/*
			 * This run may have been handed work (or a new first
			 * retry time) before it was asked to stop: another
			 * idle worker takes it instead.
			 */
			if (p->nqueued + p->ndelayed > 0)
				supv__tp_wake_one(p);
			return NULL;
		}
		if (p->ndelayed > 0)
			supv__tp_tasks_promote_due(p, supv__now_ns());
		if ((t = tp_take(p, sl)) != NULL)
			break;
		if (p->nqueued == 0 && p->nahead > 0 && tp_take_over(p, sl))
			continue;
		if (!supv__tp_batch_empty(b)) {
			pthread_mutex_unlock(&p->mu);
			supv__tp_batch_flush(p, b);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		/* A task left queued for want of memory: try again soon. */
		tp_slot_idle(p, sl, self, p->nqueued == 0 ? NO_DEADLINE :
		    supv__now_ns() + TP_NOMEM_WAIT_NS);
	}
	/* Submitters wait while it is full: wake one as it stops being so. */
	if (p->space_waiters > 0 && p->cap != UINT_MAX &&
	    p->nqueued + p->ndelayed + p->nahead + 1 >= p->cap)
		pthread_cond_signal(&p->space_cv);
	supv__tp_task_set_state(t, T_RUNNING);
	if (t->attempts++ > 0)
		p->n_retries++;
	t->slot = sl;
	sl->cur = t;
	p->nrunning++;
	sl->deadline = NO_DEADLINE;
	if (t->deadline_ns != 0) {
		sl->deadline = supv__now_ns() + t->deadline_ns;
		supv__tp_kick_timer(p, sl->deadline);
	}
	return t;
}


/*
 * Whether the supervisor asked this run to stop because it was hung: it
 * may ask before it reports the hang, and a task that returns then has
 * still failed that attempt.
 */
static bool
tp_run_hung(struct supv_worker *self)
{
	bool hung;

	if (!supv_stopping(self))
		return false;
	hung = supv__run_stop_kind(self) == SUPV_EXIT_HUNG;
	return hung;
}

/*
 * A worker: runs tasks until asked to stop.  A task that fails ends the
 * run with its code, the task still on the slot, for the pool's event
 * handler to retry it and the supervisor to restart the worker.
 */
int
supv__tp_worker(struct supv_worker *self, void *arg)
{
	struct tp_slot *sl = arg;
	struct supv_taskpool *p = sl->pool;
	struct supv_task *t;
	struct batch b;
	bool hung;
	int rc = 0;

	supv__tp_batch_init(&b);
	supv__tp_tls_slot = sl;
	pthread_mutex_lock(&p->mu);
	if (supv__run_abandoned(self)) {
		/* Too late to begin: a successor may hold the slot already. */
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	if (sl->cur != NULL) {
		/* Not seen at the last run's exit: it failed there. */
		t = sl->cur;
		supv__tp_slot_detach(p, sl);
		supv__tp_task_failed(p, t, SUPV_TASK_CRASHED, 0, &b);
	}
	sl->run = self;
	sl->gen++;
	sl->doomed = false;
	p->nserving++;
	while ((t = tp_slot_next(p, sl, self, &b)) != NULL) {
		supv_task_fn *fn = t->fn;
		void *targ = t->arg;
		unsigned i = 0, n = sl->ntook;
		uint64_t at = atomic_load_explicit(&sl->at, memory_order_relaxed);

		tls_task_self = self;
		tls_task_attempt = t->attempts;
		pthread_mutex_unlock(&p->mu);
		supv__tp_batch_flush(p, &b);
		for (;;) {
			supv_heartbeat(self);
			rc = fn(self, targ);
			if (rc != 0 || ++i >= n || supv_stopping(self) ||
			    atomic_load_explicit(&p->room_wanted, memory_order_relaxed))
				break;
			/*
			 * The next task taken at once, read before the CAS: if
			 * the run was fenced, what was read is not used, and if
			 * not, it was current (supv__tp_slot_settle).
			 */
			fn = atomic_load_explicit(&sl->took[i].fn, memory_order_relaxed);
			targ = atomic_load_explicit(&sl->took[i].arg, memory_order_relaxed);
			if (!atomic_compare_exchange_strong_explicit(&sl->at, &at,
			    at + 1, memory_order_acq_rel, memory_order_relaxed))
				break;
			at++;
		}
		tls_task_self = NULL;
		hung = tp_run_hung(self);
		pthread_mutex_lock(&p->mu);
		if (sl->ntook != 0 && sl->run == self && sl->cur == t)
			supv__tp_slot_settle(p, sl);
		if (sl->run != self || sl->cur != t) {
			/* Taken from this run (hung, deadline): decided. */
			rc = 0;
			continue;
		}
		if (hung) {
			/* Whatever it returned, it missed its heartbeat. */
			supv__tp_slot_detach(p, sl);
			sl->doomed = true;
			supv__tp_task_failed(p, t, SUPV_TASK_HUNG, rc, &b);
			rc = 0;
			continue;
		}
		if (rc != 0)
			break;
		supv__tp_slot_detach(p, sl);
		supv__tp_task_finish(p, t, SUPV_TASK_DONE, 0, &b);
	}
	pthread_mutex_unlock(&p->mu);
	supv__tp_batch_flush(p, &b);
	if (rc != 0)
		return rc;
	while (supv_sleep(self, SUPV_INFINITY) == 0)
		;
	return 0;
}

SUPV_EXPORT unsigned
supv_task_attempt(const struct supv_worker *self)
{
	return self != NULL && self == tls_task_self ? tls_task_attempt : 0;
}
