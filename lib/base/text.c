/*
 * text.c - texts being built (struct supv__buf: grown, or filling a
 * caller's buffer as snprintf does), ids, and an id written as a part of
 * a path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/path.h"

int
supv__check_id(const char *id)
{
	size_t n;

	if (id == NULL || *id == '\0')
		return EINVAL;
	n = strnlen(id, SUPV_ID_MAX + 1);
	return n > SUPV_ID_MAX ? ENAMETOOLONG : 0;
}

void
supv__buf_printf(struct supv__buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (b->failed)
		return;
	room = b->len < b->cap ? b->cap - b->len : 0;
	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= room && !b->fixed) {
		size_t cap = b->cap > 0 ? b->cap : 4096;
		char *p;

		while (cap <= b->len + (size_t)n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
		va_start(ap, fmt);
		(void)vsnprintf(b->p + b->len, cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Appends n bytes as they are. */
void
supv__buf_put(struct supv__buf *b, const char *p, size_t n)
{
	size_t cap;
	char *np;

	if (b->failed || n == 0)
		return;
	if (b->len + n >= b->cap && !b->fixed) {
		for (cap = b->cap > 0 ? b->cap : 4096; cap <= b->len + n; cap *= 2)
			;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (b->len < b->cap) {
		/* A fixed buffer keeps what fits, NUL-terminated, as snprintf. */
		size_t room = b->cap - b->len - 1;

		memcpy(b->p + b->len, p, n < room ? n : room);
		b->p[b->len + (n < room ? n : room)] = '\0';
	}
	b->len += n;
}

/*
 * One id as a part of a path, in the one encoding of paths (base/path.h)
 * everywhere the library prints one: the control socket, metrics,
 * supv_check.  supv__resolve_path() decodes it.
 */
void
supv__buf_pathpart(struct supv__buf *b, const char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)id, *run = p;
	char esc[3] = { '%' };

	for (; *p != '\0'; p++) {
		if (supv__path_plain(*p))
			continue;
		supv__buf_put(b, (const char *)run, (size_t)(p - run));
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 15];
		supv__buf_put(b, esc, 3);
		run = p + 1;
	}
	supv__buf_put(b, (const char *)run, (size_t)(p - run));
}

