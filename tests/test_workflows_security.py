"""The GitHub workflows, hardened: zizmor (offline audits) finds nothing; every action is pinned to
the commit of its release; no checkout keeps its token; permissions are empty by default and
granted per job; no ``${{ }}`` in a shell script. Least privilege: only the approved deploy on main
can obtain the credential that writes to the cluster; a job a pull request triggers holds at most
the read-only identity, after a reviewer's approval (docs/ci.md, threat model).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import require_binary
from .workflows import (
    CLUSTER, WORKFLOWS, all_jobs, cluster_job, load, resolve_env, sdk_version, steps, triggered_by_pull_requests,
)

#: The one commit each action is pinned to, and the release tag it is: ``git rev-parse <tag>^{commit}``
#: in the action's repository (all node24 runtimes).
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "tailscale/github-action": ("780049a30b6ff5c378a9e7b389d15ece7a204888", "v4.1.3"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "pulumi/auth-actions": ("141415910c3beb54e03b48e9057c204c97b956f2", "v2.1.0"),
}
USES = re.compile(r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?: # (?P<version>\S+))?$")
#: The only permissions a job may be granted beyond ``contents: read``, and why.
WRITE_GRANTS = {
    ("deploy.yml", "up"): {"id-token": "write"},  # the OIDC token Pulumi Cloud trades for its own
    ("drift.yml", "drift"): {"id-token": "write", "issues": "write"},  # ... and the drift issue
    ("drift.yml", "deploy-pending"): {"actions": "read"},  # is a deploy queued?
    ("preview.yml", "preview"): {"id-token": "write", "pull-requests": "write"},  # ... and the PR comment
}
#: The cluster credentials (GitHub environment secrets, docs/ci.md), read by the stack kubeconfig's exec plugin.
DEPLOY_TOKEN, PREVIEW_TOKEN = "secrets.K8S_DEPLOY_TOKEN", "secrets.K8S_PREVIEW_TOKEN"




# --- hardening ------------------------------------------------------------------------------------


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([require_binary("zizmor"), "--offline", "--no-progress", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_zizmor_finds_nothing():
    """zizmor's offline audits at its default persona: unpinned actions, persisted credentials,
    template injection, excessive permissions, dangerous triggers, ..."""
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_reports_an_unpinned_action_and_a_persisted_checkout(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    permissions: {}\n"
                   "    steps:\n      - uses: actions/checkout@v7\n")
    result = zizmor(bad)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout and "artipacked" in result.stdout


def test_every_action_is_pinned_to_the_commit_of_its_release():
    seen = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            if m := USES.match(line):
                assert m["action"] in PINS, f"{path.name}: {m['action']} has no known pin"
                assert (m["ref"], m["version"]) == PINS[m["action"]], f"{path.name}: {line.strip()}"
                seen.add(m["action"])
            else:
                assert "uses:" not in line, f"{path.name}: {line.strip()}"
    assert seen == set(PINS)


def test_no_checkout_keeps_its_token():
    for name, job_name, job in all_jobs():
        for s in steps(job, "actions/checkout"):
            assert s["with"]["persist-credentials"] is False, f"{name} {job_name}"


def test_permissions_are_empty_by_default_and_granted_per_job():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert load(path.name)["permissions"] == {}, path.name
    for name, job_name, job in all_jobs():
        granted = {k: v for k, v in job["permissions"].items() if (k, v) != ("contents", "read")}
        assert granted == WRITE_GRANTS.get((name, job_name), {}), f"{name} {job_name}: {job['permissions']}"


def test_no_expression_is_expanded_inside_a_shell_script():
    """``${{ }}`` in ``run:`` is pasted into the script before bash parses it: a branch name or a PR
    title could inject commands. Values reach scripts through ``env:`` instead."""
    for name, job_name, job in all_jobs():
        for s in job["steps"]:
            assert "${{" not in s.get("run", ""), f"{name} {job_name}: {s.get('name', s['run'][:60])}"


@pytest.mark.parametrize("name", sorted(CLUSTER) + ["e2e.yml"])
def test_the_pulumi_cli_is_pinned_to_the_sdk_version(name):
    workflow = load(name)
    assert workflow["env"]["PULUMI_VERSION"] == sdk_version()
    for job in workflow["jobs"].values():
        for s in steps(job, "pulumi/actions"):
            assert resolve_env(workflow, s["with"]["pulumi-version"]) == sdk_version()


# --- who can obtain which credential -------------------------------------------------------------


def test_no_workflow_runs_pull_request_code_with_the_base_branchs_rights():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert "pull_request_target" not in load(path.name)["on"], path.name


def test_only_the_approved_deploy_on_main_can_obtain_the_credential_that_writes_to_the_cluster():
    """The deploy token is a secret of the `production` environment (reviewers, main only): no job
    that a pull request triggers, and no other job, names that environment or that secret."""
    holders = [(name, job_name) for name, job_name, job in all_jobs()
               if DEPLOY_TOKEN in json.dumps(job) or "production" in json.dumps(job.get("environment"))]
    assert holders == [("deploy.yml", "up")]
    assert load("deploy.yml")["on"] == {"push": {"branches": ["main"]}}
    assert cluster_job("deploy.yml")["environment"]["name"] == "production"


def test_every_job_a_pull_request_triggers_holds_at_most_the_read_only_identity():
    for name, job_name, job in all_jobs():
        if not triggered_by_pull_requests(name):
            continue
        text = json.dumps(job)
        secrets = set(re.findall(r"secrets\.(\w+)", text))
        assert secrets <= {"TS_OAUTH_CLIENT_ID", "TS_OAUTH_SECRET", "K8S_PREVIEW_TOKEN", "GITHUB_TOKEN"}, (name, job_name)
        if secrets - {"GITHUB_TOKEN"}:
            # Environment secrets only reach a job once the environment's reviewers approve the run.
            assert job["environment"] == "preview", (name, job_name)


def test_every_secret_is_an_environment_secret():
    """A repository secret reaches any workflow a collaborator pushes on any branch: each cluster
    secret is only in environments (docs/ci.md), so every job naming one has an environment."""
    for name, job_name, job in all_jobs():
        secrets = set(re.findall(r"secrets\.(\w+)", json.dumps(job))) - {"GITHUB_TOKEN"}
        if secrets:
            assert job.get("environment"), f"{name} {job_name}: {sorted(secrets)} without an environment"


@pytest.mark.parametrize("name, token", [("deploy.yml", DEPLOY_TOKEN), ("drift.yml", PREVIEW_TOKEN),
                                          ("preview.yml", PREVIEW_TOKEN)])
def test_the_cluster_token_reaches_only_the_pulumi_step(name, token):
    """The stack's kubeconfig holds no credential: its exec plugin prints GUSHEN_K8S_TOKEN (docs/ci.md)."""
    holders = [s for s in cluster_job(name)["steps"] if token in json.dumps(s)]
    assert len(holders) == 1
    assert holders[0]["env"]["GUSHEN_K8S_TOKEN"] == "${{ %s }}" % token
    assert "pulumi" in json.dumps(holders[0])
