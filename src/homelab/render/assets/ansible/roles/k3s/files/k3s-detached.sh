#!/bin/sh
# Start k3s without systemd (a chroot or container test host): detached, logging to /var/log/NAME.log,
# its PID in /run/NAME.pid. Not a supervisor: on a real VM the systemd unit runs k3s.
# Usage: k3s-detached restart|stop|status NAME BINARY server|agent
set -eu
action=$1 name=$2 bin=${3:-/usr/local/bin/k3s} role=${4:-server}
pidfile=/run/$name.pid

running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
    if running; then
        kill "$(cat "$pidfile")"
        i=0
        while running && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
    fi
    rm -f "$pidfile"
}

case $action in
    restart)
        stop
        setsid "$bin" "$role" </dev/null >>"/var/log/$name.log" 2>&1 &
        echo $! >"$pidfile"
        ;;
    stop) stop ;;
    status) running ;;
    *) echo "usage: $0 restart|stop|status NAME BINARY ROLE" >&2; exit 2 ;;
esac
