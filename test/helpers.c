/* helpers.c - the shared part of the test suites. */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "tests.h"

void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
}

void
rec_destroy(struct rec *r)
{
	pthread_mutex_destroy(&r->mu);
}

void
rec_cb(const struct supv_event *ev, void *arg)
{
	struct rec *r = arg;

	pthread_mutex_lock(&r->mu);
	if (r->n < REC_MAX) {
		struct rec_ev *e = &r->ev[r->n++];

		e->kind = ev->kind;
		snprintf(e->sup, sizeof(e->sup), "%s", ev->sup ? ev->sup : "");
		snprintf(e->child, sizeof(e->child), "%s", ev->child ? ev->child : "");
		e->exit = ev->exit;
		e->code = ev->code;
		e->restarts = ev->restarts;
		e->delay_ms = ev->delay_ms;
		e->at_ns = ev->at_ns;
		e->spinning = ev->spinning;
		e->rule = ev->rule;
	}
	pthread_mutex_unlock(&r->mu);
	if (r->hook != NULL)
		r->hook(ev, r->hook_arg);
}

static bool
match(const struct rec_ev *e, enum supv_event_kind kind, const char *child)
{
	return e->kind == kind && (child == NULL || strcmp(e->child, child) == 0);
}

unsigned
rec_count(struct rec *r, enum supv_event_kind kind, const char *child)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++)
		n += match(&r->ev[i], kind, child);
	pthread_mutex_unlock(&r->mu);
	return n;
}

unsigned
rec_wait(struct rec *r, enum supv_event_kind kind, const char *child, unsigned n)
{
	POLL_UNTIL(rec_count(r, kind, child) >= n, WAIT_MS);
	return rec_count(r, kind, child);
}

unsigned
rec_snapshot(struct rec *r, struct rec_ev *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	memcpy(out, r->ev, sizeof(*out) * (n < max ? n : max));
	pthread_mutex_unlock(&r->mu);
	return n;
}

int
rec_find(struct rec *r, enum supv_event_kind kind, const char *child, unsigned i)
{
	unsigned k;
	int at = -1;

	pthread_mutex_lock(&r->mu);
	for (k = 0; k < r->n; k++)
		if (match(&r->ev[k], kind, child) && i-- == 0) {
			at = (int)k;
			break;
		}
	pthread_mutex_unlock(&r->mu);
	return at;
}

void
rec_dump(struct rec *r)
{
	unsigned i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		const struct rec_ev *e = &r->ev[i];

		fprintf(stderr, "  %3u %-8s %-12s %-10s exit=%s code=%d restarts=%u delay=%u\n",
		    i, e->sup, supv_event_kind_name(e->kind), e->child,
		    supv_exit_kind_name(e->exit), e->code, e->restarts, e->delay_ms);
	}
	pthread_mutex_unlock(&r->mu);
}

int
w_sleeper(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1000) == 0)
		;
	return 0;
}

int
w_fail(struct supv_worker *self, void *arg)
{
	(void)self;
	return (int)(intptr_t)arg;
}

int
w_exit(struct supv_worker *self, void *arg)
{
	(void)self;
	(void)arg;
	pthread_exit(NULL);
}

int
w_ignore(struct supv_worker *self, void *arg)
{
	(void)self;
	sleep_ms((unsigned)(intptr_t)arg);
	return 0;
}

int
w_beat(struct supv_worker *self, void *arg)
{
	(void)arg;
	do
		supv_heartbeat(self);
	while (supv_sleep(self, 5) == 0);
	return 0;
}

int
w_ready(struct supv_worker *self, void *arg)
{
	supv_ready(self);
	return w_sleeper(self, arg);
}

void
count_free(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* The number of events recorded so far. */
unsigned
rec_len(struct rec *r)
{
	unsigned n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

/*
 * The events recorded from index from on, of supervisor sup (NULL: of
 * every supervisor, each prefixed "name."), as a string such as
 * "S:a X:a:failure R:a T:a G E:gave_up".  The caller frees it.
 */
char *
trace(struct rec *r, const char *sup, unsigned from)
{
	static const char *const k[] = {
		[SUPV_EV_START] = "S", [SUPV_EV_EXIT] = "X",
		[SUPV_EV_RESTART] = "R", [SUPV_EV_HUNG] = "H",
		[SUPV_EV_STOP_TIMEOUT] = "T", [SUPV_EV_BACKOFF] = "B",
		[SUPV_EV_GIVE_UP] = "G", [SUPV_EV_SUP_EXIT] = "E",
	};
	struct rec_ev *ev = calloc(REC_MAX, sizeof(*ev));
	size_t cap = 1 << 16, len = 0;
	char *s = calloc(cap, 1);
	unsigned n, i;

	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_nonnull(s);
	n = rec_snapshot(r, ev, REC_MAX);
	if (n > REC_MAX)
		n = REC_MAX;
	for (i = from; i < n && len + 256 < cap; i++) {
		const struct rec_ev *e = &ev[i];
		bool ex = e->kind == SUPV_EV_EXIT || e->kind == SUPV_EV_SUP_EXIT;

		if (sup != NULL && strcmp(e->sup, sup) != 0)
			continue;
		len += (size_t)snprintf(s + len, cap - len, "%s%s%s%s%s%s%s%s",
		    len != 0 ? " " : "", sup == NULL ? e->sup : "",
		    sup == NULL ? "." : "",
		    (unsigned)e->kind < sizeof(k) / sizeof(k[0]) ? k[e->kind] : "?",
		    e->child[0] != '\0' ? ":" : "", e->child, ex ? ":" : "",
		    ex ? supv_exit_kind_name(e->exit) : "");
	}
	free(ev);
	return s;
}


/* Asserts the counts of sup. */
void
ck_counts(struct supv *sup, unsigned specs, unsigned active,
    unsigned supervisors, unsigned workers)
{
	struct supv_counts c;

	ck_assert_int_eq(supv_count_children(sup, &c), 0);
	ck_assert_uint_eq(c.specs, specs);
	ck_assert_uint_eq(c.active, active);
	ck_assert_uint_eq(c.supervisors, supervisors);
	ck_assert_uint_eq(c.workers, workers);
}

/* rec_find that fails the test when there is no such event. */
int
find_ev(struct rec *r, enum supv_event_kind kind, const char *child, unsigned i)
{
	int at = rec_find(r, kind, child, i);

	ck_assert_msg(at >= 0, "no %s event #%u of %s", supv_event_kind_name(kind),
	    i, child != NULL ? child : "any child");
	return at;
}

int
w_trip(struct supv_worker *self, void *arg)
{
	struct trip *t = arg;

	for (;;) {
		if (atomic_exchange(&t->armed, 0))
			return t->code;
		if (supv_sleep(self, 2) != 0)
			return 0;
	}
}

/* Entries of a /proc directory, but . and .. */
static int
entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Threads of this process. */
int
nthreads(void)
{
	return entries("/proc/self/task");
}

/* Open descriptors of this process. */
int
nfds(void)
{
	return entries("/proc/self/fd") - 1;	/* the directory's own */
}

static void *
nothing(void *arg)
{
	return arg;
}

/*
 * The threads of this process before a test makes any: a first thread is
 * made and joined before counting, as TSan starts a thread of its own then.
 */
int
base_threads(void)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, nothing, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	sleep_ms(10);
	return nthreads();
}

/* The i-th (0-based) event of that kind and child; fails the test if none. */
struct rec_ev
ev_get(struct rec *r, enum supv_event_kind kind, const char *child, unsigned i)
{
	struct rec_ev e;
	int at = rec_find(r, kind, child, i);

	if (at < 0)
		rec_dump(r);
	ck_assert_msg(at >= 0, "no %s event #%u for %s", supv_event_kind_name(kind),
	    i, child ? child : "(any)");
	pthread_mutex_lock(&r->mu);
	e = r->ev[at];
	pthread_mutex_unlock(&r->mu);
	return e;
}

/* A supervisor whose events go to rec (NULL: none). */
struct supv *
new_root(const char *name, struct rec *rec, enum supv_strategy strategy,
    unsigned intensity)
{
	struct supv *s;

	ck_assert_int_eq(supv_new(&s, &(struct supv_opts){ .name = name,
	    .strategy = strategy, .intensity = intensity,
	    .on_event = rec != NULL ? rec_cb : NULL, .event_arg = rec }), 0);
	return s;
}

/*
 * A fake systemd: an abstract datagram socket named in $NOTIFY_SOCKET,
 * with $WATCHDOG_USEC set to watchdog_ms (0: unset).
 */
int
fake_systemd(unsigned watchdog_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], usec[32];
	int fd, n;

	n = snprintf(name, sizeof(name), "@supv-check-%d", (int)getpid());
	memcpy(sa.sun_path, name, (size_t)n);
	sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n)), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	if (watchdog_ms != 0) {
		snprintf(usec, sizeof(usec), "%u", watchdog_ms * 1000);
		setenv("WATCHDOG_USEC", usec, 1);
	} else {
		unsetenv("WATCHDOG_USEC");
	}
	unsetenv("WATCHDOG_PID");
	return fd;
}

/* Reads the next message (up to ms) into buf; "" on timeout. */
void
next_msg(int fd, char *buf, size_t size, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}
