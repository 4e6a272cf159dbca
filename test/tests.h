/*
 * tests.h - what the Check suites share: an event recorder, polling
 * waits, and a few worker bodies.
 */
#ifndef TESTS_H
#define TESTS_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "supervise.h"

/* Generous: CI machines are slow and shared. */
#define WAIT_MS      10000
#define TCASE_TIMEOUT 60

/* One recorded event, with its strings copied. */
struct rec_ev {
	enum supv_event_kind kind;
	char                 sup[SUPV_ID_MAX + 1];
	char                 child[SUPV_ID_MAX + 1];  /* "" when NULL */
	enum supv_exit_kind  exit;
	int                  code;
	unsigned             restarts;
	unsigned             delay_ms;
	uint64_t             at_ns;
	bool                 spinning;
	enum supv_rule       rule;
};

#define REC_MAX 4096

/* Records events from any number of supervisors (pass it as event_arg). */
struct rec {
	pthread_mutex_t mu;
	struct rec_ev   ev[REC_MAX];
	unsigned        n;
	/* Optional hook, called (without rec's lock) for every event. */
	void          (*hook)(const struct supv_event *ev, void *arg);
	void           *hook_arg;
};

void rec_init(struct rec *r);
void rec_destroy(struct rec *r);
void rec_cb(const struct supv_event *ev, void *arg);
/* Events matching kind and child (NULL: any child) so far. */
unsigned rec_count(struct rec *r, enum supv_event_kind kind, const char *child);
/* Waits up to WAIT_MS for at least n such events; returns the count. */
unsigned rec_wait(struct rec *r, enum supv_event_kind kind, const char *child,
    unsigned n);
/* Copies the events into out (up to max); returns how many there were. */
unsigned rec_snapshot(struct rec *r, struct rec_ev *out, unsigned max);
/* Index of the i-th (0-based) event matching kind/child, or -1. */
int rec_find(struct rec *r, enum supv_event_kind kind, const char *child,
    unsigned i);
/* Prints the events to stderr (for a failing test). */
void rec_dump(struct rec *r);

/* Polls cond (an expression) every millisecond up to ms; true if it held. */
#define POLL_UNTIL(cond, ms) ({                                        \
	bool ok_ = false;                                              \
	for (unsigned i_ = 0; i_ < (unsigned)(ms); i_++) {             \
		if (cond) { ok_ = true; break; }                       \
		sleep_ms(1);                                           \
	}                                                              \
	ok_ || (cond);                                                 \
})

void     sleep_ms(unsigned ms);
uint64_t mono_ns(void);

/* Worker bodies. arg is unused unless said. */
int  w_sleeper(struct supv_worker *self, void *arg);  /* runs until asked to stop; 0 */
int  w_fail(struct supv_worker *self, void *arg);     /* returns (intptr_t)arg at once */
int  w_exit(struct supv_worker *self, void *arg);     /* calls pthread_exit() */
int  w_ignore(struct supv_worker *self, void *arg);   /* ignores stop requests: sleeps
                                                         (intptr_t)arg ms, then 0 */
int  w_beat(struct supv_worker *self, void *arg);     /* heartbeats every 5 ms until stopped */
int  w_ready(struct supv_worker *self, void *arg);    /* supv_ready(), then w_sleeper */

/* A counter for arg_free tests: arg_free increments it. */
void count_free(void *arg);   /* arg is an atomic_int * */

/* The number of events recorded so far. */
unsigned rec_len(struct rec *r);
/*
 * The events recorded from index from on, of supervisor sup (NULL: of
 * every supervisor, each prefixed "name."), as a string such as
 * "S:a X:a:failure R:a T:a G E:gave_up".  The caller frees it.
 */
char *trace(struct rec *r, const char *sup, unsigned from);
/* Asserts that trace(r, sup, from) is want. */
#define ck_trace(r, sup, from, want) do {                                  \
	char *t_ = trace((r), (sup), (from));                              \
	const char *w_ = (want);                                           \
	ck_assert_msg(strcmp(t_, w_) == 0, "events of %s:\n got  \"%s\"\n want \"%s\"", \
	    (sup) != NULL ? (const char *)(sup) : "*", t_, w_);            \
	free(t_);                                                          \
} while (0)
/* Asserts the counts of sup. */
void ck_counts(struct supv *sup, unsigned specs, unsigned active,
    unsigned supervisors, unsigned workers);
/* rec_find that fails the test when there is no such event. */
int  find_ev(struct rec *r, enum supv_event_kind kind, const char *child,
    unsigned i);

/* A worker that runs until asked to stop, and returns code once each time armed is set. */
struct trip {
	atomic_int armed;
	int        code;
};
int  w_trip(struct supv_worker *self, void *arg);

/* The i-th (0-based) event of that kind and child; fails the test if none. */
struct rec_ev ev_get(struct rec *r, enum supv_event_kind kind,
    const char *child, unsigned i);
/* A supervisor whose events go to rec (NULL: none); other options default. */
struct supv *new_root(const char *name, struct rec *rec,
    enum supv_strategy strategy, unsigned intensity);

/* Threads of this process, and their number before a test makes any. */
int  nthreads(void);
int  nfds(void);
/* A fake systemd ($NOTIFY_SOCKET, $WATCHDOG_USEC), and its next message. */
int  fake_systemd(unsigned watchdog_ms);
void next_msg(int fd, char *buf, size_t size, unsigned ms);
int  base_threads(void);

/* The suites (one per test/check_<area>.c). */
#define SUITE(name) Suite *suite_##name(void);
#include "suites.inc"
#undef SUITE

#endif
