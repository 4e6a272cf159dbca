/*
 * ring.h - the raw baseline of a task pool: a bounded ring of
 * (function, argument) pairs under one mutex with two condition
 * variables, and w threads popping and calling.
 */
#ifndef BENCH_RING_H
#define BENCH_RING_H

#include "bench.h"

#define RING_LEN 1024
#define RING_MAXW 8

struct ring {
	pthread_mutex_t mu;
	pthread_cond_t  not_empty, not_full;
	struct { void (*fn)(void *); void *arg; } slot[RING_LEN];   /* under mu */
	unsigned        head, len;                                  /* under mu */
	bool            quit;                                       /* under mu */
	pthread_t       th[RING_MAXW];
	unsigned        w;
};

static void *
ring_worker(void *arg)
{
	struct ring *r = arg;
	void (*fn)(void *);
	void *a;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->len == 0 && !r->quit)
			pthread_cond_wait(&r->not_empty, &r->mu);
		if (r->len == 0)
			break;
		fn = r->slot[r->head].fn;
		a = r->slot[r->head].arg;
		r->head = (r->head + 1) % RING_LEN;
		if (r->len-- == RING_LEN)
			pthread_cond_signal(&r->not_full);
		pthread_mutex_unlock(&r->mu);
		fn(a);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static inline void
ring_push(struct ring *r, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&r->mu);
	while (r->len == RING_LEN)
		pthread_cond_wait(&r->not_full, &r->mu);
	r->slot[(r->head + r->len) % RING_LEN].fn = fn;
	r->slot[(r->head + r->len) % RING_LEN].arg = arg;
	r->len++;
	pthread_cond_signal(&r->not_empty);
	pthread_mutex_unlock(&r->mu);
}

/* A ring with w (at most RING_MAXW) threads popping it. */
static inline struct ring *
ring_new(unsigned w)
{
	struct ring *r = calloc(1, sizeof(*r));
	unsigned k;

	if (r == NULL)
		die("calloc", ENOMEM);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->not_empty, NULL);
	pthread_cond_init(&r->not_full, NULL);
	r->w = w;
	for (k = 0; k < w; k++)
		if (pthread_create(&r->th[k], NULL, ring_worker, r) != 0)
			die("pthread_create", EAGAIN);
	return r;
}

/* Lets the threads drain the ring, joins them and frees it. */
static inline void
ring_free(struct ring *r)
{
	unsigned k;

	pthread_mutex_lock(&r->mu);
	r->quit = true;
	pthread_cond_broadcast(&r->not_empty);
	pthread_mutex_unlock(&r->mu);
	for (k = 0; k < r->w; k++)
		pthread_join(r->th[k], NULL);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->not_empty);
	pthread_cond_destroy(&r->not_full);
	free(r);
}

#endif
