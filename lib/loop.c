/*
 * loop.c - a supervisor's own thread: it starts the children, handles
 * their exits (restart decisions, strategies, intensity, backoff), carries
 * out the calls posted to it, samples heartbeats, and stops the children
 * when it terminates.  Everything here runs with supv_mu held, on the
 * supervisor's loop, unless a comment says otherwise; only emit() and the
 * freeing of deleted specs drop the lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "supervise_internal.h"

static int
child_cmp_id(struct child *a, struct child *b)
{
	return strcmp(a->id, b->id);
}

RB_GENERATE(child_ids, child, byid, child_cmp_id)

static void terminate(struct supv *s, enum supv_exit_kind why);

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

	pthread_cond_signal(&s->cv);
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			wake_subtree(c->sup);
}

/* Takes an ended run off the exit queue and joins its thread. */
static void
reap(struct supv *s, struct supv_worker *r)
{
	pthread_t t = r->thread;

	TAILQ_REMOVE(&s->exitq, r, exitq);
	unlock();
	pthread_join(t, NULL);
	lock();
}

static enum supv_exit_kind
exit_kind(const struct supv_worker *r)
{
	if (r->stop_asked)
		return r->stop_reason;
	if (r->sup != NULL)
		return r->sup_why;
	if (r->cancelled)
		return SUPV_EXIT_CANCELLED;
	return r->code == 0 ? SUPV_EXIT_NORMAL : SUPV_EXIT_FAILURE;
}

static int
exit_code(const struct supv_worker *r)
{
	return r->sup != NULL || r->cancelled ? 0 : r->code;
}

void
sup_spec_link(struct supv *s, struct child *c)
{
	c->owner = s;
	TAILQ_INSERT_TAIL(&s->children, c, order);
	RB_INSERT(child_ids, &s->byid, c);
	s->nchildren++;
}

void
sup_spec_unlink(struct supv *s, struct child *c)
{
	if (c->monitored)
		hb_unwatch(s, c);
	TAILQ_REMOVE(&s->children, c, order);
	RB_REMOVE(child_ids, &s->byid, c);
	s->nchildren--;
}

/*
 * Frees a spec that no list holds any more, with the subtree of a child
 * supervisor.  Called without supv_mu: it may run arg_free.
 */
void
spec_destroy(struct child *c)
{
	if (c->sup != NULL)
		sup_destroy(c->sup);
	run_unref(c->run);
	argbox_unref(c->arg);
	free(c);
}

/* Frees a supervisor that no thread uses any more.  Called without supv_mu. */
void
sup_destroy(struct supv *s)
{
	struct child *c;

	while ((c = TAILQ_FIRST(&s->children)) != NULL) {
		TAILQ_REMOVE(&s->children, c, order);
		spec_destroy(c);
	}
	if (s->pool_tmpl != NULL)
		spec_destroy(s->pool_tmpl);
	window_free(&s->win);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->done_cv);
	free(s);
}

/* Deletes a spec from the loop (a temporary child that ended, a delete). */
static void
delete_spec(struct supv *s, struct child *c)
{
	sup_spec_unlink(s, c);
	unlock();
	spec_destroy(c);
	lock();
}

/* Gives up on a run that outlived its grace: it runs on, detached. */
static void
abandon(struct child *c, struct supv_worker *r)
{
	pthread_detach(r->thread);
	r->child = NULL;	/* its end will queue nothing */
	c->run = NULL;
	/* The thread still holds a reference, so this cannot be the last. */
	run_unref(r);
}

/* A hung child's stop is over: the tree may be healthy again. */
static void
hung_done(struct supv *s, struct child *c)
{
	if (!c->hung_asked)
		return;
	c->hung_asked = false;
	s->nhung_asked--;
	root_of(s)->hung_now--;
}

static void ask_stop(struct child *c, enum supv_exit_kind why);

/*
 * c was found hung: report it and ask it to stop.  While it is being
 * stopped the tree is unhealthy (no watchdog pings).
 */
static void
mark_hung(struct supv *s, struct child *c, bool spinning)
{
	c->hung_asked = true;
	s->nhung_asked++;
	root_of(s)->hung_now++;
	ask_stop(c, SUPV_EXIT_HUNG);
	emit_hung(s, c, spinning);
}

/*
 * Answers the root's liveness probe (sup_probe_loops): this loop is not
 * stuck in user code or in a wait without end.
 */
static void
loop_alive(struct supv *s)
{
	s->probe_ack = root_of(s)->probe_seq;
}

/*
 * Whether every loop of s's tree answered probe seq; wakes them to answer
 * the next one.
 */
static bool
probe_subtree(struct supv *s, unsigned long seq)
{
	struct child *c;
	bool alive = true;

	if (s->state == SUP_STARTING || s->state == SUP_RUNNING ||
	    s->state == SUP_STOPPING) {
		alive = s->probe_ack == seq;
		pthread_cond_signal(&s->cv);
	}
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL && !probe_subtree(c->sup, seq))
			alive = false;
	return alive;
}

/*
 * Whether every loop of root's tree answered the last probe since it was
 * sent; then sends the next one.  A loop that waits without end for one
 * worker (an infinite grace or ready_ms), or sits in a slow on_event, does
 * not answer.  Called with supv_mu held, off the loops (the watchdog).
 */
bool
sup_probe_loops(struct supv *root)
{
	bool alive = probe_subtree(root, root->probe_seq);

	root->probe_seq++;	/* answered once the loops get the lock */
	return alive;
}

/*
 * Waits on the loop's condition variable until deadline, while the loop
 * is busy with one child (its grace, its start): the heartbeats of the
 * others are still sampled, and a hung one is reported and asked to stop
 * at once; serve() finishes its stop.  A wait that is live answers the
 * liveness probe; one without end for one child's stop does not.  False
 * once deadline has passed.
 */
static bool
wait_busy(struct supv *s, uint64_t deadline, bool live)
{
	struct child *c;
	uint64_t next = hb_next(s);
	bool spinning;

	if (live)
		loop_alive(s);
	cond_wait_until(&s->cv, next < deadline ? next : deadline);
	while ((c = hb_check_due(s, &spinning)) != NULL)
		mark_hung(s, c, spinning);
	return deadline == NO_DEADLINE || now_ns() < deadline;
}

/*
 * Asks c's run to stop, unless it has ended or was asked already.  A run
 * asked to stop is no longer monitored, from this moment on (a pool asks
 * all its workers at once, then waits for each in turn).
 */
static void
ask_stop(struct child *c, enum supv_exit_kind why)
{
	struct supv_worker *r = c->run;

	hb_unwatch(c->owner, c);
	if (r->exited || r->stop_asked)
		return;
	if (r->sup != NULL) {
		r->stop_asked = true;
		r->stop_reason = why;
		r->stop_at = now_ns();
		r->sup->stop_req = true;
		pthread_cond_signal(&r->sup->cv);
	} else {
		run_signal_stop(r, why);
	}
}

/*
 * Asks c's running run to stop, waits for it within its grace, and
 * applies on_timeout when the grace runs out.  Emits the EXIT and leaves c
 * idle; makes no restart decision.  Returns how the run ended (the kind of
 * a run that had already ended on its own is kept) and, in *ran, how long
 * it ran.
 */
enum supv_exit_kind
loop_stop_child(struct supv *s, struct child *c, enum supv_exit_kind why,
    uint64_t *ran)
{
	struct supv_worker *r = c->run;
	uint64_t grace = c->shutdown_ns, deadline;
	enum supv_exit_kind kind;
	bool cancelled = false, timed_out = false;

	hb_unwatch(s, c);
	child_set_state(c, CH_STOPPING);
	ask_stop(c, why);
	/* The grace counts from the request (a pool asks all at once). */
	deadline = grace == NO_DEADLINE ? NO_DEADLINE :
	    (r->stop_asked ? r->stop_at : now_ns()) + grace;
	while (!r->exited) {
		if (!cancelled && !timed_out && forced(s))
			deadline = 0;
		/* Waiting on a subtree is live: its loops answer for it. */
		if (wait_busy(s, deadline, r->sup != NULL ||
		    deadline != NO_DEADLINE) || r->exited)
			continue;
		/* The grace ran out. */
		emit(s, SUPV_EV_STOP_TIMEOUT, c, 0, 0, 0);
		if (r->exited)
			break;
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
			    now_ns() + grace;
			continue;
		}
		*ran = now_ns() - r->started_ns;
		kind = r->stop_reason;
		abandon(c, r);
		hung_done(s, c);
		child_set_state(c, CH_IDLE);
		emit(s, SUPV_EV_EXIT, c, kind, 0, 0);
		return kind;
	}
	*ran = r->ended_ns - r->started_ns;
	reap(s, r);
	kind = exit_kind(r);
	hung_done(s, c);
	child_set_state(c, CH_IDLE);
	emit(s, SUPV_EV_EXIT, c, kind, exit_code(r), 0);
	return kind;
}

/* Starts a worker run; waits for supv_ready() when the child wants it. */
static int
start_worker(struct supv *s, struct child *c)
{
	struct supv_worker *r = c->run;
	uint64_t deadline, ran;

	if (run_spawn_worker(c) != 0) {
		emit(s, SUPV_EV_EXIT, c, SUPV_EXIT_START_FAILED, 0, 0);
		return EAGAIN;
	}
	child_set_state(c, CH_RUNNING);
	if (c->ready_ms != 0) {
		deadline = deadline_after_ms(r->started_ns, c->ready_ms);
		while (!r->ready && !r->exited && !s->stop_req &&
		    wait_busy(s, deadline, deadline != NO_DEADLINE))
			;
		if (!r->ready && !r->exited && s->stop_req) {
			/* supv_stop does not wait for a start to complete. */
			loop_stop_child(s, c, SUPV_EXIT_SHUTDOWN, &ran);
			return ECANCELED;
		}
		if (!r->ready && r->exited) {
			/* It returned before it was ready. */
			reap(s, r);
			child_set_state(c, CH_IDLE);
			emit(s, SUPV_EV_EXIT, c, SUPV_EXIT_START_FAILED, exit_code(r), 0);
			return ECHILD;
		}
		if (!r->ready) {
			loop_stop_child(s, c, SUPV_EXIT_START_FAILED, &ran);
			return ECHILD;
		}
	}
	hb_watch(s, c, now_ns());
	emit(s, SUPV_EV_START, c, 0, 0, 0);
	return 0;
}

/* Starts a child supervisor's loop and waits until its children started. */
static int
start_sup(struct supv *s, struct child *c)
{
	struct supv *cs = c->sup;
	struct supv_worker *r = c->run;
	enum sup_state was = cs->state;
	uint64_t ran;
	int rc;

	cs->run = r;
	cs->state = SUP_STARTING;
	cs->stop_req = false;
	cs->force = false;
	r->started_ns = now_ns();
	atomic_fetch_add(&r->refs, 1);
	if ((rc = thread_spawn(&cs->thread, c->stack_size, sup_main, cs)) != 0) {
		atomic_fetch_sub(&r->refs, 1);
		cs->state = was;
		cs->run = NULL;
		emit(s, SUPV_EV_EXIT, c, SUPV_EXIT_START_FAILED, 0, 0);
		return EAGAIN;
	}
	r->thread = cs->thread;
	child_set_state(c, CH_RUNNING);
	while (!r->ready && !r->exited && !s->stop_req)
		wait_busy(s, NO_DEADLINE, true);
	if (!r->ready && !r->exited) {
		/* Stopped while it starts: within its grace, as any stop. */
		loop_stop_child(s, c, SUPV_EXIT_SHUTDOWN, &ran);
		return ECANCELED;
	}
	if (!r->ready) {
		/* Its own start failed: say why (no memory, no thread). */
		rc = cs->start_rc == ENOMEM || cs->start_rc == EAGAIN ?
		    cs->start_rc : ECHILD;
		reap(s, r);
		child_set_state(c, CH_IDLE);
		emit(s, SUPV_EV_EXIT, c, SUPV_EXIT_START_FAILED, 0, 0);
		return rc;
	}
	emit(s, SUPV_EV_START, c, 0, 0, 0);
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
	if (run_prepare(c) != 0) {
		emit(s, SUPV_EV_EXIT, c, SUPV_EXIT_START_FAILED, 0, 0);
		return ENOMEM;
	}
	return c->sup != NULL ? start_sup(s, c) : start_worker(s, c);
}

static bool
auto_shutdown_due(struct supv *s)
{
	struct child *c;

	if (s->auto_shutdown == SUPV_AUTO_ANY)
		return true;
	TAILQ_FOREACH(c, &s->children, order)
		if (c->significant && c->state != CH_IDLE)
			return false;
	return true;
}

static void
set_pending(struct supv *s, struct child *c, uint64_t at)
{
	if (c->state != CH_PENDING)
		s->npending++;
	child_set_state(c, CH_PENDING);
	c->restart_at = at;
}

static void
clear_pending(struct supv *s, struct child *c)
{
	s->npending--;
	child_set_state(c, CH_IDLE);
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
	uint64_t now = now_ns();

	TAILQ_FOREACH(c, &s->children, order) {
		if (!running(s) || s->stop_req)
			return;
		if (c->state != CH_PENDING || c->restart_at > now)
			continue;
		clear_pending(s, c);
		c->restarts++;
		emit(s, SUPV_EV_RESTART, c, 0, 0, 0);
		if ((rc = start_child(s, c)) == ECANCELED)
			return;		/* the supervisor is stopping */
		if (rc != 0) {
			/* Decided as an exit; the loop comes back for the rest. */
			loop_decide(s, c, SUPV_EXIT_START_FAILED, 0);
			return;
		}
	}
}

static uint64_t
pending_next(struct supv *s)
{
	struct child *c;
	uint64_t next = NO_DEADLINE;

	if (s->npending == 0)
		return NO_DEADLINE;
	TAILQ_FOREACH(c, &s->children, order)
		if (c->state == CH_PENDING && c->restart_at < next)
			next = c->restart_at;
	return next;
}

/*
 * Decides what c's exit (of the given kind, after running ran_ns) means:
 * nothing, a restart of c or of its group, an auto-shutdown, or giving up.
 */
void
loop_decide(struct supv *s, struct child *c, enum supv_exit_kind kind,
    uint64_t ran_ns)
{
	struct child *first, *last, *x, *prev;
	uint64_t now, at;
	unsigned delay;
	bool restart, significant;

	restart = c->restart == SUPV_PERMANENT ||
	    (c->restart == SUPV_TRANSIENT && kind != SUPV_EXIT_NORMAL &&
	    kind != SUPV_EXIT_SHUTDOWN);
	if (!restart) {
		significant = c->significant;
		if (c->restart == SUPV_TEMPORARY)
			delete_spec(s, c);
		if (significant && auto_shutdown_due(s))
			terminate(s, SUPV_EXIT_NORMAL);
		return;
	}
	now = now_ns();
	if (window_add(&s->win, now / NS_PER_MS)) {
		emit(s, SUPV_EV_GIVE_UP, NULL, 0, 0, 0);
		terminate(s, SUPV_EXIT_GAVE_UP);
		return;
	}
	delay = backoff_delay(c, ran_ns);
	at = now + (uint64_t)delay * NS_PER_MS;
	if (delay != 0)
		emit(s, SUPV_EV_BACKOFF, c, 0, 0, delay);

	first = last = c;
	if (s->strategy == SUPV_ONE_FOR_ALL)
		first = TAILQ_FIRST(&s->children);
	if (s->strategy != SUPV_ONE_FOR_ONE)
		last = TAILQ_LAST(&s->children, child_list);
	/* Stop the rest of the group in reverse start order ... */
	for (x = last; x != NULL; x = prev) {
		prev = x == first ? NULL : TAILQ_PREV(x, child_list, order);
		if (x == c)
			continue;
		if (x->state == CH_RUNNING) {
			uint64_t ran;

			loop_stop_child(s, x, SUPV_EXIT_SHUTDOWN, &ran);
		}
		/* ... dropping temporary siblings, as OTP does. */
		if (x->restart == SUPV_TEMPORARY && x->state == CH_IDLE)
			delete_spec(s, x);
	}
	/* ... then restart it in start order, once the delay is over. */
	if (s->strategy == SUPV_ONE_FOR_ALL)
		first = TAILQ_FIRST(&s->children);
	if (s->strategy != SUPV_ONE_FOR_ONE)
		last = TAILQ_LAST(&s->children, child_list);
	for (x = first; x != NULL; x = TAILQ_NEXT(x, order)) {
		if (x->state == CH_IDLE || x->state == CH_PENDING)
			set_pending(s, x, at);
		if (x == last)
			break;
	}
	/* The loop restarts them: at once when there is no delay. */
}

static void
handle_exit(struct supv *s, struct supv_worker *r)
{
	struct child *c = r->child;
	enum supv_exit_kind kind;
	pthread_t t = r->thread;
	uint64_t ran;

	/*
	 * The thread has queued itself and let go of the run; it is about to
	 * return.  Its replacement is started first and the join comes last,
	 * so a restart costs the loop one wake-up.
	 */
	TAILQ_REMOVE(&s->exitq, r, exitq);
	ran = r->ended_ns - r->started_ns;
	hb_unwatch(s, c);
	kind = exit_kind(r);
	hung_done(s, c);
	child_set_state(c, CH_IDLE);
	emit(s, SUPV_EV_EXIT, c, kind, exit_code(r), 0);
	loop_decide(s, c, kind, ran);
	if (running(s) && s->npending > 0)
		run_pending(s);
	unlock();
	pthread_join(t, NULL);
	lock();
}

static void
handle_hung(struct supv *s, struct child *c, bool spinning)
{
	enum supv_exit_kind kind;
	uint64_t ran;

	mark_hung(s, c, spinning);
	if (c->state == CH_RUNNING) {
		kind = loop_stop_child(s, c, SUPV_EXIT_HUNG, &ran);
		loop_decide(s, c, kind, ran);
	}
}

static struct child *
find(struct supv *s, const char *id)
{
	struct child key;

	memcpy(key.id, id, strlen(id) + 1);
	return RB_FIND(child_ids, &s->byid, &key);
}

static void
reply(struct request *q, int rc)
{
	q->rc = rc;
	q->done = true;
	pthread_cond_broadcast(&supv_reply_cv);
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

	if (RB_FIND(child_ids, &s->byid, c) != NULL)
		return EEXIST;
	sup_spec_link(s, c);
	if ((rc = start_child(s, c)) != 0)
		sup_spec_unlink(s, c);
	return rc;
}

static int
do_terminate(struct supv *s, struct child *c)
{
	uint64_t ran;

	if (c->state == CH_PENDING)
		clear_pending(s, c);
	if (c->state == CH_RUNNING)
		loop_stop_child(s, c, SUPV_EXIT_SHUTDOWN, &ran);
	if (c->restart == SUPV_TEMPORARY)
		delete_spec(s, c);
	return 0;
}

static void
handle_request(struct supv *s, struct request *q)
{
	struct child *c = NULL;
	int rc = 0;

	if (q->op != REQ_ADD && (c = find(s, q->id)) == NULL) {
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
	uint64_t ran;

	s->state = SUP_STOPPING;
	if (s->parent == NULL)
		notify_stopping(s, why);
	fail_requests(s);
	if (s->parallel_stop)
		TAILQ_FOREACH(c, &s->children, order)
			if (c->state == CH_RUNNING)
				ask_stop(c, SUPV_EXIT_SHUTDOWN);
	for (c = TAILQ_LAST(&s->children, child_list); c != NULL; c = prev) {
		prev = TAILQ_PREV(c, child_list, order);
		if (c->state == CH_PENDING)
			clear_pending(s, c);
		if (c->state == CH_RUNNING) {
			loop_stop_child(s, c, SUPV_EXIT_SHUTDOWN, &ran);
			if (c->restart == SUPV_TEMPORARY && !keep_specs)
				delete_spec(s, c);
		}
	}
	/* A worker restarting itself may be emitting: let it finish. */
	while (s->inplace_busy > 0)
		pthread_cond_wait(&supv_reply_cv, &supv_mu);
	emit(s, SUPV_EV_SUP_EXIT, NULL, why, 0, 0);
	fail_requests(s);
	s->why = why;
	s->state = SUP_TERMINATED;
	loop_done = true;
	if ((r = s->run) != NULL) {
		r->sup_why = why;
		r->exited = true;
		r->ended_ns = now_ns();
		TAILQ_INSERT_TAIL(&s->parent->exitq, r, exitq);
		atomic_fetch_sub(&r->refs, 1);	/* this thread's: see run_finish */
		pthread_cond_signal(&s->parent->cv);
	} else {
		s->end_seq = s->run_seq;
		if (!s->start_done) {
			s->start_done = true;
			s->start_rc = why == SUPV_EXIT_START_FAILED ? ECHILD :
			    ECANCELED;
		}
		pthread_cond_broadcast(&s->done_cv);
	}
}

/* A running child found hung while the loop was busy, if any. */
static struct child *
hung_asked(struct supv *s)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, order)
		if (c->hung_asked && c->state == CH_RUNNING)
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
		loop_alive(s);
		if (s->stop_req) {
			terminate(s, SUPV_EXIT_SHUTDOWN);
		} else if (s->nhung_asked > 0 && (c = hung_asked(s)) != NULL) {
			uint64_t ran;
			enum supv_exit_kind kind;

			kind = loop_stop_child(s, c, SUPV_EXIT_HUNG, &ran);
			loop_decide(s, c, kind, ran);
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
			now = now_ns();
			if ((c = hb_check_due(s, &spinning)) != NULL) {
				handle_hung(s, c, spinning);
				continue;
			}
			next = pending_next(s);
			if (next <= now) {
				run_pending(s);
				continue;
			}
			if (hb_next(s) < next)
				next = hb_next(s);
			cond_wait_until(&s->cv, next);
		}
	}
}

/*
 * The same-thread fast path, on a worker's own thread after its body
 * returned code.  When that exit would simply restart this child one for
 * one (no stop asked, no backoff, no synchronous start, the intensity not
 * exceeded) the restart is decided and counted here, the run is reset,
 * EXIT, RESTART and START are emitted, and true tells the thread to run
 * the body again.  Anything else goes to the loop as usual.  Called
 * without supv_mu.
 */
bool
run_restart_in_place(struct supv_worker *r, int code)
{
	enum supv_exit_kind kind = code == 0 ? SUPV_EXIT_NORMAL : SUPV_EXIT_FAILURE;
	struct supv *s, *saved;
	struct child *c;
	uint64_t now;
	bool ok = false;

	lock();
	if ((c = r->child) == NULL || r->stop_asked)
		goto out;
	s = c->owner;
	if ((s->state != SUP_RUNNING && s->state != SUP_STARTING) || s->stop_req ||
	    s->strategy != SUPV_ONE_FOR_ONE || c->backoff_ms != 0 ||
	    c->ready_ms != 0 || c->state != CH_RUNNING ||
	    !(c->restart == SUPV_PERMANENT ||
	    (c->restart == SUPV_TRANSIENT && kind == SUPV_EXIT_FAILURE)))
		goto out;
	now = now_ns();
	if (window_full(&s->win, now / NS_PER_MS))
		goto out;	/* the loop gives up */
	/* Committed: the restart is counted before anything is emitted. */
	window_add(&s->win, now / NS_PER_MS);
	c->restarts++;
	hb_unwatch(s, c);
	atomic_store(&r->ext_until, 0);
	r->started_ns = now;
	if (s->on_event != NULL) {
		/*
		 * The lock is dropped for each event: s stays (terminate()
		 * waits for inplace_busy), c stays while it is this run's;
		 * a run abandoned meanwhile ends instead of running again.
		 */
		s->inplace_busy++;
		saved = tls_sup;
		tls_sup = s;	/* calls on the tree from the callback: EDEADLK */
		emit_exit_counted(s, c, kind, code);
		if (r->child == c)
			emit(s, SUPV_EV_RESTART, c, 0, 0, 0);
		if (r->child == c)
			emit(s, SUPV_EV_START, c, 0, 0, 0);
		tls_sup = saved;
		s->inplace_busy--;
		pthread_cond_broadcast(&supv_reply_cv);
		if (r->child != c)
			goto out;
	}
	/*
	 * The deadline counts from here, where the body is entered again,
	 * not from before this thread sat in the callbacks; a run asked to
	 * stop meanwhile is not monitored (it sees supv_stopping() at once).
	 */
	if (c->heartbeat_ms != 0 && !r->stop_asked) {
		hb_watch(s, c, now_ns());
		pthread_cond_signal(&s->cv);
	}
	ok = true;
out:
	unlock();
	return ok;
}

/* The thread of a running supervisor. */
void *
sup_main(void *arg)
{
	struct supv *s = arg;
	struct supv_worker *run;
	struct child *c;
	int rc = 0;

	tls_sup = s;
	loop_done = false;
	thread_name(s->name);
	lock();
	loop_alive(s);
	run = s->run;
	window_reset(&s->win);
	TAILQ_FOREACH(c, &s->children, order) {
		if (s->stop_req) {
			rc = ECANCELED;
			break;
		}
		if ((rc = start_child(s, c)) != 0)
			break;
	}
	if (rc == 0) {
		s->state = SUP_RUNNING;
		if (run != NULL) {
			run->ready = true;
			pthread_cond_signal(&s->parent->cv);
		} else {
			/* READY=1 here, before anything can send STOPPING=1. */
			notify_started(s);
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
	unlock();
	return NULL;
}
