/*
 * workerpool.c - pools of identical workers (OTP's simple_one_for_one).
 *
 * A pool is a child supervisor whose workers are copies of one template
 * spec, with ids "<id>.<index>".  It is one_for_one and stops its workers
 * in parallel (parallel_stop), so a thousand workers stop in about one
 * grace rather than a thousand.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pools/pools.h"

#define POOL_MAX 1000000

/*
 * Ids made of a base and an index, "<base>.<index>", for a pool's workers
 * and a task pool's: writing one, and reading the index back.
 */
unsigned
supv__digits(unsigned n)
{
	unsigned d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Writes "<base>.<index>"; the caller checked that it fits. */
void
supv__indexed_id(char dst[SUPV_ID_MAX + 1], const char *base, unsigned index)
{
	if (snprintf(dst, SUPV_ID_MAX + 1, "%s.%u", base, index) > SUPV_ID_MAX)
		dst[SUPV_ID_MAX] = '\0';
}

/* The index of "<base>.<index>" (any base), or false if id is not one. */
bool
supv__indexed_id_index(const char *id, unsigned *index)
{
	const char *dot;
	char *end;
	unsigned long k;

	if (id == NULL || (dot = strrchr(id, '.')) == NULL ||
	    dot[1] < '0' || dot[1] > '9')
		return false;
	errno = 0;
	k = strtoul(dot + 1, &end, 10);
	if (*end != '\0' || errno != 0 || k > UINT_MAX)
		return false;
	*index = (unsigned)k;
	return true;
}

/* Whether ids up to "<id>.<size-1>" fit in SUPV_ID_MAX. */
static int
check_pool_ids(const char *id, unsigned size)
{
	if (size > POOL_MAX)
		return EINVAL;
	if (size > 0 && strlen(id) + 1 + supv__digits(size - 1) > SUPV_ID_MAX)
		return ENAMETOOLONG;
	return 0;
}

static int pool_grow(struct supv *pool, unsigned size);

/* A pool's own state, behind struct supv's pool pointer. */
struct workerpool {
	struct child *tmpl;       /* the spec each worker copies */
	unsigned      size;       /* mu: workers it should have */
	bool          resizing;   /* mu: a supv_pool_resize() is under way */
};

/* Called without the tree's lock when the pool's supervisor is freed. */
static void
wpool_free(struct workerpool *p)
{
	if (p->tmpl != NULL)
		supv__spec_destroy(p->tmpl);
	free(p);
}

/* The spec of worker index, copied from the template. */
static struct child *
clone_worker(const struct child *tmpl, unsigned index)
{
	char id[SUPV_ID_MAX + 1];

	supv__indexed_id(id, tmpl->id, index);
	return supv__spec_clone(tmpl, id, index);
}

SUPV_EXPORT int
supv_add_pool_sized(struct supv *sup, const struct supv_child_opts *uopts,
    const struct supv_pool_opts *upool, supv_work_fn *fn, void *arg,
    size_t osize, size_t psize)
{
	struct supv_child_opts o;
	struct supv_pool_opts po;
	const struct supv_child_opts *opts = &o;
	const struct supv_pool_opts *popts = &po;
	struct supv *pool;
	struct workerpool *p = NULL;
	struct child *tmpl;
	unsigned size;
	int rc;

	if (sup == NULL || uopts == NULL || fn == NULL)
		return EINVAL;
	if ((rc = supv__struct_in(&o, sizeof(o), uopts, osize)) != 0 ||
	    (rc = supv__struct_in(&po, sizeof(po), upool, psize)) != 0)
		return rc;
	size = popts->size == 0 ? 1 : popts->size == SUPV_ZERO ? 0 : popts->size;
	/* First: a child process after fork() must not even allocate. */
	if ((rc = supv__check_owner(sup)) != 0 ||
	    (rc = supv__check_id(opts->id)) != 0 ||
	    (rc = check_pool_ids(opts->id, size)) != 0)
		return rc;
	if ((rc = supv_new(&pool, &(struct supv_opts){ .name = opts->id,
	    .intensity = popts->intensity, .period_ms = popts->period_ms,
	    .on_event = sup->on_event, .event_arg = sup->event_arg })) != 0)
		return rc;
	pool->parallel_stop = true;
	if ((p = supv__xcalloc(1, sizeof(*p))) == NULL) {
		rc = ENOMEM;
		goto fail;
	}
	pool->wpool = p;
	pool->wpool_free = wpool_free;
	if ((rc = supv__spec_new(pool, opts, false, &tmpl)) != 0)
		goto fail;
	tmpl->fn = fn;
	tmpl->arg_boxed = opts->arg_free != NULL;	/* a bit-field: no address */
	if (supv__arg_init(&tmpl->arg, arg, opts->arg_free) != 0) {
		free(tmpl);
		rc = ENOMEM;
		goto fail;
	}
	p->tmpl = tmpl;
	supv__lock_sup(pool);
	rc = pool_grow(pool, size);
	supv__unlock_sup(pool);
	if (rc != 0)
		goto fail;
	rc = supv_add_sup(sup, &(struct supv_child_opts){ .id = opts->id }, pool);
	if (rc == 0)
		return 0;
fail:
	/* The caller keeps arg: no arg_free. */
	if (p != NULL && p->tmpl != NULL)
		supv__arg_keep(p->tmpl->arg, p->tmpl->arg_boxed);
	supv_free(pool);
	return rc;
}

/*
 * Adds one worker spec through the tree's own call.  A spec that could
 * not be added is freed at once: the template holds arg, so that is never
 * its last reference.  Called with the tree's lock held, with pool held
 * (supv__sup_hold) when it is running: the add may wait, and pool may be
 * deleted meanwhile (ECANCELED then).
 */
static int
pool_add_worker(struct supv *pool, unsigned index)
{
	struct child *c;
	int rc;

	if ((c = clone_worker(pool->wpool->tmpl, index)) == NULL)
		return ENOMEM;
	if ((rc = supv__add_spec(pool, c)) != 0)
		supv__spec_destroy(c);
	return rc != 0 ? rc : pool->deleted ? ECANCELED : 0;
}

/* Adds workers up to size.  Called as pool_add_worker() is. */
static int
pool_grow(struct supv *pool, unsigned size)
{
	struct workerpool *p = pool->wpool;
	int rc;

	for (; p->size < size; p->size++)
		if ((rc = pool_add_worker(pool, p->size)) != 0)
			return rc;
	return 0;
}

/*
 * Stops and deletes workers down to size.  Called with the tree's lock
 * held and pool held: each stop waits with the lock dropped, and pool may
 * be deleted meanwhile (ECANCELED then).  A deleted worker's spec is
 * freed under the lock: the template holds arg, so arg_free cannot run.
 */
static int
pool_shrink(struct supv *pool, unsigned size)
{
	struct workerpool *p = pool->wpool;
	char id[SUPV_ID_MAX + 1];
	struct child *gone;
	int rc;

	while (p->size > size) {
		supv__indexed_id(id, p->tmpl->id, p->size - 1);
		gone = NULL;
		rc = supv__child_op_locked(pool, id, REQ_TERMINATE, &gone);
		if (rc == 0 && gone == NULL)
			rc = supv__child_op_locked(pool, id, REQ_DELETE, &gone);
		if (gone != NULL)
			supv__spec_destroy(gone);
		if (pool->deleted)
			return ECANCELED;
		/* A temporary worker that ended is gone already. */
		if (rc != 0 && rc != ENOENT)
			return rc;
		p->size--;
	}
	return 0;
}

SUPV_EXPORT int
supv_pool_resize(struct supv *sup, const char *id, unsigned size)
{
	struct supv *pool = NULL;
	struct workerpool *p;
	struct child *c;
	struct dom *d;
	unsigned was;
	int rc;

	if (sup == NULL)
		return EINVAL;
	if ((rc = supv__check_id(id)) != 0)
		return rc;
	if (size == SUPV_ZERO)
		size = 0;
	if ((rc = supv__check_owner(sup)) != 0)
		return rc;
	d = supv__tree_enter(sup);
	if (supv__caller_is_loop_of(sup)) {
		rc = EDEADLK;
	} else if ((c = supv__find_child(sup, id)) == NULL) {
		rc = ENOENT;
	} else if (c->sup == NULL || (p = c->sup->wpool) == NULL) {
		rc = EINVAL;
	} else if ((rc = check_pool_ids(id, size)) != 0) {
		/* nothing */
	} else if (p->resizing) {
		rc = EBUSY;
	} else if (size < p->size && supv__caller_worker_sup(c->sup) == c->sup &&
	    supv__tls_run->index >= size) {
		/* It would stop itself: checked before anything is stopped. */
		rc = EDEADLK;
	} else {
		/*
		 * Each add or stop may wait with the lock dropped: the pool
		 * is held across them, and sup is not touched again.
		 */
		pool = c->sup;
		supv__sup_hold(pool);
		was = p->size;
		p->resizing = true;
		if (size > was) {
			/* A failed call changes nothing: undo a partial grow. */
			if ((rc = pool_grow(pool, size)) != 0 && rc != ECANCELED)
				(void)pool_shrink(pool, was);
		} else {
			rc = pool_shrink(pool, size);
		}
		p->resizing = false;
	}
	supv__tree_leave(d);
	if (pool != NULL)
		supv__sup_release(pool);
	return rc;
}
