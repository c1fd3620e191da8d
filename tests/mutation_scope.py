"""`make mutate`'s runner: mutmut, where a mutant meets only the tests of the module it mutates
(and, through tests/mutation_session.py, meets them in one pytest session collected once).

mutmut records which tests reach which function and runs a mutant against all of them. Here
nearly every test reaches the config loader, the workload builder and the policy pack (they
render whole stacks and check them), so a surviving mutant would cost minutes. The tests that
answer for a module are the ones written for it (tests mirror the code), so this runner narrows
mutmut's record to them before any mutant runs: pytest then collects only those files. A mutant
that only some other test would notice counts as not detected: its module's tests lack that row.

    python tests/mutation_scope.py run [--max-children N]     # what `make mutate` runs

mutmut 3.8.1 has no option for this: ``mutmut.__main__._run`` asks ``collect_or_load_stats`` for
the record (loaded from ``mutants/mutmut-stats.json``, or collected and saved there) and then
reads ``state().tests_by_mangled_function_name`` for each mutant. The narrowing wraps that call,
after the save, so the file keeps the whole record and a change of SCOPES needs no new stats.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable, Mapping

#: Module of the mutated code (longest prefix wins) -> the test files that answer for it.
SCOPES: dict[str, tuple[str, ...]] = {
    # The pack's tests: a policy's own table is not enough, its findings also reach the CLI's, the
    # catalog's and the message tables (a narrower scope left a quarter of some modules' mutants alive).
    "policies.": ("tests/test_policies_*.py", "tests/test_quantity.py"),
    "gushen_infra.config.": ("tests/test_config*.py", "tests/test_render_slips.py"),
    "gushen_infra.config.app": ("tests/test_config*.py", "tests/test_appenv.py", "tests/test_frontend.py", "tests/test_backend.py"),
    "gushen_infra.config.adoption": ("tests/test_config*.py", "tests/test_adoption.py"),
    "gushen_infra.config.backup": ("tests/test_config*.py", "tests/test_backup*.py"),
    "gushen_infra.config.monitoring": ("tests/test_config*.py", "tests/test_monitoring.py"),
    "gushen_infra.config.network": ("tests/test_config*.py", "tests/test_network.py"),
    "gushen_infra.config.nodes": ("tests/test_config*.py", "tests/test_policy_config.py"),
    "gushen_infra.config.redis": ("tests/test_config*.py", "tests/test_redis.py"),
    "gushen_infra.config.routing": ("tests/test_config*.py", "tests/test_routing.py", "tests/test_tls.py"),
    "gushen_infra.adoption": ("tests/test_adoption.py",),
    "gushen_infra.workload": ("tests/test_workload.py", "tests/test_tier.py", "tests/test_redis.py"),
    "gushen_infra.tier": ("tests/test_tier.py", "tests/test_frontend.py", "tests/test_backend.py"),
}


def scope_of(mutant: str) -> tuple[str, ...]:
    """The test file patterns for a mutant name such as ``policies.images.x__repository__mutmut_5``."""
    matches = [prefix for prefix in SCOPES if mutant.startswith(prefix)]
    if not matches:
        raise LookupError(f"no test scope for mutant {mutant!r}: add its module to tests/mutation_scope.py SCOPES")
    return SCOPES[max(matches, key=len)]


def in_scope(nodeid: str, patterns: tuple[str, ...]) -> bool:
    path = nodeid.split("::", 1)[0]
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def module_of(name: str) -> str:
    """The module of a mutant or function name: ``gushen_infra.config.nodes.x_parse__mutmut_3`` ->
    ``gushen_infra.config.nodes`` (mutmut names a method ``module.xǁClassǁmethod``)."""
    return re.split(r"\.xǁ|\.x_", name, maxsplit=1)[0]


def mirror_of(function: str) -> str:
    """The test file written for a function's module: ``policies.security.x_f`` ->
    ``tests/test_policies_security.py``, ``gushen_infra.workload.x_f`` -> ``tests/test_workload.py``."""
    module = module_of(function).removeprefix("gushen_infra.")
    return f"tests/test_{module.replace('.', '_')}.py"


def narrow(tests_by_function: dict[str, Iterable[str]], duration_by_test: Mapping[str, float]) -> None:
    """Give each function mutmut recorded every test of its module's scope, and no other, in the
    order most likely to fail first.

    Every test of the scope, not only the ones mutmut saw reach it: mutmut files a call under the
    test running at the time, and a module- or session-scoped fixture (test_adoption.py's
    ``adopting``, conftest's ``prod``) runs the program once, under the first test that asks for it;
    the later tests that assert on its result would never meet the mutant (``import_id`` returning
    the bare name survived while test_import_ids_are_namespace_slash_name... fails on it).

    The order: mutmut runs pytest with ``-x`` on the list it is given, in that order, so a mutant
    costs the tests up to the first failure. The tests that reached the function come first, then
    the rest. Within each part, the module's own test file first (its tables have the rows that
    matter: in alphabetical order a ``policies.security`` mutant ran 367 other tests in 9 s before
    test_policies_security.py's), then the other files, the quickest file first; each file whole
    (pytest sets a module's fixtures up again when files interleave), its quickest test first.
    mutmut keeps the value it gets, so a list keeps the order.
    """
    all_tests = sorted(duration_by_test)
    for function, reached in tests_by_function.items():
        patterns, mirror = scope_of(function), mirror_of(function)
        reached = set(reached)
        scope = [test for test in all_tests if in_scope(test, patterns)]
        file_cost: dict[tuple[bool, str], float] = {}
        for test in scope:
            part = (test not in reached, test.split("::", 1)[0])
            file_cost[part] = file_cost.get(part, 0.0) + duration_by_test[test]

        def order(test: str) -> tuple:
            unreached, path = test not in reached, test.split("::", 1)[0]
            return unreached, path != mirror, file_cost[unreached, path], path, duration_by_test[test], test

        tests_by_function[function] = sorted(scope, key=order)


def main(argv: list[str]) -> None:
    import mutmut.__main__ as tool
    from mutmut.runners.harness import PytestRunner

    import mutation_session

    collect_or_load_stats = tool.collect_or_load_stats

    def collect_or_load_then_narrow(*args, **kwargs):
        collect_or_load_stats(*args, **kwargs)
        state = tool.state()
        narrow(state.tests_by_mangled_function_name, state.duration_by_test)

    tool.collect_or_load_stats = collect_or_load_then_narrow
    mutation_session.install(PytestRunner)
    tool.cli(argv, prog_name="mutmut")


if __name__ == "__main__":
    main(sys.argv[1:])
