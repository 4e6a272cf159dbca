#!/bin/sh
# SIGTERM stops a running tree in an example program, which exits 0.
set -u
bin=$1/daemon
"$bin" 2>/tmp/supv-daemon.$$ &
pid=$!
# Wait (generously) for the tree to be up.
i=0
while ! grep -q 'running as pid' /tmp/supv-daemon.$$ 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 300 ] && { echo "signals: daemon did not start"; kill -9 $pid; exit 1; }
	sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -ne 0 ] || ! grep -q 'event=sup_exit exit=shutdown' /tmp/supv-daemon.$$; then
	echo "signals: SIGTERM gave exit status $rc"; cat /tmp/supv-daemon.$$
	rm -f /tmp/supv-daemon.$$
	exit 1
fi
rm -f /tmp/supv-daemon.$$
echo "signals: SIGTERM stopped the daemon example, exit status 0"
