"""Table: namespace-pod-security (policies/namespace.py)."""

import pytest

from policies.base import UNKNOWN

from .policy_baseline import DELETE, Case, expected, lines, ok, reported

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


def label(mode):
    return (NS, ("metadata", "labels", PSS + mode))


@pytest.mark.parametrize("changes, want", [
    ([(*label("enforce"), DELETE)], "label pod-security.kubernetes.io/enforce is unset, want baseline or stricter"),
    ([(*label("warn"), "strict")], "label pod-security.kubernetes.io/warn is 'strict', want restricted or stricter"),
    ([(*label("enforce"), "privileged")], "label pod-security.kubernetes.io/enforce is 'privileged', weaker than baseline"),
    # An enforce level unknown in preview is judged at `pulumi up`; the audit label is still checked now.
    ([(*label("enforce"), UNKNOWN), (*label("audit"), "baseline")],
     "label pod-security.kubernetes.io/audit is 'baseline', weaker than restricted"),
], ids=["unset", "not-a-level", "weaker", "unknown-then-weaker"])
def test_messages(changes, want):
    assert lines(changes) == [f"mandatory {RULE} {NS}: {want}"]
