/*
 * abi.c - the 1.0 entry points of the calls that take a struct.  Programs
 * built against 1.0 call these names with 1.0's structs; programs built
 * against a later header reach the *_sized calls through its macros.  Each
 * passes the frozen 1.0 size (abi.h).  The names are in parentheses so
 * that the header's macros do not expand them.
 */
#include "base/base.h"
#include "abi/abi.h"

/* The library's structs only grow: 1.0's are never larger. */
_Static_assert(SUPV_V10_OPTS <= sizeof(struct supv_opts), "1.0 layout");
_Static_assert(SUPV_V10_CHILD_OPTS <= sizeof(struct supv_child_opts), "1.0 layout");
_Static_assert(SUPV_V10_COUNTS <= sizeof(struct supv_counts), "1.0 layout");
_Static_assert(SUPV_V10_CHILD_INFO <= sizeof(struct supv_child_info), "1.0 layout");
_Static_assert(SUPV_V10_POOL_OPTS <= sizeof(struct supv_pool_opts), "1.0 layout");

SUPV_EXPORT int
(supv_new)(struct supv **out, const struct supv_opts *opts)
{
	return supv_new_sized(out, opts, SUPV_V10_OPTS);
}

SUPV_EXPORT int
(supv_add_worker)(struct supv *sup, const struct supv_child_opts *opts,
    supv_work_fn *fn, void *arg)
{
	return supv_add_worker_sized(sup, opts, fn, arg, SUPV_V10_CHILD_OPTS);
}

SUPV_EXPORT int
(supv_add_sup)(struct supv *parent, const struct supv_child_opts *opts,
    struct supv *child)
{
	return supv_add_sup_sized(parent, opts, child, SUPV_V10_CHILD_OPTS);
}

SUPV_EXPORT int
(supv_count_children)(struct supv *sup, struct supv_counts *out)
{
	return supv_count_children_sized(sup, out, SUPV_V10_COUNTS);
}

SUPV_EXPORT int
(supv_which_children)(struct supv *sup, struct supv_child_info *out, size_t n,
    size_t *total)
{
	return supv_which_children_sized(sup, out, n, total, SUPV_V10_CHILD_INFO);
}

SUPV_EXPORT int
(supv_add_pool)(struct supv *sup, const struct supv_child_opts *opts,
    const struct supv_pool_opts *pool, supv_work_fn *fn, void *arg)
{
	return supv_add_pool_sized(sup, opts, pool, fn, arg,
	    SUPV_V10_CHILD_OPTS, SUPV_V10_POOL_OPTS);
}

_Static_assert(SUPV_V10_TASKPOOL_OPTS <= sizeof(struct supv_taskpool_opts), "1.0 layout");
_Static_assert(SUPV_V10_TASK_OPTS <= sizeof(struct supv_task_opts), "1.0 layout");
_Static_assert(SUPV_V10_TASK_RESULT <= sizeof(struct supv_task_result), "1.0 layout");
_Static_assert(SUPV_V10_TASKPOOL_STATS <= sizeof(struct supv_taskpool_stats), "1.0 layout");

SUPV_EXPORT int
(supv_taskpool_add)(struct supv *sup, const struct supv_child_opts *spec,
    const struct supv_taskpool_opts *opts, struct supv_taskpool **out)
{
	return supv_taskpool_add_sized(sup, spec, opts, out, SUPV_V10_CHILD_OPTS,
	    SUPV_V10_TASKPOOL_OPTS);
}

SUPV_EXPORT int
(supv_taskpool_submit)(struct supv_taskpool *pool, supv_task_fn *fn, void *arg,
    const struct supv_task_opts *opts, struct supv_task **out)
{
	return supv_taskpool_submit_sized(pool, fn, arg, opts, out,
	    SUPV_V10_TASK_OPTS);
}

SUPV_EXPORT int
(supv_taskpool_stats)(struct supv_taskpool *pool,
    struct supv_taskpool_stats *out)
{
	return supv_taskpool_stats_sized(pool, out, SUPV_V10_TASKPOOL_STATS);
}

SUPV_EXPORT int
(supv_task_wait)(struct supv_task *task, unsigned timeout_ms,
    struct supv_task_result *res)
{
	return supv_task_wait_sized(task, timeout_ms, res, SUPV_V10_TASK_RESULT);
}

SUPV_EXPORT int
(supv_task_poll)(struct supv_task *task, struct supv_task_result *res)
{
	return supv_task_poll_sized(task, res, SUPV_V10_TASK_RESULT);
}

/* The control socket's options came in 1.1: its first layout is frozen. */
_Static_assert(SUPV_V11_CONTROL_OPTS <= sizeof(struct supv_control_opts), "1.1 layout");

SUPV_EXPORT int
(supv_control_listen)(struct supv *root, const char *path,
    const struct supv_control_opts *opts)
{
	return supv_control_listen_sized(root, path, opts, SUPV_V11_CONTROL_OPTS);
}

/*
 * 1.2: a name to take the address of; a program calls the macro, which
 * passes its own sizes.
 */
SUPV_EXPORT int
(supv_add_process)(struct supv *sup, const struct supv_child_opts *opts,
    const struct supv_process_opts *popts)
{
	return supv_add_process_sized(sup, opts, popts,
	    sizeof(struct supv_child_opts), sizeof(struct supv_process_opts));
}
