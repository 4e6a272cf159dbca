/*
 * procwatch.c - the watcher of a tree's process children: one thread per
 * tree that has any (made at the first one's start, ended by supv_free),
 * waiting in epoll over every process's pidfd and notify socket, so that
 * a thousand process children cost one thread.
 *
 * A process that ends is seen on its pidfd: its status is read without
 * reaping it, its run queued for its supervisor's loop as a thread's run
 * queues itself (run.c), and what is left of its process group gets its
 * stop signal (SIGKILL if its grace is over) while the leader, a zombie,
 * still holds the group's id; then the leader is reaped.  A group with
 * members left lingers: it is looked at every LINGER_POLL_MS, dropped as
 * soon as it is empty, and killed when its grace ends.  A group's id is
 * free for reuse only once the group is empty, and looking that often
 * leaves no time for the id to come round again to another group before
 * it is dropped, so the group's signals never reach another process.
 *
 * A notify socket speaks sd_notify: READY=1 is supv_ready(), WATCHDOG=1
 * supv_heartbeat(), STATUS= is kept, EXTEND_TIMEOUT_USEC= extends the
 * ready deadline while the run starts, its grace while it stops, and its
 * hang deadline (as supv_extend()) while it runs.  Only the process's own
 * group may speak: each datagram's credentials (SO_PASSCRED) are checked.
 *
 * Locking: the lingering list is the watcher's alone.  A loop adds a
 * process by epoll_ctl() alone, after it published the process's fields
 * (pr->armed, release; the watcher loads it, acquire, before it reads
 * them).  The watcher takes the tree's lock (through the run,
 * supv__lock_run_tree) for what the tree's fields hold, and no other lock.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define EVENTS 64
#define LINGER_POLL_MS 100
#define LINGER_KILLED_MS 10000   /* after SIGKILL, look this long at most */

struct supv__procwatch {
	int                 epfd;
	int                 wakefd;    /* readable: supv__procwatch_free() */
	pthread_t           thread;
	TAILQ_HEAD(, supv__procrun) lingering; /* ended, their group's grace on */
};

/* Reaps the leader, a zombie by now: its pid may go to another process. */
static void
reap_leader(struct supv__procrun *pr)
{
	siginfo_t si;

	(void)waitid((idtype_t)P_PIDFD, (id_t)pr->pidfd, &si, WEXITED | __WALL);
	close(pr->pidfd);
	pr->pidfd = -1;
}

/* Whether pr's group has a member left (its leader reaped). */
static bool
group_left(const struct supv__procrun *pr)
{
	return kill(-pr->pid, 0) == 0;
}

/* Lets go of pr's run: its group is gone, or nothing more is done for it. */
static void
release(struct supv__procrun *pr)
{
	if (pr->notifyfd >= 0) {
		close(pr->notifyfd);
		pr->notifyfd = -1;
	}
	supv__run_unref(pr->run);	/* the watcher's; no arg_free to run */
}

/* Applies one line of sd_notify text to pr's run. */
static void
notify_line(struct supv__procrun *pr, const char *l, size_t n)
{
	struct supv_worker *r = pr->run;
	unsigned long long usec;
	struct child *c;
	char *end;

	if (n == 7 && memcmp(l, "READY=1", 7) == 0) {
		supv_ready(r);
	} else if (n == 10 && memcmp(l, "WATCHDOG=1", 10) == 0) {
		supv_heartbeat(r);
	} else if (n > 7 && memcmp(l, "STATUS=", 7) == 0) {
		supv__lock_run_tree(r);
		n -= 7;
		if (n >= sizeof(pr->status_text))
			n = sizeof(pr->status_text) - 1;
		memcpy(pr->status_text, l + 7, n);
		pr->status_text[n] = '\0';
		supv__unlock_run_tree(r);
	} else if (n > 20 && memcmp(l, "EXTEND_TIMEOUT_USEC=", 20) == 0) {
		char num[24];

		if (n - 20 >= sizeof(num))
			return;
		memcpy(num, l + 20, n - 20);
		num[n - 20] = '\0';
		errno = 0;
		usec = strtoull(num, &end, 10);
		if (*end != '\0' || errno != 0)
			return;
		supv__lock_run_tree(r);
		if ((c = r->child) != NULL && !r->exited) {
			if (r->stop_asked || (!r->ready && c->ready_ms != 0)) {
				/* The grace, or the ready deadline, from now. */
				pr->ext_deadline = supv__now_ns() + usec * 1000;
				supv__sup_wake(c->owner);
			} else {
				(void)supv_extend(r, usec == 0 ? SUPV_ZERO :
				    usec / 1000 + (usec % 1000 != 0));
			}
		}
		supv__unlock_run_tree(r);
	}
	/* Anything else (STOPPING=1, MAINPID=, ...) changes nothing here. */
}

/* Whether the sender of a datagram is pr's process or one of its group. */
static bool
from_group(const struct supv__procrun *pr, struct msghdr *m)
{
	struct cmsghdr *cm;
	struct ucred cr;

	for (cm = CMSG_FIRSTHDR(m); cm != NULL; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			/* Descriptors sent along are not kept. */
			int *fds = (int *)CMSG_DATA(cm);

			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(fds[i]);
		}
	}
	for (cm = CMSG_FIRSTHDR(m); cm != NULL; cm = CMSG_NXTHDR(m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
			return cr.pid == pr->pid || getpgid(cr.pid) == pr->pid;
		}
	return false;
}

/* Reads what pr's notify socket holds. */
static void
on_notify(struct supv__procrun *pr)
{
	char buf[4096], ctl[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m;
	ssize_t n;

	for (;;) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		if ((n = recvmsg(pr->notifyfd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0)
			return;
		if (!from_group(pr, &m) || (m.msg_flags & MSG_TRUNC))
			continue;
		for (char *l = buf, *e = buf + n; l < e; ) {
			char *nl = memchr(l, '\n', (size_t)(e - l));
			size_t len = nl != NULL ? (size_t)(nl - l) : (size_t)(e - l);

			notify_line(pr, l, len);
			l += len + 1;
		}
	}
}

/*
 * pr's process ended: its run ends as a thread's does (its status read,
 * not reaped), and its group's grace begins.
 */
static void
proc_ended(struct supv__procwatch *w, struct supv__procrun *pr)
{
	struct supv_worker *r = pr->run;
	uint64_t now, grace;
	struct child *c;
	siginfo_t si;
	bool killed, stolen = false;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)pr->pidfd, &si,
	    WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) {
		/*
		 * Reaped by someone else (the application's waitpid(-1)): its
		 * status is lost, and its id too, so its group is left alone.
		 * It ended: a failure with code -1.
		 */
		stolen = true;
		si.si_code = CLD_EXITED;
		si.si_status = -1;
	} else if (si.si_pid == 0) {
		return;	/* not yet */
	}
	if (pr->notifyfd >= 0) {
		on_notify(pr);	/* what it said before it went */
		(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, pr->notifyfd, NULL);
	}
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, pr->pidfd, NULL);
	now = supv__now_ns();
	supv__lock_run_tree(r);
	if (si.si_code == CLD_EXITED)
		pr->status = si.si_status;
	else
		pr->signo = si.si_status;
	r->exited = true;
	r->ended_ns = now;
	if ((c = r->child) != NULL) {
		TAILQ_INSERT_TAIL(&c->owner->exitq, r, exitq);
		supv__sup_wake(c->owner);
	}
	killed = pr->killed;
	grace = pr->grace_ns;
	supv__unlock_run_tree(r);
	if (stolen) {
		close(pr->pidfd);
		pr->pidfd = -1;
		release(pr);
		return;
	}
	/* What is left of the group, while the leader still holds its id. */
	supv__proc_signal(pr, killed || grace == 0 ? SIGKILL : pr->stop_signal);
	reap_leader(pr);
	if (!group_left(pr)) {
		release(pr);
		return;
	}
	pr->killed = killed || grace == 0;
	pr->linger_until = pr->killed ? now + (uint64_t)LINGER_KILLED_MS * NS_PER_MS :
	    grace == NO_DEADLINE ? NO_DEADLINE : now + grace;
	TAILQ_INSERT_TAIL(&w->lingering, pr, lingerlink);
}

/*
 * The lingering groups: dropped once empty; killed when their grace ends
 * (then looked at a while more).  Returns when to look again.
 */
static uint64_t
expire(struct supv__procwatch *w, uint64_t now)
{
	struct supv__procrun *pr, *next;

	for (pr = TAILQ_FIRST(&w->lingering); pr != NULL; pr = next) {
		next = TAILQ_NEXT(pr, lingerlink);
		if (group_left(pr) && now >= pr->linger_until && !pr->killed) {
			supv__proc_signal(pr, SIGKILL);
			pr->killed = true;
			pr->linger_until = now + (uint64_t)LINGER_KILLED_MS * NS_PER_MS;
		}
		if (!group_left(pr) || (pr->killed && now >= pr->linger_until)) {
			TAILQ_REMOVE(&w->lingering, pr, lingerlink);
			release(pr);
		}
	}
	return TAILQ_EMPTY(&w->lingering) ? NO_DEADLINE :
	    now + (uint64_t)LINGER_POLL_MS * NS_PER_MS;
}

/*
 * At the end, once the tree has stopped (every process of it has ended):
 * every group still lingering killed, and its leader reaped.
 */
static void
kill_all(struct supv__procwatch *w)
{
	struct supv__procrun *pr;

	while ((pr = TAILQ_FIRST(&w->lingering)) != NULL) {
		supv__proc_signal(pr, SIGKILL);
		TAILQ_REMOVE(&w->lingering, pr, lingerlink);
		release(pr);
	}
}

static void *
watch_main(void *arg)
{
	struct supv__procwatch *w = arg;
	struct epoll_event ev[EVENTS];
	uint64_t next = NO_DEADLINE, now;
	bool stop = false;
	int n, timeout;

	supv__thread_name("supv-procwatch");
	while (!stop) {
		now = supv__now_ns();
		timeout = next == NO_DEADLINE ? -1 : next <= now ? 0 :
		    (int)((next - now + NS_PER_MS - 1) / NS_PER_MS);
		n = epoll_wait(w->epfd, ev, EVENTS, timeout);
		for (int i = 0; i < n; i++) {
			struct supv__pwtag *t = ev[i].data.ptr;

			if (t == NULL) {
				stop = true;
				continue;
			}
			/* What the loop wrote before it added the process. */
			(void)atomic_load_explicit(&t->pr->armed, memory_order_acquire);
			if (t->notify)
				on_notify(t->pr);
			else
				proc_ended(w, t->pr);
		}
		next = expire(w, supv__now_ns());
	}
	kill_all(w);
	return NULL;
}

static void
watch_destroy(struct supv__procwatch *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->wakefd >= 0)
		close(w->wakefd);
	free(w);
}

/* root's watcher, made if it has none: NULL if it cannot be.  Tree's lock held. */
static struct supv__procwatch *
watcher_of(struct supv *root)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	struct supv__procwatch *w;

	if (root->procwatch != NULL)
		return root->procwatch;
	if ((w = supv__xcalloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->epfd = w->wakefd = -1;
	TAILQ_INIT(&w->lingering);
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &e) != 0 ||
	    supv__thread_spawn(&w->thread, 0, watch_main, w) != 0) {
		watch_destroy(w);
		return NULL;
	}
	root->procwatch = w;
	return w;
}

/*
 * Watches pr's process (and its notify socket) from now on, holding a
 * reference to its run: 0, or EAGAIN (no watcher, or epoll refused it).
 * Called on a loop with the tree's lock held.
 */
int
supv__procwatch_add(struct supv *root, struct supv__procrun *pr)
{
	struct epoll_event ep = { .events = EPOLLIN, .data.ptr = &pr->tag_pid };
	struct epoll_event en = { .events = EPOLLIN, .data.ptr = &pr->tag_notify };
	struct supv__procwatch *w;

	if ((w = watcher_of(root)) == NULL)
		return EAGAIN;
	atomic_fetch_add(&pr->run->refs, 1);
	atomic_store_explicit(&pr->armed, true, memory_order_release);
	if (pr->notifyfd >= 0 &&
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, pr->notifyfd, &en) != 0) {
		atomic_fetch_sub(&pr->run->refs, 1);
		return EAGAIN;
	}
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, pr->pidfd, &ep) != 0) {
		if (pr->notifyfd >= 0)
			(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, pr->notifyfd, NULL);
		atomic_fetch_sub(&pr->run->refs, 1);
		return EAGAIN;
	}
	return 0;
}

/*
 * Ends root's watcher, if it has one: every process left is killed with
 * its group, and reaped.  Called by supv_free(), without the tree's lock,
 * once the tree has stopped.
 */
void
supv__procwatch_free(struct supv *root)
{
	struct supv__procwatch *w;

	supv__lock_sup(root);
	w = root->procwatch;
	root->procwatch = NULL;
	supv__unlock_sup(root);
	if (w == NULL)
		return;
	supv__flagfd_set(w->wakefd);
	pthread_join(w->thread, NULL);
	watch_destroy(w);
}
