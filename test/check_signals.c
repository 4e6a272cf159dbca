/*
 * check_signals.c - supv_stop_on_signals(): at most one signal thread per
 * root however many threads call it at once, a failed call changes nothing
 * (the calling thread's signal mask, descriptors and threads included),
 * and a signal sent to one thread, not to the process, stops nothing.
 * Each test runs in a process of its own (Check forks), so the masks and
 * limits it changes end with it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests.h"

extern atomic_long supv_fault_countdown;

#define RACERS     8
#define RACE_ROUNDS 200

static sigset_t
cur_mask(void)
{
	sigset_t m;

	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &m), 0);
	return m;
}

/* Whether a and b block the same signals. */
static bool
same_mask(const sigset_t *a, const sigset_t *b)
{
	int s;

	for (s = 1; s <= SIGRTMAX; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return false;
	return true;
}

/*
 * Whether signo is pending on the calling thread (field "SigPnd") or on
 * the process ("ShdPnd"), as the kernel says.
 */
static bool
pending_on(const char *field, int signo)
{
	char line[256];
	unsigned long long bits = 0;
	size_t len = strlen(field);
	FILE *f = fopen("/proc/thread-self/status", "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			bits = strtoull(line + len + 1, NULL, 16);
			break;
		}
	fclose(f);
	return (bits >> (signo - 1)) & 1;
}

struct racer {
	struct supv       *root;
	pthread_barrier_t *go;
	int                rc;
	sigset_t           before, after;
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	r->before = cur_mask();
	pthread_barrier_wait(r->go);
	r->rc = supv_stop_on_signals(r->root, (int[]){ SIGUSR2 }, 1);
	r->after = cur_mask();
	return NULL;
}

/*
 * Many threads call supv_stop_on_signals() on one root at once: exactly
 * one succeeds, the others fail with EBUSY and leave their signal masks
 * as they were, and supv_free() ends the one signal thread and closes its
 * descriptors.
 */
START_TEST(test_concurrent_calls_one_wins)
{
	struct racer r[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t go;
	struct supv *root;
	int base = base_threads(), fds = nfds(), round, i, won;

	for (round = 0; round < RACE_ROUNDS; round++) {
		ck_assert_int_eq(supv_new(&root, NULL), 0);
		ck_assert_int_eq(pthread_barrier_init(&go, NULL, RACERS), 0);
		for (i = 0; i < RACERS; i++) {
			r[i] = (struct racer){ .root = root, .go = &go };
			ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
		}
		for (i = 0; i < RACERS; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&go);
		for (won = 0, i = 0; i < RACERS; i++) {
			ck_assert_int_eq(sigismember(&r[i].before, SIGUSR2), 0);
			if (r[i].rc == 0) {
				won++;
				ck_assert_int_eq(sigismember(&r[i].after, SIGUSR2), 1);
				continue;
			}
			ck_assert_msg(r[i].rc == EBUSY, "round %d: racer %d: %s",
			    round, i, strerror(r[i].rc));
			ck_assert_msg(same_mask(&r[i].before, &r[i].after),
			    "round %d: a call that failed changed its mask", round);
		}
		ck_assert_msg(won == 1, "round %d: %d calls succeeded", round, won);
		/* The one signal thread is the only thread left. */
		ck_assert(POLL_UNTIL(nthreads() == base + 1, WAIT_MS));
		supv_free(root);
		ck_assert(POLL_UNTIL(nthreads() == base, WAIT_MS));
		ck_assert_int_eq(nfds(), fds);
	}
}
END_TEST

/*
 * Checks that a call that failed changed nothing: the mask is before, no
 * descriptor or thread is left, and the root's slot is free again.
 */
static void
check_unchanged(int rc, const sigset_t *before, int base, int fds)
{
	sigset_t now = cur_mask();

	ck_assert_int_ne(rc, 0);
	ck_assert_msg(same_mask(before, &now),
	    "a call that failed (%s) changed the signal mask", strerror(rc));
	ck_assert_int_eq(nfds(), fds);
	ck_assert(POLL_UNTIL(nthreads() == base, WAIT_MS));
}

/* After the failures, a call succeeds and the signals stop the tree. */
static void
check_works(struct supv *root, const int *sigs, size_t n)
{
	enum supv_exit_kind why;
	sigset_t now;
	size_t i;

	ck_assert_int_eq(supv_stop_on_signals(root, sigs, n), 0);
	now = cur_mask();
	for (i = 0; i < n; i++)
		ck_assert_int_eq(sigismember(&now, sigs[i]), 1);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(kill(getpid(), sigs[n - 1]), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(supv_stop_signal(root), sigs[n - 1]);
	supv_free(root);
}

/*
 * Every allocation and thread creation of the call fails in turn (the
 * fault-injection seam of lib/base/fault.c): each failed call changes nothing, the
 * thread creation's failure after the mask was changed included.  The
 * mask restored is the one before, not one without the signals: SIGUSR1
 * was blocked already and stays so.
 */
START_TEST(test_fault_changes_nothing)
{
	static const int sigs[] = { SIGUSR1, SIGUSR2 };
	struct supv *root;
	sigset_t before, one;
	long n;
	int base = base_threads(), fds, rc;
	bool fired;

	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &one, NULL), 0);
	before = cur_mask();
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	fds = nfds();
	for (n = 1; n < 100; n++) {
		atomic_store(&supv_fault_countdown, n);
		rc = supv_stop_on_signals(root, sigs, 2);
		fired = atomic_exchange(&supv_fault_countdown, 0) == 0;
		if (!fired)
			break;
		ck_assert_msg(rc == ENOMEM || rc == EAGAIN, "n=%ld: %s", n,
		    strerror(rc));
		check_unchanged(rc, &before, base, fds);
	}
	/* The allocation and the thread: a failed call gave the slot back. */
	ck_assert_int_ge(n, 3);
	ck_assert_int_eq(rc, 0);
	supv_free(root);
	ck_assert(POLL_UNTIL(nthreads() == base, WAIT_MS));
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &before, NULL), 0);

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	check_works(root, sigs, 2);
}
END_TEST

/*
 * The signalfd and then the eventfd cannot be made (no descriptor left
 * under RLIMIT_NOFILE): each failure restores the mask and closes what
 * the call had opened.
 */
START_TEST(test_fd_failure_changes_nothing)
{
	static const int sigs[] = { SIGUSR2 };
	struct rlimit lim, low;
	struct supv *root;
	sigset_t before = cur_mask();
	int base = base_threads(), fds, lowest, extra;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
	/* Every descriptor below the lowest free one is open. */
	ck_assert_int_ge(lowest = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	close(lowest);
	fds = nfds();
	for (extra = 0; extra < 2; extra++) {
		/* extra 0: no signalfd; extra 1: a signalfd but no eventfd. */
		low = lim;
		low.rlim_cur = (rlim_t)(lowest + extra);
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
		ck_assert_int_eq(supv_stop_on_signals(root, sigs, 1), EMFILE);
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
		check_unchanged(EMFILE, &before, base, fds);
	}
	check_works(root, sigs, 1);
}
END_TEST

/*
 * A signal sent to one thread that blocks it, with raise() here, stays
 * pending on that thread: the signal thread's signalfd reads only what is
 * sent to the process (and to itself), so it cannot stop the tree, as the
 * man page's CAVEATS say.  kill(getpid(), ...) does, and leaves it there.
 */
START_TEST(test_thread_directed_signal_stays_pending)
{
	struct supv *root;
	enum supv_exit_kind why;
	sigset_t usr2;
	int signo;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_stop_on_signals(root, (int[]){ SIGUSR2 }, 1), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(raise(SIGUSR2), 0);
	ck_assert(pending_on("SigPnd", SIGUSR2));
	ck_assert(!pending_on("ShdPnd", SIGUSR2));
	ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(supv_stop_signal(root), SIGUSR2);
	/* The signal thread took the process's; this thread's is still here. */
	ck_assert(pending_on("SigPnd", SIGUSR2));
	ck_assert(!pending_on("ShdPnd", SIGUSR2));
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	ck_assert_int_eq(sigwait(&usr2, &signo), 0);
	ck_assert_int_eq(signo, SIGUSR2);
	ck_assert(!pending_on("SigPnd", SIGUSR2));
	supv_free(root);
}
END_TEST

Suite *
suite_signals(void)
{
	Suite *s = suite_create("signals");
	TCase *tc = tcase_create("signals");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_concurrent_calls_one_wins);
	tcase_add_test(tc, test_fault_changes_nothing);
	tcase_add_test(tc, test_fd_failure_changes_nothing);
	tcase_add_test(tc, test_thread_directed_signal_stays_pending);
	suite_add_tcase(s, tc);
	return s;
}
