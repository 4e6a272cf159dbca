/*
 * check_process.c - a tree's links to its process (lib/process/): systemd
 * notification, stopping on signals, thread names, the ready-made log
 * callbacks and the exit status convention.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests.h"

/* Waits for a message starting with prefix; counts WATCHDOG=1 on the way. */
static bool
expect_msg(int fd, const char *prefix, unsigned *watchdogs)
{
	char buf[256];
	uint64_t end = mono_ns() + (uint64_t)WAIT_MS * 1000000;

	while (mono_ns() < end) {
		next_msg(fd, buf, sizeof(buf), 200);
		if (strcmp(buf, "WATCHDOG=1") == 0 && watchdogs != NULL)
			(*watchdogs)++;
		if (strncmp(buf, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

static atomic_bool hang_now;

/* Beats until told to hang; then ignores stop requests for a while. */
static int
w_hang_on_demand(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (!atomic_load(&hang_now) && !supv_stopping(self)) {
		supv_heartbeat(self);
		sleep_ms(5);
	}
	if (atomic_load(&hang_now)) {
		atomic_store(&hang_now, false);
		sleep_ms(1200);		/* hung, and deaf to the stop request */
	}
	return 0;
}

START_TEST(test_systemd_protocol)
{
	struct supv *root;
	struct rec rec;
	unsigned wd = 0;
	int fd = fake_systemd(100);
	uint64_t hung_at, exit_at;
	int h, e;

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "svc",
	    .intensity = 5, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_notify_systemd(root, 0x100), EINVAL);
	ck_assert_int_eq(supv_notify_systemd(root, SUPV_NOTIFY_ALL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .heartbeat_ms = 100, .shutdown_ms = 2000 },
	    w_hang_on_demand, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_notify_systemd(root, SUPV_NOTIFY_ALL), EBUSY);
	ck_assert(expect_msg(fd, "READY=1", NULL));
	/* Healthy: pings every 50 ms. */
	for (wd = 0; wd < 3;)
		ck_assert(expect_msg(fd, "WATCHDOG=1", &wd));
	/* A hang: no ping from the HUNG event to the EXIT that ends it. */
	atomic_store(&hang_now, true);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "w", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "w", 2), 2);
	h = rec_find(&rec, SUPV_EV_HUNG, "w", 0);
	e = rec_find(&rec, SUPV_EV_EXIT, "w", 0);
	ck_assert_int_ge(h, 0);
	hung_at = rec.ev[h].at_ns;
	exit_at = rec.ev[e].at_ns;
	ck_assert_int_eq(rec.ev[e].exit, SUPV_EXIT_HUNG);
	/* Healthy again afterwards: pings come back. */
	for (wd = 0; wd < 2;)
		ck_assert(expect_msg(fd, "WATCHDOG=1", &wd));
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert(expect_msg(fd, "STOPPING=1", NULL));
	supv_free(root);
	/* Between the hang and its end the tree was unhealthy for > 1 s. */
	ck_assert_uint_gt(exit_at - hung_at, 500000000ULL);
	close(fd);
	rec_destroy(&rec);
}
END_TEST

/* During a hang the watchdog stays silent (checked on the socket). */
START_TEST(test_systemd_no_ping_while_hung)
{
	struct supv *root;
	struct rec rec;
	char buf[256];
	unsigned pings = 0;
	uint64_t end;
	int fd = fake_systemd(60);

	rec_init(&rec);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "svc",
	    .intensity = 5, .on_event = rec_cb, .event_arg = &rec }), 0);
	ck_assert_int_eq(supv_notify_systemd(root, SUPV_NOTIFY_WATCHDOG), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w", .heartbeat_ms = 50, .shutdown_ms = 3000 },
	    w_hang_on_demand, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(expect_msg(fd, "WATCHDOG=1", NULL));
	atomic_store(&hang_now, true);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "w", 1), 1);
	/* Drain what was sent before the hang was seen, then listen. */
	sleep_ms(100);
	do
		next_msg(fd, buf, sizeof(buf), 1);
	while (buf[0] != '\0');
	end = mono_ns() + 600000000ULL;
	while (mono_ns() < end && rec_count(&rec, SUPV_EV_EXIT, "w") == 0) {
		next_msg(fd, buf, sizeof(buf), 50);
		if (strcmp(buf, "WATCHDOG=1") == 0 &&
		    rec_count(&rec, SUPV_EV_EXIT, "w") == 0)
			pings++;
	}
	ck_assert_uint_eq(pings, 0);
	supv_free(root);
	close(fd);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_systemd_absent_is_harmless)
{
	struct supv *root;

	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_notify_systemd(root, SUPV_NOTIFY_ALL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_stop(root), 0);
	ck_assert_int_eq(supv_start(root), 0);
	supv_free(root);
}
END_TEST

START_TEST(test_sigterm_stops_tree)
{
	struct supv *root, *child;
	enum supv_exit_kind why;
	int sigs[] = { SIGUSR1 };

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_new(&child, NULL), 0);
	ck_assert_int_eq(supv_stop_on_signals(root, NULL, 1), EINVAL);
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "c" }, child), 0);
	ck_assert_int_eq(supv_stop_on_signals(child, NULL, 0), EINVAL);
	ck_assert_int_eq(supv_stop_on_signals(root, NULL, 0), 0);
	ck_assert_int_eq(supv_stop_on_signals(root, sigs, 1), EBUSY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_stop_signal(root), 0);
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(supv_wait(root, &why), 0);
	ck_assert_int_eq(why, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(supv_stop_signal(root), SIGTERM);
	ck_assert_int_eq(supv_exit_status(why), 0);
	supv_free(root);
}
END_TEST

static bool
thread_named(const char *name)
{
	char path[300], comm[64];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	bool found = false;
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	while (!found && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
			found = strcmp(comm, name) == 0;
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

START_TEST(test_thread_names)
{
	struct supv *root;

	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "tree" }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "db" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "connection-worker-0017" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL(thread_named("db"), WAIT_MS));
	ck_assert(POLL_UNTIL(thread_named("tree"), WAIT_MS));
	/* The kernel keeps 15 bytes: the end, where such ids differ. */
	ck_assert(POLL_UNTIL(thread_named("ion-worker-0017"), WAIT_MS));
	supv_free(root);
}
END_TEST

START_TEST(test_event_format)
{
	char buf[200];
	struct supv_event ev = { .kind = SUPV_EV_EXIT, .sup = "root",
	    .child = "db", .exit = SUPV_EXIT_FAILURE, .code = 3, .restarts = 2 };
	int n;

	n = supv_event_format(&ev, buf, sizeof(buf));
	ck_assert_str_eq(buf,
	    "sup=root event=exit child=db exit=failure code=3 restarts=2");
	ck_assert_int_eq(n, (int)strlen(buf));
	/* snprintf's conventions: the length it would have had. */
	ck_assert_int_eq(supv_event_format(&ev, buf, 5), n);
	ck_assert_str_eq(buf, "sup=");
	ck_assert_int_eq(supv_event_format(&ev, NULL, 0), n);
	ev = (struct supv_event){ .kind = SUPV_EV_BACKOFF, .sup = "r",
	    .child = "c", .delay_ms = 40 };
	supv_event_format(&ev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "sup=r event=backoff child=c delay_ms=40 restarts=0");
	ev = (struct supv_event){ .kind = SUPV_EV_HUNG, .sup = "r",
	    .child = "c", .spinning = true };
	supv_event_format(&ev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "sup=r event=hung child=c stuck=spinning restarts=0");
	ck_assert_int_eq(supv_exit_status(SUPV_EXIT_GAVE_UP), 1);
	ck_assert_int_eq(supv_exit_status(SUPV_EXIT_START_FAILED), 1);
	ck_assert_int_eq(supv_exit_status(SUPV_EXIT_NORMAL), 0);
}
END_TEST

START_TEST(test_log_stderr_lines)
{
	struct supv *root;
	int pipefd[2], saved;
	char buf[4096];
	ssize_t n;

	ck_assert_int_eq(pipe(pipefd), 0);
	saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){ .name = "logged",
	    .on_event = supv_log_stderr }), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	supv_free(root);
	dup2(saved, STDERR_FILENO);
	close(pipefd[1]);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf,
	    "supervise: sup=logged event=start child=w restarts=0\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "supervise: sup=logged event=sup_exit exit=shutdown restarts=0\n"));
	close(pipefd[0]);
	close(saved);
}
END_TEST

Suite *
suite_process(void)
{
	Suite *s = suite_create("process");
	TCase *tc = tcase_create("production");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_systemd_protocol);
	tcase_add_test(tc, test_systemd_no_ping_while_hung);
	tcase_add_test(tc, test_systemd_absent_is_harmless);
	tcase_add_test(tc, test_sigterm_stops_tree);
	tcase_add_test(tc, test_thread_names);
	tcase_add_test(tc, test_event_format);
	tcase_add_test(tc, test_log_stderr_lines);
	suite_add_tcase(s, tc);
	return s;
}
