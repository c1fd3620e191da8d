"""``python -m gushen_infra.render --check``: the policy pack in the render's process, with ``policies.check``'s output and exit codes."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT
from .policy_baseline import with_prod

#: A valid policy config under which the prod render breaks node placement (every tier on n1).
ELSEWHERE = with_prod({"node-placement": {"nodes": {"web": "n1", "api": "n1", "data": "n1"}}})


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_clean_prod_render_checks_in_the_same_process(tmp_path):
    result = run("-m", "gushen_infra.render", "--stack", "prod", "--out", str(tmp_path), "--check")
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all((tmp_path / "manifests.yaml").read_text()))
    assert f"rendered {len(docs)} objects" in result.stdout
    assert f"render --check: {len(docs)} objects, 0 mandatory and 0 advisory violations" in result.stderr


def test_violations_are_the_lines_and_exit_code_of_policies_check(tmp_path):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps(ELSEWHERE))
    out = tmp_path / "out"
    checked = run("-m", "gushen_infra.render", "--out", str(out), "--check", "--policy-config", str(config))
    separate = run("-m", "policies.check", str(out / "manifests.yaml"), "--config", str(config))
    assert checked.returncode == separate.returncode == 1
    lines = checked.stdout.splitlines()
    assert lines[0].startswith("rendered ")  # the file is written before the check, as `make render` did
    assert lines[1:] == separate.stdout.splitlines()
    assert any(line.startswith("mandatory node-placement Deployment/ai-qtrd-web") for line in lines)


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "cannot read policy config"), ('{"all": 3}', "invalid policy config")],
)
def test_bad_policy_config_exits_2_before_anything_is_written(tmp_path, content, message):
    config = tmp_path / "policy.json"
    config.write_text(content)
    out = tmp_path / "out"
    result = run("-m", "gushen_infra.render", "--out", str(out), "--check", "--policy-config", str(config))
    assert result.returncode == 2
    assert message in result.stderr
    assert not out.exists()


def make_render_command(*variables: str) -> list[str]:
    """The render command ``make render`` runs (``make -n``: printed, not run, nothing installed)."""
    result = subprocess.run(["make", "--no-print-directory", "-n", "render", *variables], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "gushen_infra.render" in line]
    assert len(lines) == 1, result.stdout
    return shlex.split(lines[0])


@pytest.mark.parametrize(
    "variables, expected",
    [
        ((), "-m gushen_infra.render --stack prod --out rendered/prod --check --policy-config policies/config.prod.json"),
        (("STACK=dev",), "-m gushen_infra.render --stack dev --out rendered/dev --check --policy-config policies/config.dev.json"),
    ],
)
def test_make_render_renders_and_checks_the_chosen_stack_in_one_process(variables, expected):
    command = make_render_command(*variables)
    assert " ".join(command[1:]) == expected
    assert "policies.check" not in command


def test_make_render_stack_dev_passes_its_policy_config(tmp_path):
    command = make_render_command("STACK=dev")
    out = command.index("--out")
    command[out + 1] = str(tmp_path)
    result = run(*command[1:])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "of stack 'dev'" in result.stdout
    assert "0 mandatory" in result.stderr


def test_make_render_regenerates_a_stale_policy_config_first():
    """An edited stack file (newer than its policies/config.<stack>.json) is regenerated before the check."""
    result = subprocess.run(["make", "--no-print-directory", "-n", "-W", "Pulumi.prod.yaml", "render"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    lines = result.stdout.splitlines()
    regenerate = next(i for i, line in enumerate(lines) if "-m gushen_infra.policy_config --stack prod" in line)
    render = next(i for i, line in enumerate(lines) if "-m gushen_infra.render" in line)
    assert regenerate < render
