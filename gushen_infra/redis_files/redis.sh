#!/bin/sh
# Entry points of the redis StatefulSet's containers (ConfigMap redis-config, run by `sh`):
#   server     write the runtime redis.conf (role, password) and exec redis-server
#   sentinel   write the runtime sentinel.conf and exec redis-server --sentinel
#   pre-stop   hand the master role over before this pod stops
# Env (set on the containers by gushen_infra/redis.py): REDIS_PASSWORD, REDISCLI_AUTH, MY_HOST,
# REDIS_PORT, SENTINEL_PORT, SEED_MASTER (host:port), SENTINELS ("host:port ..."; empty without
# Sentinel), SENTINEL_MASTER, SENTINEL_QUORUM, SENTINEL_DOWN_AFTER_MS, SENTINEL_FAILOVER_TIMEOUT_MS.
# The password only ever goes into files of the emptyDir (mode 600) and the REDISCLI_AUTH env.
set -eu

CONF_DIR=/etc/redis
RUN_DIR=/run/redis

log() { echo "redis.sh: $*" >&2; }

# A peer that does not answer must not hold a start-up or a hand-over for long.
cli() { timeout 3 redis-cli "$@" 2>/dev/null | tr -d '\r'; }

# "<config-epoch> <host> <port> <known replicas>" of the master named by the Sentinel with the
# newest configuration (the highest config epoch), or nothing when no Sentinel knows one.
sentinel_master() {
  best=""
  best_epoch=-1
  for addr in ${SENTINELS:-}; do
    reply=$(cli -h "${addr%:*}" -p "${addr##*:}" --raw SENTINEL MASTER "$SENTINEL_MASTER")
    found=$(printf '%s\n' "$reply" | awk 'NR % 2 { key = $0; next } { value[key] = $0 }
      END { if (value["ip"] != "" && value["port"] != "") print value["config-epoch"] + 0, value["ip"], value["port"], value["num-slaves"] + 0 }')
    [ -n "$found" ] || continue
    if [ "${found%% *}" -gt "$best_epoch" ]; then
      best_epoch=${found%% *}
      best=$found
    fi
  done
  printf '%s' "$best"
}

role() { cli -p "$REDIS_PORT" INFO replication | sed -n 's/^role://p'; }

server() {
  umask 077
  me="$MY_HOST $REDIS_PORT"
  # The Sentinels still name me, and know replicas of mine: I died before they noticed. Let them
  # promote the replica that has every acknowledged write instead of coming back with my own,
  # older AOF and making the replicas resync from it. (At a cold start they know no replicas.)
  # Should they not fail over in time, I go on as master.
  deadline=$(( $(date +%s) + (${SENTINEL_DOWN_AFTER_MS:-0} + ${SENTINEL_FAILOVER_TIMEOUT_MS:-0}) / 1000 + 5 ))
  while set -- $(sentinel_master) && [ $# -eq 4 ] && [ "$2 $3" = "$me" ] && [ "$4" -gt 0 ] \
      && [ "$(date +%s)" -lt "$deadline" ]; do
    log "the Sentinels still name me as master; waiting for a failover"
    sleep 1
  done
  if [ $# -eq 4 ]; then
    master="$2 $3"
  else
    # No Sentinel knows a master (cold start, or Sentinel disabled): ordinal 0 is the master.
    master="${SEED_MASTER%:*} ${SEED_MASTER##*:}"
  fi
  {
    echo "include $CONF_DIR/redis.conf"
    echo "port $REDIS_PORT"
    echo "requirepass $REDIS_PASSWORD"
    echo "masterauth $REDIS_PASSWORD"
    echo "replica-announce-ip $MY_HOST"
    echo "replica-announce-port $REDIS_PORT"
    if [ "$master" != "$me" ]; then echo "replicaof $master"; fi
  } > "$RUN_DIR/redis.conf"
  if [ "$master" = "$me" ]; then log "starting as master"; else log "starting as replica of $master"; fi
  exec redis-server "$RUN_DIR/redis.conf"
}

sentinel() {
  umask 077
  master=$(sentinel_master)
  if [ -z "$master" ]; then master="0 ${SEED_MASTER%:*} ${SEED_MASTER##*:}"; fi
  set -- $master
  log "monitoring $2:$3 (config epoch $1)"
  # resolve-hostnames must precede the monitor line that names a host.
  cat > "$RUN_DIR/sentinel.conf" <<EOF
port $SENTINEL_PORT
dir $RUN_DIR
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $MY_HOST
sentinel announce-port $SENTINEL_PORT
requirepass $REDIS_PASSWORD
sentinel sentinel-pass $REDIS_PASSWORD
sentinel monitor $SENTINEL_MASTER $2 $3 $SENTINEL_QUORUM
sentinel config-epoch $SENTINEL_MASTER $1
sentinel auth-pass $SENTINEL_MASTER $REDIS_PASSWORD
sentinel down-after-milliseconds $SENTINEL_MASTER $SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $SENTINEL_MASTER $SENTINEL_FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $SENTINEL_MASTER 1
EOF
  exec redis-server "$RUN_DIR/sentinel.conf" --sentinel
}

# "<host> <port>" of the master a Sentinel names now, if it is not me. During a failover the
# leading Sentinel names the promoted replica here before SENTINEL MASTER shows the switch.
other_master() {
  for addr in $SENTINELS; do
    set -- $(cli -h "${addr%:*}" -p "${addr##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME "$SENTINEL_MASTER")
    if [ $# -eq 2 ] && [ "$1 $2" != "$MY_HOST $REDIS_PORT" ]; then
      echo "$1 $2"
      return
    fi
  done
}

# Runs before SIGTERM. A master pauses writes (so the replicas hold every write it accepted), asks
# a Sentinel to promote a replica, and turns itself into that replica's replica at once, rather
# than serve as a second master until the Sentinels demote it seconds later.
pre_stop() {
  [ -n "${SENTINELS:-}" ] && [ "$(role)" = master ] || return 0
  cli -p "$REDIS_PORT" CLIENT PAUSE "$SENTINEL_FAILOVER_TIMEOUT_MS" WRITE > /dev/null
  for addr in $SENTINELS; do
    if [ "$(cli -h "${addr%:*}" -p "${addr##*:}" SENTINEL FAILOVER "$SENTINEL_MASTER")" = OK ]; then
      log "failover requested from $addr"
      break
    fi
  done
  deadline=$(( $(date +%s) + SENTINEL_FAILOVER_TIMEOUT_MS / 1000 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    master=$(other_master)
    if [ -n "$master" ]; then
      cli -p "$REDIS_PORT" REPLICAOF $master > /dev/null
      log "handed over to $master"
      break
    fi
    sleep 0.5
  done
  cli -p "$REDIS_PORT" CLIENT UNPAUSE > /dev/null
}

case "${1:-}" in
  server) server ;;
  sentinel) sentinel ;;
  pre-stop) pre_stop ;;
  *) echo "usage: $0 server|sentinel|pre-stop" >&2; exit 64 ;;
esac
