#!/bin/sh
# Restore the PostgreSQL database from a backup. An operator runs it in the postgres-restore pod
# (README: "Restore PostgreSQL") after stopping the apps' writes:
#   sh /etc/backup/restore-postgres.sh [latest | postgres-<stamp>.dump | /path/to/file.dump] [DATABASE]
# The objects in the dump are dropped and recreated in one transaction: any error rolls the
# whole restore back. DATABASE (default PGDATABASE) may name another, existing, database, to
# inspect a backup before replacing the live one.
# Env: PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, BACKUP_DIR.
set -eu
. "$(dirname "$0")/common.sh"
require PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD BACKUP_DIR

backup=$(pick postgres .dump "${1:-latest}")
target=${2:-$PGDATABASE}
verify_dump "$backup" || die "$backup is not a good dump; nothing changed"
log "restoring $(basename "$backup") into database $target on $PGHOST:$PGPORT"
pg_restore --no-password --clean --if-exists --single-transaction --exit-on-error \
  --dbname="$target" "$backup" || die "pg_restore failed; the transaction was rolled back, nothing changed"
log "restored $(basename "$backup") into $target"
