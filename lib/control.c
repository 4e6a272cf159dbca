/*
 * control.c - a root's control socket (supv_control_listen): one library
 * thread serves the tree's protocol (ctlproto.c) on an AF_UNIX stream
 * socket.  It polls the socket, a wake descriptor and its clients, with no
 * timeout while nobody is connected, so an idle socket costs no wake-ups.
 *
 * Safety.  The socket is made 0600 before it listens, whatever the umask
 * (nobody can connect to a socket that is bound but not yet listening),
 * and never replaces a file that is not a socket, nor a socket something
 * still listens on; a stale one is replaced.  Each client's credentials
 * (SO_PEERCRED) are checked: the process's own user and root, or a user
 * or group the options list.  Clients, request size and each exchange's
 * time are bounded.  A reply is built into the client's own buffer with
 * the tree's lock held and written after it is dropped, without blocking,
 * so a slow or hostile client holds nothing the tree needs.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "supervise_internal.h"

#define DEFAULT_CLIENTS    16
#define MAX_CLIENTS        1024
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_PROBE_MS   1000
#define PROBE_STEP_NS      (2 * NS_PER_MS)   /* how often a probe is re-read */
#define DRAIN_MAX          65536             /* unread bytes dropped at close */
#define ACCEPT_PAUSE_NS    (100 * NS_PER_MS) /* out of descriptors: wait this */

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
	int              lfd;
	int              wakefd;      /* readable: supv_free wants it to end */
	pthread_t        thread;
	char             path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t            dev;         /* the socket file made, to unlink only it */
	ino_t            ino;
	bool             allow_changes;
	uid_t            self;
	uid_t           *uids;
	size_t           n_uids;
	gid_t           *gids;
	size_t           n_gids;
	unsigned         max_clients;
	uint64_t         timeout_ns, probe_ns;
	uint64_t         accept_after;  /* out of descriptors: not before (ns) */
	struct client   *clients;
};

static bool
cred_ok(const struct control *ctl, uid_t uid, gid_t gid)
{
	if (uid == 0 || uid == ctl->self)
		return true;
	for (size_t i = 0; i < ctl->n_uids; i++)
		if (ctl->uids[i] == uid)
			return true;
	for (size_t i = 0; i < ctl->n_gids; i++)
		if (ctl->gids[i] == gid)
			return true;
	return false;
}

/* Drops what the client sent and was not read (else it may see a reset). */
static void
client_close(struct client *cl)
{
	char junk[4096];
	size_t dropped = 0;
	ssize_t n;

	while (dropped < DRAIN_MAX &&
	    (n = recv(cl->fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
		dropped += (size_t)n;
	close(cl->fd);
	free(cl->out.p);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* A short reply to a client that is not taken: best effort, then close. */
static void
refuse(int fd, int err, const char *what)
{
	struct supv__buf b = { 0 };

	supv__ctl_error(&b, err, what);
	if (!b.failed)
		(void)send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(b.p);
	close(fd);
}

static void
accept_clients(struct control *ctl, uint64_t now)
{
	struct ucred cr;
	socklen_t len;
	unsigned i;
	int fd;

	for (;;) {
		if ((fd = accept4(ctl->lfd, NULL, NULL,
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
		len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
		    !cred_ok(ctl, cr.uid, cr.gid)) {
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
	supv__ctl_answer(ctl->root, ctl->allow_changes, cl->in, len, &cl->out,
	    &cl->probe);
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
			client_close(cl);
		return;
	}
	cl->inlen += (size_t)n;
	if ((nl = memchr(cl->in, '\n', cl->inlen)) != NULL)
		answer(ctl, cl, (size_t)(nl - cl->in), now);
	else if (cl->inlen == sizeof(cl->in))
		answer(ctl, cl, cl->inlen, now);	/* too long: an error reply */
}

static void
client_write(struct client *cl)
{
	ssize_t n;

	if (cl->out.failed) {
		client_close(cl);	/* no memory for the reply */
		return;
	}
	n = send(cl->fd, cl->out.p + cl->sent, cl->out.len - cl->sent,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (cl->sent += (size_t)n) == cl->out.len)
		client_close(cl);
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
		    -1 : ctl->lfd, .events = POLLIN };
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
				client_write(cl);
			else
				client_read(ctl, cl, now);
		}
		for (unsigned i = 0; i < ctl->max_clients; i++) {
			struct client *cl = &ctl->clients[i];

			if (cl->fd < 0)
				continue;
			if (cl->probe != 0 && !cl->writing && now >= cl->probe_next) {
				cl->writing = supv__ctl_health_end(ctl->root,
				    cl->probe, now >= cl->probe_until, &cl->out);
				cl->probe_next = now + PROBE_STEP_NS;
				if (cl->writing)
					client_write(cl);
			}
			if (cl->fd >= 0 && now >= cl->deadline)
				client_close(cl);	/* too slow: dropped */
		}
		if (pfd[1].revents != 0)
			accept_clients(ctl, now);
	}
out:
	for (unsigned i = 0; i < ctl->max_clients; i++)
		if (ctl->clients[i].fd >= 0)
			client_close(&ctl->clients[i]);
	free(pfd);
	free(slot);
	return NULL;
}

static void
control_destroy(struct control *ctl)
{
	if (ctl == NULL)
		return;
	free(ctl->clients);
	free(ctl->uids);
	free(ctl->gids);
	free(ctl);
}

/*
 * Makes the listening socket at ctl->path: 0, or EEXIST (a file that is
 * not a socket), EADDRINUSE (a socket something listens on), or what a
 * call failed with.
 */
static int
make_socket(struct control *ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);
	if (lstat(ctl->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return EEXIST;
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return errno;
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? EADDRINUSE :
		    errno == ECONNREFUSED ? 0 : errno;
		close(fd);
		if (rc != 0)
			return rc;
		if (unlink(ctl->path) != 0 && errno != ENOENT)
			return errno;	/* stale: replaced */
	} else if (errno != ENOENT) {
		return errno;
	}
	if ((ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return errno;
	if (bind(ctl->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = errno;
		close(ctl->lfd);
		return rc;
	}
	/* Nobody can connect before listen(): the mode is set first. */
	if (chmod(ctl->path, 0600) != 0 || stat(ctl->path, &st) != 0 ||
	    listen(ctl->lfd, 64) != 0) {
		rc = errno;
		close(ctl->lfd);
		unlink(ctl->path);
		return rc;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	return 0;
}

/* Stops the thread, closes the socket and removes its file.  Without mu. */
static void
control_free(struct supv *root)
{
	struct control *ctl;
	struct stat st;

	supv__lock_sup(root);
	ctl = root->control;
	root->control = NULL;
	supv__unlock_sup(root);
	if (ctl == NULL)
		return;
	supv__flagfd_set(ctl->wakefd);
	pthread_join(ctl->thread, NULL);
	close(ctl->lfd);
	close(ctl->wakefd);
	/* Only the file it made: another may have replaced it since. */
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
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
	ctl->lfd = ctl->wakefd = -1;
	strlcpy(ctl->path, path, sizeof(ctl->path));
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
	if (strlen(path) >= sizeof(ctl->path))
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
	if ((rc = make_socket(ctl)) == 0) {
		if ((ctl->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			rc = errno;
		else
			rc = supv__thread_spawn(&ctl->thread, 0, control_main, ctl);
		if (rc != 0) {
			if (ctl->wakefd >= 0)
				close(ctl->wakefd);
			close(ctl->lfd);
			unlink(ctl->path);
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
