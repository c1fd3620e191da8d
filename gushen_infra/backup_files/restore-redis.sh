#!/bin/sh
# Restore Redis from a backup. An operator runs it in the redis-restore pod (README: "Restore
# Redis"), which mounts redis-0's volume at DATA_DIR, while StatefulSet redis is scaled to 0:
#   sh /etc/backup/restore-redis.sh [latest | redis-<stamp>.rdb | /path/to/file.rdb]
# Afterwards the StatefulSet is scaled back up: no Sentinel state survives the scale-down, so
# redis-0 starts as the master and the replicas resync the restored data from it.
#
# With appendonly yes Redis loads the AOF at start and ignores dump.rdb, so copying a dump over
# dump.rdb restores nothing (and without any AOF, Redis starts empty). Instead: move the old
# files aside, load the backup in a local redis-server with appendonly off, switch AOF on (its
# rewrite writes a fresh AOF from the loaded data), and check that a start with appendonly on,
# as the StatefulSet starts, finds the same number of keys.
# Env: DATA_DIR, BACKUP_DIR, RESTORE_PORT (loopback port of the local redis-server).
set -eu
. "$(dirname "$0")/common.sh"
require DATA_DIR BACKUP_DIR RESTORE_PORT
# The local server has no password and listens on loopback only.
unset REDISCLI_AUTH
umask 077
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}

backup=$(pick redis .rdb "${1:-latest}")
verify_rdb "$backup" || die "$backup is not a good RDB; nothing changed"

cli() { redis-cli -h 127.0.0.1 -p "$RESTORE_PORT" "$@" | tr -d '\r'; }
server_log=$(mktemp)
server_pid=""
aside=""
finish() {
  status=$?
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ "$status" -ne 0 ] && [ -n "$aside" ]; then
    log "restore FAILED; the data it replaced is in $aside (move it back to undo)"
  fi
  rm -f "$server_log"
}
trap finish EXIT
trap 'exit 143' TERM INT

start_server() {
  redis-server --bind 127.0.0.1 --port "$RESTORE_PORT" --protected-mode yes --dir "$DATA_DIR" \
    --dbfilename dump.rdb --save "" --appendonly "$1" >> "$server_log" 2>&1 &
  server_pid=$!
  deadline=$(($(date +%s) + LOAD_TIMEOUT))
  until [ "$(cli PING 2>/dev/null)" = PONG ]; do
    kill -0 "$server_pid" 2>/dev/null || die "redis-server exited: $(tail -n 5 "$server_log")"
    [ "$(date +%s)" -lt "$deadline" ] || die "redis-server did not load the data within ${LOAD_TIMEOUT}s"
    sleep 1
  done
}

stop_server() {
  cli SHUTDOWN "$@" > /dev/null 2>&1 || true
  wait "$server_pid" || die "redis-server did not shut down cleanly: $(tail -n 5 "$server_log")"
  server_pid=""
}

aof_rewritten() {
  info=$(cli INFO persistence)
  echo "$info" | grep -q '^aof_enabled:1' && echo "$info" | grep -q '^aof_rewrite_in_progress:0' \
    && echo "$info" | grep -q '^aof_rewrite_scheduled:0'
}

log "restoring $backup ($(size "$backup") bytes) into $DATA_DIR"
aside="$DATA_DIR/pre-restore-$(stamp)"
mkdir "$aside"
for entry in "$DATA_DIR"/* "$DATA_DIR"/.[!.]*; do
  [ -e "$entry" ] || continue
  case "$(basename "$entry")" in pre-restore-* | lost+found) continue ;; esac
  mv "$entry" "$aside/"
done
log "moved the current data aside to $aside"
cp "$backup" "$DATA_DIR/.dump.rdb.partial"
mv "$DATA_DIR/.dump.rdb.partial" "$DATA_DIR/dump.rdb"

start_server no
keys=$(cli DBSIZE)
log "loaded $keys keys with appendonly off; writing a fresh AOF"
[ "$(cli CONFIG SET appendonly yes)" = OK ] || die "CONFIG SET appendonly yes failed"
deadline=$(($(date +%s) + LOAD_TIMEOUT))
until aof_rewritten; do
  [ "$(date +%s)" -lt "$deadline" ] || die "the AOF rewrite did not finish within ${LOAD_TIMEOUT}s"
  sleep 1
done
cli INFO persistence | grep -q '^aof_last_bgrewrite_status:ok' || die "the AOF rewrite failed: $(tail -n 5 "$server_log")"
stop_server

start_server yes
found=$(cli DBSIZE)
stop_server NOSAVE
[ "$found" = "$keys" ] || die "a start with appendonly on finds $found keys, not $keys"
log "restored $keys keys from $(basename "$backup"); a start with appendonly on loads them from the new AOF"
log "next: scale StatefulSet redis back up; delete $aside once the restore is confirmed"
