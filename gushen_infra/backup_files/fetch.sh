#!/bin/sh
# Copy a backup out of the off-cluster restic repository, e.g. after the cluster is lost
# (docs/recovery.md). An operator runs it where restic runs (a workstation, or a restic pod):
#   sh fetch.sh redis|postgres [latest | <kind>-<stamp>.<rdb|dump>]
# It writes the backup, under its original name, into BACKUP_DIR and prints the path; hand that
# to restore-redis.sh or restore-postgres.sh, which check the file before they change anything.
# Env: as offsite.sh (RESTIC_REPOSITORY, RESTIC_PASSWORD or RESTIC_PASSWORD_COMMAND, the S3 or
# SFTP credentials), BACKUP_DIR.
set -eu
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/restic.sh"
[ -n "${RESTIC_PASSWORD_COMMAND:-}" ] || require RESTIC_PASSWORD
require BACKUP_DIR RESTIC_REPOSITORY
kind=${1:-}
suffix=$(suffix_of "$kind")
want=${2:-latest}
umask 077
ssh_setup

snapshots=$(restic_ snapshots --json --tag "$kind" 2>"$ERRORS") || die "cannot open the repository $RESTIC_REPOSITORY ($(errors))"
names=$(echo "$snapshots" | grep -oE "$kind-[0-9]{8}T[0-9]{6}Z\\$suffix" | sort -ru || true)
[ -n "$names" ] || die "no $kind snapshot in $RESTIC_REPOSITORY"
if [ "$want" = latest ]; then
  name=$(echo "$names" | head -n 1)
else
  echo "$names" | grep -qxF "$want" || die "no snapshot of $want in $RESTIC_REPOSITORY (have: $(echo "$names" | head -n 5 | tr '\n' ' ')...)"
  name=$want
fi
path=$(echo "$snapshots" | grep -oE "\"[^\"]*/$name\"" | head -n 1 | tr -d '"')
mkdir -p "$BACKUP_DIR"
partial="$BACKUP_DIR/.$name.partial"
restic_ dump --tag "$kind" --path "$path" latest "$path" > "$partial" 2>"$ERRORS" || {
  rm -f "$partial"
  die "restic dump of $name failed ($(errors))"
}
mv "$partial" "$BACKUP_DIR/$name"
log "fetched $name ($(size "$BACKUP_DIR/$name") bytes) from $RESTIC_REPOSITORY"
echo "$BACKUP_DIR/$name"
