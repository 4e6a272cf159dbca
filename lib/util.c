/*
 * util.c - the lock, monotonic time, thread creation and caller checks.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise_internal.h"

pthread_mutex_t supv__mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t  supv__reply_cv;
_Thread_local struct supv *supv__tls_sup;
_Thread_local struct supv_worker *supv__tls_run;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

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

static void atfork_prepare(void) { pthread_mutex_lock(&supv__mu); }
static void atfork_release(void) { pthread_mutex_unlock(&supv__mu); }

/*
 * The fork handlers keep a child process able to build new trees: the
 * lock is never inherited held.  Trees made before the fork stay unusable
 * there, as supervise(7) says.
 */
static void
global_init(void)
{
	supv__cond_init(&supv__reply_cv);
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

void
supv__lock(void)
{
	pthread_once(&init_once, global_init);
	pthread_mutex_lock(&supv__mu);
}

void
supv__unlock(void)
{
	pthread_mutex_unlock(&supv__mu);
}

void
supv__lock_sup(const struct supv *s)
{
	(void)s;
	supv__lock();
}

void
supv__unlock_sup(const struct supv *s)
{
	(void)s;
	supv__unlock();
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

bool
supv__cond_wait_until(pthread_cond_t *cv, uint64_t deadline)
{
	struct timespec ts;

	if (deadline == NO_DEADLINE) {
		pthread_cond_wait(cv, &supv__mu);
		return true;
	}
	if (supv__now_ns() >= deadline)
		return false;
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	return pthread_cond_timedwait(cv, &supv__mu, &ts) != ETIMEDOUT;
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
int
supv__check_owner(const struct supv *s)
{
	return s->pid == getpid() ? 0 : EPERM;
}

/* Called with supv__mu held. */
struct supv *
supv__root_of(struct supv *s)
{
	while (s->parent != NULL)
		s = s->parent;
	return s;
}

/* Whether s is top or below it.  Called with supv__mu held. */
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
 * that changes the tree would wait for itself.  Called with supv__mu held.
 */
bool
supv__caller_is_loop_of(struct supv *target)
{
	return supv__tls_sup != NULL && supv__root_of(supv__tls_sup) == supv__root_of(target);
}

/*
 * The supervisor of the calling worker when it belongs to target's tree,
 * or NULL.  Called with supv__mu held.
 */
struct supv *
supv__caller_worker_sup(struct supv *target)
{
	if (supv__tls_run == NULL || supv__tls_run->child == NULL)
		return NULL;
	if (supv__root_of(supv__tls_run->child->owner) != supv__root_of(target))
		return NULL;
	return supv__tls_run->child->owner;
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
