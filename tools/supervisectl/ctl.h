/*
 * ctl.h - supervisectl's parts: the client of the control socket
 * (client.c, also linked by the tests), what it prints and how it keeps
 * a hostile answer from driving the terminal (out.c), the tree's views
 * (show.c), the HTTP server (serve.c) and the commands (main.c).
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define EXIT_NO      1          /* the tree said no, or answered an error */
#define EXIT_CANNOT  2          /* it could not be asked */

/*
 * The most a reply may hold.  A control socket's largest, metrics for a
 * tree of 100,000 children, is about 30 MB; a socket that sends more is
 * not one, or a hostile one, and is not read on.
 */
#define CTL_REPLY_MAX ((size_t)64 << 20)

/* client.c */
struct ctl_reply {
	char   *text;           /* the whole reply, NUL-terminated */
	size_t  len;
	bool    ok;             /* its first line is "ok" */
	char   *body;           /* after the first line */
	char   *err_name;       /* an error reply's "ENAME" ... */
	char   *err_text;       /* ... and its message */
};

/*
 * Sends one request line to the control socket at path and reads the
 * whole reply, for at most timeout_ms: true, or false with why in err.
 * A reply is read even when the request could not be written, so that a
 * server that refuses a client is heard (EACCES, EBUSY).
 */
bool ctl_ask(const char *path, const char *request, int timeout_ms,
    struct ctl_reply *rep, char *err, size_t errlen);
/* The same exchange, any bytes: the whole reply (malloc'd), or NULL. */
char *ctl_raw(const char *path, const void *request, size_t reqlen,
    int timeout_ms, size_t *len, char *err, size_t errlen);
void ctl_reply_free(struct ctl_reply *rep);

/* out.c */
void  out_init(void);
/*
 * s with every byte a terminal could act on escaped as \xNN: control
 * characters, DEL, and bytes that are not a printable character of the
 * locale's encoding (in a UTF-8 locale, UTF-8 text is kept).  Malloc'd.
 */
char *out_safe(const char *s);
/* Prints s escaped, keeping its newlines (for a whole body). */
void  out_text(FILE *f, const char *s);
/* %XX decoded (a path part as the server writes it). */
char *out_decode(const char *s);
void  die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void *xmalloc(size_t n);

/* show.c */
struct node;
typedef void line_fn(void *ctx, const char *line);
int  show_tree(char *body, bool json);
void show_frame(const char *sock, int timeout_ms, line_fn *out, void *ctx);
int  show_top(const char *sock, int timeout_ms, int interval_ms, int count);

/* serve.c */
int  serve_http(const char *sock, int timeout_ms, const char *listen);

#endif
