"""pytest plugin for `make mutate`: a mutant meets only the tests of the module it mutates.

mutmut records which tests reach which function and runs a mutant against all of them. Here
nearly every test reaches the config loader, the workload builder and the policy pack (they
render whole stacks and check them), so a surviving mutant would cost minutes. The tests that
answer for a module are the ones written for it (tests mirror the code), so under mutmut
(``MUTANT_UNDER_TEST`` names a mutant) this plugin deselects every other test. A mutant that only
some other test would notice counts as not detected: the module's own tests lack that row.

pyproject.toml's ``[tool.mutmut] pytest_add_cli_args`` loads it (``-p tests.mutation_scope``).
"""

from __future__ import annotations

import fnmatch
import os

#: Module of the mutated code (longest prefix wins) -> the test files that answer for it.
SCOPES: dict[str, tuple[str, ...]] = {
    "policies.": ("tests/test_policies_*.py", "tests/test_quantity.py"),
    "gushen_infra.config.": ("tests/test_config.py", "tests/test_render_slips.py"),
    "gushen_infra.config.app": ("tests/test_config.py", "tests/test_appenv.py", "tests/test_frontend.py", "tests/test_backend.py"),
    "gushen_infra.config.adoption": ("tests/test_config.py", "tests/test_adoption.py"),
    "gushen_infra.config.backup": ("tests/test_config.py", "tests/test_backup*.py"),
    "gushen_infra.config.monitoring": ("tests/test_config.py", "tests/test_monitoring.py"),
    "gushen_infra.config.network": ("tests/test_config.py", "tests/test_network.py"),
    "gushen_infra.config.nodes": ("tests/test_config.py", "tests/test_policy_config.py"),
    "gushen_infra.config.redis": ("tests/test_config.py", "tests/test_redis.py"),
    "gushen_infra.config.routing": ("tests/test_config.py", "tests/test_routing.py", "tests/test_tls.py"),
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


def pytest_collection_modifyitems(config, items):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:
        return  # mutmut's stats, clean and forced-fail runs see every test
    patterns = scope_of(mutant)
    keep = [item for item in items if in_scope(item.nodeid, patterns)]
    dropped = [item for item in items if not in_scope(item.nodeid, patterns)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
