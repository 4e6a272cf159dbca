/*
 * core.h - the tree's functions, by file of core/.  Unless its comment
 * says otherwise, each is called with the tree's lock held.
 */
#ifndef SUPV_CORE_H
#define SUPV_CORE_H

#include <string.h>

#include "core/tree.h"

/* dom.c: lock domains, who the caller is, a loop's sleep */
extern _Thread_local struct supv *supv__tls_sup;        /* the loop this thread is */
extern _Thread_local struct supv_worker *supv__tls_run; /* the run this thread is */
struct dom *supv__dom_new(void);
void     supv__dom_unref(struct dom *d);
int      supv__dom_merge(struct supv *into, struct supv *top, struct dom **locked);
void     supv__dom_split(struct supv *top);
/* The lock of s's tree (its domain), returned locked. */
struct dom *supv__lock_sup(const struct supv *s);
void     supv__unlock_sup(const struct supv *s);
/* A call that may wait: the lock taken, the domain pinned till it leaves. */
struct dom *supv__tree_enter(const struct supv *s);
void     supv__tree_leave(struct dom *d);
pthread_mutex_t *supv__mu_of(const struct supv *s);
struct dom *supv__dom_of(const struct supv *s);
void     supv__dom_lock(struct dom *d);
void     supv__dom_unlock(struct dom *d);
/* The lock a run answers to: its tree's (not its own rmu). */
void     supv__lock_run_tree(const struct supv_worker *r);
void     supv__unlock_run_tree(const struct supv_worker *r);
/*
 * A loop's sleep: until supv__sup_wake(s) or deadline (false once it has
 * passed), the tree's lock dropped meanwhile.  Both with that lock held.
 */
bool     supv__sup_sleep_until(struct supv *s, uint64_t deadline);
void     supv__sup_wake(struct supv *s);
bool     supv__sup_wake_later(struct supv *s);
void     supv__sup_wake_after(struct supv *s);
/* EPERM in a child process after fork(): the tree's threads are not there. */
int      supv__check_owner(const struct supv *s);
struct supv *supv__root_of(struct supv *s);
bool     supv__in_subtree(const struct supv *top, const struct supv *s);
bool     supv__caller_is_loop_of(struct supv *target);
struct supv *supv__caller_worker_sup(struct supv *target);

/* arg.c: a spec's argument, shared with its runs */
/* An argument, boxed only with an arg_free: 0 or ENOMEM. */
int   supv__arg_init(union supv__arg *a, void *arg,
    void (*free_fn)(void *));
void  supv__arg_ref(union supv__arg a, bool boxed);
void  supv__arg_unref(union supv__arg a, bool boxed);
void  supv__arg_keep(union supv__arg a, bool boxed);  /* arg_free never runs */
void *supv__arg_value(union supv__arg a, bool boxed);

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
/* The child that path names below top ("top/a/b", parts %XX-decoded). */
int   supv__resolve_path(struct supv *top, const char *path, struct child **out);
/* The path of supervisor s from top (NULL: its root), %XX-encoded. */
void  supv__buf_path(struct supv__buf *b, const struct supv *top,
    const struct supv *s);
void  supv__child_set_state(struct child *c, enum child_state to);
void  supv__sup_set_state(struct supv *s, enum sup_state to);
void  supv__sup_destroy(struct supv *s);
void  supv__sup_hold(struct supv *s);
void  supv__sup_release(struct supv *s);
void  supv__spec_delete(struct supv *s, struct child *c);
void  supv__spec_delete_all(struct supv *root);

/* A child's grace in ns: NO_DEADLINE to wait for ever. */
static inline uint64_t
supv__shutdown_ns(const struct child *c)
{
	return c->shutdown_ms == SUPV_INFINITY ? NO_DEADLINE :
	    (uint64_t)c->shutdown_ms * NS_PER_MS;
}

/* How long a run must last to reset the streak (ns); 0: past backoff_max_ms. */
static inline uint64_t
supv__backoff_reset_ns(const struct child *c)
{
	return c->backoff_reset_ms == SUPV_INFINITY ? UINT64_MAX :
	    (uint64_t)c->backoff_reset_ms * NS_PER_MS;
}

/* A child's runs that ended with kind k, so far. */
static inline uint64_t
supv__child_exits(const struct child *c, unsigned k)
{
	return (uint64_t)c->exits_hi[k] << 32 | c->exits_lo[k];
}

/* Its exit-code lists: n_norestart codes, then n_escalate more, after its id. */
static inline const int *
supv__spec_codes(const struct child *c)
{
	uintptr_t p = (uintptr_t)(c->id + strlen(c->id) + 1);

	return (const int *)((p + _Alignof(int) - 1) & ~(uintptr_t)(_Alignof(int) - 1));
}

/* run.c: runs of a worker */
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
enum supv_exit_kind supv__run_stop_kind(struct supv_worker *r);

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

/* heartbeat.c */
int      supv__hb_link(struct supv *s, struct child *c);
void     supv__hb_unlink(struct supv *s, struct child *c);
uint64_t supv__hb_last(const struct child *c, uint32_t *seen);
void     supv__hb_destroy(struct supv *s);
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

/* chaos.c: faults on request (SUPV_CHAOS, supv_chaos) */
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

/* proc.c: process children; procwatch.c: their watcher thread */
int   supv__procspec_new(const struct supv_process_opts *o,
    struct supv__procspec **out);
void  supv__procspec_free(struct supv__procspec *ps);
bool  supv__proc_statuses_kept(void);
struct supv__procrun *supv__procrun_new(struct supv_worker *r);
void  supv__procrun_reset(struct supv__procrun *pr);
void  supv__procrun_free(struct supv__procrun *pr);
/* Spawns c's prepared run: 0, or an errno with *exec_err the exec's. */
int   supv__proc_spawn(struct supv *s, struct child *c, int *exec_err);
void  supv__proc_signal(struct supv__procrun *pr, int sig);
int   supv__procwatch_add(struct supv *root, struct supv__procrun *pr);
void  supv__procwatch_free(struct supv *root);   /* without mu, at supv_free */

/* hangtrace.c: what a hung thread is stuck on (malloc'd, or NULL) */
char    *supv__hang_trace(pthread_t thread, pid_t tid);
char    *supv__hang_trace_process(pid_t pid);
int      supv__trace_signal(void);
void     supv__trace_arm(void);

#endif
