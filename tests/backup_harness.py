"""Run what Backups renders, as the cluster would: the scripts of ConfigMap ``backup-scripts`` with
the env and command of the rendered CronJob or restore pod.

Only addresses, ports and directories are rewritten (each rewrite must match a rendered value,
so a change in the render breaks the test instead of going unnoticed); Secret references get
the test's passwords, as the kubelet would resolve them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
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
    """The dump step: the only container, or, with a remote, the init container."""
    pod = stack.get("CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod.get("initContainers") or pod["containers"]
    return container


def offsite_container(stack: Stack, name: str) -> Json:
    """The off-site step, which the kubelet starts once the dump step (init container) succeeded."""
    pod = stack.get("CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod.get("initContainers"), f"{name} has no off-site step"
    (container,) = pod["containers"]
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
    bin_dir: Path | None = None
    """Put first on PATH (e.g. the restic wrapper that records its argv)."""

    def __post_init__(self) -> None:
        self.scripts = self.root / "scripts"
        self.scripts.mkdir(parents=True, exist_ok=True)
        for name, text in self.stack.get("ConfigMap", backup.SCRIPTS)["data"].items():
            (self.scripts / name).write_text(text)

    def env(self, container: Json, rewrite: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
        env = {"PATH": f"{self.bin_dir}:{os.environ['PATH']}" if self.bin_dir else os.environ["PATH"]}
        used: set[str] = set()
        for var in container["env"]:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert ref["name"] in ("ai-qtrd-secrets", backup.REMOTE_SECRET), var
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


class Recorder:
    """Wrappers for ``restic`` and ``ssh`` first on PATH: each call's argv is appended to a log
    (one argument per line), then the real program runs. The test reads what any process
    listing (``ps``, /proc/*/cmdline) would have shown."""

    PROGRAMS = ("restic", "ssh")

    def __init__(self, root: Path):
        self.bin_dir = root / "bin"
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.log = root / "argv.log"
        for program in self.PROGRAMS:
            real = shutil.which(program)
            assert real, f"{program} is not installed"
            wrapper = self.bin_dir / program
            wrapper.write_text(
                "#!/bin/sh\n"
                f"{{ echo '--- {program}'; for arg in \"$@\"; do printf '%s\\n' \"$arg\"; done; }} >> '{self.log}'\n"
                f"exec '{real}' \"$@\"\n"
            )
            wrapper.chmod(0o755)

    def calls(self, program: str) -> list[list[str]]:
        if not self.log.exists():
            return []
        out: list[list[str]] = []
        current: list[str] | None = None
        for line in self.log.read_text().splitlines():
            if line.startswith("--- ") and line[4:] in self.PROGRAMS:
                current = [] if line[4:] == program else None
                if current is not None:
                    out.append(current)
            elif current is not None:
                current.append(line)
        return out

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def restic(repository: str, password: str, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
    """The real restic as an operator runs it (the password through the env)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "RESTIC_REPOSITORY": repository,
           "RESTIC_PASSWORD": password, **(extra_env or {})}
    result = subprocess.run(["restic", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def snapshot_names(repository: str, password: str, kind: str) -> list[str]:
    """The backups in the repository (one file per snapshot), oldest first."""
    snapshots = json.loads(restic(repository, password, "snapshots", "--json", "--tag", kind) or "[]")
    names = [Path(s["paths"][0]).name for s in snapshots]
    assert all(len(s["paths"]) == 1 for s in snapshots), "one backup per snapshot"
    return sorted(names)
