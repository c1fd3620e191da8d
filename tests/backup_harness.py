"""Run what Backups renders, as the cluster would: the scripts of ConfigMap ``backup-scripts`` with
the env and command of the rendered CronJob or restore pod.

Only addresses, ports and directories are rewritten (each rewrite must match a rendered value,
so a change in the render breaks the test instead of going unnoticed); Secret references get
the test's passwords, as the kubelet would resolve them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gushen_infra import backup

from .conftest import Stack

Json = dict[str, Any]
STAMP = re.compile(r"^(?P<kind>redis|postgres)-(?P<stamp>[0-9]{8}T[0-9]{6}Z)\.(rdb|dump)$")


def cronjob_container(stack: Stack, name: str) -> Json:
    (container,) = stack.get("CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def restore_container(stack: Stack, pod_key: str) -> Json:
    pod = yaml.safe_load(stack.get("ConfigMap", backup.SCRIPTS)["data"][pod_key])
    (container,) = pod["spec"]["containers"]
    return container


def restore_command(script: str, *args: str) -> list[str]:
    """What docs/backups.md has the operator run with ``kubectl exec`` in a restore pod."""
    return ["sh", f"{backup.SCRIPT_DIR}/{script}", *args]


def stamp_time(name: str) -> dt.datetime:
    match = STAMP.match(name)
    assert match, f"{name!r} is not a dated backup name"
    return dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def backups(directory: Path, kind: str) -> list[str]:
    """Dated backups of one kind, oldest first."""
    return sorted(p.name for p in directory.iterdir() if (m := STAMP.match(p.name)) and m["kind"] == kind)


@dataclass
class Runner:
    """The ConfigMap's files written to ``root/scripts`` (standing in for /etc/backup)."""

    stack: Stack
    root: Path

    def __post_init__(self) -> None:
        self.scripts = self.root / "scripts"
        self.scripts.mkdir(parents=True, exist_ok=True)
        for name, text in self.stack.get("ConfigMap", backup.SCRIPTS)["data"].items():
            (self.scripts / name).write_text(text)

    def env(self, container: Json, rewrite: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
        env = {"PATH": os.environ["PATH"]}
        used: set[str] = set()
        for var in container["env"]:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert ref["name"] == "ai-qtrd-secrets", var
                env[var["name"]] = secrets[ref["key"]]
                continue
            value = var["value"]
            if value in rewrite:
                used.add(value)
                value = rewrite[value]
            env[var["name"]] = value
        missing = set(rewrite) - used
        assert not missing, f"the render no longer has {sorted(missing)} in the env of {container['name']}"
        return env

    def command(self, argv: Sequence[str]) -> list[str]:
        return [arg.replace(backup.SCRIPT_DIR, str(self.scripts)) for arg in argv]

    def run(
        self, container: Json, rewrite: Mapping[str, str], secrets: Mapping[str, str],
        argv: Sequence[str] | None = None, timeout: float = 120,
    ) -> subprocess.CompletedProcess:
        """The container's command (or ``argv``, e.g. a restore command) with its rendered env."""
        return subprocess.run(
            self.command(argv if argv is not None else container["command"]),
            env=self.env(container, rewrite, secrets), capture_output=True, text=True, timeout=timeout,
        )
