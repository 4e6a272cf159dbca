/*
 * isolate.c - a risky parser run as a process child, so that its crash is
 * an ordinary restart.
 *
 * A server serves requests on a worker thread ("server") and hands
 * inputs to a parser.  The parser is the same binary run again with
 * --parse (/proc/self/exe --parse), a process child of the same tree:
 * it says READY=1 and WATCHDOG=1 through the sd_notify protocol, as a
 * systemd service would, and answers each input.  One input in five is
 * "poisoned": the parser dereferences a null pointer on it and dies of
 * SIGSEGV.  The tree sees an exit of kind "killed", restarts the parser,
 * and the server's thread never notices: it keeps serving, and counts
 * the inputs that were lost while the parser restarted.
 *
 * In a thread, that SIGSEGV would have ended the whole process.
 *
 * It runs for $SUPV_EXAMPLE_SECONDS (default 4) seconds, then stops.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* for plain cc -std=c11: POSIX and Linux calls */
#endif
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <supervise.h>

/* Abstract socket names, by the server's pid: the parser's, the server's. */
static void
address(struct sockaddr_un *sa, socklen_t *len, const char *who, long pid)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "supv-isolate/%ld/%s",
	    pid, who);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(sa->sun_path + 1));
}

/* ---- The parser: a process of its own ---- */

static void
notify(const char *msg)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (e == NULL || strlen(e) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, e);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(e));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0) {
		(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len);
		close(fd);
	}
}

/* The risky part: it trusts its input. */
static size_t
parse(const char *input)
{
	const char *field = strstr(input, "poison") != NULL ? NULL : input;

	return strlen(field);	/* SIGSEGV on a poisoned input */
}

static int
parser_main(long server_pid)
{
	struct sockaddr_un me, peer;
	socklen_t mlen, plen;
	char buf[512], reply[64];
	ssize_t n;
	int fd;

	address(&me, &mlen, "parser", server_pid);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, mlen) != 0)
		return 1;
	notify("READY=1\nSTATUS=parsing");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		/* WATCHDOG_USEC is set: beat at least every 100 ms. */
		notify("WATCHDOG=1");
		if (poll(&p, 1, 100) != 1)
			continue;
		plen = sizeof(peer);
		if ((n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
		    (struct sockaddr *)&peer, &plen)) <= 0)
			continue;
		buf[n] = '\0';
		snprintf(reply, sizeof(reply), "%zu", parse(buf));
		(void)sendto(fd, reply, strlen(reply), 0, (struct sockaddr *)&peer, plen);
	}
}

/* ---- The server: threads of the supervising process ---- */

static atomic_uint served, parsed, lost, crashes, restarts;

static int
server_main(struct supv_worker *self, void *arg)
{
	struct sockaddr_un me, parser;
	socklen_t mlen, plen;
	unsigned n = 0;
	char input[64], reply[64];
	int fd;

	(void)arg;
	address(&me, &mlen, "server", (long)getpid());
	address(&parser, &plen, "parser", (long)getpid());
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, mlen) != 0)
		return 1;
	while (supv_sleep(self, 20) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		atomic_fetch_add(&served, 1);	/* the server's own work */
		n++;
		snprintf(input, sizeof(input), n % 5 == 0 ? "poison %u" :
		    "request %u", n);
		if (sendto(fd, input, strlen(input), 0, (struct sockaddr *)&parser,
		    plen) < 0 || poll(&p, 1, 200) != 1 ||
		    recv(fd, reply, sizeof(reply), 0) <= 0)
			atomic_fetch_add(&lost, 1);	/* the parser was down */
		else
			atomic_fetch_add(&parsed, 1);
	}
	close(fd);
	return 0;
}

static void
on_event(const struct supv_event *ev, void *arg)
{
	char line[256];

	(void)arg;
	/*
	 * A crash is an exit of kind killed (SIGSEGV).  A sanitizer build
	 * catches the signal itself and exits with a code: a failure, and
	 * an ordinary restart all the same.
	 */
	if (ev->kind == SUPV_EV_EXIT && strcmp(ev->child, "parser") == 0 &&
	    (ev->exit == SUPV_EXIT_KILLED || ev->exit == SUPV_EXIT_FAILURE))
		atomic_fetch_add(&crashes, 1);
	if (ev->kind == SUPV_EV_RESTART)
		atomic_fetch_add(&restarts, 1);
	/* The first crash and restart in full; then the summary says the rest. */
	if (atomic_load(&crashes) <= 1 && supv_event_format(ev, line, sizeof(line)) > 0)
		printf("  %s\n", line);
}

int
main(int argc, char **argv)
{
	static const char *const parser_argv[] = { "/proc/self/exe", "--parse",
	    NULL, NULL };
	const char *secs = getenv("SUPV_EXAMPLE_SECONDS");
	enum supv_exit_kind why;
	struct supv *app;
	char pid[32];
	const char *pa[4];

	if (argc == 3 && strcmp(argv[1], "--parse") == 0)
		return parser_main(strtol(argv[2], NULL, 10));
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	memcpy(pa, parser_argv, sizeof(pa));
	pa[2] = pid;
	if (supv_new(&app, &(struct supv_opts){ .name = "app",
	    .intensity = SUPV_INFINITY, .on_event = on_event }) != 0 ||
	    supv_add_worker(app, &(struct supv_child_opts){ .id = "server" },
	    server_main, NULL) != 0 ||
	    supv_add_process(app, &(struct supv_child_opts){ .id = "parser",
	    .ready_ms = 2000, .heartbeat_ms = 1000 },
	    &(struct supv_process_opts){ .argv = pa, .notify = true }) != 0) {
		fprintf(stderr, "isolate: cannot build the tree\n");
		return 2;
	}
	printf("isolate: a server thread, and its parser in a process of its own "
	    "(/proc/self/exe --parse); one input in five crashes the parser.\n");
	if (supv_start(app) != 0) {
		fprintf(stderr, "isolate: cannot start\n");
		return 2;
	}
	sleep((unsigned)(secs != NULL ? atoi(secs) : 4));
	supv_stop(app);
	supv_wait(app, &why);
	printf("isolate: the parser crashed %u times (SIGSEGV: exit kind killed) "
	    "and was restarted %u times; the server thread served %u requests, "
	    "never restarted; %u parsed, %u lost while the parser restarted.\n",
	    atomic_load(&crashes), atomic_load(&restarts), atomic_load(&served),
	    atomic_load(&parsed), atomic_load(&lost));
	supv_free(app);
	return atomic_load(&crashes) > 0 && atomic_load(&restarts) > 0 &&
	    atomic_load(&served) > 0 ? 0 : 1;
}
