/*
 * supervise_internal.h - what the library's files share.
 *
 * Locking model.  The lock domain is the tree.  Each tree has one mutex,
 * in its struct dom, shared by every supervisor of the tree and every run
 * of it: it guards every field marked "mu" below.  A tree's own operations
 * that span its levels (adding a subtree, terminating a child supervisor,
 * a worker restarting itself) stay simple under one lock, and independent
 * trees never contend.  A never-started tree added under another one joins
 * that tree's domain (supv__dom_merge); a running tree cannot be added.
 * A domain lives as long as the supervisor that made it, and as long as
 * any run of the tree, so that an abandoned worker that outlives its tree
 * can still take it.
 *
 * Each run also has a lock of its own, r->mu ("rmu" below), a leaf: it
 * guards what the worker waits for in supv_sleep() and in a task pool's
 * idle wait (a wake token, the stop descriptor), so that neither takes
 * its tree's lock, and a task pool hands work to a worker under its own
 * pool->mu and the worker's rmu alone.
 *
 * Lock order: a tree's mu, then a task pool's pool->mu, then a run's rmu.
 * Two trees' locks are taken together only by supv__dom_merge, in address
 * order.  A worker's hot path, supv_heartbeat() and supv_stopping(), takes
 * no lock.  No lock is ever held while user code runs: the emit_*()
 * functions drop the tree's lock for the callback, and
 * supv__argbox_unref() (arg_free) is called without one.  Nothing waits on
 * a process-wide condition variable: a reply wakes its request's, the end
 * of a callback its supervisor's, a stop request its run's.
 *
 * Threads.  Each running supervisor has one thread of its own (its "loop"),
 * and it alone changes its children's state while it runs: API calls on a
 * running supervisor are posted to it as requests and answered.  A stopped
 * supervisor has no thread, and API calls change it directly under the
 * tree's lock.
 */
#ifndef SUPERVISE_INTERNAL_H
#define SUPERVISE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <time.h>

#include "supervise.h"
#include "abi.h"

#define SUPV_EXPORT __attribute__((visibility("default")))

#define NS_PER_MS 1000000ULL
#define NO_DEADLINE UINT64_MAX

#define DEFAULT_NAME        "supervisor"
#define DEFAULT_INTENSITY   1
#define DEFAULT_PERIOD_MS   5000
#define DEFAULT_SHUTDOWN_MS 5000
/* Largest finite intensity: the window keeps one timestamp per restart. */
#define SUPV_INTENSITY_LIMIT 65535

/*
 * A lock domain: the lock of one tree.  Reference counted: the supervisor
 * that made it holds one reference, each run bound to it another, and a
 * call that may wait with the lock dropped one more while it runs
 * (supv__tree_enter), so that the mutex it unlocks at the end exists
 * whatever was freed meanwhile.  A tree's domain is its root's own.
 */
struct dom {
	pthread_mutex_t mu;
	atomic_uint     refs;
};

/* The supervisor this thread runs the loop of, if any. */
extern _Thread_local struct supv *supv__tls_sup;
/* The run this thread is the worker of, if any. */
extern _Thread_local struct supv_worker *supv__tls_run;

/*
 * A spec's argument, shared by the spec and every run of it; arg_free runs
 * when the last of them lets go.
 */
struct argbox {
	void       *arg;
	void      (*free_fn)(void *);
	atomic_uint refs;
};

/*
 * How a spec or a run holds its argument: in a box only when there is an
 * arg_free to run (boxed, a flag beside it), else the pointer itself, so
 * that a child without arg_free allocates nothing for it.
 */
union supv__arg {
	struct argbox *box;
	void          *raw;
};

/*
 * One run of a child, as the worker sees itself (struct supv_worker).  A
 * child supervisor's run is one too: its thread is the supervisor's loop.
 * Reference counted: the child that owns it holds one reference, the
 * thread another while it runs, so an abandoned thread keeps it alive.
 */
struct supv_worker {
	/*
	 * Fields are ordered by size, 8-byte ones first, so that there are
	 * no holes (bench/idle counts the bytes); each says what guards it.
	 * The worker's own hot fields come first.
	 */
	atomic_uint         refs;
	atomic_bool         stopping;     /* asked to stop; read without a lock */
	atomic_bool         superseded;   /* abandoned, or its task attempt given
	                                     up: supv_superseded(), no lock */
	bool                woken;        /* rmu: a wake token (supv__run_wake) */
	bool                abandoned;    /* rmu and mu: its child let it go */
	atomic_ulong        beat;         /* heartbeat count, stored by the worker only */
	unsigned long       beat_local;   /* the worker's own copy: touched by it alone */
	_Atomic uint64_t    ext_until;    /* supv_extend(): no hang before this (ns) ... */
	atomic_ulong        ext_beat;     /* ... while beat still equals this */

	/*
	 * "const": set before the thread starts, constant while it runs.
	 * dom is the lock the run answers to (a reference), and always its
	 * child's tree's: whenever child is set, dom == child->owner->dom.
	 * A run is rebound only while no thread holds it, when its tree
	 * joins another or leaves it after a failed add (set_dom, util.c);
	 * supv__lock_run() asserts it in debug builds.
	 */
	struct dom         *dom;          /* const: its tree's lock (a reference) */
	pthread_t           thread;       /* const */
	supv_work_fn       *fn;           /* const: NULL for a child supervisor's run */
	union supv__arg     arg;          /* const: boxed when arg_boxed */
	struct supv        *sup;          /* const: the child supervisor this run
	                                     is, or NULL */
	uint64_t            started_ns;   /* const */
	uint64_t            epoch;        /* the child's run number: set with the
	                                     tree's lock before the body is
	                                     (re)entered, read by its worker */
	unsigned            index;        /* const: in a pool; 0 otherwise */
	atomic_int          tid;          /* the thread's id, stored by it; 0 before */
	int                 chaos_code;   /* SUPV__CHAOS_FAIL: the code to return */
	clockid_t           cpuclock;     /* const: the thread's CPU clock, for
	                                     hang reports (if has_cpuclock) */
	int                 stop_fd;      /* rmu: -1 until supv_stop_fd() */
	int                 code;         /* mu: its return value */
	enum supv_exit_kind sup_why;      /* mu: how a child supervisor's run ended */
	enum supv_exit_kind stop_reason;  /* mu and rmu: SHUTDOWN, HUNG or START_FAILED */

	/* The run's own lock ("rmu"), a leaf: what the worker waits for. */
	pthread_mutex_t     mu;
	pthread_cond_t      cv;           /* rmu: supv_sleep() and park waits */

	struct child       *child;        /* mu: owner spec; NULL once abandoned */
	struct request     *waiting;      /* mu: a call it posted and waits for */
	uint64_t            ended_ns;     /* mu: when the thread finished the body */
	uint64_t            stop_at;      /* mu: when the supervisor asked it to stop */
	TAILQ_ENTRY(supv_worker) exitq;   /* mu: in the owner's exit queue */
	bool                same_thread;  /* const: restarts may reuse this thread */
	bool                hang_trace;   /* const: its thread takes the trace signal */
	unsigned char       chaos;        /* enum supv__chaos_act: set with epoch */
	bool                has_cpuclock; /* const */
	bool                arg_boxed;    /* const */
	bool                ready;        /* mu: supv_ready() was called */
	bool                exited;       /* mu: the thread has finished the body
	                                     (at ended_ns) ... */
	bool                cancelled;    /* mu: ... by pthread_exit or cancellation */
	bool                stop_asked;   /* mu: the supervisor asked it to stop
	                                     (at stop_at) */
	char                id[];         /* its child's id, allocated to fit */
};

/* A child's state; the allowed transitions are in supv__child_set_state(). */
enum child_state {
	CH_IDLE,        /* no run: never started, ended, or terminated */
	CH_RUNNING,     /* a run is alive (starting or started) */
	CH_STOPPING,    /* its run was asked to stop and has not ended yet */
	CH_PENDING      /* waiting for its restart time (backoff) */
};

/* A child spec.  Every field is guarded by its tree's lock. */
struct child {
	/*
	 * What a heartbeat round reads and writes, first: one cache line
	 * per child in the round's loop (heartbeat.c).
	 */
	TAILQ_ENTRY(child)   hblink;     /* in hbg->kids, or owner->hbfound,
	                                    while monitored */
	struct supv_worker  *run;          /* current or last run; NULL if none */
	unsigned long        hb_seen;      /* beat count at the last check */
	uint64_t             hb_last;      /* its last beat came by then (ns) ... */
	uint64_t             hb_round;     /* ... or by the end of this round of
	                                      its group, if not 0 (the last) */
	uint64_t             hb_cpu_at;    /* when hb_cpu was read; 0: not yet */
	struct hb_group     *hbg;          /* its period's group in owner, while
	                                      linked, when heartbeat_ms != 0 */
	TAILQ_ENTRY(child)   order;      /* in owner->children, start order */
	RB_ENTRY(child)      byid;       /* in owner->byid */
	RB_ENTRY(child)      pendnode;   /* in owner->pend while CH_PENDING */
	TAILQ_ENTRY(child)   hunglink;   /* in owner->hungq while hung_asked */
	uint64_t             seq;        /* its place in start order */
	struct supv         *owner;
	/*
	 * Its options: 8-byte fields, then 4-byte, then 1-byte ones, so that
	 * the struct has no holes (bench/idle counts its bytes).
	 */
	uint64_t             shutdown_ns;  /* NO_DEADLINE: wait for ever */
	uint64_t             backoff_reset_ns; /* a run this long resets streak */
	/* The exit-code lists: codes[0, n_norestart), then n_escalate more. */
	int                 *codes;
	size_t               stack_size;
	supv_work_fn        *fn;
	union supv__arg      arg;          /* boxed when arg_boxed */
	struct supv         *sup;          /* a child supervisor, or NULL */
	enum supv_restart    restart;
	enum supv_on_timeout on_timeout;
	unsigned             heartbeat_ms;
	unsigned             ready_ms;
	unsigned             backoff_ms, backoff_max_ms;
	unsigned             n_norestart, n_escalate;
	unsigned             index;        /* a pool worker's index */

	/* Its state. */
	enum child_state     state;
	unsigned             restarts;     /* restarts since the spec was added */
	unsigned             streak;       /* consecutive failures, for backoff */
	uint64_t             epochs;       /* runs prepared so far (supv_epoch) */
	struct supv__chaos  *chaos;        /* a fault to inject (supv_chaos), or NULL */
	uint64_t             restart_at;   /* CH_PENDING: when (ns) */
	uint64_t             hb_cpu;       /* thread CPU time at the last check */
	/* Its history, for the control socket and metrics: never reset. */
	uint64_t             exits[SUPV_EXIT_GAVE_UP + 1]; /* runs ended, by kind */
	int                  last_code;    /* the last run's exit code (last_exit:
	                                      its kind), once exits[] counts one */
	unsigned char        last_exit;    /* see last_code */
	/* Options again, the 1-byte ones, last with the state's. */
	bool                 hang_trace;
	bool                 backoff_reset_on_ready;
	bool                 significant;
	bool                 same_thread;
	bool                 arg_boxed;
	bool                 monitored;    /* in hbg->kids or owner->hbfound */
	bool                 hb_found;     /* ... the latter: found hung */
	bool                 hb_spinning;  /* ... and spinning then */
	bool                 hung_asked;   /* found hung, asked to stop; counted
	                                      in owner->nhung_asked */
	char                 id[];         /* allocated to fit (supv__spec_alloc) */
};

RB_HEAD(child_ids, child);
RB_HEAD(child_pend, child);

/*
 * A red-black tree's functions, static to the one file that uses them.
 * libbsd's RB_GENERATE_STATIC needs __unused, which it leaves undefined
 * on Linux (a kernel header has a member of that name).
 */
#define RB_GENERATE_FILE(name, type, field, cmp) \
	RB_GENERATE_INTERNAL(name, type, field, cmp, __attribute__((unused)) static)

/*
 * The monitored children of one supervisor that share a heartbeat_ms: one
 * timer and one sampling round for all of them (heartbeat.c).  Made when
 * the first spec with that period is linked, freed with the last.
 */
struct hb_group {
	TAILQ_ENTRY(hb_group) link;         /* mu: in owner->hbgroups */
	TAILQ_HEAD(, child)   kids;         /* mu: monitored, in watch order */
	unsigned              heartbeat_ms;
	unsigned              nspecs;       /* mu: linked specs with this period */
	uint64_t              step;         /* ns between rounds */
	uint64_t              at;           /* mu: next round; NO_DEADLINE: none */
	uint64_t              rounds;       /* mu: rounds done ... */
	uint64_t              end;          /* mu: ... the last one's loads were
	                                       all done by then (ns) */
};

/* A supervisor's state. */
enum sup_state {
	SUP_IDLE,        /* never started */
	SUP_STARTING,    /* its loop is starting the children */
	SUP_RUNNING,
	SUP_STOPPING,    /* terminating: stopping the children */
	SUP_TERMINATED   /* its last run is over (loop thread finished) */
};

/* A call on a running supervisor, carried out by its loop. */
enum req_op { REQ_ADD, REQ_TERMINATE, REQ_RESTART, REQ_DELETE };

struct request {
	TAILQ_ENTRY(request) link;      /* mu */
	enum req_op          op;
	struct child        *spec;      /* REQ_ADD: the new spec */
	const char          *id;        /* the others: the child's id */
	struct supv_worker  *from;      /* the calling worker's run, or NULL */
	pthread_cond_t       cv;        /* mu: the caller waits here */
	bool                 taken;     /* mu: the loop has begun it */
	bool                 done;      /* mu */
	int                  rc;        /* mu */
};

/* Restart intensity: the times (ms) of the restarts in the window. */
struct window {
	uint64_t *ts;                  /* ring of cap entries */
	unsigned  cap, head, len;
	unsigned  intensity;           /* SUPV_INFINITY: never give up */
	uint64_t  period_ms;
};

/*
 * A supervisor's memory lives as long as its last reference: the one its
 * owner holds (its parent's spec, or the application for a root), dropped
 * by supv__sup_destroy(), and one per caller that holds it across a wait
 * (supv__sup_hold, taken with the tree's lock held).  Such a caller sees,
 * once it has the lock again, whether the supervisor was deleted
 * meanwhile (deleted), and then touches nothing of it but its own flags:
 * its children are gone.
 */
struct supv {
	/* Set by supv_new(), constant after. */
	char                 name[SUPV_ID_MAX + 1];
	enum supv_strategy   strategy;
	enum supv_auto_shutdown auto_shutdown;
	supv_event_fn       *on_event;
	void                *event_arg;
	pid_t                pid;         /* the process that made it */
	struct dom          *own_dom;     /* the domain it made (a reference) */
	/*
	 * Its tree's domain: own_dom until the tree is added under another
	 * one.  Changed only by supv__dom_merge, with both locks held.
	 */
	_Atomic(struct dom *) dom;

	atomic_uint          refs;        /* see above */
	bool                 deleted;     /* mu: its spec was deleted for good */

	/* The tree and the children.  Guarded by the tree's lock. */
	struct supv         *parent;      /* mu */
	struct child        *spec;        /* mu: this supervisor's spec in parent */
	TAILQ_HEAD(child_list, child) children; /* mu: start order */
	struct child_ids     byid;        /* mu */
	TAILQ_HEAD(, hb_group) hbgroups;  /* mu: its heartbeat periods */
	TAILQ_HEAD(, child)  hbfound;     /* mu: found hung, to hand to the loop */
	unsigned             nchildren;   /* mu */
	/*
	 * mu: counters and ordered structures, so that nothing the loop
	 * does often scans the children: pending restarts by time (then
	 * start order), children found hung, significant children not idle,
	 * and the workers of the whole subtree (specs, and those running).
	 */
	struct child_pend    pend;
	TAILQ_HEAD(, child)  hungq;
	unsigned             nsig_live;
	unsigned             sub_workers, sub_running;
	uint64_t             next_seq;    /* mu: the next child's place */

	/* A run and its loop.  Guarded by the tree's lock. */
	enum sup_state       state;       /* mu: see supv__sup_set_state() */
	struct supv_worker  *run;         /* mu: our run as the parent sees it */
	pthread_t            thread;      /* mu: the loop's thread */
	atomic_uint          wake;        /* the loop sleeps on this word ... */
	bool                 sleeping;    /* mu: ... while this is set
	                                     (supv__sup_sleep_until) */
	bool                 stop_req;    /* mu: terminate as SHUTDOWN */
	bool                 force;       /* mu: graces in this subtree ran out */
	TAILQ_HEAD(, supv_worker) exitq;  /* mu: runs that ended, to handle */
	TAILQ_HEAD(, request) reqq;       /* mu: calls to carry out */
	bool                 emitting;    /* mu: an event callback is running */
	unsigned             inplace_busy; /* mu: same-thread restarts emitting */
	pthread_cond_t       emit_cv;     /* mu: waits for emitting, inplace_busy */
	/*
	 * mu: the restart intensity window: changed by the loop, and by a
	 * worker restarting itself in place (run_restart_in_place), both
	 * under the lock; read by every event and by STATUS lines.
	 */
	struct window        win;
	unsigned long        probe_ack;   /* mu: the last probe its loop answered */
	/*
	 * mu: totals over the supervisor's life, its deleted children's
	 * included: never reset (metrics, the control socket).
	 */
	uint64_t             restarts_total, hung_total, gave_up_total;
	int                  start_rc;    /* mu: why its start failed (root: what
	                                     supv_start returns) */

	/* A root's own: its runs, their waiters, and its process links. */
	pthread_cond_t       done_cv;     /* mu: start and end waiters */
	bool                 joinable;    /* mu: thread not yet joined */
	unsigned long        run_seq;     /* mu: runs started ... */
	unsigned long        end_seq;     /* mu: ... and ended */
	enum supv_exit_kind  why;         /* mu: how the last run ended */
	bool                 start_done;  /* mu: supv_start may return */
	int                  wait_fd;     /* mu: supv_wait_fd(), readable while
	                                     no run is in progress; -1: none */
	unsigned long        probe_seq;   /* mu: liveness probes sent */
	unsigned             hung_now;    /* mu: children being stopped as hung, tree-wide */
	struct notify       *notify;      /* mu: systemd notification, or NULL */
	struct sigstop      *sigstop;     /* mu: supv_stop_on_signals(), or NULL */
	struct control      *control;     /* mu: supv_control_listen(), or NULL */
	void               (*control_free)(struct supv *); /* closes it, without mu */

	/* A pool's own (supv_add_pool): its workers stop all at once. */
	bool                 parallel_stop; /* constant once it is added */
	struct pool         *pool;        /* its state (pool.c), or NULL */
	void               (*pool_free)(struct pool *); /* frees it, without mu */
};

/* util.c */
extern atomic_long supv_fault_countdown;

/*
 * Race windows the tests can widen: where the library has just dropped
 * the lock in a place where another thread may change what it looked at.
 * supv_fault_pause (hidden, NULL by default: one relaxed load) is called
 * there with the point.
 */
enum fault_point {
	FP_RUN_FINISHED,     /* a run ended and woke its owner, lock dropped */
	FP_START_UNLOCKED,   /* supv_start() dropped the lock to join a loop */
	FP_TRACE_HANDLER,    /* a hang trace's handler took its capture */
	FP_REPLY_UNLOCKED,   /* a tree was copied for a reply, lock dropped */
};
extern void (*_Atomic supv_fault_pause)(int point);

static inline void
fault_pause(enum fault_point p)
{
	void (*fn)(int) = atomic_load_explicit(&supv_fault_pause,
	    memory_order_relaxed);

	if (fn != NULL)
		fn((int)p);
}

void    *supv__xcalloc(size_t n, size_t size);
uint64_t supv__now_ns(void);
struct dom *supv__dom_new(void);
void     supv__dom_unref(struct dom *d);
int      supv__dom_merge(struct supv *into, struct supv *top, struct dom **locked);
void     supv__dom_split(struct supv *top);
/* The lock of s's tree (its domain), and of a run's tree. */
struct dom *supv__lock_sup(const struct supv *s);
void     supv__unlock_sup(const struct supv *s);
/* A call that may wait: the lock taken, the domain pinned till it leaves. */
struct dom *supv__tree_enter(const struct supv *s);
void     supv__tree_leave(struct dom *d);
pthread_mutex_t *supv__mu_of(const struct supv *s);
struct dom *supv__dom_of(const struct supv *s);
void     supv__dom_lock(struct dom *d);
void     supv__dom_unlock(struct dom *d);
void     supv__lock_run(const struct supv_worker *r);
void     supv__unlock_run(const struct supv_worker *r);
int      supv__cond_init(pthread_cond_t *cv);
/*
 * A loop's sleep: until supv__sup_wake(s) or deadline (false once it has
 * passed), the tree's lock dropped meanwhile.  Both with that lock held.
 */
bool     supv__sup_sleep_until(struct supv *s, uint64_t deadline);
void     supv__sup_wake(struct supv *s);
/* Waits on cv with mu held; false once deadline (ns) has passed. */
bool     supv__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
    uint64_t deadline);
uint64_t supv__deadline_after_ms(uint64_t from, unsigned ms);
int      supv__thread_spawn(pthread_t *t, size_t stack, void *(*fn)(void *), void *arg);
int      supv__struct_in(void *dst, size_t want, const void *src, size_t have);
void     supv__struct_out(void *dst, size_t want, const void *src, size_t have);
void     supv__flagfd_set(int fd);
void     supv__flagfd_clear(int fd);
int      supv__check_id(const char *id);
/* names[v] of a table of names indexed by an enum, or "unknown". */
#define SUPV__NAME_OF(names, v) \
	((unsigned)(v) < sizeof(names) / sizeof((names)[0]) && (names)[v] != NULL ? \
	    (names)[v] : "unknown")
int      supv__check_owner(const struct supv *s);
pid_t    supv__pid(void);
/* What a hung thread is stuck on (hangtrace.c): malloc'd, or NULL. */
char    *supv__hang_trace(pthread_t thread, pid_t tid);
int      supv__trace_signal(void);
void     supv__trace_arm(void);

/* Faults on request (chaos.c). */
enum supv__chaos_act {
	SUPV__CHAOS_NONE = 0,
	SUPV__CHAOS_FAIL,      /* the run returns a code at once */
	SUPV__CHAOS_HANG,      /* it beats no more, until asked to stop */
	SUPV__CHAOS_NOREADY    /* it never calls supv_ready(), until asked to stop */
};
/* A child's rule: constant once set, replaced whole under the tree's lock. */
struct supv__chaos {
	enum supv__chaos_act act;
	int                  code;      /* FAIL: what the run returns */
	unsigned             n;         /* the n-th run ... */
	bool                 every;     /* ... or every n-th */
	uint64_t             base;      /* the child's runs before the rule */
};
/* Rules parsed and allocated, to be applied with the tree's lock held. */
struct supv__chaos_rule {
	char                path[512];
	struct supv__chaos  c;
	struct supv__chaos *fresh;      /* its allocation, until applied */
	struct child       *child;      /* the worker it names, once resolved */
};
struct supv__chaos_prep {
	struct supv__chaos_rule *rules;
	size_t                   n;
	struct supv__chaos     **old;   /* rules taken off, freed afterwards */
	size_t                   nold, cap;
};
int      supv__chaos_prepare(const char *spec, struct supv__chaos_prep *pp);
int      supv__chaos_check(struct supv *sup, struct supv__chaos_prep *pp);
void     supv__chaos_commit(struct supv *sup, struct supv__chaos_prep *pp);
void     supv__chaos_prep_free(struct supv__chaos_prep *pp);
enum supv__chaos_act supv__chaos_pick(const struct supv__chaos *k,
    uint64_t epoch, int *code);

void     supv__thread_name(const char *name);
struct supv *supv__root_of(struct supv *s);
bool     supv__in_subtree(const struct supv *top, const struct supv *s);
bool     supv__caller_is_loop_of(struct supv *target);
struct supv *supv__caller_worker_sup(struct supv *target);
int      supv__nocancel_begin(void);
void     supv__nocancel_end(int old);

/* events.c: events, and the counters every exit and restart goes through */
void supv__note_exit(struct supv *s, struct child *c, enum supv_exit_kind exit,
    int code);
void supv__note_restart(struct supv *s, struct child *c);
void supv__emit_start(struct supv *s, const struct child *c);
void supv__emit_exit(struct supv *s, struct child *c, enum supv_exit_kind exit,
    int code, enum supv_rule rule);
void supv__emit_exit_restarted(struct supv *s, const struct child *c,
    enum supv_exit_kind exit, int code, enum supv_rule rule);
void supv__emit_restart(struct supv *s, const struct child *c);
void supv__emit_backoff(struct supv *s, const struct child *c, unsigned delay_ms);
void supv__emit_hung(struct supv *s, const struct child *c, bool spinning,
    const char *detail);
void supv__emit_stop_timeout(struct supv *s, const struct child *c);
void supv__emit_give_up(struct supv *s, enum supv_rule rule);
void supv__emit_sup_exit(struct supv *s, enum supv_exit_kind why);

/* probe.c: is every loop of a tree answering?  Root's lock held. */
unsigned long supv__probe_send(struct supv *root);
const struct supv *supv__probe_missing(struct supv *root, unsigned long seq);

/* A text being built: grows, or (fixed) fills a caller's buffer as snprintf. */
struct supv__buf {
	char   *p;
	size_t  len;        /* the whole text's length, even past cap */
	size_t  cap;
	bool    fixed;      /* p is the caller's: never grown */
	bool    failed;     /* no memory */
};
void supv__buf_printf(struct supv__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void supv__buf_put(struct supv__buf *b, const char *p, size_t n);
void supv__buf_pathpart(struct supv__buf *b, const char *id);
void supv__buf_path(struct supv__buf *b, const struct supv *top,
    const struct supv *s);

/*
 * snapshot.c: a tree copied under its lock, for the text written after it
 * is dropped ("tree", metrics): one node per supervisor and child, in
 * the tree's order (a supervisor, then its children, depth first).
 */
struct supv__snap_node {
	int                 owner;      /* its supervisor's node; -1: the root */
	unsigned            depth;
	bool                is_child, is_sup, is_pool;
	char                id[SUPV_ID_MAX + 1];   /* the root's: its name */
	const char         *state;
	/* A child's. */
	enum supv_restart   restart;
	unsigned            restarts, heartbeat_ms;
	uint64_t            exits[SUPV_EXIT_GAVE_UP + 1], exits_sum;
	unsigned char       last_exit;
	int                 last_code;
	bool                running, hung, backoff, has_cpu;
	clockid_t           cpuclock;
	int64_t             uptime_ms, backoff_ms, hb_age_ms;  /* -1: none */
	/* A supervisor's. */
	enum supv_strategy  strategy;
	const char         *sup_state;
	bool                up, has_exit;
	enum supv_exit_kind exit;
	unsigned            nchildren, window, intensity;
	uint64_t            period_ms, restarts_total, hung_total, gave_up_total;
};
struct supv__snap {
	struct supv__snap_node *v;
	size_t                  n, cap;
	bool                    failed;     /* no memory */
};
void supv__snap_take(struct supv *root, struct supv__snap *sn);  /* lock held */
void supv__snap_free(struct supv__snap *sn);
void supv__snap_path(struct supv__buf *b, const struct supv__snap *sn, int i);
void supv__snap_tree(const struct supv__snap *sn, struct supv__buf *b);
bool supv__snapshot_healthy(struct supv *root, struct supv__buf *b);
bool supv__snapshot_ready(struct supv *root, struct supv__buf *b);

/* metrics.c: what supv_metrics_format() writes, from a copy of the tree. */
void supv__metrics(const struct supv__snap *sn, struct supv__buf *b);

/* ctlproto.c: the control socket's requests and replies */
#define SUPV__CTL_LINE_MAX 512          /* a request line, newline included */
enum supv__ctl_verb {
	SUPV__CTL_TREE, SUPV__CTL_HEALTH, SUPV__CTL_READY, SUPV__CTL_METRICS,
	SUPV__CTL_RESTART, SUPV__CTL_TERMINATE, SUPV__CTL_VERSION
};
struct supv__ctl_req {
	enum supv__ctl_verb verb;
	char                arg[SUPV__CTL_LINE_MAX];  /* a path, as sent */
};
int  supv__ctl_parse(const char *line, size_t len, struct supv__ctl_req *req);
void supv__ctl_error(struct supv__buf *out, int err, const char *what);
/*
 * Answers one request line into out.  A "health" whose tree looks healthy
 * sends a probe instead: *probe is its number (else 0), and
 * supv__ctl_health_end() answers once the loops did, or time ran out.
 */
void supv__ctl_answer(struct supv *root, bool allow_changes, const char *line,
    size_t len, struct supv__buf *out, unsigned long *probe);
bool supv__ctl_health_end(struct supv *root, unsigned long probe, bool last,
    struct supv__buf *out);

/* restart.c: what an exit means, decided and counted once */
enum supv__act {
	SUPV__ACT_NONE,         /* nothing: the child stays idle */
	SUPV__ACT_DELETE,       /* a temporary child: its spec goes */
	SUPV__ACT_RESTART,      /* first..last restart, in start order, after delay_ms */
	SUPV__ACT_GIVE_UP       /* the supervisor gives up (rule: why) */
};
struct supv__verdict {
	enum supv__act  act;
	enum supv_rule  rule;          /* what decided */
	bool            shutdown;      /* NONE, DELETE: then an auto-shutdown */
	struct child   *first, *last;  /* RESTART: the group */
	unsigned        delay_ms;      /* RESTART: its backoff */
	unsigned        streak;        /* RESTART: the child's failures in a row */
	uint64_t        now;           /* when it was decided (ns) */
};
enum supv_rule supv__exit_rule(const struct child *c, enum supv_exit_kind kind,
    int code);
void     supv__decide(struct supv *s, struct child *c, enum supv_exit_kind kind,
    int code, enum supv_rule rule, uint64_t ran_ns, uint64_t now,
    struct supv__verdict *v);
void     supv__verdict_commit(struct supv *s, struct child *c,
    const struct supv__verdict *v);
void     supv__restart_group(const struct supv *s, struct child *c,
    struct child **first, struct child **last);
int      supv__window_init(struct window *w, unsigned intensity, unsigned period_ms);
void     supv__window_reset(struct window *w);
void     supv__window_free(struct window *w);
unsigned supv__window_count(struct window *w, uint64_t now_ms);
bool     supv__window_add(struct window *w, uint64_t now_ms);
bool     supv__window_full(struct window *w, uint64_t now_ms);
unsigned supv__backoff_step(unsigned base_ms, unsigned max_ms, unsigned k);
int      supv__backoff_check(unsigned base_ms, unsigned max_opt, unsigned *max_ms);

/* spec.c: the data model */
int   supv__spec_new(const struct supv *sup, const struct supv_child_opts *o,
    bool is_sup, struct child **out);
struct child *supv__spec_clone(const struct child *tmpl, const char *id,
    unsigned index);
void  supv__spec_discard(struct child *c);
void  supv__spec_destroy(struct child *c);
int   supv__sup_spec_link(struct supv *s, struct child *c);
void  supv__sup_spec_unlink(struct supv *s, struct child *c);
struct child *supv__find_child(struct supv *sup, const char *id);
/* The child that path names below top ("top/a/b"); decode: %XX in parts. */
int   supv__resolve_path(struct supv *top, const char *path, bool decode,
    struct child **out);
void  supv__child_set_state(struct child *c, enum child_state to);
void  supv__sup_set_state(struct supv *s, enum sup_state to);
void  supv__sup_destroy(struct supv *s);
void  supv__sup_hold(struct supv *s);
void  supv__sup_release(struct supv *s);
void  supv__spec_delete(struct supv *s, struct child *c);
void  supv__spec_delete_all(struct supv *root);

/* run.c: runs of a worker */
/* An argument, boxed only with an arg_free: 0 or ENOMEM. */
int   supv__arg_init(union supv__arg *a, bool *boxed, void *arg,
    void (*free_fn)(void *));
void  supv__arg_ref(union supv__arg a, bool boxed);
void  supv__arg_unref(union supv__arg a, bool boxed);
void  supv__arg_keep(union supv__arg a, bool boxed);  /* arg_free never runs */
void *supv__arg_value(union supv__arg a, bool boxed);
struct supv_worker *supv__run_new(struct child *c);
void  supv__run_unref(struct supv_worker *r);
int   supv__run_prepare(struct child *c);
int   supv__run_spawn_worker(struct child *c);
void  supv__run_signal_stop(struct supv_worker *r, enum supv_exit_kind why);
bool  supv__run_restart_in_place(struct supv_worker *r, int code);
void  supv__run_abandon(struct supv_worker *r);
/*
 * What a task pool needs of a run, and nothing more: its worker waits
 * until woken, asked to stop, or deadline; another thread wakes it (under
 * nothing but the run's own lock); and why it was asked to stop.
 */
bool  supv__run_wait(struct supv_worker *r, uint64_t deadline);
void  supv__run_wake(struct supv_worker *r);
bool  supv__run_abandoned(struct supv_worker *r);
enum supv_exit_kind supv__run_stop_reason(struct supv_worker *r);

/* heartbeat.c */
int      supv__hb_link(struct supv *s, struct child *c);
void     supv__hb_unlink(struct supv *s, struct child *c);
uint64_t supv__hb_last(const struct child *c);
void     supv__hb_watch(struct supv *s, struct child *c, uint64_t now);
void     supv__hb_unwatch(struct supv *s, struct child *c);
uint64_t supv__hb_next(struct supv *s);
struct child *supv__hb_check_due(struct supv *s, bool *spinning);

/* child.c: starting and stopping one child, on its supervisor's loop */
void  supv__ask_stop(struct child *c, enum supv_exit_kind why);
enum supv_exit_kind supv__child_stop(struct supv *s, struct child *c,
    enum supv_exit_kind why, uint64_t *ran, enum supv_rule *rule);
enum supv_rule supv__child_ended(struct supv *s, struct child *c,
    enum supv_exit_kind kind, int code);
int   supv__child_start_worker(struct supv *s, struct child *c);
bool  supv__wait_busy(struct supv *s, uint64_t deadline, bool live);
bool  supv__mark_hung(struct supv *s, struct child *c, bool spinning);
void  supv__hung_done(struct supv *s, struct child *c);
void  supv__loop_alive(struct supv *s);
void  supv__reap(struct supv *s, struct supv_worker *r);
enum supv_exit_kind supv__exit_kind(const struct supv_worker *r);
int   supv__exit_code(const struct supv_worker *r);

/* loop.c: a supervisor's thread */
void  supv__sup_run_begin(struct supv *s, struct supv_worker *run);
void  supv__force_subtree(struct supv *s);
void  supv__sup_request_stop(struct supv *root, bool force);
int   supv__sup_launch(struct supv *s, size_t stack);

/* supervisor.c: the tree's own calls */
int   supv__add_spec(struct supv *sup, struct child *c);
/* supv_restart_child or supv_terminate_child on the child path names. */
int   supv__child_op_path(struct supv *root, const char *path, bool restart);
int   supv__child_op_locked(struct supv *sup, const char *id, enum req_op op,
    struct child **gone);

/* pool.c: ids "<base>.<index>", written and read in one place */
unsigned supv__digits(unsigned n);
void  supv__indexed_id(char dst[SUPV_ID_MAX + 1], const char *base,
    unsigned index);
bool  supv__indexed_id_index(const char *id, unsigned *index);

/* notify.c, signals.c: a root's links to its process */
void supv__notify_open(struct supv *root);
void supv__notify_started(struct supv *root);
void supv__notify_stopping(struct supv *root, enum supv_exit_kind why);
void supv__notify_free(struct supv *root);
void supv__sigstop_free(struct supv *root);

#endif /* SUPERVISE_INTERNAL_H */
