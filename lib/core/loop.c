/*
 * loop.c - a supervisor's own thread: it starts the children, acts on
 * their exits (what an exit means is decided in restart.c), carries out
 * the calls posted to it, samples heartbeats, and stops the children when
 * it terminates.  Everything here runs with the tree's lock held, on the
 * supervisor's loop, but for supv__sup_run_begin() and supv__sup_launch()
 * (called by whoever starts the supervisor: supv_start(), or its parent's
 * loop); only the emit_*() calls, joins and the freeing of deleted specs
 * drop the lock.  Starting and stopping one worker is in child.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "process/process.h"

static void terminate(struct supv *s, enum supv_exit_kind why);
static void act_on_exit(struct supv *s, struct child *c,
    enum supv_exit_kind kind, int code, enum supv_rule rule, uint64_t ran_ns);
static void *sup_main(void *arg);

/*
 * A new run of s begins: the caller launches its loop next.  Called with
 * the tree's lock held, by the parent's loop or by supv_start().
 */
void
supv__sup_run_begin(struct supv *s, struct supv_worker *run)
{
	supv__sup_set_state(s, SUP_STARTING);
	s->run = run;
	s->stop_req = false;
	s->force = false;
}

/* Creates the loop thread of a run that supv__sup_run_begin() began. */
int
supv__sup_launch(struct supv *s, size_t stack)
{
	return supv__thread_spawn(&s->thread, stack, sup_main, s);
}

/* ---- The run: state kept by the loop thread ---- */

/*
 * Set on a loop's thread once terminate() has handed its run over: from
 * then on the supervisor may already run again on a new thread, so the old
 * one must not look at its state, only leave.
 */
static _Thread_local bool loop_done;

/* Whether this loop's run goes on.  Called on s's loop. */
static bool
running(const struct supv *s)
{
	return !loop_done && s->state == SUP_RUNNING;
}

/* Deletes a spec from the loop (a temporary child that ended, a delete). */
static void
delete_spec(struct supv *s, struct child *c)
{
	struct dom *d = supv__dom_of(s);

	supv__spec_delete(s, c);
	supv__dom_unlock(d);
	supv__spec_destroy(c);
	supv__dom_lock(d);
}


/* ---- Starting children: a worker in child.c, a child supervisor here ---- */

/* Starts a child supervisor's loop and waits until its children started. */
static int
start_sup(struct supv *s, struct child *c)
{
	struct supv *cs = c->sup;
	struct supv_worker *r = c->run;
	enum sup_state was = cs->state;
	enum supv_rule rule;
	uint64_t ran;
	int rc;

	supv__sup_run_begin(cs, r);
	r->started_ns = supv__now_ns();
	atomic_fetch_add(&r->refs, 1);
	if ((rc = supv__sup_launch(cs, c->stack_size)) != 0) {
		atomic_fetch_sub(&r->refs, 1);
		supv__sup_set_state(cs, was);
		cs->run = NULL;
		(void)supv__child_ended(s, c, SUPV_EXIT_START_FAILED, 0);
		return EAGAIN;
	}
	r->thread = cs->thread;
	supv__child_set_state(c, CH_RUNNING);
	while (!r->ready && !r->exited && !s->stop_req)
		supv__wait_busy(s, NO_DEADLINE, true);
	if (!r->ready && !r->exited) {
		/* Stopped while it starts: within its grace, as any stop. */
		supv__child_stop(s, c, SUPV_EXIT_SHUTDOWN, &ran, &rule);
		return ECANCELED;
	}
	if (!r->ready) {
		/* Its own start failed: say why (no memory, no thread). */
		rc = cs->start_rc == ENOMEM || cs->start_rc == EAGAIN ?
		    cs->start_rc : ECHILD;
		supv__reap(s, r);
		(void)supv__child_ended(s, c, SUPV_EXIT_START_FAILED, 0);
		return rc;
	}
	supv__emit_start(s, c);
	return 0;
}

/*
 * Starts one child.  On failure the child is idle again, its EXIT (kind
 * START_FAILED) has been emitted, and the error is returned: ENOMEM or
 * EAGAIN when no memory or thread could be had, ECHILD when the child
 * itself failed to start.
 */
static int
start_child(struct supv *s, struct child *c)
{
	if (supv__run_prepare(c) != 0) {
		(void)supv__child_ended(s, c, SUPV_EXIT_START_FAILED, 0);
		return ENOMEM;
	}
	return c->sup != NULL ? start_sup(s, c) : supv__child_start_worker(s, c);
}

/* ---- Exits and restart decisions ---- */

/* Pending restarts by time, then start order (a group keeps its order). */
static int
child_cmp_pend(struct child *a, struct child *b)
{
	if (a->restart_at != b->restart_at)
		return a->restart_at < b->restart_at ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

RB_GENERATE_FILE(child_pend, child, pendnode, child_cmp_pend)

static void
set_pending(struct supv *s, struct child *c, uint64_t at)
{
	if (c->state == CH_PENDING)
		RB_REMOVE(child_pend, &s->pend, c);
	supv__child_set_state(c, CH_PENDING);
	c->restart_at = at;
	RB_INSERT(child_pend, &s->pend, c);
}

static void
clear_pending(struct supv *s, struct child *c)
{
	RB_REMOVE(child_pend, &s->pend, c);
	supv__child_set_state(c, CH_IDLE);
}

/*
 * Restarts, in start order, the pending children whose time has come.
 * A failed start is an exit of kind START_FAILED and decided as one.
 */
static void
run_pending(struct supv *s)
{
	struct child *c;
	int rc;
	uint64_t now = supv__now_ns();

	while ((c = RB_MIN(child_pend, &s->pend)) != NULL &&
	    c->restart_at <= now) {
		if (!running(s) || s->stop_req)
			return;
		clear_pending(s, c);
		supv__note_restart(s, c);
		supv__emit_restart(s, c);
		if ((rc = start_child(s, c)) == ECANCELED)
			return;		/* the supervisor is stopping */
		if (rc != 0) {
			/*
			 * Decided as an exit (of a start: no code, so the
			 * restart type's rule); the loop comes back for the rest.
			 */
			act_on_exit(s, c, SUPV_EXIT_START_FAILED, 0,
			    SUPV_RULE_RESTART_TYPE, 0);
			return;
		}
	}
}

static uint64_t
pending_next(struct supv *s)
{
	struct child *c = RB_MIN(child_pend, &s->pend);

	return c != NULL ? c->restart_at : NO_DEADLINE;
}

/* A temporary child that has ended goes (its spec is deleted). */
static void
drop_if_temporary(struct supv *s, struct child *c)
{
	if (c->restart == SUPV_TEMPORARY && c->state == CH_IDLE)
		delete_spec(s, c);
}

/*
 * Restarts c's group, as the verdict says: the rest of the group stopped
 * in reverse start order (temporary siblings dropped, as OTP does), then
 * every one of it pending, in start order, until the delay is over.
 */
static void
restart_group(struct supv *s, struct child *c, const struct supv__verdict *v)
{
	uint64_t at = v->now + (uint64_t)v->delay_ms * NS_PER_MS;
	struct child *first, *last, *x, *prev;
	enum supv_rule rule;
	uint64_t ran;

	if (v->delay_ms != 0)
		supv__emit_backoff(s, c, v->delay_ms);
	for (x = v->last; x != NULL; x = prev) {
		prev = x == v->first ? NULL : TAILQ_PREV(x, child_list, order);
		if (x == c)
			continue;
		if (x->state == CH_RUNNING)
			supv__child_stop(s, x, SUPV_EXIT_SHUTDOWN, &ran, &rule);
		drop_if_temporary(s, x);
	}
	supv__restart_group(s, c, &first, &last);	/* temporaries have gone */
	for (x = first; x != NULL; x = TAILQ_NEXT(x, order)) {
		if (x->state == CH_IDLE || x->state == CH_PENDING)
			set_pending(s, x, at);
		if (x == last)
			break;
	}
	/* The loop restarts them: at once when there is no delay. */
}

/*
 * Acts on what c's exit means (OTP's restart/3): decided and counted once
 * (restart.c), carried out here in one switch.
 */
static void
act_on_exit(struct supv *s, struct child *c, enum supv_exit_kind kind,
    int code, enum supv_rule rule, uint64_t ran_ns)
{
	struct supv__verdict v;

	supv__decide(s, c, kind, code, rule, ran_ns, supv__now_ns(), &v);
	supv__verdict_commit(s, c, &v);
	switch (v.act) {
	case SUPV__ACT_GIVE_UP:
		supv__emit_give_up(s, v.rule);
		terminate(s, SUPV_EXIT_GAVE_UP);
		return;
	case SUPV__ACT_RESTART:
		restart_group(s, c, &v);
		return;
	case SUPV__ACT_DELETE:
		delete_spec(s, c);
		break;
	case SUPV__ACT_NONE:
		break;
	}
	if (v.shutdown)
		terminate(s, SUPV_EXIT_NORMAL);
}

static void
handle_exit(struct supv *s, struct supv_worker *r)
{
	struct child *c = r->child;
	enum supv_exit_kind kind;
	enum supv_rule rule;
	pthread_t t = r->thread;
	bool is_proc = r->proc != NULL;
	uint64_t ran;
	int code;

	/*
	 * The thread has queued itself and let go of the run; it is about to
	 * return.  Its replacement is started first and the join comes last,
	 * so a restart costs the loop one wake-up.
	 */
	struct dom *d = supv__dom_of(s);

	TAILQ_REMOVE(&s->exitq, r, exitq);
	ran = r->ended_ns - r->started_ns;
	kind = supv__exit_kind(r);
	code = supv__exit_code(r);
	rule = supv__child_ended(s, c, kind, code);
	act_on_exit(s, c, kind, code, rule, ran);
	if (running(s) && !RB_EMPTY(&s->pend))
		run_pending(s);
	if (is_proc)
		return;		/* its watcher reaps it */
	/* s may be gone once its run is over (a temporary child): d stays. */
	supv__dom_unlock(d);
	pthread_join(t, NULL);
	supv__dom_lock(d);
}

/*
 * Stops c, found hung, within its grace, and acts on how it ended (HUNG,
 * or how it ended on its own meanwhile).  Its code is 0 when it was
 * abandoned: its kind then says how it was given up.
 */
static void
stop_hung(struct supv *s, struct child *c)
{
	enum supv_exit_kind kind;
	enum supv_rule rule;
	uint64_t ran;

	kind = supv__child_stop(s, c, SUPV_EXIT_HUNG, &ran, &rule);
	act_on_exit(s, c, kind, c->run != NULL ? supv__exit_code(c->run) : 0,
	    rule, ran);
}

/* ---- Calls posted to the loop ---- */

static void
reply(struct request *q, int rc)
{
	q->rc = rc;
	q->done = true;
	pthread_cond_signal(&q->cv);
}

static void
fail_requests(struct supv *s)
{
	struct request *q;

	while ((q = TAILQ_FIRST(&s->reqq)) != NULL) {
		TAILQ_REMOVE(&s->reqq, q, link);
		q->taken = true;
		reply(q, ECANCELED);
	}
}

static int
do_add(struct supv *s, struct child *c)
{
	int rc;

	if (supv__find_child(s, c->id) != NULL)
		return EEXIST;
	if ((rc = supv__sup_spec_link(s, c)) != 0)
		return rc;
	if ((rc = start_child(s, c)) != 0)
		supv__sup_spec_unlink(s, c);
	return rc;
}

static int
do_terminate(struct supv *s, struct child *c)
{
	enum supv_rule rule;
	uint64_t ran;

	if (c->state == CH_PENDING)
		clear_pending(s, c);
	if (c->state == CH_RUNNING)
		supv__child_stop(s, c, SUPV_EXIT_SHUTDOWN, &ran, &rule);
	drop_if_temporary(s, c);
	return 0;
}

static void
handle_request(struct supv *s, struct request *q)
{
	struct child *c = NULL;
	int rc = 0;

	if (q->op != REQ_ADD && (c = supv__find_child(s, q->id)) == NULL) {
		reply(q, ENOENT);
		return;
	}
	switch (q->op) {
	case REQ_ADD:
		rc = do_add(s, q->spec);
		break;
	case REQ_TERMINATE:
		rc = do_terminate(s, c);
		break;
	case REQ_RESTART:
		if (c->state != CH_IDLE)
			rc = EBUSY;
		else
			rc = start_child(s, c);
		break;
	case REQ_DELETE:
		if (c->state != CH_IDLE)
			rc = EBUSY;
		else
			delete_spec(s, c);
		break;
	}
	reply(q, rc);
}

/* ---- Terminating ---- */

/*
 * Stops every child in reverse start order and ends the run: the parent
 * sees the run end with why, a root's waiters are woken.  A start that
 * does not complete (it failed, or a stop came first) deletes no spec:
 * the caller of a failed supv_add_sup() gets its child back as it built
 * it.
 */
static void
terminate(struct supv *s, enum supv_exit_kind why)
{
	struct child *c, *prev;
	struct supv_worker *r;
	bool keep_specs = s->state == SUP_STARTING;
	enum supv_rule rule;
	uint64_t ran;

	supv__sup_set_state(s, SUP_STOPPING);
	if (s->parent == NULL)
		supv__notify_stopping(s, why);
	fail_requests(s);
	if (s->parallel_stop)
		TAILQ_FOREACH(c, &s->children, order)
			if (c->state == CH_RUNNING)
				supv__ask_stop(c, SUPV_EXIT_SHUTDOWN);
	for (c = TAILQ_LAST(&s->children, child_list); c != NULL; c = prev) {
		prev = TAILQ_PREV(c, child_list, order);
		if (c->state == CH_PENDING)
			clear_pending(s, c);
		if (c->state == CH_RUNNING) {
			supv__child_stop(s, c, SUPV_EXIT_SHUTDOWN, &ran, &rule);
			if (!keep_specs)
				drop_if_temporary(s, c);
		}
	}
	/* A worker restarting itself may be emitting: let it finish. */
	while (s->inplace_busy > 0)
		pthread_cond_wait(&s->emit_cv, supv__mu_of(s));
	supv__emit_sup_exit(s, why);
	fail_requests(s);
	s->end_kind = why;
	supv__sup_set_state(s, SUP_TERMINATED);
	loop_done = true;
	if ((r = s->run) != NULL) {
		r->sup_kind = why;
		r->exited = true;
		r->ended_ns = supv__now_ns();
		TAILQ_INSERT_TAIL(&s->parent->exitq, r, exitq);
		atomic_fetch_sub(&r->refs, 1);	/* this thread's: see run_finish */
		supv__sup_wake(s->parent);
	} else {
		s->end_seq = s->run_seq;
		supv__flagfd_set(s->wait_fd);
		if (!s->start_done) {
			s->start_done = true;
			s->start_rc = why == SUPV_EXIT_START_FAILED ? ECHILD :
			    ECANCELED;
		}
		pthread_cond_broadcast(&s->done_cv);
	}
}

/* ---- Serving, and the thread itself ---- */

/* A running child found hung while the loop was busy, if any. */
static struct child *
next_hung(struct supv *s)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->hungq, hunglink)
		if (c->state == CH_RUNNING)
			return c;
	return NULL;
}

static void
serve(struct supv *s)
{
	struct supv_worker *r;
	struct request *q;
	struct child *c;
	uint64_t now, next;
	bool spinning, req_turn = false;

	while (running(s)) {
		supv__loop_alive(s);
		if (s->stop_req) {
			terminate(s, SUPV_EXIT_SHUTDOWN);
		} else if ((c = next_hung(s)) != NULL) {
			stop_hung(s, c);	/* found while the loop was busy */
		} else if ((q = TAILQ_FIRST(&s->reqq)) != NULL &&
		    (req_turn || TAILQ_EMPTY(&s->exitq))) {
			/* Calls are served between exits, never starved. */
			req_turn = false;
			TAILQ_REMOVE(&s->reqq, q, link);
			q->taken = true;
			handle_request(s, q);
		} else if ((r = TAILQ_FIRST(&s->exitq)) != NULL) {
			req_turn = true;
			handle_exit(s, r);
		} else {
			now = supv__now_ns();
			if ((c = supv__hb_check_due(s, &spinning)) != NULL) {
				if (supv__mark_hung(s, c, spinning) &&
				    c->state == CH_RUNNING)
					stop_hung(s, c);
				continue;
			}
			next = pending_next(s);
			if (next <= now) {
				run_pending(s);
				continue;
			}
			if (supv__hb_next(s) < next)
				next = supv__hb_next(s);
			supv__sup_sleep_until(s, next);
		}
	}
}

/* The thread of a running supervisor. */
static void *
sup_main(void *arg)
{
	struct supv *s = arg;
	struct supv_worker *run;
	struct child *c;
	int rc = 0;

	struct dom *d = supv__dom_of(s);	/* constant while it runs */

	supv__tls_sup = s;
	supv__tls_masked = true;	/* started with every signal blocked */
	loop_done = false;
	supv__thread_name(s->name);
	supv__dom_lock(d);
	supv__loop_alive(s);
	run = s->run;
	supv__window_reset(&s->win);
	TAILQ_FOREACH(c, &s->children, order) {
		if (s->stop_req) {
			rc = ECANCELED;
			break;
		}
		if ((rc = start_child(s, c)) != 0)
			break;
	}
	if (rc == 0) {
		supv__sup_set_state(s, SUP_RUNNING);
		if (run != NULL) {
			run->ready = true;
			supv__sup_wake(s->parent);
		} else {
			/* READY=1 here, before anything can send STOPPING=1. */
			supv__notify_started(s);
			s->start_done = true;
			s->start_rc = 0;
			pthread_cond_broadcast(&s->done_cv);
		}
		serve(s);
	} else {
		if (run != NULL)
			s->start_rc = rc;
		terminate(s, rc == ECANCELED ? SUPV_EXIT_SHUTDOWN :
		    SUPV_EXIT_START_FAILED);
	}
	supv__dom_unlock(d);	/* s may be gone: see handle_exit */
	return NULL;
}
