/*
 * queue.c - the ground floor of a task pool, on which its workers, its
 * timer thread and its public calls stand: the pool's state and its last
 * reference, tasks (their states, results, retries, the reuse cache), the
 * queue, and handing work to an idle worker or news to the timer thread.
 *
 * The queue is two: a plain task (fire and forget, the pool's attempts
 * and deadline, no on_done) has no record until it needs one, and waits
 * in a ring of (function, argument) pairs, the queue a user would write
 * by hand; the others wait as records in a list, each noting how many
 * plain tasks came before it, so that the two make one queue in order.  The worker that takes it runs it in its slot's
 * spare record, which it wrote last itself, so that handing a task over
 * moves one entry between CPUs rather than a record; if the attempt
 * fails, the spare becomes the task's record for its retry, and the slot
 * takes another for its next plain task.
 * Nothing here calls up into the other task pool files.
 */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "taskpool/taskpool.h"

/* What a hand-over touches stays on the lock's two lines (taskpool.h). */
_Static_assert(offsetof(struct supv_taskpool, n_succeeded) + sizeof(uint64_t) <= 128,
    "a task pool's hot fields span more than two cache lines");

/* The slot of the worker (or timer thread) the calling thread is. */
_Thread_local struct tp_slot *supv__tp_tls_slot;

void
supv__tp_unref(struct supv_taskpool *p)
{
	struct supv_task *t;

	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	while ((t = TAILQ_FIRST(&p->free)) != NULL) {
		TAILQ_REMOVE(&p->free, t, link);
		supv__tp_task_free(t);
	}
	for (unsigned i = 0; i < p->nworkers; i++)
		if (p->slots[i].spare != NULL)
			supv__tp_task_free(p->slots[i].spare);
	free(p->q);
	pthread_cond_destroy(&p->space_cv);
	pthread_cond_destroy(&p->drain_cv);
	pthread_cond_destroy(&p->replace_cv);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p);
}

/*
 * The transitions the pool may make.  Anything else is a bug in the
 * library, caught here.  Called with pool->mu held.
 */
void
supv__tp_set_state(struct supv_taskpool *p, enum pool_state to)
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
 * waits in tp_slot_idle(), and it needs pool->mu, which we hold, to leave.
 * A run asked to stop after this declines the work in tp_slot_next(), which
 * hands it on in turn.  Called with pool->mu held.
 */
void
supv__tp_wake_one(struct supv_taskpool *p)
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
supv__tp_kick_timer(struct supv_taskpool *p, uint64_t at)
{
	if (at >= p->ctl_at || p->ctl_run == NULL)
		return;
	p->ctl_at = at;
	supv__run_wake(p->ctl_run);
}

static void q_untake(struct supv_taskpool *p, const struct tp_took *e, unsigned n);

/*
 * Fences the run of plain tasks sl's worker took at once, if any: the
 * worker starts none of them after this.  Those it ran are counted done,
 * the one it runs is sl's current task from now on (in the spare, its
 * record), and those it has not begun go back to the front of the queue,
 * for any worker.  Called with pool->mu held.
 */
void
supv__tp_slot_settle(struct supv_taskpool *p, struct tp_slot *sl)
{
	struct supv_task *t = sl->spare;
	unsigned x;

	if (sl->ntook == 0)
		return;
	/* Pairs with the worker's compare-and-swap: what it ran is seen. */
	x = (unsigned)(atomic_fetch_or_explicit(&sl->at, TP_AT_FENCE,
	    memory_order_acq_rel) & TP_AT_INDEX);
	if (x >= sl->ntook || sl->cur != t)
		abort();	/* not reached: the worker's protocol (worker.c) */
	if (x > 0)
		supv__tp_task_count_done(p, SUPV_TASK_DONE, x);
	t->fn = atomic_load_explicit(&sl->took[x].fn, memory_order_relaxed);
	t->arg = atomic_load_explicit(&sl->took[x].arg, memory_order_relaxed);
	q_untake(p, &sl->took[x + 1], sl->ntook - x - 1);
	p->nahead -= sl->ntook - 1;
	sl->ntook = 0;
	LIST_REMOVE(sl, took_link);
	/* The queue's bound counted what it took: there may be room now. */
	if (p->space_waiters > 0)
		pthread_cond_broadcast(&p->space_cv);
	atomic_store_explicit(&p->room_wanted, false, memory_order_relaxed);
}

/*
 * Of sl's run of plain tasks taken at once: how many it has finished
 * (returned), and in *ahead how many it has not begun.  Called with
 * pool->mu held.
 */
unsigned
supv__tp_slot_ran(const struct tp_slot *sl, unsigned *ahead)
{
	unsigned x;

	*ahead = 0;
	if (sl->ntook == 0)
		return 0;
	x = (unsigned)(atomic_load_explicit(&sl->at, memory_order_acquire) &
	    TP_AT_INDEX);
	*ahead = sl->ntook - x - 1;
	return x;
}

/*
 * Of all the runs of tasks workers took at once: how many they have
 * finished (as many as have begun after each run's first), and in
 * *waiting, if not NULL, how many they have not begun.  Called with
 * pool->mu held.
 */
unsigned
supv__tp_took_done(const struct supv_taskpool *p, unsigned *waiting)
{
	const struct tp_slot *sl;
	unsigned done = 0, ahead, all = 0;

	LIST_FOREACH(sl, &p->took_runs, took_link) {
		done += supv__tp_slot_ran(sl, &ahead);
		all += ahead;
	}
	if (waiting != NULL)
		*waiting = all;
	return done;
}

/* Takes the task off sl.  Called with pool->mu held. */
void
supv__tp_slot_detach(struct supv_taskpool *p, struct tp_slot *sl)
{
	struct supv_task *t;

	if (sl->ntook != 0)
		supv__tp_slot_settle(p, sl);
	t = sl->cur;
	sl->cur = NULL;
	t->slot = NULL;
	p->nrunning--;
}

/*
 * Closes an open pool: no task is accepted or started any more, and the
 * ones waiting are cancelled.  Called with pool->mu held.
 */
void
supv__tp_close(struct supv_taskpool *p, struct batch *b)
{
	if (p->state == POOL_OPEN || p->state == POOL_DRAINING)
		supv__tp_set_state(p, POOL_CLOSED);
	/* What workers took and have not begun is waiting too. */
	while (!LIST_EMPTY(&p->took_runs))
		supv__tp_slot_settle(p, LIST_FIRST(&p->took_runs));
	supv__tp_tasks_cancel_waiting(p, b);
	if (p->drain_waiters > 0)
		pthread_cond_broadcast(&p->drain_cv);
}

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
 * A record for a task: from the cache, else a new one (rare: not worth a
 * relock), or NULL (ENOMEM).
 */
struct supv_task *
supv__tp_task_get(struct supv_taskpool *p)
{
	struct supv_task *t;

	if ((t = TAILQ_FIRST(&p->free)) != NULL) {
		TAILQ_REMOVE(&p->free, t, link);
		p->nfree--;
	} else if ((t = supv__xcalloc(1, sizeof(*t))) != NULL) {
		t->has_cv = false;
	}
	return t;
}

/*
 * Makes t a new task of p's running fn(arg), queued, with the pool's
 * attempts and deadline, no on_done, and one reference: the pool's.
 */
void
supv__tp_task_reset(struct supv_taskpool *p, struct supv_task *t,
    supv_task_fn *fn, void *arg)
{
	t->pool = p;
	t->home = NULL;
	t->on_done = NULL;
	t->done_arg = NULL;
	t->max_attempts = p->attempts;
	t->deadline_ns = p->deadline_ns;
	atomic_init(&t->refs, 1);
	t->nwaiters = 0;
	supv__tp_task_rerun(t, fn, arg);
}

/*
 * What a task's record holds of its run, made new for fn(arg): all a
 * slot's spare needs between two plain tasks, as a plain task changes
 * nothing else (supv__tp_task_reset made it a spare).
 */
void
supv__tp_task_rerun(struct supv_task *t, supv_task_fn *fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->state = T_QUEUED;
	t->attempts = 0;
	t->slot = NULL;
	t->res = (struct supv_task_result){ .status = SUPV_TASK_PENDING };
	atomic_store_explicit(&t->finished, false, memory_order_relaxed);
}

/*
 * Drops the pool's reference with pool->mu held.  The last one keeps the
 * task in the pool's cache for a later submit, or frees it with the
 * batch; a slot's spare stays with its slot.
 */
void
supv__tp_task_unref_locked(struct supv_taskpool *p, struct supv_task *t, struct batch *b)
{
	if (t->home != NULL)
		return;
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

/* n tasks, with records or not, are done with status: the pool's counts. */
void
supv__tp_task_count_done(struct supv_taskpool *p, enum supv_task_status status,
    unsigned n)
{
	if (status == SUPV_TASK_DONE)
		p->n_succeeded += n;
	else if (status == SUPV_TASK_CANCELLED)
		p->n_cancelled += n;
	else
		p->n_failed += n;
	p->nlive -= n;
	if (p->nlive == 0 && p->drain_waiters > 0)
		pthread_cond_broadcast(&p->drain_cv);
}

/* The end of a finished task: waiters return, the pool lets it go. */
static void
tp_task_done(struct supv_taskpool *p, struct supv_task *t, struct batch *b)
{
	supv__tp_task_set_state(t, T_DONE);
	atomic_store_explicit(&t->finished, true, memory_order_release);
	if (t->nwaiters > 0)
		pthread_cond_broadcast(&t->cv);
	supv__tp_task_count_done(p, t->res.status, 1);
	supv__tp_task_unref_locked(p, t, b);
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
		tp_task_done(p, t, b);
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
			tp_task_done(p, t, b);
		}
		pthread_mutex_unlock(&p->mu);
		supv__nocancel_end(old);
	}
	TAILQ_FOREACH_SAFE(t, &b->dead, link, next)
		supv__tp_task_free(t);
	TAILQ_INIT(&b->dead);
}

/* The ring's smallest size, and what it keeps after a burst. */
#define TP_QUEUE_MIN  64
#define TP_QUEUE_KEEP 1024

/* The ring's entry i places from its head. */
static struct tp_entry *
q_at(struct supv_taskpool *p, unsigned i)
{
	return &p->q[(p->qhead + i) & (p->qcap - 1)];
}

/* Moves the ring into one of cap entries: 0 or ENOMEM. */
static int
q_resize(struct supv_taskpool *p, unsigned cap)
{
	struct tp_entry *q;
	unsigned i;

	if (supv__fault_hit() || (q = reallocarray(NULL, cap, sizeof(*q))) == NULL)
		return ENOMEM;
	for (i = 0; i < p->nplain; i++)
		q[i] = *q_at(p, i);
	free(p->q);
	p->q = q;
	p->qhead = 0;
	p->qcap = cap;
	return 0;
}

/*
 * Room in the ring for one more plain task, besides room for the tasks
 * workers took ahead to come back (supv__tp_slot_settle): 0, or ENOMEM
 * with nothing changed.
 */
int
supv__tp_queue_room(struct supv_taskpool *p)
{
	unsigned need = p->nplain + p->nahead + 1, cap;

	if (need <= p->qcap)
		return 0;
	for (cap = p->qcap == 0 ? TP_QUEUE_MIN : p->qcap; cap < need; cap *= 2)
		if (cap > UINT_MAX / 2)
			return ENOMEM;
	return q_resize(p, cap);
}

/* Puts n plain tasks taken from the front of the ring back there, in order. */
static void
q_untake(struct supv_taskpool *p, const struct tp_took *e, unsigned n)
{
	struct tp_entry *q;

	while (n-- > 0) {
		if (p->nplain >= p->qcap)
			abort();	/* not reached: supv__tp_queue_room */
		p->qhead = (p->qhead - 1) & (p->qcap - 1);
		q = q_at(p, 0);
		q->fn = atomic_load_explicit(&e[n].fn, memory_order_relaxed);
		q->arg = atomic_load_explicit(&e[n].arg, memory_order_relaxed);
		p->nplain++;
		p->qtaken--;
		p->nqueued++;
		supv__tp_wake_one(p);
	}
}

/*
 * Gives back what a burst made the ring grow to, once it is empty: down
 * to what a full queue of up to TP_QUEUE_KEEP tasks needs, so that a
 * pool that fills its queue again and again does not resize it again
 * and again.
 */
void
supv__tp_queue_trim(struct supv_taskpool *p)
{
	unsigned keep = TP_QUEUE_MIN, cap = p->qcap;

	if (p->nplain != 0 || p->nahead != 0 || cap <= TP_QUEUE_MIN)
		return;
	while (keep < (p->cap < TP_QUEUE_KEEP ? p->cap : TP_QUEUE_KEEP))
		keep *= 2;
	while (cap > keep && p->nlive < cap / 4)
		cap /= 2;
	if (cap != p->qcap)
		(void)q_resize(p, cap);	/* if it fails, the larger ring serves */
}

/*
 * Queues a task, a record (t) or a plain one (t NULL: there is room,
 * supv__tp_queue_room), and hands it to an idle worker.
 */
void
supv__tp_queue_push(struct supv_taskpool *p, supv_task_fn *fn, void *arg,
    struct supv_task *t)
{
	struct tp_entry *e;

	if (t != NULL) {
		/* After the plain tasks queued so far: see supv__tp_queue_pop. */
		t->pos = p->qtaken + p->nplain;
		TAILQ_INSERT_TAIL(&p->queue, t, link);
	} else {
		if (p->nplain >= p->qcap)
			abort();	/* not reached: supv__tp_queue_room */
		e = q_at(p, p->nplain++);
		e->fn = fn;
		e->arg = arg;
	}
	p->nqueued++;
	supv__tp_wake_one(p);
}

/*
 * Whether the oldest queued task is a plain one.  A record queued when
 * qtaken + nplain was pos comes after the plain tasks numbered below
 * pos, and before the others.
 */
bool
supv__tp_queue_plain_first(const struct supv_taskpool *p)
{
	const struct supv_task *t = TAILQ_FIRST(&p->queue);

	return p->nplain > 0 && (t == NULL || t->pos > p->qtaken);
}

/* How many plain tasks are queued before the oldest record, if any. */
unsigned
supv__tp_queue_plain_run(const struct supv_taskpool *p)
{
	const struct supv_task *t = TAILQ_FIRST(&p->queue);

	if (t != NULL && t->pos <= p->qtaken)
		return 0;
	if (t == NULL || t->pos - p->qtaken >= p->nplain)
		return p->nplain;
	return (unsigned)(t->pos - p->qtaken);
}

/*
 * Takes the n oldest queued tasks, plain ones (supv__tp_queue_plain_run
 * says there are), into out[0..n).
 */
void
supv__tp_queue_take_plain(struct supv_taskpool *p, struct tp_took *out, unsigned n)
{
	const struct tp_entry *e;
	unsigned k;

	for (k = 0; k < n; k++) {
		e = q_at(p, k);
		atomic_store_explicit(&out[k].fn, e->fn, memory_order_relaxed);
		atomic_store_explicit(&out[k].arg, e->arg, memory_order_relaxed);
	}
	p->qhead = (p->qhead + n) & (p->qcap - 1);
	p->nplain -= n;
	p->qtaken += n;
	p->nqueued -= n;
}

/*
 * Takes the oldest queued task: its record, or NULL and the plain task
 * in *e.  The queue is not empty.
 */
struct supv_task *
supv__tp_queue_pop(struct supv_taskpool *p, struct tp_entry *e)
{
	struct supv_task *t;

	p->nqueued--;
	if (supv__tp_queue_plain_first(p)) {
		*e = *q_at(p, 0);
		p->qhead = (p->qhead + 1) & (p->qcap - 1);
		p->nplain--;
		p->qtaken++;
		return NULL;
	}
	t = TAILQ_FIRST(&p->queue);
	TAILQ_REMOVE(&p->queue, t, link);
	return t;
}

/* Takes t (a record, T_QUEUED) out of the queue. */
void
supv__tp_queue_remove(struct supv_taskpool *p, struct supv_task *t)
{
	TAILQ_REMOVE(&p->queue, t, link);
	p->nqueued--;
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
	if (t->home != NULL) {
		/* A plain task's spare is its record from now on. */
		t->home->spare = NULL;
		t->home = NULL;
	}
	if ((delay = supv__backoff_step(p->backoff_ms, p->backoff_max_ms,
	    t->attempts)) == 0) {
		supv__tp_task_set_state(t, T_QUEUED);
		supv__tp_queue_push(p, t->fn, t->arg, t);
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
		supv__tp_wake_one(p);
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
		supv__tp_queue_push(p, t->fn, t->arg, t);
	}
}

/* Cancels every task that is waiting to start or to be retried. */
void
supv__tp_tasks_cancel_waiting(struct supv_taskpool *p, struct batch *b)
{
	struct supv_task *t;
	struct tp_entry e;

	while (p->nqueued > 0) {
		if ((t = supv__tp_queue_pop(p, &e)) != NULL)
			supv__tp_task_finish(p, t, SUPV_TASK_CANCELLED, t->res.code, b);
		else
			supv__tp_task_count_done(p, SUPV_TASK_CANCELLED, 1);
	}
	while ((t = TAILQ_FIRST(&p->delayed)) != NULL) {
		TAILQ_REMOVE(&p->delayed, t, link);
		p->ndelayed--;
		supv__tp_task_finish(p, t, SUPV_TASK_CANCELLED, t->res.code, b);
	}
	if (p->space_waiters > 0)
		pthread_cond_broadcast(&p->space_cv);
}
