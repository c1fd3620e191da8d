"""The suite's own helpers: a missing binary names itself and the one command that installs it,
and a run ends with one line saying what was skipped."""

from __future__ import annotations

import subprocess
import sys

import pytest

from . import conftest
from .conftest import ROOT


def test_a_missing_binary_skips_with_its_name_and_make_deps(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception) as info:
        conftest.require_binary("no-such-binary-14")
    assert str(info.value) == (
        "no-such-binary-14 not installed: `make deps` installs every binary the live tests need; runs in CI"
    )


def test_a_missing_binary_fails_in_ci(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="no-such-binary-14 is required in CI"):
        conftest.require_binary("no-such-binary-14")


def test_the_run_ends_with_one_line_of_what_was_skipped(tmp_path):
    (tmp_path / "test_some_skip.py").write_text(
        "from tests.conftest import require_binary\n"
        "def test_a(): require_binary('no-such-binary-a')\n"
        "def test_b(): require_binary('no-such-binary-a')\n"
        "def test_c(): require_binary('no-such-binary-b')\n"
        "def test_d(): pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "CI": "false"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == (
        "3 skipped: no-such-binary-a not installed (2), no-such-binary-b not installed (1); "
        "`make deps` installs the missing binaries"
    )


def test_a_run_without_skips_adds_no_line(tmp_path):
    (tmp_path / "test_fine.py").write_text("def test_d(): pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), "-c", "/dev/null", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and "skipped" not in result.stdout
