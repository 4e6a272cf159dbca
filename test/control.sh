#!/bin/sh
# control.sh TOOL EXAMPLES_DIR - supervisectl end to end, against the
# control example (a tree with a failing, a hung and a pooled worker) and
# the daemon example (its socket path from the environment):
# every command's output and exit status, errors for a child that is not
# there, 2 when it cannot ask, and the socket gone when the program ends.
set -u
tool=${1:?usage: control.sh TOOL EXAMPLES_DIR}
ex=${2:?usage: control.sh TOOL EXAMPLES_DIR}/control
d=$(mktemp -d /tmp/supv-ctlsh.XXXXXX)
s=$d/ctl.sock
SUPV_EXAMPLE_SECONDS=0 "$ex" -c "$s" > "$d/out" 2>&1 &
pid=$!
checks=0

fail()
{
	echo "control.sh: FAIL: $*"
	kill "$pid" ${dpid:-} 2>/dev/null
	echo "--- the example's output:"; cat "$d/out"
	rm -rf "$d"
	exit 1
}

# Runs "$@" until its exit status is want, for up to 30 s.
until_status()
{
	want=$1; shift
	i=0
	while :; do
		"$@" > "$d/last" 2>&1
		[ $? -eq "$want" ] && return 0
		i=$((i + 1))
		[ $i -ge 300 ] && return 1
		sleep 0.1
	done
}

# status WANT CMD...: runs it once; its exit status must be WANT.
status()
{
	want=$1; shift
	"$@" > "$d/last" 2>&1
	rc=$?
	checks=$((checks + 1))
	[ $rc -eq "$want" ] || fail "$* exited $rc, not $want: $(cat "$d/last")"
}

has()
{
	checks=$((checks + 1))
	grep -q -- "$1" "$d/last" || fail "no \"$1\" in the output of $2:
$(cat "$d/last")"
}

until_status 0 "$tool" -s "$s" ready || fail "never ready: $(cat "$d/last")"

status 0 "$tool" -s "$s" tree
has '^NAME  *TYPE  *STATE  *RESTARTS  *LAST EXIT' tree
has '^app  *supervisor  *running' tree
has '^  db  *supervisor  *running' tree
has '^      reader\.1  *worker' tree
has '^  stuck  *worker' tree
has '^app: running, one_for_one' tree
# conn fails every second and waits in backoff; stuck is found hung.
until_status 0 sh -c "'$tool' -s '$s' tree | grep -q '^    conn  *worker  *backoff.*failure 3'" ||
	fail "conn never seen in backoff: $(cat "$d/last")"
until_status 1 "$tool" -s "$s" health || fail "stuck never made it unhealthy"
has 'health: no reason=hung path=app/stuck' health
until_status 0 "$tool" -s "$s" health || fail "never healthy again"
has 'health: yes' health

SUPERVISECTL_SOCKET=$s status 0 "$tool" tree -j
has '"path": "app/db/conn"' "tree -j"
has '"type": "pool"' "tree -j"
has '"children": \[' "tree -j"

status 0 "$tool" -s "$s" metrics
has '^# TYPE supv_child_restarts_total counter' metrics
has '^supv_child_exits_total{supervisor="app/db",child="conn",kind="failure"} [1-9]' metrics
has '^supv_child_running{supervisor="app/db/reader",child="reader.0"} 1' metrics
has '^supv_supervisor_hung_total{supervisor="app"} [1-9]' metrics
# The real client, when make check has one (PROMTOOL=...).
if [ -n "${SUPV_TEST_PROMTOOL:-}" ]; then
	cp "$d/last" "$d/metrics"
	status 0 "$SUPV_TEST_PROMTOOL" check metrics < "$d/metrics"
	promtool_seen=1
fi

status 0 "$tool" -s "$s" restart app/web
has 'restart: app/web' restart
status 1 "$tool" -s "$s" restart app/nope
has 'ENOENT' "restart app/nope"
status 0 "$tool" -s "$s" terminate app/db/reader
until_status 0 sh -c "'$tool' -s '$s' tree | grep -q '^    reader  *pool  *idle'" ||
	fail "reader not idle after terminate: $(cat "$d/last")"
status 0 "$tool" -s "$s" restart app/db/reader
until_status 0 sh -c "'$tool' -s '$s' tree | grep -q '^      reader\.0  *worker  *running'" ||
	fail "reader not back: $(cat "$d/last")"

status 0 "$tool" -s "$s" top -n 2 -i 100
has '^app: running' top
# On a terminal: the full-screen view (script(1) gives it one).
if command -v script >/dev/null 2>&1; then
	TERM=xterm status 0 script -qec "'$tool' -s '$s' top -n 2 -i 100" /dev/null
	has 'supervisectl top' "top on a terminal"
	has 'app: running' "top on a terminal"
fi
status 0 "$tool" -s "$s" version
has '^1\.' version
status 0 "$tool" --help
has '^  -q ' "--help"
status 1 "$tool" -s "$s" terminate app
has 'root cannot be restarted or terminated from outside' "terminate app"
if command -v script >/dev/null 2>&1; then
	# An unknown terminal is "cannot", as supervisectl(1) says: 2.
	TERM=nonexistent status 2 script -qec "'$tool' -s '$s' top -n 1" /dev/null
	has 'cannot use the terminal' "top with TERM=nonexistent"
fi

# serve: the same answers over HTTP, for probes and scrapes (curl, as
# Kubernetes and Prometheus would ask).
port=$((20000 + $$ % 20000))
"$tool" -s "$s" serve "127.0.0.1:$port" > "$d/serve.out" 2>&1 &
spid=$!
code()
{
	curl -s -o "$d/body" -w '%{http_code}' "$@" "http://127.0.0.1:$port$path"
}
path=/healthz
until_status 0 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/healthz)\" = 200 ]" ||
	fail "serve never answered 200 on /healthz: $(cat "$d/serve.out")"
for want in "/metrics 200" "/readyz 200" "/nope 404"; do
	path=${want% *}
	checks=$((checks + 1))
	got=$(code)
	[ "$got" = "${want#* }" ] || fail "GET $path: $got, not ${want#* }"
done
path=/metrics
code > /dev/null
cp "$d/body" "$d/last"
has '^# TYPE supv_child_restarts_total counter' "GET /metrics"
has '^supv_child_running{supervisor="app/db/reader",child="reader.0"} 1' "GET /metrics"
checks=$((checks + 1))
curl -s -D - -o /dev/null "http://127.0.0.1:$port/metrics" | grep -qi '^content-type: text/plain; version=0.0.4' ||
	fail "GET /metrics: not the Prometheus text format's content type"
path=/healthz
checks=$((checks + 1))
got=$(code -X POST)
[ "$got" = 405 ] || fail "POST /healthz: $got, not 405"
# stuck is found hung now and then: 503 while it is being stopped.
until_status 0 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/healthz)\" = 503 ]" ||
	fail "serve never answered 503 on /healthz while stuck hung"
kill -TERM "$spid"
wait "$spid"
rc=$?
checks=$((checks + 1))
[ $rc -eq 0 ] || fail "serve exited $rc: $(cat "$d/serve.out")"
# Refused to serve what it cannot: a bad address is 2.
status 2 "$tool" -s "$s" serve nonsense:port

# It cannot ask: no socket, not a socket, no command.
status 2 "$tool" -s "$d/none" health
status 2 "$tool" -s "$d/out" ready
has 'not a socket' "ready on a plain file"
status 2 "$tool" -s "$d" ready
has 'not a socket' "ready on a directory"
status 2 "$tool" -s "$s"
status 2 "$tool" -s "$s" nonsense

# The daemon example, with its socket from the environment as its unit
# file gives it.
SUPV_CONTROL_SOCKET=$d/daemon.sock "${ex%/control}/daemon" > "$d/daemon.out" 2>&1 &
dpid=$!
until_status 0 "$tool" -s "$d/daemon.sock" ready || fail "the daemon never ready: $(cat "$d/last")"
status 0 "$tool" -s "$d/daemon.sock" tree
has '^daemon  *supervisor  *running' "daemon tree"
has '^    poller\.3  *worker  *running' "daemon tree"
status 0 "$tool" -s "$d/daemon.sock" health
status 0 "$tool" -s "$d/daemon.sock" metrics
has '^supv_child_running{supervisor="daemon/poller",child="poller.0"} 1' "daemon metrics"
status 0 "$tool" -s "$d/daemon.sock" restart daemon/poller/poller.1
until_status 0 sh -c "'$tool' -s '$d/daemon.sock' tree | grep -q '^    poller\.1  *worker  *running  *0  *shutdown'" ||
	fail "poller.1 not bounced: $(cat "$d/last")"
kill -TERM "$dpid"
wait "$dpid"
rc=$?
checks=$((checks + 1))
[ $rc -eq 0 ] || fail "the daemon exited $rc: $(cat "$d/daemon.out")"
checks=$((checks + 1))
[ ! -e "$d/daemon.sock" ] || fail "the daemon's socket is still there"

kill -TERM "$pid"
wait "$pid"
rc=$?
checks=$((checks + 1))
[ $rc -eq 0 ] || fail "the example exited $rc"
checks=$((checks + 1))
[ ! -e "$s" ] || fail "the socket is still there"
status 2 "$tool" -s "$s" health
rm -rf "$d"
echo "control.sh: $checks checks passed${promtool_seen:+, promtool check metrics among them}"
