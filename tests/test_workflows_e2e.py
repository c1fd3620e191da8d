"""e2e.yml: the ci stack on a pinned K3s with the real CLI and provider, and its stand-in image's server."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import yaml

from .conftest import ROOT, stop_process
from .redis_harness import wait_for
from .workflows import WORKFLOWS, load


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
