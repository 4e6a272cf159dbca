/*
 * fault.c - faults on purpose, for the tests: allocations and thread
 * creations that fail, and pauses where a race window opens.
 */
#include <stdlib.h>

#include "base/base.h"

/*
 * Fault injection, for the tests: while supv_fault_countdown is positive,
 * each allocation or thread creation of the library counts it down, and
 * the one that takes it to zero fails.  Zero (the default) costs one
 * relaxed load.  Hidden: only programs linked with the static library see it.
 */
atomic_long supv_fault_countdown;
void (*_Atomic supv_fault_pause)(int point);

bool
supv__fault_hit(void)
{
	long n = atomic_load_explicit(&supv_fault_countdown, memory_order_relaxed);

	if (n <= 0)
		return false;
	return atomic_fetch_sub(&supv_fault_countdown, 1) == 1;
}

void *
supv__xcalloc(size_t n, size_t size)
{
	return supv__fault_hit() ? NULL : calloc(n, size);
}

