"""The GitHub workflows: valid against GitHub's workflow schema, hardened, and wired as the team relies on.

Hardened: zizmor (offline audits) finds nothing; every action is pinned to a commit; no checkout
keeps its token; permissions are empty by default and granted per job; no ``${{ }}`` in a shell.
Least privilege: only the approved deploy on main can obtain the credential that writes to the
cluster; previews and the drift check use the read-only identity; a pull request's preview needs a
label and a reviewer's approval. Jobs that talk to the cluster join the tailnet, log in to Pulumi
Cloud with a short-lived OIDC token and run the CLI at the SDK's version; e2e.yml deploys the ci
stack to a pinned K3s; the test workflow lays out ``../shared`` and the control plane binaries
from pinned, checksummed downloads so no test skips on GitHub. Threat model: docs/ci.md.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT, require_binary, require_shared
from .test_config import prod_raw

WORKFLOWS = ROOT / ".github" / "workflows"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
SHARED_SCRIPT = WORKFLOWS / "shared_schemas.py"
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
CLUSTER = {"preview.yml": "preview", "deploy.yml": "up", "drift.yml": "drift"}
#: The only permissions a job may be granted beyond ``contents: read``, and why.
WRITE_GRANTS = {
    ("deploy.yml", "up"): {"id-token": "write"},  # the OIDC token Pulumi Cloud trades for its own
    ("drift.yml", "drift"): {"id-token": "write", "issues": "write"},  # ... and the drift issue
    ("drift.yml", "deploy-pending"): {"actions": "read"},  # is a deploy queued?
    ("preview.yml", "preview"): {"id-token": "write", "pull-requests": "write"},  # ... and the PR comment
}
#: The cluster credentials (GitHub environment secrets, docs/ci.md), read by the stack kubeconfig's exec plugin.
DEPLOY_TOKEN, PREVIEW_TOKEN = "secrets.K8S_DEPLOY_TOKEN", "secrets.K8S_PREVIEW_TOKEN"


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


# --- e2e on K3s --------------------------------------------------------------------------------


def e2e_step(prefix: str) -> dict:
    (found,) = [s for s in load("e2e.yml")["jobs"]["k3s"]["steps"] if s.get("name", "").startswith(prefix)]
    return found


def test_e2e_runs_for_program_changes_on_main_and_by_hand_with_no_secret():
    workflow = load("e2e.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in workflow["on"]
    paths = workflow["on"]["pull_request"]["paths"]
    assert {"__main__.py", "gushen_infra/**", "policies/**", "Pulumi.ci.yaml"} <= set(paths)
    assert "secrets." not in (WORKFLOWS / "e2e.yml").read_text()


def test_e2e_installs_a_pinned_k3s_whose_checksum_matches_the_release_list():
    install = e2e_step("Install and start K3s")
    assert re.fullmatch(r"v\d+\.\d+\.\d+\+k3s\d+", install["env"]["K3S_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", install["env"]["K3S_SHA256"])
    script = install["run"]
    assert 'echo "$K3S_SHA256  k3s" | sha256sum --check --strict' in script
    assert 'grep -qx "$K3S_SHA256  k3s" sha256sum-amd64.txt' in script
    assert script.index("sha256sum --check") < script.index("sudo install")
    # The ci stack pins every tier to the node K3s registers.
    node = re.search(r"--node-name (\S+)", script)[1]  # type: ignore[index]
    assert set(yaml.safe_load((ROOT / "Pulumi.ci.yaml").read_text())["config"]["gushen:nodes"].values()) == {node}


def test_e2e_checks_what_users_rely_on_in_order():
    names = [s.get("name", "") for s in load("e2e.yml")["jobs"]["k3s"]["steps"]]
    order = ["pulumi up", "Wait until every workload is Ready", "The routes answer", "Redis writes reach the master",
             "A preview right after shows no changes", "pulumi destroy leaves"]
    found = [next(i for i, n in enumerate(names) if n.startswith(o)) for o in order]
    assert found == sorted(found)
    assert "--expect-no-changes" in e2e_step("A preview right after")["run"]
    destroy = e2e_step("pulumi destroy leaves")["run"]
    assert "--exclude-protected" in destroy
    for kept in ("get namespace", "get statefulset redis", "redis-data-redis-0", "backups", "clusterissuers"):
        assert kept in destroy
    assert ".github/workflows/e2e_failover.py" in e2e_step("Redis writes reach the master")["run"]


def test_e2e_uploads_the_cluster_logs_only_on_failure():
    collect, upload = e2e_step("Collect the cluster's state"), e2e_step("Upload them")
    assert collect["if"] == upload["if"] == "failure()"
    assert upload["with"]["path"] == "${{ runner.temp }}/e2e-logs" and "e2e-logs" in collect["run"]


def test_the_standin_answers_both_probe_paths_of_the_ci_stack(tmp_path):
    """The stand-in image's server, run here: every probe path of the ci stack answers 200 on its tier's port."""
    import urllib.request

    from .conftest import stop_process
    from .redis_harness import wait_for

    stack = yaml.safe_load((ROOT / "Pulumi.ci.yaml").read_text())["config"]
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    server = subprocess.Popen([sys.executable, str(WORKFLOWS / "standin.py"), *map(str, ports)])
    try:
        for port, tier in zip(ports, ("web", "api")):
            url = f"http://127.0.0.1:{port}{stack[f'gushen:{tier}']['probes']['path']}"

            def answer():
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        return response.status, json.loads(response.read())
                except OSError:
                    return None
            status, body = wait_for(f"the stand-in on {port}", answer, timeout=15)
            assert status == 200 and body == {"port": port, "path": stack[f"gushen:{tier}"]["probes"]["path"]}
    finally:
        stop_process(server)
    assert server.returncode == 0, "SIGTERM ends it at once (PID 1 in the pod)"


def test_the_standin_listens_on_the_ci_stacks_ports():
    stack = yaml.safe_load((ROOT / "Pulumi.ci.yaml").read_text())["config"]
    text = (WORKFLOWS / "standin.py").read_text()
    ports = tuple(int(p) for p in re.search(r"^PORTS = \(([^)]*)\)", text, re.M)[1].split(","))  # type: ignore[index]
    assert ports == (stack["gushen:web"]["port"], stack["gushen:api"]["port"])
    assert stack["gushen:web"]["image"] == stack["gushen:api"]["image"]


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
