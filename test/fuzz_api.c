/*
 * fuzz_api.c - a libFuzzer harness: each input is a short program of API
 * calls against one tree (adding workers with random options and
 * behaviours, child supervisors and pools; starting, stopping, waiting;
 * terminating, restarting and deleting children by index; counting,
 * listing, resizing pools; arming the fault injection), always ending with
 * supv_free.  Worker behaviours: return 0 or non-zero at once or after a
 * short supv_sleep, pthread_exit, ignore a stop request for a few ms, beat
 * or stay silent under a small heartbeat_ms, be ready or not under
 * ready_ms, run until stopped.
 *
 * It aborts (a crash for libFuzzer) when a call returns what its contract
 * does not allow, an event is malformed or comes after supv_stop returned,
 * a stopped tree has an active child, an arg_free is not called exactly
 * once, a worker thread outlives its input by seconds, or an input runs
 * for FUZZ_INPUT_MAX_S (a deadlock).  ASan and UBSan catch the rest, and
 * libFuzzer's leak check runs after each input.
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * Environment, for fuzzing past a known bug or debugging one:
 * FUZZ_LENIENT_ECHILD=1 (an arg_free after ECHILD is let through),
 * FUZZ_NO_SAME_THREAD=1 (no same_thread children), FUZZ_DEADLOCK_PAUSE=1
 * (a deadlocked input waits 600 s for a debugger before aborting).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervise.h"

/* The library's fault injection (lib/base/fault.c): the n-th allocation or thread creation fails. */
extern atomic_long supv_fault_countdown;

#define MAX_OPS          48
#define MAX_SUPS         8
#define FUZZ_INPUT_MAX_S 20

#define CHECK(cond) do {                                                      \
	if (!(cond)) {                                                        \
		fprintf(stderr, "fuzz_api: %s:%d: check failed: %s\n",         \
		    __FILE__, __LINE__, #cond);                                \
		abort();                                                      \
	}                                                                     \
} while (0)

/* Whether rc is 0 or one of the n errors listed. */
static bool
rc_in(int rc, int n, const int *ok)
{
	int i;

	if (rc == 0)
		return true;
	for (i = 0; i < n; i++)
		if (rc == ok[i])
			return true;
	fprintf(stderr, "fuzz_api: unexpected %s (%d)\n", strerror(rc), rc);
	return false;
}

#define RC_IN(rc, ...) CHECK(rc_in((rc), sizeof((int[]){ __VA_ARGS__ }) / \
	sizeof(int), (int[]){ __VA_ARGS__ }))

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
nap_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* --- the input --- */

struct input {
	const uint8_t *p;
	size_t         n;
};

static unsigned
byte(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* --- workers --- */

enum beh {
	B_RET0, B_RETN, B_NAP_RET0, B_NAP_RETN, B_EXIT, B_DEAF, B_BEAT,
	B_SILENT, B_READY, B_SLEEPER, B_NBEH
};

/*
 * Threads that ran a worker body and have not ended yet: a thread-specific
 * value's destructor counts the end, however the thread ends.
 */
static atomic_int live;
static pthread_key_t live_key;

static void
live_end(void *arg)
{
	(void)arg;
	atomic_fetch_sub(&live, 1);
}

static int
w_body(struct supv_worker *self, void *arg)
{
	unsigned v = (unsigned)((uintptr_t)arg & 0xffff), beh = v >> 8, p = v & 0xff;

	if (pthread_getspecific(live_key) == NULL) {
		atomic_fetch_add(&live, 1);
		pthread_setspecific(live_key, &live);
	}
	CHECK(supv_worker_id(self) != NULL);
	switch (beh) {
	case B_RET0:
		return 0;
	case B_RETN:
		return 1 + (int)(p % 100);
	case B_NAP_RET0:
	case B_NAP_RETN:
		if (supv_sleep(self, 1 + p % 8) != 0)
			return 0;
		return beh == B_NAP_RET0 ? 0 : 1 + (int)(p % 100);
	case B_EXIT:
		pthread_exit(NULL);
	case B_DEAF:
		/* Heard the stop request; ignores it for a while. */
		while (supv_sleep(self, 1000) == 0)
			;
		CHECK(supv_stopping(self));
		nap_ms(1 + p % 15);
		return 0;
	case B_BEAT:
		do
			supv_heartbeat(self);
		while (supv_sleep(self, 2) == 0);
		return 0;
	case B_READY:
		supv_ready(self);
		/* FALLTHROUGH */
	case B_SILENT:
	case B_SLEEPER:
	default:
		while (supv_sleep(self, 1000) == 0)
			;
		return 0;
	}
}

/*
 * arg_free, checked spec by spec: each spec made with count_free has an
 * arg of its own (a serial, with the input's generation), and must see it
 * freed exactly once if the spec was added, never if the add failed.
 * After ECHILD the caller owns arg again (supv_add_worker(3)), even when an
 * abandoned run of the spec still uses it.  FUZZ_LENIENT_ECHILD=1 lets
 * arg_free come for such a spec, to fuzz past that.
 */
#define MAX_SPECS 256

enum { SPEC_FAILED, SPEC_ADDED, SPEC_ECHILD };

static atomic_uint gen;			/* the input's generation */
static atomic_int calls[MAX_SPECS];	/* arg_free calls per spec */
static int want[MAX_SPECS];		/* SPEC_* */
static int nspecs;
static bool lenient_echild;
/* FUZZ_NO_SAME_THREAD=1: no same_thread children, to fuzz past a bug there. */
static bool no_same_thread;

static void
count_free(void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	unsigned serial = (unsigned)(v >> 16) & 0xffff;

	if ((unsigned)(v >> 32) != atomic_load(&gen)) {
		/* From an earlier input: only an ECHILD spec may come late. */
		CHECK(lenient_echild);
		return;
	}
	CHECK(serial < MAX_SPECS);
	CHECK(atomic_fetch_add(&calls[serial], 1) == 0);
}

/* The arg of a new worker spec; *serial is -1 unless it has arg_free. */
static void *
worker_arg(struct input *in, bool with_free, int *serial)
{
	unsigned beh = byte(in) % B_NBEH, p = byte(in);
	uintptr_t v = beh << 8 | p;

	*serial = -1;
	if (with_free && nspecs < MAX_SPECS) {
		*serial = nspecs++;
		v |= (uintptr_t)*serial << 16 | (uintptr_t)atomic_load(&gen) << 32;
	}
	return (void *)v;
}

static void
spec_done(int serial, int rc)
{
	if (serial >= 0)
		want[serial] = rc == 0 ? SPEC_ADDED : rc == ECHILD ? SPEC_ECHILD :
		    SPEC_FAILED;
}

/* --- events --- */

static atomic_bool quiet;		/* supv_stop returned: no event may come */
static atomic_ulong root_ends;		/* SUP_EXITs of the root */
static const char *root_name = "root";

static void
on_event(const struct supv_event *ev, void *arg)
{
	(void)arg;
	CHECK(!atomic_load(&quiet));
	CHECK((unsigned)ev->kind <= SUPV_EV_SUP_EXIT);
	CHECK(ev->sup != NULL);
	CHECK((ev->child == NULL) == (ev->kind == SUPV_EV_GIVE_UP ||
	    ev->kind == SUPV_EV_SUP_EXIT));
	if (ev->kind == SUPV_EV_EXIT || ev->kind == SUPV_EV_SUP_EXIT)
		CHECK((unsigned)ev->exit <= SUPV_EXIT_GAVE_UP);
	if (ev->kind == SUPV_EV_SUP_EXIT && strcmp(ev->sup, root_name) == 0)
		atomic_fetch_add(&root_ends, 1);
}

/* --- the tree as the program sees it --- */

struct sup {
	struct supv *s;
	int          parent;	/* index, -1 for the root */
	char         id[8];	/* its id in its parent */
	bool         alive;
};

static struct sup sups[MAX_SUPS];
static int nsups;
static bool started;		/* supv_start succeeded since the last stop */
static unsigned long ends_seen;	/* root_ends when it was last started */

static int
pick_sup(struct input *in)
{
	int i, k = (int)(byte(in) % (unsigned)nsups);

	for (i = 0; i < nsups; i++)
		if (sups[(k + i) % nsups].alive)
			return (k + i) % nsups;
	return 0;
}

/* Forgets sup i and everything below it (its subtree was freed). */
static void
forget(int i)
{
	int j;

	sups[i].alive = false;
	for (j = 0; j < nsups; j++)
		if (sups[j].alive && sups[j].parent == i)
			forget(j);
}

static const unsigned graces[] = { SUPV_ZERO, 2, 5, 10 };

static void
child_opts(struct input *in, struct supv_child_opts *o, char *id, bool is_sup)
{
	unsigned b = byte(in), t = byte(in);

	snprintf(id, 8, "%c%u", is_sup ? 's' : 'c', byte(in) % 8);
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->restart = (enum supv_restart)(b % 3);
	o->shutdown_ms = graces[(b >> 2) % 4];
	o->significant = (b >> 4) & 1;
	if (is_sup) {
		if (o->restart == SUPV_TEMPORARY)
			o->restart = SUPV_TRANSIENT;	/* keeps its handle valid */
		o->shutdown_ms = (b >> 5) & 1 ? 20 : 0;
		return;
	}
	o->on_timeout = (b >> 5) & 1 ? SUPV_TIMEOUT_CANCEL : SUPV_TIMEOUT_ABANDON;
	o->same_thread = (b >> 6) & 1 && !no_same_thread;
	o->heartbeat_ms = t & 1 ? 10 + 10 * ((t >> 1) & 1) : 0;
	o->ready_ms = t & 4 ? 10 + 20 * ((t >> 3) & 1) : 0;
	o->backoff_ms = t & 16 ? 1 + 2 * ((t >> 5) & 1) : 0;
	o->backoff_max_ms = o->backoff_ms != 0 && (t & 64) ? 8 : 0;
	if (b & 128) {
		o->arg_free = count_free;
	}
}

static void
op_add_worker(struct input *in)
{
	struct supv_child_opts o;
	char id[8];
	int i = pick_sup(in), rc, serial;
	void *arg;

	child_opts(in, &o, id, false);
	arg = worker_arg(in, o.arg_free != NULL, &serial);
	if (serial < 0)
		o.arg_free = NULL;
	rc = supv_add_worker(sups[i].s, &o, w_body, arg);
	RC_IN(rc, EEXIST, EINVAL, ENOMEM, EAGAIN, ECHILD, ECANCELED);
	spec_done(serial, rc);
}

static void
op_add_pool(struct input *in)
{
	struct supv_child_opts o;
	char id[8];
	int i = pick_sup(in), rc, serial;
	unsigned size = byte(in) % 5;
	void *arg;

	child_opts(in, &o, id, false);
	id[0] = 'p';
	arg = worker_arg(in, o.arg_free != NULL, &serial);
	if (serial < 0)
		o.arg_free = NULL;
	rc = supv_add_pool(sups[i].s, &o, &(struct supv_pool_opts){
	    .size = size == 0 ? SUPV_ZERO : size, .intensity = 1 + byte(in) % 4 },
	    w_body, arg);
	RC_IN(rc, EEXIST, EINVAL, ENOMEM, EAGAIN, ECHILD, ECANCELED);
	spec_done(serial, rc);
}

static void
op_add_sup(struct input *in)
{
	static const unsigned intensities[] = { 1, 3, SUPV_ZERO, SUPV_INFINITY };
	struct supv_child_opts o;
	struct supv *child;
	char id[8], name[16];
	int i = pick_sup(in), rc, k, n;
	unsigned b = byte(in);

	child_opts(in, &o, id, true);
	if (nsups == MAX_SUPS)
		return;
	snprintf(name, sizeof(name), "sup%d", nsups);
	rc = supv_new(&child, &(struct supv_opts){ .name = name,
	    .strategy = (enum supv_strategy)(b % 3),
	    .intensity = intensities[(b >> 2) % 4], .period_ms = 50,
	    .auto_shutdown = (enum supv_auto_shutdown)((b >> 4) % 3),
	    .on_event = on_event });
	RC_IN(rc, ENOMEM);
	if (rc != 0)
		return;
	n = (int)(byte(in) % 3);
	for (k = 0; k < n; k++) {
		struct supv_child_opts wo;
		char wid[8];
		int serial;
		void *arg;

		child_opts(in, &wo, wid, false);
		arg = worker_arg(in, wo.arg_free != NULL, &serial);
		if (serial < 0)
			wo.arg_free = NULL;
		rc = supv_add_worker(child, &wo, w_body, arg);
		RC_IN(rc, EEXIST, EINVAL, ENOMEM);
		spec_done(serial, rc);
	}
	rc = supv_add_sup(sups[i].s, &o, child);
	RC_IN(rc, EEXIST, EINVAL, ENOMEM, EAGAIN, ECHILD, ECANCELED);
	if (rc != 0) {
		/* The caller still owns child: free it (its arg_frees run). */
		supv_free(child);
		return;
	}
	sups[nsups] = (struct sup){ .s = child, .parent = i, .alive = true };
	memcpy(sups[nsups].id, id, sizeof(id));
	nsups++;
}

static void
check_stopped(void)
{
	struct supv_counts c;
	int i;

	for (i = 0; i < nsups; i++) {
		if (!sups[i].alive)
			continue;
		CHECK(supv_count_children(sups[i].s, &c) == 0);
		CHECK(c.active == 0);
		CHECK(c.specs == c.workers + c.supervisors);
	}
}

static void
op_start(void)
{
	enum supv_exit_kind why;
	int rc;

	atomic_store(&quiet, false);
	ends_seen = atomic_load(&root_ends);
	rc = supv_start(sups[0].s);
	RC_IN(rc, EBUSY, ECHILD, EAGAIN);
	if (rc != EBUSY)
		started = rc == 0;
	if (rc == ECHILD) {
		/* That run is over, START_FAILED. */
		CHECK(supv_wait(sups[0].s, &why) == 0);
		CHECK(why == SUPV_EXIT_START_FAILED);
		check_stopped();
	}
}

static void
op_stop(void)
{
	enum supv_exit_kind why;
	int rc;

	CHECK(supv_stop(sups[0].s) == 0);
	atomic_store(&quiet, true);
	check_stopped();
	rc = supv_wait(sups[0].s, &why);
	RC_IN(rc, ESRCH);
	if (rc == 0)
		CHECK(why == SUPV_EXIT_SHUTDOWN || why == SUPV_EXIT_GAVE_UP ||
		    why == SUPV_EXIT_NORMAL || why == SUPV_EXIT_START_FAILED);
	started = false;
}

/* supv_wait, once the run is known to have ended by itself. */
static void
op_wait(void)
{
	enum supv_exit_kind why;

	if (!started || atomic_load(&root_ends) == ends_seen)
		return;
	CHECK(supv_wait(sups[0].s, &why) == 0);
	CHECK(why == SUPV_EXIT_GAVE_UP || why == SUPV_EXIT_NORMAL);
	check_stopped();
}

/* A child of a supervisor, by index in its listing; false if it has none. */
static bool
pick_child(struct input *in, int *si, struct supv_child_info *ci)
{
	struct supv_child_info list[16];
	size_t n;

	*si = pick_sup(in);
	CHECK(supv_which_children(sups[*si].s, list, 16, &n) == 0);
	if (n == 0)
		return false;
	*ci = list[byte(in) % (n < 16 ? n : 16)];
	return true;
}

static void
op_child_call(struct input *in, int which)
{
	struct supv_child_info ci;
	int si, rc, j;

	if (!pick_child(in, &si, &ci))
		return;
	switch (which) {
	case 0:
		rc = supv_terminate_child(sups[si].s, ci.id);
		RC_IN(rc, ENOENT, ECANCELED);
		break;
	case 1:
		rc = supv_restart_child(sups[si].s, ci.id);
		RC_IN(rc, EBUSY, ESRCH, ENOENT, ECHILD, ECANCELED, EAGAIN, ENOMEM);
		break;
	case 2:
		rc = supv_delete_child(sups[si].s, ci.id);
		RC_IN(rc, EBUSY, ENOENT, ECANCELED);
		if (rc == 0 && ci.is_sup)
			for (j = 0; j < nsups; j++)
				if (sups[j].alive && sups[j].parent == si &&
				    strcmp(sups[j].id, ci.id) == 0)
					forget(j);
		break;
	default:
		rc = supv_pool_resize(sups[si].s, ci.id, byte(in) % 6);
		RC_IN(rc, EINVAL, ENOENT, EBUSY, ECHILD, ENOMEM, EAGAIN, ECANCELED);
		break;
	}
}

static void
op_count(struct input *in)
{
	struct supv_child_info list[4];
	struct supv_counts c;
	size_t n, want = byte(in) % 5;
	int si = pick_sup(in);

	CHECK(supv_count_children(sups[si].s, &c) == 0);
	CHECK(c.active <= c.specs && c.specs == c.workers + c.supervisors);
	CHECK(supv_which_children(sups[si].s, want ? list : NULL, want, &n) == 0);
}

/* --- a watchdog: an input that runs this long is a deadlock --- */

static _Atomic uint64_t input_started;	/* 0 between inputs */

static void *
watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t t = atomic_load(&input_started);

		if (t != 0 && now_ns() - t > (uint64_t)FUZZ_INPUT_MAX_S * 1000000000ULL) {
			fprintf(stderr, "fuzz_api: an input ran for %d s: deadlock\n",
			    FUZZ_INPUT_MAX_S);
			/* FUZZ_DEADLOCK_PAUSE=1: time to attach a debugger first. */
			if (getenv("FUZZ_DEADLOCK_PAUSE") != NULL) {
				fprintf(stderr, "fuzz_api: pid %d paused for 600 s\n",
				    (int)getpid());
				nap_ms(600000);
			}
			abort();
		}
		nap_ms(100);
	}
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pthread_t t;

	(void)argc;
	(void)argv;
	CHECK(pthread_key_create(&live_key, live_end) == 0);
	lenient_echild = getenv("FUZZ_LENIENT_ECHILD") != NULL;
	no_same_thread = getenv("FUZZ_NO_SAME_THREAD") != NULL;
	CHECK(pthread_create(&t, NULL, watchdog, NULL) == 0);
	pthread_detach(t);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct supv *root;
	unsigned b, ops = 0;
	uint64_t t;
	int rc, k;

	atomic_store(&input_started, now_ns());
	atomic_store(&quiet, false);
	atomic_fetch_add(&gen, 1);
	memset(want, 0, sizeof(want));
	for (k = 0; k < MAX_SPECS; k++)
		atomic_store(&calls[k], 0);
	nspecs = 0;
	started = false;
	memset(sups, 0, sizeof(sups));
	b = byte(&in);
	rc = supv_new(&root, &(struct supv_opts){ .name = root_name,
	    .strategy = (enum supv_strategy)(b % 3),
	    .intensity = b & 4 ? SUPV_INFINITY : 1 + (b >> 3) % 4,
	    .period_ms = 100, .auto_shutdown = (enum supv_auto_shutdown)((b >> 5) % 3),
	    .on_event = on_event });
	CHECK(rc == 0);
	sups[0] = (struct sup){ .s = root, .parent = -1, .alive = true };
	nsups = 1;

	while (in.n > 0 && ops++ < MAX_OPS) {
		switch (byte(&in) % 16) {
		case 0:
		case 1:
			op_add_worker(&in);
			break;
		case 2:
			op_add_sup(&in);
			break;
		case 3:
			op_add_pool(&in);
			break;
		case 4:
			op_start();
			break;
		case 5:
			op_stop();
			break;
		case 6:
			op_child_call(&in, 0);
			break;
		case 7:
			op_child_call(&in, 1);
			break;
		case 8:
			op_child_call(&in, 2);
			break;
		case 9:
			op_child_call(&in, 3);
			break;
		case 10:
		case 11:
			op_count(&in);
			break;
		case 12:
			nap_ms(byte(&in) % 8);
			break;
		case 13:
			atomic_store(&supv_fault_countdown, 1 + (long)(byte(&in) % 24));
			break;
		case 14:
			op_wait();
			break;
		case 15:
			atomic_store(&supv_fault_countdown, 0);
			break;
		}
	}

	/*
	 * The end: everything stops, every worker body returns, every arg is
	 * freed once.  An abandoned run may not even have started its body
	 * yet: its arg_free comes when it has returned.
	 */
	atomic_store(&supv_fault_countdown, 0);
	supv_free(root);
	atomic_store(&quiet, true);
	t = now_ns();
	for (k = 0; k < nspecs; k++)
		while (want[k] == SPEC_ADDED && atomic_load(&calls[k]) == 0) {
			CHECK(now_ns() - t < 5000000000ULL);
			nap_ms(1);
		}
	while (atomic_load(&live) > 0) {
		CHECK(now_ns() - t < 5000000000ULL);
		nap_ms(1);
	}
	for (k = 0; k < nspecs; k++) {
		if (want[k] == SPEC_FAILED ||
		    (want[k] == SPEC_ECHILD && !lenient_echild))
			CHECK(atomic_load(&calls[k]) == 0);
	}
	atomic_store(&quiet, false);
	atomic_store(&input_started, 0);
	return 0;
}
