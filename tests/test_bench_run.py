"""``python bench/run.py --quick``: the whole benchmark, end to end, as a smoke run (figures checked for shape, not speed)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run as bench
from bench import synthetic

from .conftest import ROOT


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "report.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--json-out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == json.loads(out.read_text())
    assert "render prod --check (policies in process)" in result.stderr  # the table
    return json.loads(out.read_text())


def process_figures(report: dict) -> list[dict]:
    return [report[k] for k in ("floor_user", "floor", "render", "render_check", "policies_check_process")] + \
        report["policies_check_files"]["files"]


def test_every_figure_is_the_median_of_its_runs(report):
    assert report["quick"] is True and report["runs"] == 3
    figures = process_figures(report)
    figures += report["program"] + report["policies"]["synthetic"] + [report["policies"]["prod"]]
    for figure in figures:
        runs = sorted(figure["runs_s"])
        assert len(runs) >= 3 and all(t > 0 for t in runs)
        assert figure["median_s"] == runs[len(runs) // 2]
        assert figure["min_s"] == runs[0]


def test_processes_report_their_cpu_time_too(report):
    for figure in process_figures(report):
        cpu = sorted(figure["cpu_runs_s"])
        assert len(cpu) == len(figure["runs_s"]) and all(t > 0 for t in cpu)
        assert figure["cpu_median_s"] == cpu[len(cpu) // 2]


def test_the_project_is_timed_from_cached_bytecode_like_the_floors_packages(report):
    # with PYTHONDONTWRITEBYTECODE set, every render would otherwise recompile the project
    assert report["machine"]["bytecode"]["precompiled"] == list(bench.PROJECT_PACKAGES)
    for package in bench.PROJECT_PACKAGES:
        for source in (ROOT / package).glob("*.py"):
            assert Path(importlib.util.cache_from_source(str(source))).is_file(), source


def test_ratios_are_to_both_import_floors(report):
    floor, user = report["floor"], report["floor_user"]
    assert floor["modules"] > 10  # pulumi plus the provider modules a prod render loaded
    assert user["imports"] == list(bench.USER_FLOOR_MODULES)
    for name in ("render", "render_check"):
        assert report[name]["ratio_to_floor"] == pytest.approx(report[name]["median_s"] / floor["median_s"])
        assert report[name]["ratio_to_user_floor"] == pytest.approx(report[name]["median_s"] / user["median_s"])
        assert report[name]["cpu_ratio_to_user_floor"] == pytest.approx(
            report[name]["cpu_median_s"] / user["cpu_median_s"]
        )


def test_policies_check_files_and_checkov(report):
    files = report["policies_check_files"]["files"]
    assert [row["objects"] for row in files] == list(bench.QUICK_CHECK_SIZES)
    assert files[0]["bytes"] < files[1]["bytes"]
    for row in files:
        assert row["ms_per_object"] == pytest.approx(1000 * row["median_s"] / row["objects"])
    assert files[1]["growth_vs_previous"] == pytest.approx(files[1]["median_s"] / files[0]["median_s"])
    checkov = report["policies_check_files"]["checkov"]
    if shutil.which(os.environ.get("CHECKOV") or "checkov") is None:
        assert "checkov not found" in checkov["skipped"]
    else:
        assert checkov["objects"] == files[0]["objects"]
        assert checkov["speedup"] == pytest.approx(checkov["median_s"] / checkov["policies_check"]["median_s"])


def test_synthetic_sizes_and_growth(report):
    program, policies = report["program"], report["policies"]["synthetic"]
    assert [row["target"] for row in program] == [row["target"] for row in policies] == list(bench.QUICK_SIZES)
    for row in program:
        copies = synthetic.copies_for(row["target"])
        assert row["objects"] == copies * synthetic.objects_per_copy()
        assert row["registrations"] > row["objects"]  # components and the provider register too
        assert row["ms_per_object"] == pytest.approx(1000 * row["median_s"] / row["objects"])
    for rows in (program, policies):
        assert rows[1]["growth_vs_previous"] == pytest.approx(rows[1]["median_s"] / rows[0]["median_s"])
    assert report["policies"]["prod"]["objects"] > 10


def test_cold_deploy_and_targets(report):
    deploy = report["cold_deploy"]
    assert deploy["chain"][0]["resource"].startswith("Namespace/")
    assert deploy["chain"][-1]["done_s"] == deploy["workloads_ready_s"] <= deploy["pulumi_up_done_s"]
    # only the render targets can be judged without the 1,000 and 5,000 object stacks and files
    targets = report["targets"]
    assert targets["policies_1000_under_1s"] is None
    assert targets["policies_growth_1000_to_5000_within_5_5x"] is None
    assert targets["policies_check_1000_20x_faster_than_checkov"] is None
    assert isinstance(targets["render_check_within_1_5x_user_floor"], bool)
    assert isinstance(targets["render_check_within_1_5x_floor"], bool)


@pytest.mark.parametrize("args, message", [
    (["--runs", "0"], "--runs must be at least 1, got 0"),
    (["--checkov-runs", "0"], "--checkov-runs must be at least 1, got 0"),
    (["--checkov", "/nonexistent/checkov"], "--checkov /nonexistent/checkov: no such executable"),
])
def test_bad_arguments_are_usage_errors(args, message):
    result = subprocess.run([sys.executable, "bench/run.py", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and message in result.stderr
