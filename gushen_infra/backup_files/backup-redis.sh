#!/bin/sh
# CronJob redis-backup (run as `sh backup-redis.sh`): pull a fresh RDB from an in-sync replica
# through the redis-replicas Service, so the master never forks for a backup.
# Env: REDIS_HOST, REDIS_PORT (redis-replicas), REDISCLI_AUTH (the password: redis-cli reads it
# from the env, so it is on no command line), BACKUP_DIR, KEEP.
set -eu
. "$(dirname "$0")/common.sh"
require REDIS_HOST REDIS_PORT REDISCLI_AUTH BACKUP_DIR KEEP
# Group-readable: the off-site step runs as another user in the pod's group (fsGroup).
umask 027

remove_partials redis
name="redis-$(stamp).rdb"
partial="$BACKUP_DIR/.$name.partial"
trap 'rm -f "$partial"' EXIT
trap 'exit 143' TERM INT

log "pulling an RDB from $REDIS_HOST:$REDIS_PORT"
# redis-cli exits 0 even when the server refuses the sync (NOMASTERLINK), so the file is what
# decides: a good RDB, or the job fails and the last good backups stay.
redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --rdb "$partial" >&2 || true
verify_rdb "$partial" || die "no good RDB from $REDIS_HOST:$REDIS_PORT; nothing kept"
mv "$partial" "$BACKUP_DIR/$name"
log "wrote $name ($(size "$BACKUP_DIR/$name") bytes)"
prune redis .rdb "$KEEP"
log "$(backups redis .rdb | wc -l | tr -d ' ') Redis backups kept in $BACKUP_DIR"
