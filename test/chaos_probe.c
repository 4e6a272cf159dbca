/*
 * chaos_probe.c - for check_ctl_safety.c: whether SUPV_CHAOS reaches a
 * program's tree.  Its one worker's first run either runs its body or is
 * replaced by the rule's failure.  Exit status: 0 the body ran (no rule
 * was applied), 1 the rule was, 2 something else went wrong.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "supervise.h"

static atomic_int body_ran, failed;

static int
body(struct supv_worker *self, void *arg)
{
	(void)arg;
	atomic_store(&body_ran, 1);
	while (supv_sleep(self, SUPV_INFINITY) == 0)
		;
	return 0;
}

static void
on_event(const struct supv_event *ev, void *arg)
{
	(void)arg;
	if (ev->kind == SUPV_EV_EXIT && ev->code == 77)
		atomic_store(&failed, 1);
}

int
main(void)
{
	struct supv *root;

	if (supv_new(&root, &(struct supv_opts){ .name = "root",
	    .intensity = SUPV_INFINITY, .on_event = on_event }) != 0 ||
	    supv_add_worker(root, &(struct supv_child_opts){ .id = "w" }, body,
	    NULL) != 0 || supv_start(root) != 0)
		return 2;
	for (int i = 0; i < 10000 && !atomic_load(&body_ran) &&
	    !atomic_load(&failed); i++)
		usleep(1000);
	supv_free(root);
	return atomic_load(&failed) ? 1 : atomic_load(&body_ran) ? 0 : 2;
}
