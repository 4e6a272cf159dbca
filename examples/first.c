/*
 * first.c - a first libsupervise program: a root supervisor with two
 * workers, one of which fails now and then and is restarted.
 *
 *     cc -o first first.c $(pkg-config --cflags --libs supervise)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <supervise.h>

/* Called on the supervisor's own thread for every start, exit, restart... */
static void
on_event(const struct supv_event *ev, void *arg)
{
	(void)arg;
	printf("%-8s %-8s %s\n", supv_event_kind_name(ev->kind),
	    ev->child != NULL ? ev->child : ev->sup,
	    ev->kind == SUPV_EV_EXIT || ev->kind == SUPV_EV_SUP_EXIT ?
	    supv_exit_kind_name(ev->exit) : "");
}

/* Ticks every 100 ms until asked to stop; fails at every (intptr_t)arg-th tick. */
static int
work(struct supv_worker *self, void *arg)
{
	for (intptr_t tick = 1; supv_sleep(self, 100) == 0; tick++)
		if (tick % (intptr_t)arg == 0)
			return 1;       /* a failure: the supervisor restarts it */
	return 0;                       /* supv_sleep said ECANCELED: a stop */
}

int
main(void)
{
	const char *secs = getenv("SUPV_EXAMPLE_SECONDS");
	struct supv *root;
	int rc;

	/* Up to 10 restarts in 5 s (the default period); beyond that it gives up. */
	if ((rc = supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = 10, .on_event = on_event })) == 0) {
		if ((rc = supv_add_worker(root, &(struct supv_child_opts){ .id = "steady" },
		    work, (void *)1000000)) == 0 &&
		    (rc = supv_add_worker(root, &(struct supv_child_opts){ .id = "flaky" },
		    work, (void *)7)) == 0 && (rc = supv_start(root)) == 0) {
			sleep(secs != NULL ? (unsigned)atoi(secs) : 2);
			rc = supv_stop(root);   /* returns once every worker has ended */
		}
		supv_free(root);
	}
	if (rc != 0)
		fprintf(stderr, "first: %s\n", strerror(rc));
	return rc == 0 ? 0 : 1;
}
