# Shared by the backup and restore scripts of ConfigMap backup-scripts (sourced, POSIX sh).
# Backups are named <kind>-<UTC stamp><suffix> (redis-20260122T030000Z.rdb): the names sort in
# time order, and anything not named so in the directory is never pruned.

log() { echo "$(basename "$0"): $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Every named variable must be set and non-empty.
require() {
  for var in "$@"; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || die "$var is not set"
  done
}

stamp() { date -u +%Y%m%dT%H%M%SZ; }

# Backups of one kind ($1: redis or postgres, $2: suffix), newest first.
backups() {
  for path in "$BACKUP_DIR/$1"-*"$2"; do
    basename "$path"
  done | grep -E "^$1-[0-9]{8}T[0-9]{6}Z\\$2\$" | sort -r || true
}

# Delete all but the newest $3 backups of a kind.
prune() {
  case "$3" in '' | *[!0-9]* | 0) die "KEEP must be a whole number >= 1 (got '$3')" ;; esac
  backups "$1" "$2" | tail -n "+$(($3 + 1))" | while read -r name; do
    rm -f "$BACKUP_DIR/$name"
    log "pruned $name"
  done
}

# Leftovers of a run that was killed before it could clean up (the CronJobs forbid overlap).
remove_partials() {
  for partial in "$BACKUP_DIR/.$1"-*.partial; do
    [ -e "$partial" ] || continue
    rm -f "$partial"
    log "removed the unfinished $(basename "$partial")"
  done
}

size() { wc -c < "$1" | tr -d ' '; }

# A complete RDB: not empty, the REDIS magic, and a clean parse with a good checksum.
verify_rdb() {
  [ -s "$1" ] || { log "$1 is empty"; return 1; }
  [ "$(head -c 5 "$1")" = REDIS ] || { log "$1 does not start with the RDB magic REDIS"; return 1; }
  report=$(redis-check-rdb "$1" 2>&1) || { log "redis-check-rdb refuses $1: $(echo "$report" | tail -n 3)"; return 1; }
}

# A complete custom-format dump: the PGDMP magic and a table of contents pg_restore can read.
verify_dump() {
  [ -s "$1" ] || { log "$1 is empty"; return 1; }
  [ "$(head -c 5 "$1")" = PGDMP ] || { log "$1 does not start with the custom-format magic PGDMP"; return 1; }
  report=$(pg_restore --list "$1" 2>&1 >/dev/null) || { log "pg_restore cannot read $1: $report"; return 1; }
}

# The backup to restore: "latest", a name in BACKUP_DIR, or a path (e.g. a file copied to /tmp).
pick() {
  case "$3" in
    latest)
      name=$(backups "$1" "$2" | head -n 1)
      [ -n "$name" ] || die "no $1 backup in $BACKUP_DIR"
      echo "$BACKUP_DIR/$name" ;;
    */*) [ -f "$3" ] || die "no such file: $3"; echo "$3" ;;
    *) [ -f "$BACKUP_DIR/$3" ] || die "no such backup: $BACKUP_DIR/$3"; echo "$BACKUP_DIR/$3" ;;
  esac
}

# The file suffix of a kind of backup.
suffix_of() {
  case "$1" in
    redis) echo .rdb ;;
    postgres) echo .dump ;;
    *) die "unknown kind of backup '$1' (want redis or postgres)" ;;
  esac
}
