/*
 * taskpool.h - what the task pool's files share: api.c (a pool made,
 * stopped, counted), task.c (submitting tasks, results, the handle),
 * queue.c (the pool's state, its queue and hand-offs to workers),
 * worker.c (a worker's loop) and timer.c (retries' and deadlines' timer,
 * the replacer).
 *
 * Locking.  Each pool has a mutex of its own, pool->mu, which guards the
 * queue and every field marked "mu" below, in the pool and in its tasks:
 * dispatch takes nothing else that another pool or tree could hold.  Idle
 * workers and the timer thread wait in supv__run_wait(), under their
 * run's own lock, so that a stop request wakes them too; whoever hands
 * them work calls supv__run_wake() on the run, a token that names the run
 * and not the slot, so a run given up while it was idle can neither take
 * nor clear its successor's.  The timer thread's replacer, which is no
 * run, waits on pool->replace_cv under pool->mu.  Lock order: the tree's
 * lock, then pool->mu, then a run's own lock; the pool never takes its
 * tree's lock with pool->mu held.  No lock is held while user code runs
 * (tasks, on_done, the user's on_event), nor while calling into the
 * pool's supervisor.
 *
 * Without the lock.  A worker runs the plain tasks it took at once
 * (tp_slot.took) one after the other without pool->mu: it owns the
 * slot's at word, which it moves by compare-and-swap, and anyone else
 * fences it first (supv__tp_slot_settle).
 */
#ifndef TASKPOOL_H
#define TASKPOOL_H

#include <limits.h>
#include <sys/queue.h>

#include "core/core.h"
#include "pools/pools.h"

/*
 * A task's state; the allowed transitions are in supv__tp_task_set_state().  The
 * state says where the task is: in pool->queue, in pool->delayed, on a
 * slot, or in a completion batch.
 */
enum task_state {
	T_QUEUED,      /* waiting for a worker, in pool->queue */
	T_DELAYED,     /* waiting for its retry time, in pool->delayed */
	T_RUNNING,     /* an attempt runs, on task->slot */
	T_FINISHING,   /* has its result; its on_done is being called */
	T_DONE         /* finished: waiters return */
};

struct supv_task {
	TAILQ_ENTRY(supv_task) link;     /* mu: in the queue, delayed, a batch or the cache */
	struct supv_taskpool  *pool;
	/*
	 * mu: the slot whose spare this is, while it runs a plain task
	 * (tp_slot_next): the slot keeps it when the task is done, and lets
	 * it go if the task is to be retried (supv__tp_task_failed).
	 */
	struct tp_slot        *home;
	supv_task_fn          *fn;
	void                  *arg;
	supv_task_done_fn     *on_done;
	void                  *done_arg;
	unsigned               max_attempts;  /* UINT_MAX: no limit */
	uint64_t               deadline_ns;   /* per attempt; 0: none */
	/* The submitter's handle, and the pool's until the task is done. */
	atomic_uint            refs;

	enum task_state        state;     /* mu */
	unsigned               attempts;  /* mu: attempts started */
	union {
		uint64_t       due;       /* mu: T_DELAYED: when it is retried (ns) */
		uint64_t       pos;       /* mu: T_QUEUED: plain tasks queued
		                             before it (supv__tp_queue_pop) */
	};
	struct tp_slot        *slot;      /* mu: T_RUNNING: where */
	struct supv_task_result res;      /* mu: final from T_FINISHING on */
	/* T_DONE: res is final and may be read without mu. */
	atomic_bool            finished;
	unsigned               nwaiters;  /* mu: threads in supv_task_wait() */
	bool                   has_cv;    /* mu: cv is initialized */
	pthread_cond_t         cv;        /* mu: waiters wait here */
};


TAILQ_HEAD(task_list, supv_task);

/*
 * The most plain tasks a worker takes at once, by default: it takes the
 * lock once for them, and leaves it to the submitters meanwhile.
 */
#define TP_TAKE_MAX 16


/* What a worker needs after its attempt ran past its deadline. */
enum tp_replace {
	TP_REPLACE_NONE,
	TP_REPLACE_STOP,   /* its run must be stopped, then the worker started */
	TP_REPLACE_START   /* its start failed: to try again */
};

/*
 * One worker of the pool (or its timer thread, the last slot), as the
 * pool sees it across that worker's runs.  A run owns its slot from the
 * moment it sets run to itself until its EXIT (pool_event() clears run),
 * and changes the slot only while run is itself: a run that was abandoned
 * may come back at any time, after a successor took the slot.
 */
struct tp_slot {
	struct supv_taskpool *pool;
	char                  id[SUPV_ID_MAX + 1];
	unsigned              index;
	bool                  is_ctl;      /* the timer thread's slot */

	struct supv_worker   *run;        /* mu: the current run; NULL between runs */
	struct supv_task     *cur;        /* mu: the task that run's attempt runs */
	uint64_t              deadline;   /* mu: when that attempt times out (ns) */
	bool                  doomed;     /* mu: the run is to be stopped: no more tasks */
	bool                  idle;       /* mu: in pool->idle, waiting for a task */
	LIST_ENTRY(tp_slot)   idle_link;  /* mu */
	unsigned long         gen;        /* mu: runs that have taken the slot */
	struct supv_task     *spare;      /* mu: the record its plain tasks run
	                                     in, kept from one to the next */
	/* What the replacer is to do, for the run numbered replace_gen. */
	enum tp_replace       replace;        /* mu */
	unsigned long         replace_gen;    /* mu */
	uint64_t              replace_at;     /* mu: not before this (ns) */
	unsigned              replace_fails;  /* mu: starts failed in a row */

	/*
	 * Plain tasks the run took at once (tp_take): took[0] is in the
	 * spare, and the worker goes on from took[i] to took[i + 1] without
	 * the lock, moving at from i to i + 1 with a compare-and-swap.
	 * Whoever else must know where it is (a hang, an exit, an idle
	 * worker taking over, the pool's close) fences the run first:
	 * supv__tp_slot_settle() sets TP_AT_FENCE, after which the worker
	 * starts none of them.  ntook is 0 when there is no such run; a run
	 * on its way is in pool->took_runs.
	 */
	unsigned              ntook;      /* mu */
	uint32_t              seq;        /* mu: runs of tasks taken so far */
	LIST_ENTRY(tp_slot)   took_link;  /* mu */
	/* seq << 32 | TP_AT_FENCE | the index of the one running. */
	_Atomic uint64_t      at;
	/*
	 * Written under mu by the worker; read by it without mu before its
	 * compare-and-swap (which tells whether what it read was current),
	 * and by whoever fences the run, under mu.
	 */
	struct tp_took {
		_Atomic(supv_task_fn *) fn;
		_Atomic(void *)         arg;
	} took[TP_TAKE_MAX];
};

#define TP_AT_FENCE ((uint64_t)1 << 31)
#define TP_AT_INDEX ((uint64_t)TP_AT_FENCE - 1)

/* The pool's state; transitions are in pool_set_state(). */
enum pool_state {
	POOL_IDLE,      /* its supervisor is not running: submit says ESRCH */
	POOL_OPEN,      /* taking and running tasks */
	POOL_DRAINING,  /* supv_taskpool_stop() waits for the tasks: none accepted */
	POOL_CLOSED     /* stopping: the tasks not started are cancelled */
};

struct supv_taskpool {
	/*
	 * What a task's hand-over touches, the lock first: in two cache
	 * lines with it (the pool is allocated on a line's boundary), so
	 * that a submitter and a worker on two CPUs pass two lines back and
	 * forth per task rather than several, and no line that either only
	 * reads.
	 */
	pthread_mutex_t     mu;
	enum pool_state     state;        /* mu */
	unsigned            nqueued;      /* mu */
	/*
	 * mu: the queue, nqueued tasks in all (queue.c): plain ones in a
	 * ring of qcap (a power of two) entries, nplain of them from qhead,
	 * qtaken taken so far; the others in a list, oldest first.
	 */
	struct tp_entry    *q;
	unsigned            qhead, qcap;
	unsigned            nplain;
	unsigned            nlive;        /* mu: accepted and not T_DONE */
	uint64_t            qtaken;
	struct task_list    queue;        /* mu: T_QUEUED records, oldest first */
	unsigned            nrunning;     /* mu */
	unsigned            ndelayed;     /* mu */
	unsigned            space_waiters;  /* mu */
	/*
	 * mu: the plain tasks in runs taken at once, after each run's
	 * first (tp_slot.took): they wait to start, for the queue's bound,
	 * and the ring keeps room to put them back (supv__tp_queue_room).
	 */
	unsigned            nahead;
	LIST_HEAD(, tp_slot) idle;        /* mu: idle workers, the latest first */
	/* mu; submitted is this, n_failed, n_cancelled and nlive. */
	uint64_t            n_succeeded;


	/*
	 * A submitter waits for room: set under mu by each that goes to
	 * sleep, cleared by supv__tp_slot_settle(), which wakes them.  A
	 * worker running tasks it took at once reads it without mu after
	 * each, and stops the run if set: a task beginning makes room.  On
	 * the constants' line, which is written only then.
	 */
	_Alignas(64) atomic_bool room_wanted;
	/* Set by supv_taskpool_add(), constant after. */
	unsigned            cap;          /* UINT_MAX: no bound */
	unsigned            attempts;     /* UINT_MAX: no limit */
	uint64_t            deadline_ns;  /* 0: none */
	char                id[SUPV_ID_MAX + 1];
	struct supv        *parent;
	struct supv        *sup;          /* the pool's own supervisor */
	unsigned            nworkers;
	unsigned            take_max;     /* plain tasks a worker takes at once */
	unsigned            backoff_ms, backoff_max_ms;
	supv_event_fn      *on_event;
	void               *event_arg;
	struct tp_slot     *slots;        /* nworkers workers, then the timer thread */

	/*
	 * Held by each worker spec (dropped by its arg_free), each task
	 * handle, and each caller waiting in submit or stop.  On a line of
	 * its own: a submitter takes and drops it, without mu for a
	 * handle's release, while a worker locks and unlocks mu.
	 */
	_Alignas(64) atomic_uint refs;

	struct task_list    delayed;      /* mu: T_DELAYED, by due time */
	unsigned            nserving;     /* mu: worker runs alive */
	pthread_cond_t      space_cv;     /* mu: submitters waiting for room */
	pthread_cond_t      drain_cv;     /* mu: supv_taskpool_stop() draining */
	unsigned            drain_waiters;  /* mu */
	pthread_cond_t      replace_cv;   /* mu: the replacer waits here */
	struct supv_worker *ctl_run;      /* mu: the timer thread's run, or NULL */
	uint64_t            ctl_at;       /* mu: when it wakes next (ns) */
	uint64_t            n_failed, n_cancelled, n_retries; /* mu */
	LIST_HEAD(, tp_slot) took_runs;   /* mu: slots with ntook > 0 */
	struct task_list    free;         /* mu: unused tasks, for submit */
	unsigned            nfree;        /* mu */
};

/* A queued plain task: 16 bytes, as in a ring a user would write. */
struct tp_entry {
	supv_task_fn *fn;
	void         *arg;
};

/* Tasks finished under pool->mu whose callbacks and frees come after. */
struct batch {
	struct task_list fin;     /* T_FINISHING, with an on_done to call */
	struct task_list dead;    /* the last reference went: to free */
};

unsigned supv__tp_took_done(const struct supv_taskpool *p, unsigned *waiting);

/*
 * Whether submit must wait for room.  Tasks taken at once count until
 * they have begun: nahead counts them until their worker comes back for
 * more, so when it says full, the ones already done are taken off.
 * Called with pool->mu held.
 */
static inline bool
pool_full(const struct supv_taskpool *p)
{
	unsigned n = p->nqueued + p->ndelayed + p->nahead;

	return p->cap != UINT_MAX && n >= p->cap &&
	    (p->nahead == 0 || n - supv__tp_took_done(p, NULL) >= p->cap);
}

/* Tasks kept for reuse, so that a task costs no malloc and free. */
#define TP_CACHE_MAX 1024

/*
 * The files of a task pool, each standing on the ones before it:
 * queue.c (the pool's state, tasks, the queue, hand-offs), worker.c and
 * timer.c (the threads), task.c and api.c (the public calls, and the
 * pool's supervisor).
 */

/* queue.c: called with pool->mu held unless said. */
extern _Thread_local struct tp_slot *supv__tp_tls_slot;
void supv__tp_unref(struct supv_taskpool *p);                         /* without mu */
void supv__tp_set_state(struct supv_taskpool *p, enum pool_state to);
void supv__tp_close(struct supv_taskpool *p, struct batch *b);
void supv__tp_wake_one(struct supv_taskpool *p);
void supv__tp_kick_timer(struct supv_taskpool *p, uint64_t at);
void supv__tp_slot_settle(struct supv_taskpool *p, struct tp_slot *sl);
void supv__tp_slot_detach(struct supv_taskpool *p, struct tp_slot *sl);
unsigned supv__tp_slot_ran(const struct tp_slot *sl, unsigned *ahead);
void supv__tp_task_free(struct supv_task *t);                         /* without mu */
void supv__tp_task_unref_locked(struct supv_taskpool *p, struct supv_task *t,
    struct batch *b);
int  supv__tp_queue_room(struct supv_taskpool *p);
void supv__tp_queue_push(struct supv_taskpool *p, supv_task_fn *fn, void *arg,
    struct supv_task *t);
bool supv__tp_queue_plain_first(const struct supv_taskpool *p);
unsigned supv__tp_queue_plain_run(const struct supv_taskpool *p);
void supv__tp_queue_take_plain(struct supv_taskpool *p, struct tp_took *out,
    unsigned n);
struct supv_task *supv__tp_queue_pop(struct supv_taskpool *p, struct tp_entry *e);
void supv__tp_queue_remove(struct supv_taskpool *p, struct supv_task *t);
void supv__tp_queue_trim(struct supv_taskpool *p);
struct supv_task *supv__tp_task_get(struct supv_taskpool *p);
void supv__tp_task_reset(struct supv_taskpool *p, struct supv_task *t,
    supv_task_fn *fn, void *arg);
void supv__tp_task_rerun(struct supv_task *t, supv_task_fn *fn, void *arg);
void supv__tp_task_count_done(struct supv_taskpool *p, enum supv_task_status status,
    unsigned n);
void supv__tp_batch_init(struct batch *b);
bool supv__tp_batch_empty(const struct batch *b);
void supv__tp_batch_flush(struct supv_taskpool *p, struct batch *b);  /* without mu */
void supv__tp_task_set_state(struct supv_task *t, enum task_state to);
void supv__tp_task_finish(struct supv_taskpool *p, struct supv_task *t,
    enum supv_task_status status, int code, struct batch *b);
void supv__tp_task_failed(struct supv_taskpool *p, struct supv_task *t,
    enum supv_task_status status, int code, struct batch *b);
void supv__tp_tasks_cancel_waiting(struct supv_taskpool *p, struct batch *b);
void supv__tp_tasks_promote_due(struct supv_taskpool *p, uint64_t now);

/* worker.c, timer.c: the bodies of the pool's children. */
int  supv__tp_worker(struct supv_worker *self, void *arg);
int  supv__tp_timer(struct supv_worker *self, void *arg);

#endif /* TASKPOOL_H */
