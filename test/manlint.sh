#!/bin/sh
# The man pages: mandoc -Tlint -W warning says nothing about any of them,
# every .so stub names a real page that documents it, and every exported
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

# The page a file is, or that its .so line names; empty if it is neither.
page_of() {
	first=$(sed -n 1p "$1")
	case $first in
	.so\ *)	echo "man/${first#.so }" ;;
	*)	echo "$1" ;;
	esac
}

for f in man/man1/*.1 man/man3/*.3 man/man7/*.7; do
	[ -f "$f" ] || continue
	first=$(sed -n 1p "$f")
	case $first in
	.so\ *)
		# A stub: exactly one line, naming a page that is not a stub.
		# mandoc calls every .so "fragile" (it prefers links); the
		# stubs are kept for man-db, and that one message is expected.
		stubs=$((stubs + 1))
		target=man/${first#.so }
		if [ "$(wc -l < "$f")" -ne 1 ]; then
			echo "$f: a stub must be one .so line"
			fail=1
		elif [ ! -f "$target" ]; then
			echo "$f: .so names $target, which does not exist"
			fail=1
		elif [ "$(page_of "$target")" != "$target" ]; then
			echo "$f: .so names $target, which is a stub itself"
			fail=1
		else
			msg=$(cd man && mandoc -Tlint -W warning "${f#man/}" 2>&1 |
			    grep -v ': WARNING: \.so is fragile')
			if [ -n "$msg" ]; then
				printf '%s\n' "$msg"
				fail=1
			fi
		fi
		;;
	*)
		pages=$((pages + 1))
		msg=$(mandoc -Tlint -W warning "$f" 2>&1)
		rc=$?
		if [ -n "$msg" ] || [ "$rc" -ne 0 ]; then
			[ -n "$msg" ] && printf '%s\n' "$msg"
			echo "$f: mandoc -Tlint -W warning failed"
			fail=1
		fi
		;;
	esac
done

# Every exported symbol has a page of its own name, which documents it in
# its NAME section (directly or through its stub).
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
echo "man: $pages pages and $stubs stubs, lint clean, every symbol documented ($nsyms)"
