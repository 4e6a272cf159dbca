/* first.c: ./first (until Ctrl-C), ./first SECONDS, or ./first give-up */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <supervise.h>

/* A worker: works in 100 ms steps until asked to stop; fails now and then. */
static int
worker(struct supv_worker *self, void *arg)
{
	int steps = arg != NULL ? 1 : 20 + rand() % 21;	/* 2 to 4 s */

	while (supv_sleep(self, 100) == 0) {	/* ECANCELED once asked to stop */
		supv_heartbeat(self);		/* "not hung" (heartbeat_ms) */
		if (--steps == 0)
			return 1;		/* a failure: it will be restarted */
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *arg = argc > 1 ? argv[1] : "";
	void *fast = strcmp(arg, "give-up") == 0 ? "fast" : NULL;
	struct supv *root;
	enum supv_exit_kind why;

	/*
	 * More than 10 restarts in 5 s and the root gives up.  A run lasts 2 s
	 * or more (1 s if web hung), so at most 9 fit in any 5 s: the chance it
	 * gives up by itself is 0.  "give-up" makes runs 0.1 s: it gives up.
	 */
	if (supv_new(&root, &(struct supv_opts){ .name = "app", .intensity = 10,
	    .on_event = supv_log_stderr }) != 0)
		return 1;
	supv_stop_on_signals(root, (int[]){ SIGINT, SIGTERM, SIGALRM }, 3);
	supv_add_worker(root, &(struct supv_child_opts){ .id = "db" },
	    worker, fast);
	supv_add_worker(root, &(struct supv_child_opts){ .id = "web",
	    .heartbeat_ms = 1000 }, worker, fast);	/* hang detection too */
	if (supv_start(root) != 0)
		return 1;
	alarm((unsigned)atoi(arg));		/* SIGALRM after SECONDS: a stop */
	supv_wait(root, &why);			/* until stopped or given up */
	supv_free(root);
	return supv_exit_status(why);
}
