/*
 * child.c - starting and stopping one child, on its supervisor's loop:
 * starting a worker (waiting for its supv_ready(); a child supervisor's
 * start is its loop's, in loop.c), asking a run to stop, waiting for it
 * within its grace (the heartbeats of its siblings still sampled
 * meanwhile), what happens when the grace runs out, and the one place a
 * child becomes idle after a run.  Called with its tree's lock held, on
 * the supervisor's loop; emit_*() drop the lock.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "core/core.h"

/* Whether the graces of s's subtree have run out (an ancestor forced it). */
static bool
forced(const struct supv *s)
{
	for (; s != NULL; s = s->parent)
		if (s->force)
			return true;
	return false;
}

/* Wakes every loop below s, so that they see s->force. */
static void
wake_subtree(struct supv *s)
{
	struct child *c;

	supv__sup_wake(s);
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			wake_subtree(c->sup);
}

/*
 * Takes an ended run off the exit queue and joins its thread (a process
 * has none: its watcher reaps it).
 */
void
supv__reap(struct supv *s, struct supv_worker *r)
{
	pthread_t t = r->thread;

	TAILQ_REMOVE(&s->exitq, r, exitq);
	if (r->proc != NULL)
		return;
	supv__unlock_sup(s);
	pthread_join(t, NULL);
	supv__lock_sup(s);
}

enum supv_exit_kind
supv__exit_kind(const struct supv_worker *r)
{
	if (r->stop_asked)
		return r->stop_kind;
	if (r->sup != NULL)
		return r->sup_kind;
	if (r->proc != NULL)
		return r->proc->signo != 0 ? SUPV_EXIT_KILLED :
		    r->proc->status == 0 ? SUPV_EXIT_NORMAL : SUPV_EXIT_FAILURE;
	if (r->cancelled)
		return SUPV_EXIT_CANCELLED;
	return r->code == 0 ? SUPV_EXIT_NORMAL : SUPV_EXIT_FAILURE;
}

/* A process's is its exit status, or the signal that ended it, in every kind. */
int
supv__exit_code(const struct supv_worker *r)
{
	if (r->proc != NULL)
		return r->proc->signo != 0 ? r->proc->signo : r->proc->status;
	return r->sup != NULL || r->cancelled ? 0 : r->code;
}

/*
 * c's run is over, however it ended (kind, code), or its start failed:
 * the one place a child becomes idle after a run.  It is no longer
 * monitored nor hung, its exit is noted, and its EXIT emitted with the
 * rule its codes give; that rule is returned, for the decision
 * (supv__decide), so that it is computed once per exit.
 */
enum supv_rule
supv__child_ended(struct supv *s, struct child *c, enum supv_exit_kind kind,
    int code)
{
	enum supv_rule rule = supv__exit_rule(c, kind, code);

	supv__hb_unwatch(s, c);
	supv__hung_done(s, c);
	if (c->state != CH_IDLE)
		supv__child_set_state(c, CH_IDLE);
	supv__emit_exit(s, c, kind, code, rule);
	return rule;
}

/* Gives up on a run that outlived its grace: it runs on, detached. */
static void
abandon(struct child *c, struct supv_worker *r)
{
	pthread_detach(r->thread);
	supv__run_abandon(r);	/* its end will queue nothing */
	c->run = NULL;
	/* The thread still holds a reference, so this cannot be the last. */
	supv__run_unref(r);
}

/* A hung child's stop is over: the tree may be healthy again. */
void
supv__hung_done(struct supv *s, struct child *c)
{
	if (!c->hung_asked)
		return;
	c->hung_asked = false;
	TAILQ_REMOVE(&s->hungq, c, hunglink);
	supv__root_of(s)->hung_now--;
}

/*
 * What c's run is stuck on (hang_trace), captured while it is still
 * stuck, before anything asks it to stop: malloc'd, or NULL.  The trace
 * interrupts the thread and waits for it (bounded), so the tree's lock
 * is dropped meanwhile; the loop alone joins the run, so its thread
 * stays.
 */
static char *
hang_detail(struct supv *s, struct child *c)
{
	struct supv_worker *r = c->run;
	pid_t tid = atomic_load(&r->tid);
	struct dom *d;
	char *detail;

	/* A process's kernel state always: nothing is signalled for it. */
	if ((!c->hang_trace && r->proc == NULL) || s->on_event == NULL || tid <= 0)
		return NULL;
	d = supv__dom_of(s);
	supv__dom_unlock(d);
	detail = r->proc != NULL ? supv__hang_trace_process(tid) :
	    supv__hang_trace(r->thread, tid);
	supv__dom_lock(d);
	return detail;
}

/*
 * c was found hung: report it and ask it to stop.  While it is being
 * stopped the tree is unhealthy (no watchdog pings).  A run that ended
 * on its own, or restarted itself in place, before its turn came (the
 * lock is dropped for a sibling's HUNG callback, or for the trace) was
 * not hung after all: it is neither reported nor counted, and false is
 * returned; its exit is handled as what it was.
 */
bool
supv__mark_hung(struct supv *s, struct child *c, bool spinning)
{
	struct supv_worker *r = c->run;
	uint64_t epoch = r->epoch;
	char *detail;

	if (r->exited)
		return false;
	detail = hang_detail(s, c);
	if (r->exited || r->epoch != epoch) {
		free(detail);
		return false;
	}
	c->hung_asked = true;
	TAILQ_INSERT_TAIL(&s->hungq, c, hunglink);
	supv__root_of(s)->hung_now++;
	s->hung_total++;
	supv__ask_stop(c, SUPV_EXIT_HUNG);
	supv__emit_hung(s, c, spinning, detail);
	free(detail);
	return true;
}

/*
 * Answers the root's liveness probe (probe.c): this loop is not
 * stuck in user code or in a wait without end.
 */
void
supv__loop_alive(struct supv *s)
{
	s->probe_ack = supv__root_of(s)->probe_seq;
}

/*
 * Sleeps on the loop's wake word (supv__sup_sleep_until) until deadline,
 * while the loop
 * is busy with one child (its grace, its start): the heartbeats of the
 * others are still sampled, and a hung one is reported and asked to stop
 * at once; serve() finishes its stop.  A wait that is live answers the
 * liveness probe; one without end for one child's stop does not.  False
 * once deadline has passed.
 */
bool
supv__wait_busy(struct supv *s, uint64_t deadline, bool live)
{
	struct child *c;
	uint64_t next = supv__hb_next(s);
	bool spinning;

	if (live)
		supv__loop_alive(s);
	supv__sup_sleep_until(s,
	    next < deadline ? next : deadline);
	while ((c = supv__hb_check_due(s, &spinning)) != NULL)
		supv__mark_hung(s, c, spinning);
	return deadline == NO_DEADLINE || supv__now_ns() < deadline;
}

/*
 * Asks c's run to stop, unless it has ended or was asked already.  A run
 * asked to stop is no longer monitored, from this moment on (a pool asks
 * all its workers at once, then waits for each in turn).
 */
void
supv__ask_stop(struct child *c, enum supv_exit_kind why)
{
	struct supv_worker *r = c->run;

	supv__hb_unwatch(c->owner, c);
	if (r->exited || r->stop_asked)
		return;
	if (r->sup != NULL) {
		r->stop_asked = true;
		r->stop_kind = why;
		r->stop_at = supv__now_ns();
		r->sup->stop_req = true;
		supv__sup_wake(r->sup);
	} else {
		supv__run_signal_stop(r, why);
	}
}

/*
 * Asks c's running run to stop, waits for it within its grace, and
 * applies on_timeout when the grace runs out.  Emits the EXIT and leaves c
 * idle (supv__child_ended); makes no restart decision.  Returns how the
 * run ended (the kind of a run that had already ended on its own is kept)
 * and, in *ran and *rule, how long it ran and the rule its exit gave.
 */
enum supv_exit_kind
supv__child_stop(struct supv *s, struct child *c, enum supv_exit_kind why,
    uint64_t *ran, enum supv_rule *rule)
{
	struct supv_worker *r = c->run;
	uint64_t grace = supv__shutdown_ns(c), deadline;
	enum supv_exit_kind kind;
	bool cancelled = false, timed_out = false;

	supv__hb_unwatch(s, c);
	supv__child_set_state(c, CH_STOPPING);
	supv__ask_stop(c, why);
	/* The grace counts from the request (a pool asks all at once). */
	deadline = grace == NO_DEADLINE ? NO_DEADLINE :
	    (r->stop_asked ? r->stop_at : supv__now_ns()) + grace;
	while (!r->exited) {
		if (!cancelled && !timed_out && forced(s))
			deadline = 0;
		/* A process may extend its grace (EXTEND_TIMEOUT_USEC). */
		if (r->proc != NULL && !timed_out && r->proc->ext_deadline > deadline &&
		    deadline != 0 && deadline != NO_DEADLINE)
			deadline = r->proc->ext_deadline;
		/* Waiting on a subtree is live: its loops answer for it. */
		if (supv__wait_busy(s, deadline, r->sup != NULL ||
		    deadline != NO_DEADLINE) || r->exited)
			continue;
		/* The grace ran out. */
		supv__emit_stop_timeout(s, c);
		if (r->exited)
			break;
		if (r->proc != NULL) {
			/* A process never outlives its grace, nor its group. */
			r->proc->killed = true;
			supv__proc_signal(r->proc, SIGKILL);
			timed_out = true;
			deadline = NO_DEADLINE;
			continue;
		}
		if (r->sup != NULL) {
			/* Every worker below gets its own on_timeout at once. */
			r->sup->force = true;
			wake_subtree(r->sup);
			timed_out = true;
			deadline = NO_DEADLINE;
			continue;
		}
		if (c->on_timeout == SUPV_TIMEOUT_ABORT)
			abort();
		if (c->on_timeout == SUPV_TIMEOUT_CANCEL && !cancelled) {
			cancelled = true;
			pthread_cancel(r->thread);
			deadline = grace == NO_DEADLINE ? NO_DEADLINE :
			    supv__now_ns() + grace;
			continue;
		}
		*ran = supv__now_ns() - r->started_ns;
		kind = r->stop_kind;
		abandon(c, r);
		*rule = supv__child_ended(s, c, kind, 0);
		return kind;
	}
	*ran = r->ended_ns - r->started_ns;
	supv__reap(s, r);
	kind = supv__exit_kind(r);
	*rule = supv__child_ended(s, c, kind, supv__exit_code(r));
	return kind;
}

/* The ready deadline, as a process may have extended it. */
static uint64_t
ready_deadline(const struct supv_worker *r, uint64_t deadline)
{
	if (r->proc != NULL && deadline != NO_DEADLINE &&
	    r->proc->ext_deadline > deadline)
		return r->proc->ext_deadline;
	return deadline;
}

/*
 * Starts a worker run, a thread or a process; waits for supv_ready() (or
 * READY=1) when the child wants it.
 */
int
supv__child_start_worker(struct supv *s, struct child *c)
{
	struct supv_worker *r = c->run;
	enum supv_rule rule;
	uint64_t deadline, ran;
	int rc, exec_err;

	if (c->is_proc) {
		if ((rc = supv__proc_spawn(s, c, &exec_err)) != 0) {
			/* A program that cannot be executed: a start that failed. */
			(void)supv__child_ended(s, c, SUPV_EXIT_START_FAILED, exec_err);
			return rc;
		}
	} else if (supv__run_spawn_worker(c) != 0) {
		(void)supv__child_ended(s, c, SUPV_EXIT_START_FAILED, 0);
		return EAGAIN;
	}
	supv__child_set_state(c, CH_RUNNING);
	if (c->ready_ms != 0) {
		deadline = supv__deadline_after_ms(r->started_ns, c->ready_ms);
		while (!r->ready && !r->exited && !s->stop_req &&
		    supv__wait_busy(s, ready_deadline(r, deadline),
		    deadline != NO_DEADLINE))
			;
		if (!r->ready && !r->exited && s->stop_req) {
			/* supv_stop does not wait for a start to complete. */
			supv__child_stop(s, c, SUPV_EXIT_SHUTDOWN, &ran, &rule);
			return ECANCELED;
		}
		if (!r->ready && r->exited) {
			/* It returned before it was ready. */
			supv__reap(s, r);
			(void)supv__child_ended(s, c, SUPV_EXIT_START_FAILED,
			    supv__exit_code(r));
			return ECHILD;
		}
		if (!r->ready) {
			supv__child_stop(s, c, SUPV_EXIT_START_FAILED, &ran, &rule);
			return ECHILD;
		}
	}
	supv__hb_watch(s, c, supv__now_ns());
	supv__emit_start(s, c);
	return 0;
}
