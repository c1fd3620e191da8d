"""The policy pack on its own, as ``pulumi policy publish`` ships it and the CLI runs it.

``pulumi policy publish`` uploads ``policies/`` alone; the CLI unpacks a required pack into
``~/.pulumi/policies/<org>/pulumi-analyzer-<name>-v<version>`` (pulumi/pulumi,
``sdk/go/common/workspace/plugins.go``, ``GetPolicyPath``), creates ``venv`` from its
``requirements.txt`` (``pkg/backend/httpstate/policypack.go``, ``installRequiredPolicy``) and
starts ``python -u -m pulumi.policy <engine> <pack dir>`` from that venv. This test does the
same with a fresh venv that holds the pack's requirements and nothing else (no repository on
``sys.path``), then checks the pack answers exactly as ``policies.check`` does.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pulumi.runtime import proto

from .conftest import IN_CI, ROOT
from .test_policies_grpc import analyze, check_lines, configure, engine, recs, serve_pack  # noqa: F401

PACK = ROOT / "policies"


def test_the_pack_imports_nothing_from_the_program():
    """Not even in a comment: ``grep -r gushen_infra policies/`` finds nothing."""
    hits = [
        f"{path.relative_to(ROOT)}:{n}" for path in sorted(PACK.rglob("*"))
        if path.is_file() and "venv" not in path.parts and "__pycache__" not in path.parts
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1) if "gushen_infra" in line
    ]
    assert hits == []


def test_the_pack_is_versioned_and_runs_from_its_own_venv():
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(project["version"]))
    assert project["runtime"]["name"] == "python"
    # Relative to the pack: the CLI creates it for a published pack; never the program's venv.
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    requirements = (PACK / "requirements.txt").read_text()
    assert re.search(r"^pulumi-policy==", requirements, re.M) and re.search(r"^pulumi==", requirements, re.M)


def _copy_pack(target: Path) -> Path:
    shutil.copytree(PACK, target, ignore=shutil.ignore_patterns("__pycache__", "venv", "*.pyc"))
    return target


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory) -> Path:
    """policies/ alone, under the name the CLI gives a published pack, with a fresh venv of its requirements."""
    version = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["version"]
    home = tmp_path_factory.mktemp("pulumi-home")
    target = _copy_pack(home / "policies" / "gushen" / f"pulumi-analyzer-gushen-policies-v{version}")
    venv.EnvBuilder(with_pip=True, clear=True).create(target / "venv")
    python = target / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"],
        cwd=target, capture_output=True, text=True, timeout=900,
    )
    if install.returncode != 0:
        message = f"pip could not install the pack's requirements from PyPI:\n{install.stderr[-2000:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return target


@pytest.fixture(scope="module")
def standalone(engine, pack_dir) -> Iterator[proto.AnalyzerStub]:  # noqa: F811 (the imported fixture)
    address, _ = engine
    python = pack_dir / "venv" / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    yield from serve_pack(str(python), address, str(pack_dir), pack_dir, env)


def test_the_fresh_venv_holds_only_the_pack_requirements(pack_dir):
    python = pack_dir / "venv" / "bin" / "python"
    probe = "import importlib.util as u; print(u.find_spec('gushen_infra') is None, u.find_spec('pulumi_kubernetes') is None)"
    result = subprocess.run([str(python), "-c", probe], cwd=pack_dir.parent, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_prod_passes_stand_alone_as_in_policies_check(standalone, recs):  # noqa: F811
    configure(standalone)
    assert analyze(standalone, recs) == [] == check_lines(recs)


def test_violations_stand_alone_match_policies_check(standalone, recs):  # noqa: F811
    broken = copy.deepcopy(recs)
    by_key = {(r.type, r.name): r for r in broken}
    web = by_key[("kubernetes:apps/v1:Deployment", "ai-qtrd-web")].inputs["spec"]["template"]["spec"]
    web["containers"][0]["imagePullPolicy"] = "Always"
    web["containers"][0]["env"].append({"name": "DATABASE_URL", "value": "postgresql://gushen:hunter2@db/gushen"})
    del web["automountServiceAccountToken"]
    by_key[("kubernetes:core/v1:Service", "ai-qtrd-api")].inputs["spec"]["ports"][0]["targetPort"] = "nope"
    configure(standalone)
    lines = check_lines(broken)
    assert sorted(line for line, _ in analyze(standalone, broken)) == sorted(lines)
    assert {line.split()[1] for line in lines} == {
        "image-pull-never", "no-literal-secret-env", "no-service-account-token", "service-endpoints",
    }


def test_bad_config_stand_alone_is_a_violation(standalone, recs):  # noqa: F811
    configure(standalone, {"image-pull-never": {"pullPolicyException": ["redis"]}}, unknown={"all-policies": {}})
    try:
        found = sorted(line for line, _ in analyze(standalone, recs))
    finally:
        configure(standalone)
    assert [line.split(":", 1)[0] for line in found] == [
        "mandatory policy-pack-config all-policies", "mandatory policy-pack-config image-pull-never.pullPolicyException",
    ]
