/*
 * outside.h - the outside view: a tree copied for a reply (snapshot.c),
 * metrics (metrics.c), the control socket's protocol (protocol.c).  The
 * socket itself (control.c) needs nothing of the others' but these.
 */
#ifndef SUPV_OUTSIDE_H
#define SUPV_OUTSIDE_H

#include "core/core.h"

/*
 * snapshot.c: a tree copied under its lock, for the text written after it
 * is dropped ("tree", metrics): one node per supervisor and child, in
 * the tree's order (a supervisor, then its children, depth first).
 */
struct supv__snap_node {
	int                 owner;      /* its supervisor's node; -1: the root */
	unsigned            depth;
	bool                is_child, is_sup, is_pool, is_proc;
	pid_t               pid;        /* a process child's, while it runs */
	char                status[128];  /* its last STATUS= */
	char                id[SUPV_ID_MAX + 1];   /* the root's: its name */
	const char         *state;
	/* A child's. */
	enum supv_restart   restart;
	unsigned            restarts, heartbeat_ms;
	uint64_t            exits[SUPV__EXIT_KINDS], exits_sum;
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

/* protocol.c: the control socket's requests and replies */
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

/*
 * sockfile.c: the control socket's file, in one directory opened once.
 * Set mode and group, then open(path) and listen(); remove() removes it
 * only if its name still holds the socket made.
 */
struct supv__sockfile {
	int    dirfd;               /* the socket's directory (O_PATH) */
	char   name[256];           /* the socket's name in it */
	mode_t mode;                /* the socket file's */
	gid_t  group;               /* and its group; -1: the process's */
	dev_t  dev;                 /* the file made, to remove only it */
	ino_t  ino;
	int    lfd;                 /* the listening socket */
};
int  supv__sockfile_open(struct supv__sockfile *f, const char *path);
int  supv__sockfile_listen(struct supv__sockfile *f);
void supv__sockfile_remove(struct supv__sockfile *f);

#endif
