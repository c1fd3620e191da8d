"""The GitHub workflows: valid against GitHub's workflow schema, and wired as the team relies on.

Jobs that talk to the cluster join the tailnet, take the cluster from the stack config, log in to
Pulumi Cloud with a short-lived OIDC token and run the CLI at the SDK's version; forks get a
notice; the drift check is wired exactly like the deploy; the test workflow lays out
``../shared`` from pinned, checksummed upstream files so no test skips on GitHub.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT, require_shared

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SHARED_SCRIPT = WORKFLOWS / "shared_schemas.py"
#: Current major of each action, and the Node runtime its action.yml declares at that major
#: (read from the actions' repositories: actions/checkout v7.0.1, actions/setup-python v7.0.0,
#: tailscale/github-action v4.1.3, pulumi/actions v7.0.0, pulumi/auth-actions v2.1.0: all node24).
MAJORS = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "tailscale/github-action": 4,
    "pulumi/actions": 7,
    "pulumi/auth-actions": 2,
}
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


def evaluate_if(expression: str, context: dict[str, str]) -> bool:
    """The ``A == B`` / ``A != B`` conditions the workflows use, over dotted context names."""
    left, op, right = re.fullmatch(r"\s*([\w.]+)\s*(==|!=)\s*([\w.]+)\s*", expression).groups()  # type: ignore[union-attr]
    return (context[left] == context[right]) == (op == "==")


# --- schema ---------------------------------------------------------------------------------------


def test_every_workflow_validates_offline():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"tests.yml", "preview.yml", "deploy.yml", "drift.yml"}
    result = validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps:\n      - run: echo\n")  # no runs-on
    assert validate(broken).returncode != 0


# --- actions and CLI versions -------------------------------------------------------------------


def test_every_action_is_at_its_current_major():
    seen = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in load(path.name)["jobs"].values():
            for s in job["steps"]:
                if "uses" in s:
                    action, _, ref = s["uses"].partition("@")
                    assert action in MAJORS, f"{path.name}: {action} has no known current major"
                    assert ref == f"v{MAJORS[action]}", f"{path.name}: {s['uses']}, current is v{MAJORS[action]}"
                    seen.add(action)
    assert seen == set(MAJORS)


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_the_pulumi_cli_is_pinned_to_the_sdk_version(name):
    workflow = load(name)
    for s in steps(cluster_job(name), "pulumi/actions"):
        assert resolve_env(workflow, s["with"]["pulumi-version"]) == sdk_version()


# --- reaching the cluster ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_cluster_jobs_join_the_tailnet_as_an_ephemeral_tagged_node_first(name):
    job = cluster_job(name)
    tailnet = step(job, "tailscale/github-action")["with"]
    assert tailnet["oauth-client-id"] == "${{ secrets.TS_OAUTH_CLIENT_ID }}"
    assert tailnet["oauth-secret"] == "${{ secrets.TS_OAUTH_SECRET }}"
    # An OAuth client makes the action register with ephemeral=true (tailscale/github-action, src/main.ts).
    assert "authkey" not in tailnet and re.fullmatch(r"tag:[a-z0-9-]+", tailnet["tags"])
    assert tailnet["ping"] == "${{ vars.K3S_API_HOST }}"
    joined = index(job, lambda s: s.get("uses", "").startswith("tailscale/"))
    pulumi = index(job, lambda s: "pulumi preview" in s.get("run", "") or s.get("with", {}).get("command"))
    assert joined < pulumi


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_the_cluster_comes_from_the_stack_config_never_from_the_runner(name):
    """Prod is an explicit-cluster stack: its kubeconfig is Pulumi secret config (encrypted in
    Pulumi.prod.yaml) and its context is named, so no job writes or exports a kubeconfig: config
    validation requires the stack's own, so one the runner exported would never be used."""
    job = cluster_job(name)
    assert not any("KUBECONFIG" in json.dumps(s) for s in job["steps"])
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert stack["gushen:explicitCluster"] is True and stack["gushen:kubeContext"]


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_pulumi_cloud_login_is_a_short_lived_oidc_token(name):
    job = cluster_job(name)
    auth = step(job, "pulumi/auth-actions")["with"]
    assert auth["organization"] == "${{ vars.PULUMI_ORG }}"
    assert auth["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
    assert job["permissions"]["id-token"] == "write"
    text = (WORKFLOWS / name).read_text()
    assert "PULUMI_ACCESS_TOKEN" not in text, "no long-lived token"


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_the_policy_pack_runs_from_its_own_venv(name):
    install = next(s["run"] for s in cluster_job(name)["steps"] if "policies/requirements.txt" in s.get("run", ""))
    assert "python -m venv policies/venv" in install
    assert "policies/venv/bin/pip install -r policies/requirements.txt" in install
    assert yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["runtime"]["options"]["virtualenv"] == "venv"


# --- pull requests, deploys, forks ---------------------------------------------------------------


def test_pull_requests_get_a_prod_preview_with_the_policy_pack_commented():
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    job = cluster_job("preview.yml")
    s = step(job, "pulumi/actions")["with"]
    assert s["command"] == "preview" and s["stack-name"] == "${{ vars.PULUMI_ORG }}/gushen-infra/prod"
    assert s["policyPacks"] == "policies"
    assert s["comment-on-pr"] is True
    assert job["permissions"]["pull-requests"] == "write"


@pytest.mark.parametrize("fork", [True, False])
def test_forks_get_a_notice_and_no_preview(fork):
    jobs = load("preview.yml")["jobs"]
    context = {
        "github.repository": "lurus/gushen-infra",
        "github.event.pull_request.head.repo.full_name": "someone/gushen-infra" if fork else "lurus/gushen-infra",
    }
    running = [name for name, job in jobs.items() if evaluate_if(job["if"], context)]
    assert running == (["fork-notice"] if fork else ["preview"])
    notice = jobs["fork-notice"]
    text = yaml.safe_dump(notice)
    assert "secrets." not in text and "vars." not in text and "permissions" not in notice
    assert "::notice" in notice["steps"][0]["run"] and "GITHUB_STEP_SUMMARY" in notice["steps"][0]["run"]


def test_main_deploys_only_after_environment_approval():
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    job = cluster_job("deploy.yml")
    assert job["environment"]["name"] == "production"
    s = step(job, "pulumi/actions")["with"]
    assert s["command"] == "up" and s["stack-name"] == "${{ vars.PULUMI_ORG }}/gushen-infra/prod"
    assert s["policyPacks"] == "policies"
    assert workflow["concurrency"] == {"group": "pulumi-prod", "cancel-in-progress": False}, "never cancel a deploy"


# --- drift ---------------------------------------------------------------------------------------


def test_drift_runs_on_a_schedule_and_fails_on_any_difference():
    workflow = load("drift.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    job = cluster_job("drift.yml")
    run = next(s for s in job["steps"] if "pulumi preview" in s.get("run", ""))
    command = " ".join(run["run"].split())
    for flag in ("--refresh", "--expect-no-changes", "--diff", "--policy-pack policies", '--stack "$STACK"'):
        assert flag in command
    assert "set -o pipefail" in run["run"], "the tee must not hide the preview's exit status"
    assert run["env"]["STACK"] == step(cluster_job("deploy.yml"), "pulumi/actions")["with"]["stack-name"]


def test_drift_opens_or_updates_one_issue_with_the_diff():
    job = cluster_job("drift.yml")
    report = job["steps"][-1]
    assert report["if"] == "failure() && steps.preview.outcome == 'failure'"
    assert "drift.txt" in report["run"] and "gh issue create" in report["run"] and "gh issue comment" in report["run"]
    assert job["permissions"]["issues"] == "write"


def _wiring(job: dict) -> list[Any]:
    """Every step that sets up the runner, with its inputs: checkout to CLI install."""
    keep = []
    for s in job["steps"]:
        if s.get("uses") or "requirements.txt" in s.get("run", ""):
            keep.append({k: v for k, v in s.items() if k != "name"}
                        | ({"with": {k: v for k, v in s["with"].items() if k == "pulumi-version"}}
                           if s.get("uses", "").startswith("pulumi/actions@") else {}))
    return keep


def test_drift_is_wired_like_the_deploy():
    deploy, drift = load("deploy.yml"), load("drift.yml")
    assert _wiring(cluster_job("drift.yml")) == _wiring(cluster_job("deploy.yml"))
    assert drift["env"]["PULUMI_VERSION"] == deploy["env"]["PULUMI_VERSION"] == sdk_version()
    # The same group: GitHub runs one job of a group at a time, so a drift check never overlaps a deploy.
    assert cluster_job("drift.yml")["concurrency"] == deploy["concurrency"]


def test_drift_never_pushes_out_a_pending_deploy():
    """A newly queued run cancels the *pending* run of its group: skip while a deploy is queued or running."""
    jobs = load("drift.yml")["jobs"]
    guard = jobs["deploy-pending"]
    assert "concurrency" not in guard and "concurrency" not in load("drift.yml")
    script = guard["steps"][0]["run"]
    assert "--workflow deploy.yml" in script
    for status in ("queued", "waiting", "pending", "in_progress"):
        assert status in script
    assert jobs["drift"]["needs"] == "deploy-pending"
    assert jobs["drift"]["if"] == "needs.deploy-pending.outputs.busy == '0'"


# --- the test workflow --------------------------------------------------------------------------


def test_tests_run_on_every_push_with_what_ci_run_installs():
    workflow = load("tests.yml")
    assert "push" in workflow["on"] and workflow["on"]["push"] is None
    (job,) = workflow["jobs"].values()
    runs = [s.get("run", "") for s in job["steps"]]
    assert runs[-1] == "make test"
    # One list of binaries (the Makefile's DEPS): .ci/run and this workflow both install it.
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make deps$", ci_run, re.M)
    deps = index(job, lambda s: s.get("run", "").splitlines()[:1] == ["make deps"])
    assert deps < index(job, lambda s: s.get("run") == "make test")
    lay_out = index(job, lambda s: "shared_schemas.py ../shared" in s.get("run", ""))
    assert lay_out < index(job, lambda s: s.get("run") == "make test")


def _mirror(tmp_path: Path) -> Path:
    """The upstream CRD files of ../shared, laid out as the script reads them with --from."""
    mirror = tmp_path / "upstream"
    shutil.copytree(require_shared("crds", "upstream"), mirror)
    return mirror


def test_the_shared_schemas_are_converted_exactly_as_shared_holds_them(tmp_path):
    out = tmp_path / "shared"
    result = subprocess.run(
        [sys.executable, str(SHARED_SCRIPT), str(out), "--from", str(_mirror(tmp_path)), "--only", "crds"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    mine, theirs = out / "crds" / "json-schemas", require_shared("crds", "json-schemas")
    names = sorted(p.relative_to(mine) for p in mine.rglob("*.json"))
    assert names == sorted(p.relative_to(theirs) for p in theirs.rglob("*.json")) and len(names) == 32
    for name in names:
        assert json.loads((mine / name).read_text()) == json.loads((theirs / name).read_text()), name


def test_a_file_whose_checksum_differs_is_refused(tmp_path):
    mirror = _mirror(tmp_path)
    target = mirror / "cert-manager_cert-manager-v1.21.1" / "cert-manager.io_certificates.yaml"
    target.chmod(0o644)
    target.write_text(target.read_text().replace("Certificate", "Certificat", 1))
    result = subprocess.run(
        [sys.executable, str(SHARED_SCRIPT), str(tmp_path / "shared"), "--from", str(mirror), "--only", "crds"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    assert "cert-manager.io_certificates.yaml: SHA-256" in result.stderr
    assert not (tmp_path / "shared" / "crds" / "json-schemas" / "certificate_cert-manager.io_v1.json").exists()
