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


def test_the_same_stack_renders_the_same_file_whatever_order_registrations_complete_in(prod):
    docs = render.manifests(prod.resources)
    assert render.manifests(reversed(prod.resources)) == docs
    assert len({(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs}) == len(docs)


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


# --- the command line: each misuse exits 2 with one message, no traceback, nothing written -------


@pytest.fixture
def cli(capsys):
    """``python -m gushen_infra.render ARGS`` in this process (a subprocess costs ~6 s of imports):
    an exception would fail the test, so a refusal that passes printed no traceback."""

    def run(*args: str) -> subprocess.CompletedProcess:
        try:
            code = render.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def assert_refused(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "rendered " not in result.stdout


def test_out_at_a_file_is_refused_before_rendering(tmp_path, cli):
    target = tmp_path / "manifests.yaml"
    target.write_text("keep me\n")
    assert_refused(cli("--out", str(target)), f"render: --out {target}: {target} is not a directory")
    assert target.read_text() == "keep me\n"
    assert_refused(cli("--out", str(target / "sub")), f"{target} is not a directory")


def test_out_where_nothing_can_be_created_is_refused(tmp_path, cli):
    # /proc takes no new directories, not even from root (CI runs as root, so chmod would not do).
    assert_refused(cli("--out", "/proc/gushen-render"), "render: cannot write /proc/gushen-render/manifests.yaml (")


def test_policy_config_without_check_is_refused(tmp_path, cli):
    assert_refused(
        cli("--out", str(tmp_path / "out"), "--policy-config", "policies/config.dev.json"),
        "--policy-config applies only with --check",
    )
    assert not (tmp_path / "out").exists()


def test_config_renders_an_arbitrary_stack_file(tmp_path, cli):
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["gushen:web"]["replicas"] = 2
    file = tmp_path / "elsewhere" / "my-dev.yaml"
    file.parent.mkdir()
    file.write_text(yaml.safe_dump(stack))
    result = cli("--config", str(file), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "of stack 'my-dev'" in result.stdout
    docs = list(yaml.safe_load_all((tmp_path / "out" / "manifests.yaml").read_text()))
    web = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "ai-qtrd-web")
    assert web["metadata"]["namespace"] == "ai-qtrd-dev" and web["spec"]["replicas"] == 2


def test_config_of_a_missing_file_is_refused(tmp_path, cli):
    assert_refused(
        cli("--config", str(tmp_path / "Pulumi.nope.yaml"), "--out", str(tmp_path / "out")),
        "Pulumi.nope.yaml: cannot read stack file",
    )
    assert not (tmp_path / "out").exists()


def write_stack(tmp_path, text: str) -> Path:
    file = tmp_path / "Pulumi.edited.yaml"
    file.write_text(text)
    return file


def test_a_key_set_twice_is_refused_with_both_lines(tmp_path, cli):
    lines = (ROOT / "Pulumi.prod.yaml").read_text().splitlines()
    domain = next(i for i, line in enumerate(lines) if line.startswith("  gushen:domain:"))
    replicas = next(i for i, line in enumerate(lines) if line.startswith("    replicas: 1"))
    lines.insert(replicas + 1, "    replicas: 3")
    lines.append("  gushen:domain: gushen-new.lurus.cn")
    file = write_stack(tmp_path, "\n".join(lines) + "\n")
    result = cli("--config", str(file), "--out", str(tmp_path / "out"))
    assert_refused(result, f"Pulumi.edited.yaml: line {replicas + 2}: key 'replicas' is already set on line {replicas + 1}")
    assert f"line {len(lines)}: key 'gushen:domain' is already set on line {domain + 1}" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "config:\n", "encryptionsalt: v1:abc\n"])
def test_an_empty_stack_file_is_one_line(tmp_path, text, cli):
    result = cli("--config", str(write_stack(tmp_path, text)), "--out", str(tmp_path / "out"))
    assert_refused(result, "gushen: no config at all in the gushen: namespace")
    assert result.stderr.count("\n  ") == 1, result.stderr


def test_a_stack_file_that_is_not_a_mapping_is_refused(tmp_path, cli):
    result = cli("--config", str(write_stack(tmp_path, "- just\n- a list\n")), "--out", str(tmp_path / "out"))
    assert_refused(result, "Pulumi.edited.yaml: not a stack file")


def test_the_render_lists_the_placeholders_it_used(tmp_path, cli):
    result = cli("--out", str(tmp_path))
    assert result.returncode == 0
    assert "render: 5 placeholder(s) used; pulumi up refuses them until they are set:" in result.stderr
    for key, value in [("postgres.host", "'postgres.set-me.invalid'"), ("network.postgres.cidr", "'192.0.2.10/32'"),
                       ("tls.acmeEmail", "'set-me@lurus.cn'"), ("backup.remote.cidr", "'192.0.2.30/32'"),
                       ("backup.remote.repository", "'s3:https://s3.set-me.invalid/gushen-backups'")]:
        assert f"  gushen:{key}: {value} is a placeholder; set the real value with pulumi config set --path 'gushen:{key}' <value>" in result.stderr


def test_no_placeholder_no_report(tmp_path, cli):
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    text = (text.replace("postgres.set-me.invalid", "pg.lurus.cn").replace("set-me@lurus.cn", "ops@lurus.cn")
            .replace("192.0.2.10/32", "10.1.2.3/32").replace("s3.set-me.invalid", "s3.lurus.cn")
            .replace("192.0.2.30/32", "10.1.2.4/32"))
    result = cli("--config", str(write_stack(tmp_path, text)), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "placeholder" not in result.stderr
