"""Table: namespace-pod-security (policies/namespace.py)."""

import pytest

from .policy_baseline import DELETE, Case, expected, ok, reported

NS = "Namespace/ai-qtrd"
PSS = "pod-security.kubernetes.io/"
RULE = "namespace-pod-security"

CASES = [
    Case("enforce-missing", NS, ("metadata", "labels", PSS + "enforce"), DELETE, RULE),
    Case("enforce-privileged", NS, ("metadata", "labels", PSS + "enforce"), "privileged", RULE),
    Case("audit-weaker", NS, ("metadata", "labels", PSS + "audit"), "baseline", RULE),
    Case("warn-bogus", NS, ("metadata", "labels", PSS + "warn"), "strict", RULE),
    Case("configured-enforce-restricted", NS, (), None, RULE,
         config={RULE: {"podSecurity": {"enforce": "restricted", "audit": "restricted", "warn": "restricted"}}}),
]
VARIANTS = [
    ok("enforce-stricter", NS, ("metadata", "labels", PSS + "enforce"), "restricted"),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)
