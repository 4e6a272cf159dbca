#!/bin/sh
# static.sh CC MAKE - the installed library and its supervise.pc are enough
# for a fully static program: installs into a temporary prefix (with a
# multiarch LIBDIR, as Debian's), builds examples/first.c with
#   CC -static $(pkg-config --static --cflags --libs supervise)
# runs it for two seconds, then uninstalls, which must leave the prefix
# empty.  Skipped, saying why, when a static library it needs is missing.
# Run from the top of the tree, as make check does.
set -u
cc=${1:-cc} make=${2:-make}
pkg_config=${PKG_CONFIG:-pkg-config}

missing=""
for a in libbsd.a libmd.a libc.a libpthread.a; do
	p=$($cc -print-file-name=$a)
	if [ "$p" = "$a" ] || [ ! -f "$p" ]; then
		missing="$missing $a"
	fi
done
if [ -n "$missing" ]; then
	echo "static: SKIPPED, no static$missing for $cc" \
	    "(on Debian: libbsd-dev, libmd-dev, libc6-dev)"
	exit 0
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
ma=$($cc -print-multiarch 2>/dev/null)
libdir=$prefix/lib${ma:+/$ma}

# fail WHY [FILE]: the failure, with the output that shows it.
fail()
{
	echo "static: FAILED: $1"
	[ $# -gt 1 ] && sed 's/^/    /' "$2"
	exit 1
}

$make --no-print-directory install DESTDIR= PREFIX="$prefix" LIBDIR="$libdir" \
    > "$tmp/log" 2>&1 || fail "make install PREFIX=$prefix LIBDIR=$libdir" "$tmp/log"
if ! grep -q "^libdir=\${prefix}/lib${ma:+/$ma}\$" "$libdir/pkgconfig/supervise.pc"; then
	fail "the installed supervise.pc does not name LIBDIR" "$libdir/pkgconfig/supervise.pc"
fi

# Every installed alias is a link that resolves to a page of its own
# directory, as in the tree (man -l and man-db both follow it).
for m in "$prefix"/share/man/man*/*; do
	if [ -L "$m" ] && [ ! -f "$m" ]; then
		fail "the installed alias $m -> $(readlink "$m") resolves to nothing"
	fi
done
if command -v mandoc > /dev/null 2>&1 &&
    ! mandoc -Tascii "$prefix/share/man/man3/supv_free.3" 2>/dev/null | grep -q supv_free; then
	fail "the installed supv_free(3) does not show supv_new(3)"
fi

flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig $pkg_config --static --cflags --libs supervise) ||
    fail "pkg-config --static --cflags --libs supervise"
if ! $cc -static -o "$tmp/first" examples/first.c $flags > "$tmp/log" 2>&1; then
	echo "$cc -static -o first examples/first.c $flags" >> "$tmp/log"
	fail "the static link" "$tmp/log"
fi
if readelf -l "$tmp/first" | grep -q INTERP; then
	fail "first is not static (it has a program interpreter)"
fi
timeout 60 "$tmp/first" 2 > "$tmp/log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] || ! grep -q 'event=sup_exit exit=shutdown' "$tmp/log"; then
	fail "the static first exited $rc, not 0 after a stop" "$tmp/log"
fi

$make --no-print-directory uninstall DESTDIR= PREFIX="$prefix" LIBDIR="$libdir" \
    > "$tmp/log" 2>&1 || fail "make uninstall" "$tmp/log"
if [ -n "$(find "$prefix" -mindepth 1)" ]; then
	find "$prefix" -mindepth 1 > "$tmp/log"
	fail "make uninstall left these behind" "$tmp/log"
fi

echo "static: first, linked by $cc -static with pkg-config --static alone, ran 2 s and exited 0; uninstall left the prefix empty"
