/*
 * arg.c - a spec's argument, shared by the spec and every run of it: in a
 * box only when there is an arg_free to run (once, when the last of them
 * lets go), else the pointer itself, so that a child without arg_free
 * allocates nothing for it.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/core.h"

int
supv__arg_init(union supv__arg *a, void *arg, void (*free_fn)(void *))
{
	struct argbox *b;

	/* Boxed (the caller's flag) exactly when free_fn is set. */
	if (free_fn == NULL) {
		a->raw = arg;
		return 0;
	}
	if ((b = supv__xcalloc(1, sizeof(*b))) == NULL)
		return ENOMEM;
	b->arg = arg;
	b->free_fn = free_fn;
	atomic_init(&b->refs, 1);
	a->box = b;
	return 0;
}

void
supv__arg_ref(union supv__arg a, bool boxed)
{
	if (boxed)
		atomic_fetch_add(&a.box->refs, 1);
}

/* The last reference runs arg_free: without any lock held. */
void
supv__arg_unref(union supv__arg a, bool boxed)
{
	if (!boxed || atomic_fetch_sub(&a.box->refs, 1) != 1)
		return;
	if (a.box->free_fn != NULL)
		a.box->free_fn(a.box->arg);
	free(a.box);
}

void
supv__arg_keep(union supv__arg a, bool boxed)
{
	if (boxed)
		a.box->free_fn = NULL;
}

void *
supv__arg_value(union supv__arg a, bool boxed)
{
	return boxed ? a.box->arg : a.raw;
}

