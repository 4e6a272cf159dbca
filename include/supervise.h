/*
 * supervise.h - Erlang/OTP-style supervision trees of threads for C.
 *
 * Copyright (c) 2026 The libsupervise authors.  See COPYING (ISC licence).
 *
 * Every function that can fail returns 0 or a positive errno value, as
 * pthreads does; errno itself is left unspecified.  A failed call changes
 * nothing.  See supervise(7) for the model and the thread-safety rules.
 */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; supv_version() gives the library's. */
#define SUPV_VERSION_MAJOR  1
#define SUPV_VERSION_MINOR  2
#define SUPV_VERSION_PATCH  0
#define SUPV_VERSION_STRING "1.2.0"

#define SUPV_ID_MAX   63
#define SUPV_CODES_MAX 256             /* most codes in one exit-code list (1.1) */
#define SUPV_INFINITY UINT_MAX         /* no limit */
#define SUPV_ZERO     (UINT_MAX - 1)   /* a real zero where 0 means "default" */

struct supv;          /* a supervisor */
struct supv_worker;   /* one run of a worker, as the worker sees itself */
struct supv_event;
struct supv_counts;

/*
 * A worker's body.  Return 0 for a normal exit, anything else for a failure
 * (the value is reported as the exit code).
 */
typedef int  supv_work_fn(struct supv_worker *self, void *arg);
typedef void supv_event_fn(const struct supv_event *ev, void *arg);

enum supv_strategy      { SUPV_ONE_FOR_ONE = 0, SUPV_ONE_FOR_ALL, SUPV_REST_FOR_ONE };
enum supv_restart       { SUPV_PERMANENT = 0, SUPV_TRANSIENT, SUPV_TEMPORARY };
enum supv_auto_shutdown { SUPV_AUTO_NEVER = 0, SUPV_AUTO_ANY, SUPV_AUTO_ALL };
/* What happens to a worker still running when its shutdown_ms grace runs out. */
enum supv_on_timeout    { SUPV_TIMEOUT_ABANDON = 0, SUPV_TIMEOUT_CANCEL, SUPV_TIMEOUT_ABORT };

enum supv_exit_kind {
	SUPV_EXIT_NORMAL = 0,    /* the worker returned 0 on its own */
	SUPV_EXIT_FAILURE,       /* the worker returned non-zero on its own */
	SUPV_EXIT_SHUTDOWN,      /* it ended after its supervisor asked it to stop */
	SUPV_EXIT_HUNG,          /* it missed its heartbeat deadline */
	SUPV_EXIT_CANCELLED,     /* it called pthread_exit() or was cancelled by the application */
	SUPV_EXIT_START_FAILED,  /* it could not be started (no thread; ready_ms missed) */
	SUPV_EXIT_GAVE_UP,       /* a supervisor exceeded its restart intensity */
	SUPV_EXIT_KILLED         /* a process child died of a signal (code: the signal) */
};

enum supv_event_kind {
	SUPV_EV_START,           /* a child started */
	SUPV_EV_EXIT,            /* a child ended: .exit and .code say how */
	SUPV_EV_RESTART,         /* a child is being restarted now */
	SUPV_EV_HUNG,            /* a child missed its heartbeat deadline */
	SUPV_EV_STOP_TIMEOUT,    /* a child outlived its shutdown_ms grace */
	SUPV_EV_BACKOFF,         /* a restart is delayed by .delay_ms */
	SUPV_EV_GIVE_UP,         /* the supervisor exceeded its restart intensity */
	SUPV_EV_SUP_EXIT         /* the supervisor itself terminated */
};

/*
 * Which rule decided what an exit means (struct supv_event's rule, 1.1):
 * the child's restart type, one of its exit-code lists, or, for GIVE_UP,
 * the supervisor's restart intensity.
 */
enum supv_rule {
	SUPV_RULE_NONE = 0,         /* no decision is reported with this event */
	SUPV_RULE_RESTART_TYPE,     /* EXIT: decided by permanent/transient/temporary */
	SUPV_RULE_NO_RESTART_CODE,  /* EXIT: its code is in no_restart_codes: not restarted */
	SUPV_RULE_ESCALATE_CODE,    /* EXIT, GIVE_UP: its code is in escalate_codes */
	SUPV_RULE_INTENSITY         /* GIVE_UP: more restarts than intensity in period_ms */
};

struct supv_event {
	enum supv_event_kind kind;
	const char          *sup;       /* the supervisor's name */
	const char          *child;     /* the child's id; NULL for GIVE_UP and SUP_EXIT */
	enum supv_exit_kind  exit;      /* EXIT, SUP_EXIT: how it ended */
	int                  code;      /* EXIT: the worker's return value, 0 if it never returned */
	unsigned             restarts;  /* restarts inside the current intensity window */
	unsigned             delay_ms;  /* BACKOFF */
	uint64_t             at_ns;     /* CLOCK_MONOTONIC */
	/* Extensions (may grow at the end). */
	bool                 spinning;  /* HUNG: the thread used CPU during its last
	                                   heartbeat interval (a busy loop), rather
	                                   than being blocked */
	enum supv_rule       rule;      /* EXIT, GIVE_UP: the rule that decided (1.1) */
	const char          *detail;    /* HUNG with hang_trace: the thread's kernel
	                                   state and stack, one frame a line; NULL
	                                   when nothing was captured (1.1) */
};

struct supv_opts {
	const char             *name;          /* default "supervisor" */
	enum supv_strategy      strategy;
	unsigned                intensity;     /* most restarts allowed ...  (default 1; SUPV_ZERO: none;
	                                          SUPV_INFINITY: never give up) */
	unsigned                period_ms;     /* ... within this sliding window (default 5000) */
	enum supv_auto_shutdown auto_shutdown;
	supv_event_fn          *on_event;      /* may be NULL */
	void                   *event_arg;
};

struct supv_child_opts {
	const char          *id;             /* required; unique among its siblings */
	enum supv_restart    restart;
	unsigned             shutdown_ms;    /* grace after a stop request: default 5000 for a
	                                        worker, SUPV_INFINITY for a supervisor;
	                                        SUPV_ZERO: no grace */
	enum supv_on_timeout on_timeout;     /* when the grace runs out */
	unsigned             heartbeat_ms;   /* 0: not monitored; else the longest time allowed
	                                        without supv_heartbeat() */
	unsigned             ready_ms;       /* 0: started once its thread is created; else a
	                                        start waits up to this long for supv_ready() */
	unsigned             backoff_ms;     /* 0: restart at once; else the first delay ... */
	unsigned             backoff_max_ms; /* ... doubling per consecutive failure up to this
	                                        (0: same as backoff_ms; less than it: EINVAL) */
	bool                 significant;    /* counts for auto_shutdown */
	size_t               stack_size;     /* 0: the system's default */
	void               (*arg_free)(void *arg); /* called once, when the spec is gone and
	                                        every run of it has returned; may be NULL */
	/* Extensions. */
	bool                 same_thread;    /* a run that returns and is restarted one for
	                                        one restarts on its own thread, at once
	                                        (no thread creation, no hand-off);
	                                        thread-local storage carries over */
	/* Decisions by exit code (1.1).  Only a code the worker returned counts
	   (an exit of kind NORMAL or FAILURE); the lists are copied. */
	const int           *no_restart_codes;   /* finished: never restarted for these */
	unsigned             n_no_restart_codes;
	const int           *escalate_codes;     /* its supervisor gives up at once */
	unsigned             n_escalate_codes;
	/* Backoff reset (1.1). */
	unsigned             backoff_reset_ms;   /* a run of at least this long resets the
	                                            failure streak (0: longer than
	                                            backoff_max_ms, as in 1.0) */
	bool                 backoff_reset_on_ready; /* supv_ready() resets it */
	bool                 hang_trace;     /* a HUNG event's detail says where the
	                                        thread is stuck (1.1; a signal,
	                                        see supv_heartbeat(3)) */
};

struct supv_counts {
	unsigned specs;        /* child specs */
	unsigned active;       /* children running (or stopping) */
	unsigned supervisors;  /* specs of child supervisors ... */
	unsigned workers;      /* ... and of workers */
};

/* One child, as supv_which_children() reports it. */
struct supv_child_info {
	char              id[SUPV_ID_MAX + 1];
	bool              is_sup;     /* a child supervisor rather than a worker */
	bool              running;    /* a run of it is alive (starting, running or stopping) */
	bool              pending;    /* waiting for a backoff delay before a restart */
	enum supv_restart restart;
	unsigned          restarts;   /* times it was restarted since its spec was added */
};

/*
 * Growth-safe structs.  Every struct the caller allocates, option or
 * output, reaches the library with its size: the calls taking one are
 * macros that pass sizeof of the caller's struct type to a *_sized entry
 * point.  The library reads an older, smaller option struct only up to
 * its size (the rest is 0: the default) and writes an output struct only
 * up to its size (arrays at the caller's stride).  A newer, larger struct
 * whose extra fields are all 0 works with an older library; one that sets
 * them gets E2BIG.  The plain functions remain for programs built against
 * 1.0 and for function pointers.  See supervise(7), ABI.
 */

/* Building and running a tree */
int  supv_new(struct supv **out, const struct supv_opts *opts);   /* opts may be NULL */
int  supv_add_worker(struct supv *sup, const struct supv_child_opts *opts,
                     supv_work_fn *fn, void *arg);
int  supv_add_sup(struct supv *parent, const struct supv_child_opts *opts, struct supv *child);
/*
 * Sizes go last so that the macros can be variadic: commas inside a
 * compound literal argument stay where they are.
 */
int  supv_new_sized(struct supv **out, const struct supv_opts *opts, size_t opts_size);
int  supv_add_worker_sized(struct supv *sup, const struct supv_child_opts *opts,
                           supv_work_fn *fn, void *arg, size_t opts_size);
int  supv_add_sup_sized(struct supv *parent, const struct supv_child_opts *opts,
                        struct supv *child, size_t opts_size);
#define supv_new(...) \
	supv_new_sized(__VA_ARGS__, sizeof(struct supv_opts))
#define supv_add_worker(...) \
	supv_add_worker_sized(__VA_ARGS__, sizeof(struct supv_child_opts))
#define supv_add_sup(...) \
	supv_add_sup_sized(__VA_ARGS__, sizeof(struct supv_child_opts))
int  supv_start(struct supv *root);
int  supv_stop(struct supv *root);
int  supv_wait(struct supv *root, enum supv_exit_kind *why);      /* why may be NULL */
void supv_free(struct supv *sup);
/*
 * For a program with its own event loop: supv_timedwait() gives up after
 * timeout_ms (ETIMEDOUT), and supv_wait_fd() is a descriptor that is
 * readable while no run of root is in progress (-1 if none can be made).
 */
int  supv_timedwait(struct supv *root, enum supv_exit_kind *why, unsigned timeout_ms);
int  supv_wait_fd(struct supv *root);

/* Children of a running or stopped supervisor */
int  supv_terminate_child(struct supv *sup, const char *id);
int  supv_restart_child(struct supv *sup, const char *id);
int  supv_delete_child(struct supv *sup, const char *id);
int  supv_count_children(struct supv *sup, struct supv_counts *out);
/*
 * Lists the children in start order: fills up to n entries of out (out may
 * be NULL when n is 0) and stores the number of children in *total.
 */
int  supv_which_children(struct supv *sup, struct supv_child_info *out, size_t n,
                         size_t *total);
int  supv_count_children_sized(struct supv *sup, struct supv_counts *out, size_t out_size);
int  supv_which_children_sized(struct supv *sup, struct supv_child_info *out, size_t n,
                               size_t *total, size_t stride);
#define supv_count_children(...) \
	supv_count_children_sized(__VA_ARGS__, sizeof(struct supv_counts))
#define supv_which_children(...) \
	supv_which_children_sized(__VA_ARGS__, sizeof(struct supv_child_info))

/*
 * The control socket (1.1): a running tree seen and steered from outside,
 * by supervisectl(1) or any program that speaks its line protocol.  See
 * supv_control_listen(3).  Every field may be 0 for its default.
 */
struct supv_control_opts {
	bool         allow_changes;  /* serve "restart" and "terminate" (default:
	                                refused, EPERM) */
	const uid_t *uids;           /* other users allowed besides the process's
	                                own and root ... */
	size_t       n_uids;
	const gid_t *gids;           /* ... and groups whose members are */
	size_t       n_gids;
	unsigned     max_clients;    /* clients served at once (default 16) */
	unsigned     timeout_ms;     /* one client's whole exchange (default 5000) */
	unsigned     probe_ms;       /* "health": how long every loop has to
	                                answer the liveness probe (default 1000) */
};

int  supv_control_listen(struct supv *root, const char *path,
                         const struct supv_control_opts *opts); /* opts may be NULL */
int  supv_control_listen_sized(struct supv *root, const char *path,
                               const struct supv_control_opts *opts, size_t opts_size);
#define supv_control_listen(...) \
	supv_control_listen_sized(__VA_ARGS__, sizeof(struct supv_control_opts))
/*
 * The tree's metrics in the Prometheus text exposition format, written as
 * snprintf() does: at most size bytes, NUL included; returns the length of
 * the whole text, or -1 with errno set (EINVAL, ENOMEM).
 */
int  supv_metrics_format(struct supv *root, char *buf, size_t size);

/* Inside a worker */
void        supv_heartbeat(struct supv_worker *self);
bool        supv_stopping(const struct supv_worker *self);
int         supv_sleep(struct supv_worker *self, unsigned ms);
int         supv_stop_fd(struct supv_worker *self);
void        supv_ready(struct supv_worker *self);
const char *supv_worker_id(const struct supv_worker *self);
/*
 * Fencing (1.1): true once this run was given up (abandoned after its
 * grace, or its task attempt given up after its deadline) and another
 * may run beside it; ask before committing shared state.  One atomic load.
 */
bool        supv_superseded(const struct supv_worker *self);
/* This run's number among its child's runs, from 1; grows with every run. */
uint64_t    supv_epoch(const struct supv_worker *self);
/*
 * Suspends hang detection for this run for up to ms milliseconds (a slow
 * but healthy phase); the next supv_heartbeat() ends the extension early.
 * SUPV_INFINITY suspends it until the next supv_heartbeat().
 */
int         supv_extend(struct supv_worker *self, unsigned ms);

/*
 * Pools of identical workers (OTP's simple_one_for_one): a child
 * supervisor, named opts->id, of size workers made from one spec and one
 * function, with ids "<id>.<index>".  It restarts them one for one and
 * stops them all at once.
 */
struct supv_pool_opts {
	unsigned size;        /* workers (default 1; SUPV_ZERO: none yet) */
	unsigned intensity;   /* the pool supervisor's, as in supv_opts */
	unsigned period_ms;
};
int      supv_add_pool(struct supv *sup, const struct supv_child_opts *opts,
                       const struct supv_pool_opts *pool, supv_work_fn *fn, void *arg);
int      supv_add_pool_sized(struct supv *sup, const struct supv_child_opts *opts,
                             const struct supv_pool_opts *pool, supv_work_fn *fn,
                             void *arg, size_t opts_size, size_t pool_size);
#define supv_add_pool(...) \
	supv_add_pool_sized(__VA_ARGS__, sizeof(struct supv_child_opts), \
	    sizeof(struct supv_pool_opts))
int      supv_pool_resize(struct supv *sup, const char *id, unsigned size);

/* A pool worker's index, from 0; 0 for a worker outside a pool. */
unsigned supv_worker_index(const struct supv_worker *self);

/*
 * Process children (v4): an external program as a child of the tree, under
 * the same strategies, intensity, backoff, readiness and heartbeats as a
 * worker thread.  Status 0 is NORMAL, N is FAILURE with code N, death by a
 * signal is KILLED with code the signal.  See supv_add_process(3).
 */
struct supv_rlimit { int resource; rlim_t soft; rlim_t hard; };  /* as setrlimit(2) */

struct supv_process_opts {
	const char *const        *argv;        /* required; argv[0] as execvp(3) finds it */
	const char *const        *envp;        /* NULL: the environment at each start */
	const char               *cwd;         /* NULL: unchanged */
	int                       stop_signal; /* 0: SIGTERM; after shutdown_ms, SIGKILL */
	bool                      notify;      /* the sd_notify protocol on NOTIFY_SOCKET */
	const struct supv_rlimit *rlimits;     /* applied before the program runs */
	unsigned                  n_rlimits;
};
int      supv_add_process(struct supv *sup, const struct supv_child_opts *opts,
                          const struct supv_process_opts *popts);
int      supv_add_process_sized(struct supv *sup, const struct supv_child_opts *opts,
                                const struct supv_process_opts *popts,
                                size_t opts_size, size_t popts_size);
#define supv_add_process(...) \
	supv_add_process_sized(__VA_ARGS__, sizeof(struct supv_child_opts), \
	    sizeof(struct supv_process_opts))

/*
 * Running under systemd (supv_notify_systemd): what a root tells the
 * manager through $NOTIFY_SOCKET.  Nothing is sent when it is unset.
 */
#define SUPV_NOTIFY_READY    0x1u  /* READY=1 once started, STOPPING=1 at the end */
#define SUPV_NOTIFY_STATUS   0x2u  /* STATUS= lines with the tree's state */
#define SUPV_NOTIFY_WATCHDOG 0x4u  /* WATCHDOG=1 every $WATCHDOG_USEC/2 while healthy */
#define SUPV_NOTIFY_ALL      0x7u
int  supv_notify_systemd(struct supv *root, unsigned flags);

/*
 * The n signals in signals (NULL: SIGTERM and SIGINT) stop the tree; call
 * it from main() before any other thread is made.
 */
int  supv_stop_on_signals(struct supv *root, const int *signals, size_t n);
/* The signal that stopped root through supv_stop_on_signals(), or 0. */
int  supv_stop_signal(const struct supv *root);

/* Ready-made event callbacks: one "key=value" line per event. */
void supv_log_stderr(const struct supv_event *ev, void *arg);
void supv_log_syslog(const struct supv_event *ev, void *arg);
/* Formats ev as those lines do (no newline); snprintf's conventions. */
int  supv_event_format(const struct supv_event *ev, char *buf, size_t size);
/* The exit status for main() after a run that ended so: 0 or 1. */
int  supv_exit_status(enum supv_exit_kind why);

/*
 * Reports, one line each ("app/db/conn: ..."), the children of sup's
 * tree whose options cannot behave as written (1.1).  snprintf
 * conventions; returns the number of findings, or -1 with errno set.
 */
int  supv_check(struct supv *sup, char *buf, size_t size);
/*
 * Faults on request for tests (1.1): "app/db/conn:fail=3@2,app/web:hang%5"
 * makes conn return 3 on its 2nd run from now and web hang on every 5th;
 * actions fail[=CODE], hang, noready.  Replaces the rules of sup's tree;
 * NULL or "" clears them.  SUPV_CHAOS in the environment is applied the
 * same way by supv_start() of a root.  See supv_chaos(3).
 */
int  supv_chaos(struct supv *sup, const char *spec);

/* Names */
const char *supv_name(const struct supv *sup);
const char *supv_exit_kind_name(enum supv_exit_kind kind);
const char *supv_rule_name(enum supv_rule rule);
const char *supv_event_kind_name(enum supv_event_kind kind);
/* The library's version, "MAJOR.MINOR.PATCH" (since 1.1). */
const char *supv_version(void);

/* --- task pools (supv_taskpool_*, supv_task_*) --- */
/*
 * A task pool is a child supervisor of worker threads serving a bounded
 * queue of tasks.  A task that fails, hangs, runs past its deadline or
 * whose worker dies is retried on a fresh worker, up to its attempts.
 * Semantics are at-least-once.  See supv_taskpool_add(3).
 */
struct supv_taskpool;   /* a pool, valid as long as its spec in the tree */
struct supv_task;       /* a submitted task, as its submitter holds it */

/* A task's body: 0 for success, anything else is a failed attempt. */
typedef int supv_task_fn(struct supv_worker *self, void *arg);

enum supv_task_status {
	SUPV_TASK_PENDING = 0,  /* not finished: queued, running or to be retried */
	SUPV_TASK_DONE,         /* an attempt returned 0 */
	SUPV_TASK_FAILED,       /* the last attempt returned non-zero (.code) */
	SUPV_TASK_HUNG,         /* the last attempt's worker missed its heartbeat */
	SUPV_TASK_TIMED_OUT,    /* the last attempt ran past its deadline */
	SUPV_TASK_CRASHED,      /* the last attempt's worker was cancelled or exited */
	SUPV_TASK_CANCELLED     /* cancelled before it could finish (.attempts ran) */
};

struct supv_task_result {
	enum supv_task_status status;
	int                   code;      /* the last attempt's return value, 0 if none */
	unsigned              attempts;  /* attempts started */
};

/* Called once per task, with its result, before any waiter returns. */
typedef void supv_task_done_fn(const struct supv_task_result *res, void *arg);

/* What supv_taskpool_stop() does with the tasks not finished yet. */
enum supv_taskpool_stop_mode { SUPV_TASKPOOL_DRAIN = 0, SUPV_TASKPOOL_CANCEL };

struct supv_taskpool_opts {
	unsigned             workers;        /* default: the number of online CPUs */
	unsigned             queue_len;      /* most tasks waiting to start (default 1024;
	                                        SUPV_INFINITY: no bound) */
	unsigned             attempts;       /* per task (default 3; SUPV_INFINITY: no limit) */
	unsigned             backoff_ms;     /* 0: retry at once; else the first delay ... */
	unsigned             backoff_max_ms; /* ... doubling per attempt up to this
	                                        (0: same as backoff_ms) */
	unsigned             deadline_ms;    /* longest an attempt may run (0: no limit) */
	unsigned             heartbeat_ms;   /* the workers', as in supv_child_opts */
	unsigned             shutdown_ms;    /* the workers' grace (default 5000) */
	enum supv_on_timeout on_timeout;     /* the workers', when their grace runs out */
	size_t               stack_size;     /* the workers' (0: the system's default) */
	unsigned             intensity;      /* the pool supervisor's (default SUPV_INFINITY) */
	unsigned             period_ms;      /* (default 5000) */
	supv_event_fn       *on_event;       /* the pool supervisor's events; may be NULL */
	void                *event_arg;
	/* Since 1.2: */
	unsigned             prefetch;       /* plain tasks a worker takes at once
	                                        (default and most 16; 1: one) */
};

struct supv_task_opts {
	unsigned           attempts;     /* 0: the pool's */
	unsigned           deadline_ms;  /* 0: the pool's; SUPV_INFINITY: no limit */
	unsigned           wait_ms;      /* queue full: how long submit waits (0: no
	                                    limit; SUPV_ZERO: not at all, EAGAIN) */
	supv_task_done_fn *on_done;      /* may be NULL */
	void              *done_arg;
};

struct supv_taskpool_stats {
	uint64_t submitted;   /* tasks accepted */
	uint64_t succeeded;   /* finished SUPV_TASK_DONE */
	uint64_t failed;      /* finished FAILED, HUNG, TIMED_OUT or CRASHED */
	uint64_t cancelled;   /* finished SUPV_TASK_CANCELLED */
	uint64_t retries;     /* attempts after a task's first */
	unsigned pending;     /* accepted and not finished */
	unsigned queued;      /* waiting to start (retries waiting for backoff too) */
	unsigned running;     /* attempts running */
	unsigned workers;     /* worker threads serving the pool */
};

int  supv_taskpool_add(struct supv *sup, const struct supv_child_opts *spec,
                       const struct supv_taskpool_opts *opts, struct supv_taskpool **out);
int  supv_taskpool_submit(struct supv_taskpool *pool, supv_task_fn *fn, void *arg,
                          const struct supv_task_opts *opts, struct supv_task **out);
int  supv_taskpool_stop(struct supv_taskpool *pool, enum supv_taskpool_stop_mode mode,
                        unsigned drain_ms);
/*
 * In C++ this function hides the struct of the same name, which C++ code
 * therefore names "struct supv_taskpool_stats", as C code does.  g++
 * -Wshadow reports that hiding at the declaration, whatever the order of
 * the two; the warning is turned off for this declaration alone.
 */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
int  supv_taskpool_stats(struct supv_taskpool *pool, struct supv_taskpool_stats *out);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
int  supv_task_wait(struct supv_task *task, unsigned timeout_ms,
                    struct supv_task_result *res);
int  supv_task_poll(struct supv_task *task, struct supv_task_result *res);
int  supv_taskpool_add_sized(struct supv *sup, const struct supv_child_opts *spec,
                             const struct supv_taskpool_opts *opts,
                             struct supv_taskpool **out, size_t spec_size,
                             size_t opts_size);
int  supv_taskpool_submit_sized(struct supv_taskpool *pool, supv_task_fn *fn, void *arg,
                                const struct supv_task_opts *opts, struct supv_task **out,
                                size_t opts_size);
int  supv_taskpool_stats_sized(struct supv_taskpool *pool, struct supv_taskpool_stats *out,
                               size_t out_size);
int  supv_task_wait_sized(struct supv_task *task, unsigned timeout_ms,
                          struct supv_task_result *res, size_t res_size);
int  supv_task_poll_sized(struct supv_task *task, struct supv_task_result *res,
                          size_t res_size);
#define supv_taskpool_add(...) \
	supv_taskpool_add_sized(__VA_ARGS__, sizeof(struct supv_child_opts), \
	    sizeof(struct supv_taskpool_opts))
#define supv_taskpool_submit(...) \
	supv_taskpool_submit_sized(__VA_ARGS__, sizeof(struct supv_task_opts))
#define supv_taskpool_stats(...) \
	supv_taskpool_stats_sized(__VA_ARGS__, sizeof(struct supv_taskpool_stats))
#define supv_task_wait(...) \
	supv_task_wait_sized(__VA_ARGS__, sizeof(struct supv_task_result))
#define supv_task_poll(...) \
	supv_task_poll_sized(__VA_ARGS__, sizeof(struct supv_task_result))
int  supv_task_cancel(struct supv_task *task);
void supv_task_release(struct supv_task *task);
/* Inside a task: which attempt this is (1 for the first); 0 outside a task. */
unsigned    supv_task_attempt(const struct supv_worker *self);
const char *supv_task_status_name(enum supv_task_status status);
/* --- end of task pools --- */

#ifdef __cplusplus
}
#endif

#endif /* SUPERVISE_H */
