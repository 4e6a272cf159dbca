/*
 * version.c - the library's version, as the program runs it.
 */
#include "base/base.h"

/*
 * The Makefile passes its version when it builds this file: the header's
 * macros must say the same, or the build stops here rather than ship a
 * header that lies about its library.
 */
#if defined(SUPV_MAKE_MAJOR) && (SUPV_MAKE_MAJOR != SUPV_VERSION_MAJOR || \
    SUPV_MAKE_MINOR != SUPV_VERSION_MINOR || SUPV_MAKE_PATCH != SUPV_VERSION_PATCH)
#error "SUPV_VERSION_* in include/supervise.h differ from VERSION in the Makefile"
#endif

SUPV_EXPORT const char *
supv_version(void)
{
	return SUPV_VERSION_STRING;
}
