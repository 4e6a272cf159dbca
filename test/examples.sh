#!/bin/sh
# examples.sh DIR - the examples' smoke test: runs every program in DIR
# (build/examples) for about two seconds each and fails if any of them
# exits non-zero (a sanitizer report included) or runs over a minute.
# A failing example's output is shown.
#
# Every example honours SUPV_EXAMPLE_SECONDS: it runs about that long,
# stops its tree and exits 0, or ends sooner by itself, as hello (C++)
# does.  echo_server runs with --self-test.  first,
# the README's first program, takes its duration as an argument instead;
# it must also have restarted workers, give up when asked to, and be the
# very program the README shows.

dir=${1:?usage: examples.sh DIR}
readme=$(dirname "$0")/../README.md
SUPV_EXAMPLE_SECONDS=2
export SUPV_EXAMPLE_SECONDS

ran=0
failed=0

# fail NAME WHY OUTPUT: one failure, with the output that shows it.
fail()
{
	failed=$((failed + 1))
	echo "FAIL $1: $2"
	printf '%s\n' "$3" | sed 's/^/    /'
}

for ex in "$dir"/*; do
	if [ ! -f "$ex" ] || [ ! -x "$ex" ]; then
		continue
	fi
	name=${ex##*/}
	case $name in
	echo_server) set -- --self-test ;;
	first) set -- 5 ;;	# its runs fail after 2 to 4 s
	*) set -- ;;
	esac
	ran=$((ran + 1))
	if out=$(timeout 60 "$ex" "$@" 2>&1); then
		if [ "$name" = first ] &&
		    ! printf '%s\n' "$out" | grep -q 'event=restart child='; then
			fail "$name" "exit status 0, but no worker was restarted" "$out"
		else
			echo "ok   $name"
		fi
	else
		rc=$?
		if [ "$rc" -eq 124 ]; then
			fail "$name" "still running after 60 s" "$out"
		else
			fail "$name" "exit status $rc" "$out"
		fi
	fi
done

# Asked to, the first program gives up (its workers fail every 0.1 s):
# exit status 1, within a few seconds.
if [ -x "$dir/first" ]; then
	ran=$((ran + 1))
	out=$(timeout 60 "$dir/first" give-up 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q 'event=give_up'; then
		echo "ok   first give-up"
	else
		fail "first give-up" "exit status $rc, expected 1 after a give_up" "$out"
	fi
fi

# The README's first program is examples/first.c, byte for byte: its
# listing is the first C block after the "## A first program" heading.
ran=$((ran + 1))
listing=$(mktemp) || exit 1
awk '/^## A first program$/ { found = 1; next }
	found && !inblock && /^```c$/ { inblock = 1; next }
	inblock && /^```$/ { exit }
	inblock { print }' "$readme" > "$listing"
if [ ! -s "$listing" ]; then
	fail "README listing" "no C block under \"## A first program\" in $readme" ""
elif ! out=$(diff -u "$(dirname "$0")/../examples/first.c" "$listing" 2>&1); then
	fail "README listing" "differs from examples/first.c" "$out"
else
	echo "ok   README's first program is examples/first.c"
fi
rm -f "$listing"

# The units: hardened (systemd-analyze's exposure at most 5.0, "OK"),
# when systemd-analyze is there to rate them.
ex_dir=$(dirname "$0")/../examples
if command -v systemd-analyze >/dev/null 2>&1; then
	for u in daemon.service daemon-http.service; do
		ran=$((ran + 1))
		if out=$(systemd-analyze security --offline=yes --threshold=50 \
		    "$ex_dir/$u" 2>&1); then
			echo "ok   $u: $(printf '%s\n' "$out" | grep -o 'exposure level.*' | tail -1)"
		else
			fail "$u" "exposure above 5.0" "$(printf '%s\n' "$out" | tail -3)"
		fi
	done
else
	echo "skip units: no systemd-analyze"
fi

echo "examples: $ran ran, $failed failed"
[ "$ran" -gt 0 ] && [ "$failed" -eq 0 ]
