/*
 * check_procs.c - process children (supv_add_process, issue 29): exit
 * statuses and signals as exit kinds, restarts beside threads that run
 * on, a group restarted across a thread and a process, the stop signal
 * then SIGKILL at the grace for the whole group, sd_notify (READY,
 * WATCHDOG, EXTEND_TIMEOUT_USEC, STATUS), a ready deadline missed, bad
 * options, a program that cannot run, rlimits, a clean start (no
 * descriptor, no mask, no ignored signal), SIGCHLD ignored refused, no
 * zombie, the application's own children left alone, and no orphan when
 * the supervising process is killed.  The program run is test/proc_child.c ($SUPV_TEST_PROC_CHILD).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"

static const char *
child_prog(void)
{
	const char *p = getenv("SUPV_TEST_PROC_CHILD");

	ck_assert_msg(p != NULL && access(p, X_OK) == 0,
	    "no $SUPV_TEST_PROC_CHILD (make check sets it)");
	return p;
}

/* Adds a process child running proc_child with args (NULL-terminated). */
static int
add_proc(struct supv *s, struct supv_child_opts o, struct supv_process_opts po,
    const char *a1, const char *a2, const char *a3, const char *a4)
{
	const char *argv[] = { child_prog(), a1, a2, a3, a4, NULL };

	po.argv = argv;
	return supv_add_process(s, &o, &po);
}

static struct supv *
root_of(struct rec *rec, enum supv_strategy st, unsigned intensity)
{
	return new_root("root", rec, st, intensity);
}

static bool
alive(pid_t pid)
{
	char path[64], state = '?';
	FILE *f;

	if (kill(pid, 0) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = '?';
	fclose(f);
	return state != 'Z' && state != 'X';
}

static pid_t
read_pid(const char *file)
{
	int pid = 0;
	FILE *f;

	if ((f = fopen(file, "r")) == NULL)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* ---- Exits ---- */

START_TEST(test_exit_kinds)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev e;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "ok",
	    .restart = SUPV_TEMPORARY }, (struct supv_process_opts){ 0 }, "exit", "0",
	    NULL, NULL), 0);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "three",
	    .restart = SUPV_TEMPORARY }, (struct supv_process_opts){ 0 }, "exit", "3",
	    NULL, NULL), 0);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "segv",
	    .restart = SUPV_TEMPORARY }, (struct supv_process_opts){ 0 }, "signal",
	    "11", NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "segv", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "three", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "ok", 1), 1);
	e = ev_get(&rec, SUPV_EV_EXIT, "ok", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_NORMAL);
	ck_assert_int_eq(e.code, 0);
	e = ev_get(&rec, SUPV_EV_EXIT, "three", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_FAILURE);
	ck_assert_int_eq(e.code, 3);
	e = ev_get(&rec, SUPV_EV_EXIT, "segv", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_KILLED);
	ck_assert_int_eq(e.code, SIGSEGV);
	ck_assert_str_eq(supv_exit_kind_name(SUPV_EXIT_KILLED), "killed");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* The exit-code lists apply to a process's status. */
START_TEST(test_exit_codes_apply)
{
	static const int done[] = { 7 };
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "p",
	    .no_restart_codes = done, .n_no_restart_codes = 1 },
	    (struct supv_process_opts){ 0 }, "exit", "7", NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "p", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "p", 0).rule,
	    SUPV_RULE_NO_RESTART_CODE);
	sleep_ms(100);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_RESTART, "p"), 0);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* ---- Beside threads ---- */

static atomic_int beats;

static int
w_counting(struct supv_worker *self, void *arg)
{
	(void)arg;
	while (supv_sleep(self, 1) == 0)
		atomic_fetch_add(&beats, 1);
	return 0;
}

START_TEST(test_crash_restarts_beside_threads)
{
	struct supv *root;
	struct rec rec;
	int before;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "thread" }, w_counting, NULL), 0);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "parser" },
	    (struct supv_process_opts){ 0 }, "signal", "11", NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_RESTART, "parser", 5), 5);
	before = atomic_load(&beats);
	ck_assert(POLL_UNTIL(atomic_load(&beats) > before + 5, WAIT_MS));
	/* The thread beside it never noticed. */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "thread"), 0);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "parser", 0).exit,
	    SUPV_EXIT_KILLED);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_one_for_all_across_thread_and_process)
{
	char file[64];
	struct supv *root;
	struct rec rec;
	pid_t first;

	rec_init(&rec);
	snprintf(file, sizeof(file), "/tmp/supv-procs.%d.pid", (int)getpid());
	root = root_of(&rec, SUPV_ONE_FOR_ALL, SUPV_INFINITY);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "thread" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "proc" },
	    (struct supv_process_opts){ 0 }, "pidfile", file, NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL((first = read_pid(file)) > 0, WAIT_MS));
	/* The process dies: both restart, the thread stopped first. */
	ck_assert_int_eq(kill(first, SIGKILL), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "thread", 2), 2);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_START, "proc", 2), 2);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "proc", 0).exit, SUPV_EXIT_KILLED);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "thread", 0).exit,
	    SUPV_EXIT_SHUTDOWN);
	ck_assert(POLL_UNTIL(read_pid(file) != first && read_pid(file) > 0, WAIT_MS));
	supv_free(root);
	unlink(file);
	rec_destroy(&rec);
}
END_TEST

/* ---- Stopping ---- */

START_TEST(test_term_ignored_then_kill_at_grace)
{
	struct supv *root;
	struct rec rec;
	struct rec_ev e;
	uint64_t t0;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "stubborn",
	    .shutdown_ms = 300 }, (struct supv_process_opts){ 0 }, "ignore-term",
	    NULL, NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	sleep_ms(100);	/* let it install its SIG_IGN */
	t0 = mono_ns();
	ck_assert_int_eq(supv_terminate_child(root, "stubborn"), 0);
	ck_assert_uint_ge((mono_ns() - t0) / 1000000, 300);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_STOP_TIMEOUT, "stubborn"), 1);
	e = ev_get(&rec, SUPV_EV_EXIT, "stubborn", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_SHUTDOWN);
	ck_assert_int_eq(e.code, SIGKILL);
	ck_assert_int_lt(find_ev(&rec, SUPV_EV_STOP_TIMEOUT, "stubborn", 0),
	    find_ev(&rec, SUPV_EV_EXIT, "stubborn", 0));
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_grandchild_killed_with_group)
{
	char file[64];
	struct supv *root;
	pid_t g;

	snprintf(file, sizeof(file), "/tmp/supv-procs.%d.gc", (int)getpid());
	root = root_of(NULL, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "parent",
	    .shutdown_ms = 2000 }, (struct supv_process_opts){ 0 }, "grandchild", file,
	    NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL((g = read_pid(file)) > 0, WAIT_MS));
	ck_assert(alive(g));
	ck_assert_int_eq(supv_terminate_child(root, "parent"), 0);
	/* SIGTERM to the group: the grandchild goes with its parent. */
	ck_assert(POLL_UNTIL(!alive(g), WAIT_MS));
	supv_free(root);
	unlink(file);
}
END_TEST

/*
 * A leader that exits on its own leaves a member that ignores SIGTERM:
 * the group gets SIGTERM at once and SIGKILL when the grace ends.
 */
START_TEST(test_group_left_behind_killed_at_grace)
{
	char file[64];
	struct supv *root;
	struct rec rec;
	pid_t g;
	uint64_t t0;

	rec_init(&rec);
	snprintf(file, sizeof(file), "/tmp/supv-procs.%d.lb", (int)getpid());
	unlink(file);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "leaver",
	    .shutdown_ms = 500, .restart = SUPV_TEMPORARY },
	    (struct supv_process_opts){ 0 }, "leave", file, NULL, NULL), 0);
	/* Before the leader can exit, so the grace ends 500 ms after this at
	   the earliest, however slow the machine. */
	t0 = mono_ns();
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert(POLL_UNTIL((g = read_pid(file)) > 0, WAIT_MS));
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "leaver", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "leaver", 0).exit,
	    SUPV_EXIT_NORMAL);
	/* It ignores the SIGTERM; the SIGKILL comes with the grace's end. */
	ck_assert_msg(POLL_UNTIL(!alive(g), WAIT_MS), "the group member lives on");
	ck_assert_uint_ge((mono_ns() - t0) / 1000000, 500);
	supv_free(root);
	unlink(file);
	rec_destroy(&rec);
}
END_TEST

/* ---- sd_notify ---- */

START_TEST(test_notify_ready_status_watchdog)
{
	struct supv *root;
	struct rec rec;
	struct supv_counts k;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	/* Ready after 200 ms, then beats every 20 ms against a 300 ms limit. */
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "svc",
	    .ready_ms = WAIT_MS, .heartbeat_ms = 300 },
	    (struct supv_process_opts){ .notify = true }, "notify", "sleep:200",
	    "READY=1\nSTATUS=serving requests", "beat:20"), 0);
	ck_assert_int_eq(supv_start(root), 0);	/* returns once it is READY */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "svc"), 1);
	sleep_ms(1000);		/* three heartbeat periods, beaten */
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_HUNG, "svc"), 0);
	ck_assert_int_eq(supv_count_children(root, &k), 0);
	ck_assert_uint_eq(k.active, 1);
	{
		char buf[8192];

		ck_assert_int_gt(supv_metrics_format(root, buf, sizeof(buf)), 0);
		ck_assert_msg(strstr(buf, "supv_child_running{supervisor=\"root\","
		    "child=\"svc\"} 1") != NULL, "%s", buf);
	}
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_notify_silence_is_hung)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "quiet",
	    .heartbeat_ms = 100, .restart = SUPV_TEMPORARY },
	    (struct supv_process_opts){ .notify = true }, "notify", "WATCHDOG=1",
	    NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "quiet", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "quiet", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "quiet", 0).exit, SUPV_EXIT_HUNG);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* A hung process's detail: its kernel state, always. */
static char hung_detail[4096];
static pthread_mutex_t hung_mu = PTHREAD_MUTEX_INITIALIZER;

static void
detail_hook(const struct supv_event *ev, void *arg)
{
	(void)arg;
	if (ev->kind != SUPV_EV_HUNG)
		return;
	pthread_mutex_lock(&hung_mu);
	snprintf(hung_detail, sizeof(hung_detail), "%s",
	    ev->detail != NULL ? ev->detail : "(null)");
	pthread_mutex_unlock(&hung_mu);
}

START_TEST(test_hung_detail_has_kernel_state)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	rec.hook = detail_hook;
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "quiet",
	    .heartbeat_ms = 100, .restart = SUPV_TEMPORARY },
	    (struct supv_process_opts){ .notify = true }, "sleep", NULL, NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_HUNG, "quiet", 1), 1);
	pthread_mutex_lock(&hung_mu);
	ck_assert_msg(strncmp(hung_detail, "pid=", 4) == 0 &&
	    strstr(hung_detail, "state=") != NULL, "%s", hung_detail);
	pthread_mutex_unlock(&hung_mu);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_notify_extend_timeout)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	/* ready_ms 300, but it asks for 2 s more at once, and is ready at 600 ms. */
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "slow",
	    .ready_ms = 300 }, (struct supv_process_opts){ .notify = true }, "notify",
	    "EXTEND_TIMEOUT_USEC=2000000", "sleep:600", "READY=1"), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_EXIT, "slow"), 0);
	ck_assert_uint_eq(rec_count(&rec, SUPV_EV_START, "slow"), 1);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_ready_deadline_missed)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "never",
	    .ready_ms = 200 }, (struct supv_process_opts){ .notify = true }, "sleep",
	    NULL, NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), ECHILD);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "never", 0).exit,
	    SUPV_EXIT_START_FAILED);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* ---- Options, and what cannot run ---- */

START_TEST(test_bad_options)
{
	struct supv *root = root_of(NULL, SUPV_ONE_FOR_ONE, 0);
	const char *none[] = { NULL };
	struct supv_counts k;

	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a",
	    .heartbeat_ms = 100 }, (struct supv_process_opts){ 0 }, "sleep", NULL,
	    NULL, NULL), EINVAL);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a",
	    .ready_ms = 100 }, (struct supv_process_opts){ 0 }, "sleep", NULL,
	    NULL, NULL), EINVAL);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a",
	    .same_thread = true }, (struct supv_process_opts){ 0 }, "sleep", NULL,
	    NULL, NULL), EINVAL);
	ck_assert_int_eq(supv_add_process(root, &(struct supv_child_opts){ .id = "a" },
	    &(struct supv_process_opts){ .argv = NULL }), EINVAL);
	ck_assert_int_eq(supv_add_process(root, &(struct supv_child_opts){ .id = "a" },
	    &(struct supv_process_opts){ .argv = none }), EINVAL);
	ck_assert_int_eq(supv_add_process(root, &(struct supv_child_opts){ .id = "a" },
	    NULL), EINVAL);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a" },
	    (struct supv_process_opts){ .n_rlimits = 1 }, "sleep", NULL, NULL, NULL),
	    EINVAL);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a" },
	    (struct supv_process_opts){ .n_rlimits = 1, .rlimits = (const struct
	    supv_rlimit[]){ { 999, 1, 1 } } }, "sleep", NULL, NULL, NULL), EINVAL);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a" },
	    (struct supv_process_opts){ .stop_signal = 999 }, "sleep", NULL, NULL,
	    NULL), EINVAL);
	ck_assert_int_eq(supv_count_children(root, &k), 0);
	ck_assert_uint_eq(k.specs, 0);
	/* A process child counts among the workers. */
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "a" },
	    (struct supv_process_opts){ 0 }, "sleep", NULL, NULL, NULL), 0);
	ck_assert_int_eq(supv_count_children(root, &k), 0);
	ck_assert_uint_eq(k.workers, 1);
	supv_free(root);
}
END_TEST

START_TEST(test_missing_program_start_failed)
{
	const char *argv[] = { "/nonexistent/supv-no-such-program", NULL };
	const char *noexec[] = { "/", NULL };	/* a directory: EACCES */
	struct supv *root;
	struct rec rec;
	struct rec_ev e;

	rec_init(&rec);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_eq(supv_add_process(root, &(struct supv_child_opts){ .id = "no" },
	    &(struct supv_process_opts){ .argv = argv }), ECHILD);
	e = ev_get(&rec, SUPV_EV_EXIT, "no", 0);
	ck_assert_int_eq(e.exit, SUPV_EXIT_START_FAILED);
	ck_assert_int_eq(e.code, ENOENT);
	ck_assert_int_eq(supv_add_process(root, &(struct supv_child_opts){ .id = "x" },
	    &(struct supv_process_opts){ .argv = noexec }), ECHILD);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "x", 0).code, EACCES);
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

START_TEST(test_rlimit_and_clean_start)
{
	struct supv *root;
	struct rec rec;
	int fd;

	rec_init(&rec);
	/* Something to leak, and a signal ignored and one blocked, here. */
	ck_assert_int_ge(fd = open("/dev/null", O_RDONLY), 0);	/* no O_CLOEXEC */
	signal(SIGUSR1, SIG_IGN);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "nofile",
	    .restart = SUPV_TEMPORARY }, (struct supv_process_opts){ .n_rlimits = 1,
	    .rlimits = (const struct supv_rlimit[]){ { RLIMIT_NOFILE, 37, 64 } } },
	    "nofile", NULL, NULL, NULL), 0);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "check",
	    .restart = SUPV_TEMPORARY }, (struct supv_process_opts){ 0 }, "check",
	    NULL, NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "nofile", 1), 1);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "check", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "nofile", 0).code, 37);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "check", 0).exit, SUPV_EXIT_NORMAL);
	supv_free(root);
	signal(SIGUSR1, SIG_DFL);
	close(fd);
	rec_destroy(&rec);
}
END_TEST

/* The notification variables of the program's own manager are not passed on. */
START_TEST(test_own_notify_socket_not_inherited)
{
	struct supv *root;
	struct rec rec;

	rec_init(&rec);
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "env",
	    .restart = SUPV_TEMPORARY }, (struct supv_process_opts){ 0 }, "env",
	    "NOTIFY_SOCKET", NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_EXIT, "env", 1), 1);
	ck_assert_int_eq(ev_get(&rec, SUPV_EV_EXIT, "env", 0).code, 1);
	unsetenv("NOTIFY_SOCKET");
	supv_free(root);
	rec_destroy(&rec);
}
END_TEST

/* ---- Processes of the application's own, and the end ---- */

/* A process that ignores SIGCHLD keeps no child's status: refused, clearly. */
START_TEST(test_sigchld_ignored_refused)
{
	struct supv *root = root_of(NULL, SUPV_ONE_FOR_ONE, SUPV_INFINITY);

	signal(SIGCHLD, SIG_IGN);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "p" },
	    (struct supv_process_opts){ 0 }, "sleep", NULL, NULL, NULL), ECHILD);
	signal(SIGCHLD, SIG_DFL);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "p" },
	    (struct supv_process_opts){ 0 }, "sleep", NULL, NULL, NULL), 0);
	supv_free(root);
}
END_TEST

START_TEST(test_no_zombie_and_own_children_untouched)
{
	char file[64];
	struct supv *root;
	struct rec rec;
	pid_t mine, p;
	int st;

	rec_init(&rec);
	snprintf(file, sizeof(file), "/tmp/supv-procs.%d.z", (int)getpid());
	/* The application's own child, that exits at once with 42. */
	if ((mine = fork()) == 0)
		_exit(42);
	root = root_of(&rec, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "crash" },
	    (struct supv_process_opts){ 0 }, "exit", "1", NULL, NULL), 0);
	ck_assert_int_eq(add_proc(root, (struct supv_child_opts){ .id = "long" },
	    (struct supv_process_opts){ 0 }, "pidfile", file, NULL, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_uint_ge(rec_wait(&rec, SUPV_EV_RESTART, "crash", 20), 20);
	ck_assert(POLL_UNTIL((p = read_pid(file)) > 0, WAIT_MS));
	/* The library reaped none of the application's children ... */
	ck_assert_int_eq(waitpid(mine, &st, 0), mine);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	supv_free(root);
	/* Nothing left: no process, no zombie (waiting for it: ECHILD). */
	ck_assert(!alive(p));
	ck_assert_int_eq(waitpid(p, &st, WNOHANG | __WALL), -1);
	ck_assert_int_eq(errno, ECHILD);
	unlink(file);
	rec_destroy(&rec);
}
END_TEST

/*
 * The supervising process of test_no_orphan_when_killed: this runner run
 * again (a process that forked from a threaded one could not start
 * threads under TSan) with SUPV_TEST_ORPHAN=FILE:FD.  It starts a tree
 * whose process child writes its pid to FILE, says so on FD, and waits
 * to be killed.
 */
static void
orphan_supervisor(const char *role)
{
	char file[64];
	struct supv *root;
	int fd;

	if (sscanf(role, "%63[^:]:%d", file, &fd) != 2)
		_exit(2);
	root = root_of(NULL, SUPV_ONE_FOR_ONE, SUPV_INFINITY);
	if (add_proc(root, (struct supv_child_opts){ .id = "orphan" },
	    (struct supv_process_opts){ 0 }, "pidfile", file, NULL, NULL) != 0 ||
	    supv_start(root) != 0)
		_exit(1);
	(void)!write(fd, "x", 1);
	for (;;)
		pause();
}

START_TEST(test_no_orphan_when_killed)
{
	const char *role = getenv("SUPV_TEST_ORPHAN");
	char file[64], env[96];
	int p[2], st;
	pid_t sup, child = 0;

	if (role != NULL)
		orphan_supervisor(role);	/* does not return */
	snprintf(file, sizeof(file), "/tmp/supv-procs.%d.o", (int)getpid());
	ck_assert_int_eq(pipe(p), 0);
	snprintf(env, sizeof(env), "%s:%d", file, p[1]);
	if ((sup = fork()) == 0) {
		setenv("SUPV_TEST_ORPHAN", env, 1);
		setenv("CK_RUN_SUITE", "procs", 1);
		setenv("CK_RUN_CASE", "orphan", 1);
		setenv("CK_FORK", "no", 1);
		execl("/proc/self/exe", "runner", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(sup, 0);
	close(p[1]);
	{
		char c;

		ck_assert_int_eq(read(p[0], &c, 1), 1);
	}
	ck_assert(POLL_UNTIL((child = read_pid(file)) > 0, WAIT_MS));
	ck_assert(alive(child));
	kill(sup, SIGKILL);
	ck_assert_int_eq(waitpid(sup, &st, 0), sup);
	ck_assert_msg(POLL_UNTIL(!alive(child), WAIT_MS),
	    "the process child %d outlived its supervisor", (int)child);
	close(p[0]);
	unlink(file);
}
END_TEST

Suite *
suite_procs(void)
{
	Suite *s = suite_create("procs");
	TCase *tc = tcase_create("procs");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_exit_kinds);
	tcase_add_test(tc, test_exit_codes_apply);
	tcase_add_test(tc, test_crash_restarts_beside_threads);
	tcase_add_test(tc, test_one_for_all_across_thread_and_process);
	tcase_add_test(tc, test_term_ignored_then_kill_at_grace);
	tcase_add_test(tc, test_grandchild_killed_with_group);
	tcase_add_test(tc, test_group_left_behind_killed_at_grace);
	tcase_add_test(tc, test_notify_ready_status_watchdog);
	tcase_add_test(tc, test_notify_silence_is_hung);
	tcase_add_test(tc, test_hung_detail_has_kernel_state);
	tcase_add_test(tc, test_notify_extend_timeout);
	tcase_add_test(tc, test_ready_deadline_missed);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_missing_program_start_failed);
	tcase_add_test(tc, test_rlimit_and_clean_start);
	tcase_add_test(tc, test_own_notify_socket_not_inherited);
	tcase_add_test(tc, test_sigchld_ignored_refused);
	tcase_add_test(tc, test_no_zombie_and_own_children_untouched);
	suite_add_tcase(s, tc);

	/* Its own case, which its supervising process runs alone. */
	tc = tcase_create("orphan");
	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_test(tc, test_no_orphan_when_killed);
	suite_add_tcase(s, tc);
	return s;
}
