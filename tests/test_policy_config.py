"""One source for the nodes: ``policies/config.<stack>.json`` is generated from the stack file
(``make policy-config``), checked in without drift, and the render checks an edited copy of a stack
file against that copy's own nodes, so renaming a node or raising its CPU edits nothing under policies/."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from gushen_infra import policy_config, render

from .conftest import ROOT

PROD = (ROOT / "Pulumi.prod.yaml").read_text()
WEB_NODE = json.loads((ROOT / "policies" / "config.prod.json").read_text())["node-placement"]["nodes"]["web"]


@pytest.mark.parametrize("stack", policy_config.stacks())
def test_every_checked_in_policy_config_is_what_its_stack_file_gives(stack):
    """CI's guard against drift: an edit of gushen:clusterNodes or gushen:nodes without
    `make policy-config` fails here, naming the command."""
    assert policy_config.path(stack).read_text() == policy_config.text(policy_config.stack_settings(stack))


def test_the_generated_config_holds_the_stacks_nodes_and_nothing_else():
    settings = policy_config.stack_settings("prod")
    assert policy_config.document(settings) == {
        "node-placement": {"nodes": {"web": settings.nodes.web, "api": settings.nodes.api, "data": settings.nodes.data}},
        "node-capacity": {"allocatable": {n: {"cpu": c.cpu, "memory": c.memory} for n, c in settings.cluster_nodes.items()}},
    }
    assert settings.cluster_nodes[WEB_NODE].cpu == "2"


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project's stack files and generated configs: what `make policy-config` edits."""
    (tmp_path / "policies").mkdir()
    for stack in policy_config.stacks():
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path)
        shutil.copy(policy_config.path(stack), tmp_path / "policies")
    return tmp_path


def test_check_fails_on_drift_and_the_generator_repairs_it(project, capsys):
    assert policy_config.main(["--check", "--project", str(project)]) == 0
    stack_file = project / "Pulumi.prod.yaml"
    stack_file.write_text(PROD.replace(f'{WEB_NODE}: {{cpu: "2"', f'{WEB_NODE}: {{cpu: "3"'))
    assert policy_config.main(["--check", "--project", str(project)]) == 1
    assert ("policies/config.prod.json is not what Pulumi.prod.yaml gives: run `make policy-config` and commit it"
            in capsys.readouterr().err)
    assert policy_config.main(["--project", str(project)]) == 0
    assert json.loads((project / "policies" / "config.prod.json").read_text())["node-capacity"]["allocatable"][WEB_NODE]["cpu"] == "3"
    assert policy_config.main(["--check", "--project", str(project)]) == 0


def render_copy(tmp_path: Path, text: str, capsys, *extra: str) -> tuple[int, str, str]:
    copy = tmp_path / "Pulumi.prod.yaml"
    copy.write_text(text)
    code = render.main(["--config", str(copy), "--out", str(tmp_path / "out"), "--check", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_renamed_node_renders_clean_with_no_edit_under_policies(tmp_path, capsys):
    renamed = re.sub(rf"\b{re.escape(WEB_NODE)}\b", "gushen-web-2", PROD)
    assert renamed.count("gushen-web-2") == 2  # its declaration and the web tier's reference
    code, out, err = render_copy(tmp_path, renamed, capsys)
    assert code == 0, out + err
    assert " objects, 0 mandatory and 0 advisory violations" in err
    manifests = (tmp_path / "out" / "manifests.yaml").read_text()
    assert "kubernetes.io/hostname: gushen-web-2" in manifests and WEB_NODE not in manifests
    # The checked-in prod config still names the old node: checked with it, the copy is refused.
    code, out, err = render_copy(tmp_path, renamed, capsys, "--policy-config", "policies/config.prod.json")
    assert code == 1 and "mandatory node-placement Deployment/ai-qtrd-web" in out


def test_more_cpu_for_a_node_is_one_edit_of_the_stack_file(tmp_path, capsys):
    """Web autoscaling to 5 x 500m (+1 surge) does not fit the 2-core web node; given 4 cores it does."""
    scaled = PROD.replace("autoscaling: {enabled: false, minReplicas: 2, maxReplicas: 5",
                          "autoscaling: {enabled: true, minReplicas: 2, maxReplicas: 5")
    assert scaled != PROD
    code, out, err = render_copy(tmp_path, scaled, capsys)
    assert code == 1 and f"mandatory node-capacity Node/{WEB_NODE}: worst-case cpu limits 3 exceed allocatable 2" in out
    bigger = scaled.replace(f'{WEB_NODE}: {{cpu: "2"', f'{WEB_NODE}: {{cpu: "4"')
    assert bigger != scaled
    code, out, err = render_copy(tmp_path, bigger, capsys)
    assert code == 0, out + err


def test_a_tier_on_an_undeclared_node_is_refused_naming_the_declared_nodes():
    """A node renamed in gushen:nodes only (or a typo) is caught at config time, before any render."""
    from .test_config import problems_of, with_change

    assert problems_of(with_change("nodes.web", "gushen-web-2")) == [
        "gushen:nodes.web: unknown node 'gushen-web-2'; gushen:clusterNodes declares cloud-ubuntu-1-16c32g, "
        "cloud-ubuntu-2-4c8g, cloud-ubuntu-3-2c2g (a renamed node is renamed in both places)"
    ]
    assert problems_of(with_change("clusterNodes", ...)) == ["gushen:clusterNodes: required key is missing"]
    assert problems_of(with_change("clusterNodes", {})) == [
        "gushen:clusterNodes: Dictionary should have at least 1 item after validation, not 0 (got {})"
    ]
