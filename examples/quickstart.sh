#!/usr/bin/env bash
# slardar quickstart: two demo backends behind slardar's embedded default config.
#
#   bash examples/quickstart.sh            # or: make run
#   bash examples/quickstart.sh --no-wait  # run the demo, stop everything, exit (smoke test)
#
# What it does, all on this machine:
#   1. builds bin/slardar and bin/backend;
#   2. starts backends b1 on 127.0.0.1:9001 and b2 on 127.0.0.1:9002;
#   3. starts slardar with no -config, i.e. its embedded default: proxy on :8080, admin on
#      127.0.0.1:1995, data dir ./data, upstream example.local -> 9001 (weight 1) + 9002 (weight 2);
#   4. waits for the admin /health and for the first routed answer (polling, with a deadline);
#   5. sends a few requests with Host: example.local so you see the 1:2 weighting;
#   6. prints admin API examples to try, then stays in the foreground until Ctrl-C.
# Everything it started is stopped on exit, Ctrl-C or error. Logs go to a temporary folder
# that is printed at start.
# shellcheck disable=SC2317  # stop_all and on_exit are reached from the EXIT trap
set -euo pipefail

NO_WAIT=0
case "${1:-}" in
  "") ;;
  --no-wait) NO_WAIT=1 ;;
  *) echo "usage: $0 [--no-wait]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PATH="$PATH:/usr/local/go/bin"

PROXY=127.0.0.1:8080
ADMIN=127.0.0.1:1995
HOST=example.local
BACKENDS=("b1 127.0.0.1:9001" "b2 127.0.0.1:9002")
READY_TIMEOUT=${QUICKSTART_READY_TIMEOUT:-30}  # seconds to wait for slardar to serve
LOGDIR=$(mktemp -d -t slardar-quickstart.XXXXXX)

PIDS=()
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
say() { printf '%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
die() { echo "quickstart: $*" >&2; exit 1; }

# stop_all sends SIGTERM to everything started here, waits up to 10 s, then SIGKILLs.
stop_all() {
  local pid deadline
  [ "${#PIDS[@]}" -gt 0 ] || return 0
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
on_exit() {
  local rc=$?
  if [ "${#PIDS[@]}" -gt 0 ]; then
    say "stopping everything this script started"
    stop_all
  fi
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; then
    echo "quickstart failed (exit $rc); logs in $LOGDIR:" >&2
    for f in "$LOGDIR"/*.log; do
      if [ -f "$f" ]; then echo "--- $f (last 20 lines)" >&2; tail -n 20 "$f" >&2; fi
    done
  fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_busy HOST:PORT succeeds when something already listens there.
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# wait_http URL TIMEOUT_S [HOST_HEADER]: poll until URL answers 200, or fail at the deadline.
wait_http() {
  local url=$1 deadline=$((SECONDS + $2)) host=${3:-} pid
  local args=(-fs -o /dev/null -m 2)
  [ -n "$host" ] && args+=(-H "Host: $host")
  until curl "${args[@]}" "$url"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || die "a process exited early (pid $pid)"; done
    sleep 0.2
  done
}

command -v go >/dev/null || die "needs the Go toolchain (go) on PATH"
command -v curl >/dev/null || die "needs curl"
for addr in "$PROXY" "$ADMIN" "${BACKENDS[@]##* }"; do
  if port_busy "$addr"; then die "$addr is already in use; stop whatever listens there first"; fi
done

say "building bin/slardar and bin/backend"
mkdir -p bin
go build -o bin/slardar ./cmd/slardar
go build -o bin/backend ./examples/backend
echo "logs: $LOGDIR"

for b in "${BACKENDS[@]}"; do
  name=${b%% *} addr=${b##* }
  say "starting backend $name on $addr"
  bin/backend -listen "$addr" -name "$name" >"$LOGDIR/backend-$name.log" 2>&1 &
  PIDS+=($!)
done
for b in "${BACKENDS[@]}"; do
  wait_http "http://${b##* }/health" 10 || die "backend ${b%% *} not ready within 10 s"
done

say "starting slardar with its embedded default config (no -config)"
echo "\$ bin/slardar"
bin/slardar >"$LOGDIR/slardar.log" 2>&1 &
SLARDAR_PID=$!
PIDS+=("$SLARDAR_PID")
wait_http "http://$ADMIN/health" "$READY_TIMEOUT" || die "slardar admin /health not 200 within ${READY_TIMEOUT}s"
wait_http "http://$PROXY/" "$READY_TIMEOUT" "$HOST" || die "no routed answer for Host: $HOST within ${READY_TIMEOUT}s"
echo "slardar is serving: proxy http://$PROXY, admin http://$ADMIN"

say "six requests routed by the Host header (weights b1:b2 = 1:2)"
declare -A seen=()
for _ in 1 2 3 4 5 6; do
  echo "\$ curl -s -H 'Host: $HOST' http://$PROXY/"
  out=$(curl -s -m 5 -H "Host: $HOST" "http://$PROXY/") || die "request through slardar failed"
  printf '%s\n' "$out"
  for b in "${BACKENDS[@]}"; do
    name=${b%% *}
    if [[ $out == "hello from $name "* ]]; then seen[$name]=$((${seen[$name]:-0} + 1)); fi
  done
done
echo "served by b1: ${seen[b1]:-0}, b2: ${seen[b2]:-0}"
[ $((${seen[b1]:-0} + ${seen[b2]:-0})) -eq 6 ] || die "some answers came from neither backend"

say "an unknown Host gets no upstream"
printf '%s\n' "\$ curl -s -o /dev/null -w '%{http_code}\\n' -H 'Host: nobody.local' http://$PROXY/"
curl -s -m 5 -o /dev/null -w '%{http_code}\n' -H "Host: nobody.local" "http://$PROXY/" || true

cat <<EOF

Try next, in another terminal (admin API on $ADMIN):
  # clusters and their servers, then the health of every peer
  curl -s http://$ADMIN/upstreams
  curl -s http://$ADMIN/status
  # add a cluster, route to it, remove it again
  curl -s -X POST http://$ADMIN/upstream/demo.local -d '{"servers":[{"host":"127.0.0.1","port":9002}]}'
  curl -s -H 'Host: demo.local' http://$PROXY/hello
  curl -s -X DELETE http://$ADMIN/upstream/demo.local
  # stop backend b2 and watch /status mark it down while b1 takes all requests
  kill -TERM ${PIDS[1]}

EOF

if [ "$NO_WAIT" = 1 ]; then
  say "--no-wait: done"
  exit 0
fi
say "running; press Ctrl-C to stop slardar and the backends"
# Returns when slardar exits on its own, or when Ctrl-C runs the INT trap. A backend
# stopped by hand (see above) does not end the demo: that is what health checks are for.
rc=0
wait "$SLARDAR_PID" || rc=$?
die "slardar exited on its own (status $rc); see $LOGDIR/slardar.log"
