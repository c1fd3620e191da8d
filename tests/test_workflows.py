"""The GitHub workflows: valid against GitHub's workflow schema, and wired as the team relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


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


def pulumi_step(workflow: dict) -> dict:
    (job,) = workflow["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    return step


def test_every_workflow_validates_offline():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"tests.yml", "preview.yml", "deploy.yml"}
    result = validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps:\n      - run: echo\n")  # no runs-on
    assert validate(broken).returncode != 0


def test_pull_requests_get_a_prod_preview_with_the_policy_pack_commented():
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    step = pulumi_step(workflow)["with"]
    assert step["command"] == "preview" and step["stack-name"] == "prod"
    assert step["policyPacks"] == "policies"
    assert step["comment-on-pr"] is True
    assert workflow["permissions"]["pull-requests"] == "write"


def test_main_deploys_only_after_environment_approval():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    (job,) = workflow["jobs"].values()
    assert job["environment"]["name"] == "production"
    step = pulumi_step(workflow)["with"]
    assert step["command"] == "up" and step["stack-name"] == "prod" and step["policyPacks"] == "policies"
    assert workflow["concurrency"]["cancel-in-progress"] is False, "never cancel a running deploy"


def test_tests_run_on_every_push():
    workflow = load("tests.yml")
    assert "push" in workflow["on"] and workflow["on"]["push"] is None
    (job,) = workflow["jobs"].values()
    assert any(s.get("run") == "make test" for s in job["steps"])
