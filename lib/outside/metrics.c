/*
 * metrics.c - a tree's counters and gauges in the Prometheus text
 * exposition format (version 0.0.4): supv_metrics_format(), and the
 * control socket's "metrics".  Each family is written whole, with its
 * HELP and TYPE lines, walking the tree once per family.  A child is
 * labelled with its supervisor's path from the root and its own id, both
 * in the one encoding of paths (supv__buf_pathpart): plain printable
 * ASCII, so a label value is valid UTF-8 with nothing to escape, and a
 * child supervisor's child label joins its own rows' supervisor label.
 * The counters are kept where the exits and restarts are noted
 * (events.c) and never go down.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "outside/outside.h"


typedef void node_metric(struct supv__buf *b, const struct supv__snap *sn,
    int i, const char *name);

/* name{supervisor="PATH"[,child="ID"][,kind="KIND"]} */
static void
sample(struct supv__buf *b, const char *name, const struct supv__snap *sn,
    int sup, const char *child, const char *kind)
{
	supv__buf_printf(b, "%s{supervisor=\"", name);
	supv__snap_path(b, sn, sup);
	if (child != NULL) {
		supv__buf_put(b, "\",child=\"", 9);
		supv__buf_pathpart(b, child);
	}
	supv__buf_put(b, "\"", 1);
	if (kind != NULL)
		supv__buf_printf(b, ",kind=\"%s\"", kind);
	supv__buf_put(b, "} ", 2);
}

static void
child_restarts(struct supv__buf *b, const struct supv__snap *sn, int i,
    const char *name)
{
	sample(b, name, sn, sn->v[i].owner, sn->v[i].id, NULL);
	supv__buf_printf(b, "%u\n", sn->v[i].restarts);
}

static void
child_exits(struct supv__buf *b, const struct supv__snap *sn, int i,
    const char *name)
{
	/*
	 * Only a child supervisor gives up, only a process is killed: each
	 * child has the kinds it can end with.
	 */
	for (unsigned k = 0; k < SUPV__EXIT_KINDS; k++) {
		if ((k == SUPV_EXIT_GAVE_UP && !sn->v[i].is_sup) ||
		    (k == SUPV_EXIT_KILLED && !sn->v[i].is_proc) ||
		    (k == SUPV_EXIT_CANCELLED && sn->v[i].is_proc))
			continue;
		sample(b, name, sn, sn->v[i].owner, sn->v[i].id,
		    supv_exit_kind_name(k));
		supv__buf_printf(b, "%llu\n", (unsigned long long)sn->v[i].exits[k]);
	}
}

#define CHILD_GAUGE(fn, expr) \
static void \
fn(struct supv__buf *b, const struct supv__snap *sn, int i, const char *name) \
{ \
	const struct supv__snap_node *x = &sn->v[i]; \
	sample(b, name, sn, x->owner, x->id, NULL); \
	supv__buf_printf(b, "%d\n", (int)(expr)); \
}
CHILD_GAUGE(child_running, x->running)
CHILD_GAUGE(child_hung, x->hung)
CHILD_GAUGE(child_backoff, x->backoff)

#define SUP_VALUE(fn, expr) \
static void \
fn(struct supv__buf *b, const struct supv__snap *sn, int i, const char *name) \
{ \
	const struct supv__snap_node *x = &sn->v[i]; \
	sample(b, name, sn, i, NULL, NULL); \
	supv__buf_printf(b, "%llu\n", (unsigned long long)(expr)); \
}
SUP_VALUE(sup_restarts, x->restarts_total)
SUP_VALUE(sup_hung, x->hung_total)
SUP_VALUE(sup_gave_up, x->gave_up_total)
SUP_VALUE(sup_up, x->up)
SUP_VALUE(sup_children, x->nchildren)
SUP_VALUE(sup_window, x->window)

static void
family(struct supv__buf *b, const char *name, const char *type,
    const char *help)
{
	supv__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Every family of the copied tree into b.  Without the tree's lock. */
void
supv__metrics(const struct supv__snap *sn, struct supv__buf *b)
{
	static const struct {
		const char  *name, *type, *help;
		bool         of_sups;   /* else of children */
		node_metric *fn;
	} fams[] = {
		{ "supv_child_restarts_total", "counter",
		  "Times the child was restarted since it was added.",
		  false, child_restarts },
		{ "supv_child_exits_total", "counter",
		  "Runs of the child that ended, by how they ended.",
		  false, child_exits },
		{ "supv_child_running", "gauge",
		  "1 while a run of the child is alive (starting, running or stopping).",
		  false, child_running },
		{ "supv_child_hung", "gauge",
		  "1 while the child is being stopped because it missed its heartbeat.",
		  false, child_hung },
		{ "supv_child_backoff", "gauge",
		  "1 while the child waits for its restart (backoff).",
		  false, child_backoff },
		{ "supv_supervisor_restarts_total", "counter",
		  "Restarts of the supervisor's children, deleted ones included.",
		  true, sup_restarts },
		{ "supv_supervisor_hung_total", "counter",
		  "Children of the supervisor found hung.",
		  true, sup_hung },
		{ "supv_supervisor_gave_up_total", "counter",
		  "Times the supervisor gave up (restart intensity or an escalate code).",
		  true, sup_gave_up },
		{ "supv_supervisor_up", "gauge",
		  "1 while the supervisor runs (started, not stopping).",
		  true, sup_up },
		{ "supv_supervisor_children", "gauge",
		  "Child specs of the supervisor.",
		  true, sup_children },
		{ "supv_supervisor_restarts_window", "gauge",
		  "Restarts inside the supervisor's current intensity window.",
		  true, sup_window },
	};

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		family(b, fams[f].name, fams[f].type, fams[f].help);
		for (size_t i = 0; i < sn->n; i++)
			if (fams[f].of_sups ? sn->v[i].is_sup : sn->v[i].is_child)
				fams[f].fn(b, sn, (int)i, fams[f].name);
	}
	if (sn->failed)
		b->failed = true;
}

SUPV_EXPORT int
supv_metrics_format(struct supv *root, char *buf, size_t size)
{
	struct supv__buf b = { .p = buf, .cap = size, .fixed = true };
	struct supv__snap sn;

	if (root == NULL || (buf == NULL && size != 0)) {
		errno = EINVAL;
		return -1;
	}
	if (size > 0)
		buf[0] = '\0';
	supv__lock_sup(root);
	supv__snap_take(root, &sn);
	supv__unlock_sup(root);
	fault_pause(FP_REPLY_UNLOCKED);
	supv__metrics(&sn, &b);
	supv__snap_free(&sn);
	if (b.failed) {
		errno = ENOMEM;
		return -1;
	}
	if (b.len > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)b.len;
}
