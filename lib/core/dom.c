/*
 * dom.c - lock domains, one per tree (see core/tree.h): making them,
 * joining two trees and parting them again, taking a tree's lock and a
 * run's, who the calling thread is in a tree, a supervisor's memory held
 * across a wait, and a loop's sleep and wake-ups.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"

_Thread_local struct supv *supv__tls_sup;
_Thread_local struct supv_worker *supv__tls_run;

/*
 * A tree's lock domain.  There is no process-wide lock: a child process
 * after fork() never finds one held, and may build new trees; the trees
 * made before the fork stay unusable there (supv__check_owner, checked
 * before any of their locks is taken).
 */
struct dom *
supv__dom_new(void)
{
	struct dom *d;

	if ((d = supv__xcalloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		free(d);
		return NULL;
	}
	atomic_init(&d->refs, 1);
	return d;
}

void
supv__dom_unref(struct dom *d)
{
	if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/*
 * Binds run r to domain d: a run answers to the lock of its child's tree
 * (see struct supv_worker).  Only a run that no thread holds is rebound:
 * one of a tree that is not running.  The old domain is held by the
 * supervisor that made it, so this is never its last reference.
 */
static void
run_rebind(struct supv_worker *r, struct dom *d)
{
	struct dom *old;

	if (r == NULL || (old = r->dom) == d)
		return;
	assert(atomic_load(&r->refs) == 1);
	atomic_fetch_add(&d->refs, 1);
	r->dom = d;
	supv__dom_unref(old);
}

/*
 * Puts s's subtree in domain d: first the runs of every child at every
 * depth, then the supervisors, so that a thread that finds a supervisor
 * in d (and takes d's lock) finds its runs there too.  Called with d's
 * lock held, on a tree that is not running.
 */
static void
set_dom_runs(struct supv *s, struct dom *d)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, order) {
		run_rebind(c->run, d);
		if (c->sup != NULL)
			set_dom_runs(c->sup, d);
	}
}

static void
set_dom_sups(struct supv *s, struct dom *d)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			set_dom_sups(c->sup, d);
	atomic_store(&s->dom, d);
}

static void
set_dom(struct supv *s, struct dom *d)
{
	set_dom_runs(s, d);
	set_dom_sups(s, d);
}

/*
 * Makes the never-started tree top part of into's tree: one lock for
 * both from now on.  Takes both locks, in address order (nothing else
 * holds two trees' locks), and checks under them that top is still
 * free to be added: EINVAL otherwise.  On success, returns with into's
 * lock held and its domain pinned in *locked, as supv__tree_enter() does;
 * on failure, with no lock held.
 */
int
supv__dom_merge(struct supv *into, struct supv *top, struct dom **locked)
{
	struct dom *a, *b;

	for (;;) {
		a = atomic_load(&into->dom);
		b = atomic_load(&top->dom);
		if (a == b) {
			pthread_mutex_lock(&a->mu);
		} else {
			pthread_mutex_lock(&(a < b ? a : b)->mu);
			pthread_mutex_lock(&(a < b ? b : a)->mu);
		}
		if (atomic_load(&into->dom) == a && atomic_load(&top->dom) == b)
			break;
		pthread_mutex_unlock(&a->mu);
		if (a != b)
			pthread_mutex_unlock(&b->mu);
	}
	if (a != b) {	/* else top is into, or above or below it already */
		if (top->parent != NULL || top->state != SUP_IDLE) {
			pthread_mutex_unlock(&a->mu);
			pthread_mutex_unlock(&b->mu);
			return EINVAL;
		}
		set_dom(top, a);
		pthread_mutex_unlock(&b->mu);
	}
	atomic_fetch_add(&a->refs, 1);
	*locked = a;
	return 0;
}

/*
 * Undoes a merge whose add failed: top, still unchanged, is its own tree
 * again.  Called with the merged tree's lock held, as the last step that
 * touches top (another thread may take its own lock at once).
 */
void
supv__dom_split(struct supv *top)
{
	set_dom(top, top->own_dom);
}

/*
 * Locks s's tree and returns its domain.  The domain is read again once
 * locked: a merge may have moved s to another tree's meanwhile (it holds
 * both locks to do so).
 */
struct dom *
supv__lock_sup(const struct supv *s)
{
	struct dom *d;

	for (;;) {
		d = atomic_load(&s->dom);
		pthread_mutex_lock(&d->mu);
		if (atomic_load(&s->dom) == d)
			return d;
		pthread_mutex_unlock(&d->mu);
	}
}

void
supv__unlock_sup(const struct supv *s)
{
	pthread_mutex_unlock(&atomic_load(&s->dom)->mu);
}

/*
 * A call that may wait with the lock dropped (a request posted to a
 * loop, a pool's resize) enters the tree here: its lock is taken and its
 * domain pinned, and the call leaves through the domain, never through
 * s, which may be freed while it waits (a temporary child supervisor
 * that ended, a pool deleted).
 */
struct dom *
supv__tree_enter(const struct supv *s)
{
	struct dom *d = supv__lock_sup(s);

	atomic_fetch_add(&d->refs, 1);
	return d;
}

void
supv__tree_leave(struct dom *d)
{
	pthread_mutex_unlock(&d->mu);
	supv__dom_unref(d);
}

/* The mutex of s's tree, for condition waits; called with it held. */
pthread_mutex_t *
supv__mu_of(const struct supv *s)
{
	return &atomic_load(&s->dom)->mu;
}

/*
 * A tree's domain, read with its lock held, for code that drops the lock
 * and must take it again without touching s, which may be freed
 * meanwhile (a temporary child supervisor that terminated).
 */
struct dom *
supv__dom_of(const struct supv *s)
{
	return atomic_load(&s->dom);
}

void
supv__dom_lock(struct dom *d)
{
	pthread_mutex_lock(&d->mu);
}

void
supv__dom_unlock(struct dom *d)
{
	pthread_mutex_unlock(&d->mu);
}

void
supv__lock_run_tree(const struct supv_worker *r)
{
	pthread_mutex_lock(&r->dom->mu);
	/* A run answers to its child's tree's lock (struct supv_worker). */
	assert(r->child == NULL || atomic_load(&r->child->owner->dom) == r->dom);
}

void
supv__unlock_run_tree(const struct supv_worker *r)
{
	pthread_mutex_unlock(&r->dom->mu);
}

/*
 * EPERM in a child process after fork(): the tree's threads are not
 * there, and a call that waits for them would wait for ever.
 */
int
supv__check_owner(const struct supv *s)
{
	return s->pid == supv__pid() ? 0 : EPERM;
}

/* Called with the tree's lock held. */
struct supv *
supv__root_of(struct supv *s)
{
	while (s->parent != NULL)
		s = s->parent;
	return s;
}

/* Whether s is top or below it.  Called with the tree's lock held. */
bool
supv__in_subtree(const struct supv *top, const struct supv *s)
{
	for (; s != NULL; s = s->parent)
		if (s == top)
			return true;
	return false;
}

/*
 * Whether the calling thread is one of the loops of target's tree: it is
 * then running that tree's event callback (or an arg_free), and any call
 * that changes the tree would wait for itself.  Called with the tree's lock held.
 */
bool
supv__caller_is_loop_of(struct supv *target)
{
	/* One domain per tree; a running loop's never changes. */
	return supv__tls_sup != NULL &&
	    atomic_load(&supv__tls_sup->dom) == atomic_load(&target->dom);
}

/*
 * The supervisor of the calling worker when it belongs to target's tree,
 * or NULL.  Called with target's tree's lock held, which is then the
 * run's: its child may be read.
 */
struct supv *
supv__caller_worker_sup(struct supv *target)
{
	struct supv_worker *r = supv__tls_run;

	if (r == NULL || r->dom != atomic_load(&target->dom) || r->child == NULL)
		return NULL;
	return r->child->owner;
}

/* Holds s's memory across a wait.  Called with the tree's lock held. */
void
supv__sup_hold(struct supv *s)
{
	atomic_fetch_add(&s->refs, 1);
}

/* Lets go of s; the last reference frees it.  Called without the tree's lock. */
void
supv__sup_release(struct supv *s)
{
	unsigned was = atomic_fetch_sub(&s->refs, 1);

	assert(was > 0);
	if (was != 1)
		return;
	if (s->wpool != NULL)
		s->wpool_free(s->wpool);
	supv__window_free(&s->win);
	if (s->wait_fd >= 0)
		close(s->wait_fd);
	pthread_cond_destroy(&s->done_cv);
	pthread_cond_destroy(&s->emit_cv);
	/* Runs of the tree that outlive it hold the domain on their own. */
	supv__dom_unref(s->own_dom);
	free(s);
}

/* ---- A loop's sleep: a futex word instead of a condition variable ---- */

/*
 * A condition variable would do, but glibc's wait takes its mutex back
 * marked contended, so every wake-up of a loop would cost a second system
 * call (a futex wake at the next unlock) for nobody.  The word counts
 * wake-ups; the loop reads it, with the tree's lock held, before it lets
 * go of the lock, and sleeps only while it is unchanged (base/thread.c's
 * futex words, as a run's sleep).
 *
 * Whether s's loop sleeps, and then the word changes.  Called with the
 * tree's lock held, as are the two below.
 */
static bool
mark_woken(struct supv *s)
{
	if (!s->sleeping)
		return false;	/* it looks at everything before it sleeps */
	atomic_fetch_add_explicit(&s->wake, 1, memory_order_relaxed);
	return true;
}

/* Wakes s's loop if it sleeps. */
void
supv__sup_wake(struct supv *s)
{
	if (mark_woken(s))
		supv__futex_wake(&s->wake, 1);
}

/*
 * The same, with the system call left for after the unlock, so that the
 * loop does not wake only to wait for the lock the caller holds (on one
 * CPU it would preempt the caller, and then block).  The word changes
 * now, so a loop about to sleep does not; if the loop sleeps, s is held
 * until supv__sup_wake_after(), and true is returned.  Called with the
 * tree's lock held.
 */
bool
supv__sup_wake_later(struct supv *s)
{
	if (!mark_woken(s))
		return false;
	supv__sup_hold(s);
	return true;
}

/* The wake-up supv__sup_wake_later() left.  Called without the tree's lock. */
void
supv__sup_wake_after(struct supv *s)
{
	supv__futex_wake(&s->wake, 1);
	supv__sup_release(s);
}

bool
supv__sup_sleep_until(struct supv *s, uint64_t deadline)
{
	pthread_mutex_t *mu = supv__mu_of(s);
	unsigned v = atomic_load_explicit(&s->wake, memory_order_relaxed);
	bool in_time;

	if (deadline != NO_DEADLINE && supv__now_ns() >= deadline)
		return false;
	s->sleeping = true;
	pthread_mutex_unlock(mu);
	in_time = supv__futex_wait_until(&s->wake, v, deadline, false);
	pthread_mutex_lock(mu);
	s->sleeping = false;
	return in_time;
}

/*
 * Cuts short the graces of every child in s's subtree, as SUPV_ZERO would:
 * each loop of it sees the flag (forced()) once woken.
 */
void
supv__force_subtree(struct supv *s)
{
	struct child *c;

	s->force = true;
	supv__sup_wake(s);
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			supv__force_subtree(c->sup);
}

/*
 * Asks root's run to stop, and returns at once; with force, a stop under
 * way has its graces cut short too.  Called with the tree's lock held.
 */
void
supv__sup_request_stop(struct supv *root, bool force)
{
	if (root->state == SUP_IDLE || root->state == SUP_TERMINATED)
		return;
	root->stop_req = true;
	supv__sup_wake(root);
	if (force)
		supv__force_subtree(root);
}
