"""Smoke test: __main__.py run the way `pulumi up` runs it, and the provider every object uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from gushen_infra import config, render

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


def providers(stack) -> dict[str, render.Recorded]:
    return {p.name: p for p in stack.of_type("pulumi:providers:kubernetes")}


def test_every_kubernetes_object_uses_an_explicit_provider(prod):
    main, retained = providers(prod)["k3s"], providers(prod)["k3s-retained"]
    for provider in (main, retained):
        assert provider.inputs["clusterIdentifier"] == "gushen-k3s-prod"
        assert provider.inputs["enableServerSideApply"] == "true", "provider config travels as strings"
        assert provider.inputs["context"] == "gushen-k3s-prod"
        assert render.plain(provider.inputs["kubeconfig"]) == render.placeholder("kubeconfig")
    objects = [r for r in prod.resources if render.is_kubernetes_object(r)]
    on_retained = {r.name for r in objects if r.provider.startswith(retained.urn + "::")}
    assert on_retained == {"backups", "letsencrypt-prod", "letsencrypt-staging"}
    for r in objects:
        if r.name not in on_retained:
            assert r.provider.startswith(main.urn + "::"), f"{r.type} {r.name} uses {r.provider!r}"


def test_config_maps_and_secrets_update_in_place_and_only_retained_objects_are_upserted(prod):
    main, retained = providers(prod)["k3s"], providers(prod)["k3s-retained"]
    assert main.inputs["enableConfigMapMutable"] == "true"
    assert main.inputs["enableSecretMutable"] == "true"
    assert "upsertExistingObjects" not in main.inputs
    assert retained.inputs["upsertExistingObjects"] == "true"
    on_retained = [r for r in prod.resources if r.provider.startswith(retained.urn + "::")]
    assert all(r.options["retainOnDelete"] for r in on_retained), "an upserting provider only for retained objects"


def test_render_mode_reaches_the_provider_without_a_kubeconfig(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    stack = run_stack("prod", {"renderYamlToDirectory": "out/yaml", "kubeconfig": None, "kubeContext": None})
    provider = providers(stack)["k3s"]
    assert provider.inputs["renderYamlToDirectory"] == "out/yaml"
    assert "kubeconfig" not in provider.inputs and "context" not in provider.inputs


def test_render_mode_with_kubeconfig_exported_passes_the_ambient_path(monkeypatch, tmp_path):
    # The SDK fills kubeconfig from $KUBECONFIG; the provider accepts exactly that value in render
    # mode (kubeProvider.CheckConfig: matchesAmbientKubeconfigEnv), so the render still works.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "config"))
    stack = run_stack("prod", {"renderYamlToDirectory": "out/yaml", "kubeconfig": None, "kubeContext": None})
    assert providers(stack)["k3s"].inputs["kubeconfig"] == str(tmp_path / "config")


def test_an_exported_kubeconfig_never_reaches_prod(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "other-cluster"))
    stack = run_stack("prod")
    for provider in providers(stack).values():
        assert render.plain(provider.inputs["kubeconfig"]) == render.placeholder("kubeconfig")
        assert provider.inputs["context"] == "gushen-k3s-prod"


def test_render_mode_with_a_kubeconfig_stops_before_anything_registers():
    mocks = render.RecordingMocks()
    with pytest.raises(config.ConfigError) as info:
        render.run_program("prod", ROOT, {"renderYamlToDirectory": "out/yaml", "kubeContext": None}, mocks=mocks)
    (problem,) = info.value.problems
    assert "gushen:kubeconfig" in problem and "gushen:renderYamlToDirectory" in problem
    assert mocks.resources == []


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
