/*
 * hangtrace.c - what a hung thread is stuck on (the hang_trace child
 * option): its kernel state from /proc/self/task/TID (state, wchan, the
 * system call it is in) and its stack, captured by interrupting it with
 * one real-time signal whose handler only records return addresses.
 * Runs on the supervisor's loop without the tree's lock; one capture at a
 * time per process, and never longer than twice TRACE_WAIT_MS.
 */
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define TRACE_FRAMES  48
#define TRACE_WAIT_MS 100
#define TRACE_SIZE    4096

/*
 * The one capture in progress.  owner says who may write the frames: 0
 * nobody (the slot is free), a TID the handler of that thread, once it
 * claims the slot (then -1 while it writes, 0 when it is done).  A
 * capture that gives up takes back a slot its handler has not claimed;
 * one claimed late is written by that handler alone, and the next
 * capture waits for it to be free, so that no thread's frames are ever
 * reported as another's.
 */
static struct {
	atomic_int  owner;
	void       *frames[TRACE_FRAMES];  /* written by the claiming handler */
	atomic_int  n;                     /* -1 until that handler is done */
} slot;
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool installed;                 /* written once, under once */

int
supv__trace_signal(void)
{
	return SIGRTMIN + 8;
}

/* Only records return addresses: backtrace() was warmed up beforehand. */
static void
on_signal(int sig)
{
	int e = errno;

	int me = (int)syscall(SYS_gettid);

	(void)sig;
	if (atomic_compare_exchange_strong(&slot.owner, &me, -1)) {
		fault_pause(FP_TRACE_HANDLER);
		atomic_store(&slot.n, backtrace(slot.frames, TRACE_FRAMES));
		atomic_store(&slot.owner, 0);
	}
	errno = e;
}

/* Installs the handler, unless the program has one of its own. */
static void
install(void)
{
	struct sigaction sa, old;
	void *warm[2];

	(void)backtrace(warm, 2);	/* loads libgcc now, not in a handler */
	if (sigaction(supv__trace_signal(), NULL, &old) != 0 ||
	    old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	installed = sigaction(supv__trace_signal(), &sa, NULL) == 0;
}

struct buf {
	char   *p;
	size_t  len, cap;
};

static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = (size_t)n < b->cap - b->len ? b->len + (size_t)n : b->cap;
}

/*
 * The first line of /proc/self/task/TID/NAME (a thread of ours), or of
 * /proc/-TID/NAME for a process (tid negative), without its newline.
 */
static bool
read_task(pid_t tid, const char *name, char *out, size_t size)
{
	char path[64];
	FILE *f;
	bool ok;

	if (tid < 0)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)-tid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
	if ((f = fopen(path, "re")) == NULL)
		return false;
	ok = fgets(out, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

static const char *
syscall_name(long nr)
{
	static const struct { long nr; const char *name; } names[] = {
#ifdef SYS_read
		{ SYS_read, "read" },
#endif
#ifdef SYS_write
		{ SYS_write, "write" },
#endif
#ifdef SYS_futex
		{ SYS_futex, "futex" },
#endif
#ifdef SYS_nanosleep
		{ SYS_nanosleep, "nanosleep" },
#endif
#ifdef SYS_clock_nanosleep
		{ SYS_clock_nanosleep, "clock_nanosleep" },
#endif
#ifdef SYS_poll
		{ SYS_poll, "poll" },
#endif
#ifdef SYS_ppoll
		{ SYS_ppoll, "ppoll" },
#endif
#ifdef SYS_select
		{ SYS_select, "select" },
#endif
#ifdef SYS_pselect6
		{ SYS_pselect6, "pselect6" },
#endif
#ifdef SYS_epoll_wait
		{ SYS_epoll_wait, "epoll_wait" },
#endif
#ifdef SYS_epoll_pwait
		{ SYS_epoll_pwait, "epoll_pwait" },
#endif
#ifdef SYS_accept
		{ SYS_accept, "accept" },
#endif
#ifdef SYS_accept4
		{ SYS_accept4, "accept4" },
#endif
#ifdef SYS_connect
		{ SYS_connect, "connect" },
#endif
#ifdef SYS_recvfrom
		{ SYS_recvfrom, "recvfrom" },
#endif
#ifdef SYS_recvmsg
		{ SYS_recvmsg, "recvmsg" },
#endif
#ifdef SYS_sendto
		{ SYS_sendto, "sendto" },
#endif
#ifdef SYS_wait4
		{ SYS_wait4, "wait4" },
#endif
#ifdef SYS_pause
		{ SYS_pause, "pause" },
#endif
#ifdef SYS_flock
		{ SYS_flock, "flock" },
#endif
#ifdef SYS_fcntl
		{ SYS_fcntl, "fcntl" },
#endif
#ifdef SYS_openat
		{ SYS_openat, "openat" },
#endif
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	return NULL;
}

/* state=S wchan=... syscall=NR (name): one line, from /proc. */
static void
kernel_state(struct buf *b, pid_t tid)
{
	char line[512], *p;
	const char *name;
	long nr;

	if (read_task(tid, "stat", line, sizeof(line)) &&
	    (p = strrchr(line, ')')) != NULL && p[1] == ' ')
		put(b, "state=%c", p[2]);
	else
		put(b, "state=?");
	if (read_task(tid, "wchan", line, sizeof(line)) && line[0] != '\0' &&
	    strcmp(line, "0") != 0)
		put(b, " wchan=%s", line);
	if (read_task(tid, "syscall", line, sizeof(line))) {
		if (strncmp(line, "running", 7) == 0)
			put(b, " syscall=running");
		else if (sscanf(line, "%ld", &nr) == 1 && nr >= 0) {
			put(b, " syscall=%ld", nr);
			if ((name = syscall_name(nr)) != NULL)
				put(b, " (%s)", name);
		}
	}
	put(b, "\n");
}

/* Whether tid blocks sig (SigBlk in its status), or it cannot be told. */
static bool
blocks_signal(pid_t tid, int sig)
{
	char path[64], line[256];
	unsigned long long mask;
	bool blocked = true;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return true;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
			blocked = (mask >> (sig - 1)) & 1;
			break;
		}
	fclose(f);
	return blocked;
}

/* Interrupts thread (tid) and records its stack into b; false if not. */
static bool
capture_stack(struct buf *b, pthread_t thread, pid_t tid, const char **why)
{
	struct timespec ms = { 0, 1000000 };
	char **sym;
	int i, n = -1, skip;

	if (!installed) {
		*why = "the program has its own handler for the signal";
		return false;
	}
	if (blocks_signal(tid, supv__trace_signal())) {
		*why = "the thread blocks the signal";
		return false;
	}
	/* A handler claimed late for an earlier capture may still write. */
	for (i = 0; i < TRACE_WAIT_MS && atomic_load(&slot.owner) != 0; i++)
		nanosleep(&ms, NULL);
	if (atomic_load(&slot.owner) != 0) {
		*why = "an earlier capture's handler has not finished";
		return false;
	}
	atomic_store(&slot.n, -1);
	atomic_store(&slot.owner, (int)tid);
	if (pthread_kill(thread, supv__trace_signal()) == 0)
		for (i = 0; i < TRACE_WAIT_MS &&
		    (n = atomic_load(&slot.n)) == -1; i++)
			nanosleep(&ms, NULL);
	if (n == -1) {
		/* Unclaimed: take it back.  Claimed: its handler frees it. */
		int want = (int)tid;

		(void)atomic_compare_exchange_strong(&slot.owner, &want, 0);
		*why = "the thread did not answer the signal in time";
		return false;
	}
	if (n == 0) {
		*why = "the thread did not answer the signal in time";
		return false;
	}
	/* Frame 0 is the handler, frame 1 the kernel's return trampoline. */
	skip = n > 2 ? 2 : 0;
	sym = backtrace_symbols(slot.frames + skip, n - skip);
	for (i = 0; i < n - skip; i++) {
		if (sym != NULL)
			put(b, "#%d %s\n", i, sym[i]);
		else
			put(b, "#%d %p\n", i, slot.frames[skip + i]);
	}
	free(sym);
	return true;
}

/*
 * Called by a worker of a child with hang_trace, first thing on its
 * thread: a library thread starts with every signal blocked, and this
 * one must take the trace signal (once the handler is ours).
 */
void
supv__trace_arm(void)
{
	sigset_t set;

	pthread_once(&once, install);
	if (!installed)
		return;
	sigemptyset(&set);
	sigaddset(&set, supv__trace_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * The detail of a HUNG event for a run of a child with hang_trace: a
 * malloc'd string the caller frees, or NULL.  Called without the tree's
 * lock, on the loop that owns the run (so its thread is not joined).
 */
char *
supv__hang_trace(pthread_t thread, pid_t tid)
{
	struct buf b = { .cap = TRACE_SIZE };
	const char *why = NULL;

	if (tid <= 0 || (b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	pthread_once(&once, install);
	kernel_state(&b, tid);
	pthread_mutex_lock(&slot_mu);
	if (!capture_stack(&b, thread, tid, &why))
		put(&b, "stack: not captured: %s\n", why);
	pthread_mutex_unlock(&slot_mu);
	if (b.len > 0 && b.p[b.len - 1] == '\n')
		b.p[--b.len] = '\0';
	return b.p;
}

/*
 * The detail of a HUNG event for a process child: its kernel state (state,
 * wchan, the system call it is in) and, where the kernel lets us read it
 * (/proc/PID/stack: root, usually), its main thread's kernel stack.
 * Nothing is signalled.  Malloc'd, or NULL.
 */
char *
supv__hang_trace_process(pid_t pid)
{
	struct buf b = { .cap = TRACE_SIZE };
	char path[64], line[256];
	FILE *f;
	int i = 0;

	if (pid <= 0 || (b.p = malloc(b.cap)) == NULL)
		return NULL;
	b.p[0] = '\0';
	put(&b, "pid=%d ", (int)pid);
	kernel_state(&b, -pid);
	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	if ((f = fopen(path, "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			put(&b, "#%d %s\n", i++, line);
		}
		fclose(f);
	}
	if (i == 0)
		put(&b, "stack: not read: /proc/%d/stack needs privileges\n", (int)pid);
	if (b.len > 0 && b.p[b.len - 1] == '\n')
		b.p[--b.len] = '\0';
	return b.p;
}
