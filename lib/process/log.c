/*
 * log.c - ready-made event callbacks: one line per event, "key=value"
 * pairs a human can read and a log system can parse, to stderr or
 * syslog.  The library itself never prints: these run only when the
 * application installs them as on_event.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "core/core.h"
#include "process/process.h"

SUPV_EXPORT int
supv_event_format(const struct supv_event *ev, char *buf, size_t size)
{
	int n;

	if (ev == NULL || (buf == NULL && size != 0))
		return -1;
	n = snprintf(buf, size, "sup=%s event=%s", ev->sup != NULL ? ev->sup : "",
	    supv_event_kind_name(ev->kind));
	if (n < 0)
		return n;
#define APPEND(...) do {                                                     \
	int k_ = snprintf(buf == NULL || (size_t)n >= size ? NULL : buf + n, \
	    buf == NULL || (size_t)n >= size ? 0 : size - (size_t)n,         \
	    __VA_ARGS__);                                                    \
	if (k_ < 0)                                                          \
		return k_;                                                   \
	n += k_;                                                             \
} while (0)
	if (ev->child != NULL)
		APPEND(" child=%s", ev->child);
	switch (ev->kind) {
	case SUPV_EV_EXIT:
		APPEND(" exit=%s code=%d", supv_exit_kind_name(ev->exit), ev->code);
		break;
	case SUPV_EV_SUP_EXIT:
		APPEND(" exit=%s", supv_exit_kind_name(ev->exit));
		break;
	case SUPV_EV_BACKOFF:
		APPEND(" delay_ms=%u", ev->delay_ms);
		break;
	case SUPV_EV_HUNG:
		APPEND(" stuck=%s", ev->spinning ? "spinning" : "blocked");
		break;
	default:
		break;
	}
	/* Only a rule that is not the default is worth a word (1.1). */
	if (ev->rule == SUPV_RULE_NO_RESTART_CODE ||
	    ev->rule == SUPV_RULE_ESCALATE_CODE)
		APPEND(" rule=%s", supv_rule_name(ev->rule));
	APPEND(" restarts=%u", ev->restarts);
#undef APPEND
	return n;
}

static int
priority(const struct supv_event *ev)
{
	switch (ev->kind) {
	case SUPV_EV_GIVE_UP:
		return LOG_ERR;
	case SUPV_EV_HUNG:
	case SUPV_EV_STOP_TIMEOUT:
		return LOG_WARNING;
	case SUPV_EV_EXIT:
		return ev->exit == SUPV_EXIT_NORMAL ||
		    ev->exit == SUPV_EXIT_SHUTDOWN ? LOG_INFO : LOG_WARNING;
	case SUPV_EV_SUP_EXIT:
		return ev->exit == SUPV_EXIT_GAVE_UP ||
		    ev->exit == SUPV_EXIT_START_FAILED ? LOG_ERR : LOG_NOTICE;
	default:
		return LOG_INFO;
	}
}

/*
 * Whether stderr is connected to the journal: systemd sets JOURNAL_STREAM
 * to "device:inode" of the stream it gave the service, and a line that
 * starts with "<N>" is then filed at priority N (sd-daemon(3)).
 */
static bool
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/*
 * Appends prefix + each line of detail (indented) to out, as far as it
 * fits; returns the new length.
 */
static size_t
append_detail(char *out, size_t len, size_t size, const char *prefix,
    const char *detail)
{
	const char *p = detail, *nl;
	int k;

	while (*p != '\0' && len < size) {
		nl = strchr(p, '\n');
		k = snprintf(out + len, size - len, "%s  %.*s\n", prefix,
		    (int)(nl != NULL ? nl - p : (ptrdiff_t)strlen(p)), p);
		if (k < 0 || (size_t)k >= size - len)
			break;
		len += (size_t)k;
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	return len;
}

SUPV_EXPORT void
supv_log_stderr(const struct supv_event *ev, void *arg)
{
	char line[8192], prefix[32];
	int n = 0;

	(void)arg;
	if (stderr_is_journal())
		n = snprintf(prefix, sizeof(prefix), "<%d>", priority(ev));
	strcpy(prefix + n, "supervise:");
	n = snprintf(line, sizeof(line), "%s ", prefix);
	if (supv_event_format(ev, line + n, 256) < 0)
		return;
	n = (int)strlen(line);
	line[n++] = '\n';
	/* The HUNG event's trace follows, one indented line per line. */
	if (ev->kind == SUPV_EV_HUNG && ev->detail != NULL)
		n = (int)append_detail(line, (size_t)n, sizeof(line), prefix,
		    ev->detail);
	/* One write, so that lines from several threads do not mix. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

SUPV_EXPORT void
supv_log_syslog(const struct supv_event *ev, void *arg)
{
	const char *p, *nl;
	char line[256];

	(void)arg;
	if (supv_event_format(ev, line, sizeof(line)) < 0)
		return;
	syslog(priority(ev), "%s", line);
	if (ev->kind != SUPV_EV_HUNG || ev->detail == NULL)
		return;
	for (p = ev->detail; *p != '\0'; p = nl != NULL ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		syslog(priority(ev), "  %.*s",
		    (int)(nl != NULL ? nl - p : (ptrdiff_t)strlen(p)), p);
	}
}

SUPV_EXPORT int
supv_exit_status(enum supv_exit_kind why)
{
	return why == SUPV_EXIT_SHUTDOWN || why == SUPV_EXIT_NORMAL ? 0 : 1;
}
