#!/bin/sh
# Entry points of the redis StatefulSet's containers (ConfigMap redis-config):
#   server     write the runtime redis.conf (role, password) and exec redis-server
#   sentinel   write the runtime sentinel.conf and exec redis-server --sentinel
#   pre-stop   hand the master role over before this pod stops
#   ready      the redis container's readiness probe
#   forget-previous   stop accepting the password of before a rotation (docs/redis.md)
#   +switch-master ...   Sentinel's notification script: remember the new master on the PVC
# Env (set on the containers by gushen_infra/redis.py): REDIS_PASSWORD, REDISCLI_AUTH, MY_HOST,
# REDIS_PORT, SENTINEL_PORT, SEED_MASTER (host:port), SENTINELS ("host:port ..."; empty without
# Sentinel), SENTINEL_MASTER, SENTINEL_QUORUM, SENTINEL_DOWN_AFTER_MS, SENTINEL_FAILOVER_TIMEOUT_MS.
# The password only ever goes into files of the emptyDir (mode 600) and the REDISCLI_AUTH env.
set -eu

CONF_DIR=/etc/redis
RUN_DIR=/run/redis
DATA_DIR=/data
# "<config-epoch> <host> <port>" of the newest master this pod's Sentinel has seen. It lives on
# the PVC, so a pod restarted with a fresh emptyDir still knows which failover happened last.
STATE="$DATA_DIR/sentinel-master"
# "<password>\n<previous password>" this pod runs with (mode 600, on the PVC beside the data it
# protects): after a rotation the previous one is still accepted, until `forget-previous`.
PASSWORDS="$DATA_DIR/redis-passwords"

log() { echo "redis.sh: $*" >&2; }

# A peer that does not answer must not hold a start-up or a hand-over for long.
CLI_TIMEOUT=3
cli() { timeout "$CLI_TIMEOUT" redis-cli "$@" 2>/dev/null | tr -d '\r'; }

# "<config-epoch> <host> <port> <known replicas>" of the master one Sentinel names, or nothing.
view_of() {
  cli -h "$1" -p "$2" --raw SENTINEL MASTER "$SENTINEL_MASTER" | awk 'NR % 2 { key = $0; next } { value[key] = $0 }
    END { if (value["ip"] != "" && value["port"] != "") print value["config-epoch"] + 0, value["ip"], value["port"], value["num-slaves"] + 0 }'
}

# One view line per Sentinel that answers.
sentinel_views() {
  for addr in ${SENTINELS:-}; do view_of "${addr%:*}" "${addr##*:}"; done
}

# The line with the highest config epoch (the newest configuration) among those on stdin.
newest() { sort -n -k1,1 | tail -n 1; }

# The password before the current one (a rotation), or nothing. The first start on a new
# password records the one it replaces; both containers of the pod and every restart agree.
previous_password() {
  # One read: the pod's other container may rewrite the file meanwhile (with the same content).
  stored=$(cat "$PASSWORDS" 2>/dev/null || true)
  last=$(printf '%s\n' "$stored" | sed -n 1p)
  if [ "$last" = "$REDIS_PASSWORD" ]; then
    printf '%s\n' "$stored" | sed -n 2p
    return
  fi
  printf '%s\n%s\n' "$REDIS_PASSWORD" "$last" > "$PASSWORDS.$$"
  mv "$PASSWORDS.$$" "$PASSWORDS"
  echo "$last"
}

# ACL line of the default user: the current password, and the previous one during a rotation.
default_user() { echo "user default on >$REDIS_PASSWORD${1:+ >$1} ~* &* +@all"; }

# "host:port" of every Redis one Sentinel knows (master and replicas), asked with password $1.
known_servers() {
  (
    REDISCLI_AUTH=$1
    for addr in $SENTINELS; do
      set -- $(view_of "${addr%:*}" "${addr##*:}")
      [ $# -eq 4 ] || continue
      echo "$2:$3"
      cli -h "${addr%:*}" -p "${addr##*:}" --raw SENTINEL REPLICAS "$SENTINEL_MASTER" | awk 'NR % 2 { key = $0; next } key == "name"'
      break
    done
  )
}

# A rotation: the running Redis and Sentinel processes may know only the previous password ($1).
# Add the new one to each (they then accept both), so this pod can use it at once: its replica
# link, its Sentinel's links and every client on the new password work from its start, while
# the pods not yet restarted keep using the previous one. Commands go to redis-cli on stdin:
# no password on a command line.
share_password() {
  [ -n "$1" ] && [ -n "${SENTINELS:-}" ] || return 0
  for addr in $SENTINELS $(known_servers "$1"); do
    if printf 'ACL SETUSER default >%s\n' "$REDIS_PASSWORD" | (REDISCLI_AUTH=$1; cli -h "${addr%:*}" -p "${addr##*:}") | grep -q OK; then
      log "$addr accepts the new password"
    fi
  done
}

# The Redis servers started before this version (or by the cluster we adopt) lack the users of
# our redis.conf, HAProxy's check user among them: add them, so a new proxy sees the master
# before its pod is replaced. Redis only: the Sentinels have no such user.
share_users() {
  [ -n "${SENTINELS:-}" ] || return 0
  for addr in $(known_servers "$REDIS_PASSWORD"); do
    sed -n 's/^user /ACL SETUSER /p' "$CONF_DIR/redis.conf" | cli -h "${addr%:*}" -p "${addr##*:}" > /dev/null
  done
}

# How many Sentinels make a majority of all of them.
majority() { set -- ${SENTINELS:-}; echo $(( $# / 2 + 1 )); }

role() { cli -p "$REDIS_PORT" INFO replication | sed -n 's/^role://p'; }

# Which master to start under, from a majority of the Sentinels. Each Sentinel starts from the
# master its pod last saw (the PVC's $STATE) and learns newer ones from its peers. A failover
# reaches every running Sentinel within seconds, and only the crashed old master's pod can have
# missed it: any majority includes a pod that saw it, so the highest config epoch among a
# majority names the newest master, which holds every acknowledged write. Fewer than a majority
# answering means no election is safe: wait (with fewer than 2 pods up, no write can be
# acknowledged anyway under min-replicas-to-write 1).
elect() {
  need=$(majority)
  while :; do
    views=$(sentinel_views)
    count=$(printf '%s\n' "$views" | grep -c . || true)
    [ "$count" -lt "$need" ] || break
    log "waiting for a majority of the Sentinels ($count of $need answer)"
    sleep 1
  done
  printf '%s\n' "$views" | newest
}

server() {
  umask 077
  previous=$(previous_password)
  share_password "$previous"
  me="$MY_HOST $REDIS_PORT"
  master="${SEED_MASTER%:*} ${SEED_MASTER##*:}"
  if [ -n "${SENTINELS:-}" ]; then
    set -- $(elect)
    # The Sentinels still name me, and know replicas of mine: I died before they noticed. Let
    # them promote the replica that has every acknowledged write instead of coming back with my
    # own, older AOF and making the replicas resync from it. (At a cold start they know no
    # replicas.) Should they not fail over in time, I go on as master.
    deadline=$(( $(date +%s) + (SENTINEL_DOWN_AFTER_MS + SENTINEL_FAILOVER_TIMEOUT_MS) / 1000 + 5 ))
    while [ $# -eq 4 ] && [ "$2 $3" = "$me" ] && [ "$4" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
      log "the Sentinels still name me as master; waiting for a failover"
      sleep 1
      set -- $(elect)
    done
    master="$2 $3"
    share_users
  fi
  # Without Sentinel nothing ever fails over: ordinal 0 is the master.
  {
    echo "include $CONF_DIR/redis.conf"
    echo "port $REDIS_PORT"
    default_user "$previous"
    echo "masterauth $REDIS_PASSWORD"
    echo "replica-announce-ip $MY_HOST"
    echo "replica-announce-port $REDIS_PORT"
    if [ "$master" != "$me" ]; then echo "replicaof $master"; fi
  } > "$RUN_DIR/redis.conf"
  if [ "$master" = "$me" ]; then log "starting as master"; else log "starting as replica of $master"; fi
  exec redis-server "$RUN_DIR/redis.conf"
}

# Write "<epoch> <host> <port>" to $STATE unless it already holds a newer epoch.
remember() {
  if [ -s "$STATE" ] && [ "$(cut -d' ' -f1 "$STATE")" -gt "$1" ]; then return 0; fi
  printf '%s %s %s\n' "$1" "$2" "$3" > "$STATE.tmp"
  mv "$STATE.tmp" "$STATE"
}

sentinel() {
  umask 077
  previous=$(previous_password)
  share_password "$previous"
  # The newest of what the running Sentinels name and what this pod saw last.
  set -- $({ sentinel_views; if [ -s "$STATE" ]; then cat "$STATE"; fi; } | newest)
  if [ $# -lt 3 ]; then set -- 0 "${SEED_MASTER%:*}" "${SEED_MASTER##*:}"; fi
  remember "$1" "$2" "$3"
  log "monitoring $2:$3 (config epoch $1)"
  # resolve-hostnames must precede the monitor line that names a host. current-epoch: the next
  # failover must get a higher epoch than the configuration it replaces.
  cat > "$RUN_DIR/sentinel.conf" <<CONF
port $SENTINEL_PORT
dir $RUN_DIR
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $MY_HOST
sentinel announce-port $SENTINEL_PORT
$(default_user "$previous")
sentinel sentinel-pass $REDIS_PASSWORD
sentinel current-epoch $1
sentinel monitor $SENTINEL_MASTER $2 $3 $SENTINEL_QUORUM
sentinel config-epoch $SENTINEL_MASTER $1
sentinel auth-pass $SENTINEL_MASTER $REDIS_PASSWORD
sentinel down-after-milliseconds $SENTINEL_MASTER $SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $SENTINEL_MASTER $SENTINEL_FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $SENTINEL_MASTER 1
sentinel notification-script $SENTINEL_MASTER $CONF_DIR/redis.sh
CONF
  exec redis-server "$RUN_DIR/sentinel.conf" --sentinel
}

# Sentinel switched to a new master (after its own failover or a peer's): keep it on the PVC.
switched() {
  set -- $(view_of 127.0.0.1 "$SENTINEL_PORT")
  if [ $# -eq 4 ]; then remember "$1" "$2" "$3"; fi
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

# The Sentinels of the other pods. This pod's own Sentinel stops with it: the kubelet sends it
# SIGTERM as the pod starts terminating (it has no preStop hook), while this hook still runs.
peer_sentinels() {
  for addr in $SENTINELS; do
    if [ "$addr" != "$MY_HOST:$SENTINEL_PORT" ]; then echo "$addr"; fi
  done
}

# True if the Sentinel at "$1 $2" has a live link to the master it names (flags exactly "master"):
# just after it switches, it shows "master,disconnected" until it has connected to the new master,
# and a link still down when this pod dies would count toward down-after on the new master.
master_link_up() {
  [ "$(cli -h "$1" -p "$2" --raw SENTINEL MASTER "$SENTINEL_MASTER" | awk 'NR % 2 { key = $0; next } key == "flags" { print }')" = master ]
}

# True once the failover to "$1 $2" is complete: every other pod's Sentinel monitors it
# (SENTINEL MASTER shows the switch only once the leader ended the failover, its peers once the
# leader told them), and it has an online replica besides me (the other replica reconfigured),
# so my stop leaves it a replica to acknowledge writes, and my restart finds every Sentinel on it.
handed_over() {
  for addr in $(peer_sentinels); do
    set -- "$1" "$2" $(view_of "${addr%:*}" "${addr##*:}")
    [ $# -eq 6 ] && [ "$4 $5" = "$1 $2" ] && master_link_up "${addr%:*}" "${addr##*:}" || return 1
    set -- "$1" "$2"
  done
  cli -h "$1" -p "$2" INFO replication | grep '^slave[0-9]*:' | grep 'state=online' | grep -vq "ip=$MY_HOST,port=$REDIS_PORT,"
}

# Runs before SIGTERM. A master pauses writes (so the replicas hold every write it accepted), asks
# another pod's Sentinel to promote a replica, and turns itself into that replica's replica at
# once, rather than serve as a second master until the Sentinels demote it seconds later. Then,
# writes flowing to the new master, it waits for the failover to complete before the pod stops:
# a leading Sentinel stopped in mid-failover leaves the others to see the old master down
# (down-after later) and fail over a second time, from a replica still chained to this pod.
pre_stop() {
  [ -n "${SENTINELS:-}" ] && [ "$(role)" = master ] || return 0
  cli -p "$REDIS_PORT" CLIENT PAUSE "$SENTINEL_FAILOVER_TIMEOUT_MS" WRITE > /dev/null
  for addr in $(peer_sentinels); do
    if [ "$(cli -h "${addr%:*}" -p "${addr##*:}" SENTINEL FAILOVER "$SENTINEL_MASTER")" = OK ]; then
      log "failover requested from $addr"
      break
    fi
  done
  deadline=$(( $(date +%s) + SENTINEL_FAILOVER_TIMEOUT_MS / 1000 ))
  master=
  while [ "$(date +%s)" -lt "$deadline" ]; do
    master=$(other_master)
    if [ -n "$master" ]; then
      cli -p "$REDIS_PORT" REPLICAOF $master > /dev/null
      log "handed over to $master"
      break
    fi
    sleep 0.2
  done
  cli -p "$REDIS_PORT" CLIENT UNPAUSE > /dev/null
  [ -n "$master" ] || return 0
  until handed_over $master; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "the failover to $master did not complete in time"
      return 0
    fi
    sleep 0.2
  done
  log "failover to $master complete"
}

# True if the Sentinel at "$1 $2" lists me as a healthy replica (flags exactly "slave": not
# s_down, not disconnected) of the master it names.
listed_by() {
  cli -h "$1" -p "$2" --raw SENTINEL REPLICAS "$SENTINEL_MASTER" | awk -v me="$MY_HOST:$REDIS_PORT" '
    NR % 2 { key = $0; next }
    key == "name" { name = $0 }
    key == "flags" && name == me && $0 == "slave" { found = 1 }
    END { exit !found }'
}

# Readiness: PONG; a replica also needs a live link to its master and, with Sentinel, to be
# known: every Sentinel that answers (a majority at least) names my master and lists me as its
# replica. Sentinel learns replicas from the master's INFO, every 10 s; a replica it does not
# know is neither a candidate in a failover nor reconfigured by it, and stays chained behind the
# old master. So a rolling update (one pod Ready before the next stops) never outruns Sentinel.
ready() {
  CLI_TIMEOUT=1  # the probe's own timeout is a few seconds
  [ "$(cli -p "$REDIS_PORT" PING)" = PONG ] || return 1
  info=$(cli -p "$REDIS_PORT" INFO replication)
  case "$info" in *role:master*) return 0 ;; esac
  printf '%s\n' "$info" | grep -q '^master_link_status:up$' || return 1
  [ -n "${SENTINELS:-}" ] || return 0
  mine="$(printf '%s\n' "$info" | sed -n 's/^master_host://p') $(printf '%s\n' "$info" | sed -n 's/^master_port://p')"
  known=0
  for addr in $SENTINELS; do
    named=$(cli -h "${addr%:*}" -p "${addr##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME "$SENTINEL_MASTER" | tr '\n' ' ')
    [ -n "$named" ] || continue  # not answering (its pod is down)
    [ "$named" = "$mine " ] && listed_by "${addr%:*}" "${addr##*:}" || return 1
    known=$((known + 1))
  done
  [ "$known" -ge "$(majority)" ]
}

# After a rotation's roll, once no client uses the previous password: drop it from this pod's
# Redis and Sentinel and from the PVC (run in every pod).
forget_previous() {
  previous=$(previous_password)
  [ -n "$previous" ] || return 0
  for port in "$REDIS_PORT" ${SENTINELS:+"$SENTINEL_PORT"}; do
    printf 'ACL SETUSER default <%s\n' "$previous" | cli -p "$port" | grep -q OK || log "port $port did not drop it"
  done
  printf '%s\n' "$REDIS_PASSWORD" > "$PASSWORDS.$$"
  mv "$PASSWORDS.$$" "$PASSWORDS"
  log "the previous password is no longer accepted"
}

case "${1:-}" in
  ready) ready ;;
  forget-previous) forget_previous ;;
  server) server ;;
  sentinel) sentinel ;;
  pre-stop) pre_stop ;;
  +switch-master) switched ;;
  [-+]*) ;;  # Sentinel's other events
  *) echo "usage: $0 server|sentinel|pre-stop|ready|forget-previous" >&2; exit 64 ;;
esac
