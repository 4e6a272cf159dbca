/*
 * sized.c - growth-safe structs: a caller's struct of one size read into
 * the library's of another, and written back.
 */
#include <errno.h>
#include <string.h>

#include "base/base.h"

/*
 * Reads a caller's struct of size have into the library's own of size
 * want: the common part is copied and the rest zero-filled (0 means the
 * default everywhere).  src NULL gives a zeroed struct.  A caller's struct
 * larger than the library's must be zero past it: a newer program that
 * sets a field this library does not know gets E2BIG, as openat2(2) does.
 */
int
supv__struct_in(void *dst, size_t want, const void *src, size_t have)
{
	const unsigned char *p = src;
	size_t i;

	memset(dst, 0, want);
	if (src == NULL)
		return 0;
	for (i = want; i < have; i++)
		if (p[i] != 0)
			return E2BIG;
	memcpy(dst, src, have < want ? have : want);
	return 0;
}

/* Writes the library's struct src (size have) into the caller's of size want. */
void
supv__struct_out(void *dst, size_t want, const void *src, size_t have)
{
	memcpy(dst, src, have < want ? have : want);
	if (want > have)
		memset((char *)dst + have, 0, want - have);
}

