#!/usr/bin/env bash
# Starts and stops the databases Stepwise needs on a machine without a Docker engine:
#   - Redis from Debian's redis-server package (installed when missing and running as root);
#   - a MongoDB wire-protocol stand-in (mongo-java-server) built from tools/mongo-stand-in.
# Both listen on loopback only. State (pids, logs) lives in .local/ (or $STEPWISE_LOCAL_DIR).
# By default both keep their data in memory (tests, CI: fast, isolated, gone at stop). With
# `start --durable`, data is kept under $STEPWISE_LOCAL_DIR/data: Redis in an append-only file,
# MongoDB in an H2 MVStore file; a later `start --durable` finds it again.
#
# usage: scripts/local-services.sh start [--durable] [redis|mongo]|stop|status|env|prepare [redis|mongo]
#        |stand-in-command
# env:   REDIS_PORT (6379), MONGO_PORT (27017), STEPWISE_LOCAL_DIR (.local)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_dir="${STEPWISE_LOCAL_DIR:-$root/.local}"
redis_port="${REDIS_PORT:-6379}"
mongo_port="${MONGO_PORT:-27017}"
stand_in="$root/tools/mongo-stand-in"
data_dir="$state_dir/data"
durable=false

log() { printf '[local-services] %s\n' "$*" >&2 || true; }

# What our own process of each kind looks like in /proc/PID/cmdline, on our port.
own_pattern() {
  case "$1" in
    redis) echo "redis-server.*:$redis_port" ;;
    mongo) echo "MongoStandIn.*--port $mongo_port" ;;
  esac
}

is_own() { # name pid
  [ -r "/proc/$2/cmdline" ] && tr '\0' ' ' <"/proc/$2/cmdline" | grep -q -- "$(own_pattern "$1")"
}

# A pid file can outlive its process (a SIGKILL, a reboot), and pids are soon reused: a pid counts
# as ours only while it still runs the program we started, on our port.
running() {
  local name=$1 pidfile="$state_dir/$1.pid"
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null && is_own "$name" "$pid"; then
    return 0
  fi
  rm -f "$pidfile"
  return 1
}

# The port is taken but no pid file says by whom (it was deleted, or another state directory
# started it). If the holder is our own kind of process on our port, an unclean stop left it
# behind: stop it, so this start can go on instead of refusing. Anything else is left alone.
free_port_from_own() { # name port
  local name=$1 port=$2 pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    is_own "$name" "$pid" 2>/dev/null || continue
    log "stopping the $name an earlier start left on port $port (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do port_open "$port" || return 0; sleep 0.1; done
  done
  if port_open "$port"; then
    log "port $port is already in use by another program; set ${name^^}_PORT to a free port"
    return 1
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 name=$2 pidfile=$3
  for _ in $(seq 1 150); do
    if port_open "$port"; then return 0; fi
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "$name exited during start-up; see $state_dir/$name.log"
      tail -n 20 "$state_dir/$name.log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
  log "$name did not open port $port within 30 s"
  return 1
}

ensure_redis_installed() {
  if command -v redis-server >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    log "redis-server is not installed; run as root to install it, or: apt-get install redis-server"
    return 1
  fi
  log "installing redis-server from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

# The stand-in's jar is there and newer than its sources and pom.
stand_in_built() {
  [ -f "$stand_in/target/mongo-stand-in-1.0.0.jar" ] && [ -d "$stand_in/target/lib" ] &&
    [ -z "$(find "$stand_in/src" -newer "$stand_in/target/mongo-stand-in-1.0.0.jar" -print -quit)" ] &&
    [ "$stand_in/target/mongo-stand-in-1.0.0.jar" -nt "$stand_in/pom.xml" ]
}

ensure_stand_in_built() {
  if stand_in_built; then return 0; fi
  command -v mvn >/dev/null 2>&1 || { log "Maven (mvn) is required to build the MongoDB stand-in"; return 1; }
  command -v java >/dev/null 2>&1 || { log "Java 17+ is required to run the MongoDB stand-in"; return 1; }
  log "building the MongoDB stand-in (mongo-java-server) with Maven"
  # Maven 3.8 writes colour resets even in batch mode; its output is shown only when it fails.
  local output
  if ! output=$(cd "$stand_in" && mvn -q -B -Dstyle.color=never package -DskipTests 2>&1); then
    log "building the stand-in failed:"
    printf '%s\n' "$output" | sed 's/\x1b\[[0-9;]*m//g' >&2
    return 1
  fi
}

start_redis() {
  local pidfile="$state_dir/redis.pid"
  if running redis; then
    log "redis already running (pid $(cat "$pidfile"))"; return 0
  fi
  if port_open "$redis_port"; then free_port_from_own redis "$redis_port"; fi
  ensure_redis_installed
  local persistence=(--save '' --appendonly no --dir "$state_dir")
  if $durable; then
    mkdir -p "$data_dir/redis"
    # Every write is in the append-only file within a second; a restart replays it.
    persistence=(--save '' --appendonly yes --appendfsync everysec --dir "$data_dir/redis")
  fi
  redis-server --port "$redis_port" --bind 127.0.0.1 "${persistence[@]}" \
    --daemonize yes --pidfile "$pidfile" --logfile "$state_dir/redis.log"
  wait_for_port "$redis_port" redis "$pidfile"
  if $durable; then
    log "redis listening on 127.0.0.1:$redis_port (data in $data_dir/redis)"
  else
    log "redis listening on 127.0.0.1:$redis_port (in memory)"
  fi
}

start_mongo() {
  local pidfile="$state_dir/mongo.pid"
  if running mongo; then
    log "mongo stand-in already running (pid $(cat "$pidfile"))"; return 0
  fi
  if port_open "$mongo_port"; then free_port_from_own mongo "$mongo_port"; fi
  ensure_stand_in_built
  local storage=()
  if $durable; then
    mkdir -p "$data_dir"
    storage=(--data-file "$data_dir/mongo.mv.db")
  fi
  nohup java -Xmx4g -cp "$stand_in/target/mongo-stand-in-1.0.0.jar:$stand_in/target/lib/*" \
    dev.stepwise.mongo.MongoStandIn --host 127.0.0.1 --port "$mongo_port" "${storage[@]}" \
    >"$state_dir/mongo.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_for_port "$mongo_port" mongo "$pidfile"
  if $durable; then
    log "mongo stand-in listening on 127.0.0.1:$mongo_port (data in $data_dir/mongo.mv.db)"
  else
    log "mongo stand-in listening on 127.0.0.1:$mongo_port (in memory)"
  fi
}

stop_one() {
  local name=$1 pidfile="$state_dir/$1.pid"
  running "$name" || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

print_env() {
  echo "MONGO_URL=mongodb://127.0.0.1:$mongo_port/stepwise"
  echo "REDIS_URL=redis://127.0.0.1:$redis_port"
}

mkdir -p "$state_dir"
usage="usage: $0 start [--durable] [redis|mongo]|stop|status|env|prepare|needs-prepare|stand-in-command"
case "${1:-}" in
  start)
    shift
    which=(redis mongo)
    for arg in "$@"; do
      case "$arg" in
        --durable) durable=true ;;
        redis|mongo) which=("$arg") ;;
        *) echo "$usage" >&2; exit 2 ;;
      esac
    done
    for name in "${which[@]}"; do "start_$name"; done
    print_env ;;
  # Installs Redis and builds the stand-in when they are missing, without starting anything: the
  # slow first-start work, which `npm run stack` times as phases of their own.
  prepare)
    case "${2:-}" in
      redis) ensure_redis_installed ;;
      mongo) ensure_stand_in_built ;;
      "") ensure_redis_installed; ensure_stand_in_built ;;
      *) echo "$usage" >&2; exit 2 ;;
    esac ;;
  # Exits 0 when `prepare NAME` has work to do (Redis to install, the stand-in to build).
  needs-prepare)
    case "${2:-}" in
      redis) ! command -v redis-server >/dev/null 2>&1 ;;
      mongo) ! stand_in_built ;;
      *) echo "$usage" >&2; exit 2 ;;
    esac ;;
  # Builds the MongoDB stand-in if needed and prints the java command line that runs it (for the
  # soak harness and tests, which run their own instances).
  stand-in-command)
    ensure_stand_in_built
    echo "java -Xmx4g -cp $stand_in/target/mongo-stand-in-1.0.0.jar:$stand_in/target/lib/* dev.stepwise.mongo.MongoStandIn" ;;
  stop) stop_one mongo; stop_one redis ;;
  status)
    for name in redis mongo; do
      if running "$name"; then
        echo "$name: running (pid $(cat "$state_dir/$name.pid"))"
      else
        echo "$name: stopped"
      fi
    done ;;
  env) print_env ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
