/*
 * check_ctl_safety.c - the control socket against hostile neighbours
 * (issue 31) and other users (issue 27): the socket's file operations
 * cannot be redirected by a user who swaps directories; a squatted
 * socket with a full backlog is EADDRINUSE, not a hang; nothing the tree
 * names reaches a client as a control byte; replies are written with the
 * tree's lock free, and all of them together are bounded; listed users
 * and groups get in with no chmod, others are told why.
 *
 * The tests that need another user run as root (as CI does) and are
 * skipped with a message otherwise.
 */
#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"
#include "../tools/supervisectl/ctl.h"

#define NOBODY 65534

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static char dir[64], sock[100];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/supv-safe.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
}

static void
teardown(void)
{
	unlink(sock);
	rmdir(dir);
}

static bool
need_root(const char *what)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "ctl_safety: %s needs root (another user): skipped\n", what);
	return false;
}

/* Drops to uid/gid with no supplementary groups (in a child process). */
static void
become(uid_t uid, gid_t gid, const gid_t *extra, int nextra)
{
	if (setgroups((size_t)nextra, extra) != 0 || setgid(gid) != 0 ||
	    setuid(uid) != 0)
		_exit(3);
}

static int
connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The whole reply to req (NUL-terminated, malloc'd), or NULL: supervisectl's client. */
static char *
exchange(const char *path, const char *req)
{
	char err[512];
	size_t n;

	return ctl_raw(path, req, strlen(req), WAIT_MS, &n, err, sizeof(err));
}

/*
 * As uid/gid (and extra groups): sends req and reads the reply, in a
 * child process; true if it starts with want.  The child writes first
 * and reads even when its write failed, as a client should.
 */
static bool
as_user(uid_t uid, gid_t gid, const gid_t *extra, int nextra, const char *req,
    const char *want)
{
	pid_t pid;
	int st;

	if ((pid = fork()) == 0) {
		char *r;

		become(uid, gid, extra, nextra);
		if ((r = exchange(sock, req)) == NULL)
			_exit(4);
		_exit(strncmp(r, want, strlen(want)) == 0 ? 0 : 5);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- 31.1: no file operation can be redirected ---- */

/*
 * A user who owns the directory above the socket's swaps the socket's
 * directory with a symbolic link to a directory of root's, as fast as it
 * can, while the program (root) listens and frees over and over.  Before,
 * chmod() or unlink() by path reached root's file of the same name.
 */
START_TEST(test_directory_swap_redirects_nothing)
{
	char base[64], d[96], evil[96], victim[64], vfile[96], path[128];
	struct stat st;
	struct supv *root;
	int i, ok = 0, fd;
	pid_t swapper;

	if (!need_root("the directory race"))
		return;
	snprintf(base, sizeof(base), "/tmp/supv-race.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(victim, sizeof(victim), "/tmp/supv-victim.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(victim));
	snprintf(vfile, sizeof(vfile), "%s/ctl.sock", victim);
	ck_assert_int_ge(fd = open(vfile, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), 0);
	close(fd);
	ck_assert_int_eq(chmod(vfile, 0644), 0);
	ck_assert_int_eq(chmod(victim, 0755), 0);
	snprintf(d, sizeof(d), "%s/d", base);
	snprintf(evil, sizeof(evil), "%s/evil", base);
	snprintf(path, sizeof(path), "%s/ctl.sock", d);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	ck_assert_int_eq(symlink(victim, evil), 0);
	ck_assert_int_eq(chown(base, NOBODY, NOBODY), 0);
	ck_assert_int_eq(chmod(base, 0755), 0);
	if ((swapper = fork()) == 0) {
		become(NOBODY, NOBODY, NULL, 0);
		for (;;)
			(void)renameat2(AT_FDCWD, d, AT_FDCWD, evil, RENAME_EXCHANGE);
	}
	ck_assert_int_gt(swapper, 0);
	for (i = 0; i < 400; i++) {
		int rc;

		ck_assert_int_eq(supv_new(&root, NULL), 0);
		rc = supv_control_listen(root, path, NULL);
		ok += rc == 0;
		supv_free(root);
		ck_assert_msg(lstat(vfile, &st) == 0, "try %d: root's file was removed", i);
		ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644,
		    "try %d: root's file is now mode %o", i, st.st_mode & 07777);
	}
	kill(swapper, SIGKILL);
	waitpid(swapper, NULL, 0);
	/* How often it was made while d was swapped: it depends on the load. */
	fprintf(stderr, "ctl_safety: the socket was made %d times in 400 races\n", ok);
	/* With no more swapping, it is made where it belongs. */
	if (lstat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
		char tmp[128];

		snprintf(tmp, sizeof(tmp), "%s/tmp", base);
		ck_assert_int_eq(rename(d, tmp), 0);
		ck_assert_int_eq(rename(evil, d), 0);
		ck_assert_int_eq(rename(tmp, evil), 0);
	}
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, path, NULL), 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	supv_free(root);
	ck_assert_int_ne(lstat(path, &st), 0);
	unlink(vfile);
	rmdir(victim);
	/* What the swaps left: d and evil, either way round. */
	unlink(path);
	unlink(evil);
	rmdir(evil);
	unlink(d);
	rmdir(d);
	rmdir(base);
}
END_TEST

/* The name must be a socket's, and only the file made is removed. */
START_TEST(test_only_its_own_file_removed)
{
	struct supv *root;
	struct stat st;
	int fd;

	/* A symbolic link at the name is not followed: EEXIST. */
	ck_assert_int_eq(symlink("/etc/passwd", sock), 0);
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), EEXIST);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(unlink(sock), 0);
	/* Made, then replaced by someone else's file: that file stays. */
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq((int)(st.st_mode & 0777), 0600);
	ck_assert_int_eq(unlink(sock), 0);
	ck_assert_int_ge(fd = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600), 0);
	close(fd);
	supv_free(root);
	ck_assert_int_eq(lstat(sock, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	/* No private directory is left behind. */
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep -v '^ctl.sock$')\"",
		    dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* ---- 31.2: a squatted socket is EADDRINUSE at once ---- */

struct listen_call {
	struct supv *root;
	atomic_int   rc;     /* -1 until it returned */
};

static void *
listen_main(void *arg)
{
	struct listen_call *x = arg;

	atomic_store(&x->rc, supv_control_listen(x->root, sock, NULL));
	return NULL;
}

START_TEST(test_squatted_full_backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct listen_call x = { .rc = -1 };
	int lfd, fds[64], n = 0;
	pthread_t t;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	ck_assert_int_ge(lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	/* Its backlog filled: one more connect would block. */
	for (; n < 64; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			ck_assert_int_eq(errno, EAGAIN);
			break;
		}
	}
	ck_assert_int_lt(n, 64);
	ck_assert_int_eq(supv_new(&x.root, NULL), 0);
	pthread_create(&t, NULL, listen_main, &x);
	ck_assert_msg(POLL_UNTIL(atomic_load(&x.rc) != -1, WAIT_MS),
	    "supv_control_listen hangs on a squatted socket");
	pthread_join(t, NULL);
	ck_assert_int_eq(atomic_load(&x.rc), EADDRINUSE);
	supv_free(x.root);
	for (int i = 0; i <= n && i < 64; i++)
		close(fds[i]);
	close(lfd);
}
END_TEST

/* ---- 31.3, 27.3: no control byte, no invalid UTF-8, in what the library writes ---- */

static void
ck_printable(const char *what, const char *text, bool tabs)
{
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++)
		ck_assert_msg(*p == '\n' || (tabs && *p == '\t') ||
		    (*p >= 0x20 && *p < 0x7f), "%s: byte 0x%02x at %zu:\n%s", what,
		    *p, (size_t)(p - (const unsigned char *)text), text);
}

/*
 * A strict reading of the Prometheus text format, as promtool's: HELP and
 * TYPE lines, then samples name{label="value",...} value, label values
 * valid UTF-8 (here: plain ASCII) with nothing left unescaped.
 */
static void
ck_exposition(const char *text)
{
	const char *l = text, *nl;

	ck_printable("metrics", text, false);
	for (; *l != '\0'; l = nl + 1) {
		const char *p = l;

		ck_assert_ptr_nonnull(nl = strchr(l, '\n'));
		if (strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0)
			continue;
		while (p < nl && (isalnum((unsigned char)*p) || *p == '_' || *p == ':'))
			p++;
		ck_assert_msg(p > l && *p == '{', "%.*s", (int)(nl - l), l);
		for (p++; *p != '}';) {
			const char *q = p;

			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			ck_assert_msg(p > q && p[0] == '=' && p[1] == '"',
			    "%.*s", (int)(nl - l), l);
			for (p += 2; *p != '"'; p++)
				ck_assert_msg(*p != '\\' && *p != '\n',
				    "%.*s", (int)(nl - l), l);
			p++;
			if (*p == ',')
				p++;
		}
		ck_assert_msg(p[1] == ' ' && strtod(p + 2, NULL) >= 0,
		    "%.*s", (int)(nl - l), l);
	}
}

/*
 * The real client: Prometheus's own promtool, when make check was given
 * one (PROMTOOL=...; .ci/run unpacks Debian's).  Its verdict on text.
 */
static void
ck_promtool(const char *text)
{
	const char *tool = getenv("SUPV_TEST_PROMTOOL");
	char cmd[4200];
	FILE *p;
	int st;

	if (tool == NULL || *tool == '\0') {
		fprintf(stderr, "ctl_safety: no promtool (PROMTOOL=...): the "
		    "strict check of its own alone\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "'%s' check metrics", tool);
	ck_assert_ptr_nonnull(p = popen(cmd, "w"));
	fputs(text, p);
	st = pclose(p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "promtool check metrics: status %d on:\n%s", st, text);
}

START_TEST(test_outputs_are_plain_ascii)
{
	static const char *const ids[] = {
		"x\x1b[31mRED\x1b[0m\rFAKE", "bad\xffutf8", "\xc3\xbc", "q\"b\\s\nn",
		"del\x7f", "bell\a",
	};
	struct supv *root, *sub;
	char *r, buf[1 << 16];

	ck_assert_int_eq(supv_new(&root, &(struct supv_opts){
	    .name = "app\x1b]0;pwned\a" }), 0);
	ck_assert_int_eq(supv_new(&sub, &(struct supv_opts){ .name = "sub" }), 0);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = ids[i] }, w_sleeper, NULL), 0);
		ck_assert_int_eq(supv_add_worker(sub, &(struct supv_child_opts){
		    .id = ids[i] }, w_sleeper, NULL), 0);
	}
	ck_assert_int_eq(supv_add_sup(root, &(struct supv_child_opts){
	    .id = "s\x1b/ub" }, sub), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	ck_assert_int_gt(supv_metrics_format(root, buf, sizeof(buf)), 0);
	ck_exposition(buf);
	ck_promtool(buf);
	/* The child supervisor's child label is its own rows' supervisor label. */
	ck_assert_msg(strstr(buf, "child=\"s%1B%2Fub\"") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "supervisor=\"app%1B]0;pwned%07/s%1B%2Fub\"") !=
	    NULL, "%s", buf);
	ck_assert_ptr_nonnull(r = exchange(sock, "metrics\n"));
	ck_assert(strncmp(r, "ok\n", 3) == 0);
	ck_exposition(r + 3);
	free(r);
	ck_assert_ptr_nonnull(r = exchange(sock, "tree\n"));
	ck_printable("tree", r, true);
	free(r);
	ck_assert_ptr_nonnull(r = exchange(sock, "health\n"));
	ck_printable("health", r, true);
	free(r);
	supv_free(root);
}
END_TEST

/* ---- 31.5: replies written with the lock free, and bounded together ---- */

extern void (*_Atomic supv_fault_pause)(int point);
extern atomic_size_t supv_control_reply_budget;
#define FP_REPLY_UNLOCKED 3	/* lib/base/base.h, enum fault_point */

static struct supv *unlocked_root;
static atomic_int unlocked_seen;

static void
unlocked_hook(int point)
{
	struct supv_counts k;

	/* Would wait for ever if the tree's lock were still held here. */
	if (point == FP_REPLY_UNLOCKED &&
	    supv_count_children(unlocked_root, &k) == 0)
		atomic_fetch_add(&unlocked_seen, 1);
}

START_TEST(test_reply_written_without_lock)
{
	char buf[8192], *r;

	ck_assert_int_eq(supv_new(&unlocked_root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(unlocked_root, &(struct supv_child_opts){
	    .id = "w" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_control_listen(unlocked_root, sock, NULL), 0);
	ck_assert_int_eq(supv_start(unlocked_root), 0);
	atomic_store(&unlocked_seen, 0);
	atomic_store(&supv_fault_pause, unlocked_hook);
	ck_assert_int_gt(supv_metrics_format(unlocked_root, buf, sizeof(buf)), 0);
	ck_assert_int_eq(atomic_load(&unlocked_seen), 1);
	ck_assert_ptr_nonnull(r = exchange(sock, "tree\n"));
	ck_assert(strncmp(r, "ok\nnode\t", 8) == 0);
	free(r);
	ck_assert_ptr_nonnull(r = exchange(sock, "metrics\n"));
	free(r);
	ck_assert_int_eq(atomic_load(&unlocked_seen), 3);
	atomic_store(&supv_fault_pause, NULL);
	supv_free(unlocked_root);
}
END_TEST

START_TEST(test_replies_bounded_together)
{
	size_t was = atomic_load(&supv_control_reply_budget);
	int fds[6], busy = 0, served = 0;
	struct supv *root;
	char id[SUPV_ID_MAX + 1];

	ck_assert_int_eq(supv_new(&root, NULL), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "a-rather-long-worker-id-%04d", i);
		ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
		    .id = id }, w_sleeper, NULL), 0);
	}
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .max_clients = 8 }), 0);
	ck_assert_int_eq(supv_start(root), 0);
	/*
	 * Each reply is megabytes, more than a socket's buffer holds: one
	 * that is not read stays with the server, and fills a budget of 64 kB.
	 */
	atomic_store(&supv_control_reply_budget, 64 * 1024);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_ge(fds[i] = connect_path(sock), 0);
		/* Asked, and never read: the reply stays with the server. */
		ck_assert_int_eq(send(fds[i], "metrics\n", 8, MSG_NOSIGNAL), 8);
		sleep_ms(50);
	}
	for (int i = 0; i < 6; i++) {
		char head[32] = "";
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		ck_assert_int_eq(poll(&p, 1, WAIT_MS), 1);
		ck_assert_int_gt(recv(fds[i], head, sizeof(head) - 1, 0), 0);
		if (strncmp(head, "error\tEBUSY\t", 12) == 0)
			busy++;
		else if (strncmp(head, "ok\n", 3) == 0)
			served++;
		close(fds[i]);
	}
	atomic_store(&supv_control_reply_budget, was);
	ck_assert_int_ge(served, 1);
	ck_assert_int_ge(busy, 1);
	supv_free(root);
}
END_TEST

/* ---- 27.1, 31.6: listed users get in with no chmod; others are told why ---- */

START_TEST(test_listed_users_and_groups)
{
	const gid_t extra[] = { 4242 };
	struct supv *root;
	struct stat st;

	if (!need_root("the other-user test"))
		return;
	ck_assert_int_eq(chmod(dir, 0755), 0);
	/* Nothing listed: 0600, and the kernel keeps others out. */
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq((int)(st.st_mode & 0777), 0600);
	ck_assert(!as_user(NOBODY, NOBODY, NULL, 0, "version\n", "ok\n"));
	supv_free(root);
	/* A listed user: in; another: an EACCES line it can read. */
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .uids = (const uid_t[]){ NOBODY }, .n_uids = 1 }), 0);
	ck_assert(as_user(NOBODY, NOBODY, NULL, 0, "version\n", "ok\nversion\t"));
	ck_assert(as_user(12345, 12345, NULL, 0, "version\n", "error\tEACCES\t"));
	supv_free(root);
	/* One listed group: 0660 and the socket's group, for members only. */
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .gids = (const gid_t[]){ 4242 }, .n_gids = 1 }), 0);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_int_eq((int)(st.st_mode & 0777), 0660);
	ck_assert_int_eq((int)st.st_gid, 4242);
	ck_assert(as_user(12345, 4242, NULL, 0, "version\n", "ok\n"));
	/* ... a supplementary member too (SO_PEERGROUPS) ... */
	ck_assert(as_user(12345, 12345, extra, 1, "version\n", "ok\n"));
	/* ... and nobody else. */
	ck_assert(!as_user(NOBODY, NOBODY, NULL, 0, "version\n", "ok\n"));
	supv_free(root);
}
END_TEST

/* ---- 31.4, 31.6, 27.2: supervisectl against hostile and refusing servers ---- */

/* The tool under test ($SUPV_TEST_TOOL, set by make check), or NULL. */
static const char *
tool(void)
{
	const char *t = getenv("SUPV_TEST_TOOL");

	if (t == NULL || access(t, X_OK) != 0) {
		fprintf(stderr, "ctl_safety: no $SUPV_TEST_TOOL: supervisectl tests skipped\n");
		return NULL;
	}
	return t;
}

/*
 * Runs the tool with args (as uid when not -1), at most 512 MB of memory,
 * its stdout and stderr into out: its exit status, or -1 if it did not
 * exit.
 */
static int
run_tool(uid_t uid, char *out, size_t cap, const char *a1, const char *a2)
{
	struct rlimit rl = { 512 << 20, 512 << 20 };
	int p[2], st;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		if (uid != (uid_t)-1)
			become(uid, uid, NULL, 0);
		/* A sanitized tool maps terabytes of shadow: no limit then. */
		if (!SANITIZED)
			setrlimit(RLIMIT_AS, &rl);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		execl(tool(), "supervisectl", "-s", sock, "-t", "5000", a1, a2,
		    (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len + 1 < cap && (n = read(p[0], out + len, cap - len - 1)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A server that answers every request with the reply its test set. */
static struct {
	int         lfd;
	const char *_Atomic reply; /* NULL: a flood of 100 MB */
	atomic_int  stop;
} hostile;

static void *
hostile_main(void *arg)
{
	char req[512], flood[65536];
	int fd;

	(void)arg;
	memset(flood, 'A', sizeof(flood));
	while (!atomic_load(&hostile.stop)) {
		struct pollfd p = { .fd = hostile.lfd, .events = POLLIN };

		if (poll(&p, 1, 50) != 1 || (fd = accept(hostile.lfd, NULL, NULL)) < 0)
			continue;
		(void)!recv(fd, req, sizeof(req), 0);
		const char *reply = atomic_load(&hostile.reply);

		if (reply != NULL) {
			(void)!send(fd, reply, strlen(reply), MSG_NOSIGNAL);
		} else {
			(void)!send(fd, "ok\n", 3, MSG_NOSIGNAL);
			for (int i = 0; i < 1600; i++)
				if (send(fd, flood, sizeof(flood), MSG_NOSIGNAL) < 0)
					break;
		}
		close(fd);
	}
	return NULL;
}

static void
ck_no_controls(const char *what, const char *out)
{
	for (const unsigned char *p = (const unsigned char *)out; *p != '\0'; p++)
		ck_assert_msg(*p == '\n' || *p >= 0x20 || *p == '\t', "%s printed "
		    "byte 0x%02x:\n%s", what, *p, out);
	ck_assert_msg(strchr(out, 0x7f) == NULL, "%s printed DEL", what);
}

START_TEST(test_tool_against_hostile_server)
{
	static const struct {
		const char *cmd, *reply;
	} cases[] = {
		{ "tree", "ok\nnode\tdepth=0\tpath=app\tid=app%1B]0;pwned%07\ttype="
		  "\x1b[31mevil\tstate=\x1b]0;t\x07\tsup_state=\r\x1b[2K\tintensity="
		  "\x1b[1m\texit=\x7f\x1b[0m\n" },
		{ "health", "ok\nhealth\tno\treason=\x1b[31mbad\rFAKE\n" },
		{ "version", "ok\nversion\t\x1b]0;v\x07\n" },
		{ "metrics", "ok\n# \x1b[2J\x1b[H\n" },
		{ "tree", "error\tE\x1b[31mX\t\x1b]0;m\x07msg\n" },
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *out = malloc(1 << 20);
	pthread_t t;
	int rc;

	if (tool() == NULL)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	ck_assert_int_ge(hostile.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(bind(hostile.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(hostile.lfd, 8), 0);
	atomic_store(&hostile.stop, 0);
	atomic_store(&hostile.reply, cases[0].reply);
	pthread_create(&t, NULL, hostile_main, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		atomic_store(&hostile.reply, cases[i].reply);
		rc = run_tool((uid_t)-1, out, 1 << 20, cases[i].cmd, NULL);
		ck_assert_msg(rc >= 0 && rc <= 2, "%s: status %d", cases[i].cmd, rc);
		ck_no_controls(cases[i].cmd, out);
	}
	/* A flood: refused past the bound, with a clear error, not read on. */
	atomic_store(&hostile.reply, NULL);
	rc = run_tool((uid_t)-1, out, 1 << 20, "metrics", NULL);
	ck_assert_msg(rc == 2 && strstr(out, "larger than") != NULL, "%d: %s", rc, out);
	atomic_store(&hostile.stop, 1);
	pthread_join(t, NULL);
	close(hostile.lfd);
	free(out);
}
END_TEST

START_TEST(test_tool_refused_user_hears_why)
{
	struct supv *root;
	char out[4096];
	int rc;

	if (tool() == NULL || !need_root("the refused-user test"))
		return;
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	/* Someone else is listed: the file lets nobody connect, the check refuses. */
	ck_assert_int_eq(supv_control_listen(root, sock, &(struct supv_control_opts){
	    .uids = (const uid_t[]){ 12345 }, .n_uids = 1 }), 0);
	for (int i = 0; i < 20; i++) {
		rc = run_tool(NOBODY, out, sizeof(out), "tree", NULL);
		ck_assert_msg(rc == 1 && strstr(out, "EACCES") != NULL,
		    "try %d: %d: %s", i, rc, out);
	}
	rc = run_tool(12345, out, sizeof(out), "version", NULL);
	ck_assert_msg(rc == 0, "%d: %s", rc, out);
	supv_free(root);
}
END_TEST

/* 27: ids as the locale can show them; anything else escaped. */
START_TEST(test_tool_prints_ids_for_the_locale)
{
	struct supv *root;
	char out[8192];

	if (tool() == NULL)
		return;
	ck_assert_int_eq(supv_new(&root, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "\xc3\xbc" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_add_worker(root, &(struct supv_child_opts){
	    .id = "x\x01y" }, w_sleeper, NULL), 0);
	ck_assert_int_eq(supv_control_listen(root, sock, NULL), 0);
	ck_assert_int_eq(supv_start(root), 0);
	setenv("LC_ALL", "C.UTF-8", 1);
	ck_assert_int_eq(run_tool((uid_t)-1, out, sizeof(out), "tree", NULL), 0);
	ck_assert_msg(strstr(out, "  \xc3\xbc ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "  x\\x01y ") != NULL, "%s", out);
	setenv("LC_ALL", "C", 1);
	ck_assert_int_eq(run_tool((uid_t)-1, out, sizeof(out), "tree", NULL), 0);
	ck_assert_msg(strstr(out, "  \\xc3\\xbc ") != NULL, "%s", out);
	unsetenv("LC_ALL");
	supv_free(root);
}
END_TEST

/*
 * 31.7: a setuid program takes no SUPV_CHAOS from whoever runs it
 * (secure_getenv), while a plain one does.
 */
START_TEST(test_setuid_program_ignores_chaos)
{
	const char *probe = getenv("SUPV_TEST_CHAOS_PROBE");
	char copy[128], cmd[300];
	struct statvfs vfs;
	pid_t pid;
	int st;

	if (probe == NULL || access(probe, X_OK) != 0) {
		fprintf(stderr, "ctl_safety: no $SUPV_TEST_CHAOS_PROBE (a sanitizer "
		    "build): the setuid test skipped\n");
		return;
	}
	if (!need_root("the setuid test"))
		return;
	snprintf(copy, sizeof(copy), "%s/chaos_probe", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", probe, copy);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(statvfs(copy, &vfs), 0);
	if (vfs.f_flag & ST_NOSUID) {
		fprintf(stderr, "ctl_safety: %s is mounted nosuid: the setuid test "
		    "skipped\n", dir);
		unlink(copy);
		return;
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	setenv("SUPV_CHAOS", "root/w:fail=77@1", 1);
	/* Run plainly, the rule applies. */
	ck_assert_int_eq(system(copy), 1 << 8);
	/* Setuid root, run by nobody: it does not. */
	ck_assert_int_eq(chown(copy, 0, 0), 0);
	ck_assert_int_eq(chmod(copy, 04755), 0);
	if ((pid = fork()) == 0) {
		become(NOBODY, NOBODY, NULL, 0);
		execl(copy, "chaos_probe", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	unsetenv("SUPV_CHAOS");
	unlink(copy);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a setuid program took SUPV_CHAOS from its caller (status %d)", st);
}
END_TEST

Suite *
suite_ctl_safety(void)
{
	Suite *s = suite_create("ctl_safety");
	TCase *tc = tcase_create("safety");

	tcase_set_timeout(tc, TCASE_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_directory_swap_redirects_nothing);
	tcase_add_test(tc, test_only_its_own_file_removed);
	tcase_add_test(tc, test_squatted_full_backlog);
	tcase_add_test(tc, test_outputs_are_plain_ascii);
	tcase_add_test(tc, test_reply_written_without_lock);
	tcase_add_test(tc, test_replies_bounded_together);
	tcase_add_test(tc, test_listed_users_and_groups);
	tcase_add_test(tc, test_tool_against_hostile_server);
	tcase_add_test(tc, test_tool_refused_user_hears_why);
	tcase_add_test(tc, test_tool_prints_ids_for_the_locale);
	tcase_add_test(tc, test_setuid_program_ignores_chaos);
	suite_add_tcase(s, tc);
	return s;
}
