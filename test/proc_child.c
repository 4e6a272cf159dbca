/*
 * proc_child.c - a program for check_procs.c to run as a process child.
 * argv[1] says what it does:
 *   exit N           exits with status N
 *   signal N         kills itself with signal N
 *   sleep            sleeps until killed
 *   ignore-term      ignores SIGTERM, then sleeps until killed
 *   grandchild FILE  forks a grandchild that sleeps, writes its pid to
 *                    FILE, then sleeps
 *   pidfile FILE     writes its own pid to FILE, then sleeps
 *   leave FILE       forks a grandchild that ignores SIGTERM and sleeps,
 *                    writes its pid to FILE, and exits 0 at once
 *   check            exits 0 if it started clean: no descriptor past 2,
 *                    no signal blocked, none ignored; else 1
 *   nofile           exits with its RLIMIT_NOFILE soft limit (mod 256)
 *   notify MSG...    sends each MSG as an sd_notify datagram in turn to
 *                    $NOTIFY_SOCKET ("sleep:MS" waits instead, "beat:MS"
 *                    sends WATCHDOG=1 every MS until killed), then sleeps
 *   env NAME         exits 0 if NAME is set in its environment, else 1
 * It uses nothing of libsupervise.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void
nap(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
forever(void)
{
	for (;;)
		pause();
}

static int
send_notify(const char *msg)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (e == NULL || strlen(e) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, e);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(e));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
clean_start(void)
{
	char line[256];
	struct dirent *d;
	int extra = 0;
	DIR *dir;
	FILE *f;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return 1;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.' && atoi(d->d_name) > 2 &&
		    atoi(d->d_name) != dirfd(dir))
			extra++;
	closedir(dir);
	if (extra != 0)
		return 1;
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 1;
	while (fgets(line, sizeof(line), f) != NULL)
		if ((strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0) &&
		    strtoull(line + 8, NULL, 16) != 0) {
			fclose(f);
			return 1;
		}
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	FILE *f;
	pid_t g;

	if (argc < 2)
		return 64;
	if (strcmp(argv[1], "exit") == 0 && argc == 3)
		return atoi(argv[2]);
	if (strcmp(argv[1], "signal") == 0 && argc == 3) {
		signal(atoi(argv[2]), SIG_DFL);
		raise(atoi(argv[2]));
		return 65;
	}
	if (strcmp(argv[1], "sleep") == 0)
		forever();
	if (strcmp(argv[1], "ignore-term") == 0) {
		signal(SIGTERM, SIG_IGN);
		forever();
	}
	if ((strcmp(argv[1], "grandchild") == 0 || strcmp(argv[1], "pidfile") == 0) &&
	    argc == 3) {
		g = getpid();
		if (argv[1][0] == 'g' && (g = fork()) == 0)
			forever();
		if ((f = fopen(argv[2], "w")) == NULL)
			return 66;
		fprintf(f, "%d\n", (int)g);
		fclose(f);
		forever();
	}
	if (strcmp(argv[1], "leave") == 0 && argc == 3) {
		/* Ignored before the fork: no SIGTERM can come between. */
		signal(SIGTERM, SIG_IGN);
		if ((g = fork()) == 0)
			forever();
		if ((f = fopen(argv[2], "w")) == NULL)
			return 66;
		fprintf(f, "%d\n", (int)g);
		fclose(f);
		return 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return clean_start();
	if (strcmp(argv[1], "nofile") == 0) {
		struct rlimit rl;

		return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (int)(rl.rlim_cur % 256) : 67;
	}
	if (strcmp(argv[1], "env") == 0 && argc == 3)
		return getenv(argv[2]) != NULL ? 0 : 1;
	if (strcmp(argv[1], "notify") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strncmp(argv[i], "sleep:", 6) == 0) {
				nap((unsigned)atoi(argv[i] + 6));
			} else if (strncmp(argv[i], "beat:", 5) == 0) {
				for (;;) {
					send_notify("WATCHDOG=1");
					nap((unsigned)atoi(argv[i] + 5));
				}
			} else if (send_notify(argv[i]) != 0) {
				return 68;
			}
		}
		forever();
	}
	return 64;
}
