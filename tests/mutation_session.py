"""One pytest session for every mutant: collected once in mutmut's fork server, run in each worker.

mutmut 3.8.1's pytest runner calls ``pytest.main`` in every worker (``runners/harness.py``
``PytestRunner.run_tests``): a new config, the plugins and conftest loaded again, and every listed
node id collected again before the first test runs. Here that was about 0.7 s of a killed
mutant's 1 s (0.5 s to collect the ~860 node ids of the pack's scope). The fork server now does
pytest's own start (``_pytest/main.py`` ``wrap_session``: configure, ``pytest_sessionstart``,
``pytest_collection``) once, and each worker forked from it picks its items out of that session
and hands them to ``pytest_runtestloop``, pytest's loop with ``-x``.

What a mutant still meets fresh: every fixture (none is set up before the fork, so a session
fixture that renders the stack renders it under the mutant) and every test body. What it does not:
code that runs at collection, which already ran once without a mutant; mutmut's own warm-up
collects the tests there too, so that was true before (docs/testing.md, "A table built at collection").

``_prepareconfig`` and ``Config._do_configure`` are pytest's own, not its API: pytest is pinned in
requirements-dev.txt, and tests/test_mutation_session.py runs them as installed.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable
from typing import Any

#: The session the fork server collected (None in any other process: the stats run, the clean run).
_collected: dict[str, Any] = {}


def collect(args: list[str]) -> None:
    """Start a pytest session on ``args`` and collect it, as ``wrap_session`` would, and stop there."""
    from _pytest.config import _prepareconfig
    from _pytest.main import Session

    config = _prepareconfig(args)
    session = Session.from_config(config)
    config._do_configure()
    config.hook.pytest_sessionstart(session=session)
    config.hook.pytest_collection(session=session)
    if session.testsfailed:
        raise RuntimeError(f"pytest could not collect the mutation tests ({session.testsfailed} errors): run them with pytest")
    # Capture replaced the server's file descriptors 1 and 2 at start-up: give them back until a worker runs.
    config.pluginmanager.getplugin("capturemanager").stop_global_capturing()
    _collected.update(session=session, items={item.nodeid: item for item in session.items}, cwd=os.getcwd())


def run(tests: Iterable[str]) -> int | None:
    """Run ``tests`` in this order in the collected session, stopping at the first failure: pytest's
    exit code (0 all passed, 1 one failed), or None when there is no such session or a test is not in it."""
    if not _collected:
        return None
    session, items = _collected["session"], _collected["items"]
    try:
        chosen = [items[test] for test in tests]
    except KeyError:
        return None
    if not chosen:
        return None
    session.config.pluginmanager.getplugin("capturemanager").start_global_capturing()
    session.items = chosen
    with contextlib.chdir(_collected["cwd"]):
        try:
            session.config.hook.pytest_runtestloop(session=session)
        except (session.Failed, session.Interrupted):
            pass
    return 1 if session.testsfailed else 0


def install(runner_class: type) -> None:
    """Make mutmut's ``PytestRunner`` collect once in its warm-up and run mutants in that session.

    The warm-up then moves the heap it built out of the garbage collector's reach, as mutmut does
    before the warm-up (``ForkServerRunner.startup``): a full collection in a worker would walk it all
    and write to every object's header, copying the pages the workers share with the server.
    """
    from mutmut.utils.file_utils import change_cwd

    run_tests = runner_class.run_tests

    def warm_up(self) -> None:
        with change_cwd("mutants"):
            # The arguments PytestRunner.execute_pytest gives pytest for a run of the whole selection.
            collect(["--rootdir=.", "--tb=native", *self._pytest_args_regular_run([]), *self._pytest_add_cli_args])
        gc.freeze()

    def run_collected(self, *, mutant_name: str | None, tests: Iterable[str]) -> int:
        tests = list(tests)
        code = run(tests)
        if code is None:
            return run_tests(self, mutant_name=mutant_name, tests=tests)
        return code

    runner_class.warm_up = warm_up
    runner_class.run_tests = run_collected
