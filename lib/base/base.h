/*
 * base.h - the library's ground floor, which knows nothing of trees:
 * faults on purpose (fault.c), time (clock.c), threads and the process
 * (thread.c), growth-safe structs (sized.c) and texts being built
 * (text.c).  Everything above includes it; it includes nothing of ours
 * but the public header.
 */
#ifndef SUPV_BASE_H
#define SUPV_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <time.h>

#include "supervise.h"

#define SUPV_EXPORT __attribute__((visibility("default")))

#define NS_PER_MS 1000000ULL
#define NO_DEADLINE UINT64_MAX

/* names[v] of a table of names indexed by an enum, or "unknown". */
#define SUPV__NAME_OF(names, v) \
	((unsigned)(v) < sizeof(names) / sizeof((names)[0]) && (names)[v] != NULL ? \
	    (names)[v] : "unknown")

/*
 * A red-black tree's functions, static to the one file that uses them.
 * libbsd's RB_GENERATE_STATIC needs __unused, which it leaves undefined
 * on Linux (a kernel header has a member of that name).
 */
#define RB_GENERATE_FILE(name, type, field, cmp) \
	RB_GENERATE_INTERNAL(name, type, field, cmp, __attribute__((unused)) static)

/* ---- fault.c: faults on purpose, for the tests ---- */

/*
 * While positive, each allocation or thread creation of the library
 * counts it down, and the one that takes it to zero fails.  Hidden: only
 * programs linked with the static library see it.
 */
extern atomic_long supv_fault_countdown;
bool     supv__fault_hit(void);
void    *supv__xcalloc(size_t n, size_t size);

/*
 * Race windows the tests can widen: where the library has just dropped
 * the lock in a place where another thread may change what it looked at.
 * supv_fault_pause (hidden, NULL by default: one relaxed load) is called
 * there with the point.
 */
enum fault_point {
	FP_RUN_FINISHED,     /* a run ended and queued its exit, lock
	                        dropped, a sleeping owner not yet woken */
	FP_START_UNLOCKED,   /* supv_start() dropped the lock to join a loop */
	FP_TRACE_HANDLER,    /* a hang trace's handler took its capture */
	FP_REPLY_UNLOCKED,   /* a tree was copied for a reply, lock dropped */
};
extern void (*_Atomic supv_fault_pause)(int point);

static inline void
fault_pause(enum fault_point p)
{
	void (*fn)(int) = atomic_load_explicit(&supv_fault_pause,
	    memory_order_relaxed);

	if (fn != NULL)
		fn((int)p);
}

/* ---- clock.c: CLOCK_MONOTONIC ---- */

uint64_t supv__now_ns(void);
uint64_t supv__deadline_after_ms(uint64_t from, unsigned ms);
int      supv__cond_init(pthread_cond_t *cv);
/* Waits on cv with mu held; false once deadline (ns) has passed. */
bool     supv__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
    uint64_t deadline);

/* ---- thread.c: threads, the process ---- */

/* Whether this thread has every signal blocked already (a loop's). */
extern _Thread_local bool supv__tls_masked;
int      supv__thread_spawn(pthread_t *t, size_t stack, void *(*fn)(void *),
    void *arg);
void     supv__thread_name(const char *name);
/* The library's waits are no cancellation points; only supv_sleep is. */
int      supv__nocancel_begin(void);
void     supv__nocancel_end(int old);
pid_t    supv__pid(void);
/* An eventfd used as a flag: readable once set, until cleared. */
void     supv__flagfd_set(int fd);
void     supv__flagfd_clear(int fd);
/*
 * Futex words: a lock of one word (0 free, 1 held, 2 held and waited
 * for), and waits on a word that another thread changes and wakes.  A
 * run's own lock and its wake-ups are these, 8 bytes where a mutex and a
 * condition variable took 88.
 */
void     supv__flock(atomic_uint *l);
void     supv__funlock(atomic_uint *l);
/*
 * Sleeps while *w == v, until a wake or deadline (CLOCK_MONOTONIC ns,
 * NO_DEADLINE: none): false once deadline has passed.  Spurious returns
 * happen: the caller looks again.  With cancellable, the sleep is a
 * cancellation point, as glibc makes its own blocking calls one: the
 * caller may hold no lock across it.
 */
bool     supv__futex_wait_until(atomic_uint *w, unsigned v, uint64_t deadline,
    bool cancellable);
void     supv__futex_wake(atomic_uint *w, int n);

/* ---- sized.c: growth-safe structs ---- */

int      supv__struct_in(void *dst, size_t want, const void *src, size_t have);
void     supv__struct_out(void *dst, size_t want, const void *src, size_t have);

/* ---- text.c: texts being built, ids ---- */

/* A text being built: grows, or (fixed) fills a caller's buffer as snprintf. */
struct supv__buf {
	char   *p;
	size_t  len;        /* the whole text's length, even past cap */
	size_t  cap;
	bool    fixed;      /* p is the caller's: never grown */
	bool    failed;     /* no memory */
};
void supv__buf_printf(struct supv__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void supv__buf_put(struct supv__buf *b, const char *p, size_t n);
/* An id as a part of a path, %XX-encoded (base/path.h). */
void supv__buf_pathpart(struct supv__buf *b, const char *id);
/* 0, or EINVAL (NULL, empty) or ENAMETOOLONG (over SUPV_ID_MAX). */
int  supv__check_id(const char *id);

#endif
