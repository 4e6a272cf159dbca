#!/bin/sh
# The library's files form layers: no two object files of lib/ call each
# other both ways (they may, through the public header, call its API).
# Reads the symbols each object defines and uses; prints the pairs that
# depend on each other, and fails if there are any.
set -eu
dir=$1
tmp=${TMPDIR:-/tmp}/supv-layers.$$
trap 'rm -f "$tmp".*' EXIT
for o in "$dir"/lib/*.o; do
	f=$(basename "$o" .o)
	nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }'
done | sort -u > "$tmp.def"
for o in "$dir"/lib/*.o; do
	f=$(basename "$o" .o)
	nm -u "$o" | awk -v f="$f" '{ print $NF, f }'
done | sort -u > "$tmp.use"
# file -> file it depends on, for internal (not public API) symbols.
pub=$(cat lib/*.sym | tr '\n' ' ')
join "$tmp.use" "$tmp.def" | awk -v pub=" $pub " '
	$2 != $3 && index(pub, " " $1 " ") == 0 { print $2, $3 }' | sort -u > "$tmp.dep"
bad=$(awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, p, " ");
	if ((p[2] " " p[1]) in e && p[1] < p[2]) print p[1] " <-> " p[2] } }' "$tmp.dep")
if [ -n "$bad" ]; then
	echo "layering: these files of lib/ depend on each other both ways:"
	echo "$bad"
	exit 1
fi
echo "layering: $(wc -l < "$tmp.dep") dependencies between $(ls "$dir"/lib/*.o | wc -l) files, none both ways"
