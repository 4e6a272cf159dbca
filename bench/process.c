/*
 * process.c - what a process child costs (supv_add_process, 1.2).
 *
 * - Restart throughput of a permanent process child running /bin/false
 *   (intensity SUPV_INFINITY, no backoff), counted by its START events,
 *   against a raw loop of posix_spawn(/bin/false) + waitpid() in one
 *   thread.  Both pay the same fork-and-exec; the ratio is what the tree
 *   adds around it (the watcher thread's pidfd wake-up, the hand-off to
 *   the loop, the restart decision, the events).
 * - Idle cost of 100 process children speaking the sd_notify protocol
 *   with a 1 s watchdog (heartbeat_ms 1000, WATCHDOG=1 every 500 ms, as
 *   sd_watchdog_enabled(3) advises): the CPU time and wake-ups of every
 *   thread of this process but main() over a window, from
 *   /proc/self/task/<tid>/{schedstat,status}.  The baseline is a raw epoll
 *   loop in one thread over 100 datagram sockets of its own, with
 *   SO_PASSCRED, that checks each datagram's sender and keeps a deadline
 *   per child, waking for the nearest one, the least a correct watchdog
 *   does.  The children are this program, run again with "notify-child".
 * - Heap per process child: mallinfo2() (one arena) before adding the 100
 *   specs, after adding them and once they all are ready.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "bench.h"

extern char **environ;

static bool quick;

#define FALSE_PATH "/bin/false"
#define NIDLE      100
#define WD_MS      1000

/* --- the notify child: this program run again --- */

static int
child_send(int fd, const struct sockaddr_un *sa, socklen_t len, const char *msg)
{
	return sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)sa, len) < 0;
}

/* READY=1, then WATCHDOG=1 every WATCHDOG_USEC/2 until killed. */
static int
notify_child(void)
{
	const char *e = getenv("NOTIFY_SOCKET"), *w = getenv("WATCHDOG_USEC");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned long long usec;
	socklen_t len;
	uint64_t next;
	size_t n;
	int fd;

	if (e == NULL || w == NULL || (n = strlen(e)) >= sizeof(sa.sun_path) ||
	    (e[0] != '@' && e[0] != '/') || (usec = strtoull(w, NULL, 10)) == 0)
		return 2;
	memcpy(sa.sun_path, e, n);
	if (e[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    child_send(fd, &sa, len, "READY=1") != 0)
		return 3;
	next = now_ns();
	for (;;) {
		next += usec * NS_PER_US / 2;
		sleep_until_ns(next);
		if (child_send(fd, &sa, len, "WATCHDOG=1") != 0)
			return 4;
	}
}

/* --- restart throughput --- */

static void
count_start(const struct supv_event *ev, void *arg)
{
	if (ev->kind == SUPV_EV_START)
		atomic_fetch_add_explicit((atomic_ulong *)arg, 1, memory_order_relaxed);
}

/* Restarts per second of a process child running /bin/false. */
static double
lib_restarts(uint64_t warm, uint64_t window)
{
	static const char *const argv[] = { FALSE_PATH, NULL };
	atomic_ulong starts = 0;
	unsigned long a, b;
	struct supv *s;
	uint64_t t0, t1;
	int rc;

	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "procsup",
	    .intensity = SUPV_INFINITY, .on_event = count_start,
	    .event_arg = &starts })) != 0)
		die("supv_new", rc);
	if ((rc = supv_add_process(s, &(struct supv_child_opts){ .id = "false",
	    .restart = SUPV_PERMANENT }, &(struct supv_process_opts){
	    .argv = argv })) != 0)
		die("supv_add_process", rc);
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	sleep_ns(warm);
	a = atomic_load(&starts);
	t0 = now_ns();
	sleep_ns(window);
	b = atomic_load(&starts);
	t1 = now_ns();
	supv_stop(s);
	supv_free(s);
	return (double)(b - a) * 1e9 / (double)(t1 - t0);
}

/* The same job by hand: posix_spawn + waitpid, over and over. */
static double
raw_restarts(uint64_t warm, uint64_t window)
{
	static char *const argv[] = { FALSE_PATH, NULL };
	uint64_t start = now_ns(), t0 = 0, end;
	unsigned long n = 0;
	pid_t pid;
	int rc, st;

	for (;;) {
		uint64_t now = now_ns();

		if (t0 == 0 && now - start >= warm) {
			t0 = now;
			n = 0;
		}
		if (t0 != 0 && now - t0 >= window) {
			end = now;
			break;
		}
		if ((rc = posix_spawn(&pid, FALSE_PATH, NULL, NULL, argv,
		    environ)) != 0)
			die("posix_spawn", rc);
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				die("waitpid", errno);
		n++;
	}
	return (double)n * 1e9 / (double)(end - t0);
}

#define REPS_MAX 9

static void
bench_restarts(bool one)
{
	double l[REPS_MAX], b[REPS_MAX], lm, bm;
	const char *spread;
	uint64_t warm = 50 * NS_PER_MS, window = (quick ? 150 : 300) * NS_PER_MS;
	int reps = quick ? 3 : 9, r;

	bench_pin(one ? 0 : -1);
	for (r = 0; r < reps; r++) {
		if (r % 2 == 0) {
			l[r] = lib_restarts(warm, window);
			b[r] = raw_restarts(warm, window);
		} else {
			b[r] = raw_restarts(warm, window);
			l[r] = lib_restarts(warm, window);
		}
	}
	bench_pin(-1);
	spread = fmt_spread(l, b, (size_t)reps);	/* before the sorts */
	lm = median_d(l, (size_t)reps);
	bm = median_d(b, (size_t)reps);
	row_s(placed("process restarts", one), fmt_rate(lm), fmt_rate(bm),
	    fmt_ratio(lm, bm), spread, ">= 0.8x", yesno(lm >= 0.8 * bm));
	if (!one)
		note("a permanent child running " FALSE_PATH "; baseline: "
		    "posix_spawn(" FALSE_PATH ") + waitpid in a loop; median of "
		    "%d alternating windows of %s", reps, fmt_ns((double)window));
}

/* --- 100 idle notify children --- */

struct idle_res {
	double cpu, wakes;             /* per second: every thread but main() */
	unsigned threads, churn;
	double spec_b, run_b;          /* heap bytes per child (the library) */
	unsigned long hung;
};

static void
measure(uint64_t window, struct idle_res *out)
{
	struct task_rates m, r;
	unsigned nm;
	size_t n;

	out->churn = tasks_window(NULL, window, &m, &nm, &r, &n);
	out->threads = (unsigned)n;
	out->cpu = r.cpu_ns;
	out->wakes = r.vcsw;
}

static void
count_hung(const struct supv_event *ev, void *arg)
{
	if (ev->kind == SUPV_EV_HUNG)
		atomic_fetch_add((atomic_ulong *)arg, 1);
}

static void
lib_idle(const char *self, uint64_t settle, uint64_t window, struct idle_res *out)
{
	const char *const argv[] = { self, "notify-child", NULL };
	atomic_ulong hung = 0;
	struct supv *s;
	size_t m0, m1, m2;
	char id[16];
	unsigned i;
	int rc;

	m0 = heap_in_use();
	if ((rc = supv_new(&s, &(struct supv_opts){ .name = "idleproc",
	    .intensity = SUPV_INFINITY, .on_event = count_hung,
	    .event_arg = &hung })) != 0)
		die("supv_new", rc);
	for (i = 0; i < NIDLE; i++) {
		snprintf(id, sizeof(id), "p%03u", i);
		if ((rc = supv_add_process(s, &(struct supv_child_opts){ .id = id,
		    .heartbeat_ms = WD_MS, .ready_ms = 30000 },
		    &(struct supv_process_opts){ .argv = argv,
		    .notify = true })) != 0)
			die("supv_add_process", rc);
	}
	m1 = heap_in_use();
	if ((rc = supv_start(s)) != 0)
		die("supv_start", rc);
	m2 = heap_in_use();
	sleep_ns(settle);
	measure(window, out);
	supv_stop(s);
	supv_free(s);
	out->spec_b = (double)(m1 - m0) / NIDLE;
	out->run_b = (double)(m2 - m1) / NIDLE;
	out->hung = atomic_load(&hung);
}

/* The raw watchdog: one epoll thread, a socket and a deadline per child. */
struct rchild {
	int      fd;
	pid_t    pid;
	uint64_t deadline;
};

struct rwatch {
	struct rchild c[NIDLE];
	int           ep, stopfd;
	unsigned long late;            /* missed deadlines */
};

static void
raw_recv(struct rchild *c)
{
	char buf[512], cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	struct ucred uc;
	ssize_t n;

	while ((n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) >= 0) {
		bool from_child = false;

		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
				from_child = uc.pid == c->pid;
			}
		buf[n] = '\0';
		if (from_child && strstr(buf, "WATCHDOG=1") != NULL)
			c->deadline = now_ns() + WD_MS * NS_PER_MS;
		mh.msg_controllen = sizeof(cbuf);
	}
}

static void *
raw_loop(void *arg)
{
	struct rwatch *w = arg;
	struct epoll_event ev[16];
	int n, i, tmo;

	pthread_setname_np(pthread_self(), "rawwatch");
	for (;;) {
		uint64_t now = now_ns(), near = UINT64_MAX;

		for (i = 0; i < NIDLE; i++) {
			if (w->c[i].deadline <= now) {
				w->late++;
				w->c[i].deadline = now + WD_MS * NS_PER_MS;
			}
			if (w->c[i].deadline < near)
				near = w->c[i].deadline;
		}
		tmo = (int)((near - now + NS_PER_MS - 1) / NS_PER_MS);
		n = epoll_wait(w->ep, ev, 16, tmo);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				return NULL;
			raw_recv(ev[i].data.ptr);
		}
	}
}

static void
raw_idle(const char *self, uint64_t settle, uint64_t window, struct idle_res *out)
{
	static struct rwatch w;
	char *argv[] = { (char *)self, "notify-child", NULL };
	char env_ns[160], env_wd[64], **envp;
	struct epoll_event ev;
	pthread_t t;
	size_t ne, k;
	unsigned i;
	int rc, one = 1;

	memset(&w, 0, sizeof(w));
	for (ne = 0; environ[ne] != NULL; ne++)
		;
	if ((envp = calloc(ne + 3, sizeof(*envp))) == NULL)
		die("calloc", ENOMEM);
	for (k = 0; k < ne; k++)
		envp[k] = environ[k];
	envp[ne] = env_ns;
	envp[ne + 1] = env_wd;
	snprintf(env_wd, sizeof(env_wd), "WATCHDOG_USEC=%u", WD_MS * 1000);
	if ((w.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (w.stopfd = eventfd(0, EFD_CLOEXEC)) < 0)
		die("epoll/eventfd", errno);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(w.ep, EPOLL_CTL_ADD, w.stopfd, &ev);
	for (i = 0; i < NIDLE; i++) {
		struct rchild *c = &w.c[i];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		socklen_t len;
		int n;

		n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		    "bench-raw-%d-%u", (int)getpid(), i);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		if ((c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) < 0 ||
		    setsockopt(c->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
		    bind(c->fd, (struct sockaddr *)&sa, len) < 0)
			die("notify socket", errno);
		snprintf(env_ns, sizeof(env_ns), "NOTIFY_SOCKET=@%s", sa.sun_path + 1);
		if ((rc = posix_spawn(&c->pid, self, NULL, NULL, argv, envp)) != 0)
			die("posix_spawn", rc);
		c->deadline = now_ns() + 30 * NS_PER_S;   /* the start's grace */
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(w.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			die("epoll_ctl", errno);
	}
	free(envp);
	if ((rc = pthread_create(&t, NULL, raw_loop, &w)) != 0)
		die("pthread_create", rc);
	sleep_ns(settle);
	measure(window, out);
	eventfd_write(w.stopfd, 1);
	pthread_join(t, NULL);
	for (i = 0; i < NIDLE; i++) {
		kill(w.c[i].pid, SIGTERM);
		while (waitpid(w.c[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(w.c[i].fd);
	}
	close(w.ep);
	close(w.stopfd);
	out->hung = w.late;
}

static void
bench_idle(const char *self)
{
	uint64_t settle = (quick ? 600 : 1200) * NS_PER_MS;
	uint64_t window = (quick ? 1000 : 4000) * NS_PER_MS;
	struct idle_res l, b;

	lib_idle(self, settle, window, &l);
	raw_idle(self, settle, window, &b);
	row("100 idle notify children, wd 1 s: CPU", fmt("%s/s", fmt_ns(l.cpu)),
	    fmt("%s/s", fmt_ns(b.cpu)), fmt_ratio(l.cpu, b.cpu), "<= 2x",
	    yesno(l.cpu <= 2 * b.cpu));
	row("100 idle notify children, wd 1 s: wake-ups", fmt("%.1f /s", l.wakes),
	    fmt("%.1f /s", b.wakes), fmt_ratio(l.wakes, b.wakes), "-", "-");
	row("heap per process child (spec + run)",
	    fmt("%.0f B", l.spec_b + l.run_b), "-", "-", "-", "-");
	note("children send WATCHDOG=1 every %u ms; CPU and wake-ups of every "
	    "thread but main() (library: %u threads, baseline: %u) over %s",
	    WD_MS / 2, l.threads, b.threads, fmt_ns((double)window));
	note("baseline: one raw epoll thread over %u SO_PASSCRED sockets, checking "
	    "each sender, a deadline per child", NIDLE);
	note("heap: spec %.0f B + run %.0f B per child (the run includes its "
	    "notify socket's bookkeeping and a share of the watcher's)",
	    l.spec_b, l.run_b);
	if (l.hung != 0 || b.hung != 0 || l.churn != 0 || b.churn != 0)
		note("missed watchdogs: library %lu, baseline %lu (overloaded "
		    "machine?); threads that began or ended: %u, %u", l.hung,
		    b.hung, l.churn, b.churn);
}

int
main(int argc, char **argv)
{
	char self[4096];
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "notify-child") == 0)
		return notify_child();
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		die("readlink /proc/self/exe", errno);
	self[n] = '\0';
	mallopt(M_ARENA_MAX, 1);
	quick = bench_quick();
	table_begin("bench/process", "process children, against raw "
	    "posix_spawn and epoll code");
	bench_restarts(true);
	bench_restarts(false);
	bench_idle(self);
	return 0;
}
