#!/bin/sh
# The shared library exports exactly the documented symbols.
set -eu
lib=$1 list=$2
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {sub(/@.*/, "", $3); print $3}' | sort)
want=$(sort "$list")
if [ "$got" != "$want" ]; then
	echo "exported symbols differ from $list:"
	printf '%s\n' "$got" > /tmp/supv-got.$$; printf '%s\n' "$want" > /tmp/supv-want.$$
	diff /tmp/supv-want.$$ /tmp/supv-got.$$ || true
	rm -f /tmp/supv-got.$$ /tmp/supv-want.$$
	exit 1
fi
# Every exported symbol is declared in the public header.
for s in $want; do
	grep -q "\\b$s\\b" include/supervise.h || { echo "$s is not in supervise.h"; exit 1; }
done
echo "symbols: $(echo "$want" | wc -l) exported, as documented"
