"""Shared fixtures: the program run under Pulumi's mocks, and access to real binaries and ../shared."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from gushen_infra import render

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI") == "true"


@dataclass
class Stack:
    """What the mocks recorded for one run of the program, with lookups by kind and name."""

    resources: list[render.Recorded]
    exports: dict[str, Any]

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return render.manifests(self.resources)

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [m for m in self.all(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
        return found[0]

    def of_type(self, type_token: str) -> list[render.Recorded]:
        return [r for r in self.resources if r.type == type_token]


def run_stack(stack: str = "prod", overrides: Optional[Mapping[str, Any]] = None) -> Stack:
    exports: dict[str, Any] = {}
    return Stack(render.run_program(stack, ROOT, overrides, exports=exports), exports)


@pytest.fixture
def kept_live_secrets(tmp_path, monkeypatch) -> None:
    """``Pulumi.prod.yaml`` as the adoption runbook leaves it: the live Secret's Redis password and
    NextAuth secret set with ``pulumi config set --secret`` (rendered as placeholders), so every
    later run keeps them."""
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    stack["config"].update({f"gushen:{key}": {"secure": "v1:kept"} for key in render.config.KEPT_SECRETS})
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(stack))
    monkeypatch.setitem(render.STACK_FILES, "prod", path)


@pytest.fixture(scope="session")
def prod() -> Stack:
    """Every resource the mocks saw for the prod stack (run once per session)."""
    return run_stack("prod")


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a process a test started; kill it if it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def require_binary(name: str) -> str:
    """Path of a real binary the test needs: skip on a laptop without it, fail in CI."""
    beside_python = Path(sys.executable).parent / name  # console scripts of the venv, e.g. traefik
    path = shutil.which(name) or (str(beside_python) if beside_python.exists() else None)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is required in CI (.ci/run installs it with `make deps`) but is not on PATH")
    pytest.skip(f"{name} not installed: `make deps` installs every binary the live tests need; runs in CI")


def pytest_unconfigure(config) -> None:
    """One closing line saying what was skipped and why, grouped by reason (most frequent first).

    In ``pytest_unconfigure``: it runs after pytest's own summary, so this is the last line.
    """
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    skipped = terminalreporter.stats.get("skipped", []) if terminalreporter else []
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ").split(";")[0].split(":")[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    parts = ", ".join(f"{reason} ({n})" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    hint = "; `make deps` installs the missing binaries" if any("not installed" in r for r in reasons) else ""
    terminalreporter.write_line(f"{len(skipped)} skipped: {parts}{hint}", yellow=True, bold=True)


def require_shared(*parts: str) -> Path:
    """A path under ../shared (CRD and project schemas): skip with a reason where it is absent.

    It skips in CI too: a GitHub runner has no ../shared, while this project's CI lays it beside
    the checkout, so there these tests run.
    """
    path = SHARED.joinpath(*parts)
    if path.exists():
        return path
    pytest.skip(f"{path} not present: this test needs ../shared beside the checkout")


# --- the kube tier: a real control plane per session (tests/kube, docs/testing.md) ---------------


def require_kube_binaries() -> Path:
    """The directory of etcd and the three Kubernetes binaries: skip where absent, fail in CI."""
    from .kube import binaries

    require_binary("openssl")  # the service-account key pair
    try:
        return binaries.locate(SHARED / "tools" / "kube", ROOT / ".cache" / "kube")
    except binaries.Unavailable as e:
        if IN_CI:
            pytest.fail(f"the kube tier is required in CI: {e}")
        pytest.skip(f"kube binaries unavailable: {e}")


@pytest.fixture(scope="session")
def kube():
    """The session's K3s cluster on a real control plane (:class:`tests.kube.harness.KubeCluster`),
    with the prod stack's three nodes; stopped by PID at the end of the session, pass or fail."""
    from .kube import cluster, harness

    started = harness.KubeCluster.start(require_kube_binaries(), cluster.stack_nodes("prod"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def kube_namespace(kube) -> Iterator[str]:
    """A namespace of its own for one test, deleted after it."""
    name = kube.namespace()
    yield name
    kube.delete_namespace(name)
