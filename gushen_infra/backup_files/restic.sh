# Sourced after common.sh by the restic steps (offsite.sh, fetch.sh), which run in the restic image.
# Every snapshot has this host name (a pod's own name changes with every run).
SNAPSHOT_HOST=gushen
# restic's stderr of the last command, for the log line of a failure.
ERRORS=$(mktemp)
WORK=$(mktemp -d)
trap 'rm -rf "$ERRORS" "$WORK"' EXIT
trap 'exit 143' TERM INT
errors() { tail -n 3 "$ERRORS" | tr '\n' ' ' | sed 's/ *$//'; }

# An SFTP repository: the key and the server's host key go to files only this run can read,
# and restic starts ssh with them (strict host key checking, never a prompt). printf is a shell
# builtin, so the key is on no command line.
ssh_setup() {
  SFTP_COMMAND=""
  [ -n "${RESTIC_SFTP_KEY:-}" ] || return 0
  require SFTP_USER SFTP_HOST SFTP_PORT SFTP_KNOWN_HOSTS
  printf '%s\n' "$RESTIC_SFTP_KEY" > "$WORK/key"
  printf '%s\n' "$SFTP_KNOWN_HOSTS" > "$WORK/known_hosts"
  SFTP_COMMAND="ssh -F /dev/null -i $WORK/key -o IdentitiesOnly=yes -o UserKnownHostsFile=$WORK/known_hosts"
  SFTP_COMMAND="$SFTP_COMMAND -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=20"
  SFTP_COMMAND="$SFTP_COMMAND -p $SFTP_PORT -l $SFTP_USER $SFTP_HOST -s sftp"
}

restic_() {
  if [ -n "$SFTP_COMMAND" ]; then
    restic -o "sftp.command=$SFTP_COMMAND" "$@"
  else
    restic "$@"
  fi
}
