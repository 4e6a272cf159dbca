#!/bin/sh
# symbols.sh LIB SYMBOLS VERSION - the shared library LIB exports exactly
# the symbols of SYMBOLS (build/symbols.txt: "NODE NAME" lines, made from
# lib/abi/*.sym), each as the default version of its node (name@@NODE), and
# defines exactly those nodes, each inheriting the one before it.  Node
# names belong to the soname's major version and none is newer than
# VERSION (the Makefile's); the header declares every symbol, and its
# SUPV_VERSION_* macros say VERSION.
set -eu
lib=$1 list=$2 version=$3
major=${version%%.*} rest=${version#*.}
minor=${rest%%.*} patch=${rest#*.}
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# What the library defines: "NODE NAME" per symbol, and the nodes.
nm -D --defined-only "$lib" | awk '
	$2 == "A" { next }
	$2 ~ /^[TDBRWVuiG]$/ {
		n = index($3, "@@")
		if (n == 0) { print "UNVERSIONED-OR-HIDDEN", $3; next }
		print substr($3, n + 2), substr($3, 1, n - 1)
	}' | sort > "$tmp/got"
nm -D --defined-only "$lib" | awk '$2 == "A" { print $3 }' | sort > "$tmp/got-nodes"
sort "$list" > "$tmp/want"
awk '{ print $1 }' "$list" | sort -u > "$tmp/want-nodes"

if ! cmp -s "$tmp/want" "$tmp/got"; then
	echo "exported symbols (NODE NAME) differ from $list (< wanted, > exported):"
	diff "$tmp/want" "$tmp/got" || true
	fail=1
fi
if ! cmp -s "$tmp/want-nodes" "$tmp/got-nodes"; then
	echo "version nodes differ from $list (< wanted, > defined):"
	diff "$tmp/want-nodes" "$tmp/got-nodes" || true
	fail=1
fi

# Node names: SUPERVISE_<major> (1.0 shipped that one) or
# SUPERVISE_<major>.<m>, no newer than the version being built.
for node in $(sort -V "$tmp/want-nodes"); do
	case $node in
	SUPERVISE_"$major") ;;
	SUPERVISE_"$major".*)
		m=${node#SUPERVISE_"$major".}
		case $m in
		''|*[!0-9]*) echo "$node: not SUPERVISE_$major.<minor>"; fail=1 ;;
		*) if [ "$m" -gt "$minor" ]; then
			echo "$node: newer than the version being built, $version"
			fail=1
		   fi ;;
		esac ;;
	*) echo "$node: not a node of major version $major"; fail=1 ;;
	esac
done

# Each node after the first inherits the one before it.
readelf -V "$lib" | awk '
	/Flags: none/ { for (i = 1; i <= NF; i++) if ($i == "Name:") node = $(i + 1); print "node", node }
	/Parent 1:/ { print "parent", node, $NF }' > "$tmp/defs"
sort -V "$tmp/want-nodes" | awk 'NR > 1 { print "parent", $1, prev } { prev = $1 }' > "$tmp/want-parents"
grep '^parent' "$tmp/defs" | sort > "$tmp/got-parents" || true
if ! sort "$tmp/want-parents" | cmp -s - "$tmp/got-parents"; then
	echo "node inheritance differs (< wanted, > defined):"
	sort "$tmp/want-parents" | diff - "$tmp/got-parents" || true
	fail=1
fi

# Every exported symbol is declared in the public header.
for s in $(awk '{ print $2 }' "$list"); do
	grep -q "\\b$s\\b" include/supervise.h || { echo "$s is not in supervise.h"; fail=1; }
done

# The header's version is the Makefile's (version.c checks the numbers
# when it is built; this checks the string too).
for m in "MAJOR $major" "MINOR $minor" "PATCH $patch" "STRING \"$version\""; do
	if ! grep -Eq "^#define SUPV_VERSION_${m%% *}[[:space:]]+${m#* }\$" include/supervise.h; then
		echo "include/supervise.h: SUPV_VERSION_${m%% *} is not ${m#* }"
		fail=1
	fi
done

if [ "$fail" -ne 0 ]; then
	echo "symbols: FAILED"
	exit 1
fi
echo "symbols: $(wc -l < "$list") exported in $(wc -l < "$tmp/want-nodes") version nodes ($(sort -V "$tmp/want-nodes" | tr '\n' ' ' | sed 's/ $//')), as documented; header says $version"
