/*
 * thread.c - the library's threads (started with every signal blocked,
 * named), cancellation kept out of its waits, the process's pid across
 * fork(), and eventfds used as flags.
 */
#include <errno.h>
#include <linux/futex.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"

/*
 * Valgrind's race detectors (helgrind, DRD) model pthread locks, not a
 * lock made of atomics: its hand-over is told to them, when their header
 * is there at build time (no cost outside valgrind: a few instructions).
 */
#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define HAVE_HELGRIND_H 1
#endif
#endif
#ifndef HAVE_HELGRIND_H
#define ANNOTATE_HAPPENS_BEFORE(obj) ((void)(obj))
#define ANNOTATE_HAPPENS_AFTER(obj)  ((void)(obj))
#endif

_Thread_local bool supv__tls_masked;

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
	bool mask = !supv__tls_masked;	/* else every signal is blocked already */
	int rc;

	if (supv__fault_hit())
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


/* ---- Futex words ---- */

static long
futex_op(atomic_uint *w, int op, unsigned val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Drepper's "mutex2" (Futexes Are Tricky): no system call uncontended. */
void
supv__flock(atomic_uint *l)
{
	unsigned c = 0;

	if (!atomic_compare_exchange_strong_explicit(l, &c, 1,
	    memory_order_acquire, memory_order_relaxed)) {
		if (c != 2)
			c = atomic_exchange_explicit(l, 2, memory_order_acquire);
		while (c != 0) {
			(void)futex_op(l, FUTEX_WAIT_BITSET_PRIVATE, 2, NULL);
			c = atomic_exchange_explicit(l, 2, memory_order_acquire);
		}
	}
	ANNOTATE_HAPPENS_AFTER(l);
}

void
supv__funlock(atomic_uint *l)
{
	ANNOTATE_HAPPENS_BEFORE(l);
	if (atomic_exchange_explicit(l, 0, memory_order_release) == 2)
		(void)futex_op(l, FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool
supv__futex_wait_until(atomic_uint *w, unsigned v, uint64_t deadline,
    bool cancellable)
{
	struct timespec ts, *tp = NULL;
	int old = 0, e;
	long rc;

	if (deadline != NO_DEADLINE) {
		if (supv__now_ns() >= deadline)
			return false;
		ts.tv_sec = (time_t)(deadline / 1000000000ULL);
		ts.tv_nsec = (long)(deadline % 1000000000ULL);
		tp = &ts;
	}
	/*
	 * A raw system call is no cancellation point; glibc makes its own
	 * blocking calls one by allowing asynchronous cancellation around
	 * the call alone, and so does this (no lock is held, nothing is
	 * half done).
	 */
	if (cancellable)
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
	/* CLOCK_MONOTONIC, absolute: FUTEX_WAIT_BITSET's own clock. */
	rc = futex_op(w, FUTEX_WAIT_BITSET_PRIVATE, v, tp);
	e = errno;
	if (cancellable)
		pthread_setcanceltype(old, NULL);
	return !(rc != 0 && e == ETIMEDOUT);
}

void
supv__futex_wake(atomic_uint *w, int n)
{
	(void)futex_op(w, FUTEX_WAKE_PRIVATE, n, NULL);
}
