#!/bin/sh
# The man pages: mandoc -Tlint -W warning says nothing about any of them,
# every alias is a symbolic link, in its own directory, to a real page that
# documents it (so that man -l works from the tree as well as installed), and every exported
# symbol (the names in lib/abi/*.sym) has a page man/man3/<name>.3.  Run from the
# top of the tree, as make check does.
set -u

if ! command -v mandoc >/dev/null 2>&1; then
	echo "manlint: mandoc not found; make deps installs it" >&2
	exit 1
fi
if [ ! -d man/man3 ] || [ ! -f lib/abi/supervise.sym ]; then
	echo "manlint: run from the top of the source tree" >&2
	exit 1
fi

fail=0 pages=0 stubs=0

# The page a file is, or that its link names.
page_of() {
	if [ -L "$1" ]; then
		echo "${1%/*}/$(readlink "$1")"
	else
		echo "$1"
	fi
}

for f in man/man1/*.1 man/man3/*.3 man/man7/*.7; do
	if [ -L "$f" ]; then
		# An alias: a link to a page beside it that is not a link itself.
		stubs=$((stubs + 1))
		link=$(readlink "$f")
		target=$(page_of "$f")
		case $link in
		*/*)	echo "$f: an alias must link to a page in its own directory"
			fail=1 ;;
		*)	if [ ! -f "$target" ] || [ -L "$target" ]; then
				echo "$f: links to $link, which is not a page"
				fail=1
			fi ;;
		esac
		continue
	fi
	[ -f "$f" ] || continue
	pages=$((pages + 1))
	if [ "$(sed -n 1p "$f" | cut -c1-3)" = ".so" ]; then
		echo "$f: a .so stub; make it a symbolic link (man -l cannot follow .so)"
		fail=1
		continue
	fi
	msg=$(mandoc -Tlint -W warning "$f" 2>&1)
	rc=$?
	if [ -n "$msg" ] || [ "$rc" -ne 0 ]; then
		[ -n "$msg" ] && printf '%s\n' "$msg"
		echo "$f: mandoc -Tlint -W warning failed"
		fail=1
	fi
done

# Every exported symbol has a page of its own name, which documents it in
# its NAME section (directly or through its alias).
nsyms=0
while read -r s; do
	[ -n "$s" ] || continue
	nsyms=$((nsyms + 1))
	f=man/man3/$s.3
	if [ ! -f "$f" ]; then
		echo "$s: no man page $f"
		fail=1
		continue
	fi
	p=$(page_of "$f")
	if [ ! -f "$p" ] || ! grep -Eq "^\.Nm $s( ,)?\$" "$p"; then
		echo "$s: $p does not name $s in its NAME section"
		fail=1
	fi
done <<EOF
$(grep -Ehv '^[[:space:]]*(#|$)|:$' lib/abi/*.sym)
EOF

if [ "$fail" -ne 0 ]; then
	echo "man: FAILED"
	exit 1
fi
echo "man: $pages pages and $stubs aliases, lint clean, every symbol documented ($nsyms)"
