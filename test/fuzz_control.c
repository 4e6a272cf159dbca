/*
 * fuzz_control.c - libFuzzer harness for the control socket's requests
 * (make fuzz): each input is one request, answered as the control thread
 * answers it (supv__ctl_answer) against a small tree that is not running,
 * with changes allowed.  Every answer must be an "ok" reply or exactly one
 * error line, and nothing may crash, leak or change the tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outside/outside.h"

static struct supv *root;

static int
body(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	return 0;
}

static void
build(void)
{
	struct supv *db;

	if (supv_new(&root, &(struct supv_opts){ .name = "app" }) != 0 ||
	    supv_add_worker(root, &(struct supv_child_opts){ .id = "w" }, body,
	    NULL) != 0 ||
	    supv_add_worker(root, &(struct supv_child_opts){ .id = "a b%/" }, body,
	    NULL) != 0 ||
	    supv_new(&db, &(struct supv_opts){ .name = "db" }) != 0 ||
	    supv_add_worker(db, &(struct supv_child_opts){ .id = "conn",
	    .heartbeat_ms = 100 }, body, NULL) != 0 ||
	    supv_add_sup(root, &(struct supv_child_opts){ .id = "db" }, db) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct supv__buf out = { 0 };
	struct supv_counts k;
	unsigned long probe;
	const char *nl;

	if (root == NULL)
		build();
	supv__ctl_answer(root, true, (const char *)data, size, &out, &probe);
	if (out.failed || out.p == NULL || probe != 0)
		abort();	/* an idle tree is never healthy: no probe */
	if (strncmp(out.p, "ok\n", 3) != 0) {
		nl = strchr(out.p, '\n');
		if (strncmp(out.p, "error\t", 6) != 0 || nl == NULL || nl[1] != '\0')
			abort();
	}
	if (out.p[out.len - 1] != '\n' || strlen(out.p) != out.len)
		abort();
	free(out.p);
	/* Nothing changed: every spec is still there. */
	if (supv_count_children(root, &k) != 0 || k.specs != 3)
		abort();
	return 0;
}
