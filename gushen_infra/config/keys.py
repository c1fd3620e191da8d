"""The ``gushen:`` namespace and its secret keys (never committed: ``pulumi config set --secret``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

NAMESPACE = "gushen"

#: Secret keys: read with ``require_secret``/``get_secret``, never committed.
REQUIRED_SECRETS = ("deepseekApiKey", "databasePassword", "lurusApiKey")
OPTIONAL_SECRETS = ("kubeconfig",)
#: The off-cluster restic repository's credentials (``backup.remote``), by the env name each
#: reaches the backup pods under (Secret ``backup-remote``).
BACKUP_REMOTE_SECRETS = {
    "resticPassword": "RESTIC_PASSWORD",
    "resticAwsAccessKeyId": "AWS_ACCESS_KEY_ID",
    "resticAwsSecretAccessKey": "AWS_SECRET_ACCESS_KEY",
    "resticSftpKey": "RESTIC_SFTP_KEY",
}
#: The running cluster's own values, kept when this program takes it over (docs/adoption.md).
KEPT_SECRETS = ("redisPassword", "nextauthSecret")
SECRET_KEYS = REQUIRED_SECRETS + OPTIONAL_SECRETS + KEPT_SECRETS + tuple(BACKUP_REMOTE_SECRETS)


def render_secrets(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The secrets a stack requires, for placeholders in an offline render: ``values`` is the stack
    file's ``gushen:``-prefixed config. An explicit-cluster stack (not in render mode) needs its
    kubeconfig, an adopting one the live Secret's kept values; the off-site backup's credentials
    are offered whatever the repository's scheme."""
    required = REQUIRED_SECRETS + tuple(BACKUP_REMOTE_SECRETS)
    try:
        if json.loads(values[f"{NAMESPACE}:adopt"]).get("enabled") is True:
            required += KEPT_SECRETS
    except (KeyError, ValueError, AttributeError):
        pass  # not set, or malformed: validation reports that, naming the key
    explicit = str(values.get(f"{NAMESPACE}:explicitCluster")).lower() == "true"
    if explicit and not values.get(f"{NAMESPACE}:renderYamlToDirectory"):
        return required + ("kubeconfig",)
    return required


#: Secrets whose value is a file's content: set from the file, never typed.
_FROM_FILE = {"kubeconfig": "k3s.yaml", "resticSftpKey": "id_ed25519"}


def secret_command(key: str, stack: str) -> str:
    """The command that sets a secret of ``stack``: without a value on the command line, the CLI
    prompts for it (or reads stdin), so it stays out of the shell's history."""
    command = f"pulumi config set --secret --stack {stack} {NAMESPACE}:{key}"
    return f"{command} < {_FROM_FILE[key]}" if key in _FROM_FILE else command
