/*
 * echo_server.c - a supervised TCP echo server on 127.0.0.1.
 *
 *     echo_server [--self-test] [PORT [WORKERS]]
 *
 * PORT 0 (the default) picks a free port; the port is printed.  Try it with
 * `nc 127.0.0.1 PORT`: every line comes back, and the line "crash" makes
 * the connection's worker fail (a simulated bug), to see it restarted.
 * Ctrl-C stops it.  With --self-test a client thread checks the server and
 * then stops it; $SUPV_EXAMPLE_SECONDS, if set, bounds the run.
 *
 * The tree:
 *
 *     echo            rest_for_one
 *     |-- acceptor    owns the listening socket; queues each connection
 *     `-- pool        one_for_one
 *         |-- conn-1  takes connections off the queue and echoes them
 *         |-- ...
 *         `-- conn-N
 *
 * The pool depends on the acceptor (it feeds the queue), so it starts after
 * it and, under rest_for_one, is restarted whenever the acceptor is; a
 * connection worker that fails is restarted alone, by the pool, and only
 * its own client notices.
 *
 * Every worker waits in poll() on its sockets and on supv_stop_fd(), the
 * descriptor that becomes readable when the supervisor asks it to stop, so
 * a stop wakes it at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* for plain cc -std=c11: POSIX and Linux calls */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <supervise.h>

#define QUEUE_MAX   16      /* connections accepted but not yet taken */
#define WORKERS_MAX 64

/*
 * The connections the acceptor has accepted and no worker has taken yet.
 * ready counts them too (an eventfd in semaphore mode), so that a worker
 * can wait for one in poll() next to its stop descriptor.
 */
struct connq {
	pthread_mutex_t mu;
	int             fd[QUEUE_MAX];  /* mu: a ring */
	unsigned        head, len;      /* mu */
	int             ready;          /* readable while len > 0 */
};

struct server {
	struct connq  q;
	_Atomic int   port;       /* the port bound; 0 until the first bind */
	struct supv  *root;
	unsigned      workers;    /* in the pool */
	bool          self_test;
	bool          test_ok;    /* the self-test client's verdict */
};

static int
connq_init(struct connq *q)
{
	int rc;

	if ((rc = pthread_mutex_init(&q->mu, NULL)) != 0)
		return rc;
	q->head = q->len = 0;
	q->ready = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->ready < 0) {
		rc = errno;
		pthread_mutex_destroy(&q->mu);
		return rc;
	}
	return 0;
}

/* Closes what is left in the queue; no worker may be running. */
static void
connq_destroy(struct connq *q)
{
	while (q->len > 0) {
		close(q->fd[q->head]);
		q->head = (q->head + 1) % QUEUE_MAX;
		q->len--;
	}
	close(q->ready);
	pthread_mutex_destroy(&q->mu);
}

/* Queues fd; false if the queue is full. */
static bool
connq_push(struct connq *q, int fd)
{
	uint64_t one = 1;
	bool ok;

	pthread_mutex_lock(&q->mu);
	if ((ok = q->len < QUEUE_MAX)) {
		q->fd[(q->head + q->len) % QUEUE_MAX] = fd;
		q->len++;
	}
	pthread_mutex_unlock(&q->mu);
	/* Counted after it is queued: whoever reads the count finds it there. */
	if (ok && write(q->ready, &one, sizeof(one)) != sizeof(one))
		abort();        /* cannot happen below 2^64 - 1 */
	return ok;
}

/*
 * Takes a connection once q->ready has been read: that read took one count,
 * and so reserved one queued descriptor for the caller.
 */
static int
connq_pop(struct connq *q)
{
	int fd;

	pthread_mutex_lock(&q->mu);
	fd = q->fd[q->head];
	q->head = (q->head + 1) % QUEUE_MAX;
	q->len--;
	pthread_mutex_unlock(&q->mu);
	return fd;
}

/* Binds and listens on 127.0.0.1:port (0: any free port). */
static int
listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A restarted acceptor binds the same port again at once. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 64) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

/*
 * The acceptor.  It has ready_ms: supv_start() waits for its supv_ready(),
 * so the port is known (and the socket listening) once the tree has started.
 */
static int
acceptor_main(struct supv_worker *self, void *arg)
{
	struct server *s = arg;
	struct pollfd p[2];
	int lfd, port, rc = 0;

	if ((p[0].fd = supv_stop_fd(self)) < 0)
		return 1;
	if ((lfd = listen_on(atomic_load(&s->port))) < 0 ||
	    (port = bound_port(lfd)) < 0) {
		perror("echo_server: acceptor: listen");
		if (lfd >= 0)
			close(lfd);
		return 1;       /* a failure: fails the start (see ready_ms) */
	}
	atomic_store(&s->port, port);
	supv_ready(self);

	p[0].events = POLLIN;
	p[1] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (;;) {
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("echo_server: acceptor: poll");
			rc = 1;
			break;
		}
		if (p[0].revents != 0)
			break;          /* asked to stop */
		if (p[1].revents == 0)
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE and the like: fail, and let the tree restart us. */
			perror("echo_server: acceptor: accept");
			rc = 1;
			break;
		}
		if (!connq_push(&s->q, c))
			close(c);       /* every worker busy and the queue full */
	}
	close(lfd);
	return rc;
}

enum served { CLIENT_DONE, STOP_ASKED, CRASHED };

/* Writes all of buf to c, waiting in poll() when the client is slow. */
static enum served
write_all(int stop, int c, const char *buf, size_t len)
{
	while (len > 0) {
		struct pollfd p[2] = { { stop, POLLIN, 0 }, { c, POLLOUT, 0 } };
		/* MSG_NOSIGNAL: a client gone away is EPIPE here, not SIGPIPE. */
		ssize_t n = send(c, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return CLIENT_DONE;     /* the client went away */
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return CLIENT_DONE;
		if (p[0].revents != 0)
			return STOP_ASKED;
	}
	return CLIENT_DONE;
}

/* Echoes c line by line until the client closes, a stop, or "crash". */
static enum served
serve(int stop, int c)
{
	char buf[512];
	size_t len = 0;

	for (;;) {
		struct pollfd p[2] = { { stop, POLLIN, 0 }, { c, POLLIN, 0 } };
		char *nl;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return CLIENT_DONE;
		}
		if (p[0].revents != 0)
			return STOP_ASKED;
		n = read(c, buf + len, sizeof(buf) - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return CLIENT_DONE;     /* closed, or reset */
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len)) != NULL) {
			size_t line = (size_t)(nl - buf) + 1;
			enum served r;

			if (line == 6 && memcmp(buf, "crash\n", 6) == 0)
				return CRASHED;
			if ((r = write_all(stop, c, buf, line)) != CLIENT_DONE)
				return r;
			memmove(buf, buf + line, len - line);
			len -= line;
		}
		if (len == sizeof(buf)) {       /* a very long line: pass it on */
			enum served r = write_all(stop, c, buf, len);

			if (r != CLIENT_DONE)
				return r;
			len = 0;
		}
	}
}

/* A connection worker: takes connections off the queue, one at a time. */
static int
conn_main(struct supv_worker *self, void *arg)
{
	struct server *s = arg;
	int stop = supv_stop_fd(self);

	if (stop < 0)
		return 1;
	for (;;) {
		struct pollfd p[2] = { { stop, POLLIN, 0 }, { s->q.ready, POLLIN, 0 } };
		uint64_t one;
		enum served r;
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("echo_server: worker: poll");
			return 1;
		}
		if (p[0].revents != 0)
			return 0;               /* asked to stop */
		/* Another worker may have taken it first: then EAGAIN. */
		if (read(s->q.ready, &one, sizeof(one)) != sizeof(one))
			continue;
		c = connq_pop(&s->q);
		r = serve(stop, c);
		close(c);
		if (r == STOP_ASKED)
			return 0;
		if (r == CRASHED)
			return 2;       /* the simulated bug: a failure, code 2 */
	}
}

static void
on_event(const struct supv_event *ev, void *arg)
{
	static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;
	struct server *s = arg;
	const char *child = ev->child != NULL ? ev->child : "-";
	char detail[64] = "";

	if (ev->kind == SUPV_EV_EXIT && ev->exit == SUPV_EXIT_FAILURE)
		snprintf(detail, sizeof(detail), "failure, code %d", ev->code);
	else if (ev->kind == SUPV_EV_EXIT || ev->kind == SUPV_EV_SUP_EXIT)
		snprintf(detail, sizeof(detail), "%s", supv_exit_kind_name(ev->exit));
	/* Both supervisors call this, each on its own thread. */
	pthread_mutex_lock(&out);
	if (detail[0] != '\0')
		printf("event: %-5s %-9s %-8s %s\n", ev->sup,
		    supv_event_kind_name(ev->kind), child, detail);
	else
		printf("event: %-5s %-9s %s\n", ev->sup,
		    supv_event_kind_name(ev->kind), child);
	pthread_mutex_unlock(&out);
	/* If the root ends on its own (it gave up), wake main: see main(). */
	if (ev->kind == SUPV_EV_SUP_EXIT && ev->child == NULL &&
	    strcmp(ev->sup, supv_name(s->root)) == 0 && kill(getpid(), SIGUSR1) != 0)
		perror("echo_server: kill");
}

/*
 * The self-test: a client that connects, sends lines and checks their
 * echo; makes one worker crash and checks that the server still serves;
 * then wakes main, which stops the tree.
 */

static int
client_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 5, 0 };   /* so a broken server fails the test */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends line and checks that exactly it comes back. */
static bool
client_echo(int fd, const char *line)
{
	size_t len = strlen(line), got = 0;
	char buf[256];

	if (len > sizeof(buf) || send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		return false;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return memcmp(buf, line, len) == 0;
}

static bool
self_test(int port, unsigned nclients)
{
	int fd[4] = { -1, -1, -1, -1 };
	unsigned i, j;
	bool ok = true;
	char line[64], c;

	/* Some clients at once, each served by its own worker. */
	for (i = 0; i < nclients && ok; i++)
		ok = (fd[i] = client_connect(port)) >= 0;
	for (j = 0; j < 5 && ok; j++)
		for (i = 0; i < nclients && ok; i++) {
			snprintf(line, sizeof(line), "client %u, line %u\n", i, j);
			ok = client_echo(fd[i], line);
		}
	for (i = 0; i < nclients; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	printf("self-test: %u clients at once: %s\n", nclients, ok ? "ok" : "FAILED");
	if (!ok)
		return false;

	/* "crash": the worker fails and closes the connection: EOF here. */
	if ((fd[0] = client_connect(port)) < 0)
		return false;
	ok = client_echo(fd[0], "before the crash\n") &&
	    send(fd[0], "crash\n", 6, MSG_NOSIGNAL) == 6 && read(fd[0], &c, 1) == 0;
	close(fd[0]);
	printf("self-test: a worker crashed, its client saw EOF: %s\n",
	    ok ? "ok" : "FAILED");
	if (!ok)
		return false;

	/* The pool still serves (the crashed worker was restarted). */
	for (i = 0; i < 3 && ok; i++) {
		if ((fd[0] = client_connect(port)) < 0)
			return false;
		ok = client_echo(fd[0], "after the crash\n");
		close(fd[0]);
	}
	printf("self-test: served after the crash: %s\n", ok ? "ok" : "FAILED");
	return ok;
}

static void *
client_main(void *arg)
{
	struct server *s = arg;

	/* As many clients at once as there are workers, up to 4. */
	s->test_ok = self_test(atomic_load(&s->port),
	    s->workers < 4 ? s->workers : 4);
	if (kill(getpid(), SIGUSR1) != 0)    /* wake main: it stops the tree */
		perror("echo_server: kill");
	return NULL;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *s != '\0' && *end == '\0' && *out <= max ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static struct server s;
	struct supv *pool = NULL;
	unsigned long port = 0, workers = 4, secs = 0;
	const char *env = getenv("SUPV_EXAMPLE_SECONDS");
	enum supv_exit_kind why;
	pthread_t client;
	bool client_started = false;
	sigset_t sigs;
	char id[16];
	int rc, argi = 1, status = 1;

	if (argi < argc && strcmp(argv[argi], "--self-test") == 0) {
		s.self_test = true;
		argi++;
	}
	if ((argi < argc && parse_uint(argv[argi++], 65535, &port) != 0) ||
	    (argi < argc && (parse_uint(argv[argi++], WORKERS_MAX, &workers) != 0 ||
	    workers == 0)) || argi < argc) {
		fprintf(stderr, "usage: echo_server [--self-test] [PORT [WORKERS]]\n");
		return 2;
	}
	if (env != NULL && parse_uint(env, 3600, &secs) != 0)
		secs = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/*
	 * main waits for these in sigtimedwait(); they are blocked before any
	 * thread starts, so every thread inherits the mask and none takes them.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	if ((rc = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0) {
		fprintf(stderr, "echo_server: pthread_sigmask: %s\n", strerror(rc));
		return 1;
	}
	atomic_init(&s.port, (int)port);
	s.workers = (unsigned)workers;
	if ((rc = connq_init(&s.q)) != 0) {
		fprintf(stderr, "echo_server: %s\n", strerror(rc));
		return 1;
	}

	if ((rc = supv_new(&s.root, &(struct supv_opts){ .name = "echo",
	    .strategy = SUPV_REST_FOR_ONE, .intensity = 3, .period_ms = 10000,
	    .on_event = on_event, .event_arg = &s })) != 0)
		goto fail;
	if ((rc = supv_add_worker(s.root, &(struct supv_child_opts){ .id = "acceptor",
	    .ready_ms = 2000, .shutdown_ms = 1000 }, acceptor_main, &s)) != 0)
		goto fail;
	if ((rc = supv_new(&pool, &(struct supv_opts){ .name = "pool",
	    .intensity = 10, .period_ms = 10000,
	    .on_event = on_event, .event_arg = &s })) != 0)
		goto fail;
	for (unsigned long i = 1; i <= workers; i++) {
		snprintf(id, sizeof(id), "conn-%lu", i);
		if ((rc = supv_add_worker(pool, &(struct supv_child_opts){ .id = id,
		    .shutdown_ms = 1000 }, conn_main, &s)) != 0)
			goto fail;
	}
	if ((rc = supv_add_sup(s.root, &(struct supv_child_opts){ .id = "pool" },
	    pool)) != 0)
		goto fail;
	pool = NULL;    /* the root owns it now */

	if ((rc = supv_start(s.root)) != 0)
		goto fail;
	printf("listening on 127.0.0.1:%d with %lu worker%s\n",
	    atomic_load(&s.port), workers, workers == 1 ? "" : "s");

	if (s.self_test) {
		if ((rc = pthread_create(&client, NULL, client_main, &s)) != 0)
			goto fail;
		client_started = true;
	}
	/* Until Ctrl-C, the self-test's end, the time limit, or the root's end. */
	for (;;) {
		struct timespec limit = { (time_t)secs, 0 };
		int sig = secs != 0 ? sigtimedwait(&sigs, NULL, &limit) :
		    sigwaitinfo(&sigs, NULL);

		if (sig >= 0 || errno == EAGAIN)
			break;
		if (errno != EINTR) {
			perror("echo_server: sigwait");
			break;
		}
	}
	if ((rc = supv_stop(s.root)) != 0 || (rc = supv_wait(s.root, &why)) != 0)
		goto fail;
	if (client_started) {
		if ((rc = pthread_join(client, NULL)) != 0)
			goto fail;
		client_started = false;
	}
	if (why != SUPV_EXIT_SHUTDOWN)
		fprintf(stderr, "echo_server: the tree ended by itself (%s)\n",
		    supv_exit_kind_name(why));
	else if (s.self_test && !s.test_ok)
		fprintf(stderr, "echo_server: the self-test failed\n");
	else
		status = 0;
	printf("stopped\n");
	supv_free(s.root);
	connq_destroy(&s.q);
	return status;

fail:
	/* supv_start: ECHILD when a child failed to start (it said why). */
	fprintf(stderr, "echo_server: %s\n",
	    rc == ECHILD ? "the tree could not start" : strerror(rc));
	supv_free(pool);
	supv_free(s.root);      /* stops the tree if it runs */
	if (client_started)
		pthread_join(client, NULL);
	connq_destroy(&s.q);
	return 1;
}
