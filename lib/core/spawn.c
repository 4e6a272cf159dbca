/*
 * spawn.c - starting one run of a process child.
 *
 * A run is spawned by its supervisor's loop (a thread that outlives the
 * run, so that PR_SET_PDEATHSIG, tied to the thread that forks, holds)
 * with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), as posix_spawn()
 * does: the loop waits while the child, on a stack of its own and in the
 * loop's memory, does only async-signal-safe work (default dispositions,
 * a process group of its own, the death signal, rlimits, the working
 * directory, no descriptor past 2) and execs.  A failed exec writes its
 * errno where the loop reads it: a start that failed, not a child that
 * ran.  A process that runs is handed to the tree's watcher
 * (procwatch.c).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define CHILD_STACK (64 * 1024)

/*
 * glibc's own name for clone(): a sanitizer intercepts clone() and takes
 * it for a fork, which a child in the caller's memory is not.
 */
#ifdef __GLIBC__
extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
#define raw_clone __clone
#else
#define raw_clone clone
#endif

extern char **environ;

/* What the child needs, made by the loop before the clone. */
struct spawn {
	char *const        *argv;
	char              **envp;
	char              **paths;          /* where to look for argv[0], in order */
	const char         *cwd;
	const struct supv_rlimit *rlimits;
	unsigned            n_rlimits;
	int                 maxfd;          /* for closing without close_range */
	volatile int        err;            /* the child's: why it did not exec */
};

/*
 * The child, in the loop's memory until it execs: system calls alone,
 * made directly (no allocation, no lock, and none of a sanitizer's
 * interceptors, whose state is the loop thread's), and no sanitizer's
 * instrumentation either.  errno, the loop thread's, is written: the loop
 * does not read it across the clone.
 */
struct ksigaction {                       /* the kernel's struct sigaction */
	void          *handler;
	unsigned long  flags;
	void          *restorer;
	unsigned long  mask;
};

__attribute__((no_sanitize("address", "thread", "undefined")))
static int
child_main(void *arg)
{
	struct spawn *x = arg;
	struct ksigaction dfl = { 0 };
	unsigned long none = 0;
	int err = ENOENT;

	/* Default dispositions: a handler goes at exec anyway, SIG_IGN does not. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(none));
	if (syscall(SYS_setpgid, 0, 0) != 0 ||
	    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		goto fail;
	for (unsigned i = 0; i < x->n_rlimits; i++) {
		struct rlimit rl = { x->rlimits[i].soft, x->rlimits[i].hard };

		if (syscall(SYS_prlimit64, 0, x->rlimits[i].resource, &rl, NULL) != 0)
			goto fail;
	}
	if (x->cwd != NULL && syscall(SYS_chdir, x->cwd) != 0)
		goto fail;
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
		for (int fd = 3; fd < x->maxfd; fd++)
			(void)syscall(SYS_close, fd);
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
	for (char **p = x->paths; *p != NULL; p++) {
		(void)syscall(SYS_execve, *p, x->argv, x->envp);
		/* As execvp: a file found but not runnable says so. */
		if (errno != ENOENT && errno != ENOTDIR)
			err = errno;
	}
	x->err = err;
	(void)syscall(SYS_exit_group, 127);
	return 127;
fail:
	x->err = errno;
	(void)syscall(SYS_exit_group, 127);
	return 127;
}

/* Whether name is one of the variables a child's notification sets. */
static bool
notify_var(const char *e)
{
	return strncmp(e, "NOTIFY_SOCKET=", 14) == 0 ||
	    strncmp(e, "WATCHDOG_USEC=", 14) == 0 ||
	    strncmp(e, "WATCHDOG_PID=", 13) == 0;
}

/*
 * The child's environment: its own or the process's, without the
 * notification variables the process may have from its own manager, and
 * with the child's when it has notify.  One allocation.
 */
static char **
make_env(const struct child *c, const struct supv__procrun *pr)
{
	char *const *base = c->proc->envp != NULL ? c->proc->envp : environ;
	size_t n = 0, k = 0;
	char **env, *extra;

	while (base != NULL && base[n] != NULL)
		n++;
	if ((env = malloc((n + 3) * sizeof(*env) + 2 * 64)) == NULL)
		return NULL;
	extra = (char *)(env + n + 3);
	for (size_t i = 0; i < n; i++)
		if (!notify_var(base[i]))
			env[k++] = base[i];
	if (c->proc->notify) {
		snprintf(extra, 64, "NOTIFY_SOCKET=@%s", pr->notify_name);
		env[k++] = extra;
		if (c->heartbeat_ms != 0) {
			snprintf(extra + 64, 64, "WATCHDOG_USEC=%llu",
			    (unsigned long long)c->heartbeat_ms * 1000);
			env[k++] = extra + 64;
		}
	}
	env[k] = NULL;
	return env;
}

/* The value of PATH in env (or the process's), else the default. */
static const char *
path_of(char *const *env)
{
	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, "PATH=", 5) == 0)
			return *env + 5;
	return "/usr/local/bin:/bin:/usr/bin";
}

/* Where execvp(3) would look for file, in order: one allocation. */
static char **
make_paths(const char *file, const char *path)
{
	size_t n = 1, flen = strlen(file), plen = strlen(path), k = 0;
	char **v, *t;

	for (const char *p = path; *p != '\0'; p++)
		n += *p == ':';
	if ((v = malloc((n + 1) * sizeof(*v) + plen + n * (flen + 3) + 1)) == NULL)
		return NULL;
	t = (char *)(v + n + 1);
	if (strchr(file, '/') != NULL) {
		v[k++] = strcpy(t, file);
	} else {
		for (const char *p = path;; ) {
			const char *e = strchrnul(p, ':');
			int dlen = (int)(e - p);

			/* An empty entry is the working directory, as execvp's. */
			v[k++] = t;
			t += (dlen == 0 ? sprintf(t, "./%s", file) :
			    sprintf(t, "%.*s/%s", dlen, p, file)) + 1;
			if (*e == '\0')
				break;
			p = e + 1;
		}
	}
	v[k] = NULL;
	return v;
}

/* The child's notify socket: a datagram socket, abstract, credentials passed. */
static int
notify_socket(struct supv__procrun *pr)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, one = 1;
	socklen_t len;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	snprintf(pr->notify_name, sizeof(pr->notify_name), "supv/%d/%08x%08x",
	    (int)supv__pid(), arc4random(), arc4random());
	memcpy(sa.sun_path + 1, pr->notify_name, strlen(pr->notify_name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(pr->notify_name));
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, len) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Starts c's prepared run as a process, on s's loop: 0 with the process
 * running and watched; or ENOMEM, EAGAIN (no process, no watcher), or
 * ECHILD with *exec_err the errno of the exec that failed (the process,
 * already gone, is reaped).  Called with the tree's lock held.
 */
int
supv__proc_spawn(struct supv *s, struct child *c, int *exec_err)
{
	struct supv_worker *r = c->run;
	struct supv__procrun *pr = r->proc;
	struct spawn x = { .argv = c->proc->argv, .cwd = c->proc->cwd,
	    .rlimits = c->proc->rlimits, .n_rlimits = c->proc->n_rlimits };
	struct rlimit nofile;
	siginfo_t si;
	char *stack = NULL;
	int pidfd = -1, pid, rc = ENOMEM;

	*exec_err = 0;
	pr->stop_signal = c->proc->stop_signal;
	pr->grace_ns = supv__shutdown_ns(c);
	if (supv__fault_hit())
		return EAGAIN;
	if (!supv__proc_statuses_kept()) {
		*exec_err = ECHILD;	/* SIGCHLD ignored since it was added */
		return ECHILD;
	}
	if (c->proc->notify && (pr->notifyfd = notify_socket(pr)) < 0)
		return errno == ENOMEM || errno == ENOBUFS ? ENOMEM : EAGAIN;
	x.maxfd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
	    nofile.rlim_cur < 65536 ? (int)nofile.rlim_cur : 65536;
	if ((x.envp = make_env(c, pr)) == NULL ||
	    (x.paths = make_paths(c->proc->argv[0], path_of(c->proc->envp != NULL ?
	    c->proc->envp : environ))) == NULL ||
	    (stack = malloc(CHILD_STACK)) == NULL)
		goto out;
	x.err = 0;
	/* The loop has every signal blocked: none runs on the child's stack. */
	pid = raw_clone(child_main, stack + CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &x, &pidfd);
	if (pid < 0) {
		rc = errno == ENOMEM ? ENOMEM : EAGAIN;
		goto out;
	}
	r->started_ns = supv__now_ns();
	if (x.err != 0) {
		/* It never ran: reap what is left of it at once. */
		(void)waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL);
		close(pidfd);
		*exec_err = x.err;
		rc = ECHILD;
		goto out;
	}
	pr->pid = pid;
	pr->pidfd = pidfd;
	r->has_cpuclock = clock_getcpuclockid(pid, &r->cpuclock) == 0;
	atomic_store(&r->tid, pid);
	if ((rc = supv__procwatch_add(supv__root_of(s), pr)) != 0) {
		/* No watcher, so no run: it goes at once. */
		supv__proc_signal(pr, SIGKILL);
		(void)waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL);
		pr->pid = 0;
	}
out:
	if (rc != 0 && pr->notifyfd >= 0) {
		close(pr->notifyfd);
		pr->notifyfd = -1;
	}
	if (rc != 0 && pr->pidfd >= 0) {
		close(pr->pidfd);
		pr->pidfd = -1;
	}
	free(stack);
	free(x.paths);
	free(x.envp);
	return rc;
}
