#!/usr/bin/env bash
# A local Argilla stack for annotation, on loopback only:
#   Redis (Debian redis-server)  +  noida-db (an Elasticsearch-compatible engine from PyPI)
#   +  argilla-server 2.8.0 (its own virtual environment: it pins pydantic/fastapi/typer).
#
#   scripts/argilla_stack.sh install   # apt redis-server + the server venv (skipped when present)
#   scripts/argilla_stack.sh up        # install if needed, start the three processes, wait until ready
#   scripts/argilla_stack.sh down      # stop them, by the PIDs in the pid files (nothing else)
#   scripts/argilla_stack.sh status    # exit 0 when all three run and the API answers, 3 otherwise
#   scripts/argilla_stack.sh restart-server   # stop and start argilla-server alone (its data is kept)
#   scripts/argilla_stack.sh install-browser   # Debian chromium, for tests/test_annotation_browser.py
#
# Settings (environment):
#   ARGILLA_STACK_DIR         data, logs and pid files (default: ${BENCH_WORKSPACE:-./bench-workspace}/argilla)
#   ARGILLA_SERVER_VENV       the server's venv (default: <repo>/.argilla-venv)
#   ARGILLA_STACK_PORT        Argilla HTTP port (default 6930)
#   ARGILLA_STACK_REDIS_PORT  Redis port (default 6389)
#   ARGILLA_STACK_ES_PORT     Elasticsearch-API port of noida-db (default 9230)
# The owner user is Argilla's default local one (user "argilla", password "12345678",
# API key "argilla.apikey"): for local use only, the stack listens on 127.0.0.1 alone.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${ARGILLA_SERVER_VENV:-$REPO/.argilla-venv}
DATA=${ARGILLA_STACK_DIR:-${BENCH_WORKSPACE:-./bench-workspace}/argilla}
HOST=127.0.0.1
PORT=${ARGILLA_STACK_PORT:-6930}
REDIS_PORT=${ARGILLA_STACK_REDIS_PORT:-6389}
ES_PORT=${ARGILLA_STACK_ES_PORT:-9230}
SERVER_PIN="argilla-server==2.8.0"
NOIDA_PIN="noida-db==0.2.3"
STAMP="$VENV/.argilla-stack-installed"
STAMP_TEXT="$SERVER_PIN $NOIDA_PIN click<8.2 huggingface-hub<1.0"
DEFAULT_API_KEY="argilla.apikey"   # Argilla's default local dev key (create_default)
DEFAULT_PASSWORD="12345678"
URL="http://$HOST:$PORT"
[ -d "$DATA" ] && DATA=$(cd "$DATA" && pwd)   # absolute: pid checks compare it with command lines
SERVICES=(argilla noida redis)     # stop order; start order is the reverse

say() { echo "argilla-stack: $*"; }
die() { echo "argilla-stack: error: $*" >&2; exit 2; }

# -- install -------------------------------------------------------------------------------
apt_install() {  # apt_install PACKAGE... (root only; the lists are refreshed once)
  [ "$(id -u)" = 0 ] || die "missing $*: run 'sudo apt-get install $*' (or run this as root)"
  local log; log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive
  # RUNLEVEL=1: maintainer scripts start no system-wide service (no redis on 6379).
  if ! { apt-get update -qq && RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2; rm -f "$log"; die "apt-get could not install $*"
  fi
  rm -f "$log"
}

install_redis() {
  command -v redis-server >/dev/null && return 0
  say "installing Debian redis-server (apt)"
  apt_install redis-server
}

install_browser() {  # only for the browser test: Debian's Chromium (no browser download)
  [ -x /usr/bin/chromium ] && return 0
  say "installing Debian chromium (apt)"
  apt_install chromium
}

install_venv() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ] && [ -x "$VENV/bin/python" ] && return 0
  say "creating the server venv $VENV ($SERVER_PIN, $NOIDA_PIN)"
  local py=${ARGILLA_STACK_PYTHON:-python3}
  "$py" -m venv "$VENV"
  local log; log=$(mktemp)
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SERVER_PIN" "$NOIDA_PIN" \
      'click<8.2' 'huggingface-hub<1.0' >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" | tail -n 20 >&2; rm -f "$log"; die "pip could not install the server venv"
  fi
  rm -f "$log"
  echo "$STAMP_TEXT" > "$STAMP"
}

installed() { command -v redis-server >/dev/null && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ] \
  && [ -x "$VENV/bin/python" ]; }

cmd_install() {  # idempotent: skipped when everything is there
  if installed; then [ "${1:-}" = quiet ] || say "already installed (venv $VENV)"; return 0; fi
  local t0=$SECONDS
  install_redis
  install_venv
  say "installed in $((SECONDS - t0)) s: redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), venv $VENV"
}

# -- helpers -------------------------------------------------------------------------------
noida_bin() {
  "$VENV/bin/python" - <<'PY'
import os, noida_db
print(os.path.join(os.path.dirname(noida_db.__file__), "noida-db"))
PY
}

pid_of() {  # the PID recorded for a service, if that process still runs and is ours
  local f="$DATA/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  local cmd; cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline")
  case "$1" in  # the process must still be ours: right program, our port or data folder
    redis) [[ "$cmd" == *redis-server*":$REDIS_PORT"* ]] ;;
    noida) [[ "$cmd" == *noida-db*"$DATA/es"* ]] ;;
    argilla) [[ "$cmd" == *argilla_server*"--port $PORT"* ]] ;;
  esac || return 1
  echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

port_holder() {  # port_holder PORT: which local Argilla stack listens on PORT (its data folder and pid)
  local port=$1 p cmd dir
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
    case "$cmd" in
      *argilla_server*"--port $port "*|*redis-server*":$port"*) dir=$(readlink "$p/cwd" 2>/dev/null) || continue
        dir=${dir%/*} ;;                              # cwd is <stack>/server or <stack>/redis
      *noida-db*"--elasticsearch-port $port"*) dir=${cmd#*--data-dir }; dir=${dir%% *}; dir=${dir%/es} ;;
      *) continue ;;
    esac
    echo "the Argilla stack with data in $dir (pid ${p#/proc/}; stop it with ARGILLA_STACK_DIR=$dir $0 down)"
    return 0
  done
  echo "another program"
}

port_taken() {  # port_taken PORT WHAT VARIABLE: exit with a message naming who holds the port
  die "port $1 ($2) is held by $(port_holder "$1"); stop that, or give this stack free ports with" \
      "ARGILLA_STACK_PORT / ARGILLA_STACK_REDIS_PORT / ARGILLA_STACK_ES_PORT (here: $3; then point bench at it with" \
      "ARGILLA_API_URL=http://$HOST:<ARGILLA_STACK_PORT>)"
}

wait_for() {  # wait_for NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ! pid_of "$name" >/dev/null; then
      tail -n 20 "$DATA/logs/$name.log" >&2 || true
      die "$name exited during start (log: $DATA/logs/$name.log)"
    fi
    [ $SECONDS -lt $deadline ] || die "$name not ready after ${limit}s (log: $DATA/logs/$name.log)"
    sleep 0.3
  done
}

api_ready() { curl -sf -m 3 -H "X-Argilla-Api-Key: $DEFAULT_API_KEY" "$URL/api/v1/me" >/dev/null; }

start_bg() {  # start_bg NAME COMMAND... : own session (process group), PID to pids/NAME.pid
  local name=$1; shift
  setsid "$@" >>"$DATA/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$DATA/pids/$name.pid"
}

server_env() {
  export ARGILLA_HOME_PATH="$DATA/server"
  export ARGILLA_DATABASE_URL="sqlite+aiosqlite:///$DATA/server/argilla.db?check_same_thread=False"
  export ARGILLA_SEARCH_ENGINE=elasticsearch
  export ARGILLA_ELASTICSEARCH="http://$HOST:$ES_PORT"
  export ARGILLA_REDIS_URL="redis://$HOST:$REDIS_PORT/0"
  export ARGILLA_AUTH_SECRET_KEY; ARGILLA_AUTH_SECRET_KEY=$(cat "$DATA/server/secret_key")
  export ARGILLA_ENABLE_TELEMETRY=0 HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1
  export ARGILLA_SHOW_HUGGINGFACE_SPACE_PERSISTENT_STORAGE_WARNING=false
}

# -- up / down / status --------------------------------------------------------------------
cmd_up() {
  cmd_install quiet
  mkdir -p "$DATA"/{pids,logs,redis,es,server}
  DATA=$(cd "$DATA" && pwd)
  if cmd_status >/dev/null 2>&1; then say "already running at $URL"; return 0; fi
  local t0=$SECONDS
  [ -f "$DATA/server/secret_key" ] || (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))' > "$DATA/server/secret_key")

  # every port is checked before anything starts: a second stack never leaves half its services running
  pid_of redis >/dev/null || ! port_busy "$REDIS_PORT" || port_taken "$REDIS_PORT" redis ARGILLA_STACK_REDIS_PORT
  pid_of noida >/dev/null || ! port_busy "$ES_PORT" || port_taken "$ES_PORT" "search engine" ARGILLA_STACK_ES_PORT
  pid_of argilla >/dev/null || ! port_busy "$PORT" || port_taken "$PORT" argilla ARGILLA_STACK_PORT
  if ! pid_of redis >/dev/null; then
    port_busy "$REDIS_PORT" && port_taken "$REDIS_PORT" redis ARGILLA_STACK_REDIS_PORT
    start_bg redis redis-server --bind "$HOST" --port "$REDIS_PORT" --dir "$DATA/redis" --save '' \
      --appendonly no --protected-mode yes --daemonize no
  fi
  if ! pid_of noida >/dev/null; then
    port_busy "$ES_PORT" && port_taken "$ES_PORT" "search engine" ARGILLA_STACK_ES_PORT
    start_bg noida "$(noida_bin)" start --data-dir "$DATA/es" --host "$HOST" --only elasticsearch --elasticsearch-port "$ES_PORT"
  fi
  wait_for redis 30 redis-cli -h "$HOST" -p "$REDIS_PORT" ping
  wait_for noida 60 curl -sf -m 3 "http://$HOST:$ES_PORT/"

  server_env
  if ! pid_of argilla >/dev/null; then
    port_busy "$PORT" && port_taken "$PORT" argilla ARGILLA_STACK_PORT
    (cd "$DATA/server" && "$VENV/bin/python" -m argilla_server database migrate) >>"$DATA/logs/argilla-setup.log" 2>&1 \
      || die "database migration failed (log: $DATA/logs/argilla-setup.log)"
    (cd "$DATA/server" && "$VENV/bin/python" -m argilla_server database users create_default --password "$DEFAULT_PASSWORD") \
      >>"$DATA/logs/argilla-setup.log" 2>&1 || true   # fails harmlessly when the user exists
    (cd "$DATA/server" && start_bg argilla "$VENV/bin/python" -m argilla_server start --host "$HOST" --port "$PORT")
  fi
  wait_for argilla 120 api_ready
  say "up in $((SECONDS - t0)) s: $URL (data: $DATA)"
}

stop_one() {
  local name=$1 pid i
  if pid=$(pid_of "$name"); then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
    if [ -d "/proc/$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$DATA/pids/$name.pid"
}

cmd_down() {
  [ -d "$DATA/pids" ] || { say "not running (no $DATA/pids)"; return 0; }
  local s; for s in "${SERVICES[@]}"; do stop_one "$s"; done
}

cmd_restart_server() {  # stop and start argilla-server alone (redis and the search engine keep running)
  stop_one argilla
  cmd_up
}

cmd_status() {
  local s pid rc=0
  for s in redis noida argilla; do
    if pid=$(pid_of "$s"); then echo "$s: running (pid $pid)"; else echo "$s: stopped"; rc=3; fi
  done
  if ! api_ready; then echo "api: not answering at $URL"; rc=3
  elif [ $rc = 0 ]; then echo "api: ready at $URL"
  else echo "api: something answers at $URL, but not this stack (data: $DATA)"; fi
  return $rc
}

case "${1:-}" in
  install) cmd_install ;;
  install-browser) install_browser ;;
  up) cmd_up ;;
  down) cmd_down ;;
  restart-server) cmd_restart_server ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|install-browser|up|down|restart-server|status" >&2; exit 2 ;;
esac
