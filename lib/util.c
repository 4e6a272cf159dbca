/*
 * util.c - lock domains, monotonic time, thread creation and caller checks.
 */
#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "supervise_internal.h"

_Thread_local struct supv *supv__tls_sup;
_Thread_local struct supv_worker *supv__tls_run;

/*
 * Fault injection, for the tests: while supv_fault_countdown is positive,
 * each allocation or thread creation of the library counts it down, and
 * the one that takes it to zero fails.  Zero (the default) costs one
 * relaxed load.  Hidden: only programs linked with the static library see it.
 */
atomic_long supv_fault_countdown;
void (*_Atomic supv_fault_pause)(int point);

static bool
fault_hit(void)
{
	long n = atomic_load_explicit(&supv_fault_countdown, memory_order_relaxed);

	if (n <= 0)
		return false;
	return atomic_fetch_sub(&supv_fault_countdown, 1) == 1;
}

void *
supv__xcalloc(size_t n, size_t size)
{
	return fault_hit() ? NULL : calloc(n, size);
}

/*
 * A tree's lock domain.  There is no process-wide lock: a child process
 * after fork() never finds one held, and may build new trees; the trees
 * made before the fork stay unusable there (supv__check_owner, checked
 * before any of their locks is taken).
 */
struct dom *
supv__dom_new(void)
{
	struct dom *d;

	if ((d = supv__xcalloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		free(d);
		return NULL;
	}
	atomic_init(&d->refs, 1);
	return d;
}

void
supv__dom_unref(struct dom *d)
{
	if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/*
 * Binds run r to domain d: a run answers to the lock of its child's tree
 * (see struct supv_worker).  Only a run that no thread holds is rebound:
 * one of a tree that is not running.  The old domain is held by the
 * supervisor that made it, so this is never its last reference.
 */
static void
run_rebind(struct supv_worker *r, struct dom *d)
{
	struct dom *old;

	if (r == NULL || (old = r->dom) == d)
		return;
	assert(atomic_load(&r->refs) == 1);
	atomic_fetch_add(&d->refs, 1);
	r->dom = d;
	supv__dom_unref(old);
}

/*
 * Puts s's subtree in domain d: first the runs of every child at every
 * depth, then the supervisors, so that a thread that finds a supervisor
 * in d (and takes d's lock) finds its runs there too.  Called with d's
 * lock held, on a tree that is not running.
 */
static void
set_dom_runs(struct supv *s, struct dom *d)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, order) {
		run_rebind(c->run, d);
		if (c->sup != NULL)
			set_dom_runs(c->sup, d);
	}
}

static void
set_dom_sups(struct supv *s, struct dom *d)
{
	struct child *c;

	TAILQ_FOREACH(c, &s->children, order)
		if (c->sup != NULL)
			set_dom_sups(c->sup, d);
	atomic_store(&s->dom, d);
}

static void
set_dom(struct supv *s, struct dom *d)
{
	set_dom_runs(s, d);
	set_dom_sups(s, d);
}

/*
 * Makes the never-started tree top part of into's tree: one lock for
 * both from now on.  Takes both locks, in address order (nothing else
 * holds two trees' locks), and checks under them that top is still
 * free to be added: EINVAL otherwise.  On success, returns with into's
 * lock held and its domain pinned in *locked, as supv__tree_enter() does;
 * on failure, with no lock held.
 */
int
supv__dom_merge(struct supv *into, struct supv *top, struct dom **locked)
{
	struct dom *a, *b;

	for (;;) {
		a = atomic_load(&into->dom);
		b = atomic_load(&top->dom);
		if (a == b) {
			pthread_mutex_lock(&a->mu);
		} else {
			pthread_mutex_lock(&(a < b ? a : b)->mu);
			pthread_mutex_lock(&(a < b ? b : a)->mu);
		}
		if (atomic_load(&into->dom) == a && atomic_load(&top->dom) == b)
			break;
		pthread_mutex_unlock(&a->mu);
		if (a != b)
			pthread_mutex_unlock(&b->mu);
	}
	if (a != b) {	/* else top is into, or above or below it already */
		if (top->parent != NULL || top->state != SUP_IDLE) {
			pthread_mutex_unlock(&a->mu);
			pthread_mutex_unlock(&b->mu);
			return EINVAL;
		}
		set_dom(top, a);
		pthread_mutex_unlock(&b->mu);
	}
	atomic_fetch_add(&a->refs, 1);
	*locked = a;
	return 0;
}

/*
 * Undoes a merge whose add failed: top, still unchanged, is its own tree
 * again.  Called with the merged tree's lock held, as the last step that
 * touches top (another thread may take its own lock at once).
 */
void
supv__dom_split(struct supv *top)
{
	set_dom(top, top->own_dom);
}

/*
 * Locks s's tree and returns its domain.  The domain is read again once
 * locked: a merge may have moved s to another tree's meanwhile (it holds
 * both locks to do so).
 */
struct dom *
supv__lock_sup(const struct supv *s)
{
	struct dom *d;

	for (;;) {
		d = atomic_load(&s->dom);
		pthread_mutex_lock(&d->mu);
		if (atomic_load(&s->dom) == d)
			return d;
		pthread_mutex_unlock(&d->mu);
	}
}

void
supv__unlock_sup(const struct supv *s)
{
	pthread_mutex_unlock(&atomic_load(&s->dom)->mu);
}

/*
 * A call that may wait with the lock dropped (a request posted to a
 * loop, a pool's resize) enters the tree here: its lock is taken and its
 * domain pinned, and the call leaves through the domain, never through
 * s, which may be freed while it waits (a temporary child supervisor
 * that ended, a pool deleted).
 */
struct dom *
supv__tree_enter(const struct supv *s)
{
	struct dom *d = supv__lock_sup(s);

	atomic_fetch_add(&d->refs, 1);
	return d;
}

void
supv__tree_leave(struct dom *d)
{
	pthread_mutex_unlock(&d->mu);
	supv__dom_unref(d);
}

/* The mutex of s's tree, for condition waits; called with it held. */
pthread_mutex_t *
supv__mu_of(const struct supv *s)
{
	return &atomic_load(&s->dom)->mu;
}

/*
 * A tree's domain, read with its lock held, for code that drops the lock
 * and must take it again without touching s, which may be freed
 * meanwhile (a temporary child supervisor that terminated).
 */
struct dom *
supv__dom_of(const struct supv *s)
{
	return atomic_load(&s->dom);
}

void
supv__dom_lock(struct dom *d)
{
	pthread_mutex_lock(&d->mu);
}

void
supv__dom_unlock(struct dom *d)
{
	pthread_mutex_unlock(&d->mu);
}

void
supv__lock_run(const struct supv_worker *r)
{
	pthread_mutex_lock(&r->dom->mu);
	/* A run answers to its child's tree's lock (struct supv_worker). */
	assert(r->child == NULL || atomic_load(&r->child->owner->dom) == r->dom);
}

void
supv__unlock_run(const struct supv_worker *r)
{
	pthread_mutex_unlock(&r->dom->mu);
}

uint64_t
supv__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
supv__deadline_after_ms(uint64_t from, unsigned ms)
{
	if (ms == SUPV_INFINITY)
		return NO_DEADLINE;
	return from + (uint64_t)ms * NS_PER_MS;
}

int
supv__cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int rc;

	if ((rc = pthread_condattr_init(&a)) != 0)
		return rc;
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

/* Waits on cv with mu held; false once deadline (ns) has passed. */
bool
supv__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
    uint64_t deadline)
{
	struct timespec ts;

	if (deadline == NO_DEADLINE) {
		pthread_cond_wait(cv, mu);
		return true;
	}
	if (supv__now_ns() >= deadline)
		return false;
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	return pthread_cond_timedwait(cv, mu, &ts) != ETIMEDOUT;
}

/*
 * Starts a library thread with every blockable signal blocked, so that the
 * application's signals go to its own threads; a worker may unblock what
 * it needs.
 */
int
supv__thread_spawn(pthread_t *t, size_t stack, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	sigset_t all, old;
	bool mask = supv__tls_sup == NULL;	/* a loop has every signal blocked */
	int rc;

	if (fault_hit())
		return EAGAIN;
	if (stack != 0) {
		if ((rc = pthread_attr_init(&attr)) != 0)
			return rc;
		if ((rc = pthread_attr_setstacksize(&attr, stack)) != 0) {
			pthread_attr_destroy(&attr);
			return rc;
		}
	}
	if (mask) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
	}
	rc = pthread_create(t, stack != 0 ? &attr : NULL, fn, arg);
	if (mask)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (stack != 0)
		pthread_attr_destroy(&attr);
	return rc;
}

/*
 * Names the calling thread after a child's id for ps -L, top -H and gdb.
 * The kernel keeps 15 bytes; a longer id keeps its end, where ids made
 * from a common prefix differ.
 */
void
supv__thread_name(const char *name)
{
	size_t n = strlen(name);

	pthread_setname_np(pthread_self(), n > 15 ? name + n - 15 : name);
}

int
supv__check_id(const char *id)
{
	size_t n;

	if (id == NULL || *id == '\0')
		return EINVAL;
	n = strnlen(id, SUPV_ID_MAX + 1);
	return n > SUPV_ID_MAX ? ENAMETOOLONG : 0;
}

/*
 * EPERM in a child process after fork(): the tree's threads are not
 * there, and a call that waits for them would wait for ever.
 */
/*
 * The process's pid, read once and again in a child after fork():
 * getpid() is a system call, and every call on a tree checks its owner
 * (10,000 adds cost 13 ms more with it on a small virtual machine).  A
 * child made by a raw clone() or vfork() without fork()'s handlers keeps
 * its parent's value: such a child cannot use the parent's trees either
 * way (their threads are not there).
 */
static atomic_int cur_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void
pid_refresh(void)
{
	atomic_store_explicit(&cur_pid, (int)getpid(), memory_order_relaxed);
}

static void
pid_init(void)
{
	pid_refresh();
	(void)pthread_atfork(NULL, NULL, pid_refresh);
}

pid_t
supv__pid(void)
{
	pthread_once(&pid_once, pid_init);
	return (pid_t)atomic_load_explicit(&cur_pid, memory_order_relaxed);
}

int
supv__check_owner(const struct supv *s)
{
	return s->pid == supv__pid() ? 0 : EPERM;
}

/* Called with the tree's lock held. */
struct supv *
supv__root_of(struct supv *s)
{
	while (s->parent != NULL)
		s = s->parent;
	return s;
}

/* Whether s is top or below it.  Called with the tree's lock held. */
bool
supv__in_subtree(const struct supv *top, const struct supv *s)
{
	for (; s != NULL; s = s->parent)
		if (s == top)
			return true;
	return false;
}

/*
 * Whether the calling thread is one of the loops of target's tree: it is
 * then running that tree's event callback (or an arg_free), and any call
 * that changes the tree would wait for itself.  Called with the tree's lock held.
 */
bool
supv__caller_is_loop_of(struct supv *target)
{
	/* One domain per tree; a running loop's never changes. */
	return supv__tls_sup != NULL &&
	    atomic_load(&supv__tls_sup->dom) == atomic_load(&target->dom);
}

/*
 * The supervisor of the calling worker when it belongs to target's tree,
 * or NULL.  Called with target's tree's lock held, which is then the
 * run's: its child may be read.
 */
struct supv *
supv__caller_worker_sup(struct supv *target)
{
	struct supv_worker *r = supv__tls_run;

	if (r == NULL || r->dom != atomic_load(&target->dom) || r->child == NULL)
		return NULL;
	return r->child->owner;
}

/* The library's waits are no cancellation points; only supv_sleep is. */
int
supv__nocancel_begin(void)
{
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

void
supv__nocancel_end(int old)
{
	pthread_setcancelstate(old, NULL);
}

/*
 * An eventfd used as a flag: readable once set, until cleared.  Setting
 * or clearing one that is already so does nothing harmful: the counter
 * cannot overflow from the writes the library makes.
 */
void
supv__flagfd_set(int fd)
{
	uint64_t one = 1;

	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));
}

void
supv__flagfd_clear(int fd)
{
	uint64_t v;

	if (fd >= 0)
		(void)!read(fd, &v, sizeof(v));
}

/*
 * Reads a caller's struct of size have into the library's own of size
 * want: the common part is copied and the rest zero-filled (0 means the
 * default everywhere).  src NULL gives a zeroed struct.  A caller's struct
 * larger than the library's must be zero past it: a newer program that
 * sets a field this library does not know gets E2BIG, as openat2(2) does.
 */
int
supv__struct_in(void *dst, size_t want, const void *src, size_t have)
{
	const unsigned char *p = src;
	size_t i;

	memset(dst, 0, want);
	if (src == NULL)
		return 0;
	for (i = want; i < have; i++)
		if (p[i] != 0)
			return E2BIG;
	memcpy(dst, src, have < want ? have : want);
	return 0;
}

/* Writes the library's struct src (size have) into the caller's of size want. */
void
supv__struct_out(void *dst, size_t want, const void *src, size_t have)
{
	memcpy(dst, src, have < want ? have : want);
	if (want > have)
		memset((char *)dst + have, 0, want - have);
}

/* ---- Texts being built (struct supv__buf) ---- */

void
supv__buf_printf(struct supv__buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (b->failed)
		return;
	room = b->len < b->cap ? b->cap - b->len : 0;
	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= room && !b->fixed) {
		size_t cap = b->cap > 0 ? b->cap : 4096;
		char *p;

		while (cap <= b->len + (size_t)n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
		va_start(ap, fmt);
		(void)vsnprintf(b->p + b->len, cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Appends n bytes as they are. */
void
supv__buf_put(struct supv__buf *b, const char *p, size_t n)
{
	size_t cap;
	char *np;

	if (b->failed || n == 0)
		return;
	if (b->len + n >= b->cap && !b->fixed) {
		for (cap = b->cap > 0 ? b->cap : 4096; cap <= b->len + n; cap *= 2)
			;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (b->len < b->cap) {
		/* A fixed buffer keeps what fits, NUL-terminated, as snprintf. */
		size_t room = b->cap - b->len - 1;

		memcpy(b->p + b->len, p, n < room ? n : room);
		b->p[b->len + (n < room ? n : room)] = '\0';
	}
	b->len += n;
}

/*
 * One id as a part of a path, the one encoding of paths everywhere the
 * library prints one (the control socket, metrics, supv_check): the bytes
 * that would make the path or a line of the control protocol ambiguous,
 * or that a terminal would act on (space and control characters, '%',
 * '/', '=', '"', '\\', and bytes past ASCII) are written %XX; the result
 * is plain printable ASCII.  supv__resolve_path() decodes it.
 */
void
supv__buf_pathpart(struct supv__buf *b, const char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)id, *run = p;
	char esc[3] = { '%' };

	for (; *p != '\0'; p++) {
		if (*p > ' ' && *p < 0x7f && strchr("%/=\"\\", *p) == NULL)
			continue;
		supv__buf_put(b, (const char *)run, (size_t)(p - run));
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 15];
		supv__buf_put(b, esc, 3);
		run = p + 1;
	}
	supv__buf_put(b, (const char *)run, (size_t)(p - run));
}

/*
 * The path of supervisor s from top, which is s or one of its ancestors
 * (NULL: from s's root): "app/db".  Tree's lock held.
 */
void
supv__buf_path(struct supv__buf *b, const struct supv *top, const struct supv *s)
{
	if (s == top || s->parent == NULL || s->spec == NULL) {
		supv__buf_pathpart(b, s->name);
		return;
	}
	supv__buf_path(b, top, s->parent);
	supv__buf_put(b, "/", 1);
	supv__buf_pathpart(b, s->spec->id);
}

/* ---- A loop's sleep: a futex word instead of a condition variable ---- */

/*
 * A condition variable would do, but glibc's wait takes its mutex back
 * marked contended, so every wake-up of a loop would cost a second system
 * call (a futex wake at the next unlock) for nobody.  The word counts
 * wake-ups; the loop reads it, with the tree's lock held, before it lets
 * go of the lock, and sleeps only while it is unchanged.
 */
static long
futex_op(atomic_uint *word, int op, unsigned val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Wakes s's loop if it sleeps.  Called with the tree's lock held. */
void
supv__sup_wake(struct supv *s)
{
	if (!s->sleeping)
		return;		/* it looks at everything before it sleeps */
	atomic_fetch_add_explicit(&s->wake, 1, memory_order_relaxed);
	(void)futex_op(&s->wake, FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool
supv__sup_sleep_until(struct supv *s, uint64_t deadline)
{
	pthread_mutex_t *mu = supv__mu_of(s);
	unsigned v = atomic_load_explicit(&s->wake, memory_order_relaxed);
	struct timespec ts, *tp = NULL;
	bool timed_out;
	long rc;

	if (deadline != NO_DEADLINE) {
		if (supv__now_ns() >= deadline)
			return false;
		ts.tv_sec = (time_t)(deadline / 1000000000ULL);
		ts.tv_nsec = (long)(deadline % 1000000000ULL);
		tp = &ts;
	}
	s->sleeping = true;
	pthread_mutex_unlock(mu);
	/* CLOCK_MONOTONIC, absolute: FUTEX_WAIT_BITSET's own clock. */
	rc = futex_op(&s->wake, FUTEX_WAIT_BITSET_PRIVATE, v, tp);
	timed_out = rc != 0 && errno == ETIMEDOUT;
	pthread_mutex_lock(mu);
	s->sleeping = false;
	return !timed_out;
}
