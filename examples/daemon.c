/*
 * daemon.c - a service as systemd sees it: Type=notify, WatchdogSec=,
 * Restart=on-failure (see daemon.service beside this file).
 *
 * The tree tells systemd READY=1 once every worker has started, STATUS=
 * lines as it runs, WATCHDOG=1 only while it is healthy, and STOPPING=1
 * when it stops.  SIGTERM (systemctl stop) and SIGINT stop it in order;
 * main() exits 0 then, and 1 when the root gave up, so that
 * Restart=on-failure restarts the whole process only when in-process
 * supervision could not cope.
 *
 * With SUPV_CONTROL_SOCKET set (daemon.service sets it to a path in its
 * RuntimeDirectory), the tree is served there for supervisectl(1):
 * supervisectl -s "$SUPV_CONTROL_SOCKET" tree, health, ready, metrics,
 * and restart or terminate (the socket is the service user's and root's
 * alone: mode 0600, and its peers' credentials are checked).
 *
 * Run by hand: ./daemon, then Ctrl-C.  SUPV_EXAMPLE_SECONDS=N stops it
 * after N seconds, as if SIGTERM had come.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <supervise.h>
#include <unistd.h>

/* Polls a job queue; beats its heartbeat once per round. */
static int
poller(struct supv_worker *self, void *arg)
{
	(void)arg;
	do
		supv_heartbeat(self);
	while (supv_sleep(self, 200) == 0);
	return 0;
}

int
main(void)
{
	struct supv *root;
	enum supv_exit_kind why;
	const char *secs = getenv("SUPV_EXAMPLE_SECONDS");
	const char *ctl = getenv("SUPV_CONTROL_SOCKET");
	int rc;

	if ((rc = supv_new(&root, &(struct supv_opts){ .name = "daemon",
	    .intensity = 5, .period_ms = 10000,
	    .on_event = supv_log_stderr })) != 0) {
		fprintf(stderr, "supv_new: %d\n", rc);
		return 1;
	}
	/* Before any thread is made, so that every thread inherits the mask. */
	if ((rc = supv_stop_on_signals(root, NULL, 0)) != 0 ||
	    (rc = supv_notify_systemd(root, SUPV_NOTIFY_ALL)) != 0 ||
	    (rc = supv_add_pool(root, &(struct supv_child_opts){ .id = "poller",
	    .heartbeat_ms = 2000 }, &(struct supv_pool_opts){ .size = 4 },
	    poller, NULL)) != 0 ||
	    (ctl != NULL && *ctl != '\0' &&
	    (rc = supv_control_listen(root, ctl, &(struct supv_control_opts){
	    .allow_changes = true })) != 0) ||
	    (rc = supv_start(root)) != 0) {
		fprintf(stderr, "daemon: cannot start: error %d\n", rc);
		supv_free(root);
		return 1;
	}
	fprintf(stderr, "daemon: running as pid %d; SIGTERM or Ctrl-C stops it\n",
	    (int)getpid());
	if (secs != NULL) {
		/* A bounded run: the same path as systemctl stop. */
		sleep((unsigned)atoi(secs));
		kill(getpid(), SIGTERM);
	}
	supv_wait(root, &why);
	fprintf(stderr, "daemon: stopped (%s, signal %d), exit status %d\n",
	    supv_exit_kind_name(why), supv_stop_signal(root),
	    supv_exit_status(why));
	supv_free(root);
	return supv_exit_status(why);
}
