/*
 * timer.c - a task pool's timer thread: it enforces the deadlines of
 * running attempts and closes the pool when it is asked to stop; and its
 * replacer, which replaces the workers whose attempts ran past their
 * deadlines, so that a worker slow to stop holds up no other deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "taskpool/taskpool.h"

/*
 * How soon the pool tries again to start a worker it replaced, and at
 * most how long it waits between tries.
 */
#define TP_RESTART_RETRY_MS     100
#define TP_RESTART_RETRY_MAX_MS 2000

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
 * Takes every attempt past its deadline off its run, and asks the
 * replacer to replace that run's worker.  Returns how many it found, and
 * sets p->ctl_at to the next deadline.  Called with pool->mu held.
 */
static unsigned
tp_scan(struct supv_taskpool *p, uint64_t now, struct batch *b)
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
		/* The attempt is given up: its task may run elsewhere now. */
		if (sl->run != NULL)
			atomic_store_explicit(&sl->run->superseded, true,
			    memory_order_release);
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
 * The slot whose replacement is due, or NULL; *next is when the next one
 * will be.  Called with pool->mu held.
 */
static struct tp_slot *
tp_replace_due(struct supv_taskpool *p, uint64_t now, uint64_t *next)
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
tp_replacer_main(void *arg)
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
		if ((sl = tp_replace_due(p, supv__now_ns(), &next)) == NULL) {
			supv__cond_wait_until(&p->replace_cv, &p->mu, next);
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
			sl->replace_at = supv__now_ns() + (uint64_t)supv__backoff_step(
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
tp_replacer_start(struct replacer *rp, uint64_t now, uint64_t *at)
{
	if (rp->started)
		return;
	if (rp->retry_at <= now) {
		if (supv__thread_spawn(&rp->thread, 0, tp_replacer_main, rp) == 0) {
			rp->started = true;
			return;
		}
		rp->fails++;
		rp->retry_at = now + (uint64_t)supv__backoff_step(TP_RESTART_RETRY_MS,
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
int
supv__tp_timer(struct supv_worker *self, void *arg)
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
	supv__tp_tls_slot = sl;
	pthread_mutex_lock(&p->mu);
	if (supv__run_abandoned(self)) {
		pthread_mutex_unlock(&p->mu);
		supv__nocancel_end(old);
		return 0;
	}
	if (p->state == POOL_IDLE)
		supv__tp_set_state(p, POOL_OPEN);
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
		if (tp_scan(p, now, &b) > 0)
			replacing = true;
		at = p->ctl_at;
		pthread_mutex_unlock(&p->mu);
		supv__tp_batch_flush(p, &b);
		if (replacing)
			tp_replacer_start(&rp, now, &at);
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
		supv__tp_close(p, &b);
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
