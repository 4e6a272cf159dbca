#!/bin/sh
# archive.sh ARCHIVE CC "LIBS" - the static archive is linked into other
# people's programs: every global name it defines carries the library's
# prefix (supv_ for the API and the test seams, supv__ inside), and a
# program that defines the short names a library might use (lock, unlock,
# emit, now_ns, xcalloc) links with it.
set -eu
ar=$1 cc=$2 libs=$3
# (A sanitizer build adds names of its own, such as __odr_asan.*.)
bad=$(nm -g --defined-only "$ar" |
    awk 'NF == 3 && $3 !~ /^supv_/ && $3 !~ /^__(odr_asan|asan|tsan|ubsan)/ { print $3 }' | sort -u)
if [ -n "$bad" ]; then
	echo "archive: $ar defines global names without the supv_ prefix:"
	echo "$bad" | sed 's/^/  /'
	exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/own.c" <<'C'
#include <stdint.h>
#include <supervise.h>
/* A program's own short names, as any program might have them. */
int lock, unlock;
void emit(void) {}
uint64_t now_ns(void) { return 0; }
void *xcalloc(void) { return 0; }
int main(void)
{
	struct supv *s;

	if (supv_new(&s, NULL) != 0)
		return 1;
	supv_free(s);
	emit();
	return (int)now_ns() + lock + unlock + (xcalloc() != 0);
}
C
if ! $cc -Iinclude -o "$tmp/own" "$tmp/own.c" "$ar" $libs -pthread; then
	echo "archive: a program defining lock, unlock, emit, now_ns and xcalloc does not link with $ar"
	exit 1
fi
"$tmp/own"
internal=$(nm -g --defined-only "$ar" | awk 'NF == 3 && $3 ~ /^supv__/' | wc -l)
echo "archive: every global name has the prefix ($internal internal, supv__); a program with its own lock/emit/now_ns links"
