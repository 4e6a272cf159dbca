#!/bin/sh
# examples.sh DIR - the examples' smoke test: runs every program in DIR
# (build/examples) for about two seconds each and fails if any of them
# exits non-zero (a sanitizer report included) or runs over a minute.
# A failing example's output is shown.
#
# Every example honours SUPV_EXAMPLE_SECONDS: it runs about that long,
# stops its tree and exits 0.  echo_server runs with --self-test.

dir=${1:?usage: examples.sh DIR}
SUPV_EXAMPLE_SECONDS=2
export SUPV_EXAMPLE_SECONDS

ran=0
failed=0
for ex in "$dir"/*; do
	if [ ! -f "$ex" ] || [ ! -x "$ex" ]; then
		continue
	fi
	name=${ex##*/}
	case $name in
	echo_server) set -- --self-test ;;
	*) set -- ;;
	esac
	ran=$((ran + 1))
	if out=$(timeout 60 "$ex" "$@" 2>&1); then
		echo "ok   $name"
	else
		rc=$?
		failed=$((failed + 1))
		if [ "$rc" -eq 124 ]; then
			echo "FAIL $name: still running after 60 s"
		else
			echo "FAIL $name: exit status $rc"
		fi
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done

echo "examples: $ran ran, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
