/*
 * abi.h - the first published layout (1.0) of every struct a caller
 * allocates, frozen.  Their sizes are the smallest a *_sized call accepts,
 * and what the plain 1.0 entry points (abi.c) pass for programs built
 * against 1.0.  Never change these: append to the public structs instead.
 */
#ifndef SUPERVISE_ABI_H
#define SUPERVISE_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct v10_opts {
	const char *name;
	int         strategy;
	unsigned    intensity, period_ms;
	int         auto_shutdown;
	void       *on_event, *event_arg;
};

struct v10_child_opts {
	const char *id;
	int         restart;
	unsigned    shutdown_ms;
	int         on_timeout;
	unsigned    heartbeat_ms, ready_ms, backoff_ms, backoff_max_ms;
	bool        significant;
	size_t      stack_size;
	void      (*arg_free)(void *);
	bool        same_thread;
};

struct v10_counts { unsigned specs, active, supervisors, workers; };

struct v10_child_info {
	char     id[64];
	bool     is_sup, running, pending;
	int      restart;
	unsigned restarts;
};

struct v10_pool_opts { unsigned size, intensity, period_ms; };

struct v10_taskpool_opts {
	unsigned workers, queue_len, attempts, backoff_ms, backoff_max_ms;
	unsigned deadline_ms, heartbeat_ms, shutdown_ms;
	int      on_timeout;
	size_t   stack_size;
	unsigned intensity, period_ms;
	void    *on_event, *event_arg;
};

struct v10_task_opts {
	unsigned attempts, deadline_ms, wait_ms;
	void    *on_done, *done_arg;
};

struct v10_task_result { int status; int code; unsigned attempts; };

struct v10_taskpool_stats {
	uint64_t submitted, succeeded, failed, cancelled, retries;
	unsigned pending, queued, running, workers;
};

/* 1.1's first layout of a struct that came in 1.1. */
struct v11_control_opts {
	bool        allow_changes;
	const void *uids;
	size_t      n_uids;
	const void *gids;
	size_t      n_gids;
	unsigned    max_clients, timeout_ms, probe_ms;
};

#define SUPV_V10_OPTS          sizeof(struct v10_opts)
#define SUPV_V10_CHILD_OPTS    sizeof(struct v10_child_opts)
#define SUPV_V10_COUNTS        sizeof(struct v10_counts)
#define SUPV_V10_CHILD_INFO    sizeof(struct v10_child_info)
#define SUPV_V10_POOL_OPTS     sizeof(struct v10_pool_opts)
#define SUPV_V10_TASKPOOL_OPTS sizeof(struct v10_taskpool_opts)
#define SUPV_V10_TASK_OPTS     sizeof(struct v10_task_opts)
#define SUPV_V10_TASK_RESULT   sizeof(struct v10_task_result)
#define SUPV_V10_TASKPOOL_STATS sizeof(struct v10_taskpool_stats)
#define SUPV_V11_CONTROL_OPTS  sizeof(struct v11_control_opts)

#endif /* SUPERVISE_ABI_H */
