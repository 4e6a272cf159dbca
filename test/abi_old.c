/*
 * abi_old.c - a program built against an older copy of the header (made
 * by test/old_header.awk: every struct a caller allocates lacks its last
 * member), with each struct allocated at exactly its size, run under ASan
 * against today's library: the library must read no option struct and
 * write no output struct past the caller's size.  Exits 0 when all is well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervise.h"	/* the older copy */

#define CHECK(cond) do {                                                 \
	if (!(cond)) {                                                   \
		fprintf(stderr, "abi_old: %s:%d: %s\n", __FILE__,        \
		    __LINE__, #cond);                                    \
		exit(1);                                                 \
	}                                                                \
} while (0)

/* A struct of exactly its own size, zeroed: one byte more would hide a bug. */
#define NEW(p) do {                                                      \
	(p) = malloc(sizeof(*(p)));                                      \
	CHECK((p) != NULL);                                              \
	memset((p), 0, sizeof(*(p)));                                    \
} while (0)

static int
worker(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

static int
task(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	return 0;
}

int
main(void)
{
	struct supv *root, *sub;
	struct supv_opts *so, *subo;
	struct supv_child_opts *w, *p, *s, *t;
	struct supv_pool_opts *po;
	struct supv_counts *k;
	struct supv_child_info *info;
	struct supv_taskpool_opts *to;
	struct supv_task_opts *tko;
	struct supv_task_result *res;
	struct supv_taskpool_stats *st;
	struct supv_taskpool *tp;
	struct supv_task *tk;
	size_t total;

	NEW(so);
	so->name = "root";
	so->intensity = SUPV_INFINITY;
	CHECK(supv_new(&root, so) == 0);
	NEW(subo);
	subo->name = "sub";
	CHECK(supv_new(&sub, subo) == 0);

	NEW(w);
	w->id = "w";
	CHECK(supv_add_worker(root, w, worker, NULL) == 0);
	NEW(p);
	p->id = "p";
	NEW(po);
	po->size = 2;
	CHECK(supv_add_pool(root, p, po, worker, NULL) == 0);
	NEW(s);
	s->id = "sub";
	CHECK(supv_add_sup(root, s, sub) == 0);
	NEW(t);
	t->id = "tasks";
	NEW(to);
	to->workers = 2;
	CHECK(supv_taskpool_add(root, t, to, &tp) == 0);
	CHECK(supv_start(root) == 0);

	NEW(k);
	CHECK(supv_count_children(root, k) == 0);
	CHECK(k->specs == 4 && k->active == 4 && k->supervisors == 3);
	info = malloc(4 * sizeof(*info));
	CHECK(info != NULL);
	CHECK(supv_which_children(root, info, 4, &total) == 0);
	CHECK(total == 4);
	CHECK(strcmp(info[0].id, "w") == 0 && strcmp(info[1].id, "p") == 0);
	CHECK(strcmp(info[2].id, "sub") == 0 && info[2].is_sup);
	CHECK(strcmp(info[3].id, "tasks") == 0 && info[3].running);

	NEW(tko);
	tko->attempts = 1;
	CHECK(supv_taskpool_submit(tp, task, NULL, tko, &tk) == 0);
	NEW(res);
	CHECK(supv_task_wait(tk, 10000, res) == 0);
	CHECK(res->status == SUPV_TASK_DONE && res->code == 0);
	memset(res, 0, sizeof(*res));
	CHECK(supv_task_poll(tk, res) == 0);
	CHECK(res->status == SUPV_TASK_DONE);
	supv_task_release(tk);
	NEW(st);
	CHECK(supv_taskpool_stats(tp, st) == 0);
	CHECK(st->submitted == 1 && st->succeeded == 1);

	CHECK(supv_stop(root) == 0);
	supv_free(root);
	free(so), free(subo), free(w), free(p), free(po), free(s), free(t);
	free(to), free(k), free(info), free(tko), free(res), free(st);
	printf("abi_old: an older header's structs were read and written only "
	    "up to their size\n");
	return 0;
}
