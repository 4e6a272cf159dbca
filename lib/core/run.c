/*
 * run.c - runs of a worker: the thread trampoline, exit capture, the
 * same-thread restart (decided on the worker's own thread), and what a
 * worker calls on itself (stop signalling, sleep, readiness).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/core.h"

struct supv_worker *
supv__run_new(struct child *c)
{
	struct supv_worker *r;

	size_t idlen = strlen(c->id) + 1;

	/* calloc: its lock (r->mu) is free, and nothing has woken it. */
	if ((r = supv__xcalloc(1, offsetof(struct supv_worker, id) + idlen)) == NULL)
		return NULL;
	atomic_init(&r->refs, 1);
	if (c->is_proc && (r->proc = supv__procrun_new(r)) == NULL) {
		free(r);
		return NULL;
	}
	/* Its tree's lock stays valid as long as the run: an abandoned run may outlive the tree. */
	r->dom = supv__dom_of(c->owner);
	atomic_fetch_add(&r->dom->refs, 1);
	r->stop_fd = -1;
	r->fn = c->is_proc ? NULL : c->fn;
	r->sup = c->sup;
	r->arg = c->arg;
	r->arg_boxed = c->arg_boxed;
	supv__arg_ref(r->arg, r->arg_boxed);
	memcpy(r->id, c->id, idlen);
	r->index = c->index;
	r->same_thread = c->same_thread;
	r->hang_trace = c->hang_trace;
	return r;
}

/*
 * Drops a reference.  The last one frees the run; it may run arg_free, so
 * it is dropped without the tree's lock, or where the arg cannot be the last one.
 */
void
supv__run_unref(struct supv_worker *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	supv__procrun_free(r->proc);
	supv__dom_unref(r->dom);
	supv__arg_unref(r->arg, r->arg_boxed);
	free(r);
}

/*
 * What the run numbered epoch of a child with rule k must do instead of
 * its body.  Called with the tree's lock held.
 */
enum supv__chaos_act
supv__chaos_pick(const struct supv__chaos *k, uint64_t epoch, int *code)
{
	uint64_t nth = epoch - k->base;

	if (k->every ? nth % k->n != 0 : nth != k->n)
		return SUPV__CHAOS_NONE;
	*code = k->code;
	return k->act;
}

/*
 * Numbers a run of c that is about to enter the body, and decides the
 * fault it injects instead, if c has a chaos rule.  Called with the
 * tree's lock held.
 */
static void
run_number(struct child *c, struct supv_worker *r)
{
	r->epoch = ++c->epochs;
	r->chaos = SUPV__CHAOS_NONE;
	if (c->chaos != NULL)
		r->chaos = (unsigned char)supv__chaos_pick(c->chaos, r->epoch,
		    &r->chaos_code);
}

/*
 * Makes c->run a fresh run for the next start, reusing the last one when
 * nothing else holds it, so that restarting allocates nothing.  Called
 * with the tree's lock held.
 */
int
supv__run_prepare(struct child *c)
{
	struct supv_worker *r = c->run;

	if (r != NULL && atomic_load(&r->refs) == 1) {
		if (r->stop_fd >= 0) {
			close(r->stop_fd);
			r->stop_fd = -1;
		}
		atomic_store(&r->stopping, false);
		atomic_store(&r->beat, 0);
		r->beat_local = 0;
		atomic_store(&r->ext_until, 0);
		atomic_store(&r->ext_beat, 0);
		r->ready = r->exited = r->cancelled = r->stop_asked = false;
		r->woken = r->abandoned = false;	/* no thread holds it */
		atomic_store_explicit(&r->wake, 0, memory_order_relaxed);
		r->code = 0;
		r->has_cpuclock = false;
		atomic_store(&r->superseded, false);
		atomic_store(&r->tid, 0);
		if (r->proc != NULL)
			supv__procrun_reset(r->proc);
		r->child = c;
		run_number(c, r);
		return 0;
	}
	if (r != NULL) {
		/* Still held by an abandoned thread: let it keep it. */
		supv__run_abandon(r);
		c->run = NULL;
		supv__run_unref(r);
	}
	if ((r = supv__run_new(c)) == NULL)
		return ENOMEM;
	r->child = c;
	run_number(c, r);
	c->run = r;
	return 0;
}

/*
 * Ends the run: queues it for its supervisor unless it was abandoned.
 * A queued run's reference is dropped under the lock, so that the loop
 * can reuse the struct at once.  Once the run is queued, the owner's loop
 * may handle it (it wakes on its own to sample heartbeats), terminate,
 * and be freed by its parent, so after the unlock this thread touches
 * neither the run nor its owner, but for the wake-up of a sleeping
 * owner, which holds the owner's memory until it is done.
 */
static void
run_finish(struct supv_worker *r, int code, bool cancelled)
{
	struct supv *woken = NULL;
	struct child *c;
	bool queued;

	supv__lock_run_tree(r);
	r->code = code;
	r->cancelled = cancelled;
	r->exited = true;
	r->ended_ns = supv__now_ns();
	if ((queued = (c = r->child) != NULL)) {
		TAILQ_INSERT_TAIL(&c->owner->exitq, r, exitq);
		atomic_fetch_sub(&r->refs, 1);	/* the child's stays */
		if (supv__sup_wake_later(c->owner))
			woken = c->owner;
	}
	supv__unlock_run_tree(r);
	fault_pause(FP_RUN_FINISHED);
	if (woken != NULL)
		supv__sup_wake_after(woken);
	if (!queued)
		supv__run_unref(r);	/* abandoned: may be the last, and run arg_free */
}

static void
run_cancelled(void *arg)
{
	run_finish(arg, 0, true);
}

/* A run's injected fault (supv_chaos), on its own thread, in place of its body. */
static int
chaos_run(struct supv_worker *r)
{
	if (r->chaos == SUPV__CHAOS_FAIL)
		return r->chaos_code;
	/*
	 * A hang beats no more and, like a run stuck in a wait, comes back
	 * only when asked to stop; missing ready_ms is the same, never
	 * calling supv_ready().
	 */
	while (supv_sleep(r, SUPV_INFINITY) == 0)
		;
	return 0;
}

static void *
worker_main(void *arg)
{
	struct supv_worker *r = arg;
	int code;

	supv__tls_run = r;
	atomic_store_explicit(&r->tid, (int)syscall(SYS_gettid),
	    memory_order_relaxed);
	supv__thread_name(r->id);
	if (r->hang_trace)
		supv__trace_arm();
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
	for (;;) {
		pthread_cleanup_push(run_cancelled, r);
		code = r->chaos == SUPV__CHAOS_NONE ? r->fn(r, supv__arg_value(r->arg, r->arg_boxed)) :
		    chaos_run(r);
		/* A cancel that comes now must not cut the bookkeeping short. */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_cleanup_pop(0);
		if (!r->same_thread || !supv__run_restart_in_place(r, code))
			break;
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	}
	run_finish(r, code, false);
	return NULL;
}

/*
 * The same-thread fast path, on a worker's own thread after its body
 * returned code.  The exit is decided as the loop decides it
 * (supv__decide); when the verdict is to restart this child alone, now
 * (no stop asked, no synchronous start to wait for), the restart is
 * counted, the run reset, EXIT, RESTART and START are emitted, and true
 * tells the thread to run the body again.  Any other verdict goes to the
 * loop, which decides again: deciding counts nothing.  Called without the
 * tree's lock.
 */
bool
supv__run_restart_in_place(struct supv_worker *r, int code)
{
	enum supv_exit_kind kind = code == 0 ? SUPV_EXIT_NORMAL : SUPV_EXIT_FAILURE;
	struct supv__verdict v;
	struct supv *s, *saved;
	enum supv_rule rule;
	struct child *c;
	uint64_t now;
	bool ok = false;

	supv__lock_run_tree(r);
	if ((c = r->child) == NULL || r->stop_asked)
		goto out;
	s = c->owner;
	if ((s->state != SUP_RUNNING && s->state != SUP_STARTING) || s->stop_req ||
	    c->ready_ms != 0 || c->state != CH_RUNNING)
		goto out;
	now = supv__now_ns();
	rule = supv__exit_rule(c, kind, code);
	supv__decide(s, c, kind, code, rule, now - r->started_ns, now, &v);
	if (v.act != SUPV__ACT_RESTART || v.first != c || v.last != c ||
	    v.delay_ms != 0)
		goto out;
	/* Committed: the restart is counted before anything is emitted. */
	supv__verdict_commit(s, c, &v);
	supv__note_exit(s, c, kind, code);
	supv__note_restart(s, c);
	supv__hb_unwatch(s, c);
	atomic_store(&r->ext_until, 0);
	r->started_ns = now;
	run_number(c, r);
	if (s->on_event != NULL) {
		/*
		 * The lock is dropped for each event: s stays (terminate()
		 * waits for inplace_busy), c stays while it is this run's;
		 * a run abandoned meanwhile ends instead of running again.
		 */
		s->inplace_busy++;
		saved = supv__tls_sup;
		supv__tls_sup = s;	/* calls on the tree from the callback: EDEADLK */
		supv__emit_exit_restarted(s, c, kind, code, rule);
		if (r->child == c)
			supv__emit_restart(s, c);
		if (r->child == c)
			supv__emit_start(s, c);
		supv__tls_sup = saved;
		s->inplace_busy--;
		pthread_cond_broadcast(&s->emit_cv);
		if (r->child != c)
			goto out;
	}
	/*
	 * The deadline counts from here, where the body is entered again,
	 * not from before this thread sat in the callbacks; a run asked to
	 * stop meanwhile is not monitored (it sees supv_stopping() at once).
	 */
	if (c->heartbeat_ms != 0 && !r->stop_asked) {
		supv__hb_watch(s, c, supv__now_ns());
		supv__sup_wake(s);
	}
	ok = true;
out:
	supv__unlock_run_tree(r);
	return ok;
}

/*
 * Starts the thread of c's prepared run.  The thread holds its own
 * reference.  Called with the tree's lock held.
 */
int
supv__run_spawn_worker(struct child *c)
{
	struct supv_worker *r = c->run;
	int rc;

	atomic_fetch_add(&r->refs, 1);
	r->started_ns = supv__now_ns();
	rc = supv__thread_spawn(&r->thread, c->stack_size, worker_main, r);
	if (rc != 0) {
		atomic_fetch_sub(&r->refs, 1);
		return rc;
	}
	r->has_cpuclock = pthread_getcpuclockid(r->thread, &r->cpuclock) == 0;
	return 0;
}

#define WAKE_SLEEPERS 1u	/* r->wake: someone sleeps on it */

/*
 * Wakes whoever sleeps on r->wake (supv_sleep, supv__run_wait), as a
 * condition variable's broadcast would: the word changes, and a futex
 * wake is made only when someone sleeps or is about to.  Under rmu, as
 * the broadcast was: measured, waking after the unlock made a task pool
 * of 8 workers hand over work a third slower (bench/taskpool).  The
 * sleepers' bit is cleared; each sleeper that sleeps again sets it again.
 * Called with rmu held.
 */
static void
run_kick(struct supv_worker *r)
{
	/* Read-modify-writes: the sleepers' system call reads the word meanwhile. */
	if ((atomic_fetch_add_explicit(&r->wake, 2, memory_order_relaxed) &
	    WAKE_SLEEPERS) == 0)
		return;
	atomic_fetch_and_explicit(&r->wake, ~WAKE_SLEEPERS, memory_order_relaxed);
	supv__futex_wake(&r->wake, INT_MAX);
}

/*
 * Sleeps until run_kick() or deadline: false once deadline has passed.
 * Called with rmu held; drops it meanwhile.  A cancellable sleep
 * (supv_sleep) cancelled meanwhile ends with rmu not held; the sleepers'
 * bit it leaves costs the next kick a system call for nobody.
 */
static bool
run_sleep(struct supv_worker *r, uint64_t deadline, bool cancellable)
{
	unsigned v = atomic_fetch_or_explicit(&r->wake, WAKE_SLEEPERS,
	    memory_order_relaxed) | WAKE_SLEEPERS;
	bool in_time;

	supv__funlock(&r->mu);
	in_time = supv__futex_wait_until(&r->wake, v, deadline, cancellable);
	supv__flock(&r->mu);
	return in_time;
}

/*
 * Asks a worker run to stop: supv_stopping() turns true, supv_sleep() and
 * a task pool's idle wait wake, the stop descriptor becomes readable, and
 * a call it posted and waits for is given up.  Called with the tree's
 * lock held; takes the run's own.
 */
void
supv__run_signal_stop(struct supv_worker *r, enum supv_exit_kind why)
{
	r->stop_asked = true;
	r->stop_at = supv__now_ns();
	if (r->proc != NULL) {
		/* A process: its stop signal, to its whole group. */
		r->stop_kind = why;
		atomic_store_explicit(&r->stopping, true, memory_order_release);
		supv__proc_signal(r->proc, r->proc->stop_signal);
		return;
	}
	supv__flock(&r->mu);
	r->stop_kind = why;
	atomic_store_explicit(&r->stopping, true, memory_order_release);
	run_kick(r);
	supv__flagfd_set(r->stop_fd);
	supv__funlock(&r->mu);
	if (r->waiting != NULL)
		pthread_cond_signal(&r->waiting->cv);
}

/*
 * Lets a run go: its thread runs on, detached or still in its body, and
 * its end queues nothing.  Called with the tree's lock held.
 */
void
supv__run_abandon(struct supv_worker *r)
{
	/* First, so that a worker that sees it may already be replaced. */
	atomic_store_explicit(&r->superseded, true, memory_order_release);
	r->child = NULL;
	supv__flock(&r->mu);
	r->abandoned = true;
	supv__funlock(&r->mu);
}

/*
 * The worker of run r waits, under nothing but the run's own lock, until
 * supv__run_wake(r), a stop request, or deadline: false once deadline has
 * passed.  A wake that came first is not lost: it is a token, taken here.
 */
bool
supv__run_wait(struct supv_worker *r, uint64_t deadline)
{
	bool in_time = true;

	supv__flock(&r->mu);
	while (!r->woken && !atomic_load(&r->stopping) && in_time)
		in_time = run_sleep(r, deadline, false);
	r->woken = false;
	supv__funlock(&r->mu);
	return in_time;
}

/* Wakes r's worker from supv__run_wait(); callable under any other lock. */
void
supv__run_wake(struct supv_worker *r)
{
	supv__flock(&r->mu);
	r->woken = true;
	run_kick(r);
	supv__funlock(&r->mu);
}

/* Whether r's supervisor let it go (it outlived its grace). */
bool
supv__run_abandoned(struct supv_worker *r)
{
	bool a;

	supv__flock(&r->mu);
	a = r->abandoned;
	supv__funlock(&r->mu);
	return a;
}

/* Why r was asked to stop: SHUTDOWN, HUNG or START_FAILED (0 if not asked). */
enum supv_exit_kind
supv__run_stop_kind(struct supv_worker *r)
{
	enum supv_exit_kind why;

	supv__flock(&r->mu);
	why = atomic_load(&r->stopping) ? r->stop_kind : 0;
	supv__funlock(&r->mu);
	return why;
}

SUPV_EXPORT bool
supv_stopping(const struct supv_worker *self)
{
	if (self == NULL)
		return false;
	return atomic_load_explicit(&self->stopping, memory_order_relaxed);
}

SUPV_EXPORT int
supv_sleep(struct supv_worker *self, unsigned ms)
{
	uint64_t deadline;
	int stopping;

	if (self == NULL)
		return EINVAL;
	pthread_testcancel();	/* a cancellation point even when it returns at once */
	if (supv_stopping(self))
		return ECANCELED;
	if (ms == 0 || ms == SUPV_ZERO)
		return 0;
	deadline = supv__deadline_after_ms(supv__now_ns(), ms);
	/*
	 * The run's own lock: no lock shared with the tree, or any other.
	 * The sleep is the cancellation point, and holds no lock: a
	 * cancellation there leaves nothing to undo.
	 */
	supv__flock(&self->mu);
	while (!atomic_load(&self->stopping) && run_sleep(self, deadline, true))
		;
	stopping = atomic_load(&self->stopping);
	supv__funlock(&self->mu);
	return stopping ? ECANCELED : 0;
}

SUPV_EXPORT int
supv_stop_fd(struct supv_worker *self)
{
	uint64_t one = 1;
	int fd, old;

	if (self == NULL)
		return -1;
	old = supv__nocancel_begin();
	supv__flock(&self->mu);
	if (self->stop_fd < 0) {
		self->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (self->stop_fd >= 0 && atomic_load(&self->stopping) &&
		    write(self->stop_fd, &one, sizeof(one)) < 0) {
			/* Cannot fail on a fresh counter. */
		}
	}
	fd = self->stop_fd;
	supv__funlock(&self->mu);
	supv__nocancel_end(old);
	return fd;
}

SUPV_EXPORT void
supv_ready(struct supv_worker *self)
{
	if (self == NULL)
		return;
	supv__lock_run_tree(self);	/* no cancellation point inside */
	if (!self->ready && self->child != NULL) {
		self->ready = true;
		if (self->child->backoff_reset_on_ready)
			self->child->streak = 0;
		supv__sup_wake(self->child->owner);
	}
	supv__unlock_run_tree(self);
}

/*
 * Fencing: whether this run has been given up (abandoned after its grace,
 * or its task attempt given up after its deadline), so that another may
 * run beside it.  One load: a worker may ask before every commit.
 */
SUPV_EXPORT bool
supv_superseded(const struct supv_worker *self)
{
	return self != NULL &&
	    atomic_load_explicit(&self->superseded, memory_order_acquire);
}

SUPV_EXPORT uint64_t
supv_epoch(const struct supv_worker *self)
{
	return self != NULL ? self->epoch : 0;
}

SUPV_EXPORT const char *
supv_worker_id(const struct supv_worker *self)
{
	return self != NULL ? self->id : NULL;
}

SUPV_EXPORT unsigned
supv_worker_index(const struct supv_worker *self)
{
	return self != NULL ? self->index : 0;
}
