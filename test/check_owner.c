/*
 * check_owner.c - the owner's side of a tree: a descriptor to poll for
 * the end of a run, a timed wait, a second signal forcing a stop, log
 * lines filed by priority under journald, and structs of other sizes
 * than the header's (growth-safe structs).
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"

static bool
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(test_wait_fd)
{
	struct supv *root, *sub;
	struct pollfd p;
	enum supv_exit_kind why;
	int fd;

	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	sub = new_root("sub", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "sub" }, sub), 0);
	ck_assert_int_eq(supv_wait_fd(sub), -1);	/* not a root */
	fd = supv_wait_fd(root);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(supv_wait_fd(root), fd);	/* the same one */
	ck_assert(!readable(fd));			/* no run has ended */
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(!readable(fd));
	ck_assert_int_eq(supv_stop(root), 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	/* A new run clears it; its end sets it again. */
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(!readable(fd));
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert(readable(fd));
	supv_free(root);
}
END_TEST

START_TEST(test_timedwait)
{
	struct supv *root;
	enum supv_exit_kind why = SUPV_EXIT_FAILURE;

	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_timedwait(root, &why, 10), ESRCH);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_timedwait(root, &why, 0), ETIMEDOUT);
	ck_assert_int_eq(supv_timedwait(root, &why, 20), ETIMEDOUT);
	ck_assert_int_eq(why, SUPV_EXIT_FAILURE);	/* untouched */
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_timedwait(root, &why, 0), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(supv_timedwait(NULL, &why, 0), EINVAL);
	supv_free(root);
}
END_TEST

/* A worker that ignores stop requests until the test lets it go. */
static atomic_int stubborn_go, stubborn_asked, stubborn_done;

static int
w_stubborn(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (!atomic_load(&stubborn_go)) {
		if (supv_stopping(self))
			atomic_store(&stubborn_asked, 1);
		sleep_ms(1);
	}
	atomic_store(&stubborn_done, 1);
	return 0;
}

START_TEST(test_second_signal_forces)
{
	struct supv *root;
	struct rec rec;
	enum supv_exit_kind why;

	rec_init(&rec);
	atomic_store(&stubborn_go, 0);
	atomic_store(&stubborn_asked, 0);
	atomic_store(&stubborn_done, 0);
	root = new_root("root", &rec, SUPV_ONE_FOR_ONE, 0);
	ck_assert_int_eq(supv_stop_on_signals(root, (int[]){ SIGUSR1 }, 1), 0);
	/* Its grace would last an hour. */
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .shutdown_ms = 3600000 }, w_stubborn, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	kill(getpid(), SIGUSR1);
	ck_assert(POLL_UNTIL(atomic_load(&stubborn_asked), WAIT_MS));
	ck_assert_int_eq(supv_timedwait(root, &why, 50), ETIMEDOUT);
	kill(getpid(), SIGUSR1);	/* again: the grace is cut short */
	ck_assert_int_eq(supv_timedwait(root, &why, WAIT_MS), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "w"), 1);
	ck_assert_int_eq(supv_stop_signal(root), SIGUSR1);
	/* A new run stops with one signal again, without force. */
	atomic_store(&stubborn_go, 1);
	ck_assert(POLL_UNTIL(atomic_load(&stubborn_done), WAIT_MS));
	ck_assert_int_eq(supv_start(root), 0);
	kill(getpid(), SIGUSR1);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "w"), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* Under journald (JOURNAL_STREAM names stderr), lines carry "<N>". */
static void
log_line(struct supv_event *ev, char *buf, size_t size)
{
	int p[2], saved;
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	supv_log_stderr(ev, NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
}

START_TEST(test_log_journal_priority)
{
	struct supv_event ev = { .kind = SUPV_EV_HUNG, .sup = "root",
	    .child = "w" };
	char buf[512], js[64];
	struct stat st;
	int p[2];

	unsetenv("JOURNAL_STREAM");
	log_line(&ev, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "supervise: ", 11) == 0, "got %s", buf);
	/* A pipe stands for the journal's stream: its device and inode. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fstat(p[1], &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	{
		int saved = dup(STDERR_FILENO);
		ssize_t n;

		dup2(p[1], STDERR_FILENO);
		supv_log_stderr(&ev, NULL);		/* warning */
		ev.kind = SUPV_EV_GIVE_UP;
		ev.child = NULL;
		supv_log_stderr(&ev, NULL);		/* error */
		dup2(saved, STDERR_FILENO);
		close(saved);
		close(p[1]);
		n = read(p[0], buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(p[0]);
	}
	ck_assert_msg(strncmp(buf, "<4>supervise: ", 14) == 0, "got %s", buf);
	ck_assert_msg(strstr(buf, "\n<3>supervise: ") != NULL, "got %s", buf);
	/* Another stream than the journal's: no prefix. */
	log_line(&ev, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "supervise: ", 11) == 0, "got %s", buf);
	unsetenv("JOURNAL_STREAM");
}
END_TEST

/*
 * Growth-safe structs: a larger struct (a newer header) with its extra
 * bytes zero is accepted, with any set refused (E2BIG); a smaller output
 * struct is written only up to its size.
 */
START_TEST(test_struct_sizes)
{
	struct bigger {
		struct supv_child_opts o;
		unsigned char more[16];
	} big;
	struct supv *root;
	unsigned char out[sizeof(struct supv_counts) + 8];
	struct supv_counts k;

	root = new_root("root", NULL, SUPV_ONE_FOR_ONE, 0);
	memset(&big, 0, sizeof(big));
	big.o.id = "w";
	ck_assert_int_eq(supv_add_worker_sized(root, &big.o, w_sleeper, NULL,
	    sizeof(big)), 0);
	big.o.id = "x";
	big.more[3] = 1;
	ck_assert_int_eq(supv_add_worker_sized(root, &big.o, w_sleeper, NULL,
	    sizeof(big)), E2BIG);
	/* An older, smaller struct: the bytes after it stay as they were. */
	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(supv_count_children_sized(root, (void *)out,
	    2 * sizeof(unsigned)), 0);
	memcpy(&k, out, 2 * sizeof(unsigned));
	ck_assert_uint_eq(k.specs, 1);
	ck_assert_uint_eq(out[2 * sizeof(unsigned)], 0xa5);
	/* A newer, larger one: the bytes past the library's are zeroed. */
	ck_assert_int_eq(supv_count_children_sized(root, (void *)out,
	    sizeof(out)), 0);
	ck_assert_uint_eq(out[sizeof(out) - 1], 0);
	supv_free(root);
}
END_TEST

Suite *
suite_owner(void)
{
	Suite *s = suite_create("owner");
	TCase *tc = tcase_create("owner");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_wait_fd);
	tcase_add_test(tc, test_timedwait);
	tcase_add_test(tc, test_second_signal_forces);
	tcase_add_test(tc, test_log_journal_priority);
	tcase_add_test(tc, test_struct_sizes);
	suite_add_tcase(s, tc);
	return s;
}
