"""The GitHub workflows: valid against GitHub's workflow schema, and wired as the team relies on.

Jobs that talk to the cluster join the tailnet, take the cluster from the stack config, log in to
Pulumi Cloud with a short-lived OIDC token (read-only outside the deploy) and run the CLI at the
SDK's version with the policy pack and its stack's config; forks get a notice, other pull requests
a preview only when labelled and approved; the drift check is wired like the deploy; the test
workflow lays out ``../shared`` and the control plane binaries from pinned, checksummed downloads
so no test skips on GitHub; the weekly mutation run scores both and uploads its reports. Hardening and
credentials: test_workflows_security.py; e2e.yml:
test_workflows_e2e.py.
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
from .test_config import prod_raw
from .workflows import (
    CLUSTER, SHARED_SCRIPT, WORKFLOWS, cluster_job, evaluate_if, index, load, pulumi_command, sdk_version, step, validate,
)


# --- schema ---------------------------------------------------------------------------------------


def test_every_workflow_validates_offline():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"tests.yml", "preview.yml", "deploy.yml", "drift.yml", "e2e.yml"}
    result = validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps:\n      - run: echo\n")  # no runs-on
    assert validate(broken).returncode != 0


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
    """Prod is an explicit-cluster stack: its kubeconfig is Pulumi secret config and its context is
    named, so no job writes or exports a kubeconfig: config validation requires the stack's own."""
    job = cluster_job(name)
    assert not any("KUBECONFIG" in json.dumps(s) for s in job["steps"])
    stack = prod_raw()
    assert stack["explicitCluster"] == "true" and stack["kubeContext"]


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_pulumi_cloud_login_is_a_short_lived_oidc_token_read_only_outside_the_deploy(name):
    """Only the deploy gets an organisation token; previews and the drift check get a token of a
    team whose stack permission is Read: they can preview prod, never update, import or delete it."""
    job = cluster_job(name)
    auth = step(job, "pulumi/auth-actions")["with"]
    assert auth["organization"] == "${{ vars.PULUMI_ORG }}"
    if name == "deploy.yml":
        assert auth["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
    else:
        assert auth["requested-token-type"] == "urn:pulumi:token-type:access_token:team"
        assert auth["scope"] == "team:${{ vars.PULUMI_READ_TEAM }}"
    assert job["permissions"]["id-token"] == "write"
    text = (WORKFLOWS / name).read_text()
    assert "PULUMI_ACCESS_TOKEN" not in text, "no long-lived token"


@pytest.mark.parametrize("name", sorted(CLUSTER))
def test_the_policy_pack_runs_from_its_own_venv(name):
    install = next(s["run"] for s in cluster_job(name)["steps"] if "policies/requirements.txt" in s.get("run", ""))
    assert "python -m venv policies/venv" in install
    assert "policies/venv/bin/pip install -r policies/requirements.txt" in install
    assert yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())["runtime"]["options"]["virtualenv"] == "venv"


@pytest.mark.parametrize("name, job, command, stack", [
    ("preview.yml", "preview", "preview", "prod"), ("deploy.yml", "up", "up", "prod"),
    ("drift.yml", "drift", "preview", "prod"), ("e2e.yml", "k3s", "up", "ci"), ("e2e.yml", "k3s", "preview", "ci"),
])
def test_every_preview_and_up_runs_the_policy_pack_with_its_stacks_config(name, job, command, stack):
    line = pulumi_command(load(name)["jobs"][job], command)
    assert "--policy-pack policies " in line + " "
    assert f"--policy-pack-config policies/config.{stack}.json" in line


# --- pull requests, deploys, forks ---------------------------------------------------------------


def test_a_pull_request_gets_a_prod_preview_only_when_labelled_and_approved():
    workflow = load("preview.yml")
    assert "labeled" in workflow["on"]["pull_request"]["types"]
    job = cluster_job("preview.yml")
    assert job["environment"] == "preview", "its secrets wait for a reviewer's approval of each run"
    s = step(job, "pulumi/actions")["with"]
    assert s["command"] == "preview" and s["stack-name"] == "${{ vars.PULUMI_ORG }}/gushen-infra/prod"
    assert "refresh" not in s, "a refresh would GET the Secrets, which the identity may not read"
    assert s["comment-on-pr"] is True


@pytest.mark.parametrize("fork, labels, expected", [
    (True, ["preview"], ["fork-notice"]), (False, ["preview"], ["preview"]), (False, ["docs"], []),
])
def test_forks_get_a_notice_and_unlabelled_pull_requests_nothing(fork, labels, expected):
    jobs = load("preview.yml")["jobs"]
    context = {
        "github.repository": "lurus/gushen-infra",
        "github.event.pull_request.head.repo.full_name": "someone/gushen-infra" if fork else "lurus/gushen-infra",
        "github.event.pull_request.labels.*.name": labels,
    }
    assert [name for name, job in jobs.items() if evaluate_if(job["if"], context)] == expected
    notice = jobs["fork-notice"]
    text = yaml.safe_dump(notice)
    assert "secrets." not in text and "vars." not in text and notice["permissions"] == {}
    assert "::notice" in notice["steps"][0]["run"] and "GITHUB_STEP_SUMMARY" in notice["steps"][0]["run"]


def test_main_deploys_only_after_environment_approval():
    workflow = load("deploy.yml")
    job = cluster_job("deploy.yml")
    s = step(job, "pulumi/actions")["with"]
    assert s["command"] == "up" and s["stack-name"] == "${{ vars.PULUMI_ORG }}/gushen-infra/prod"
    assert workflow["concurrency"] == {"group": "pulumi-prod", "cancel-in-progress": False}, "never cancel a deploy"


# --- drift ---------------------------------------------------------------------------------------


def test_drift_runs_on_a_schedule_and_fails_on_any_difference():
    workflow = load("drift.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    job = cluster_job("drift.yml")
    assert job["environment"] == "drift"
    run = next(s for s in job["steps"] if "pulumi preview" in s.get("run", ""))
    command = pulumi_command(job, "preview")
    for flag in ("--refresh", "--expect-no-changes", "--diff", '--stack "$STACK"'):
        assert flag in command
    assert "set -o pipefail" in run["run"], "the tee must not hide the preview's exit status"
    assert run["env"]["STACK"] == step(cluster_job("deploy.yml"), "pulumi/actions")["with"]["stack-name"]


def test_drift_leaves_out_exactly_the_secrets_the_identity_may_not_read():
    """pulumi's URN globs: ``**`` is ``.*``, ``*`` is ``[^:]*`` (pkg/resource/deploy/deployment.go, getMatcher)."""
    (glob,) = re.findall(r"--exclude '([^']+)'", pulumi_command(cluster_job("drift.yml"), "preview"))
    pattern = re.compile("^" + ".*".join("[^:]*".join(map(re.escape, p.split("*"))) for p in glob.split("**")) + "$")
    base = "urn:pulumi:prod::gushen-infra::gushen:core:AppNamespace$"
    assert pattern.match(base + "kubernetes:core/v1:Secret::ai-qtrd-secrets")
    assert not pattern.match(base + "kubernetes:core/v1:ConfigMap::ai-qtrd-config")
    # Only the kind Secret: not an object whose parent component's type says "Secret".
    assert not pattern.match("urn:pulumi:prod::gushen-infra::gushen:core:Secrets$kubernetes:core/v1:ConfigMap::x")


def test_drift_opens_or_updates_one_issue_with_the_diff():
    job = cluster_job("drift.yml")
    report = job["steps"][-1]
    assert report["if"] == "failure() && steps.preview.outcome == 'failure'"
    assert "drift.txt" in report["run"] and "gh issue create" in report["run"] and "gh issue comment" in report["run"]


def _wiring(job: dict) -> list[Any]:
    """Every step that sets up the runner, with its inputs: checkout to CLI install."""
    keep = []
    for s in job["steps"]:
        if s.get("uses") or "requirements.txt" in s.get("run", ""):
            # The CLI's version, not its command; the login's organisation, not its token type (read-only for drift).
            only = {"pulumi/actions": "pulumi-version", "pulumi/auth-actions": "organization"}.get(s.get("uses", "").split("@")[0])
            keep.append({k: v for k, v in s.items() if k not in ("name", "env")}
                        | ({"with": {k: v for k, v in s["with"].items() if k == only}} if only else {}))
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


def test_tests_get_the_control_plane_binaries_checked_against_published_checksums():
    (job,) = load("tests.yml")["jobs"].values()
    (assets,) = [s for s in job["steps"] if "KUBEBUILDER_ASSETS" in s.get("name", "")]
    env, script = assets["env"], assets["run"]
    assert re.fullmatch(r"v1\.36\.\d+", env["KUBE_VERSION"]) and re.fullmatch(r"v3\.5\.\d+", env["ETCD_VERSION"])
    for name in ("KUBE_SERVER_SHA512", "ETCD_SHA512"):
        assert re.fullmatch(r"[0-9a-f]{128}", env[name])
        assert f'echo "${name}  ' in script
    assert script.count("sha512sum --check --strict") == 2
    for binary in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "/etcd"):
        assert binary in script
    test = job["steps"][-1]
    assert test["run"] == "make test" and test["env"]["KUBEBUILDER_ASSETS"] == env["ASSETS"]


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


# --- the mutation workflow ----------------------------------------------------------------------


def test_mutation_runs_weekly_runs_both_scores_uploads_the_reports_then_fails_if_either_failed():
    workflow = load("mutation.yml")
    assert [s["cron"] for s in workflow["on"]["schedule"]] == ["17 3 * * 1"], "weekly, Monday 03:17 UTC"
    assert "workflow_dispatch" in workflow["on"] and "push" not in workflow["on"]
    (job,) = workflow["jobs"].values()
    deps = index(job, lambda s: s.get("run", "").splitlines()[:1] == ["make deps"])
    python, shell = (index(job, lambda s, t=t: s.get("run") == t) for t in ("make mutate", "make mutate-shell"))
    assert deps < python < shell
    for i in (python, shell):
        assert job["steps"][i]["continue-on-error"] is True, "the other score and the upload still run"
    upload = step(job, "actions/upload-artifact")
    assert upload["if"] == "always()" and index(job, lambda s: s is upload) > shell
    assert upload["with"]["path"].split() == ["mutation-report/", "mutants/**/*.meta"]
    last = job["steps"][-1]
    assert index(job, lambda s: s is last) > index(job, lambda s: s is upload)
    assert last["env"] == {"PYTHON_OUTCOME": "${{ steps.python.outcome }}", "SHELL_OUTCOME": "${{ steps.shell.outcome }}"}
    assert {job["steps"][python]["id"], job["steps"][shell]["id"]} == {"python", "shell"}
    for outcomes, ok in ((("success", "success"), True), (("failure", "success"), False), (("success", "failure"), False)):
        env = {"PATH": "/usr/bin:/bin", "PYTHON_OUTCOME": outcomes[0], "SHELL_OUTCOME": outcomes[1]}
        done = subprocess.run(["bash", "-e", "-c", last["run"]], env=env, capture_output=True, text=True)
        assert (done.returncode == 0) == ok, (outcomes, done)
