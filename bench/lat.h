/*
 * lat.h - restart latency as the worker sees it, shared by bench/restart.c
 * (the library's worker and the bare thread) and bench/peers/lib_restart.c:
 * a run takes now first thing, and the time since the last run decided to
 * fail is one sample.
 */
#ifndef BENCH_LAT_H
#define BENCH_LAT_H

#include "bench.h"

struct lat {
	_Atomic uint64_t fail_ns;   /* when the last run decided to fail; 0: none yet */
	atomic_ulong     runs;      /* runs entered */
	atomic_bool      rec;       /* record latencies now */
	uint64_t        *samp;      /* written by the run (one at a time) */
	size_t           cap;
	atomic_size_t    n;
};

static inline void
lat_enter(struct lat *l)
{
	uint64_t t = now_ns();
	uint64_t f = atomic_load_explicit(&l->fail_ns, memory_order_acquire);

	if (f != 0 && atomic_load_explicit(&l->rec, memory_order_relaxed)) {
		size_t i = atomic_load_explicit(&l->n, memory_order_relaxed);

		if (i < l->cap) {
			l->samp[i] = t - f;
			atomic_store_explicit(&l->n, i + 1, memory_order_release);
		}
	}
	atomic_fetch_add_explicit(&l->runs, 1, memory_order_relaxed);
}

static inline void
lat_fail(struct lat *l)
{
	atomic_store_explicit(&l->fail_ns, now_ns(), memory_order_release);
}

static inline void
lat_reset(struct lat *l)
{
	atomic_store(&l->fail_ns, 0);
	atomic_store(&l->runs, 0);
	atomic_store(&l->rec, false);
	atomic_store(&l->n, 0);
}

/* A worker that fails at once, timed. */
static inline int
w_fail(struct supv_worker *self, void *arg)
{
	struct lat *l = arg;

	(void)self;
	lat_enter(l);
	lat_fail(l);
	return 1;
}

#endif
