/*
 * show.c - the tree as people read it: a table (tree), nested JSON
 * (tree -j), and a live screen (top, with curses).  Every string taken
 * from the answer is escaped before it is printed (out.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <jansson.h>

#include "ctl.h"

#define MAX_FIELDS 40
#define MAX_DEPTH  256

struct field {
	char *key, *val;        /* val as sent (paths and ids %XX-encoded) */
};

struct node {
	struct field f[MAX_FIELDS];
	int          nf;
};

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

/* A field escaped for printing, into buf ("?" if it is not there). */
static const char *
field(const struct node *nd, const char *key, char *buf, size_t n)
{
	const char *v = get(nd, key);
	char *safe = out_safe(v != NULL ? v : "?");

	snprintf(buf, n, "%s", safe);
	free(safe);
	return buf;
}

static long long
num(const struct node *nd, const char *key, long long dflt)
{
	const char *v = get(nd, key);

	return v != NULL ? strtoll(v, NULL, 10) : dflt;
}

/* The node's id, decoded and escaped, into buf. */
static const char *
node_name(const struct node *nd, char *buf, size_t n)
{
	char *d = out_decode(get(nd, "id") != NULL ? get(nd, "id") : "?");
	char *safe = out_safe(d);

	snprintf(buf, n, "%s", safe);
	free(safe);
	free(d);
	return buf;
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

#define HEADER_FMT "%-28s %-10s %-12s %8s  %-14s %8s  %-13s %7s  %s"

/* One row of the table. */
static void
row(const struct node *nd, char *line, size_t n)
{
	char name[512], id[256], state[96], restarts[32], last[96], up[32];
	char hb[64], cpu[32], a[32], b[32], type[64], v[64], info[256], st[160];
	long long depth = num(nd, "depth", 0);

	snprintf(name, sizeof(name), "%*s%s", (int)(depth > 20 ? 40 : 2 * depth),
	    "", node_name(nd, id, sizeof(id)));
	field(nd, "state", v, sizeof(v));
	if (strcmp(v, "backoff") == 0 && get(nd, "backoff_ms") != NULL) {
		fmt_ms(a, sizeof(a), num(nd, "backoff_ms", 0));
		snprintf(state, sizeof(state), "backoff %s", a);
	} else {
		snprintf(state, sizeof(state), "%s", v);
	}
	snprintf(restarts, sizeof(restarts), "%lld",
	    num(nd, depth == 0 ? "restarts_total" : "restarts", 0));
	if (get(nd, "last_exit") != NULL) {
		long long code = num(nd, "last_code", 0);

		field(nd, "last_exit", v, sizeof(v));
		if (code != 0)
			snprintf(last, sizeof(last), "%s %lld", v, code);
		else
			snprintf(last, sizeof(last), "%s", v);
	} else if (get(nd, "exit") != NULL) {
		field(nd, "exit", last, sizeof(last));
	} else {
		snprintf(last, sizeof(last), "-");
	}
	fmt_ms(up, sizeof(up), num(nd, "uptime_ms", -1));
	if (get(nd, "heartbeat_ms") != NULL) {
		fmt_ms(a, sizeof(a), num(nd, "hb_age_ms", -1));
		fmt_ms(b, sizeof(b), num(nd, "heartbeat_ms", 0));
		snprintf(hb, sizeof(hb), "%s/%s", a, b);
	} else {
		snprintf(hb, sizeof(hb), "-");
	}
	fmt_ms(cpu, sizeof(cpu), num(nd, "cpu_ms", -1));
	/* A process: its pid, its memory, what it last said (STATUS=). */
	info[0] = '\0';
	if (get(nd, "pid") != NULL)
		snprintf(info, sizeof(info), "pid %lld, %lld kB", num(nd, "pid", 0),
		    num(nd, "rss_kb", 0));
	if (get(nd, "status") != NULL) {
		char *d = out_decode(get(nd, "status")), *safe = out_safe(d);
		size_t k = strlen(info);

		snprintf(st, sizeof(st), "%s", safe);
		snprintf(info + k, sizeof(info) - k, "%s\"%s\"", k != 0 ? ", " : "", st);
		free(safe);
		free(d);
	}
	snprintf(line, n, HEADER_FMT, name, field(nd, "type", type, sizeof(type)),
	    state, restarts, last, up, hb, cpu, info);
}

/* The table of the tree, one line at a time. */
static void
render_tree(char *body, line_fn *out, void *ctx)
{
	char line[1536], *save = NULL, *l;
	struct node nd;

	snprintf(line, sizeof(line), HEADER_FMT, "NAME", "TYPE", "STATE",
	    "RESTARTS", "LAST EXIT", "UPTIME", "HEARTBEAT", "CPU", "");
	out(ctx, line);
	for (l = strtok_r(body, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		if (!parse_node(l, &nd))
			continue;
		row(&nd, line, sizeof(line));
		out(ctx, line);
	}
}

/* The root's summary line, from the first node. */
static void
summary(const char *body, char *buf, size_t n)
{
	char *copy = strdup(body), *nl;
	char name[256], st[64], strat[64], inten[64], per[32];
	struct node nd;

	buf[0] = '\0';
	if (copy == NULL)
		return;
	if ((nl = strchr(copy, '\n')) != NULL)
		*nl = '\0';
	if (parse_node(copy, &nd)) {
		fmt_ms(per, sizeof(per), num(&nd, "period_ms", 0));
		snprintf(buf, n, "%s: %s, %s; its children: %lld of %s restarts "
		    "allowed in %s used; %lld restarts, %lld hung, gave up %lld "
		    "times in all", node_name(&nd, name, sizeof(name)),
		    field(&nd, "sup_state", st, sizeof(st)),
		    field(&nd, "strategy", strat, sizeof(strat)),
		    num(&nd, "window", 0), field(&nd, "intensity", inten, sizeof(inten)),
		    per, num(&nd, "restarts_total", 0), num(&nd, "hung_total", 0),
		    num(&nd, "gave_up_total", 0));
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
			char *d = out_decode(v);

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

/* The tree as nested JSON objects (strings escaped by JSON itself). */
static int
tree_json(char *body)
{
	json_t *stack[MAX_DEPTH] = { 0 }, *root = NULL;
	char *save = NULL, *l;
	struct node nd;

	for (l = strtok_r(body, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		long long depth;
		json_t *o;

		if (!parse_node(l, &nd))
			continue;
		depth = num(&nd, "depth", 0);
		if (depth < 0 || depth >= MAX_DEPTH)
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
		for (long long d = depth + 1; d < MAX_DEPTH && stack[d] != NULL; d++)
			stack[d] = NULL;
	}
	if (root == NULL)
		die(EXIT_CANNOT, "the answer held no tree");
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII) != 0)
		die(EXIT_CANNOT, "cannot write JSON");
	putchar('\n');
	json_decref(root);
	return 0;
}

static void
print_line(void *ctx, const char *line)
{
	(void)ctx;
	puts(line);
}

int
show_tree(char *body, bool json)
{
	char sum[1024];

	if (json)
		return tree_json(body);
	summary(body, sum, sizeof(sum));
	render_tree(body, print_line, NULL);
	printf("\n%s\n", sum);
	return 0;
}

/* One frame of top: the summary, the health, and the tree. */
void
show_frame(const char *sock, int timeout_ms, line_fn *out, void *ctx)
{
	struct ctl_reply tree, health;
	char err[512], sum[1024];
	char *safe;

	if (!ctl_ask(sock, "tree\n", timeout_ms, &tree, err, sizeof(err))) {
		safe = out_safe(err);
		out(ctx, safe);
		free(safe);
		return;
	}
	if (!tree.ok) {
		snprintf(err, sizeof(err), "%s: %s", tree.err_name, tree.err_text);
		safe = out_safe(err);
		out(ctx, safe);
		free(safe);
		ctl_reply_free(&tree);
		return;
	}
	summary(tree.body, sum, sizeof(sum));
	out(ctx, sum);
	if (ctl_ask(sock, "health\n", timeout_ms, &health, err, sizeof(err))) {
		char *nl = strchr(health.body, '\n');

		if (nl != NULL)
			*nl = '\0';
		for (char *p = health.body; *p != '\0'; p++)
			if (*p == '\t')
				*p = ' ';
		safe = out_safe(health.ok ? health.body : health.err_text);
		out(ctx, safe);
		free(safe);
		ctl_reply_free(&health);
	}
	out(ctx, "");
	render_tree(tree.body, out, ctx);
	ctl_reply_free(&tree);
}

static volatile sig_atomic_t interrupted;

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

int
show_top(const char *sock, int timeout_ms, int interval_ms, int count)
{
	struct sigaction sa = { .sa_handler = on_signal };
	SCREEN *scr;
	char *ssock;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!isatty(STDOUT_FILENO)) {
		/* Not a terminal: frames one after another, count of them. */
		for (int i = 0; (count == 0 || i < count) && !interrupted; i++) {
			if (i > 0) {
				usleep((useconds_t)interval_ms * 1000);
				putchar('\n');
			}
			show_frame(sock, timeout_ms, print_line, NULL);
			fflush(stdout);
		}
		return 0;
	}
	/* newterm(), not initscr(): an unknown $TERM is an error we report. */
	if ((scr = newterm(NULL, stdout, stdin)) == NULL)
		die(EXIT_CANNOT, "top: cannot use the terminal (TERM=%s)",
		    getenv("TERM") != NULL ? getenv("TERM") : "");
	set_term(scr);
	cbreak();
	noecho();
	curs_set(0);
	timeout(interval_ms);
	ssock = out_safe(sock);
	for (int i = 0; (count == 0 || i < count) && !interrupted; i++) {
		struct screen sc = { .row = 0 };
		char head[512];
		time_t t = time(NULL);
		int ch;

		getmaxyx(stdscr, sc.rows, sc.cols);
		erase();
		snprintf(head, sizeof(head), "supervisectl top  %s  every %d ms  "
		    "(q quits)  %s", ssock, interval_ms, ctime(&t));
		screen_line(&sc, head);
		show_frame(sock, timeout_ms, screen_line, &sc);
		refresh();
		if ((ch = getch()) == 'q' || ch == 'Q')
			break;
	}
	free(ssock);
	endwin();
	delscreen(scr);
	return 0;
}
