"""`make mutate`'s pytest session (tests/mutation_session.py): collected once, each mutant's tests run
in a process forked from it, as mutmut's fork server runs a worker."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SAMPLE = '''
import os
import pytest

LOG = os.path.join(os.path.dirname(__file__), "log")

def note(line):
    with open(LOG, "a") as log:
        log.write(line + "\\n")

@pytest.fixture(scope="session")
def rendered():
    note("fixture set up under " + os.environ.get("MUTANT", "none"))
    return os.environ.get("MUTANT", "none")

def test_a(rendered):
    note("a")

def test_b(rendered):
    note("b")
    assert rendered != "breaks-b"

def test_c():
    note("c")

@pytest.mark.kube
def test_deselected():
    note("deselected")
'''

# Each case runs in a child forked after the collection, with MUTANT set there, as mutmut's worker
# sets MUTANT_UNDER_TEST after its fork: the code under test reads it when a test runs.
DRIVER = '''
import json, os, sys
sys.path.insert(0, sys.argv[1])
import mutation_session
mutation_session.collect(["-q", "-x", "-p", "no:cacheprovider", "-m", "not kube", "-W", "ignore::pytest.PytestUnknownMarkWarning", "."])
for mutant, tests in json.loads(sys.argv[2]):
    pid = os.fork()
    if pid == 0:
        os.environ["MUTANT"] = mutant
        code = mutation_session.run(tests)
        os._exit(99 if code is None else code)
    _, status = os.waitpid(pid, 0)
    with open("codes", "a") as codes:
        codes.write(f"{os.waitstatus_to_exitcode(status)}\\n")
'''


def _run(tmp_path: Path, cases: list[tuple[str, list[str]]]) -> tuple[list[int], list[str]]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    done = subprocess.run([sys.executable, str(driver), str(Path(__file__).parent), json.dumps(cases)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "log"
    codes = [int(line) for line in (tmp_path / "codes").read_text().split()]
    return codes, log.read_text().splitlines() if log.exists() else []


def test_each_worker_runs_its_tests_in_the_given_order_and_sets_fixtures_up_under_its_own_mutant(tmp_path):
    codes, log = _run(tmp_path, [("m1", ["test_sample.py::test_c", "test_sample.py::test_a"]),
                                 ("m2", ["test_sample.py::test_b"])])
    assert codes == [0, 0]
    assert log == ["c", "fixture set up under m1", "a", "fixture set up under m2", "b"]


def test_the_first_failure_stops_the_worker_and_is_its_exit_code(tmp_path):
    codes, log = _run(tmp_path, [("breaks-b", ["test_sample.py::test_b", "test_sample.py::test_c"])])
    assert codes == [1]
    assert log == ["fixture set up under breaks-b", "b"]


def test_a_test_the_session_did_not_collect_is_left_to_mutmuts_own_run(tmp_path):
    codes, log = _run(tmp_path, [("m", ["test_sample.py::test_deselected"]), ("m", ["test_sample.py::test_gone"]),
                                 ("m", [])])
    assert codes == [99, 99, 99]
    assert log == []


def test_without_a_collected_session_mutmuts_own_run_is_used():
    from . import mutation_session

    class Runner:
        def run_tests(self, *, mutant_name, tests):
            return ("mutmut", mutant_name, tests)

    mutation_session.install(Runner)
    assert Runner().run_tests(mutant_name="m", tests=iter(["t"])) == ("mutmut", "m", ["t"])
