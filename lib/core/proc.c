/*
 * proc.c - process children (supv_add_process): their options, the state
 * of one run's process, and its group's signal.  Starting one is
 * spawn.c's; watching it, procwatch.c's.
 *
 * A process is waited for and reaped through its pidfd alone
 * (procwatch.c), never by waitpid(-1), and the library installs no
 * SIGCHLD handler.  A program that ignores SIGCHLD (its children are
 * reaped unwaited, their statuses lost) is refused: ECHILD.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* ---- Options ---- */

static size_t
strv_len(const char *const *v)
{
	size_t n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

/* Copies v into room (pointers) and text (strings); returns the text's end. */
static char *
strv_copy(char **room, const char *const *v, size_t n, char *text)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(v[i]) + 1;

		room[i] = memcpy(text, v[i], k);
		text += k;
	}
	room[n] = NULL;
	return text;
}

/*
 * Checks and copies a process child's options: EINVAL for no argv (or an
 * empty one), a bad stop signal, rlimits counted without their array or
 * naming a resource that does not exist, ENOMEM.
 */
int
supv__procspec_new(const struct supv_process_opts *o, struct supv__procspec **out)
{
	size_t na, ne = 0, text = 0, cwd = 0, size;
	struct supv__procspec *ps;
	char *t;

	if (o->argv == NULL || o->argv[0] == NULL || o->argv[0][0] == '\0')
		return EINVAL;
	if (o->stop_signal < 0 || o->stop_signal >= NSIG)
		return EINVAL;
	if ((o->n_rlimits != 0 && o->rlimits == NULL) || o->n_rlimits > RLIM_NLIMITS)
		return EINVAL;
	for (unsigned i = 0; i < o->n_rlimits; i++)
		if (o->rlimits[i].resource < 0 ||
		    o->rlimits[i].resource >= RLIM_NLIMITS ||
		    o->rlimits[i].soft > o->rlimits[i].hard)
			return EINVAL;
	na = strv_len(o->argv);
	for (size_t i = 0; i < na; i++)
		text += strlen(o->argv[i]) + 1;
	if (o->envp != NULL) {
		ne = strv_len(o->envp);
		for (size_t i = 0; i < ne; i++)
			text += strlen(o->envp[i]) + 1;
	}
	if (o->cwd != NULL)
		cwd = strlen(o->cwd) + 1;
	size = sizeof(*ps) + (na + 1 + (o->envp != NULL ? ne + 1 : 0)) *
	    sizeof(char *) + o->n_rlimits * sizeof(struct supv_rlimit) + text + cwd;
	if ((ps = supv__xcalloc(1, size)) == NULL)
		return ENOMEM;
	ps->argv = (char **)(ps + 1);
	ps->envp = o->envp != NULL ? ps->argv + na + 1 : NULL;
	ps->rlimits = (struct supv_rlimit *)(ps->argv + na + 1 +
	    (o->envp != NULL ? ne + 1 : 0));
	t = (char *)(ps->rlimits + o->n_rlimits);
	t = strv_copy(ps->argv, o->argv, na, t);
	if (o->envp != NULL)
		t = strv_copy(ps->envp, o->envp, ne, t);
	if (o->cwd != NULL)
		ps->cwd = memcpy(t, o->cwd, cwd);
	if (o->n_rlimits != 0)
		memcpy(ps->rlimits, o->rlimits, o->n_rlimits * sizeof(*o->rlimits));
	ps->n_rlimits = o->n_rlimits;
	ps->stop_signal = o->stop_signal != 0 ? o->stop_signal : SIGTERM;
	ps->notify = o->notify;
	*out = ps;
	return 0;
}

void
supv__procspec_free(struct supv__procspec *ps)
{
	free(ps);
}

/*
 * Whether the process keeps its children's statuses: not when it ignores
 * SIGCHLD (SIG_IGN, SA_NOCLDWAIT), which reaps them unwaited.
 */
bool
supv__proc_statuses_kept(void)
{
	struct sigaction sa;

	return sigaction(SIGCHLD, NULL, &sa) != 0 ||
	    (sa.sa_handler != SIG_IGN && !(sa.sa_flags & SA_NOCLDWAIT));
}

/* ---- A run's process ---- */

struct supv__procrun *
supv__procrun_new(struct supv_worker *r)
{
	struct supv__procrun *pr;

	if ((pr = supv__xcalloc(1, sizeof(*pr))) == NULL)
		return NULL;
	pr->run = r;
	supv__procrun_reset(pr);
	return pr;
}

/* For the next start of its run: nothing watched, nothing known. */
void
supv__procrun_reset(struct supv__procrun *pr)
{
	pr->pid = 0;
	pr->pidfd = pr->notifyfd = -1;
	pr->status = pr->signo = 0;
	pr->killed = false;
	pr->ext_deadline = 0;
	pr->status_text[0] = '\0';
	pr->notify_name[0] = '\0';
	pr->tag_pid = (struct supv__pwtag){ .pr = pr, .notify = false };
	pr->tag_notify = (struct supv__pwtag){ .pr = pr, .notify = true };
}

void
supv__procrun_free(struct supv__procrun *pr)
{
	if (pr == NULL)
		return;
	if (pr->pidfd >= 0)
		close(pr->pidfd);
	if (pr->notifyfd >= 0)
		close(pr->notifyfd);
	free(pr);
}

/*
 * Sends sig to the run's process group.  The leader is not reaped until
 * its group's grace is over (procwatch.c), so its pid, the group's id,
 * cannot name another group meanwhile.
 */
void
supv__proc_signal(struct supv__procrun *pr, int sig)
{
	if (pr->pid > 0)
		(void)kill(-pr->pid, sig);
}
