/*
 * path.h - the one encoding of a path's parts (supervise(7), Paths), as
 * pure functions: the library writes paths with them (base/text.c) and
 * reads them (core/spec.c), and supervisectl decodes them.
 *
 * A part is a supervisor's name or a child's id.  A byte that is not
 * printable ASCII, or is one of space, '%', '/', '=', '"' and '\', is
 * written %XX (two upper-case hexadecimal digits): an encoded part is
 * printable ASCII, valid UTF-8, and holds no '/', tab or newline.
 */
#ifndef SUPV_BASE_PATH_H
#define SUPV_BASE_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Whether byte c stands as itself in an encoded part. */
static inline bool
supv__path_plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '%' && c != '/' && c != '=' &&
	    c != '"' && c != '\\';
}

/*
 * Decodes the part [p, end) into dst (cap bytes, NUL-terminated): %XX is
 * the byte XX; other bytes stand as themselves.  0, EINVAL for an empty
 * part, a bad escape or %00, or ENAMETOOLONG when it does not fit.
 */
int supv__path_decode(const char *p, const char *end, char *dst, size_t cap);

#endif
