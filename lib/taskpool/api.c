/*
 * api.c - supervised task pools: making one (its supervisor and its
 * children), what its supervisor's events mean for the tasks, stopping,
 * and statistics.  The workers are in worker.c, the timer thread and the
 * replacer in timer.c, tasks in task.c and the queue in queue.c.
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

#include "taskpool/taskpool.h"

#define TP_DEFAULT_QUEUE    1024
#define TP_DEFAULT_ATTEMPTS 3
#define TP_MAX_WORKERS      4096

/* A worker spec's arg_free: the spec lets go of the pool. */
static void
tp_slot_unref(void *arg)
{
	supv__tp_unref(((struct tp_slot *)arg)->pool);
}

/* The slot an event's child id names, or NULL. */
static struct tp_slot *
tp_slot_of(struct supv_taskpool *p, const char *id)
{
	const char *dot;
	unsigned k;

	if (id == NULL || (dot = strrchr(id, '.')) == NULL)
		return NULL;
	if (strcmp(dot + 1, "ctl") == 0)
		k = p->nworkers;
	else if (!supv__indexed_id_index(id, &k) || k >= p->nworkers)
		return NULL;
	return strcmp(p->slots[k].id, id) == 0 ? &p->slots[k] : NULL;
}

/* What an attempt whose run ended with kind (and code) failed of. */
static enum supv_task_status
tp_exit_status(enum supv_exit_kind kind, int code)
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
tp_event(const struct supv_event *ev, void *arg)
{
	struct supv_taskpool *p = arg;
	struct tp_slot *sl;
	struct batch b;

	supv__tp_batch_init(&b);
	switch (ev->kind) {
	case SUPV_EV_HUNG:
	case SUPV_EV_EXIT:
		if ((sl = tp_slot_of(p, ev->child)) == NULL || sl->is_ctl)
			break;
		pthread_mutex_lock(&p->mu);
		if (sl->cur != NULL) {
			struct supv_task *t = sl->cur;

			supv__tp_slot_detach(p, sl);
			supv__tp_task_failed(p, t, ev->kind == SUPV_EV_HUNG ?
			    SUPV_TASK_HUNG : tp_exit_status(ev->exit, ev->code),
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
		supv__tp_close(p, &b);
		supv__tp_set_state(p, POOL_IDLE);
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

/* Checks opts and fills p's settings from them. */
static int
tp_config(struct supv_taskpool *p, const struct supv_taskpool_opts *o)
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
	    o->prefetch == SUPV_ZERO ||
	    o->deadline_ms == SUPV_ZERO ||
	    supv__backoff_check(o->backoff_ms, o->backoff_max_ms, &bmax) != 0)
		return EINVAL;
	p->nworkers = n;
	p->take_max = o->prefetch == 0 ? TP_TAKE_MAX :
	    o->prefetch > TP_TAKE_MAX ? TP_TAKE_MAX : o->prefetch;
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
tp_slots(struct supv_taskpool *p)
{
	unsigned i, width = supv__digits(p->nworkers - 1);

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
			supv__indexed_id(sl->id, p->id, i);
	}
	return 0;
}

/*
 * The queue's lock is taken twice per task and held briefly: it spins a
 * little before it sleeps, which spares most of the futex calls when
 * submitters and workers meet on it.
 */
static int
tp_mutex_init(pthread_mutex_t *mu)
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
tp_new(struct supv_taskpool **out, const char *id,
    const struct supv_taskpool_opts *o)
{
	struct supv_taskpool *p;
	int rc;

	/* On a cache line's boundary: see the struct. */
	if (supv__fault_hit() || (p = aligned_alloc(64,
	    (sizeof(*p) + 63) / 64 * 64)) == NULL)
		return ENOMEM;
	memset(p, 0, sizeof(*p));
	strlcpy(p->id, id, sizeof(p->id));
	if ((rc = tp_config(p, o)) != 0 || (rc = tp_slots(p)) != 0)
		goto fail;
	if ((rc = tp_mutex_init(&p->mu)) != 0)
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
	LIST_INIT(&p->took_runs);
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
	/* First: a child process after fork() must not even allocate. */
	if ((rc = supv__check_owner(sup)) != 0 || (rc = supv__check_id(spec->id)) != 0)
		return rc;
	if ((rc = tp_new(&p, spec->id, opts)) != 0)
		return rc;
	if ((rc = supv_new(&p->sup, &(struct supv_opts){ .name = p->id,
	    .strategy = SUPV_ONE_FOR_ONE,
	    .intensity = opts->intensity == 0 ? SUPV_INFINITY : opts->intensity,
	    .period_ms = opts->period_ms, .on_event = tp_event,
	    .event_arg = p })) != 0) {
		supv__tp_unref(p);
		return rc;
	}
	for (i = 0; i <= p->nworkers && rc == 0; i++) {
		struct tp_slot *sl = &p->slots[i];

		co = (struct supv_child_opts){ .id = sl->id,
		    .restart = SUPV_PERMANENT, .arg_free = tp_slot_unref };
		if (sl->is_ctl) {
			co.ready_ms = SUPV_INFINITY;
		} else {
			co.shutdown_ms = opts->shutdown_ms;
			co.on_timeout = opts->on_timeout;
			co.heartbeat_ms = opts->heartbeat_ms;
			co.stack_size = opts->stack_size;
		}
		atomic_fetch_add(&p->refs, 1);
		if ((rc = supv_add_worker(p->sup, &co, sl->is_ctl ? supv__tp_timer :
		    supv__tp_worker, sl)) != 0)
			atomic_fetch_sub(&p->refs, 1);
	}
	p->parent = sup;
	if (rc == 0)
		rc = supv_add_sup(sup, spec, p->sup);
	if (rc != 0) {
		/* Its specs let go of the pool as they are freed. */
		supv_free(p->sup);
		supv__tp_unref(p);
		return rc;
	}
	/* From now on the specs hold the pool. */
	*out = p;
	supv__tp_unref(p);
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
	if (supv__tp_tls_slot != NULL && supv__tp_tls_slot->pool == p)
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
		supv__tp_set_state(p, POOL_DRAINING);
		if (p->space_waiters > 0)
			pthread_cond_broadcast(&p->space_cv);
	}
	if (p->state == POOL_DRAINING) {
		deadline = drain_ms == SUPV_INFINITY ? NO_DEADLINE :
		    supv__now_ns() + (uint64_t)drain_ms * NS_PER_MS;
		while (p->nlive > 0 && p->state == POOL_DRAINING) {
			p->drain_waiters++;
			rc = supv__cond_wait_until(&p->drain_cv, &p->mu, deadline);
			p->drain_waiters--;
			if (!rc)
				break;
		}
	}
	supv__tp_close(p, &b);
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
			supv__cond_wait_until(&p->drain_cv, &p->mu, NO_DEADLINE);
			p->drain_waiters--;
		}
		pthread_mutex_unlock(&p->mu);
	}
	supv__nocancel_end(old);
	supv__tp_unref(p);
	return rc == EDEADLK ? rc : 0;
}

SUPV_EXPORT int
supv_taskpool_stats_sized(struct supv_taskpool *p,
    struct supv_taskpool_stats *uout, size_t size)
{
	struct supv_taskpool_stats k, *out = &k;
	unsigned done, waiting;

	if (p == NULL || uout == NULL)
		return EINVAL;
	pthread_mutex_lock(&p->mu);
	/* Tasks taken at once and not settled: done, or still waiting. */
	done = supv__tp_took_done(p, &waiting);
	*out = (struct supv_taskpool_stats){
		.submitted = p->n_succeeded + p->n_failed + p->n_cancelled +
		    p->nlive,
		.succeeded = p->n_succeeded + done,
		.failed = p->n_failed,
		.cancelled = p->n_cancelled,
		.retries = p->n_retries,
		.pending = p->nlive - done,
		.queued = p->nqueued + p->ndelayed + waiting,
		.running = p->nrunning,
		.workers = p->nserving,
	};
	pthread_mutex_unlock(&p->mu);
	supv__struct_out(uout, size, &k, sizeof(k));
	return 0;
}

