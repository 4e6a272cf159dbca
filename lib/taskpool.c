/*
 * taskpool.c - supervised task pools: the pool's supervisor, its workers,
 * its timer thread, what its events mean for the tasks, and stopping.
 *
 * A pool is a child supervisor (one_for_one) of the user's supervisor,
 * with N permanent workers "<id>.<k>" and, last, a timer thread
 * "<id>.ctl".  Workers take tasks from the pool's queue.  Each worker has
 * a slot that records the task its current run is running, so that no
 * exit of a run loses it:
 *
 * - a task that returns non-zero makes its worker's run fail with that
 *   code, and the worker is restarted (a fresh thread);
 * - a run that is cancelled or calls pthread_exit() ends abnormally;
 * - a run that misses its heartbeat is stopped as hung;
 * - a task past its deadline is taken from its run by the timer thread,
 *   and a replacer thread then replaces the worker (terminates and
 *   restarts it), so that a worker slow to stop holds up no deadline.
 *
 * The pool learns of the first three through its supervisor's events,
 * which it receives before the user does: at the HUNG or EXIT of a run
 * whose slot still holds a task, that attempt has failed, and the task is
 * retried (after its backoff) or finished.  A restarted run finds its
 * slot empty.  An abandoned run that comes back finds its slot no longer
 * its own and lets go.
 *
 * The timer thread is last in start order so that it is the first child
 * stopped when the pool's supervisor terminates, however that comes: it
 * then closes the pool (nothing new starts; what waits is cancelled), so
 * the workers are not given new work while they are stopped one by one.
 * It starts with ready_ms so that the pool is open once a start returns.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "taskpool.h"

#define TP_DEFAULT_QUEUE    1024
#define TP_DEFAULT_ATTEMPTS 3
#define TP_MAX_WORKERS      4096
/*
 * How soon the pool tries again to start a worker it replaced, and at
 * most how long it waits between tries.
 */
#define TP_RESTART_RETRY_MS     100
#define TP_RESTART_RETRY_MAX_MS 2000

/* The slot of the worker (or timer thread) the calling thread is. */
static _Thread_local struct tp_slot *tls_slot;
/* The run and attempt of the task the calling thread is running. */
static _Thread_local const struct supv_worker *tls_task_self;
static _Thread_local unsigned tls_task_attempt;

void
supv__tp_pool_unref(struct supv_taskpool *p)
{
	struct supv_task *t;

	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	while ((t = TAILQ_FIRST(&p->free)) != NULL) {
		TAILQ_REMOVE(&p->free, t, link);
		supv__tp_task_free(t);
	}
	pthread_cond_destroy(&p->space_cv);
	pthread_cond_destroy(&p->drain_cv);
	pthread_cond_destroy(&p->replace_cv);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p);
}

/* A worker spec's arg_free: the spec lets go of the pool. */
static void
slot_unref(void *arg)
{
	supv__tp_pool_unref(((struct tp_slot *)arg)->pool);
}

/* Waits on cv with pool->mu held; false once deadline (ns) has passed. */
bool
supv__tp_pool_wait(struct supv_taskpool *p, pthread_cond_t *cv, uint64_t deadline)
{
	struct timespec ts;

	if (deadline == NO_DEADLINE) {
		pthread_cond_wait(cv, &p->mu);
		return true;
	}
	if (supv__now_ns() >= deadline)
		return false;
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	return pthread_cond_timedwait(cv, &p->mu, &ts) != ETIMEDOUT;
}

/*
 * The transitions the pool may make.  Anything else is a bug in the
 * library, caught here.  Called with pool->mu held.
 */
static void
pool_set_state(struct supv_taskpool *p, enum pool_state to)
{
	static const bool allowed[4][4] = {
		/* from \ to      IDLE   OPEN   DRAINING CLOSED */
		[POOL_IDLE]     = { true,  true,  false,   false },
		[POOL_OPEN]     = { true,  false, true,    true },
		[POOL_DRAINING] = { true,  false, false,   true },
		[POOL_CLOSED]   = { true,  false, false,   true },
	};

	if (!allowed[p->state][to])
		abort();
	p->state = to;
}

/*
 * Hands work to the idle worker that went idle last, if any, passing over
 * those being stopped, which would not take it.  Its run is alive: it
 * waits in slot_idle(), and it needs pool->mu, which we hold, to leave.
 * A run asked to stop after this declines the work in slot_next(), which
 * hands it on in turn.  Called with pool->mu held.
 */
void
supv__tp_pool_wake_one(struct supv_taskpool *p)
{
	struct tp_slot *sl;

	LIST_FOREACH(sl, &p->idle, idle_link)
		if (!sl->doomed && !supv_stopping(sl->run))
			break;
	if (sl == NULL)
		return;
	LIST_REMOVE(sl, idle_link);
	sl->idle = false;
	supv__run_wake(sl->run);	/* the run's own token: never a successor's */
}

/* Tells the timer thread of a deadline at (ns).  Called with pool->mu held. */
void
supv__tp_pool_kick_ctl(struct supv_taskpool *p, uint64_t at)
{
	if (at >= p->ctl_at || p->ctl_run == NULL)
		return;
	p->ctl_at = at;
	supv__run_wake(p->ctl_run);
}

/* Takes the task off sl.  Called with pool->mu held. */
void
supv__tp_slot_detach(struct supv_taskpool *p, struct tp_slot *sl)
{
	struct supv_task *t = sl->cur;

	sl->cur = NULL;
	t->slot = NULL;
	p->nrunning--;
}

/*
 * Closes an open pool: no task is accepted or started any more, and the
 * ones waiting are cancelled.  Called with pool->mu held.
 */
static void
pool_close(struct supv_taskpool *p, struct batch *b)
{
	if (p->state == POOL_OPEN || p->state == POOL_DRAINING)
		pool_set_state(p, POOL_CLOSED);
	supv__tp_tasks_cancel_waiting(p, b);
	if (p->drain_waiters > 0)
		pthread_cond_broadcast(&p->drain_cv);
}

/* The slot an event's child id names, or NULL. */
static struct tp_slot *
slot_of(struct supv_taskpool *p, const char *id)
{
	const char *dot;
	char *end;
	unsigned long k;

	if (id == NULL || (dot = strrchr(id, '.')) == NULL)
		return NULL;
	if (strcmp(dot + 1, "ctl") == 0)
		k = p->nworkers;
	else if ((k = strtoul(dot + 1, &end, 10)) >= p->nworkers ||
	    *end != '\0')
		return NULL;
	return strcmp(p->slots[k].id, id) == 0 ? &p->slots[k] : NULL;
}

/* What an attempt whose run ended with kind (and code) failed of. */
static enum supv_task_status
exit_status(enum supv_exit_kind kind, int code)
{
	switch (kind) {
	case SUPV_EXIT_HUNG:
		return SUPV_TASK_HUNG;
	case SUPV_EXIT_FAILURE:
		return SUPV_TASK_FAILED;
	case SUPV_EXIT_SHUTDOWN:
		return code != 0 ? SUPV_TASK_FAILED : SUPV_TASK_CRASHED;
	default:
		return SUPV_TASK_CRASHED;
	}
}

/*
 * The pool's supervisor's events, on its loop (or on a worker restarting
 * itself), before the user's on_event sees them.  A run that is declared
 * hung or that ends while its slot holds a task has failed that attempt;
 * the slot is then free for the next run.
 */
static void
pool_event(const struct supv_event *ev, void *arg)
{
	struct supv_taskpool *p = arg;
	struct tp_slot *sl;
	struct batch b;

	supv__tp_batch_init(&b);
	switch (ev->kind) {
	case SUPV_EV_HUNG:
	case SUPV_EV_EXIT:
		if ((sl = slot_of(p, ev->child)) == NULL || sl->is_ctl)
			break;
		pthread_mutex_lock(&p->mu);
		if (sl->cur != NULL) {
			struct supv_task *t = sl->cur;

			supv__tp_slot_detach(p, sl);
			supv__tp_task_failed(p, t, ev->kind == SUPV_EV_HUNG ?
			    SUPV_TASK_HUNG : exit_status(ev->exit, ev->code),
			    ev->code, &b);
		}
		sl->doomed = true;
		if (ev->kind == SUPV_EV_EXIT) {
			if (sl->idle) {
				LIST_REMOVE(sl, idle_link);
				sl->idle = false;
			}
			if (sl->run != NULL) {
				sl->run = NULL;
				p->nserving--;
			}
		}
		pthread_mutex_unlock(&p->mu);
		break;
	case SUPV_EV_SUP_EXIT:
		/* Every run has ended or been abandoned: nothing is left. */
		pthread_mutex_lock(&p->mu);
		pool_close(p, &b);
		pool_set_state(p, POOL_IDLE);
		if (p->drain_waiters > 0)
			pthread_cond_broadcast(&p->drain_cv);
		pthread_mutex_unlock(&p->mu);
		break;
	default:
		break;
	}
	supv__tp_batch_flush(p, &b);
	if (p->on_event != NULL)
		p->on_event(ev, p->event_arg);
}

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
slot_idle(struct supv_taskpool *p, struct tp_slot *sl, struct supv_worker *self)
{
	struct supv_task *first = TAILQ_FIRST(&p->delayed);
	uint64_t deadline = first != NULL ? first->due : NO_DEADLINE;
	int old;

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

/*
 * The next task for this run, its attempt begun, or NULL when the run
 * must take no more (stopping, replaced, the pool closed).  What is in
 * the batch is flushed before it waits.  Called with pool->mu held; may
 * drop it.
 */
static struct supv_task *
slot_next(struct supv_taskpool *p, struct tp_slot *sl, struct supv_worker *self,
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
				supv__tp_pool_wake_one(p);
			return NULL;
		}
		if (p->ndelayed > 0)
			supv__tp_tasks_promote_due(p, supv__now_ns());
		if ((t = TAILQ_FIRST(&p->queue)) != NULL)
			break;
		if (!supv__tp_batch_empty(b)) {
			pthread_mutex_unlock(&p->mu);
			supv__tp_batch_flush(p, b);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		slot_idle(p, sl, self);
	}
	/* Submitters wait while it is full: wake one as it stops being so. */
	if (p->space_waiters > 0 && pool_full(p))
		pthread_cond_signal(&p->space_cv);
	TAILQ_REMOVE(&p->queue, t, link);
	p->nqueued--;
	supv__tp_task_set_state(t, T_RUNNING);
	if (t->attempts++ > 0)
		p->n_retries++;
	t->slot = sl;
	sl->cur = t;
	p->nrunning++;
	sl->deadline = NO_DEADLINE;
	if (t->deadline_ns != 0) {
		sl->deadline = supv__now_ns() + t->deadline_ns;
		supv__tp_pool_kick_ctl(p, sl->deadline);
	}
	return t;
}

/*
 * Whether the supervisor gave up on this run (it outlived its grace, or
 * its start): the run's EXIT has been emitted already, and the slot may
 * serve a successor.  A run that is not abandoned when it takes its slot,
 * with pool->mu held, gives the slot up at its EXIT, which pool_event()
 * handles under pool->mu.
 */
static bool
run_abandoned(struct supv_worker *self)
{
	return supv__run_abandoned(self);
}

/*
 * Whether the supervisor asked this run to stop because it was hung: it
 * may ask before it reports the hang, and a task that returns then has
 * still failed that attempt.
 */
static bool
run_hung(struct supv_worker *self)
{
	bool hung;

	if (!supv_stopping(self))
		return false;
	hung = supv__run_stop_reason(self) == SUPV_EXIT_HUNG;
	return hung;
}

/*
 * A worker: runs tasks until asked to stop.  A task that fails ends the
 * run with its code, the task still on the slot, for the pool's event
 * handler to retry it and the supervisor to restart the worker.
 */
static int
pool_worker(struct supv_worker *self, void *arg)
{
	struct tp_slot *sl = arg;
	struct supv_taskpool *p = sl->pool;
	struct supv_task *t;
	struct batch b;
	bool hung;
	int rc = 0;

	supv__tp_batch_init(&b);
	tls_slot = sl;
	pthread_mutex_lock(&p->mu);
	if (run_abandoned(self)) {
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
	while ((t = slot_next(p, sl, self, &b)) != NULL) {
		supv_task_fn *fn = t->fn;
		void *targ = t->arg;

		tls_task_self = self;
		tls_task_attempt = t->attempts;
		pthread_mutex_unlock(&p->mu);
		supv__tp_batch_flush(p, &b);
		supv_heartbeat(self);
		rc = fn(self, targ);
		tls_task_self = NULL;
		hung = run_hung(self);
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

/*
 * Takes every attempt past its deadline off its run, and asks the
 * replacer to replace that run's worker.  Returns how many it found, and
 * sets p->ctl_at to the next deadline.  Called with pool->mu held.
 */
static unsigned
ctl_scan(struct supv_taskpool *p, uint64_t now, struct batch *b)
{
	struct supv_task *t;
	struct tp_slot *sl;
	unsigned i, n = 0;

	p->ctl_at = NO_DEADLINE;
	for (i = 0; i < p->nworkers; i++) {
		sl = &p->slots[i];
		if (sl->cur == NULL || sl->deadline == NO_DEADLINE)
			continue;
		if (sl->deadline > now) {
			if (sl->deadline < p->ctl_at)
				p->ctl_at = sl->deadline;
			continue;
		}
		t = sl->cur;
		supv__tp_slot_detach(p, sl);
		sl->doomed = true;
		supv__tp_task_failed(p, t, SUPV_TASK_TIMED_OUT, 0, b);
		sl->replace = TP_REPLACE_STOP;
		sl->replace_gen = sl->gen;
		sl->replace_at = 0;
		sl->replace_fails = 0;
		n++;
	}
	if (n > 0)
		pthread_cond_signal(&p->replace_cv);
	return n;
}

/*
 * The replacer of one run of the timer thread: that run starts it when
 * it first finds an attempt past its deadline, and joins it at its end.
 */
struct replacer {
	struct supv_taskpool     *pool;
	const struct supv_worker *ctl;       /* it runs while p->ctl_run is this */
	/* The timer thread's only: */
	pthread_t                 thread;
	bool                      started;
	unsigned                  fails;     /* failed starts in a row */
	uint64_t                  retry_at;  /* when to try again (ns) */
};

/*
 * The slot whose replacement is due, or NULL; *next is when the next one
 * will be.  Called with pool->mu held.
 */
static struct tp_slot *
replace_due(struct supv_taskpool *p, uint64_t now, uint64_t *next)
{
	struct tp_slot *sl;
	unsigned i;

	*next = NO_DEADLINE;
	for (i = 0; i < p->nworkers; i++) {
		sl = &p->slots[i];
		if (sl->replace == TP_REPLACE_NONE)
			continue;
		if (sl->replace_at <= now)
			return sl;
		if (sl->replace_at < *next)
			*next = sl->replace_at;
	}
	return NULL;
}

/*
 * The replacer thread: replaces the workers whose attempts ran past their
 * deadlines, one at a time.  A replacement stops the worker, as
 * supv_terminate_child() does (its grace and on_timeout apply, it ends as
 * SHUTDOWN), and starts it again; neither counts as a restart.  The stop
 * may take the worker's whole grace: it is made here, so that the timer
 * thread goes on enforcing the other deadlines meanwhile.  (The pool's
 * supervisor carries out such calls one at a time anyway.)  A start that
 * fails for want of memory or a thread is tried again after a backoff,
 * for as long as it fails and the pool runs: a pool never shrinks for
 * good.  The calls are made as from outside the tree: once the pool's
 * supervisor terminates it answers them at once (ECANCELED, ESRCH), so
 * this thread never holds up the end of the timer thread's run, which
 * that supervisor stops first.
 */
static void *
replacer_main(void *arg)
{
	struct replacer *rp = arg;
	struct supv_taskpool *p = rp->pool;
	char name[SUPV_ID_MAX + 5];
	enum tp_replace what;
	struct tp_slot *sl;
	unsigned long gen;
	uint64_t next;
	int rc;

	snprintf(name, sizeof(name), "%s.rep", p->id);
	supv__thread_name(name);
	pthread_mutex_lock(&p->mu);
	while (p->ctl_run == rp->ctl) {
		if ((sl = replace_due(p, supv__now_ns(), &next)) == NULL) {
			supv__tp_pool_wait(p, &p->replace_cv, next);
			continue;
		}
		what = sl->replace;
		gen = sl->replace_gen;
		if (what == TP_REPLACE_STOP &&
		    (sl->run == NULL || sl->gen != gen)) {
			/* It ended on its own: its supervisor restarts it. */
			sl->replace = TP_REPLACE_NONE;
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		rc = what == TP_REPLACE_STOP ?
		    supv_terminate_child(p->sup, sl->id) : 0;
		if (rc == 0)
			rc = supv_restart_child(p->sup, sl->id);
		pthread_mutex_lock(&p->mu);
		if (sl->replace != what || sl->replace_gen != gen)
			continue;	/* its new run is to be replaced now */
		if (rc == ENOMEM || rc == EAGAIN || rc == ECHILD) {
			sl->replace = TP_REPLACE_START;
			sl->replace_fails++;
			sl->replace_at = supv__now_ns() + (uint64_t)supv__tp_backoff(
			    TP_RESTART_RETRY_MS, TP_RESTART_RETRY_MAX_MS,
			    sl->replace_fails) * NS_PER_MS;
		} else {
			/*
			 * Started (EBUSY: running already), or the pool is
			 * stopping, and its next run starts every worker.
			 */
			sl->replace = TP_REPLACE_NONE;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/*
 * Starts the replacer if it is not running, unless a start failed less
 * than its backoff ago.  Lowers *at to when to try again.  Called on the
 * timer thread, without pool->mu.
 */
static void
replacer_start(struct replacer *rp, uint64_t now, uint64_t *at)
{
	if (rp->started)
		return;
	if (rp->retry_at <= now) {
		if (supv__thread_spawn(&rp->thread, 0, replacer_main, rp) == 0) {
			rp->started = true;
			return;
		}
		rp->fails++;
		rp->retry_at = now + (uint64_t)supv__tp_backoff(TP_RESTART_RETRY_MS,
		    TP_RESTART_RETRY_MAX_MS, rp->fails) * NS_PER_MS;
	}
	if (rp->retry_at < *at)
		*at = rp->retry_at;
}

/*
 * The timer thread: enforces the deadlines of running attempts, and
 * closes the pool when it is asked to stop.  It never waits for anything
 * but the next deadline: the replacer replaces the workers.
 */
static int
pool_ctl(struct supv_worker *self, void *arg)
{
	struct tp_slot *sl = arg;
	struct supv_taskpool *p = sl->pool;
	struct replacer rp = { .pool = p, .ctl = self };
	struct batch b;
	uint64_t at, now;
	unsigned i;
	bool stopping, replacing = false;
	int old;

	supv__tp_batch_init(&b);
	old = supv__nocancel_begin();
	tls_slot = sl;
	pthread_mutex_lock(&p->mu);
	if (run_abandoned(self)) {
		pthread_mutex_unlock(&p->mu);
		supv__nocancel_end(old);
		return 0;
	}
	if (p->state == POOL_IDLE)
		pool_set_state(p, POOL_OPEN);
	p->ctl_run = self;
	p->ctl_at = 0;
	sl->run = self;
	/* This run of the pool starts every worker: nothing to replace. */
	for (i = 0; i < p->nworkers; i++)
		p->slots[i].replace = TP_REPLACE_NONE;
	pthread_mutex_unlock(&p->mu);
	supv_ready(self);
	for (;;) {
		now = supv__now_ns();
		pthread_mutex_lock(&p->mu);
		if (ctl_scan(p, now, &b) > 0)
			replacing = true;
		at = p->ctl_at;
		pthread_mutex_unlock(&p->mu);
		supv__tp_batch_flush(p, &b);
		if (replacing)
			replacer_start(&rp, now, &at);
		(void)supv__run_wait(self, at);	/* news, a stop, or at */
		stopping = supv_stopping(self);
		if (stopping)
			break;
	}
	pthread_mutex_lock(&p->mu);
	if (p->ctl_run == self) {
		/* Unless abandoned: a successor's pool is not ours to close. */
		p->ctl_run = NULL;
		sl->run = NULL;
		pool_close(p, &b);
	}
	/* The replacer serves this run only. */
	pthread_cond_broadcast(&p->replace_cv);
	pthread_mutex_unlock(&p->mu);
	supv__tp_batch_flush(p, &b);
	if (rp.started)
		pthread_join(rp.thread, NULL);
	supv__nocancel_end(old);
	return 0;
}

static unsigned
digits(unsigned n)
{
	unsigned d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Checks opts and fills p's settings from them. */
static int
pool_config(struct supv_taskpool *p, const struct supv_taskpool_opts *o)
{
	unsigned n, bmax;
	long cpus;

	n = o->workers;
	if (n == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus < 1 ? 1 : cpus > TP_MAX_WORKERS ? TP_MAX_WORKERS :
		    (unsigned)cpus;
	} else if (n == SUPV_ZERO || n == SUPV_INFINITY || n > TP_MAX_WORKERS) {
		return EINVAL;
	}
	if (o->queue_len == SUPV_ZERO || o->attempts == SUPV_ZERO ||
	    o->deadline_ms == SUPV_ZERO || o->backoff_ms == SUPV_INFINITY)
		return EINVAL;
	bmax = o->backoff_max_ms == 0 ? o->backoff_ms : o->backoff_max_ms;
	if (bmax == SUPV_ZERO)
		bmax = 0;
	if (o->backoff_ms != SUPV_ZERO && bmax < o->backoff_ms)
		return EINVAL;
	p->nworkers = n;
	p->cap = o->queue_len == 0 ? TP_DEFAULT_QUEUE :
	    o->queue_len == SUPV_INFINITY ? UINT_MAX : o->queue_len;
	p->attempts = o->attempts == 0 ? TP_DEFAULT_ATTEMPTS :
	    o->attempts == SUPV_INFINITY ? UINT_MAX : o->attempts;
	p->backoff_ms = o->backoff_ms == SUPV_ZERO ? 0 : o->backoff_ms;
	p->backoff_max_ms = bmax == SUPV_INFINITY ? UINT_MAX : bmax;
	p->deadline_ns = o->deadline_ms == SUPV_INFINITY ? 0 :
	    (uint64_t)o->deadline_ms * NS_PER_MS;
	p->on_event = o->on_event;
	p->event_arg = o->event_arg;
	return 0;
}

/* Names the slots "<id>.<k>" and "<id>.ctl". */
static int
pool_slots(struct supv_taskpool *p)
{
	unsigned i, width = digits(p->nworkers - 1);

	if (width < 3)
		width = 3;
	if (strlen(p->id) + 1 + width > SUPV_ID_MAX)
		return ENAMETOOLONG;
	if ((p->slots = supv__xcalloc(p->nworkers + 1, sizeof(*p->slots))) == NULL)
		return ENOMEM;
	for (i = 0; i <= p->nworkers; i++) {
		struct tp_slot *sl = &p->slots[i];

		sl->pool = p;
		sl->index = i;
		sl->is_ctl = i == p->nworkers;
		if (sl->is_ctl)
			snprintf(sl->id, sizeof(sl->id), "%s.ctl", p->id);
		else
			snprintf(sl->id, sizeof(sl->id), "%s.%u", p->id, i);
	}
	return 0;
}

/*
 * The queue's lock is taken twice per task and held briefly: it spins a
 * little before it sleeps, which spares most of the futex calls when
 * submitters and workers meet on it.
 */
static int
mutex_init(pthread_mutex_t *mu)
{
	pthread_mutexattr_t a;
	int rc;

	if ((rc = pthread_mutexattr_init(&a)) != 0)
		return rc;
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	rc = pthread_mutex_init(mu, &a);
	pthread_mutexattr_destroy(&a);
	return rc;
}

static int
pool_new(struct supv_taskpool **out, const char *id,
    const struct supv_taskpool_opts *o)
{
	struct supv_taskpool *p;
	int rc;

	if ((p = supv__xcalloc(1, sizeof(*p))) == NULL)
		return ENOMEM;
	strlcpy(p->id, id, sizeof(p->id));
	if ((rc = pool_config(p, o)) != 0 || (rc = pool_slots(p)) != 0)
		goto fail;
	if ((rc = mutex_init(&p->mu)) != 0)
		goto fail;
	if ((rc = supv__cond_init(&p->space_cv)) != 0)
		goto fail_mu;
	if ((rc = supv__cond_init(&p->drain_cv)) != 0)
		goto fail_space;
	if ((rc = supv__cond_init(&p->replace_cv)) != 0)
		goto fail_drain;
	atomic_init(&p->refs, 1);
	TAILQ_INIT(&p->queue);
	TAILQ_INIT(&p->delayed);
	TAILQ_INIT(&p->free);
	LIST_INIT(&p->idle);
	p->state = POOL_IDLE;
	p->ctl_at = NO_DEADLINE;
	*out = p;
	return 0;
fail_drain:
	pthread_cond_destroy(&p->drain_cv);
fail_space:
	pthread_cond_destroy(&p->space_cv);
fail_mu:
	pthread_mutex_destroy(&p->mu);
fail:
	free(p->slots);
	free(p);
	return rc;
}

SUPV_EXPORT int
supv_taskpool_add_sized(struct supv *sup, const struct supv_child_opts *uspec,
    const struct supv_taskpool_opts *uopts, struct supv_taskpool **out,
    size_t spec_size, size_t opts_size)
{
	struct supv_taskpool_opts o;
	struct supv_child_opts so, co;
	const struct supv_taskpool_opts *opts = &o;
	const struct supv_child_opts *spec = &so;
	struct supv_taskpool *p;
	unsigned i;
	int rc;

	if (sup == NULL || uspec == NULL || out == NULL)
		return EINVAL;
	if ((rc = supv__struct_in(&so, sizeof(so), uspec, spec_size)) != 0 ||
	    (rc = supv__struct_in(&o, sizeof(o), uopts, opts_size)) != 0)
		return rc;
	if ((rc = supv__check_id(spec->id)) != 0)
		return rc;
	if ((rc = pool_new(&p, spec->id, opts)) != 0)
		return rc;
	if ((rc = supv_new(&p->sup, &(struct supv_opts){ .name = p->id,
	    .strategy = SUPV_ONE_FOR_ONE,
	    .intensity = opts->intensity == 0 ? SUPV_INFINITY : opts->intensity,
	    .period_ms = opts->period_ms, .on_event = pool_event,
	    .event_arg = p })) != 0) {
		supv__tp_pool_unref(p);
		return rc;
	}
	for (i = 0; i <= p->nworkers && rc == 0; i++) {
		struct tp_slot *sl = &p->slots[i];

		co = (struct supv_child_opts){ .id = sl->id,
		    .restart = SUPV_PERMANENT, .arg_free = slot_unref };
		if (sl->is_ctl) {
			co.ready_ms = SUPV_INFINITY;
		} else {
			co.shutdown_ms = opts->shutdown_ms;
			co.on_timeout = opts->on_timeout;
			co.heartbeat_ms = opts->heartbeat_ms;
			co.stack_size = opts->stack_size;
		}
		atomic_fetch_add(&p->refs, 1);
		if ((rc = supv_add_worker(p->sup, &co, sl->is_ctl ? pool_ctl :
		    pool_worker, sl)) != 0)
			atomic_fetch_sub(&p->refs, 1);
	}
	p->parent = sup;
	if (rc == 0)
		rc = supv_add_sup(sup, spec, p->sup);
	if (rc != 0) {
		/* Its specs let go of the pool as they are freed. */
		supv_free(p->sup);
		supv__tp_pool_unref(p);
		return rc;
	}
	/* From now on the specs hold the pool. */
	*out = p;
	supv__tp_pool_unref(p);
	return 0;
}

SUPV_EXPORT int
supv_taskpool_stop(struct supv_taskpool *p, enum supv_taskpool_stop_mode mode,
    unsigned drain_ms)
{
	struct batch b;
	uint64_t deadline;
	bool deadlock, in_tree = false;
	int rc, old;

	if (p == NULL || (unsigned)mode > SUPV_TASKPOOL_CANCEL)
		return EINVAL;
	if (tls_slot != NULL && tls_slot->pool == p)
		return EDEADLK;
	supv__lock_sup(p->sup);
	deadlock = supv__caller_is_loop_of(p->sup);
	supv__unlock_sup(p->sup);
	if (deadlock)
		return EDEADLK;
	supv__tp_batch_init(&b);
	atomic_fetch_add(&p->refs, 1);
	old = supv__nocancel_begin();
	pthread_mutex_lock(&p->mu);
	if (mode == SUPV_TASKPOOL_DRAIN && drain_ms != 0 &&
	    p->state == POOL_OPEN) {
		pool_set_state(p, POOL_DRAINING);
		if (p->space_waiters > 0)
			pthread_cond_broadcast(&p->space_cv);
	}
	if (p->state == POOL_DRAINING) {
		deadline = drain_ms == SUPV_INFINITY ? NO_DEADLINE :
		    supv__now_ns() + (uint64_t)drain_ms * NS_PER_MS;
		while (p->nlive > 0 && p->state == POOL_DRAINING) {
			p->drain_waiters++;
			rc = supv__tp_pool_wait(p, &p->drain_cv, deadline);
			p->drain_waiters--;
			if (!rc)
				break;
		}
	}
	pool_close(p, &b);
	pthread_mutex_unlock(&p->mu);
	supv__tp_batch_flush(p, &b);
	/* Stops the workers and the attempts running; 0 if not running. */
	rc = supv_terminate_child(p->parent, p->id);
	if (rc == ECANCELED) {
		/*
		 * Its parent is stopping it already: wait for the end, unless
		 * the caller is a worker of the tree, which that stop may wait
		 * for in turn.
		 */
		supv__lock_sup(p->parent);
		in_tree = supv__caller_worker_sup(p->parent) != NULL;
		supv__unlock_sup(p->parent);
	}
	if (rc == ECANCELED && !in_tree) {
		pthread_mutex_lock(&p->mu);
		while (p->state != POOL_IDLE) {
			p->drain_waiters++;
			supv__tp_pool_wait(p, &p->drain_cv, NO_DEADLINE);
			p->drain_waiters--;
		}
		pthread_mutex_unlock(&p->mu);
	}
	supv__nocancel_end(old);
	supv__tp_pool_unref(p);
	return rc == EDEADLK ? rc : 0;
}

SUPV_EXPORT int
supv_taskpool_stats_sized(struct supv_taskpool *p,
    struct supv_taskpool_stats *uout, size_t size)
{
	struct supv_taskpool_stats k, *out = &k;

	if (p == NULL || uout == NULL)
		return EINVAL;
	pthread_mutex_lock(&p->mu);
	*out = (struct supv_taskpool_stats){
		.submitted = p->n_submitted,
		.succeeded = p->n_succeeded,
		.failed = p->n_failed,
		.cancelled = p->n_cancelled,
		.retries = p->n_retries,
		.pending = p->nlive,
		.queued = p->nqueued + p->ndelayed,
		.running = p->nrunning,
		.workers = p->nserving,
	};
	pthread_mutex_unlock(&p->mu);
	supv__struct_out(uout, size, &k, sizeof(k));
	return 0;
}

SUPV_EXPORT unsigned
supv_task_attempt(const struct supv_worker *self)
{
	return self != NULL && self == tls_task_self ? tls_task_attempt : 0;
}
