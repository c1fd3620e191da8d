"""What the workflow tests share: loading the workflows and finding their jobs, steps and commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SHARED_SCRIPT = WORKFLOWS / "shared_schemas.py"
CLUSTER = {"preview.yml": "preview", "deploy.yml": "up", "drift.yml": "drift"}


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def sdk_version() -> str:
    (version,) = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    return version


def steps(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def step(job: dict, action: str) -> dict:
    (found,) = steps(job, action)
    return found


def index(job: dict, predicate) -> int:
    return next(i for i, s in enumerate(job["steps"]) if predicate(s))


def cluster_job(name: str) -> dict:
    return load(name)["jobs"][CLUSTER[name]]


def resolve_env(workflow: dict, value: Any) -> Any:
    """``${{ env.X }}`` replaced by the workflow's env value."""
    if isinstance(value, str):
        return re.sub(r"\$\{\{\s*env\.(\w+)\s*}}", lambda m: str(workflow.get("env", {})[m[1]]), value)
    return value


def all_jobs() -> list[tuple[str, str, dict]]:
    return [(path.name, name, job) for path in sorted(WORKFLOWS.glob("*.yml")) for name, job in load(path.name)["jobs"].items()]


def triggered_by_pull_requests(name: str) -> bool:
    return bool({"pull_request", "pull_request_target"} & set(load(name)["on"]))


def pulumi_command(job: dict, command: str) -> str:
    """The ``pulumi <command>`` of a job as one line: a ``run:`` command, or the pulumi/actions inputs as flags."""
    for s in job["steps"]:
        run = " ".join(s.get("run", "").replace("\\\n", " ").split())
        if f"pulumi {command} " in run:
            return run[run.index(f"pulumi {command} "):]
        inputs = s.get("with", {})
        if s.get("uses", "").startswith("pulumi/actions@") and inputs.get("command") == command:
            return (f"pulumi {command} --stack {inputs['stack-name']} --policy-pack {inputs.get('policyPacks')} "
                    f"--policy-pack-config {inputs.get('policyPackConfigs')}")
    raise AssertionError(f"no pulumi {command}")


def evaluate_if(expression: str, context: dict[str, Any]) -> bool:
    """The conditions the workflows use: ``A == B``, ``A != B`` and ``contains(A, 'x')`` joined by ``&&``."""
    def term(text: str) -> bool:
        if m := re.fullmatch(r"\s*contains\(([\w.*]+),\s*'([^']*)'\)\s*", text):
            return m[2] in context[m[1]]
        left, op, right = re.fullmatch(r"\s*([\w.]+)\s*(==|!=)\s*([\w.]+)\s*", text).groups()  # type: ignore[union-attr]
        return (context[left] == context[right]) == (op == "==")
    return all(term(part) for part in expression.split("&&"))
