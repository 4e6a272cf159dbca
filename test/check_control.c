/*
 * check_control.c - the control socket and the metrics: every command
 * against a tree with failing and hung workers, socket safety (mode,
 * files it must not replace, stale sockets, credentials), bad input
 * answered with an error while the tree runs on, many clients at once, a
 * slow client, no wake-ups while idle, and supv_metrics_format().
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"
#include "outside/outside.h"
#include "../tools/supervisectl/ctl.h"

static char dir[40], sock[100];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/supv-ctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
}

static void
teardown(void)
{
	unlink(sock);
	rmdir(dir);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Everything the server sends until it closes (bounded by WAIT_MS). */
static char *
read_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	uint64_t end = mono_ns() + (uint64_t)WAIT_MS * 1000000;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (len + 1 == cap)
			ck_assert_ptr_nonnull(buf = realloc(buf, cap *= 2));
		ck_assert_msg(mono_ns() < end, "no end of reply");
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((n = recv(fd, buf + len, cap - len - 1, 0)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* One exchange, with supervisectl's client: the request bytes as given, the whole reply. */
static char *
ask_raw(const char *req, size_t len)
{
	char err[512], *rep;
	size_t n;

	rep = ctl_raw(sock, req, len, WAIT_MS, &n, err, sizeof(err));
	ck_assert_msg(rep != NULL, "%s", err);
	return rep;
}

static char *
ask(const char *req)
{
	return ask_raw(req, strlen(req));
}

/* Whether the reply to req contains want. */
static bool
says(const char *req, const char *want)
{
	char *r = ask(req);
	bool yes = strstr(r, want) != NULL;

	free(r);
	return yes;
}

/* The test lets the hung run end once it has seen it hung. */
static atomic_bool released;

static int
w_hang_once(struct supv_worker *self, void *arg)
{
	atomic_int *runs = arg;

	if (atomic_fetch_add(runs, 1) == 0) {
		/*
		 * The first run goes quiet, and stays so after it is asked
		 * to stop until the test lets it go: it is "hung" for as
		 * long as the test needs to see it, however slow the machine.
		 */
		while (!supv_stopping(self) || !atomic_load(&released))
			sleep_ms(5);
		return 0;
	}
	return w_beat(self, NULL);
}

/* app: w (sleeper), bad (fails at once, backoff), hung (first run hangs), db/x. */
static struct supv *
make_tree(const struct supv_control_opts *o, atomic_int *runs)
{
	struct supv *app, *db;

	ck_assert_int_eq(supv_new(&app, &(struct supv_opts){ .name = "app",
	    .intensity = SUPV_INFINITY }), 0);
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "w" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "bad",
	    .backoff_ms = 50, .backoff_max_ms = 50 }, w_fail, (void *)(intptr_t)7), 0);
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "hung",
	    .heartbeat_ms = 100 }, w_hang_once, runs), 0);
	ck_assert_int_eq(supv_new(&db, &(struct supv_opts){ .name = "db" }), 0);
	ck_assert_int_eq(supv_add_worker(db, &(struct supv_child_opts){ .id = "x" },
	    w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_sup(app, &(struct supv_child_opts){ .id = "db" }, db), 0);
	ck_assert_int_eq(supv_control_listen(app, sock, o), 0);
	return app;
}

START_TEST(test_listen_bad_input)
{
	struct supv *root, *child;
	int fd;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(NULL, sock, NULL), EINVAL);
	ck_assert_int_eq(supv_control_listen(root, NULL, NULL), EINVAL);
	ck_assert_int_eq(supv_control_listen(root, "", NULL), EINVAL);
	{
		char longp[200];

		memset(longp, 'x', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		ck_assert_int_eq(supv_control_listen(root, longp, NULL), ENAMETOOLONG);
	}
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .max_clients = 1000000 }), EINVAL);
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .n_uids = 2 }), EINVAL);	/* no array */
	/* A regular file is never replaced. */
	ck_assert_int_ge(fd = open(sock, O_CREAT | O_WRONLY, 0644), 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), EEXIST);
	{
		struct stat st;

		ck_assert_int_eq(stat(sock, &st), 0);
		ck_assert(S_ISREG(st.st_mode));
		ck_assert_int_eq(st.st_size, 4);
	}
	unlink(sock);
	/* Twice: EBUSY.  A child supervisor: EINVAL.  One that listens cannot be added. */
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), EBUSY);
	ck_assert_int_eq(supv_new(&child, &(struct supv_opts){ .name = "c" }), 0);
	{
		struct supv *other;
		char p2[160];

		snprintf(p2, sizeof(p2), "%s/two.sock", dir);
		ck_assert_int_eq(supv_new(&other, NULL), 0);
		/* A socket something listens on is not taken over. */
		ck_assert_int_eq(supv_control_listen(other, sock, NULL), EADDRINUSE);
		ck_assert_int_eq(supv_control_listen(other, p2, NULL), 0);
		ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "o" },
		    other), EINVAL);
		supv_free(other);
		ck_assert_int_eq(access(p2, F_OK), -1);	/* removed */
	}
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){ .id = "c" }, child), 0);
	ck_assert_int_eq(supv_control_listen(child, sock, NULL), EINVAL);
	supv_free(root);
	ck_assert_int_eq(access(sock, F_OK), -1);
}
END_TEST

START_TEST(test_socket_mode_and_stale)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct supv *root;
	struct stat st;
	mode_t old;
	int fd;

	/* A stale socket (nothing listens): replaced. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	old = umask(0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	umask(old);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert(says("version\n", SUPV_VERSION_STRING));
	supv_free(root);
	ck_assert_int_eq(access(sock, F_OK), -1);
}
END_TEST

START_TEST(test_commands_on_a_live_tree)
{
	atomic_int runs = 0;
	struct supv *app = make_tree(NULL, &runs);
	char *r;

	/* Before the start: served, and it says so. */
	ck_assert(says("ready\n", "ok\nready\tno\treason=idle"));
	ck_assert(says("health\n", "ok\nhealth\tno\treason=idle"));
	ck_assert_int_eq(supv_start(app), 0);
	ck_assert(says("ready\n", "ok\nready\tyes\n"));
	/* The hung child: unhealthy while it is being stopped, by path. */
	ck_assert(POLL_UNTIL(says("health\n", "health\tno\treason=hung\tpath=app/hung"),
	    WAIT_MS));
	ck_assert(says("tree\n", "path=app/hung\tid=hung\ttype=worker\tstate=hung"));
	atomic_store(&released, true);
	ck_assert(POLL_UNTIL(says("health\n", "ok\nhealth\tyes\n"), WAIT_MS));
	/* bad fails and waits in backoff. */
	ck_assert(POLL_UNTIL(says("tree\n", "path=app/bad\tid=bad\ttype=worker"
	    "\tstate=backoff"), WAIT_MS));
	r = ask("tree\n");
	ck_assert_msg(strncmp(r, "ok\nnode\tdepth=0\tpath=app\tid=app\ttype=supervisor"
	    "\tstate=running", 60) == 0, "%s", r);
	ck_assert_msg(strstr(r, "path=app/db/x\tid=x\ttype=worker\tstate=running") != NULL,
	    "%s", r);
	ck_assert_msg(strstr(r, "depth=2\tpath=app/db/x") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "last_exit=failure\tlast_code=7") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "heartbeat_ms=100") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "hung_total=1") != NULL, "%s", r);
	free(r);
	r = ask("metrics\n");
	ck_assert_msg(strstr(r, "# TYPE supv_child_restarts_total counter\n") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "supv_child_running{supervisor=\"app/db\",child=\"x\"} 1\n")
	    != NULL, "%s", r);
	ck_assert_msg(strstr(r, "supv_child_exits_total{supervisor=\"app\",child=\"hung\","
	    "kind=\"hung\"} 1\n") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "supv_supervisor_hung_total{supervisor=\"app\"} 1\n")
	    != NULL, "%s", r);
	free(r);
	/* Changes are off by default. */
	ck_assert(says("restart app/w\n", "error\tEPERM\t"));
	ck_assert(says("terminate app/db/x\n", "error\tEPERM\t"));
	supv_free(app);
}
END_TEST

static bool
x_running(struct supv *app, const char *want)
{
	char *r = ask("tree\n");
	bool yes = strstr(r, want) != NULL;

	(void)app;
	free(r);
	return yes;
}

START_TEST(test_restart_and_terminate)
{
	atomic_int runs = 1;	/* hung never hangs here */
	struct supv *app = make_tree(&(struct supv_control_opts){
	    .allow_changes = true }, &runs);
	char *r;

	ck_assert_int_eq(supv_start(app), 0);
	ck_assert(says("terminate app/db/x\n", "ok\n"));
	ck_assert(x_running(app, "path=app/db/x\tid=x\ttype=worker\tstate=idle"));
	ck_assert(says("restart app/db/x\n", "ok\n"));
	ck_assert(POLL_UNTIL(x_running(app, "path=app/db/x\tid=x\ttype=worker"
	    "\tstate=running"), WAIT_MS));
	ck_assert(says("restart app/w\n", "ok\n"));
	r = ask("tree\n");
	/* Bounced: stopped (an exit, not a restart the intensity counts), started. */
	ck_assert_msg(strstr(r, "path=app/w\tid=w\ttype=worker\tstate=running\t"
	    "restart=permanent\trestarts=0\texits=1\tlast_exit=shutdown") != NULL,
	    "%s", r);
	free(r);
	ck_assert(says("restart app/nope\n", "error\tENOENT\t"));
	ck_assert(says("restart other/w\n", "error\tENOENT\t"));
	ck_assert(says("restart app/%zz\n", "error\tEINVAL\t"));
	ck_assert(says("restart app\n", "error\tEINVAL\t"));
	supv_free(app);
}
END_TEST

START_TEST(test_bad_requests_change_nothing)
{
	static const char *const bad[] = {
		"\n", "nonsense\n", "tree extra\n", "restart\n", "restart \n",
		"TREE\n", "tree\t\n", "restart a b\n", "\x01\x02\x03\n",
		"metrics\x7f\n", "health  \n",
	};
	atomic_int runs = 1;
	struct supv *app = make_tree(&(struct supv_control_opts){
	    .allow_changes = true }, &runs);
	char big[8192], *r;

	ck_assert_int_eq(supv_start(app), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = ask(bad[i]);
		ck_assert_msg(strncmp(r, "error\tEINVAL\t", 13) == 0 &&
		    strchr(r, '\n') == r + strlen(r) - 1, "%zu: %s", i, r);
		free(r);
	}
	/* A NUL inside the line. */
	r = ask_raw("tree\0x\n", 7);
	ck_assert_msg(strncmp(r, "error\tEINVAL\t", 13) == 0, "%s", r);
	free(r);
	/* Too long, with no newline: one error line. */
	memset(big, 'a', sizeof(big));
	r = ask_raw(big, sizeof(big));
	ck_assert_msg(strncmp(r, "error\tE2BIG\t", 12) == 0, "%s", r);
	free(r);
	/* No newline, then the end: still a request. */
	r = ask_raw("version", 7);
	ck_assert_msg(strncmp(r, "ok\nversion\t", 11) == 0, "%s", r);
	free(r);
	/* A trailing carriage return is allowed. */
	ck_assert(says("ready\r\n", "ok\nready\tyes"));
	/* Nothing changed: every child runs, none restarted. */
	r = ask("tree\n");
	ck_assert_msg(strstr(r, "path=app/w\tid=w\ttype=worker\tstate=running\t"
	    "restart=permanent\trestarts=0") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "path=app/db/x\tid=x\ttype=worker\tstate=running")
	    != NULL, "%s", r);
	free(r);
	supv_free(app);
}
END_TEST

static void *
client_main(void *arg)
{
	atomic_int *bad = arg;

	for (int i = 0; i < 20; i++) {
		int fd = connect_to(sock);
		char *r;

		if (fd < 0) {
			atomic_fetch_add(bad, 1);
			continue;
		}
		(void)send(fd, i % 2 ? "tree\n" : "metrics\n", i % 2 ? 5 : 8,
		    MSG_NOSIGNAL);
		r = read_all(fd);
		close(fd);
		/* Each gets its answer, or is told the server is busy. */
		if (strncmp(r, "ok\n", 3) != 0 && strncmp(r, "error\tEBUSY\t", 12) != 0)
			atomic_fetch_add(bad, 1);
		free(r);
	}
	return NULL;
}

START_TEST(test_many_clients_and_a_slow_one)
{
	atomic_int runs = 1, bad = 0;
	/* Long enough for a loaded machine between a client's connect and send. */
	struct supv *app = make_tree(&(struct supv_control_opts){
	    .max_clients = 4, .timeout_ms = 2000 }, &runs);
	pthread_t t[16];
	int slow;
	char c;

	ck_assert_int_eq(supv_start(app), 0);
	/* A client that says nothing is dropped after timeout_ms ... */
	ck_assert_int_ge(slow = connect_to(sock), 0);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, client_main, &bad), 0);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&bad), 0);
	/* ... while the others were served; it gets nothing but the end. */
	{
		struct pollfd p = { .fd = slow, .events = POLLIN };

		ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
		ck_assert_int_eq(recv(slow, &c, 1, 0), 0);
	}
	close(slow);
	ck_assert(says("ready\n", "ok\nready\tyes"));
	supv_free(app);
}
END_TEST

struct churn {
	struct supv *app;
	atomic_bool  done;
	atomic_int   bad;
};

/* Deletes app/db and adds a new one, over and over. */
static void *
churn_tree(void *arg)
{
	struct churn *ch = arg;

	for (int i = 0; i < 60; i++) {
		struct supv *db;

		int tries = 0, rc;

		/* A client may restart it in between: try again. */
		do {
			(void)supv_terminate_child(ch->app, "db");
			rc = supv_delete_child(ch->app, "db");
		} while (rc == EBUSY && ++tries < 1000);
		if (rc != 0)
			atomic_fetch_add(&ch->bad, 1);
		ck_assert_int_eq(supv_new(&db, &(struct supv_opts){ .name = "db" }), 0);
		ck_assert_int_eq(supv_add_worker(db, &(struct supv_child_opts){ .id = "x",
		    .shutdown_ms = 1000 }, w_sleeper, NULL), 0);
		if (supv_add_sup(ch->app, &(struct supv_child_opts){ .id = "db" }, db) != 0) {
			atomic_fetch_add(&ch->bad, 1);
			break;
		}
	}
	atomic_store(&ch->done, true);
	return NULL;
}

/* Asks for changes and views of app/db/x while it comes and goes. */
static void *
churn_client(void *arg)
{
	static const char *const reqs[] = {
		"restart app/db/x\n", "terminate app/db/x\n", "tree\n", "metrics\n",
		"restart app/db\n", "health\n",
	};
	struct churn *ch = arg;

	for (unsigned i = 0; !atomic_load(&ch->done); i++) {
		char *r = ask(reqs[i % (sizeof(reqs) / sizeof(reqs[0]))]);

		if (strncmp(r, "ok\n", 3) != 0 && strncmp(r, "error\t", 6) != 0)
			atomic_fetch_add(&ch->bad, 1);
		free(r);
	}
	return NULL;
}

START_TEST(test_changes_while_the_tree_changes)
{
	atomic_int runs = 1;
	struct churn ch = { .app = make_tree(&(struct supv_control_opts){
	    .allow_changes = true }, &runs) };
	pthread_t mut, cl[3];

	ck_assert_int_eq(supv_start(ch.app), 0);
	ck_assert_int_eq(pthread_create(&mut, NULL, churn_tree, &ch), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&cl[i], NULL, churn_client, &ch), 0);
	pthread_join(mut, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(cl[i], NULL);
	ck_assert_int_eq(atomic_load(&ch.bad), 0);
	ck_assert(says("tree\n", "path=app/db/x\tid=x"));
	supv_free(ch.app);
}
END_TEST

/*
 * The file /proc/self/task/TID/<file> of the thread named name, open
 * read-only, or -1 if there is no such thread.
 */
static int
task_fd(const char *name, const char *file)
{
	char path[300], buf[64];
	struct dirent *e;
	int fd = -1;
	DIR *d = opendir("/proc/self/task");

	ck_assert_ptr_nonnull(d);
	while (fd < 0 && (e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    strncmp(buf, name, strlen(name)) == 0) {
			snprintf(path, sizeof(path), "/proc/self/task/%s/%s",
			    e->d_name, file);
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
		fclose(f);
	}
	closedir(d);
	return fd;
}

/* The voluntary context switches of the thread named name, or -1. */
static long
switches_of(const char *name)
{
	char buf[4096], *p;
	int fd = task_fd(name, "status");
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(p = strstr(buf, "voluntary_ctxt_switches:"));
	return strtol(p + strlen("voluntary_ctxt_switches:"), NULL, 10);
}

START_TEST(test_idle_socket_never_wakes)
{
	struct supv *root;
	long a, b;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert(says("version\n", "ok\n"));
	/* Wait until the thread sleeps in poll() with nobody connected. */
	ck_assert(POLL_UNTIL((a = switches_of("supv-control")) >= 0 &&
	    (sleep_ms(50), a == switches_of("supv-control")), WAIT_MS));
	a = switches_of("supv-control");
	sleep_ms(500);
	b = switches_of("supv-control");
	ck_assert_int_eq(a, b);
	supv_free(root);
}
END_TEST

/*
 * Sends req as user 65534 (nobody) from a child process; true if the
 * reply starts with want.
 */
static bool
as_nobody(const char *req, const char *want)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[256];
		ssize_t n, len = 0;
		int fd;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			_exit(4);
		(void)send(fd, req, strlen(req), MSG_NOSIGNAL);
		while ((n = recv(fd, buf + len, sizeof(buf) - 1 - (size_t)len, 0)) > 0)
			len += n;
		buf[len] = '\0';
		_exit(strncmp(buf, want, strlen(want)) == 0 ? 0 : 5);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

START_TEST(test_other_user_refused)
{
	struct supv *root;

	if (geteuid() != 0) {
		fprintf(stderr, "control: the other-user test needs root: skipped\n");
		return;
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	/* The file's mode keeps other users out ... */
	ck_assert(!as_nobody("tree\n", ""));
	/* ... and past it (the test opens it up), SO_PEERCRED refuses. */
	ck_assert_int_eq(chmod(sock, 0666), 0);
	ck_assert(as_nobody("tree\n", "error\tEACCES\t"));
	supv_free(root);
	/* A user listed in the options is let in. */
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .uids = (const uid_t[]){ 65534 }, .n_uids = 1 }), 0);
	ck_assert_int_eq(chmod(sock, 0666), 0);
	ck_assert(as_nobody("version\n", "ok\n"));
	supv_free(root);
}
END_TEST

/* The thread's time on a CPU (ns), from its schedstat file kept open. */
static long long
cpu_ns_fd(int fd)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

START_TEST(test_out_of_descriptors)
{
	struct rlimit rl;
	struct supv *root;
	int fds[256], n = 0, cl, st;
	long long a, b;
	char *r;

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert(says("version\n", "ok\n"));
	ck_assert_int_ge(st = task_fd("supv-control", "schedstat"), 0);
	ck_assert_int_ge(cl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	/* The process has no descriptor left for the server to accept with. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)nfds() + 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 256 && (fds[n] = dup(0)) >= 0)
		n++;
	ck_assert_int_eq(errno, EMFILE);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		ck_assert_int_eq(connect(cl, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	ck_assert_int_eq(send(cl, "version\n", 8, MSG_NOSIGNAL), 8);
	/* It waits and looks again; it does not spin on the readable socket. */
	sleep_ms(100);
	a = cpu_ns_fd(st);
	sleep_ms(500);
	b = cpu_ns_fd(st);
	/* A spin would take most of the 500 ms; a pause takes next to none. */
	ck_assert_msg(b - a < 100000000LL, "%lld ns of CPU in 500 ms", b - a);
	while (n > 0)
		close(fds[--n]);
	/* With descriptors again, the waiting client is served. */
	r = read_all(cl);
	ck_assert_msg(strncmp(r, "ok\nversion\t", 11) == 0, "%s", r);
	free(r);
	close(cl);
	close(st);
	supv_free(root);
}
END_TEST

static unsigned long long
metric(const char *text, const char *sample)
{
	const char *p = strstr(text, sample);

	ck_assert_msg(p != NULL, "no %s in:\n%s", sample, text);
	return strtoull(p + strlen(sample), NULL, 10);
}

START_TEST(test_metrics_format)
{
	struct supv *app;
	char small[16], *buf;
	int n, m;

	ck_assert_int_eq(supv_metrics_format(NULL, small, sizeof(small)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(supv_new(&app, &(struct supv_opts){ .name = "app",
	    .intensity = SUPV_INFINITY }), 0);
	ck_assert_int_eq(supv_metrics_format(app, NULL, 5), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "a" },
	    w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "b\"q" },
	    w_fail, (void *)(intptr_t)2), 0);
	ck_assert_int_eq(supv_start(app), 0);
	/* snprintf's conventions: the length, whatever the room. */
	n = supv_metrics_format(app, NULL, 0);
	ck_assert_int_gt(n, 0);
	buf = malloc((size_t)n * 2 + 1);
	ck_assert_int_ge(supv_metrics_format(app, small, sizeof(small)), n);
	ck_assert_int_eq(strlen(small), sizeof(small) - 1);
	ck_assert(POLL_UNTIL((m = supv_metrics_format(app, buf, (size_t)n * 2 + 1),
	    metric(buf, "supv_child_restarts_total{supervisor=\"app\",child=\"a\"} ") >= 5),
	    WAIT_MS));
	ck_assert_int_eq((int)strlen(buf), m);
	/* Label values escaped. */
	ck_assert_msg(strstr(buf, "child=\"b%22q\"") != NULL, "%s", buf);
	{
		unsigned long long before = metric(buf,
		    "supv_supervisor_restarts_total{supervisor=\"app\"} ");
		unsigned long long a_before = metric(buf,
		    "supv_child_exits_total{supervisor=\"app\",child=\"a\",kind=\"failure\"} ");
		char *after = malloc(65536);

		/* Deleting another child loses nothing of a's or of the supervisor's. */
		ck_assert_int_eq(supv_terminate_child(app, "b\"q"), 0);
		ck_assert_int_eq(supv_delete_child(app, "b\"q"), 0);
		ck_assert_int_gt(supv_metrics_format(app, after, 65536), 0);
		ck_assert_uint_ge(metric(after,
		    "supv_supervisor_restarts_total{supervisor=\"app\"} "), before);
		ck_assert_uint_ge(metric(after,
		    "supv_child_exits_total{supervisor=\"app\",child=\"a\",kind=\"failure\"} "),
		    a_before);
		ck_assert_ptr_null(strstr(after, "b%22q"));
		free(after);
	}
	free(buf);
	supv_free(app);
}
END_TEST

/* Without allow_changes, restart and terminate are refused, and change nothing. */
START_TEST(test_changes_refused_by_default)
{
	atomic_int runs = 1;
	struct supv *app = make_tree(NULL, &runs);
	char *r;

	ck_assert_int_eq(supv_start(app), 0);
	r = ask("restart app/w\n");
	ck_assert_msg(strncmp(r, "error\tEPERM\t", 12) == 0, "%s", r);
	ck_assert_msg(strstr(r, "allow_changes") != NULL, "%s", r);
	free(r);
	r = ask("terminate app/db/x\n");
	ck_assert_msg(strncmp(r, "error\tEPERM\t", 12) == 0, "%s", r);
	free(r);
	r = ask("tree\n");
	ck_assert_msg(strstr(r, "path=app/w\tid=w\ttype=worker\tstate=running\t"
	    "restart=permanent\trestarts=0\texits=0") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "path=app/db/x\tid=x\ttype=worker\tstate=running")
	    != NULL, "%s", r);
	free(r);
	supv_free(app);
}
END_TEST

/*
 * A child deleted and added again starts its own counters from zero; its
 * supervisor's totals never go down.
 */
START_TEST(test_metrics_across_delete_and_readd)
{
	const char *sup_restarts = "supv_supervisor_restarts_total{supervisor=\"app\"} ";
	const char *w_restarts =
	    "supv_child_restarts_total{supervisor=\"app\",child=\"w\"} ";
	const char *w_fails =
	    "supv_child_exits_total{supervisor=\"app\",child=\"w\",kind=\"failure\"} ";
	unsigned long long before;
	struct supv *app;
	char *buf = malloc(65536);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(supv_new(&app, &(struct supv_opts){ .name = "app",
	    .intensity = SUPV_INFINITY }), 0);
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "w" },
	    w_fail, (void *)(intptr_t)1), 0);
	ck_assert_int_eq(supv_start(app), 0);
	ck_assert(POLL_UNTIL(supv_metrics_format(app, buf, 65536) > 0 &&
	    metric(buf, w_restarts) >= 3, WAIT_MS));
	ck_assert_int_eq(supv_terminate_child(app, "w"), 0);
	ck_assert_int_eq(supv_delete_child(app, "w"), 0);
	ck_assert_int_gt(supv_metrics_format(app, buf, 65536), 0);
	before = metric(buf, sup_restarts);
	ck_assert_uint_ge(before, 3);
	ck_assert_ptr_null(strstr(buf, "child=\"w\""));
	/* Again, as a worker that stays up: its own counts are new. */
	ck_assert_int_eq(supv_add_worker(app, &(struct supv_child_opts){ .id = "w" },
	    w_sleeper, NULL), 0);
	ck_assert_int_gt(supv_metrics_format(app, buf, 65536), 0);
	ck_assert_uint_eq(metric(buf, w_restarts), 0);
	ck_assert_uint_eq(metric(buf, w_fails), 0);
	ck_assert_uint_eq(metric(buf, sup_restarts), before);
	supv_free(app);
	free(buf);
}
END_TEST

START_TEST(test_parser)
{
	struct supv__ctl_req q;
	char big[SUPV__CTL_LINE_MAX + 1];

	ck_assert_int_eq(supv__ctl_parse("tree", 4, &q), 0);
	ck_assert_int_eq(q.verb, SUPV__CTL_TREE);
	ck_assert_int_eq(supv__ctl_parse("health\r", 7, &q), 0);
	ck_assert_int_eq(q.verb, SUPV__CTL_HEALTH);
	ck_assert_int_eq(supv__ctl_parse("restart a/b%20c", 15, &q), 0);
	ck_assert_int_eq(q.verb, SUPV__CTL_RESTART);
	ck_assert_str_eq(q.arg, "a/b%20c");
	ck_assert_int_eq(supv__ctl_parse("terminate x", 11, &q), 0);
	ck_assert_int_eq(q.verb, SUPV__CTL_TERMINATE);
	ck_assert_int_eq(supv__ctl_parse("", 0, &q), EINVAL);
	ck_assert_int_eq(supv__ctl_parse("tre", 3, &q), EINVAL);
	ck_assert_int_eq(supv__ctl_parse("trees", 5, &q), EINVAL);
	ck_assert_int_eq(supv__ctl_parse("tree x", 6, &q), EINVAL);
	ck_assert_int_eq(supv__ctl_parse("restart", 7, &q), EINVAL);
	ck_assert_int_eq(supv__ctl_parse("restart  a", 10, &q), EINVAL);
	ck_assert_int_eq(supv__ctl_parse("tree\0", 5, &q), EINVAL);
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(supv__ctl_parse(big, SUPV__CTL_LINE_MAX, &q), E2BIG);
}
END_TEST

Suite *
suite_control(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("socket");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_listen_bad_input);
	tcase_add_test(tc, test_socket_mode_and_stale);
	tcase_add_test(tc, test_commands_on_a_live_tree);
	tcase_add_test(tc, test_restart_and_terminate);
	tcase_add_test(tc, test_bad_requests_change_nothing);
	tcase_add_test(tc, test_many_clients_and_a_slow_one);
	tcase_add_test(tc, test_changes_while_the_tree_changes);
	tcase_add_test(tc, test_idle_socket_never_wakes);
	tcase_add_test(tc, test_other_user_refused);
	tcase_add_test(tc, test_out_of_descriptors);
	tcase_add_test(tc, test_metrics_format);
	tcase_add_test(tc, test_changes_refused_by_default);
	tcase_add_test(tc, test_metrics_across_delete_and_readd);
	tcase_add_test(tc, test_parser);
	suite_add_tcase(s, tc);
	return s;
}
