"""The offline render: plain manifests kubectl accepts, valid for Kubernetes 1.32, nothing on bad config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gushen_infra import render

from .conftest import ROOT

K3S_KUBERNETES = "1.32"


def run_render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gushen_infra.render", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("render")
    result = run_render("--stack", "prod", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"to {out / 'manifests.yaml'}" in result.stdout
    return list(yaml.safe_load_all((out / "manifests.yaml").read_text()))


def walk(value):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def test_every_object_is_a_plain_manifest(rendered, prod):
    assert len(rendered) == len(prod.manifests)
    for doc in rendered:
        assert {"apiVersion", "kind", "metadata"} <= set(doc)
        assert doc["metadata"]["name"]
        for value in walk(doc):
            assert not isinstance(value, float), f"float in {doc['kind']}/{doc['metadata']['name']}"
            if isinstance(value, dict):
                assert render.SECRET_SIG not in value, "secret wrapper left in the render"


def test_built_in_kinds_validate_strictly_against_kubernetes_1_32(rendered):
    built_in = [d for d in rendered if "." not in d["apiVersion"].split("/")[0] or d["apiVersion"].endswith(".k8s.io/v1")
                or d["apiVersion"].split("/")[0] in {"apps", "batch", "policy", "autoscaling"}]
    assert {d["kind"] for d in built_in} >= {"Namespace", "Secret", "ConfigMap", "Service", "Deployment"}
    for doc in built_in:
        kubernetes_validate.validate(doc, K3S_KUBERNETES, strict=True)


def test_apply_order_puts_what_others_need_first(rendered):
    kinds = [d["kind"] for d in rendered]
    assert kinds[0] == "Namespace"
    first_workload = min(i for i, k in enumerate(kinds) if k in {"Deployment", "StatefulSet"})
    assert all(kinds.index(k) < first_workload for k in ("Secret", "ConfigMap", "Service"))


def test_secrets_are_placeholders_never_real_values(rendered):
    secret = next(d for d in rendered if d["kind"] == "Secret" and d["metadata"]["name"] == "ai-qtrd-secrets")
    for key, value in secret["stringData"].items():
        assert "PLACEHOLDER-" in value, key


def test_every_object_is_named_as_the_spec_names_it(rendered):
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert {("Deployment", "ai-qtrd-web"), ("Deployment", "ai-qtrd-api"), ("Service", "ai-qtrd-web"),
            ("Service", "ai-qtrd-api"), ("Secret", "ai-qtrd-secrets"), ("ConfigMap", "ai-qtrd-config")} <= names


BROKEN = {
    "web.resources.requests.cpu": ("500x", "gushen:web.resources.requests.cpu: malformed quantity (got '500x')"),
    "web.image": ("gushen-web:latest", "gushen:web.image: image is tagged 'latest'"),
    "api.port": (0, "gushen:api.port: Input should be greater than or equal to 1 (got 0)"),
}


@pytest.mark.parametrize("key", sorted(BROKEN))
def test_bad_config_exits_2_names_key_and_value_and_writes_nothing(tmp_path, key):
    value, message = BROKEN[key]
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "__main__.py", project)
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    section, *path = key.split(".")
    node = stack["config"][f"gushen:{section}"]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    (project / "Pulumi.broken.yaml").write_text(yaml.safe_dump(stack))
    out = tmp_path / "out"
    result = run_render("--project", str(project), "--stack", "broken", "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_missing_stack_file_exits_2(tmp_path):
    result = run_render("--stack", "nosuchstack", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Pulumi.nosuchstack.yaml" in result.stderr
    assert not (tmp_path / "out").exists()
