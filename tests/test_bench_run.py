"""``python bench/run.py --quick``: the whole benchmark, end to end, as a smoke run (figures checked for shape, not speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import run as bench
from bench import synthetic

from .conftest import ROOT


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "report.json"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--json-out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == json.loads(out.read_text())
    assert "render prod --check (policies in process)" in result.stderr  # the table
    return json.loads(out.read_text())


def test_every_figure_is_the_median_of_its_runs(report):
    assert report["quick"] is True and report["runs"] == 3
    figures = [report[k] for k in ("floor", "render", "render_check", "policies_check_process")]
    figures += report["program"] + report["policies"]["synthetic"] + [report["policies"]["prod"]]
    for figure in figures:
        runs = sorted(figure["runs_s"])
        assert len(runs) >= 3 and all(t > 0 for t in runs)
        assert figure["median_s"] == runs[len(runs) // 2]
        assert figure["min_s"] == runs[0]


def test_ratios_are_to_the_import_floor(report):
    floor = report["floor"]
    assert floor["modules"] > 10  # pulumi plus the provider modules a prod render loaded
    for name in ("render", "render_check"):
        assert report[name]["ratio_to_floor"] == pytest.approx(report[name]["median_s"] / floor["median_s"])


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
    # only the render target can be judged without the 1,000 and 5,000 object stacks
    assert report["targets"]["policies_1000_under_1s"] is None
    assert isinstance(report["targets"]["render_check_within_1_5x_floor"], bool)


def test_bad_runs_is_a_usage_error():
    result = subprocess.run([sys.executable, "bench/run.py", "--runs", "0"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "--runs must be at least 1, got 0" in result.stderr
