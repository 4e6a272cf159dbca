#!/bin/sh
# valgrind.sh EXAMPLES_DIR - helgrind on an example that beats, with the
# suppressions libsupervise installs (supervise.supp): zero errors.
# Without them, helgrind reports the deliberate relaxed atomics between
# supv_heartbeat() and the sampler (and a few others, each named in the
# file).  Skipped, with a message, when valgrind is not installed.
set -u
ex=${1:?usage: valgrind.sh EXAMPLES_DIR}/pipeline
supp=$(dirname "$0")/../supervise.supp
if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind: not installed: the helgrind check skipped"
	exit 0
fi
out=$(mktemp) || exit 1
SUPV_EXAMPLE_SECONDS=2 valgrind --tool=helgrind --error-exitcode=9 \
    --suppressions="$supp" "$ex" > "$out" 2>&1
rc=$?
summary=$(grep 'ERROR SUMMARY' "$out" | sed 's/^==[0-9]*== //')
if [ $rc -ne 0 ]; then
	echo "valgrind: helgrind on $ex with supervise.supp: exit $rc, $summary"
	grep -A20 'Possible data race\|Thread #' "$out" | head -60
	rm -f "$out"
	exit 1
fi
rm -f "$out"
echo "valgrind: helgrind on pipeline with supervise.supp: $summary"
