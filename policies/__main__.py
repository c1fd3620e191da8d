"""Entry point of the policy pack: builds the PolicyPack, which serves the engine until stopped.

The CLI runs ``python -u -m pulumi.policy <engine> <this directory>``, which executes this
file with the pack directory (not the repository) on ``sys.path``: put the repository
root first so ``policies.*`` and ``gushen_infra.quantity`` import as packages.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path[:1]:
    sys.path.insert(0, ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies import pack  # noqa: E402

PolicyPack(
    name=pack.NAME,
    description=pack.DESCRIPTION,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=pack.policies(),
)
