/*
 * protocol.c - the control socket's protocol: one request line, one reply.
 *
 * A request is a verb and, for some, one argument, separated by one space
 * and ended by a newline: "tree", "health", "ready", "metrics", "version",
 * "restart PATH", "terminate PATH".  A PATH names a child from the root
 * ("app/db/conn"); a byte of an id that cannot be written plainly is %XX.
 * A reply's first line is "ok", or "error", a tab, the errno name, a tab
 * and a message; then the body; then the server closes the connection.
 * Nothing a request holds changes anything but what its verb says.  The
 * parser is a pure function (fuzzed by test/fuzz_control.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outside/outside.h"

static const struct {
	const char          *name;
	enum supv__ctl_verb  verb;
	bool                 arg;
} verbs[] = {
	{ "tree", SUPV__CTL_TREE, false },
	{ "health", SUPV__CTL_HEALTH, false },
	{ "ready", SUPV__CTL_READY, false },
	{ "metrics", SUPV__CTL_METRICS, false },
	{ "version", SUPV__CTL_VERSION, false },
	{ "restart", SUPV__CTL_RESTART, true },
	{ "terminate", SUPV__CTL_TERMINATE, true },
};

/*
 * Parses one request line of len bytes (without its newline; a trailing
 * carriage return is allowed).  0, EINVAL for a malformed line, or E2BIG
 * for one too long.
 */
int
supv__ctl_parse(const char *line, size_t len, struct supv__ctl_req *req)
{
	const char *sp, *arg = NULL;
	size_t vlen, alen = 0;

	if (len >= SUPV__CTL_LINE_MAX)
		return E2BIG;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < ' ' || (unsigned char)line[i] >= 0x7f)
			return EINVAL;	/* NUL, control characters, not ASCII */
	if ((sp = memchr(line, ' ', len)) != NULL) {
		vlen = (size_t)(sp - line);
		arg = sp + 1;
		alen = len - vlen - 1;
		if (alen == 0 || memchr(arg, ' ', alen) != NULL)
			return EINVAL;
	} else {
		vlen = len;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) != vlen ||
		    memcmp(verbs[i].name, line, vlen) != 0)
			continue;
		if (verbs[i].arg != (arg != NULL))
			return EINVAL;
		req->verb = verbs[i].verb;
		memcpy(req->arg, arg != NULL ? arg : "", alen);
		req->arg[alen] = '\0';
		return 0;
	}
	return EINVAL;
}

/* An error reply: "error\tENAME\tmessage". */
void
supv__ctl_error(struct supv__buf *out, int err, const char *what)
{
	const char *name = strerrorname_np(err);

	supv__buf_printf(out, "error\t%s\t%s: %s\n", name != NULL ? name : "EIO",
	    what, strerror(err));
}

/* "health\tyes", or "health\tno" and the reason. */
static bool
health_now(struct supv *root, struct supv__buf *out)
{
	struct supv__buf why = { 0 };
	bool ok = supv__snapshot_healthy(root, &why);

	if (!ok)
		supv__buf_printf(out, "ok\nhealth\tno\t%s\n",
		    why.failed || why.p == NULL ? "reason=unknown" : why.p);
	free(why.p);
	return ok;
}

bool
supv__ctl_health_end(struct supv *root, unsigned long probe, bool last,
    struct supv__buf *out)
{
	const struct supv *m;
	bool done = true;

	supv__lock_sup(root);
	if (!health_now(root, out)) {
		/* It changed meanwhile: that answer stands. */
	} else if ((m = supv__probe_missing(root, probe)) == NULL) {
		supv__buf_printf(out, "ok\nhealth\tyes\n");
	} else if (last) {
		supv__buf_printf(out, "ok\nhealth\tno\treason=loop_stuck\tpath=");
		supv__buf_path(out, NULL, m);
		supv__buf_printf(out, "\n");
	} else {
		done = false;
	}
	supv__unlock_sup(root);
	return done;
}

void
supv__ctl_answer(struct supv *root, bool allow_changes, const char *line,
    size_t len, struct supv__buf *out, unsigned long *probe)
{
	struct supv__ctl_req req;
	struct supv__buf why = { 0 };
	int rc;

	*probe = 0;
	if ((rc = supv__ctl_parse(line, len, &req)) != 0) {
		supv__ctl_error(out, rc, rc == E2BIG ? "request too long" :
		    "malformed request");
		return;
	}
	switch (req.verb) {
	case SUPV__CTL_VERSION:
		supv__buf_printf(out, "ok\nversion\t%s\tprotocol=1\n", supv_version());
		return;
	case SUPV__CTL_RESTART:
	case SUPV__CTL_TERMINATE:
		if (!allow_changes) {
			supv__ctl_error(out, EPERM, "changes are not enabled (the "
			    "program did not set allow_changes in supv_control_listen)");
			return;
		}
		if (strchr(req.arg, '/') == NULL) {
			/* A child's path has a '/': this one names the root. */
			supv__ctl_error(out, EINVAL, "the root cannot be restarted or "
			    "terminated from outside (a child's path is ROOT/ID)");
			return;
		}
		rc = supv__child_op_path(root, req.arg, req.verb == SUPV__CTL_RESTART);
		if (rc != 0)
			supv__ctl_error(out, rc, req.arg);
		else
			supv__buf_printf(out, "ok\n");
		return;
	default:
		break;
	}
	if (req.verb == SUPV__CTL_TREE || req.verb == SUPV__CTL_METRICS) {
		/* Copied under the lock, written after: see snapshot.c. */
		struct supv__snap sn;

		supv__lock_sup(root);
		supv__snap_take(root, &sn);
		supv__unlock_sup(root);
		fault_pause(FP_REPLY_UNLOCKED);
		supv__buf_put(out, "ok\n", 3);
		if (req.verb == SUPV__CTL_TREE)
			supv__snap_tree(&sn, out);
		else
			supv__metrics(&sn, out);
		supv__snap_free(&sn);
		return;
	}
	supv__lock_sup(root);
	switch (req.verb) {
	case SUPV__CTL_READY:
		if (supv__snapshot_ready(root, &why))
			supv__buf_printf(out, "ok\nready\tyes\n");
		else
			supv__buf_printf(out, "ok\nready\tno\t%s\n",
			    why.failed || why.p == NULL ? "reason=unknown" : why.p);
		break;
	case SUPV__CTL_HEALTH:
		if (health_now(root, out))
			*probe = supv__probe_send(root);
		break;
	default:
		break;
	}
	supv__unlock_sup(root);
	free(why.p);
}
