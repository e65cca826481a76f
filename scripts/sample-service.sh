#!/usr/bin/env bash
# The sample DHash service (examples/dhash-service) as the shipped guarded-rollout.config.json
# expects it: live tree .sample-service/dhash, log .sample-service/dhash.log, on
# http://127.0.0.1:${SAMPLE_SERVICE_PORT:-8080}. With it running, every runbook command of the seeds
# works verbatim from the repository root (see README "Runbook commands").
#   ./scripts/sample-service.sh start|stop|restart|status
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.sample-service
root=$dir/dhash
state=$dir/supervisor.json # our copy of the supervisor's pid and port (a restore may replace $root)
port=${SAMPLE_SERVICE_PORT:-8080}
src=examples/dhash-service/src

healthy() { # bounded: 2 s per probe
  node -e "fetch('http://127.0.0.1:'+process.argv[1]+'/health',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "$1"
}
pid_of() { [ -s "$state" ] && node -p "JSON.parse(require('fs').readFileSync('$state','utf8')).pid" 2>/dev/null; }
port_of() { node -p "JSON.parse(require('fs').readFileSync('$state','utf8')).port"; }
running() { local pid; pid=$(pid_of) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
wait_healthy() { # up to ~20 s
  for _ in $(seq 1 200); do
    healthy "$1" && return 0
    sleep 0.1
  done
  echo "sample-service: no healthy answer on port $1 within 20 s (log: $dir/dhash.log)" >&2
  return 1
}

case "${1:-}" in
  start)
    if running; then
      echo "sample-service: already running on http://127.0.0.1:$(port_of) (pid $(pid_of))"
      exit 0
    fi
    mkdir -p "$dir"
    [ -f "$root/releases.json" ] || node "$src/ctl.mjs" init --root "$root" --fault none >/dev/null
    rm -f "$root/supervisor.json"
    nohup node "$src/supervisor.mjs" --root "$root" --port "$port" --log "$dir/dhash.log" \
      >"$dir/supervisor.out" 2>&1 </dev/null &
    echo "{\"pid\": $!, \"port\": $port}" >"$state"
    wait_healthy "$port"
    # A few requests, so the log has request lines for `validate_logging.js` to judge.
    node "$src/traffic.mjs" --url "http://127.0.0.1:$port" --seconds 2 --workers 1 >/dev/null
    echo "sample-service: running on http://127.0.0.1:$port (pid $(pid_of), live tree $root, log $dir/dhash.log)"
    ;;
  restart)
    running || { echo "sample-service: not running (start it with ./scripts/sample-service.sh start)" >&2; exit 1; }
    kill -HUP "$(pid_of)"
    sleep 0.3 # the old process stops first; then wait for the new one
    wait_healthy "$(port_of)"
    echo "sample-service: restarted on http://127.0.0.1:$(port_of)"
    ;;
  stop)
    if running; then
      pid=$(pid_of)
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "sample-service: stopped (pid $pid)"
    else
      echo "sample-service: not running"
    fi
    rm -f "$state"
    ;;
  status)
    if running && healthy "$(port_of)"; then
      echo "sample-service: healthy on http://127.0.0.1:$(port_of) (pid $(pid_of))"
    else
      echo "sample-service: not running or not healthy"
      exit 1
    fi
    ;;
  *)
    echo "usage: ./scripts/sample-service.sh start|stop|restart|status" >&2
    exit 2
    ;;
esac
