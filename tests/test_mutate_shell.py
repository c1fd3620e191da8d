"""The hand mutants of the pod scripts stay usable (``make mutate-shell`` runs them; this runs none).

Every patch in ``tests/mutants/`` still applies to the scripts as they are, says what it breaks,
names live tests that exist, and changes only the shell that runs in pods; the runner judges a
mutant by pytest's exit code as documented, and refuses a broken patch naming its file.
"""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path

import pytest

from . import mutate_shell as ms
from .conftest import ROOT

MUTANTS = ms.mutants()
#: The behaviours issue 25 lists, each with its patch.
REQUIRED = {"redis-newest-epoch", "redis-sentinel-majority", "redis-prestop-handover", "backup-offsite-catch-up",
            "backup-retention", "backup-failure-exit"}
POD_SCRIPTS = {"gushen_infra/redis_files/redis.sh", *(str(p.relative_to(ROOT)) for p in (ROOT / "gushen_infra" / "backup_files").glob("*.sh"))}


def test_the_issue_s_behaviours_each_have_a_mutant_and_there_are_six_to_ten():
    names = {m.name for m in MUTANTS}
    assert REQUIRED <= names, f"missing: {sorted(REQUIRED - names)}"
    assert 6 <= len(MUTANTS) <= 10


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_applies_to_the_current_scripts_and_changes_only_pod_shell(mutant):
    ms.apply(mutant, ROOT, check_only=True)  # git apply --check: the working tree is not touched
    assert mutant.targets and set(mutant.targets) <= POD_SCRIPTS, mutant.targets
    changed = [line for line in mutant.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed, f"{mutant.path.name} changes nothing"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_says_what_it_breaks_and_names_live_tests_that_exist(mutant):
    assert mutant.breaks.endswith(".") and len(mutant.breaks.split()) >= 6, mutant.breaks
    assert mutant.killed_by
    for node_id in mutant.killed_by:
        path, _, name = node_id.partition("::")
        assert path.startswith("tests/test_") and path.endswith("_live.py"), f"{node_id}: not a live test module"
        assert name.split("[")[0] in functions_in(ROOT / path), f"{mutant.path.name}: no test {node_id}"


def functions_in(path: Path) -> set[str]:
    assert path.is_file(), f"no such test module: {path.relative_to(ROOT)}"
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")}


@pytest.mark.parametrize(("code", "output", "expected"), [
    (1, "F\nFAILED tests/x.py::test_a - AssertionError\n1 failed in 3.2s", ms.KILLED),
    (1, "1 failed, 2 passed in 9.0s", ms.KILLED),
    (0, "3 passed in 4.1s", ms.SURVIVED),
    (1, "E\nERROR tests/x.py::test_a - RuntimeError\n1 error in 0.5s", ms.ERROR),  # a fixture broke, no test failed
    (2, "1 failed\n!!! Interrupted", ms.ERROR),
    (4, "ERROR: not found: tests/x.py::test_gone", ms.ERROR),
    (5, "no tests ran in 0.01s", ms.ERROR),
    (-1, "timed out after 1800s", ms.ERROR),
])
def test_the_verdict_follows_pytest_s_exit_code(code, output, expected):
    assert ms.verdict(code, output) == expected


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


DIFF = (ROOT / "tests" / "mutants" / "backup-retention.patch").read_text().partition("diff --git ")


def test_a_patch_that_no_longer_applies_is_an_error_naming_it(tmp_path):
    stale = write(tmp_path / "stale.patch", DIFF[0] + DIFF[1] + DIFF[2].replace('tail -n "+$(($3 + 1))"', 'tail -n "+$(($3 + 2))"', 1))
    with pytest.raises(ms.MutantError, match=r"stale\.patch no longer applies"):
        ms.apply(ms.parse(stale), ROOT, check_only=True)


def test_a_patch_whose_target_is_gone_is_an_error_naming_both(tmp_path):
    moved = write(tmp_path / "moved.patch", DIFF[0] + DIFF[1] + DIFF[2].replace("backup_files/common.sh", "backup_files/gone.sh"))
    with pytest.raises(ms.MutantError, match=r"moved\.patch: its target gushen_infra/backup_files/gone\.sh does not exist"):
        ms.apply(ms.parse(moved), ROOT, check_only=True)


@pytest.mark.parametrize(("header", "missing"), [("Breaks: it breaks\n", "Killed-by"), ("Killed-by: tests/t.py::test_a\n", "Breaks")])
def test_a_patch_without_its_headers_is_an_error_naming_it(tmp_path, header, missing):
    bare = write(tmp_path / "bare.patch", header + "\n" + DIFF[1] + DIFF[2])
    with pytest.raises(ms.MutantError, match=rf"bare\.patch: no `{missing}:` header"):
        ms.parse(bare)


def test_quick_leaves_out_the_slow_mutants_and_names_pick_some():
    slow = {m.name for m in MUTANTS if m.slow}
    assert "redis-newest-epoch" in slow, "test_7 brings up a cluster, fails over and restarts it"
    assert {m.name for m in ms.select(MUTANTS, True, [])} == {m.name for m in MUTANTS} - slow
    assert [m.name for m in ms.select(MUTANTS, False, ["backup-retention"])] == ["backup-retention"]
    with pytest.raises(ms.MutantError, match="no such patch in tests/mutants: nope"):
        ms.select(MUTANTS, False, ["nope"])


def test_the_scratch_copy_holds_the_tracked_tree_without_the_venv(tmp_path):
    ms.copy_tree(tmp_path)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    assert all((tmp_path / name).is_file() for name in tracked if (ROOT / name).is_file())
    assert not (tmp_path / ".venv").exists() and not (tmp_path / "mutation-report").exists()


def test_make_mutate_shell_passes_quick_only_when_asked():
    def dry(*args: str) -> str:
        # --no-print-directory: under `make test` the outer make would add its "Entering directory" lines.
        return subprocess.run(["make", "--no-print-directory", "-n", "mutate-shell", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert dry().strip().endswith("-m tests.mutate_shell")
    assert dry("QUICK=1").strip().endswith("-m tests.mutate_shell --quick")


def test_a_mutant_whose_tests_hang_is_an_error_after_the_timeout(tmp_path, monkeypatch):
    """A mutant can make a live test wait for ever (a server that never starts): the run goes on."""
    monkeypatch.setattr(ms, "TIMEOUT_SECONDS", 2)
    write(tmp_path / "test_hang.py", "import time\n\ndef test_hang():\n    time.sleep(120)\n")
    started = time.monotonic()
    code, output = ms.run_tests(tmp_path, ["test_hang.py"])
    assert ms.verdict(code, output) == ms.ERROR and "timed out after 2s" in output
    assert time.monotonic() - started < 30, "the hung pytest was ended, not waited for"
