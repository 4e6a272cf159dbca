#!/bin/sh
# layering.sh BUILD_DIR - the library's files form layers (lib/README):
#  - no cycle among lib/'s files, of any length: file A depends on file B
#    when A uses an internal (not public API) symbol that B defines, and
#    tsort(1) must find an order for all of them;
#  - base/ depends on nothing else of lib/, and core/ on nothing above it
#    but the two links the README names (process/, for a root's systemd
#    notification and its signals).
# Reads the symbols each object defines and uses.
set -eu
dir=$1
tmp=${TMPDIR:-/tmp}/supv-layers.$$
trap 'rm -f "$tmp".*' EXIT
# The objects of today's sources (a build directory may hold older ones).
objs=$(cd lib && find . -mindepth 2 -name '*.c' | sed 's|^\./||; s|\.c$||' | sort)
for f in $objs; do
	nm --defined-only -g "$dir/lib/$f.o" | awk -v f="$f" 'NF == 3 { print $3, f }'
done | sort -u > "$tmp.def"
for f in $objs; do
	nm -u "$dir/lib/$f.o" | awk -v f="$f" '{ print $NF, f }'
done | sort -u > "$tmp.use"
# file -> file it depends on, for internal (not public API) symbols.
pub=$(cat lib/abi/*.sym | tr '\n' ' ')
join "$tmp.use" "$tmp.def" | awk -v pub=" $pub " '
	$2 != $3 && index(pub, " " $1 " ") == 0 { print $2, $3 }' | sort -u > "$tmp.dep"
fail=0
if ! tsort "$tmp.dep" > /dev/null 2> "$tmp.loop"; then
	echo "layering: a cycle among lib/'s files (each uses the next):"
	grep -v 'input contains a loop' "$tmp.loop" | sed 's/^tsort: /  /'
	fail=1
fi
bad=$(awk '
	function layer(f) { sub("/.*", "", f); return f }
	layer($1) == "base" && layer($2) != "base" { print "  " $1 " -> " $2 }
	layer($1) == "core" && layer($2) != "base" && layer($2) != "core" &&
	    layer($2) != "process" { print "  " $1 " -> " $2 }' "$tmp.dep")
if [ -n "$bad" ]; then
	echo "layering: these depend on a layer above their own:"
	echo "$bad"
	fail=1
fi
[ $fail -eq 0 ] || exit 1
echo "layering: $(wc -l < "$tmp.dep") dependencies between $(echo "$objs" | wc -w) files, no cycle, layers kept"
