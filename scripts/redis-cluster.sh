#!/usr/bin/env bash
# Starts and stops a real Redis Cluster on loopback from Debian's redis-server: three masters and a
# replica each (six processes on ports BASE..BASE+5), so that tests and the soak run against the
# distributed engine production deployments use (docs/scaling.md). Data is kept in memory only.
# State (pids, logs, nodes.conf files) lives in $STEPWISE_LOCAL_DIR/redis-cluster (or .local/).
#
# usage: scripts/redis-cluster.sh start|stop|status|env|nodes
# env:   REDIS_CLUSTER_PORT (first port, default 7000), STEPWISE_LOCAL_DIR (.local)
#        REDIS_CLUSTER_NODE_TIMEOUT_MS (2000: how soon a replica replaces a master that stopped)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_dir="${STEPWISE_LOCAL_DIR:-$root/.local}/redis-cluster"
base_port="${REDIS_CLUSTER_PORT:-7000}"
node_timeout="${REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}"
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base_port + i))); done

log() { printf '[redis-cluster] %s\n' "$*" >&2 || true; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Debian's redis-server package brings redis-cli too; local-services.sh installs it when missing.
ensure_redis_installed() { bash "$root/scripts/local-services.sh" prepare redis; }

# A pid counts as ours only while it still runs redis-server in cluster mode on our port.
own_pid() { # port -> pid or nothing
  local pidfile="$state_dir/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server.*:$1 \[cluster\]" &&
    echo "$pid"
}

cluster_ok() {
  local info
  info=$(redis-cli -p "${ports[0]}" cluster info 2>/dev/null) || return 1
  grep -q '^cluster_state:ok' <<<"$info" && grep -q '^cluster_slots_assigned:16384' <<<"$info" &&
    grep -q '^cluster_known_nodes:6' <<<"$info"
}

start() {
  ensure_redis_installed
  mkdir -p "$state_dir"
  if cluster_ok && own_pid "${ports[0]}" >/dev/null; then
    log "cluster already running on ports ${ports[0]}-${ports[5]}"
    return 0
  fi
  stop_nodes
  for port in "${ports[@]}"; do
    if port_open "$port"; then
      log "port $port is in use by another program; set REDIS_CLUSTER_PORT to a free range"
      return 1
    fi
    rm -f "$state_dir/nodes-$port.conf"
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "nodes-$port.conf" --cluster-node-timeout "$node_timeout" \
      --save '' --appendonly no --dir "$state_dir" --dbfilename "dump-$port.rdb" --daemonize yes \
      --pidfile "$state_dir/$port.pid" --logfile "$state_dir/$port.log"
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 100); do port_open "$port" && break; sleep 0.1; done
    port_open "$port" || { log "node $port did not start; see $state_dir/$port.log"; return 1; }
  done
  local addresses=()
  for port in "${ports[@]}"; do addresses+=("127.0.0.1:$port"); done
  # The first three become masters; --cluster-replicas 1 gives each of them one of the others.
  redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$state_dir/create.log" 2>&1 || {
    log "cluster create failed:"; cat "$state_dir/create.log" >&2; return 1
  }
  for _ in $(seq 1 150); do
    if cluster_ok && replicas_linked; then
      log "cluster ready: masters and replicas on 127.0.0.1:${ports[0]}-${ports[5]} (in memory)"
      return 0
    fi
    sleep 0.2
  done
  log "the cluster did not become ready within 30 s"
  redis-cli -p "${ports[0]}" cluster info >&2 || true
  return 1
}

# Every replica has finished its first sync, so a failover right after start loses nothing.
replicas_linked() {
  local port role
  for port in "${ports[@]}"; do
    role=$(redis-cli -p "$port" info replication 2>/dev/null) || return 1
    if grep -q '^role:slave' <<<"$role"; then
      grep -q '^master_link_status:up' <<<"$role" || return 1
    fi
  done
}

stop_nodes() {
  local pid
  for port in "${ports[@]}"; do
    pid=$(own_pid "$port") || { rm -f "$state_dir/$port.pid"; continue; }
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$state_dir/$port.pid"
  done
}

print_env() {
  # Any node is a seed; naming all three first ports lets a client start while one is down.
  echo "REDIS_URL=redis://127.0.0.1:${ports[0]},redis://127.0.0.1:${ports[1]},redis://127.0.0.1:${ports[2]}"
  echo "REDIS_CLUSTER=true"
}

case "${1:-}" in
  start) start; print_env ;;
  stop) stop_nodes; log "cluster stopped" ;;
  status)
    if cluster_ok; then echo "redis cluster: ok on ${ports[0]}-${ports[5]}"; else echo "redis cluster: down"; exit 1; fi ;;
  env) print_env ;;
  # CLUSTER NODES from the first reachable node: which port is a master of which slots.
  nodes)
    for port in "${ports[@]}"; do redis-cli -p "$port" cluster nodes 2>/dev/null && exit 0; done
    exit 1 ;;
  *) echo "usage: $0 start|stop|status|env|nodes" >&2; exit 2 ;;
esac
