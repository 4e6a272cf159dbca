/*
 * control.c - a root's control socket (supv_control_listen): one library
 * thread serves the tree's protocol (protocol.c) on an AF_UNIX stream
 * socket.  It polls the socket, a wake descriptor and its clients, with no
 * timeout while nobody is connected, so an idle socket costs no wake-ups.
 *
 * Safety.  The socket's file is made in one directory opened once, with
 * its final mode and group, in a private directory, then renamed into
 * place (see make_socket): no step can be redirected to another file by
 * someone who renames directories meanwhile.  It never replaces a file
 * that is not a socket, nor a socket something still listens on (probed
 * without blocking); a stale one is replaced.  Its mode is 0600 unless
 * the options list other users or groups (choose_mode).  Each client's
 * credentials (SO_PEERCRED, SO_PEERGROUPS) are checked: the process's own
 * user and root, or a user or group the options list; a client refused
 * is told why before it is closed.  Clients, request size, each
 * exchange's time and the memory all replies hold are bounded.  A reply
 * is written from a copy of the tree taken under its lock, into the
 * client's own buffer, and sent without blocking, so a slow or hostile
 * client holds nothing the tree needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "outside/outside.h"

#define DEFAULT_CLIENTS    16
#define MAX_CLIENTS        1024
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_PROBE_MS   1000
#define PROBE_STEP_NS      (2 * NS_PER_MS)   /* how often a probe is re-read */
#define DRAIN_MAX          65536             /* unread bytes dropped at close */
#define ACCEPT_PAUSE_NS    (100 * NS_PER_MS) /* out of descriptors: wait this */
/*
 * What all clients' replies may hold at once.  A reply that would go past
 * it, while others are being sent, is refused (EBUSY) rather than built:
 * many clients asking a large tree at once cannot exhaust the process.
 */
#define REPLY_BUDGET       ((size_t)64 << 20)
/* Hidden: the tests lower it. */
atomic_size_t supv_control_reply_budget = REPLY_BUDGET;

struct client {
	int              fd;          /* -1: a free slot */
	uint64_t         deadline;    /* the whole exchange (ns) */
	char             in[SUPV__CTL_LINE_MAX];
	size_t           inlen;
	struct supv__buf out;         /* the reply, once built */
	size_t           sent;
	bool             writing;
	unsigned long    probe;       /* health: the probe it waits for, or 0 */
	uint64_t         probe_until;
	uint64_t         probe_next;
};

/* Constant once the thread runs; the thread alone touches the clients. */
struct control {
	struct supv     *root;
	int              wakefd;      /* readable: supv_free wants it to end */
	pthread_t        thread;
	struct supv__sockfile file;   /* the socket's file, and lfd */
	bool             allow_changes;
	uid_t            self;
	uid_t           *uids;
	size_t           n_uids;
	gid_t           *gids;
	size_t           n_gids;
	unsigned         max_clients;
	uint64_t         timeout_ns, probe_ns;
	uint64_t         accept_after;  /* out of descriptors: not before (ns) */
	size_t           out_bytes;   /* what the clients' replies hold */
	struct client   *clients;
};

/*
 * Whether the peer on fd may use the socket: the process's own user,
 * root, a listed user, or a member of a listed group (its primary group
 * or, from SO_PEERGROUPS, a supplementary one).
 */
static bool
cred_ok(const struct control *ctl, int fd)
{
	gid_t groups[256];
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return false;
	if (cr.uid == 0 || cr.uid == ctl->self)
		return true;
	for (size_t i = 0; i < ctl->n_uids; i++)
		if (ctl->uids[i] == cr.uid)
			return true;
	if (ctl->n_gids == 0)
		return false;
	for (size_t i = 0; i < ctl->n_gids; i++)
		if (ctl->gids[i] == cr.gid)
			return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;	/* ERANGE: over 256 groups, not looked at */
	for (size_t k = 0; k < len / sizeof(gid_t); k++)
		for (size_t i = 0; i < ctl->n_gids; i++)
			if (ctl->gids[i] == groups[k])
				return true;
	return false;
}

/*
 * Closes a client's connection, after dropping what it sent and was not
 * read: a socket closed with unread data resets the connection, and the
 * client may then lose the reply it has not read yet.
 */
static void
close_drained(int fd)
{
	char junk[4096];
	size_t dropped = 0;
	ssize_t n;

	(void)shutdown(fd, SHUT_WR);
	while (dropped < DRAIN_MAX &&
	    (n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		dropped += (size_t)n;
	close(fd);
}

static void
client_close(struct control *ctl, struct client *cl)
{
	close_drained(cl->fd);
	ctl->out_bytes -= cl->out.cap;
	free(cl->out.p);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/*
 * A short reply to a client that is not taken (EACCES, EBUSY): sent
 * without blocking, then the connection closed as any other, so that the
 * client can read why.
 */
static void
refuse(int fd, int err, const char *what)
{
	struct supv__buf b = { 0 };

	supv__ctl_error(&b, err, what);
	if (!b.failed)
		(void)send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(b.p);
	close_drained(fd);
}

static void
accept_clients(struct control *ctl, uint64_t now)
{
	unsigned i;
	int fd;

	for (;;) {
		if ((fd = accept4(ctl->file.lfd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
			/*
			 * Out of descriptors, the connection stays queued and
			 * the socket readable: look again a little later
			 * rather than spin.
			 */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				ctl->accept_after = now + ACCEPT_PAUSE_NS;
			return;
		}
		if (!cred_ok(ctl, fd)) {
			refuse(fd, EACCES, "this user may not use the control socket");
			continue;
		}
		for (i = 0; i < ctl->max_clients && ctl->clients[i].fd >= 0; i++)
			;
		if (i == ctl->max_clients) {
			refuse(fd, EBUSY, "too many clients");
			continue;
		}
		ctl->clients[i].fd = fd;
		ctl->clients[i].deadline = now + ctl->timeout_ns;
	}
}

/* The request line is in: answer it (or start a health probe). */
static void
answer(struct control *ctl, struct client *cl, size_t len, uint64_t now)
{
	if (ctl->out_bytes >= atomic_load_explicit(&supv_control_reply_budget,
	    memory_order_relaxed)) {
		supv__ctl_error(&cl->out, EBUSY, "replies in flight hold too much memory");
		cl->probe = 0;
	} else {
		supv__ctl_answer(ctl->root, ctl->allow_changes, cl->in, len,
		    &cl->out, &cl->probe);
	}
	ctl->out_bytes += cl->out.cap;
	if (cl->probe != 0) {
		cl->probe_until = now + ctl->probe_ns;
		cl->probe_next = now + PROBE_STEP_NS;
	} else {
		cl->writing = true;
	}
}

static void
client_read(struct control *ctl, struct client *cl, uint64_t now)
{
	char *nl;
	ssize_t n;

	n = recv(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The end without a newline: what came is the request. */
		if (n == 0 && cl->inlen > 0)
			answer(ctl, cl, cl->inlen, now);
		else
			client_close(ctl, cl);
		return;
	}
	cl->inlen += (size_t)n;
	if ((nl = memchr(cl->in, '\n', cl->inlen)) != NULL)
		answer(ctl, cl, (size_t)(nl - cl->in), now);
	else if (cl->inlen == sizeof(cl->in))
		answer(ctl, cl, cl->inlen, now);	/* too long: an error reply */
}

static void
client_write(struct control *ctl, struct client *cl)
{
	ssize_t n;

	if (cl->out.failed) {
		client_close(ctl, cl);	/* no memory for the reply */
		return;
	}
	n = send(cl->fd, cl->out.p + cl->sent, cl->out.len - cl->sent,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (cl->sent += (size_t)n) == cl->out.len)
		client_close(ctl, cl);
}

static int
poll_timeout(const struct control *ctl, uint64_t now)
{
	uint64_t next = ctl->accept_after > now ? ctl->accept_after : NO_DEADLINE;

	for (unsigned i = 0; i < ctl->max_clients; i++) {
		const struct client *cl = &ctl->clients[i];

		if (cl->fd < 0)
			continue;
		if (cl->deadline < next)
			next = cl->deadline;
		if (cl->probe != 0 && !cl->writing && cl->probe_next < next)
			next = cl->probe_next;
	}
	if (next == NO_DEADLINE)
		return -1;	/* nobody connected: sleep until somebody is */
	return next <= now ? 0 : (int)((next - now + NS_PER_MS - 1) / NS_PER_MS);
}

static void *
control_main(void *arg)
{
	struct control *ctl = arg;
	struct pollfd *pfd;
	unsigned *slot, n;
	uint64_t now;

	supv__thread_name("supv-control");
	pfd = calloc(ctl->max_clients + 2, sizeof(*pfd));
	slot = calloc(ctl->max_clients + 2, sizeof(*slot));
	if (pfd == NULL || slot == NULL)
		goto out;
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = ctl->wakefd, .events = POLLIN };
		/* A negative descriptor is left out by poll(): a pause. */
		pfd[1] = (struct pollfd){ .fd = supv__now_ns() < ctl->accept_after ?
		    -1 : ctl->file.lfd, .events = POLLIN };
		n = 2;
		for (unsigned i = 0; i < ctl->max_clients; i++) {
			struct client *cl = &ctl->clients[i];

			if (cl->fd < 0 || (cl->probe != 0 && !cl->writing))
				continue;
			pfd[n] = (struct pollfd){ .fd = cl->fd,
			    .events = cl->writing ? POLLOUT : POLLIN };
			slot[n++] = i;
		}
		if (poll(pfd, n, poll_timeout(ctl, supv__now_ns())) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[0].revents != 0)
			break;
		now = supv__now_ns();
		for (unsigned k = 2; k < n; k++) {
			struct client *cl = &ctl->clients[slot[k]];

			if (pfd[k].revents == 0 || cl->fd < 0)
				continue;
			if (cl->writing)
				client_write(ctl, cl);
			else
				client_read(ctl, cl, now);
		}
		for (unsigned i = 0; i < ctl->max_clients; i++) {
			struct client *cl = &ctl->clients[i];

			if (cl->fd < 0)
				continue;
			if (cl->probe != 0 && !cl->writing && now >= cl->probe_next) {
				ctl->out_bytes -= cl->out.cap;
				cl->writing = supv__ctl_health_end(ctl->root,
				    cl->probe, now >= cl->probe_until, &cl->out);
				ctl->out_bytes += cl->out.cap;
				cl->probe_next = now + PROBE_STEP_NS;
				if (cl->writing)
					client_write(ctl, cl);
			}
			if (cl->fd >= 0 && now >= cl->deadline)
				client_close(ctl, cl);	/* too slow: dropped */
		}
		if (pfd[1].revents != 0)
			accept_clients(ctl, now);
	}
out:
	for (unsigned i = 0; i < ctl->max_clients; i++)
		if (ctl->clients[i].fd >= 0)
			client_close(ctl, &ctl->clients[i]);
	free(pfd);
	free(slot);
	return NULL;
}

static void
control_destroy(struct control *ctl)
{
	if (ctl == NULL)
		return;
	if (ctl->file.dirfd >= 0)
		close(ctl->file.dirfd);
	free(ctl->clients);
	free(ctl->uids);
	free(ctl->gids);
	free(ctl);
}

/*
 * The socket's mode and group, from the options: 0600 when nobody else is
 * listed, so that the kernel keeps everyone else out; 0660 with the group
 * when one group alone is listed and the process may give the file to it;
 * else 0666, and SO_PEERCRED refuses whoever is not listed (with an
 * EACCES line they can read).  Access is never widened when nothing is
 * listed.
 */
static void
choose_mode(struct control *ctl)
{
	gid_t groups[256];
	int n;

	struct supv__sockfile *f = &ctl->file;

	f->group = (gid_t)-1;
	if (ctl->n_uids == 0 && ctl->n_gids == 0) {
		f->mode = 0600;
		return;
	}
	f->mode = 0666;
	if (ctl->n_uids != 0 || ctl->n_gids != 1)
		return;
	if (geteuid() == 0 || getegid() == ctl->gids[0]) {
		f->mode = 0660;
		f->group = ctl->gids[0];
		return;
	}
	if ((n = getgroups(256, groups)) > 0)
		for (int i = 0; i < n; i++)
			if (groups[i] == ctl->gids[0]) {
				f->mode = 0660;
				f->group = ctl->gids[0];
			}
}

/* Stops the thread, closes the socket and removes its file.  Without mu. */
static void
control_free(struct supv *root)
{
	struct control *ctl;

	supv__lock_sup(root);
	ctl = root->control;
	root->control = NULL;
	supv__unlock_sup(root);
	if (ctl == NULL)
		return;
	supv__flagfd_set(ctl->wakefd);
	pthread_join(ctl->thread, NULL);
	close(ctl->file.lfd);
	close(ctl->wakefd);
	supv__sockfile_remove(&ctl->file);
	control_destroy(ctl);
}

static int
copy_ids(void **dst, const void *src, size_t n, size_t size)
{
	if (n == 0)
		return 0;
	if (src == NULL || n > 65536)
		return EINVAL;
	if ((*dst = supv__xcalloc(n, size)) == NULL)
		return ENOMEM;
	memcpy(*dst, src, n * size);
	return 0;
}

static int
control_new(struct supv *root, const char *path,
    const struct supv_control_opts *o, struct control **out)
{
	struct control *ctl;
	int rc;

	if (o->max_clients > MAX_CLIENTS)
		return EINVAL;
	if ((ctl = supv__xcalloc(1, sizeof(*ctl))) == NULL)
		return ENOMEM;
	ctl->root = root;
	ctl->file.lfd = ctl->file.dirfd = ctl->wakefd = -1;
	ctl->allow_changes = o->allow_changes;
	ctl->self = geteuid();
	ctl->max_clients = o->max_clients != 0 ? o->max_clients : DEFAULT_CLIENTS;
	ctl->timeout_ns = (uint64_t)(o->timeout_ms != 0 ? o->timeout_ms :
	    DEFAULT_TIMEOUT_MS) * NS_PER_MS;
	ctl->probe_ns = (uint64_t)(o->probe_ms != 0 ? o->probe_ms :
	    DEFAULT_PROBE_MS) * NS_PER_MS;
	ctl->n_uids = o->n_uids;
	ctl->n_gids = o->n_gids;
	if ((rc = copy_ids((void **)&ctl->uids, o->uids, o->n_uids,
	    sizeof(uid_t))) != 0 ||
	    (rc = copy_ids((void **)&ctl->gids, o->gids, o->n_gids,
	    sizeof(gid_t))) != 0 ||
	    (rc = (ctl->clients = supv__xcalloc(ctl->max_clients,
	    sizeof(*ctl->clients))) == NULL ? ENOMEM : 0) != 0) {
		control_destroy(ctl);
		return rc;
	}
	for (unsigned i = 0; i < ctl->max_clients; i++)
		ctl->clients[i].fd = -1;
	choose_mode(ctl);
	if ((rc = supv__sockfile_open(&ctl->file, path)) != 0) {
		control_destroy(ctl);
		return rc;
	}
	*out = ctl;
	return 0;
}

SUPV_EXPORT int
supv_control_listen_sized(struct supv *root, const char *path,
    const struct supv_control_opts *user, size_t size)
{
	struct supv_control_opts o;
	struct control *ctl;
	int rc;

	if (root == NULL || path == NULL || path[0] == '\0')
		return EINVAL;
	/* As before: a path a sockaddr_un could hold, though it is not used as one. */
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return ENAMETOOLONG;
	if ((rc = supv__struct_in(&o, sizeof(o), user, size)) != 0 ||
	    (rc = supv__check_owner(root)) != 0 ||
	    (rc = control_new(root, path, &o, &ctl)) != 0)
		return rc;
	/* Claimed first, so that two calls at once cannot both listen. */
	supv__lock_sup(root);
	if (root->parent != NULL)
		rc = EINVAL;
	else if (root->control != NULL)
		rc = EBUSY;
	else {
		root->control = ctl;
		root->control_free = control_free;
	}
	supv__unlock_sup(root);
	if (rc != 0) {
		control_destroy(ctl);
		return rc;
	}
	if ((rc = supv__sockfile_listen(&ctl->file)) == 0) {
		if ((ctl->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			rc = errno;
		else
			rc = supv__thread_spawn(&ctl->thread, 0, control_main, ctl);
		if (rc != 0) {
			if (ctl->wakefd >= 0)
				close(ctl->wakefd);
			close(ctl->file.lfd);
			supv__sockfile_remove(&ctl->file);
		}
	}
	if (rc != 0) {
		supv__lock_sup(root);
		root->control = NULL;
		supv__unlock_sup(root);
		control_destroy(ctl);
	}
	return rc;
}
