/*
 * tree.h - the tree's types: what a supervisor, a child and a run are, who
 * may change which field, and under which lock.
 *
 * Words, each used in one sense in lib/:
 *   tree        a root supervisor and everything below it; one lock.
 *   supervisor  struct supv: a node with children and, while it runs, a
 *               thread of its own (its loop).
 *   child       one entry of a supervisor (struct child), made from a
 *               child spec: a worker, or a child supervisor.  "Spec" is
 *               the same thing seen as the options it was added with.
 *   run         one start of a child, until it ends (struct supv_worker,
 *               the public handle: a worker's body gets its run).
 *   worker      a child whose runs call a function (supv_add_worker), as
 *               opposed to a child supervisor.
 *   worker pool a child supervisor of identical workers (supv_add_pool,
 *               pools/workerpool.c).
 *   task pool   a child supervisor whose workers run queued tasks
 *               (supv_taskpool_add, taskpool/); its own lock is its mu.
 *   loop        a running supervisor's thread (core/loop.c).
 *   domain      a tree's lock (struct dom).
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
 * lock (struct supv_taskpool's mu) and the worker's rmu alone.
 *
 * Lock order: a tree's mu, then a task pool's mu, then a run's rmu.
 * Two trees' locks are taken together only by supv__dom_merge, in address
 * order.  A worker's hot path, supv_heartbeat() and supv_stopping(), takes
 * no lock.  No lock is ever held while user code runs: the emit_*()
 * functions drop the tree's lock for the callback, and
 * supv__arg_unref() (arg_free) is called without one.  Nothing waits on
 * a process-wide condition variable: a reply wakes its request's, the end
 * of a callback its supervisor's, a stop request its run's.
 *
 * Threads.  Each running supervisor has one thread of its own (its "loop"),
 * and it alone changes its children's state while it runs: API calls on a
 * running supervisor are posted to it as requests and answered.  A stopped
 * supervisor has no thread, and API calls change it directly under the
 * tree's lock.
 */
#ifndef SUPV_CORE_TREE_H
#define SUPV_CORE_TREE_H

#include <sys/queue.h>

#include "base/base.h"

#define DEFAULT_NAME        "supervisor"
#define DEFAULT_INTENSITY   1
#define DEFAULT_PERIOD_MS   5000
#define DEFAULT_SHUTDOWN_MS 5000
/* Largest finite intensity: the window keeps one timestamp per restart. */
#define SUPV_INTENSITY_LIMIT 65535
/* The exit kinds there are (enum supv_exit_kind). */
#define SUPV__EXIT_KINDS (SUPV_EXIT_KILLED + 1)
/* struct child keeps a kind in 3 bits (last_exit), a run too (sup_kind). */
_Static_assert(SUPV__EXIT_KINDS <= 8, "exit kinds no longer fit 3 bits");

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
 * A process child's options (supv_add_process), copied: constant once the
 * spec exists.  argv, envp and their strings live in one allocation.
 */
struct supv__procspec {
	char              **argv;          /* NULL-terminated */
	char              **envp;          /* NULL: the environment at each start */
	char               *cwd;           /* NULL: unchanged */
	struct supv_rlimit *rlimits;
	unsigned            n_rlimits;
	int                 stop_signal;   /* never 0 */
	bool                notify;
};

/* What an epoll event of the process watcher is about (core/procwatch.c). */
struct supv__pwtag {
	struct supv__procrun *pr;
	bool                  notify;      /* the notify socket, else the pidfd */
};

/*
 * One run of a process child: its process (the leader of a process group
 * of its own), watched by its tree's watcher thread through a pidfd and,
 * with notify, its notify socket.  The watcher holds a reference to the
 * run from the spawn until the leader is reaped.
 */
struct supv__procrun {
	struct supv_worker *run;           /* const: the run it belongs to */
	pid_t               pid;           /* const while watched: the leader,
	                                      and its group's id */
	int                 pidfd;         /* const while watched */
	int                 notifyfd;      /* const while watched; -1: none */
	int                 stop_signal;   /* const */
	uint64_t            grace_ns;      /* const: its child's shutdown_ns */
	int                 status;        /* mu: its exit status ... */
	int                 signo;         /* mu: ... or the signal that ended it */
	bool                killed;        /* mu: SIGKILLed at its grace's end */
	uint64_t            ext_deadline;  /* mu: EXTEND_TIMEOUT_USEC while it
	                                      starts or stops (ns); 0: none */
	char                status_text[128]; /* mu: its last STATUS= */
	char                notify_name[40];  /* const: the socket's abstract name */
	atomic_bool         armed;         /* set (release) once the above are,
	                                      before the watcher may see it */
	/* The watcher's alone. */
	struct supv__pwtag  tag_pid, tag_notify;
	uint64_t            linger_until;  /* the group's end: then SIGKILL, reap */
	TAILQ_ENTRY(supv__procrun) lingerlink;
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
	 * joins another or leaves it after a failed add (set_dom, dom.c);
	 * supv__lock_run_tree() asserts it in debug builds.
	 */
	struct dom         *dom;          /* const: its tree's lock (a reference) */
	pthread_t           thread;       /* const */
	supv_work_fn       *fn;           /* const: NULL for a child supervisor's run */
	union supv__arg     arg;          /* const: boxed when arg_boxed */
	struct supv        *sup;          /* const: the child supervisor this run
	                                     is, or NULL */
	struct supv__procrun *proc;       /* const: a process child's run, or NULL */
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

	/*
	 * The run's own lock ("rmu"), a leaf: what the worker waits for.
	 * A futex lock and a futex word (base/thread.c), 8 bytes in all.
	 */
	atomic_uint         mu;           /* supv__flock() */
	/*
	 * rmu to change: what supv_sleep() and park waits sleep on (any
	 * thread that has the run may sleep in supv_sleep).  Bit 0: someone
	 * sleeps on it, or is about to; the rest counts wake-ups.
	 */
	atomic_uint         wake;

	struct child       *child;        /* mu: owner spec; NULL once abandoned */
	struct request     *waiting;      /* mu: a call it posted and waits for */
	uint64_t            ended_ns;     /* mu: when the thread finished the body */
	uint64_t            stop_at;      /* mu: when the supervisor asked it to stop */
	TAILQ_ENTRY(supv_worker) exitq;   /* mu: in the owner's exit queue */
	/*
	 * The small fields last: bit-fields share a byte only with fields
	 * of the same guard, as a bit-field's store rewrites its neighbours;
	 * a plain byte between two groups keeps them apart.  The const
	 * ones are read by the worker without a lock.
	 */
	unsigned char       same_thread : 1;  /* const: restarts may reuse this thread */
	unsigned char       hang_trace : 1;   /* const: its thread takes the trace signal */
	unsigned char       arg_boxed : 1;    /* const */
	unsigned char       chaos;        /* enum supv__chaos_act: set with epoch */
	unsigned char       ready : 1;    /* mu: supv_ready() was called */
	unsigned char       exited : 1;   /* mu: the thread has finished the body
	                                     (at ended_ns) ... */
	unsigned char       cancelled : 1; /* mu: ... by pthread_exit or cancellation */
	unsigned char       stop_asked : 1; /* mu: the supervisor asked it to stop
	                                     (at stop_at) */
	unsigned char       has_cpuclock : 1; /* mu: set once its thread exists */
	unsigned char       sup_kind : 3; /* mu: how a child supervisor's run ended
	                                     (enum supv_exit_kind) */
	/*
	 * Why it was asked to stop: SHUTDOWN, HUNG or START_FAILED (enum
	 * supv_exit_kind).  mu, and for a worker's run rmu too
	 * (supv__run_signal_stop takes both; a task pool's worker reads it
	 * under rmu alone); a child supervisor's run has no rmu reader, and
	 * supv__ask_stop writes it under mu.
	 */
	unsigned char       stop_kind;
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
	 * A child is monitored only while a run of it is alive, and pending
	 * only while none is (supv__child_ended, the one place a run's end
	 * makes a child idle, unwatches it first); a child found hung is no
	 * longer monitored (supv__hb_check_due), and is hung until its run
	 * has ended (supv__hung_done, also in supv__child_ended).  The
	 * states share their bytes.  What a heartbeat round reads each time
	 * is in its group's slots, not here (heartbeat.c).
	 */
	union {
		struct {                   /* while monitored */
			uint64_t hb_cpu_at;        /* when hb_cpu was read: stale if
			                              not after its last beat */
			unsigned hb_slot;          /* its place in its group's slots */
		};
		struct {                   /* while hb_found */
			TAILQ_ENTRY(child) hblink; /* in owner->hbfound */
			uint64_t hb_flast;         /* its last beat came by then */
			uint32_t hb_fseen;         /* low bits of the count seen */
		};
		struct {                   /* while CH_PENDING */
			RB_ENTRY(child) pendnode;  /* in owner->pend */
			uint64_t restart_at;       /* when (ns) */
		};
		TAILQ_ENTRY(child) hunglink;  /* while hung_asked: in owner->hungq */
	};
	struct supv_worker  *run;          /* current or last run; NULL if none */
	TAILQ_ENTRY(child)   order;      /* in owner->children, start order */
	RB_ENTRY(child)      byid;       /* in owner->byid */
	uint64_t             seq;        /* its place in start order */
	struct supv         *owner;
	/*
	 * Its options: 8-byte fields, then 4-byte, then 1-byte ones, so that
	 * the struct has no holes (bench/idle counts its bytes).
	 */
	size_t               stack_size;
	/*
	 * A worker's function, or a process child's options (is_proc): no
	 * child has both (a process child has no function, and no chaos
	 * rule, which is for workers alone).
	 */
	union {
		supv_work_fn          *fn;
		struct supv__procspec *proc;
	};
	union supv__arg      arg;          /* boxed when arg_boxed */
	struct supv         *sup;          /* a child supervisor, or NULL */
	/*
	 * Times in ms, as given (supv__shutdown_ns and supv__backoff_reset_ns
	 * in ns): SUPV_INFINITY is none, 0 a real zero for shutdown_ms, and
	 * "longer than backoff_max_ms" for backoff_reset_ms.
	 */
	unsigned             shutdown_ms;
	unsigned             backoff_reset_ms; /* a run this long resets streak */
	unsigned             heartbeat_ms;
	unsigned             ready_ms;
	unsigned             backoff_ms, backoff_max_ms;
	/*
	 * The exit-code lists, after the id in the spec's allocation
	 * (supv__spec_codes): n_norestart codes, then n_escalate more.
	 */
	uint16_t             n_norestart, n_escalate; /* SUPV_CODES_MAX each */
	unsigned             index;        /* a pool worker's index */

	/* Its state. */
	unsigned             restarts;     /* restarts since the spec was added */
	int                  last_code;    /* the last run's exit code (last_exit:
	                                      its kind), once exits[] counts one */
	uint64_t             epochs;       /* runs prepared so far (supv_epoch) */
	struct supv__chaos  *chaos;        /* a fault to inject (supv_chaos), or NULL */
	uint64_t             hb_cpu;       /* thread CPU time at the last check */
	/*
	 * Its history, for the control socket and metrics: never reset.
	 * Runs ended, by kind: 48-bit counters (supv__child_exits), which
	 * last 8 years at a million exits a second.
	 */
	uint32_t             exits_lo[SUPV__EXIT_KINDS];
	uint16_t             exits_hi[SUPV__EXIT_KINDS];
	/*
	 * Options again, the small ones, last with the state's: bit-fields,
	 * which is safe as every one of them has the same guard (the tree's
	 * lock), and none is read without it.
	 */
	unsigned             last_exit : 3;  /* see last_code */
	unsigned             restart : 2;    /* enum supv_restart */
	unsigned             on_timeout : 2; /* enum supv_on_timeout */
	unsigned             state : 2;      /* enum child_state */
	unsigned             streak : 7;     /* consecutive failures, for
	                                        backoff (at most 64) */
	bool                 hang_trace : 1;
	bool                 backoff_reset_on_ready : 1;
	bool                 significant : 1;
	bool                 same_thread : 1;
	bool                 arg_boxed : 1;
	bool                 monitored : 1;  /* in its group's slots or owner->hbfound */
	bool                 hb_found : 1;   /* ... the latter: found hung */
	bool                 hb_spinning : 1; /* ... and spinning then */
	bool                 hung_asked : 1; /* found hung, asked to stop: in
	                                      owner->hungq, counted in its
	                                      root's hung_now */
	bool                 is_proc : 1;    /* a process child: proc, not fn */
	bool                 hb_linked : 1;  /* counted in its period's group in
	                                        owner (supv__hb_group) */
	char                 id[];         /* allocated to fit (spec_alloc, spec.c) */
};

RB_HEAD(child_ids, child);
RB_HEAD(child_pend, child);

/*
 * A monitored child as a heartbeat round sees it: a flat array of these
 * per group, so that a round reads its children in address order (one
 * line for two of them, which the CPU fetches ahead) and, at random, one
 * line per child: the run's beat.
 */
struct hb_slot {
	struct supv_worker *run;          /* the child's live run */
	struct child       *child;
	uint64_t            last;         /* its last beat came by then (ns), or
	                                     by the end of the last round if
	                                     fresh */
	uint32_t            seen;         /* low bits of beat at the last round */
	uint32_t            fresh;        /* the last round saw it beat */
};

/*
 * The monitored children of one supervisor that share a heartbeat_ms: one
 * timer and one sampling round for all of them (heartbeat.c).  Made when
 * the first spec with that period is linked, freed with the last.  Every
 * field is guarded by the tree's lock.
 */
struct hb_group {
	TAILQ_ENTRY(hb_group) link;         /* in owner->hbgroups */
	struct hb_slot       *slots;        /* nslots monitored children, room
	                                       for every linked spec (cap) */
	unsigned              nslots, cap;
	unsigned              heartbeat_ms;
	unsigned              nspecs;       /* linked specs with this period */
	uint64_t              step;         /* ns between rounds */
	uint64_t              at;           /* next round; NO_DEADLINE: none */
	uint64_t              end;          /* the last round's loads were all
	                                       done by then (ns) */
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
	/*
	 * See above.  Beside wake and exitq, which a worker that ends has
	 * just written: the hold it takes to wake the loop after the unlock
	 * (supv__sup_wake_later) costs no other line.
	 */
	atomic_uint          refs;
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
	enum supv_exit_kind  end_kind;    /* mu: how the last run ended */
	bool                 start_done;  /* mu: supv_start may return */
	int                  wait_fd;     /* mu: supv_wait_fd(), readable while
	                                     no run is in progress; -1: none */
	unsigned long        probe_seq;   /* mu: liveness probes sent */
	unsigned             hung_now;    /* mu: children being stopped as hung, tree-wide */
	struct notify       *notify;      /* mu: systemd notification, or NULL */
	struct sigstop      *sigstop;     /* mu: supv_stop_on_signals(), or NULL */
	struct control      *control;     /* mu: supv_control_listen(), or NULL */
	struct supv__procwatch *procwatch; /* mu: its tree's process watcher
	                                     (a root's, made at the first
	                                     process child's start), or NULL */
	void               (*control_free)(struct supv *); /* closes it, without mu */

	/* A pool's own (supv_add_pool): its workers stop all at once. */
	bool                 parallel_stop; /* constant once it is added */
	struct workerpool   *wpool;       /* its state (pools/workerpool.c), or NULL */
	void               (*wpool_free)(struct workerpool *); /* frees it, without mu */
};

/* A fault a child's runs inject on request (supv_chaos, checks/chaos.c). */
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
#endif
