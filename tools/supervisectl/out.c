/*
 * out.c - what supervisectl prints of an answer.  Ids and names come from
 * the supervised program, which may take them from untrusted input, and a
 * socket given with -s may not be a libsupervise program at all: no byte
 * a terminal could act on (an escape sequence, a carriage return, a bell)
 * is printed as it came.  Text in the locale's encoding is kept (UTF-8
 * ids show as themselves under a UTF-8 locale); anything else is \xNN.
 */
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "base/path.h"
#include "ctl.h"

void
out_init(void)
{
	setlocale(LC_CTYPE, "");
}

void
die(int status, const char *fmt, ...)
{
	char buf[1024], *safe;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	safe = out_safe(buf);
	fprintf(stderr, "supervisectl: %s\n", safe);
	free(safe);
	exit(status);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		fputs("supervisectl: out of memory\n", stderr);
		exit(EXIT_CANNOT);
	}
	return p;
}

/*
 * The length of the printable character at s (n bytes left), or 0 if the
 * byte there must be escaped.
 */
static size_t
printable_len(const char *s, size_t n, mbstate_t *st)
{
	unsigned char c = (unsigned char)*s;
	wchar_t wc;
	size_t k;

	if (c < 0x80)
		return c >= 0x20 && c < 0x7f;
	k = mbrtowc(&wc, s, n, st);
	if (k == (size_t)-1 || k == (size_t)-2 || k == 0 || !iswprint((wint_t)wc)) {
		memset(st, 0, sizeof(*st));
		return 0;
	}
	return k;
}

/* Escapes s into a new string; keep_nl keeps newlines (a whole body). */
static char *
escape(const char *s, bool keep_nl)
{
	size_t n = strlen(s), o = 0, k;
	char *d = xmalloc(4 * n + 1);
	mbstate_t st;

	memset(&st, 0, sizeof(st));
	while (*s != '\0') {
		if ((*s == '\n' && keep_nl) || (k = printable_len(s, n, &st)) == 0) {
			if (*s == '\n' && keep_nl)
				d[o++] = '\n';
			else
				o += (size_t)sprintf(d + o, "\\x%02x", (unsigned char)*s);
			s++;
			n--;
			continue;
		}
		memcpy(d + o, s, k);
		o += k;
		s += k;
		n -= k;
	}
	d[o] = '\0';
	return d;
}

char *
out_safe(const char *s)
{
	return escape(s, false);
}

void
out_text(FILE *f, const char *s)
{
	char *e = escape(s, true);

	fputs(e, f);
	free(e);
}

/* %XX decoded, as the library encodes (lib/base/path.c); as sent if malformed. */
char *
out_decode(const char *s)
{
	size_t n = strlen(s);
	char *d = xmalloc(n + 1);

	if (supv__path_decode(s, s + n, d, n + 1) != 0)
		memcpy(d, s, n + 1);
	return d;
}
