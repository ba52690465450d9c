#!/usr/bin/env bash
# Starts and stops the databases Stepwise needs on a machine without a Docker engine:
#   - Redis from Debian's redis-server package (installed when missing and running as root);
#   - a MongoDB wire-protocol stand-in (mongo-java-server) built from tools/mongo-stand-in.
# Both listen on loopback only. State (pids, logs) lives in .local/ (or $STEPWISE_LOCAL_DIR).
# By default both keep their data in memory (tests, CI: fast, isolated, gone at stop). With
# `start --durable`, data is kept under $STEPWISE_LOCAL_DIR/data: Redis in an append-only file,
# MongoDB in an H2 MVStore file; a later `start --durable` finds it again.
#
# usage: scripts/local-services.sh start [--durable]|stop|status|env|stand-in-command
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

# A pid file can outlive its process (a SIGKILL, a reboot), and pids are soon reused: a pid counts
# as ours only while it still runs the program we started, on our port.
running() {
  local name=$1 pidfile="$state_dir/$1.pid" pattern
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  case "$name" in
    redis) pattern="redis-server.*:$redis_port" ;;
    mongo) pattern="MongoStandIn.*--port $mongo_port" ;;
  esac
  if kill -0 "$pid" 2>/dev/null && [ -r "/proc/$pid/cmdline" ] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"; then
    return 0
  fi
  rm -f "$pidfile"
  return 1
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

ensure_stand_in_built() {
  if [ -f "$stand_in/target/mongo-stand-in-1.0.0.jar" ] && [ -d "$stand_in/target/lib" ] &&
     [ "$stand_in/target/mongo-stand-in-1.0.0.jar" -nt "$stand_in/src/main/java/dev/stepwise/mongo/MongoStandIn.java" ] &&
     [ "$stand_in/target/mongo-stand-in-1.0.0.jar" -nt "$stand_in/pom.xml" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || { log "Maven (mvn) is required to build the MongoDB stand-in"; return 1; }
  command -v java >/dev/null 2>&1 || { log "Java 17+ is required to run the MongoDB stand-in"; return 1; }
  log "building the MongoDB stand-in (mongo-java-server) with Maven"
  (cd "$stand_in" && mvn -q -B package -DskipTests) >&2
}

start_redis() {
  local pidfile="$state_dir/redis.pid"
  if running redis; then
    log "redis already running (pid $(cat "$pidfile"))"; return 0
  fi
  if port_open "$redis_port"; then
    log "port $redis_port is already in use; set REDIS_PORT to a free port"; return 1
  fi
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
  if port_open "$mongo_port"; then
    log "port $mongo_port is already in use; set MONGO_PORT to a free port"; return 1
  fi
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
case "${1:-}" in
  start)
    case "${2:-}" in
      --durable) durable=true ;;
      "") ;;
      *) echo "usage: $0 start [--durable]" >&2; exit 2 ;;
    esac
    start_redis; start_mongo; print_env ;;
  # Builds the MongoDB stand-in if needed and prints the java command line that runs it (for the
  # soak harness, which runs and pauses its own instance).
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
  *) echo "usage: $0 start [--durable]|stop|status|env|stand-in-command" >&2; exit 2 ;;
esac
