/*
 * client.c - one exchange with a control socket: connect, write one
 * request line, read the reply until the server closes, within a time
 * and a size.  What the server sends is not trusted: its size is bounded
 * here, and what is printed of it is escaped (out.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until deadline; false on timeout. */
static bool
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int rc;

	do {
		now = now_ms();
		if (now >= deadline)
			return false;
		rc = poll(&p, 1, (int)(deadline - now));
	} while (rc < 0 && errno == EINTR);
	return rc > 0;
}

/* Connects to path, saying why not in err: -1 then. */
static int
dial(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -1;
	}
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ENOENT ? " (is the program running?)" : "");
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: not a socket", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ECONNREFUSED ? " (nothing listens on it: a stale socket)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of buf; false with errno if the server stopped reading. */
static bool
send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!wait_fd(fd, POLLOUT, deadline)) {
				errno = ETIMEDOUT;
				return false;
			}
			continue;
		}
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

/* Splits the first line: "ok", or "error\tENAME\tmessage". */
static bool
parse_head(const char *path, struct ctl_reply *rep, char *err, size_t errlen)
{
	char *nl, *tab;

	if ((nl = strchr(rep->text, '\n')) == NULL) {
		snprintf(err, errlen, "%s: no answer (is it a control socket?)", path);
		return false;
	}
	*nl = '\0';
	rep->body = nl + 1;
	if (strcmp(rep->text, "ok") == 0) {
		rep->ok = true;
		return true;
	}
	if (strncmp(rep->text, "error\t", 6) != 0) {
		snprintf(err, errlen, "%s: not a control socket's answer", path);
		return false;
	}
	rep->err_name = rep->text + 6;
	if ((tab = strchr(rep->err_name, '\t')) != NULL) {
		*tab = '\0';
		rep->err_text = tab + 1;
	} else {
		rep->err_text = rep->err_name + strlen(rep->err_name);
	}
	return true;
}

char *
ctl_raw(const char *path, const void *request, size_t reqlen, int timeout_ms,
    size_t *len, char *err, size_t errlen)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	size_t cap = 8192, n = 0;
	int fd, send_errno = 0;
	char *text;

	if ((fd = dial(path, err, errlen)) < 0)
		return NULL;
	/* A server that refuses us says why, then closes: read it anyway. */
	if (!send_all(fd, request, reqlen, deadline))
		send_errno = errno;
	shutdown(fd, SHUT_WR);
	text = xmalloc(cap);
	for (;;) {
		ssize_t k;

		if (n + 1 == cap) {
			if (cap >= CTL_REPLY_MAX) {
				snprintf(err, errlen, "%s: the answer is larger than %zu MB: "
				    "not a control socket's", path, CTL_REPLY_MAX >> 20);
				goto fail;
			}
			if ((text = realloc(text, cap *= 2)) == NULL)
				die(EXIT_CANNOT, "out of memory");
		}
		if (!wait_fd(fd, POLLIN, deadline)) {
			snprintf(err, errlen, "%s: no answer within %d ms", path,
			    timeout_ms);
			goto fail;
		}
		k = recv(fd, text + n, cap - n - 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && n == 0 && (errno == ECONNRESET || errno == EPIPE) &&
		    send_errno != 0)
			break;	/* nothing came back: say why the write failed */
		if (k < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	text[n] = '\0';
	if (n == 0 && send_errno != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(send_errno));
		free(text);
		return NULL;
	}
	*len = n;
	return text;
fail:
	close(fd);
	free(text);
	return NULL;
}

bool
ctl_ask(const char *path, const char *request, int timeout_ms,
    struct ctl_reply *rep, char *err, size_t errlen)
{
	memset(rep, 0, sizeof(*rep));
	if ((rep->text = ctl_raw(path, request, strlen(request), timeout_ms,
	    &rep->len, err, errlen)) == NULL)
		return false;
	if (!parse_head(path, rep, err, errlen)) {
		ctl_reply_free(rep);
		return false;
	}
	return true;
}

void
ctl_reply_free(struct ctl_reply *rep)
{
	free(rep->text);
	memset(rep, 0, sizeof(*rep));
}
