"""Smoke test: __main__.py run the way `pulumi up` runs it, and the provider every object uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from gushen_infra import render

from .conftest import ROOT, run_stack

# The language host hands config to the program in PULUMI_CONFIG (structured values as JSON text)
# and lists secret keys in PULUMI_CONFIG_SECRET_KEYS, then runs __main__.py as a script from the
# project directory. Only the engine is replaced, by Pulumi's mock monitor.
HARNESS = textwrap.dedent(
    """
    import runpy, sys
    import pulumi
    from gushen_infra.render import RecordingMocks
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="gushen-infra", stack="prod", preview=True)

    @pulumi.runtime.test
    def program():
        runpy.run_path("__main__.py", run_name="__main__")

    program()
    print("registered", len(mocks.resources))
    """
)


def run_like_the_cli(values: dict[str, str], secret_keys: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PULUMI_CONFIG": json.dumps(values), "PULUMI_CONFIG_SECRET_KEYS": json.dumps(secret_keys)}
    return subprocess.run(
        [sys.executable, "-c", HARNESS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_program_runs_from_the_cli_environment():
    values, secret_keys = render.stack_config("prod", ROOT)
    result = run_like_the_cli(values, secret_keys)
    assert result.returncode == 0, result.stderr
    registered = int(result.stdout.split("registered")[-1])
    assert registered == len(render.run_program("prod", ROOT))


def test_program_refuses_bad_config_from_the_cli_environment():
    values, secret_keys = render.stack_config("prod", ROOT)
    values["gushen:domain"] = "not a domain"
    result = run_like_the_cli(values, secret_keys)
    assert result.returncode != 0
    assert "gushen:domain: invalid domain" in result.stderr
    assert "registered" not in result.stdout


def test_every_kubernetes_object_uses_the_explicit_k3s_provider(prod):
    (provider,) = prod.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["clusterIdentifier"] == "gushen-k3s-prod"
    assert provider.inputs["enableServerSideApply"] == "true", "provider config travels as strings"
    objects = [r for r in prod.resources if render.is_kubernetes_object(r)]
    assert objects
    for r in objects:
        assert r.provider.startswith(provider.urn + "::"), f"{r.type} {r.name} uses {r.provider!r}"


def test_kubeconfig_and_render_directory_reach_the_provider():
    stack = run_stack("prod", {"renderYamlToDirectory": "out/yaml"})
    (provider,) = stack.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == "out/yaml"
    assert "kubeconfig" not in provider.inputs, "no kubeconfig set: the provider falls back to KUBECONFIG"


def test_components_parent_their_objects(prod):
    by_urn = {r.urn: r for r in prod.resources}
    for r in prod.resources:
        if render.is_kubernetes_object(r):
            parent = by_urn.get(r.parent)
            assert parent is not None and parent.type.startswith("gushen:"), f"{r.type} {r.name}"


def test_stack_outputs(prod):
    assert prod.exports["namespace"] == "ai-qtrd"
    assert prod.exports["url"] == "https://gushen.lurus.cn"
    assert prod.exports["webService"] == "ai-qtrd-web.ai-qtrd.svc.cluster.local:3000"
    assert prod.exports["apiService"] == "ai-qtrd-api.ai-qtrd.svc.cluster.local:8000"
