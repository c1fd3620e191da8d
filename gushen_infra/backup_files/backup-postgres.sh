#!/bin/sh
# CronJob postgres-backup (run as `sh backup-postgres.sh`): pg_dump -Fc of the external database.
# Env: PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD (from the Secret; libpq reads it from the
# env, so it is on no command line), BACKUP_DIR, KEEP.
# pg_dump refuses a server of a newer major version than its own: the image's major must be >=
# the server's.
set -eu
. "$(dirname "$0")/common.sh"
require PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD BACKUP_DIR KEEP
# Group-readable: the off-site step runs as another user in the pod's group (fsGroup).
umask 027

remove_partials postgres
name="postgres-$(stamp).dump"
partial="$BACKUP_DIR/.$name.partial"
trap 'rm -f "$partial"' EXIT
trap 'exit 143' TERM INT

log "dumping database $PGDATABASE from $PGHOST:$PGPORT as $PGUSER"
pg_dump --format=custom --no-password --file="$partial" || die "pg_dump failed; nothing kept"
verify_dump "$partial" || die "the dump does not read back; nothing kept"
mv "$partial" "$BACKUP_DIR/$name"
log "wrote $name ($(size "$BACKUP_DIR/$name") bytes)"
prune postgres .dump "$KEEP"
log "$(backups postgres .dump | wc -l | tr -d ' ') PostgreSQL backups kept in $BACKUP_DIR"
