/*
 * notify.c - the systemd notification protocol for a root, done directly:
 * one datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET
 * ("@" for the abstract namespace).  READY=1 once supv_start() has started
 * the tree, STOPPING=1 when the root terminates, STATUS= lines, and
 * WATCHDOG=1 every half $WATCHDOG_USEC, only while the tree is healthy: it
 * runs, has not given up, no worker is hung, and every supervisor's loop
 * answered the last liveness probe (none is stuck in a slow on_event or
 * in a wait without end).  Without $NOTIFY_SOCKET
 * nothing is sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/core.h"
#include "process/process.h"

struct notify {
	unsigned           flags;
	/* The fields below are guarded by the root's lock. */
	int                fd;          /* -1: not under systemd */
	struct sockaddr_un addr;
	socklen_t          addrlen;
	uint64_t           wd_ns;       /* ping interval; 0: no watchdog */
	pthread_t          wd;
	bool               wd_joinable;
};

/* Sends one message; a full socket or a vanished manager is ignored. */
static void
send_msg(struct notify *n, const char *msg)
{
	if (n->fd < 0)
		return;
	(void)sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (const struct sockaddr *)&n->addr, n->addrlen);
}

/* Called with the root's lock held. */
static void
send_status(struct supv *root, const char *state)
{
	char msg[160];
	unsigned running = root->sub_running, specs = root->sub_workers;

	if (!(root->notify->flags & SUPV_NOTIFY_STATUS))
		return;
	snprintf(msg, sizeof(msg), "STATUS=%s: %u of %u workers running, "
	    "%u restarts in the window, %u hung", state, running, specs,
	    supv__window_count(&root->win, supv__now_ns() / NS_PER_MS), root->hung_now);
	send_msg(root->notify, msg);
}

static void *
watchdog_main(void *arg)
{
	struct supv *root = arg;
	struct notify *n = root->notify;
	unsigned long seq, sent;
	uint64_t next;

	supv__thread_name("supv-watchdog");
	supv__lock_sup(root);
	seq = root->run_seq;
	sent = root->probe_seq;
	next = supv__now_ns();
	while (root->end_seq < seq) {
		if (supv__now_ns() >= next) {
			/* Every loop must have answered the last probe. */
			bool alive = supv__probe_missing(root, sent) == NULL;

			sent = supv__probe_send(root);

			if (root->state == SUP_RUNNING && root->hung_now == 0 &&
			    alive)
				send_msg(n, "WATCHDOG=1");
			send_status(root, root->hung_now || !alive ?
			    "degraded" : "running");
			next = supv__now_ns() + n->wd_ns;
		}
		supv__cond_wait_until(&root->done_cv, supv__mu_of(root), next);
	}
	supv__unlock_sup(root);
	return NULL;
}

SUPV_EXPORT int
supv_notify_systemd(struct supv *root, unsigned flags)
{
	struct notify *n;
	int rc = 0;

	if (root == NULL || (flags & ~(unsigned)SUPV_NOTIFY_ALL) != 0)
		return EINVAL;
	supv__lock_sup(root);
	if (root->parent != NULL) {
		rc = EINVAL;
	} else if (root->state != SUP_IDLE && root->state != SUP_TERMINATED) {
		rc = EBUSY;
	} else if (root->notify == NULL) {
		if ((n = supv__xcalloc(1, sizeof(*n))) == NULL)
			rc = ENOMEM;
		else {
			n->fd = -1;
			root->notify = n;
		}
	}
	if (rc == 0)
		root->notify->flags = flags;
	supv__unlock_sup(root);
	return rc;
}

/* Before a run: joins the last watchdog, reads the environment. */
void
supv__notify_open(struct supv *root)
{
	struct notify *n = root->notify;
	const char *path, *usec, *pid;
	pthread_t wd;
	size_t len;

	if (n == NULL)
		return;
	if (n->wd_joinable) {
		n->wd_joinable = false;
		wd = n->wd;
		supv__unlock_sup(root);
		pthread_join(wd, NULL);
		supv__lock_sup(root);
	}
	if (n->fd >= 0) {
		close(n->fd);
		n->fd = -1;
	}
	n->wd_ns = 0;
	if (n->flags == 0 || (path = getenv("NOTIFY_SOCKET")) == NULL ||
	    (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(n->addr.sun_path))
		return;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if ((n->flags & SUPV_NOTIFY_WATCHDOG) &&
	    (usec = getenv("WATCHDOG_USEC")) != NULL &&
	    ((pid = getenv("WATCHDOG_PID")) == NULL ||
	    strtol(pid, NULL, 10) == (long)getpid()))
		n->wd_ns = strtoull(usec, NULL, 10) * 1000 / 2;
}

/*
 * When the root's loop has started the tree, on that loop: READY=1, then
 * the watchdog.  STOPPING=1 comes from the same loop, so never before.
 */
void
supv__notify_started(struct supv *root)
{
	struct notify *n = root->notify;

	if (n == NULL || n->fd < 0)
		return;
	if (n->flags & SUPV_NOTIFY_READY)
		send_msg(n, "READY=1");
	send_status(root, "running");
	if (n->wd_ns != 0 && supv__thread_spawn(&n->wd, 0, watchdog_main, root) == 0)
		n->wd_joinable = true;
}

/* When the root begins to terminate. */
void
supv__notify_stopping(struct supv *root, enum supv_exit_kind why)
{
	struct notify *n = root->notify;

	if (n == NULL || n->fd < 0)
		return;
	if (n->flags & SUPV_NOTIFY_READY)
		send_msg(n, "STOPPING=1");
	send_status(root, why == SUPV_EXIT_GAVE_UP ? "gave up" : "stopping");
}

/* Frees the notifier of a root that has ended.  Called without the root's lock. */
void
supv__notify_free(struct supv *root)
{
	struct notify *n = root->notify;

	if (n == NULL)
		return;
	if (n->wd_joinable)
		pthread_join(n->wd, NULL);
	if (n->fd >= 0)
		close(n->fd);
	free(n);
	root->notify = NULL;
}
