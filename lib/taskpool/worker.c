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
	return sl->spare;
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
	    p->nqueued + p->ndelayed + 1 >= p->cap)
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

		tls_task_self = self;
		tls_task_attempt = t->attempts;
		pthread_mutex_unlock(&p->mu);
		supv__tp_batch_flush(p, &b);
		supv_heartbeat(self);
		rc = fn(self, targ);
		tls_task_self = NULL;
		hung = tp_run_hung(self);
		pthread_mutex_lock(&p->mu);
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
