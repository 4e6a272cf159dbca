/*
 * control.c - a running tree that supervisectl(1) can see and steer.
 *
 *   build/examples/control [-c] [SOCKET] &
 *   build/supervisectl -s SOCKET tree
 *
 * The tree "app" has a web worker that beats its heartbeat, a child
 * supervisor "db" with a connection worker that fails every second (and
 * waits in backoff before each restart) and a pool of two readers, and a
 * "stuck" worker that goes quiet now and then, is found hung, and takes
 * a while to stop.  So every state shows up: running, backoff, hung,
 * stopping.  The tree is served on SOCKET (default
 * /tmp/supv-control.PID.sock); -c lets supervisectl restart and
 * terminate children.  It runs $SUPV_EXAMPLE_SECONDS seconds (default
 * 4; 0: until SIGINT or SIGTERM), then stops, which removes the socket.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* for plain cc -std=c11: POSIX and Linux calls */
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <supervise.h>

static int
web_main(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 50) == 0)
		supv_heartbeat(self);   /* one request served */
	return 0;
}

/* Loses its connection after a second: exit code 3, restarted after a backoff. */
static int
conn_main(struct supv_worker *self, void *arg)
{
	(void)arg;
	if (supv_sleep(self, 1000) != 0)
		return 0;
	return 3;
}

static int
reader_main(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 100) == 0)
		;
	return 0;
}

/*
 * Beats for 1.5 s, then blocks for 2 s without looking at its stop
 * request: hung after 300 ms, then stopping until it comes back.
 */
static int
stuck_main(struct supv_worker *self, void *arg)
{
	struct timespec ts = { .tv_sec = 2 };

	(void)arg;
	for (int i = 0; i < 30; i++) {
		if (supv_sleep(self, 50) != 0)
			return 0;
		supv_heartbeat(self);
	}
	nanosleep(&ts, NULL);           /* a call that never answers in time */
	return 0;
}

static int
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "control: %s: %s\n", what, strerror(rc));
		exit(1);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct supv *app, *db;
	struct supv_control_opts copts = { 0 };
	const char *env = getenv("SUPV_EXAMPLE_SECONDS");
	unsigned seconds = env != NULL ? (unsigned)atoi(env) : 4;
	char path[108];
	int opt;

	while ((opt = getopt(argc, argv, "c")) != -1) {
		if (opt != 'c') {
			fprintf(stderr, "usage: control [-c] [SOCKET]\n");
			return 2;
		}
		copts.allow_changes = true;
	}
	if (optind < argc)
		snprintf(path, sizeof(path), "%s", argv[optind]);
	else
		snprintf(path, sizeof(path), "/tmp/supv-control.%ld.sock", (long)getpid());

	check(supv_new(&app, &(struct supv_opts){ .name = "app",
	    .intensity = 1000, .period_ms = 10000 }), "supv_new");
	/* Before any thread: SIGINT and SIGTERM stop the tree. */
	check(supv_stop_on_signals(app, NULL, 0), "supv_stop_on_signals");
	check(supv_add_worker(app, &(struct supv_child_opts){ .id = "web",
	    .heartbeat_ms = 500 }, web_main, NULL), "add web");

	check(supv_new(&db, &(struct supv_opts){ .name = "db",
	    .intensity = 1000, .period_ms = 10000 }), "supv_new db");
	check(supv_add_worker(db, &(struct supv_child_opts){ .id = "conn",
	    .backoff_ms = 500, .backoff_max_ms = 500 }, conn_main, NULL), "add conn");
	check(supv_add_pool(db, &(struct supv_child_opts){ .id = "reader" },
	    &(struct supv_pool_opts){ .size = 2 }, reader_main, NULL), "add pool");
	check(supv_add_sup(app, &(struct supv_child_opts){ .id = "db" }, db), "add db");

	check(supv_add_worker(app, &(struct supv_child_opts){ .id = "stuck",
	    .heartbeat_ms = 300, .shutdown_ms = 5000 }, stuck_main, NULL),
	    "add stuck");

	check(supv_control_listen(app, path, &copts), "supv_control_listen");
	check(supv_start(app), "supv_start");
	printf("control: serving the tree on %s%s\n", path,
	    copts.allow_changes ? " (changes allowed)" : "");
	fflush(stdout);

	if (seconds == 0) {
		supv_wait(app, NULL);
	} else if (supv_timedwait(app, NULL, seconds * 1000) != 0) {
		supv_stop(app);
		supv_wait(app, NULL);
	}
	supv_free(app);                 /* closes and removes the socket */
	return 0;
}
