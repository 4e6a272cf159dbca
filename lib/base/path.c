/*
 * path.c - decoding a part of a path (see base/path.h).  Pure, and free
 * of the rest of the library: supervisectl builds it too.
 */
#include <errno.h>

#include "base/path.h"

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
supv__path_decode(const char *p, const char *end, char *dst, size_t cap)
{
	size_t n = 0;
	int hi, lo;

	if (p == end || cap == 0)
		return EINVAL;
	for (; p < end; p++) {
		char ch = *p;

		if (ch == '%') {
			if (end - p < 3 || (hi = hexval(p[1])) < 0 ||
			    (lo = hexval(p[2])) < 0 || (hi | lo) == 0)
				return EINVAL;
			ch = (char)(hi << 4 | lo);
			p += 2;
		}
		if (n + 1 == cap)
			return ENAMETOOLONG;
		dst[n++] = ch;
	}
	dst[n] = '\0';
	return 0;
}
