"""`make mutate`'s score (tests/mutate.py) and the test scope a mutant meets (tests/mutation_scope.py)."""

from __future__ import annotations

import json

import pytest

from . import mutate, mutation_scope

KILLED, SURVIVED, NO_TESTS, TIMEOUT, SUSPICIOUS = 1, 0, 33, 36, 35


def test_detected_over_all_but_the_equivalents():
    found = {f"policies.images.x_f__mutmut_{i}": KILLED for i in range(1, 18)}
    found |= {"policies.images.x_f__mutmut_18": TIMEOUT, "policies.images.x_f__mutmut_19": SURVIVED,
              "policies.images.x_f__mutmut_20": SURVIVED}
    result = mutate.score(found, {"policies.images.x_f__mutmut_20": "only renames a local"})
    assert (result.detected, result.total) == (18, 19)
    assert result.percent == pytest.approx(100 * 18 / 19)
    assert result.undetected == ["policies.images.x_f__mutmut_19"]


@pytest.mark.parametrize("code", [SURVIVED, NO_TESTS, SUSPICIOUS, None])
def test_no_tests_and_what_the_tool_could_not_judge_count_against_the_score(code):
    result = mutate.score({"gushen_infra.tier.x_a__mutmut_1": KILLED, "gushen_infra.tier.x_a__mutmut_2": code}, {})
    assert result.percent == 50.0
    assert result.undetected == ["gushen_infra.tier.x_a__mutmut_2"]


def test_an_equivalent_the_tests_kill_anyway_is_stale_and_fails_the_run(tmp_path, monkeypatch, capsys):
    mutants = tmp_path / "mutants" / "gushen_infra"
    mutants.mkdir(parents=True)
    (mutants / "tier.py.meta").write_text(json.dumps({"exit_code_by_key": {
        "gushen_infra.tier.x_a__mutmut_1": KILLED, "gushen_infra.tier.x_a__mutmut_2": KILLED}}))
    doc = tmp_path / "testing.md"
    doc.write_text("| mutant | why |\n|---|---|\n| `gushen_infra.tier.x_a__mutmut_2` | same output |\n")
    monkeypatch.setattr(mutate, "MUTANTS", tmp_path / "mutants")
    monkeypatch.setattr(mutate, "TESTING_DOC", doc)
    code = mutate.main(["--no-run", "--report", str(tmp_path / "report.md")])
    assert code == 1
    stale = (tmp_path / "report.md").read_text().split("## Listed as equivalent but detected")[1]
    assert "`gushen_infra.tier.x_a__mutmut_2`" in stale


def test_a_score_below_the_bar_fails_and_the_report_names_the_survivor(tmp_path, monkeypatch):
    mutants = tmp_path / "mutants" / "policies"
    mutants.mkdir(parents=True)
    codes = {f"policies.tokens.x_c__mutmut_{i}": KILLED for i in range(1, 20)} | {"policies.tokens.x_c__mutmut_20": SURVIVED}
    (mutants / "tokens.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    doc = tmp_path / "testing.md"
    doc.write_text("# nothing equivalent\n")
    monkeypatch.setattr(mutate, "MUTANTS", tmp_path / "mutants")
    monkeypatch.setattr(mutate, "TESTING_DOC", doc)
    report = tmp_path / "report.md"
    assert mutate.main(["--no-run", "--report", str(report), "--min-score", "95"]) == 0
    assert mutate.main(["--no-run", "--report", str(report), "--min-score", "96"]) == 1
    text = report.read_text()
    assert "**95.0 %**: 19 of 20" in text and "- `policies.tokens.x_c__mutmut_20`" in text


def test_the_equivalents_are_read_from_docs_testing_md():
    listed = mutate.equivalents()
    assert all(name.count("__mutmut_") == 1 and why for name, why in listed.items())


@pytest.mark.parametrize("mutant, test, runs", [
    ("policies.images.x__repository__mutmut_5", "tests/test_policies_images.py::test_x", True),
    ("policies.images.x__repository__mutmut_5", "tests/test_render.py::test_x", False),
    ("policies.images.x__repository__mutmut_5", "tests/test_policies_check.py::test_x", True),
    ("policies.workloads.x_replicas__mutmut_1", "tests/test_policies_security.py::test_x", True),
    ("gushen_infra.config.redis.x_f__mutmut_1", "tests/test_redis.py::test_x", True),
    ("gushen_infra.config.redis.x_f__mutmut_1", "tests/test_backup.py::test_x", False),
    ("gushen_infra.config.values.x_f__mutmut_1", "tests/test_config.py::test_x", True),
    ("gushen_infra.tier.xǁHttpTierǁf__mutmut_1", "tests/test_frontend.py::test_x[a]", True),
    ("gushen_infra.tier.x_f__mutmut_1", "tests/test_adoption.py::test_x", False),
])
def test_a_mutant_meets_only_its_modules_tests(mutant, test, runs):
    assert mutation_scope.in_scope(test, mutation_scope.scope_of(mutant)) is runs


def test_a_module_without_a_scope_is_named():
    with pytest.raises(LookupError, match="gushen_infra.render"):
        mutation_scope.scope_of("gushen_infra.render.x_f__mutmut_1")


def test_every_mutated_module_has_a_scope_whose_files_exist():
    from .conftest import ROOT

    for path in [*(ROOT / "gushen_infra" / "config").glob("*.py"), *(ROOT / "policies").glob("*.py"),
                 *(ROOT / "gushen_infra" / f for f in ("adoption.py", "workload.py", "tier.py"))]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for pattern in mutation_scope.scope_of(f"{module}.x_f__mutmut_1"):
            assert list(ROOT.glob(pattern)), f"{module}: {pattern} matches no test file"


def test_each_function_meets_every_test_of_its_scope_and_no_other():
    """Also the tests mutmut did not see reach it: a shared fixture ran the code under another test."""
    record = {
        "policies.images.x_check": {"tests/test_policies_images.py::test_a", "tests/test_render.py::test_b"},
        "gushen_infra.tier.xǁHttpTierǁurl": {"tests/test_tier.py::test_c", "tests/test_redis.py::test_d"},
    }
    durations = {"tests/test_policies_images.py::test_a": 0.1, "tests/test_policies_images.py::test_uses_a_cached_fixture": 0.2,
                 "tests/test_render.py::test_b": 0.1, "tests/test_tier.py::test_c": 0.1, "tests/test_redis.py::test_d": 0.1}
    mutation_scope.narrow(record, durations)
    assert {function: set(tests) for function, tests in record.items()} == {
        "policies.images.x_check": {"tests/test_policies_images.py::test_a",
                                    "tests/test_policies_images.py::test_uses_a_cached_fixture"},
        "gushen_infra.tier.xǁHttpTierǁurl": {"tests/test_tier.py::test_c"},
    }


def test_reached_tests_run_first_the_modules_own_file_first_then_the_quickest_file_whole():
    """pytest -x stops at the first failure: a mutant costs the tests before the one that kills it."""
    reached = {"tests/test_policies_images.py::test_slow", "tests/test_policies_base.py::test_quick",
               "tests/test_policies_images.py::test_quick", "tests/test_policies_check.py::test_c",
               "tests/test_policies_check.py::test_d"}
    durations = {"tests/test_policies_base.py::test_other": 0.01, "tests/test_policies_base.py::test_quick": 0.3,
                 "tests/test_policies_images.py::test_slow": 2.0, "tests/test_policies_images.py::test_quick": 0.2,
                 "tests/test_policies_check.py::test_d": 0.1, "tests/test_policies_check.py::test_c": 0.05,
                 "tests/test_policies_check.py::test_b": 0.5, "tests/test_policies_check.py::test_a": 0.3,
                 "tests/test_policies_images.py::test_unreached": 0.9}
    record = {"policies.images.x_check": reached}
    mutation_scope.narrow(record, durations)
    assert record["policies.images.x_check"] == [
        "tests/test_policies_images.py::test_quick", "tests/test_policies_images.py::test_slow",
        "tests/test_policies_check.py::test_c", "tests/test_policies_check.py::test_d",
        "tests/test_policies_base.py::test_quick",
        "tests/test_policies_images.py::test_unreached",
        "tests/test_policies_base.py::test_other",
        "tests/test_policies_check.py::test_a", "tests/test_policies_check.py::test_b",
    ]


@pytest.mark.parametrize(("function", "mirror"), [
    ("policies.security.x_check_no_host_access", "tests/test_policies_security.py"),
    ("policies.stack.xǁStackǁ__init__", "tests/test_policies_stack.py"),
    ("gushen_infra.workload.x_pod_spec", "tests/test_workload.py"),
    ("gushen_infra.config.backup.xǁBackupRemoteǁport", "tests/test_config_backup.py"),
])
def test_a_functions_own_test_file_is_named_for_its_module(function, mirror):
    assert mutation_scope.mirror_of(function) == mirror


def test_survivors_of_the_last_run_are_tested_again_and_kills_stand(tmp_path):
    meta = tmp_path / "gushen_infra" / "workload.py.meta"
    meta.parent.mkdir()
    meta.write_text(json.dumps({"exit_code_by_key": {"a__mutmut_1": KILLED, "a__mutmut_2": SURVIVED,
                                                     "a__mutmut_3": NO_TESTS, "a__mutmut_4": TIMEOUT},
                                "durations_by_key": {}}))
    assert mutate.reopen_undetected(tmp_path) == 2
    data = json.loads(meta.read_text())
    assert data["exit_code_by_key"] == {"a__mutmut_1": KILLED, "a__mutmut_2": None, "a__mutmut_3": None,
                                        "a__mutmut_4": TIMEOUT}
    assert data["durations_by_key"] == {}
