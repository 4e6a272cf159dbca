#!/usr/bin/env bash
# bench/peers/run.sh - libsupervise's restart rows beside OTP's supervisor
# and suture v4, measured in one run, taking turns rep by rep.  See
# bench/peers/README.md for what each side does.
#
#   bench/peers/run.sh [LIBSUPERVISE_A [OUTDIR]]
#
# LIBSUPERVISE_A defaults to build/libsupervise.a (run make first), OUTDIR
# to the archive's directory + /bench/peers.  It builds there the three
# servers (lib_restart.c with cc, otp_restart.erl with erlc, suture/ with
# go in GOPATH mode against Debian's packaged suture sources, offline) and
# supv_noint, a copy of OTP's supervisor.erl without its restart list
# (from Debian's erlang-src, optional), starts each server once, pinned
# to one CPU, and drives them rep by rep.  make bench-peers runs it.
#
# Environment: PEERS_CPU=N pins every program to CPU N (default: the last
# CPU this shell may use); PEERS_CPU=none leaves them unpinned, with the
# runtimes' default scheduler counts.  PEERS_REPS=N (default 5; 3 with
# BENCH_QUICK=1, which also makes the windows 100 ms).  CC, PEERS_CFLAGS:
# the C compiler and extra flags for the C driver.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
lib=${1:-$top/build/libsupervise.a}
[ -f "$lib" ] || { echo "peers: no $lib: run make first" >&2; exit 1; }
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
out=${2:-$(dirname "$lib")/bench/peers}
mkdir -p "$out"
out=$(cd "$out" && pwd)

quick=${BENCH_QUICK:-0}
[ "$quick" = 0 ] && quick= || true
reps=${PEERS_REPS:-$([ -n "$quick" ] && echo 3 || echo 5)}
win=$([ -n "$quick" ] && echo 100 || echo 300)     # ms, every window
warm=20                                            # ms before a window
steady=$([ -n "$quick" ] && echo 1100 || echo 1200) # ms before a late window

# --- what is needed, with the Debian package that has it ---
missing=
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing\n  $2: no $1 command"; }
need "${CC:-cc}" build-essential
need pkg-config pkg-config
need taskset util-linux
need erl erlang-nox
need erlc erlang-nox
need go golang-go
suture_src=/usr/share/gocode/src/github.com/thejerf/suture/v4
[ -f "$suture_src/supervisor.go" ] ||
	missing="$missing\n  golang-github-thejerf-suture-dev: no $suture_src"
if command -v pkg-config >/dev/null 2>&1 && ! pkg-config --exists libbsd-overlay; then
	missing="$missing\n  libbsd-dev: pkg-config finds no libbsd-overlay"
fi
if [ -n "$missing" ]; then
	printf 'peers: missing, with the Debian package that has it:%b\n' "$missing" >&2
	echo "peers: make deps-peers installs them" >&2
	exit 1
fi

# --- build the three servers ---
# The C driver is built as the Makefile builds bench/*.c (CC and
# PEERS_CFLAGS from the environment: make passes its CC and SANFLAGS).
${CC:-cc} -std=c11 -D_GNU_SOURCE -pthread -O2 -g -Wall -Wextra ${PEERS_CFLAGS:-} \
	-I"$top/include" -I"$top/bench" $(pkg-config --cflags libbsd-overlay) -o "$out/lib_restart" \
	"$here/lib_restart.c" "$lib" $(pkg-config --libs libbsd-overlay) -lm
erlc -o "$out" "$here/otp_restart.erl"
# supv_noint: OTP's own supervisor.erl (Debian's erlang-src), renamed, with
# add_restart/1 returning {ok, State} at once: no restart list.  Optional:
# without erlang-src, or if the source is not as expected, its rows say n/a.
noint=
read -r stdlib_dir kernel_dir < <(erl -noshell -eval \
	'io:format("~s ~s~n", [code:lib_dir(stdlib), code:lib_dir(kernel)]), halt().')
sup_src=$stdlib_dir/src/supervisor.erl
if [ -f "$sup_src" ]; then
	sed -e 's/^-module(supervisor)\./-module(supv_noint)./' \
	    -e 's/gen_server:start_link(supervisor, /gen_server:start_link(supv_noint, /' \
	    -e 's/gen_server:start_link(SupName, supervisor, /gen_server:start_link(SupName, supv_noint, /' \
	    -e 's/^add_restart(State) -> *$/add_restart(State) -> {ok, State}.\nadd_restart_kept(State) ->/' \
	    "$sup_src" >"$out/supv_noint.erl"
	# Each edit made exactly once, or no row.
	if [ "$(grep -c -e '^-module(supv_noint)\.$' -e 'gen_server:start_link(supv_noint, ' \
	    -e 'gen_server:start_link(SupName, supv_noint, ' -e '^add_restart(State) -> {ok, State}\.$' \
	    "$out/supv_noint.erl")" = 4 ] &&
	    erlc +nowarn_unused_function -I "$stdlib_dir/include" -I "$kernel_dir/include" \
		-o "$out" "$out/supv_noint.erl" >"$out/supv_noint.log" 2>&1; then
		noint=yes
	else
		rm -f "$out/supv_noint.beam"
		echo "peers: could not make supv_noint from $sup_src (see $out/supv_noint.log)" >&2
	fi
fi
# GOPATH mode: Debian installs Go libraries' sources under /usr/share/gocode
# and nothing is fetched (GOPROXY=off, GOFLAGS cleared).
(cd "$here/suture" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
	GOPROXY=off GOCACHE="$out/gocache" go build -o "$out/suture_restart" .)

# --- where they run ---
# The default: the last CPU this shell may run on.
cpu=${PEERS_CPU:-$(taskset -cp $$ | sed 's/.*: //; s/.*[,-]//')}
if [ "$cpu" = none ]; then
	pin=()
	erl_s=()
	gomax=
	where="unpinned: OTP and Go with their default scheduler counts"
else
	pin=(taskset -c "$cpu")
	erl_s=(+S 1:1)
	gomax=1
	where="every program pinned to CPU $cpu (taskset -c $cpu): OTP +S 1:1, GOMAXPROCS=1, libsupervise's loop and worker threads"
fi

tmp=$(mktemp -d)
declare -A pid fin fout
cleanup() {
	local s
	for s in "${!pid[@]}"; do kill "${pid[$s]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME CMD...: CMD reads commands on its stdin and answers on its stdout.
start() {
	local name=$1 fi fo
	shift
	mkfifo "$tmp/$name.in" "$tmp/$name.out"
	"$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid[$name]=$!
	exec {fi}>"$tmp/$name.in" {fo}<"$tmp/$name.out"
	fin[$name]=$fi
	fout[$name]=$fo
}

# ask NAME LINE: sends LINE, prints the answer.
ask() {
	local line
	[ -n "$2" ] && printf '%s\n' "$2" >&"${fin[$1]}"
	if ! read -r -t 120 line <&"${fout[$1]}"; then
		echo "peers: $1 did not answer '$2'" >&2
		cat "$tmp/$1.err" >&2
		exit 1
	fi
	case $line in
	ready* | ok*) printf '%s\n' "$line" ;;
	*) echo "peers: $1 answered '$line' to '$2'" >&2; exit 1 ;;
	esac
}

start lib "${pin[@]}" "$out/lib_restart"
start otp "${pin[@]}" erl -noshell "${erl_s[@]}" +c false -kernel logger_level none \
	-pa "$out" -run otp_restart main
start suture env ${gomax:+GOMAXPROCS=$gomax} "${pin[@]}" "$out/suture_restart"
lib_v=$(ask lib "")
otp_v=$(ask otp "")
sut_v=$(ask suture "")

# rep SIDE ROW KIND WARM WINDOW: one measurement, appended to results.
results=$tmp/results
rep() {
	local a
	a=$(ask "$1" "rep $3 $4 $5")
	echo "$2 $1 ${a#ok }" >>"$results"
}

# pairs ROW LIB_KIND PEER PEER_KIND WARM WINDOW [nowarm]: a rep of each side
# as a warm-up, not counted (unless nowarm: both ran the same kinds just
# before), then the reps, libsupervise first in even reps, the peer first
# in odd ones.
pairs() {
	local r
	if [ "${7:-}" != nowarm ]; then
		ask lib "rep $2 $warm $6" >/dev/null
		ask "$3" "rep $4 $warm $6" >/dev/null
	fi
	for ((r = 0; r < reps; r++)); do
		if ((r % 2 == 0)); then
			rep lib "$1" "$2" "$5" "$6"
			rep "$3" "$1" "$4" "$5" "$6"
		else
			rep "$3" "$1" "$4" "$5" "$6"
			rep lib "$1" "$2" "$5" "$6"
		fi
	done
}

: >"$results"
pairs early fresh otp fresh "$warm" "$win"
pairs late fresh otp fresh "$steady" "$win" nowarm
if [ -n "$noint" ]; then pairs noint fresh otp noint "$warm" "$win"; fi
pairs same same suture same "$warm" "$win"
for s in lib otp suture; do printf 'quit\n' >&"${fin[$s]}"; done

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
otp_rel=$(erl -noshell -eval 'io:format("~s~n",[erlang:system_info(otp_release)]), halt().')
go_v=$(go version)
sut_pkg=$(dpkg-query -W -f='${Version}' golang-github-thejerf-suture-dev 2>/dev/null || echo '?')
erl_pkg=$(dpkg-query -W -f='${Version}' erlang-nox 2>/dev/null || echo '?')

echo
echo "# bench/peers: restarts beside OTP's supervisor and suture v4, in one run"
echo "# $(nproc) CPUs online, ${model:-unknown}${quick:+, BENCH_QUICK (short runs: noisier)}"
echo "# $where"
echo "# ${lib_v#ready }, $lib"
echo "# OTP $otp_rel (${otp_v#ready OTP $otp_rel }, Debian erlang-nox $erl_pkg): supervisor one_for_one, intensity 1 bsl 40 in 1 s"
[ -n "${PEERS_CFLAGS:-}" ] &&
	echo "# the libsupervise side built with $PEERS_CFLAGS: not a performance figure"
echo "# $go_v; suture v4 from Debian golang-github-thejerf-suture-dev $sut_pkg (${sut_v#ready suture })"
awk -v reps="$reps" -v win="$win" -v warm="$warm" -v steady="$steady" '
function frate(r) {
	if (r == "nan") return "n/a"
	if (r >= 1e6) return sprintf("%.2f M/s", r / 1e6)
	if (r >= 1e4) return sprintf("%.1f k/s", r / 1e3)
	return sprintf("%.1f /s", r)
}
function fns(x) {
	if (x == "nan") return "n/a"
	if (x < 10) return sprintf("%.2f ns", x)
	if (x < 1000) return sprintf("%.0f ns", x)
	if (x < 1e6) return sprintf("%.1f us", x / 1e3)
	if (x < 1e9) return sprintf("%.2f ms", x / 1e6)
	return sprintf("%.2f s", x / 1e9)
}
function fmt(x, israte) { return israte ? frate(x) : fns(x) }
# The median of v[1..n], which it sorts (insertion sort: n is small).
function median(v, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
# The median of field f of row key, side side.
function med(key, side, f,    i, n, v) {
	n = cnt[key, side]
	for (i = 1; i <= n; i++) v[i] = val[key, side, i, f]
	return median(v, n)
}
# One row: field f (F_RATE, F_P50, F_P99, F_WARM) of row key, libsupervise
# against peer, with the range of the reps own ratios, then a note with
# each side alone: lowest and highest over the reps.
function row(name, key, peer, f, israte, peername,    i, n, m, l, p, lm, pm, lo, hi, q) {
	n = cnt[key, "lib"]; m = cnt[key, peer]
	for (i = 1; i <= n; i++) l[i] = val[key, "lib", i, f]
	for (i = 1; i <= m; i++) p[i] = val[key, peer, i, f]
	lo = hi = ""
	for (i = 1; i <= n && i <= m; i++) {
		if (p[i] == "nan" || l[i] == "nan" || p[i] == 0) continue
		q = l[i] / p[i]
		if (lo == "" || q < lo) lo = q
		if (hi == "" || q > hi) hi = q
	}
	lm = median(l, n); pm = median(p, m)
	printf "%-46s | %-15s | %-15s | %-7s | %-13s | %s\n", name, fmt(lm, israte), fmt(pm, israte),
	    (pm > 0 ? sprintf("%.2fx", lm / pm) : "-"), (lo == "" ? "-" : sprintf("%.2f-%.2fx", lo, hi)), peername
	printf "#   min-max: libsupervise %s - %s, %s %s - %s\n", fmt(l[1], israte),
	    fmt(l[n], israte), peername, fmt(p[1], israte), fmt(p[m], israte)
}
BEGIN { F_RATE = 1; F_P50 = 2; F_P99 = 3; F_WARM = 4; F_WP50 = 5 }
{
	# ROW SIDE RUNS_PER_S P50_NS P99_NS SAMPLES WARM_RUNS_PER_S WARM_P50_NS [RESTART_LIST]
	c = ++cnt[$1, $2]
	val[$1, $2, c, F_RATE] = $3; val[$1, $2, c, F_P50] = $4
	val[$1, $2, c, F_P99] = $5; val[$1, $2, c, F_WARM] = $7; val[$1, $2, c, F_WP50] = $8
	smp[$1, $2] += $6
	if (NF >= 9) list[$1, $2] = list[$1, $2] (list[$1, $2] == "" ? "" : " ") $9
}
END {
	printf "%-46s | %-15s | %-15s | %-7s | %-13s | %s\n", "name", "libsupervise", "peer", "ratio", "spread", "peer is"
	printf "%.46s-|-%.15s-|-%.15s-|-%.7s-|-%.13s-|-%s\n", "--------------------------------------------------",
	    "-----------------", "-----------------", "---------", "---------------", "---------------"
	e = sprintf("%d-%d ms", warm, warm + win)
	s = sprintf("%.1f-%.1f s", steady / 1000, (steady + win) / 1000)
	row(sprintf("one_for_one restart throughput, 0-%d ms", warm), "early", "otp", F_WARM, 1, "OTP supervisor")
	row(sprintf("restart latency p50, 0-%d ms", warm), "early", "otp", F_WP50, 0, "OTP supervisor")
	row("one_for_one restart throughput, " e, "early", "otp", F_RATE, 1, "OTP supervisor")
	row("restart latency p50, " e, "early", "otp", F_P50, 0, "OTP supervisor")
	printf "#   p99: libsupervise %s, OTP supervisor %s\n", fns(med("early", "lib", F_P99)), fns(med("early", "otp", F_P99))
	row("one_for_one restart throughput, " s, "late", "otp", F_RATE, 1, "OTP supervisor")
	row("restart latency p50, " s, "late", "otp", F_P50, 0, "OTP supervisor")
	printf "#   p99: libsupervise %s, OTP supervisor %s\n", fns(med("late", "lib", F_P99)), fns(med("late", "otp", F_P99))
	printf "#   restarts in the OTP supervisor\047s list at the windows\047 ends: %s (%s), %s (%s)\n", e, list["early", "otp"], s, list["late", "otp"]
	if (cnt["noint", "otp"]) {
		row("one_for_one restart throughput, " e, "noint", "otp", F_RATE, 1, "OTP, no restart list*")
		row("restart latency p50, " e, "noint", "otp", F_P50, 0, "OTP, no restart list*")
		printf "#   p99: libsupervise %s, OTP, no restart list %s\n", fns(med("noint", "lib", F_P99)), fns(med("noint", "otp", F_P99))
		printf "#   * not OTP as shipped: its supervisor.erl with add_restart/1 returning {ok, State}, list length %s\n", list["noint", "otp"]
	} else
		printf "#   OTP, no restart list: n/a (no erlang-src, or its supervisor.erl is not as run.sh expects)\n"
	row("same-thread restart throughput", "same", "suture", F_RATE, 1, "suture v4")
	row("same-thread restart latency p50", "same", "suture", F_P50, 0, "suture v4")
	printf "#   p99: libsupervise %s, suture v4 %s\n", fns(med("same", "lib", F_P99)), fns(med("same", "suture", F_P99))
	printf "#   ratio: libsupervise / peer (rates: higher is better; times: lower is better);\n"
	printf "#   spread: lowest-highest of the reps\047 own ratios (each rep\047s pair back to back)\n"
	printf "#   medians of %d reps, each rep a fresh tree; latencies timed: %d lib / %d OTP early, %d / %d late, %d lib / %d suture\n",
	    reps, smp["early", "lib"], smp["early", "otp"], smp["late", "lib"], smp["late", "otp"], smp["same", "lib"], smp["same", "suture"]
}' "$results"
