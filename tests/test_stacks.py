"""Both stacks, prod and dev, render from the same components and pass the policy pack under
their own policy config: the components and the pack are reusable, not prod-shaped."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gushen_infra import quantity

from .conftest import ROOT, run_stack

#: Each stack's policy config, generated from its stack file (make policy-config).
STACKS = {stack: f"policies/config.{stack}.json" for stack in ("prod", "dev", "ci")}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_stack_renders_and_passes_its_policy_config(stack, tmp_path):
    rendered = run("gushen_infra.render", "--stack", stack, "--out", str(tmp_path))
    assert rendered.returncode == 0, rendered.stderr
    checked = run("policies.check", "--config", STACKS[stack], str(tmp_path / "manifests.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 mandatory" in checked.stderr


def test_dev_does_not_pass_under_prods_policy_config(tmp_path):
    assert run("gushen_infra.render", "--stack", "dev", "--out", str(tmp_path)).returncode == 0
    checked = run("policies.check", "--config", STACKS["prod"], str(tmp_path / "manifests.yaml"))
    assert checked.returncode == 1
    assert "mandatory node-placement Deployment/ai-qtrd-web" in checked.stdout


@pytest.fixture(scope="module")
def dev():
    return run_stack("dev")


def test_dev_pins_every_workload_to_its_one_node(dev):
    for kind in ("Deployment", "StatefulSet"):
        for workload in dev.all(kind):
            pod = workload["spec"]["template"]["spec"]
            selector = pod.get("nodeSelector", {}).get("kubernetes.io/hostname")
            preferred = pod.get("affinity", {}).get("nodeAffinity", {}).get(
                "preferredDuringSchedulingIgnoredDuringExecution", [{}])[0]
            values = preferred.get("preference", {}).get("matchExpressions", [{}])[0].get("values")
            assert selector == "gushen-dev" or values == ["gushen-dev"], workload["metadata"]["name"]


def test_dev_runs_redis_without_sentinel_and_certificates_from_staging(dev):
    redis = dev.get("StatefulSet", "redis")
    assert redis["spec"]["replicas"] == 1
    assert [c["name"] for c in redis["spec"]["template"]["spec"]["containers"]] == ["redis"]
    assert dev.get("Certificate", "gushen-lurus-cn-tls")["spec"]["issuerRef"]["name"] == "letsencrypt-staging"
    assert dev.get("Namespace", "ai-qtrd-dev")


def test_dev_is_smaller_than_prod(dev, prod):
    def limits(stack, kind, name):
        (c, *_) = stack.get(kind, name)["spec"]["template"]["spec"]["containers"]
        return {k: quantity.parse(v) for k, v in c["resources"]["limits"].items()}

    for kind, name in (("Deployment", "ai-qtrd-web"), ("Deployment", "ai-qtrd-api"), ("StatefulSet", "redis")):
        small, big = limits(dev, kind, name), limits(prod, kind, name)
        assert small["cpu"] < big["cpu"] and small["memory"] < big["memory"], name
