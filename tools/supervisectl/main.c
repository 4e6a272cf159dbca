/*
 * supervisectl - see and steer a running libsupervise tree through its
 * control socket (supv_control_listen(3)).  See supervisectl(1).
 *
 * Exit status: 0 done (health, ready: yes); 1 the tree said no or
 * answered with an error; 2 it could not be asked (no socket, no answer,
 * a bad command line).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct opts {
	const char *sock;
	int         timeout_ms, interval_ms, count;
	bool        json, quiet;
};

/* The reply to request, or exit 2 saying why it could not be had. */
static void
ask_or_die(const struct opts *o, const char *request, struct ctl_reply *rep)
{
	char err[512];

	if (!ctl_ask(o->sock, request, o->timeout_ms, rep, err, sizeof(err)))
		die(EXIT_CANNOT, "%s", err);
}

/* An error reply on stderr: "supervisectl: ENOENT: app/x: No such file ...". */
static int
report_error(const struct ctl_reply *rep)
{
	char *name = out_safe(rep->err_name), *text = out_safe(rep->err_text);

	fprintf(stderr, "supervisectl: %s: %s\n", name, text);
	free(name);
	free(text);
	return EXIT_NO;
}

/* One verb, no argument: its reply, or the error's status. */
static int
simple(const struct opts *o, const char *verb, struct ctl_reply *rep)
{
	char line[32];

	snprintf(line, sizeof(line), "%s\n", verb);
	ask_or_die(o, line, rep);
	return rep->ok ? 0 : report_error(rep);
}

static int
cmd_tree(const struct opts *o, char **args)
{
	struct ctl_reply rep;
	int rc;

	(void)args;
	if ((rc = simple(o, "tree", &rep)) == 0)
		rc = show_tree(rep.body, o->json);
	ctl_reply_free(&rep);
	return rc;
}

static int
cmd_metrics(const struct opts *o, char **args)
{
	struct ctl_reply rep;
	int rc;

	(void)args;
	if ((rc = simple(o, "metrics", &rep)) == 0)
		out_text(stdout, rep.body);
	ctl_reply_free(&rep);
	return rc;
}

static int
cmd_version(const struct opts *o, char **args)
{
	struct ctl_reply rep;
	char *tab;
	int rc;

	(void)args;
	if ((rc = simple(o, "version", &rep)) == 0) {
		tab = strchr(rep.body, '\t');
		out_text(stdout, tab != NULL ? tab + 1 : rep.body);
	}
	ctl_reply_free(&rep);
	return rc;
}

/* "health\tyes" or "health\tno\treason=...": 0 yes, 1 no. */
static int
yes_no(const struct opts *o, const char *what)
{
	struct ctl_reply rep;
	size_t wl = strlen(what);
	char *body, *nl, *safe;
	int rc;

	if ((rc = simple(o, what, &rep)) != 0) {
		ctl_reply_free(&rep);
		return rc;
	}
	body = rep.body;
	if ((nl = strchr(body, '\n')) != NULL)
		*nl = '\0';
	if (strncmp(body, what, wl) != 0 || body[wl] != '\t')
		die(EXIT_CANNOT, "unexpected answer: %s", body);
	body += wl + 1;
	rc = strncmp(body, "yes", 3) == 0 ? 0 : EXIT_NO;
	if (!o->quiet) {
		for (char *p = body; *p != '\0'; p++)
			if (*p == '\t')
				*p = ' ';
		safe = out_safe(body);
		printf("%s: %s\n", what, safe);
		free(safe);
	}
	ctl_reply_free(&rep);
	return rc;
}

static int
cmd_health(const struct opts *o, char **args)
{
	(void)args;
	return yes_no(o, "health");
}

static int
cmd_ready(const struct opts *o, char **args)
{
	(void)args;
	return yes_no(o, "ready");
}

/* "VERB ID\n", with the bytes a request line cannot hold as %XX. */
static char *
request_with(const char *verb, const char *arg)
{
	char *r = xmalloc(strlen(verb) + 3 * strlen(arg) + 3), *o;

	o = r + sprintf(r, "%s ", verb);
	for (const unsigned char *p = (const unsigned char *)arg; *p != '\0'; p++)
		o += *p <= ' ' || *p >= 0x7f ? sprintf(o, "%%%02X", *p) :
		    sprintf(o, "%c", *p);
	strcpy(o, "\n");
	return r;
}

static int
change(const struct opts *o, const char *verb, const char *path)
{
	struct ctl_reply rep;
	char *req = request_with(verb, path), *safe;
	int rc;

	ask_or_die(o, req, &rep);
	free(req);
	if (!rep.ok) {
		rc = report_error(&rep);
	} else {
		rc = 0;
		if (!o->quiet) {
			safe = out_safe(path);
			printf("%s: %s\n", verb, safe);
			free(safe);
		}
	}
	ctl_reply_free(&rep);
	return rc;
}

static int
cmd_restart(const struct opts *o, char **args)
{
	return change(o, "restart", args[0]);
}

static int
cmd_terminate(const struct opts *o, char **args)
{
	return change(o, "terminate", args[0]);
}

static int
cmd_top(const struct opts *o, char **args)
{
	(void)args;
	return show_top(o->sock, o->timeout_ms, o->interval_ms, o->count);
}

static int
cmd_serve(const struct opts *o, char **args)
{
	return serve_http(o->sock, o->timeout_ms, args[0]);
}

static const struct command {
	const char *name;
	int         nargs;
	int       (*fn)(const struct opts *o, char **args);
	const char *usage;
} commands[] = {
	{ "tree", 0, cmd_tree, "tree [-j]           the tree, one line per node (-j: JSON)" },
	{ "top", 0, cmd_top, "top [-i ms] [-n N]  the tree, refreshed (q quits)" },
	{ "health", 0, cmd_health, "health [-q]         exit 0 if healthy, 1 if not" },
	{ "ready", 0, cmd_ready, "ready [-q]          exit 0 if started and ready, 1 if not" },
	{ "metrics", 0, cmd_metrics, "metrics             Prometheus text" },
	{ "restart", 1, cmd_restart, "restart PATH        restart the child PATH (app/db/conn)" },
	{ "terminate", 1, cmd_terminate, "terminate PATH      terminate the child PATH" },
	{ "version", 0, cmd_version, "version             the library's version" },
	{ "serve", 1, cmd_serve, "serve [ADDR:]PORT   /metrics, /healthz, /readyz over HTTP\n"
	  "                      (ADDR 127.0.0.1 unless given)" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: supervisectl [-s socket] [-t timeout_ms] [-q] command [args]\n"
	    "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "options:\n"
	    "  -s PATH   the control socket (else $SUPERVISECTL_SOCKET)\n"
	    "  -t MS     how long one exchange may take (default 5000)\n"
	    "  -q        health, ready, restart, terminate: only the exit status\n"
	    "  -j        tree: JSON\n"
	    "  -i MS     top: the refresh interval (default 1000)\n"
	    "  -n N      top: N frames, then exit (default: until q)\n"
	    "  -h, --help  this text\n"
	    "Exit status: 0 done or yes, 1 no or an error answer, 2 could not ask.\n");
}

/* A number of milliseconds or a count, or exit 2. */
static int
number(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 86400000)
		die(EXIT_CANNOT, "%s takes a number, not \"%s\"", what, s);
	return (int)v;
}

/* Options, before or after the command ("tree -j", "top -n 1"). */
static int
parse_opts(int argc, char **argv, struct opts *o, bool first)
{
	static const struct option longs[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = first ? 1 : 0;
	while ((ch = getopt_long(argc, argv, first ? "+s:t:jqi:n:h" : "+jqi:n:h",
	    longs, NULL)) != -1) {
		switch (ch) {
		case 's': o->sock = optarg; break;
		case 't': o->timeout_ms = number(optarg, "-t"); break;
		case 'j': o->json = true; break;
		case 'q': o->quiet = true; break;
		case 'i': o->interval_ms = number(optarg, "-i"); break;
		case 'n': o->count = number(optarg, "-n"); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(EXIT_CANNOT);
		}
	}
	return optind;
}

int
main(int argc, char **argv)
{
	struct opts o = { .timeout_ms = 5000, .interval_ms = 1000 };
	const struct command *c = NULL;
	int n;

	out_init();
	o.sock = getenv("SUPERVISECTL_SOCKET");
	n = parse_opts(argc, argv, &o, true);
	argc -= n;
	argv += n;
	if (argc < 1) {
		usage(stderr);
		return EXIT_CANNOT;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL)
		die(EXIT_CANNOT, "%s: no such command (supervisectl -h lists them)",
		    argv[0]);
	n = parse_opts(argc, argv, &o, false);
	argc -= n;
	argv += n;
	if (argc != c->nargs)
		die(EXIT_CANNOT, "%s takes %s", c->name, c->nargs == 0 ?
		    "no argument" : c->name[0] == 's' ? "one [ADDR:]PORT" :
		    "one PATH (such as app/db/conn)");
	if (o.sock == NULL || *o.sock == '\0')
		die(EXIT_CANNOT, "no socket: use -s PATH or $SUPERVISECTL_SOCKET");
	if (o.timeout_ms == 0 || o.interval_ms == 0)
		die(EXIT_CANNOT, "-t and -i take a number of milliseconds above 0");
	return c->fn(&o, argv);
}
