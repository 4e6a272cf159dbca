/*
 * supervisectl - see and steer a running libsupervise tree through its
 * control socket (supv_control_listen(3)).  See supervisectl(1).
 *
 * Exit status: 0 done (health, ready: yes); 1 the tree said no or
 * answered with an error; 2 it could not be asked (no socket, no answer,
 * a bad command line).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <jansson.h>

#define EXIT_NO      1
#define EXIT_CANNOT  2
#define MAX_FIELDS   40

struct field {
	char *key, *val;        /* val as sent (paths and ids %XX-encoded) */
};

struct node {
	struct field f[MAX_FIELDS];
	int          nf;
};

struct reply {
	char        *text;      /* the whole reply, NUL-terminated */
	size_t       len;
	bool         ok;        /* first line "ok" */
	char        *body;      /* after the first line */
};

static const char *sock_path;
static int timeout_ms = 5000;
static volatile sig_atomic_t interrupted;

static void
die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "supervisectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until deadline; false on timeout. */
static bool
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int rc;

	do {
		now = now_ms();
		if (now >= deadline)
			return false;
		rc = poll(&p, 1, (int)(deadline - now));
	} while (rc < 0 && errno == EINTR);
	return rc > 0;
}

/* Sends one request line and reads the whole reply; false if it cannot. */
static bool
ask(const char *request, struct reply *rep, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	size_t cap = 8192, off = 0, reqlen = strlen(request);
	char *nl;
	int fd;

	memset(rep, 0, sizeof(*rep));
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", sock_path);
		return false;
	}
	strcpy(sa.sun_path, sock_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "%s: %s", sock_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (off < reqlen) {
		ssize_t n = send(fd, request + off, reqlen - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", sock_path, strerror(errno));
			close(fd);
			return false;
		}
		off += (size_t)n;
	}
	if ((rep->text = malloc(cap)) == NULL)
		die(EXIT_CANNOT, "out of memory");
	for (;;) {
		ssize_t n;

		if (rep->len + 1 == cap &&
		    (rep->text = realloc(rep->text, cap *= 2)) == NULL)
			die(EXIT_CANNOT, "out of memory");
		if (!wait_fd(fd, POLLIN, deadline)) {
			snprintf(err, errlen, "%s: no answer within %d ms", sock_path,
			    timeout_ms);
			close(fd);
			return false;
		}
		n = recv(fd, rep->text + rep->len, cap - rep->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", sock_path, strerror(errno));
			close(fd);
			return false;
		}
		if (n == 0)
			break;
		rep->len += (size_t)n;
	}
	close(fd);
	rep->text[rep->len] = '\0';
	if ((nl = strchr(rep->text, '\n')) == NULL) {
		snprintf(err, errlen, "%s: no answer (is it a control socket?)",
		    sock_path);
		return false;
	}
	*nl = '\0';
	rep->ok = strcmp(rep->text, "ok") == 0;
	rep->body = nl + 1;
	if (!rep->ok && strncmp(rep->text, "error\t", 6) != 0) {
		snprintf(err, errlen, "%s: not a control socket's answer", sock_path);
		return false;
	}
	return true;
}

/* The reply, or exit 2 saying why it could not be had. */
static void
ask_or_die(const char *request, struct reply *rep)
{
	char err[512];

	if (!ask(request, rep, err, sizeof(err)))
		die(EXIT_CANNOT, "%s", err);
}

/* An error reply on stderr: "supervisectl: ENOENT: app/x: No such file ...". */
static int
report_error(const struct reply *rep)
{
	const char *p = rep->text + 6, *tab = strchr(p, '\t');

	if (tab != NULL)
		fprintf(stderr, "supervisectl: %.*s: %s\n", (int)(tab - p), p, tab + 1);
	else
		fprintf(stderr, "supervisectl: %s\n", p);
	return EXIT_NO;
}

/* Splits "node\tk=v\tk=v..." (in place). */
static bool
parse_node(char *line, struct node *nd)
{
	char *save = NULL, *tok;

	nd->nf = 0;
	tok = strtok_r(line, "\t", &save);
	if (tok == NULL || strcmp(tok, "node") != 0)
		return false;
	while ((tok = strtok_r(NULL, "\t", &save)) != NULL && nd->nf < MAX_FIELDS) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		nd->f[nd->nf].key = tok;
		nd->f[nd->nf].val = eq + 1;
		nd->nf++;
	}
	return true;
}

static const char *
get(const struct node *nd, const char *key)
{
	for (int i = 0; i < nd->nf; i++)
		if (strcmp(nd->f[i].key, key) == 0)
			return nd->f[i].val;
	return NULL;
}

static long long
num(const struct node *nd, const char *key, long long dflt)
{
	const char *v = get(nd, key);

	return v != NULL ? strtoll(v, NULL, 10) : dflt;
}

static int
hexval(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* %XX decoded (for JSON: the id as it is). */
static char *
decode(const char *s)
{
	char *d = malloc(strlen(s) + 1), *o = d;

	if (d == NULL)
		die(EXIT_CANNOT, "out of memory");
	for (; *s != '\0'; s++) {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			*o++ = (char)(hexval((unsigned char)s[1]) << 4 |
			    hexval((unsigned char)s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return d;
}

/* A duration for people: 850ms, 12.3s, 4m05s, 3h12m, 2d03h. */
static void
fmt_ms(char *buf, size_t n, long long ms)
{
	if (ms < 0)
		snprintf(buf, n, "-");
	else if (ms < 1000)
		snprintf(buf, n, "%lldms", ms);
	else if (ms < 60000)
		snprintf(buf, n, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, n, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else if (ms < 86400000)
		snprintf(buf, n, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
	else
		snprintf(buf, n, "%lldd%02lldh", ms / 86400000, ms / 3600000 % 24);
}

typedef void line_fn(void *ctx, const char *line);

#define HEADER_FMT "%-28s %-10s %-12s %8s  %-14s %8s  %-13s %7s"

/* The table of the tree, one line at a time. */
static void
render_tree(char *body, line_fn *out, void *ctx)
{
	char line[1024], name[256], state[64], restarts[32], last[64], up[32];
	char hb[64], cpu[32], a[32], b[32];
	char *save = NULL, *l;
	struct node nd;

	snprintf(line, sizeof(line), HEADER_FMT, "NAME", "TYPE", "STATE",
	    "RESTARTS", "LAST EXIT", "UPTIME", "HEARTBEAT", "CPU");
	out(ctx, line);
	for (l = strtok_r(body, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		const char *v, *id;
		long long depth;
		char *did;

		if (!parse_node(l, &nd))
			continue;
		depth = num(&nd, "depth", 0);
		id = get(&nd, "id") != NULL ? get(&nd, "id") : "?";
		did = decode(id);
		for (char *p = did; *p != '\0'; p++)
			if (!isprint((unsigned char)*p))
				*p = '?';
		snprintf(name, sizeof(name), "%*s%s", (int)(depth > 20 ? 40 : 2 * depth),
		    "", did);
		free(did);
		v = get(&nd, "state");
		if (v != NULL && strcmp(v, "backoff") == 0 && get(&nd, "backoff_ms")) {
			fmt_ms(a, sizeof(a), num(&nd, "backoff_ms", 0));
			snprintf(state, sizeof(state), "backoff %s", a);
		} else {
			snprintf(state, sizeof(state), "%s", v != NULL ? v : "?");
		}
		if (depth == 0)
			snprintf(restarts, sizeof(restarts), "%lld", num(&nd, "restarts_total", 0));
		else
			snprintf(restarts, sizeof(restarts), "%lld", num(&nd, "restarts", 0));
		if ((v = get(&nd, "last_exit")) != NULL) {
			long long code = num(&nd, "last_code", 0);

			if (code != 0)
				snprintf(last, sizeof(last), "%s %lld", v, code);
			else
				snprintf(last, sizeof(last), "%s", v);
		} else if ((v = get(&nd, "exit")) != NULL) {
			snprintf(last, sizeof(last), "%s", v);
		} else {
			snprintf(last, sizeof(last), "-");
		}
		fmt_ms(up, sizeof(up), num(&nd, "uptime_ms", -1));
		if (get(&nd, "heartbeat_ms") != NULL) {
			fmt_ms(a, sizeof(a), num(&nd, "hb_age_ms", -1));
			fmt_ms(b, sizeof(b), num(&nd, "heartbeat_ms", 0));
			snprintf(hb, sizeof(hb), "%s/%s", a, b);
		} else {
			snprintf(hb, sizeof(hb), "-");
		}
		fmt_ms(cpu, sizeof(cpu), num(&nd, "cpu_ms", -1));
		snprintf(line, sizeof(line), HEADER_FMT, name,
		    get(&nd, "type") != NULL ? get(&nd, "type") : "?", state,
		    restarts, last, up, hb, cpu);
		out(ctx, line);
	}
}

static void
print_line(void *ctx, const char *line)
{
	(void)ctx;
	puts(line);
}

/* The root's summary line, from the first node. */
static void
summary(const char *body, char *buf, size_t n)
{
	char *copy = strdup(body), *nl;
	struct node nd;

	buf[0] = '\0';
	if (copy == NULL)
		return;
	if ((nl = strchr(copy, '\n')) != NULL)
		*nl = '\0';
	if (parse_node(copy, &nd)) {
		char *name = decode(get(&nd, "id") != NULL ? get(&nd, "id") : "?");

		char per[32];

		fmt_ms(per, sizeof(per), num(&nd, "period_ms", 0));
		snprintf(buf, n, "%s: %s, %s; its children: %lld of %s restarts "
		    "allowed in %s used; %lld restarts, %lld hung, gave up %lld "
		    "times in all", name,
		    get(&nd, "sup_state") ? get(&nd, "sup_state") : "?",
		    get(&nd, "strategy") ? get(&nd, "strategy") : "?",
		    num(&nd, "window", 0),
		    get(&nd, "intensity") ? get(&nd, "intensity") : "?", per,
		    num(&nd, "restarts_total", 0), num(&nd, "hung_total", 0),
		    num(&nd, "gave_up_total", 0));
		free(name);
	}
	free(copy);
}

static json_t *
node_json(const struct node *nd)
{
	json_t *o = json_object();

	for (int i = 0; i < nd->nf; i++) {
		const char *k = nd->f[i].key, *v = nd->f[i].val;
		char *end;
		long long x;
		json_t *j;

		errno = 0;
		x = strtoll(v, &end, 10);
		if (*v != '\0' && *end == '\0' && errno == 0 && strcmp(k, "id") != 0) {
			j = json_integer(x);
		} else if (strcmp(k, "id") == 0) {
			char *d = decode(v);

			/* An id need not be UTF-8: then it stays as sent. */
			j = json_string(d);
			if (j == NULL)
				j = json_string(v);
			free(d);
		} else {
			j = json_string(v);
		}
		if (strcmp(k, "depth") != 0)
			json_object_set_new(o, k, j != NULL ? j : json_null());
		else
			json_decref(j);
	}
	json_object_set_new(o, "children", json_array());
	return o;
}

/* The tree as nested JSON objects: each node's "children" array. */
static int
tree_json(char *body)
{
	json_t *stack[256] = { 0 }, *root = NULL;
	char *save = NULL, *l;
	struct node nd;

	for (l = strtok_r(body, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		long long depth;
		json_t *o;

		if (!parse_node(l, &nd))
			continue;
		depth = num(&nd, "depth", 0);
		if (depth < 0 || depth >= 256)
			continue;
		o = node_json(&nd);
		if (depth == 0) {
			json_decref(root);
			root = o;
		} else if (stack[depth - 1] != NULL) {
			json_array_append_new(json_object_get(stack[depth - 1],
			    "children"), o);
		} else {
			json_decref(o);
			continue;
		}
		stack[depth] = o;
		for (long long d = depth + 1; d < 256 && stack[d] != NULL; d++)
			stack[d] = NULL;
	}
	if (root == NULL)
		die(EXIT_CANNOT, "the answer held no tree");
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
		die(EXIT_CANNOT, "cannot write JSON");
	putchar('\n');
	json_decref(root);
	return 0;
}

/* "health\tyes" or "health\tno\treason=...": 0 yes, 1 no. */
static int
yes_no(const struct reply *rep, const char *what, bool quiet)
{
	char *body = rep->body, *nl = strchr(body, '\n');
	size_t wl = strlen(what);

	if (nl != NULL)
		*nl = '\0';
	if (strncmp(body, what, wl) != 0 || body[wl] != '\t')
		die(EXIT_CANNOT, "unexpected answer: %s", body);
	body += wl + 1;
	if (strncmp(body, "yes", 3) == 0) {
		if (!quiet)
			printf("%s: yes\n", what);
		return 0;
	}
	if (!quiet) {
		for (char *p = body; *p != '\0'; p++)
			if (*p == '\t')
				*p = ' ';
		printf("%s: %s\n", what, body);
	}
	return EXIT_NO;
}

/* The ID as a request argument: spaces and control characters as %XX. */
static char *
request_with(const char *verb, const char *arg)
{
	size_t n = strlen(verb) + 3 * strlen(arg) + 3;
	char *r = malloc(n), *o;

	if (r == NULL)
		die(EXIT_CANNOT, "out of memory");
	o = r + sprintf(r, "%s ", verb);
	for (const unsigned char *p = (const unsigned char *)arg; *p != '\0'; p++)
		o += *p <= ' ' || *p >= 0x7f ? sprintf(o, "%%%02X", *p) :
		    sprintf(o, "%c", *p);
	strcpy(o, "\n");
	return r;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct screen {
	int row, rows, cols;
};

static void
screen_line(void *ctx, const char *line)
{
	struct screen *sc = ctx;

	if (sc->row < sc->rows - 1)
		mvaddnstr(sc->row++, 0, line, sc->cols);
}

/* One frame of top: the summary, the health, and the tree. */
static void
frame(line_fn *out, void *ctx)
{
	struct reply tree, health;
	char err[512], line[512], sum[400];
	bool have_health;

	if (!ask("tree\n", &tree, err, sizeof(err))) {
		out(ctx, err);
		return;
	}
	if (!tree.ok) {
		out(ctx, tree.text);
		free(tree.text);
		return;
	}
	have_health = ask("health\n", &health, err, sizeof(err)) && health.ok;
	summary(tree.body, sum, sizeof(sum));
	out(ctx, sum);
	if (have_health) {
		char *nl = strchr(health.body, '\n');

		if (nl != NULL)
			*nl = '\0';
		for (char *p = health.body; *p != '\0'; p++)
			if (*p == '\t')
				*p = ' ';
		snprintf(line, sizeof(line), "%s", health.body);
		out(ctx, line);
	}
	if (have_health || health.text != NULL)
		free(health.text);
	out(ctx, "");
	render_tree(tree.body, out, ctx);
	free(tree.text);
}

static int
cmd_top(int interval_ms, int count)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!isatty(STDOUT_FILENO)) {
		/* Not a terminal: frames one after another, count of them. */
		for (int i = 0; (count == 0 || i < count) && !interrupted; i++) {
			if (i > 0) {
				usleep((useconds_t)interval_ms * 1000);
				putchar('\n');
			}
			frame(print_line, NULL);
			fflush(stdout);
		}
		return 0;
	}
	initscr();
	cbreak();
	noecho();
	curs_set(0);
	timeout(interval_ms);
	for (int i = 0; (count == 0 || i < count) && !interrupted; i++) {
		struct screen sc = { .row = 0 };
		char head[256];
		time_t t = time(NULL);
		int ch;

		getmaxyx(stdscr, sc.rows, sc.cols);
		erase();
		snprintf(head, sizeof(head), "supervisectl top  %s  every %d ms  "
		    "(q quits)  %s", sock_path, interval_ms, ctime(&t));
		screen_line(&sc, head);
		frame(screen_line, &sc);
		refresh();
		if ((ch = getch()) == 'q' || ch == 'Q')
			break;
	}
	endwin();
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: supervisectl [-s socket] [-t timeout_ms] command [id]\n"
	    "commands:\n"
	    "  tree [-j]        the tree, one line per node (-j: JSON)\n"
	    "  top [-i ms] [-n count]  the tree, refreshed (q quits)\n"
	    "  health           exit 0 if healthy, 1 if not\n"
	    "  ready            exit 0 if started and ready, 1 if not\n"
	    "  metrics          Prometheus text\n"
	    "  restart ID       restart the child ID (a path: app/db/conn)\n"
	    "  terminate ID     terminate the child ID\n"
	    "  version          the library's version\n"
	    "The socket is -s, else $SUPERVISECTL_SOCKET.  Exit status: 0 done or yes,\n"
	    "1 no or an error answer, 2 could not ask.\n");
}

int
main(int argc, char **argv)
{
	int ch, interval = 1000, count = 0;
	bool json = false, quiet = false;
	struct reply rep;
	const char *cmd;
	char *req;

	sock_path = getenv("SUPERVISECTL_SOCKET");
	while ((ch = getopt(argc, argv, "+s:t:jqi:n:h")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'j': json = true; break;
		case 'q': quiet = true; break;
		case 'i': interval = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_CANNOT;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_CANNOT;
	}
	cmd = argv[0];
	/* Options may follow the command too: "tree -j", "top -n 1". */
	optind = 0;
	while ((ch = getopt(argc, argv, "+jqi:n:")) != -1) {
		switch (ch) {
		case 'j': json = true; break;
		case 'q': quiet = true; break;
		case 'i': interval = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		default: usage(stderr); return EXIT_CANNOT;
		}
	}
	argc -= optind;
	argv += optind;
	if (sock_path == NULL || *sock_path == '\0')
		die(EXIT_CANNOT, "no socket: use -s PATH or $SUPERVISECTL_SOCKET");
	if (timeout_ms <= 0 || interval <= 0 || count < 0)
		die(EXIT_CANNOT, "-t and -i take a number of milliseconds, -n a count");

	if (strcmp(cmd, "restart") == 0 || strcmp(cmd, "terminate") == 0) {
		if (argc != 1)
			die(EXIT_CANNOT, "%s takes one ID (a path such as app/db/conn)", cmd);
		req = request_with(cmd, argv[0]);
		ask_or_die(req, &rep);
		free(req);
		if (!rep.ok)
			return report_error(&rep);
		if (!quiet)
			printf("%s: %s\n", cmd, argv[0]);
		free(rep.text);
		return 0;
	}
	if (argc != 0)
		die(EXIT_CANNOT, "%s takes no argument", cmd);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(interval, count);
	if (strcmp(cmd, "tree") == 0 || strcmp(cmd, "metrics") == 0 ||
	    strcmp(cmd, "health") == 0 || strcmp(cmd, "ready") == 0 ||
	    strcmp(cmd, "version") == 0) {
		char line[32];
		int rc = 0;

		snprintf(line, sizeof(line), "%s\n", cmd);
		ask_or_die(line, &rep);
		if (!rep.ok)
			return report_error(&rep);
		if (strcmp(cmd, "tree") == 0) {
			if (json) {
				rc = tree_json(rep.body);
			} else {
				char sum[400];

				summary(rep.body, sum, sizeof(sum));
				render_tree(rep.body, print_line, NULL);
				printf("\n%s\n", sum);
			}
		} else if (strcmp(cmd, "metrics") == 0) {
			fputs(rep.body, stdout);
		} else if (strcmp(cmd, "version") == 0) {
			char *tab = strchr(rep.body, '\t');

			fputs(tab != NULL ? tab + 1 : rep.body, stdout);
		} else {
			rc = yes_no(&rep, cmd, quiet);
		}
		free(rep.text);
		return rc;
	}
	usage(stderr);
	return EXIT_CANNOT;
}
