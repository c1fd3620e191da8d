#!/bin/sh
# The second step of CronJobs redis-backup and postgres-backup (run as `sh offsite.sh` in the
# restic image, after the dump step has written and checked a new local backup): copy the new
# local backups of one kind to the off-cluster restic repository, apply the retention there
# (restic forget --prune), and, where RESTIC_CHECK_SUBSET is set, check the repository.
# The local copy is never touched: when the repository cannot be reached, the run fails (the
# Job fails, the stale-backup alert follows) and the local backups stay as they are.
# Env: KIND (redis or postgres), BACKUP_DIR, RESTIC_REPOSITORY, RESTIC_PASSWORD (restic reads it
# from the env: it is on no command line), RESTIC_KEEP (the --keep-* flags), optional
# RESTIC_CHECK_SUBSET; S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; SFTP: RESTIC_SFTP_KEY (the
# private key), SFTP_USER, SFTP_HOST, SFTP_PORT, SFTP_KNOWN_HOSTS.
set -eu
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/restic.sh"
require KIND BACKUP_DIR RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_KEEP
umask 077
suffix=$(suffix_of "$KIND")
# Snapshot times are the dump's UTC stamp; restic reads --time in the local zone.
export TZ=UTC
ssh_setup

newest=$(backups "$KIND" "$suffix" | head -n 1)
[ -n "$newest" ] || die "no local $KIND backup in $BACKUP_DIR to copy"
fail() { die "off-site copy FAILED: $*; the local backup $newest stays in $BACKUP_DIR"; }

log "reading the $KIND snapshots of $RESTIC_REPOSITORY"
snapshots=$(restic_ snapshots --json --tag "$KIND" 2>"$ERRORS") || fail "cannot open the repository ($(errors))"
# Names are strictly <kind>-<stamp><suffix>, so they can be picked out of restic's JSON as text.
uploaded=$(echo "$snapshots" | grep -oE "$KIND-[0-9]{8}T[0-9]{6}Z\\$suffix" | sort -r | head -n 1 || true)
if [ -z "$uploaded" ]; then
  # A new repository: start with the newest backup (older ones may predate the group-readable files).
  pending=$newest
else
  # Everything made since the last copy, e.g. while the repository was unreachable, oldest first.
  pending=$(backups "$KIND" "$suffix" | awk -v last="$uploaded" '$0 > last' | sort)
fi
[ -n "$pending" ] || log "$newest is already in the repository"
for name in $pending; do
  stamp=${name#"$KIND"-}
  stamp=${stamp%"$suffix"}
  when=$(echo "$stamp" | sed -E 's/^(....)(..)(..)T(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6/')
  restic_ backup --quiet --host "$SNAPSHOT_HOST" --tag "$KIND" --time "$when" "$BACKUP_DIR/$name" 2>"$ERRORS" \
    || fail "restic backup of $name failed ($(errors))"
  log "copied $name to $RESTIC_REPOSITORY"
done

# shellcheck disable=SC2086 # RESTIC_KEEP holds several flags, validated by the program.
restic_ forget --quiet --tag "$KIND" --group-by tags $RESTIC_KEEP --prune 2>"$ERRORS" >/dev/null \
  || fail "restic forget $RESTIC_KEEP --prune failed ($(errors))"
log "kept $RESTIC_KEEP of the $KIND snapshots"
if [ -n "${RESTIC_CHECK_SUBSET:-}" ]; then
  restic_ check --read-data-subset="$RESTIC_CHECK_SUBSET" 2>"$ERRORS" >/dev/null \
    || fail "restic check found a problem ($(errors))"
  log "restic check: no errors (read $RESTIC_CHECK_SUBSET of the data)"
fi
