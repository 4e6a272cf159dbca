/*
 * sockfile.c - the control socket's file, made and removed so that no
 * step can be redirected (see the comment below, and
 * supv_control_listen(3), Safety).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "outside/outside.h"

/*
 * The socket's file.  Every step is taken in one directory, opened once
 * (dirfd), never by a path that another user could redirect by renaming
 * or replacing a directory meanwhile: an existing file is looked at and
 * probed through a descriptor of its own, the new socket is bound in a
 * fresh private directory inside (mode 0700, named at random), given its
 * mode and group there, where nobody else can reach it, and renamed into
 * place, and the file is removed at the end only if it is still the one
 * made.  bind() and connect() take a path, not a descriptor: the path is
 * /proc/self/fd/N/NAME, which the kernel resolves through the descriptor.
 */

/* "/proc/self/fd/FD" or "/proc/self/fd/FD/NAME" into sa: false if too long. */
static bool
fd_addr(struct sockaddr_un *sa, int fd, const char *name)
{
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d%s%s",
	    fd, name != NULL ? "/" : "", name != NULL ? name : "");

	sa->sun_family = AF_UNIX;
	return n > 0 && (size_t)n < sizeof(sa->sun_path);
}

/*
 * Whether something listens on the socket file open (O_PATH) as sfd: 0
 * stale, EADDRINUSE alive, or an error.  The probe never blocks: a
 * listener whose backlog is full counts as alive.
 */
static int
probe_alive(int sfd)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (!fd_addr(&sa, sfd, NULL))
		return ENAMETOOLONG;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS)
		rc = EADDRINUSE;
	else
		rc = errno == ECONNREFUSED ? 0 : errno;
	close(fd);
	return rc;
}

/*
 * What is at the name now: nothing, or a stale socket, removed (0); a
 * file that is not a socket (EEXIST); a live socket (EADDRINUSE).
 */
static int
clear_name(struct supv__sockfile *f)
{
	struct stat st, now;
	int sfd, rc;

	if ((sfd = openat(f->dirfd, f->name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : errno;
	if (fstat(sfd, &st) != 0)
		rc = errno;
	else if (!S_ISSOCK(st.st_mode))
		rc = EEXIST;
	else if ((rc = probe_alive(sfd)) == 0 &&
	    fstatat(f->dirfd, f->name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == st.st_dev && now.st_ino == st.st_ino &&
	    unlinkat(f->dirfd, f->name, 0) != 0 && errno != ENOENT)
		rc = errno;	/* stale, and still the one probed: replaced */
	close(sfd);
	return rc;
}

/* A private directory in f->dirfd, mode 0700, named at random: its fd. */
static int
private_dir(struct supv__sockfile *f, char *name, size_t size)
{
	int fd, tries;

	for (tries = 0; tries < 16; tries++) {
		snprintf(name, size, ".supv-ctl.%08x", arc4random());
		if (mkdirat(f->dirfd, name, 0700) == 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	if (tries == 16) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = openat(f->dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		int e = errno;

		unlinkat(f->dirfd, name, AT_REMOVEDIR);
		errno = e;
	}
	return fd;
}

/*
 * Binds f->lfd as "s" in the private directory pfd, with its final mode
 * and group: nobody else can reach it there.
 */
static int
bind_private(struct supv__sockfile *f, int pfd)
{
	struct sockaddr_un sa;
	struct stat st;

	if (!fd_addr(&sa, pfd, "s"))
		return ENAMETOOLONG;
	if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    fchmodat(pfd, "s", f->mode, 0) != 0 ||
	    (f->group != (gid_t)-1 &&
	    fchownat(pfd, "s", (uid_t)-1, f->group, AT_SYMLINK_NOFOLLOW) != 0) ||
	    fstatat(pfd, "s", &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;
}

/*
 * Makes the listening socket (f->lfd) at f->name in f->dirfd, with
 * f->mode and f->group: 0, or EEXIST (a file that is not a socket, or
 * one that appeared meanwhile), EADDRINUSE (a socket something listens
 * on), or what a call failed with.
 */
int
supv__sockfile_listen(struct supv__sockfile *f)
{
	char priv[32];
	int pfd, rc;

	if ((rc = clear_name(f)) != 0)
		return rc;
	if ((f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return errno;
	if ((pfd = private_dir(f, priv, sizeof(priv))) < 0) {
		rc = errno;
		close(f->lfd);
		return rc;
	}
	/* EEXIST: something took the name meanwhile (it is left alone). */
	if ((rc = bind_private(f, pfd)) == 0 &&
	    renameat2(pfd, "s", f->dirfd, f->name, RENAME_NOREPLACE) != 0 &&
	    (errno != EINVAL ||	/* a file system without it: a link will do */
	    linkat(pfd, "s", f->dirfd, f->name, 0) != 0))
		rc = errno;
	(void)unlinkat(pfd, "s", 0);	/* if it is still there */
	close(pfd);
	(void)unlinkat(f->dirfd, priv, AT_REMOVEDIR);
	/* Nobody can connect before listen(): the name appears first. */
	if (rc == 0 && listen(f->lfd, 64) != 0) {
		rc = errno;
		supv__sockfile_remove(f);
	}
	if (rc != 0)
		close(f->lfd);
	return rc;
}

/*
 * Removes the socket's file, if the name still holds the one made
 * (another may have replaced it since).  In f->dirfd only.
 */
void
supv__sockfile_remove(struct supv__sockfile *f)
{
	struct stat st;

	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == f->dev && st.st_ino == f->ino)
		(void)unlinkat(f->dirfd, f->name, 0);
}

/*
 * The directory and the name of path, the directory opened once.  The
 * directory is resolved as open(2) does (symbolic links followed); the
 * name must be a plain name: EINVAL for "." or "..", or a path that ends
 * in '/'.
 */
int
supv__sockfile_open(struct supv__sockfile *f, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(f->name)];
	size_t n;

	if (slash == NULL) {
		strlcpy(dir, ".", sizeof(dir));
		strlcpy(f->name, path, sizeof(f->name));
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, n);
		dir[n] = '\0';
		strlcpy(f->name, slash + 1, sizeof(f->name));
	}
	if (f->name[0] == '\0' || strcmp(f->name, ".") == 0 ||
	    strcmp(f->name, "..") == 0)
		return EINVAL;
	if ((f->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno;
	return 0;
}
