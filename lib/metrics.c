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

#include "supervise_internal.h"

typedef void child_metric(struct supv__buf *b, const struct supv *s,
    const struct child *c, const char *name);
typedef void sup_metric(struct supv__buf *b, struct supv *s,
    const char *name);

static void
sup_label(struct supv__buf *b, const struct supv *s)
{
	supv__buf_printf(b, "supervisor=\"");
	supv__buf_path(b, NULL, s);
	supv__buf_printf(b, "\"");
}

/* name{supervisor="...",child="..."[,kind="..."]} */
static void
child_sample(struct supv__buf *b, const char *name, const struct supv *s,
    const struct child *c, const char *kind)
{
	supv__buf_printf(b, "%s{", name);
	sup_label(b, s);
	supv__buf_printf(b, ",child=\"");
	supv__buf_pathpart(b, c->id);
	supv__buf_printf(b, "\"");
	if (kind != NULL)
		supv__buf_printf(b, ",kind=\"%s\"", kind);
	supv__buf_printf(b, "} ");
}

static void
walk_children(struct supv__buf *b, const struct supv *s, child_metric *fn,
    const char *name)
{
	const struct child *c;

	TAILQ_FOREACH(c, &s->children, order) {
		fn(b, s, c, name);
		if (c->sup != NULL)
			walk_children(b, c->sup, fn, name);
	}
}

static void
walk_sups(struct supv__buf *b, struct supv *s, sup_metric *fn,
    const char *name)
{
	struct child *c;

	fn(b, s, name);
	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			walk_sups(b, c->sup, fn, name);
}

static void
family(struct supv__buf *b, const char *name, const char *type,
    const char *help)
{
	supv__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
child_restarts(struct supv__buf *b, const struct supv *s, const struct child *c,
    const char *name)
{
	child_sample(b, name, s, c, NULL);
	supv__buf_printf(b, "%u\n", c->restarts);
}

static void
child_exits(struct supv__buf *b, const struct supv *s, const struct child *c,
    const char *name)
{
	/* A worker cannot give up: only a child supervisor has that kind. */
	unsigned last = c->sup != NULL ? SUPV_EXIT_GAVE_UP : SUPV_EXIT_START_FAILED;

	for (unsigned k = 0; k <= last; k++) {
		child_sample(b, name, s, c, supv_exit_kind_name(k));
		supv__buf_printf(b, "%llu\n", (unsigned long long)c->exits[k]);
	}
}

static void
child_running(struct supv__buf *b, const struct supv *s, const struct child *c,
    const char *name)
{
	child_sample(b, name, s, c, NULL);
	supv__buf_printf(b, "%d\n", c->state == CH_RUNNING || c->state == CH_STOPPING);
}

static void
child_hung(struct supv__buf *b, const struct supv *s, const struct child *c,
    const char *name)
{
	child_sample(b, name, s, c, NULL);
	supv__buf_printf(b, "%d\n", c->hung_asked);
}

static void
child_backoff(struct supv__buf *b, const struct supv *s, const struct child *c,
    const char *name)
{
	child_sample(b, name, s, c, NULL);
	supv__buf_printf(b, "%d\n", c->state == CH_PENDING);
}

#define SUP_COUNTER(fn, expr) \
static void \
fn(struct supv__buf *b, struct supv *s, const char *name) \
{ \
	supv__buf_printf(b, "%s{", name); \
	sup_label(b, s); \
	supv__buf_printf(b, "} %llu\n", (unsigned long long)(expr)); \
}
SUP_COUNTER(sup_restarts, s->restarts_total)
SUP_COUNTER(sup_hung, s->hung_total)
SUP_COUNTER(sup_gave_up, s->gave_up_total)
SUP_COUNTER(sup_up, s->state == SUP_RUNNING)
SUP_COUNTER(sup_children, s->nchildren)
SUP_COUNTER(sup_window, supv__window_count(&s->win, supv__now_ns() / NS_PER_MS))

/* Every family of root's tree into b.  Called with the tree's lock held. */
void
supv__metrics(struct supv *root, struct supv__buf *b)
{
	static const struct {
		const char   *name, *type, *help;
		child_metric *child;
		sup_metric   *sup;
	} fams[] = {
		{ "supv_child_restarts_total", "counter",
		  "Times the child was restarted since it was added.",
		  child_restarts, NULL },
		{ "supv_child_exits_total", "counter",
		  "Runs of the child that ended, by how they ended.",
		  child_exits, NULL },
		{ "supv_child_running", "gauge",
		  "1 while a run of the child is alive (starting, running or stopping).",
		  child_running, NULL },
		{ "supv_child_hung", "gauge",
		  "1 while the child is being stopped because it missed its heartbeat.",
		  child_hung, NULL },
		{ "supv_child_backoff", "gauge",
		  "1 while the child waits for its restart (backoff).",
		  child_backoff, NULL },
		{ "supv_supervisor_restarts_total", "counter",
		  "Restarts of the supervisor's children, deleted ones included.",
		  NULL, sup_restarts },
		{ "supv_supervisor_hung_total", "counter",
		  "Children of the supervisor found hung.",
		  NULL, sup_hung },
		{ "supv_supervisor_gave_up_total", "counter",
		  "Times the supervisor gave up (restart intensity or an escalate code).",
		  NULL, sup_gave_up },
		{ "supv_supervisor_up", "gauge",
		  "1 while the supervisor runs (started, not stopping).",
		  NULL, sup_up },
		{ "supv_supervisor_children", "gauge",
		  "Child specs of the supervisor.",
		  NULL, sup_children },
		{ "supv_supervisor_restarts_window", "gauge",
		  "Restarts inside the supervisor's current intensity window.",
		  NULL, sup_window },
	};

	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		family(b, fams[i].name, fams[i].type, fams[i].help);
		if (fams[i].child != NULL)
			walk_children(b, root, fams[i].child, fams[i].name);
		else
			walk_sups(b, root, fams[i].sup, fams[i].name);
	}
}

SUPV_EXPORT int
supv_metrics_format(struct supv *root, char *buf, size_t size)
{
	struct supv__buf b = { .p = buf, .cap = size, .fixed = true };

	if (root == NULL || (buf == NULL && size != 0)) {
		errno = EINVAL;
		return -1;
	}
	if (size > 0)
		buf[0] = '\0';
	supv__lock_sup(root);
	supv__metrics(root, &b);
	supv__unlock_sup(root);
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
