/*
 * serve.c - supervisectl serve: the control socket over HTTP, for
 * Kubernetes' httpGet probes and Prometheus' scrapes, with GNU
 * libmicrohttpd.  GET /metrics, /healthz and /readyz ask the socket once
 * each; health and ready map to 200 (yes) and 503 (no, or it could not be
 * asked), as their exit statuses 0 and 1/2 do.  It listens on loopback
 * unless told otherwise, and bounds connections, their memory (so a
 * request's size) and their time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "ctl.h"

#define HTTP_CONNECTIONS   32
#define HTTP_PER_IP        8
#define HTTP_MEMORY        (16 * 1024)   /* a connection's, the request's headers included */
#define HTTP_TIMEOUT_S     10

struct server {
	const char *sock;
	int         timeout_ms;
};

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *type,
    const char *text, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
send_plain(struct MHD_Connection *c, unsigned status, const char *text)
{
	return send_text(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* /healthz, /readyz: 200 when the tree says yes, else 503 and why. */
static enum MHD_Result
yes_no(struct server *sv, struct MHD_Connection *c, const char *what)
{
	struct ctl_reply rep;
	char req[16], err[512], out[1024];
	size_t wl = strlen(what);
	char *nl;

	snprintf(req, sizeof(req), "%s\n", what);
	if (!ctl_ask(sv->sock, req, sv->timeout_ms, &rep, err, sizeof(err))) {
		snprintf(out, sizeof(out), "%s: cannot ask: %s\n", what, err);
		return send_plain(c, MHD_HTTP_SERVICE_UNAVAILABLE, out);
	}
	if (!rep.ok) {
		snprintf(out, sizeof(out), "%s: %s: %s\n", what, rep.err_name,
		    rep.err_text);
	} else {
		if ((nl = strchr(rep.body, '\n')) != NULL)
			*nl = '\0';
		if (strncmp(rep.body, what, wl) == 0 && rep.body[wl] == '\t' &&
		    strncmp(rep.body + wl + 1, "yes", 3) == 0) {
			ctl_reply_free(&rep);
			snprintf(out, sizeof(out), "%s: yes\n", what);
			return send_plain(c, MHD_HTTP_OK, out);
		}
		for (char *p = rep.body; *p != '\0'; p++)
			if (*p == '\t')
				*p = ' ';
		snprintf(out, sizeof(out), "%s\n", rep.body);
	}
	ctl_reply_free(&rep);
	return send_plain(c, MHD_HTTP_SERVICE_UNAVAILABLE, out);
}

static enum MHD_Result
metrics(struct server *sv, struct MHD_Connection *c)
{
	struct ctl_reply rep;
	char err[512], out[1024];
	enum MHD_Result rc;

	if (!ctl_ask(sv->sock, "metrics\n", sv->timeout_ms, &rep, err, sizeof(err))) {
		snprintf(out, sizeof(out), "metrics: cannot ask: %s\n", err);
		return send_plain(c, MHD_HTTP_SERVICE_UNAVAILABLE, out);
	}
	if (!rep.ok) {
		snprintf(out, sizeof(out), "metrics: %s: %s\n", rep.err_name,
		    rep.err_text);
		ctl_reply_free(&rep);
		return send_plain(c, MHD_HTTP_SERVICE_UNAVAILABLE, out);
	}
	rc = send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    rep.body, strlen(rep.body));
	ctl_reply_free(&rep);
	return rc;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct server *sv = cls;
	static int first_call;

	(void)version;
	(void)upload;
	/* The first call only says the headers are in; answer on the next. */
	if (*state == NULL) {
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;	/* a body is not read: dropped */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_plain(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (strcmp(url, "/metrics") == 0)
		return metrics(sv, c);
	if (strcmp(url, "/healthz") == 0)
		return yes_no(sv, c, "health");
	if (strcmp(url, "/readyz") == 0)
		return yes_no(sv, c, "ready");
	return send_plain(c, MHD_HTTP_NOT_FOUND,
	    "not found: /metrics, /healthz and /readyz are served\n");
}

/* "[ADDR:]PORT": 127.0.0.1 by default; "[::1]:PORT" for IPv6. */
static socklen_t
parse_listen(const char *spec, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(spec, ':'), *port = colon != NULL ? colon + 1 : spec;
	char addr[64] = "127.0.0.1", *end;
	unsigned long p;

	errno = 0;
	p = strtoul(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno != 0 || p == 0 || p > 65535)
		return 0;
	if (colon != NULL) {
		size_t n = (size_t)(colon - spec);

		if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
			spec++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof(addr))
			return 0;
		memcpy(addr, spec, n);
		addr[n] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		return sizeof(*in6);
	}
	return 0;
}

int
serve_http(const char *sock, int timeout_ms, const char *listen)
{
	struct server sv = { .sock = sock, .timeout_ms = timeout_ms };
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	sigset_t set;
	int sig;

	if (parse_listen(listen, &ss) == 0)
		die(EXIT_CANNOT, "serve: %s: not [ADDR:]PORT (an address in numbers)",
		    listen);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* Blocked here, so in the server's threads: this thread waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(flags, 0, NULL, NULL, handle, &sv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_END);
	if (d == NULL)
		die(EXIT_CANNOT, "serve: cannot listen on %s: %s", listen,
		    strerror(errno != 0 ? errno : EADDRINUSE));
	fprintf(stderr, "supervisectl: serving %s on http://%s/ (/metrics, "
	    "/healthz, /readyz)\n", sock, listen);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
