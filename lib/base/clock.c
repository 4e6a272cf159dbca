/*
 * clock.c - CLOCK_MONOTONIC time, deadlines, and condition variables
 * that wait on it.
 */
#include <errno.h>
#include <time.h>

#include "base/base.h"

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

