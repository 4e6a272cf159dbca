/*
 * signals.c - stopping a tree on SIGTERM/SIGINT, safely: the signals are
 * blocked and read from a signalfd by a thread of the library's, which
 * calls supv_stop(); no library work ever runs in a signal handler.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/core.h"
#include "process/process.h"

/* Set before the thread starts and constant after, but for signo. */
struct sigstop {
	struct supv *root;
	int          sfd;        /* signalfd of the set */
	int          quitfd;     /* eventfd: supv_free() ends the thread */
	pthread_t    thread;
	atomic_int   signo;      /* the last signal received, 0 if none */
	unsigned long stop_seq;  /* thread only: the run a signal stopped */
};

/*
 * The first signal asks the tree to stop and does not wait; another one
 * while that run still stops forces it: every grace is cut short, as
 * SUPV_ZERO would (Ctrl-C twice).
 */
static void
stop_or_force(struct sigstop *ss)
{
	struct supv *root = ss->root;
	bool again;

	supv__lock_sup(root);
	again = ss->stop_seq == root->run_seq && root->end_seq < root->run_seq;
	ss->stop_seq = root->run_seq;
	supv__sup_request_stop(root, again);
	supv__unlock_sup(root);
}

static void *
sigstop_main(void *arg)
{
	struct sigstop *ss = arg;
	struct signalfd_siginfo si;
	struct pollfd pfd[2] = {
		{ .fd = ss->sfd, .events = POLLIN },
		{ .fd = ss->quitfd, .events = POLLIN },
	};

	supv__thread_name("supv-signals");
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN)
			break;
		if ((pfd[0].revents & POLLIN) &&
		    read(ss->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			atomic_store(&ss->signo, (int)si.ssi_signo);
			stop_or_force(ss);
		}
	}
	return NULL;
}

SUPV_EXPORT int
supv_stop_on_signals(struct supv *root, const int *signals, size_t n)
{
	static const int dflt[] = { SIGTERM, SIGINT };
	struct sigstop *ss;
	sigset_t sigs, old;
	size_t i;
	int rc = 0;

	if (root == NULL || (signals == NULL && n != 0))
		return EINVAL;
	if (signals == NULL) {
		signals = dflt;
		n = 2;
	}
	sigemptyset(&sigs);
	for (i = 0; i < n; i++)
		if (signals[i] == SIGKILL || signals[i] == SIGSTOP ||
		    sigaddset(&sigs, signals[i]) != 0)
			return EINVAL;
	if (n == 0)
		return EINVAL;
	if ((ss = supv__xcalloc(1, sizeof(*ss))) == NULL)
		return ENOMEM;
	ss->root = root;
	/*
	 * The slot is taken before the lock is dropped to make the descriptors
	 * and the thread, so that a concurrent call fails with EBUSY before it
	 * changes anything, instead of starting a second thread that nothing
	 * would end.  Until it is given back on failure, the slot is ours.
	 */
	supv__lock_sup(root);
	if (root->parent != NULL)
		rc = EINVAL;
	else if (root->sigstop != NULL)
		rc = EBUSY;
	else
		root->sigstop = ss;
	supv__unlock_sup(root);
	if (rc != 0) {
		free(ss);
		return rc;
	}
	/* Blocked here first, so that threads created after inherit it. */
	if ((rc = pthread_sigmask(SIG_BLOCK, &sigs, &old)) != 0)
		goto fail;
	if ((ss->sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		rc = errno;
		goto fail_mask;
	}
	if ((ss->quitfd = eventfd(0, EFD_CLOEXEC)) < 0) {
		rc = errno;
		goto fail_sfd;
	}
	if ((rc = supv__thread_spawn(&ss->thread, 0, sigstop_main, ss)) != 0)
		goto fail_quit;
	return 0;
fail_quit:
	close(ss->quitfd);
fail_sfd:
	close(ss->sfd);
fail_mask:
	/* A failed call changes nothing, the caller's mask included. */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
fail:
	/*
	 * Nothing else changes a taken slot: other calls see it taken, and
	 * supv_free() may not run while another call on its root does.
	 */
	supv__lock_sup(root);
	root->sigstop = NULL;
	supv__unlock_sup(root);
	free(ss);
	return rc;
}

SUPV_EXPORT int
supv_stop_signal(const struct supv *root)
{
	int signo = 0;

	if (root == NULL)
		return 0;
	supv__lock_sup(root);
	if (root->sigstop != NULL)
		signo = atomic_load(&root->sigstop->signo);
	supv__unlock_sup(root);
	return signo;
}

/* Ends the signal thread of a root being freed.  Called without the root's lock. */
void
supv__sigstop_free(struct supv *root)
{
	struct sigstop *ss = root->sigstop;
	uint64_t one = 1;

	if (ss == NULL)
		return;
	if (write(ss->quitfd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort();	/* cannot fail on a fresh eventfd */
	pthread_join(ss->thread, NULL);
	close(ss->quitfd);
	close(ss->sfd);
	free(ss);
	root->sigstop = NULL;
}
