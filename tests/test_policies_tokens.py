"""Table: no-service-account-token (policies/tokens.py)."""

import pytest

from .policy_baseline import DELETE, Case, expected, lines, ok, pod, reported

WEB, REDIS, CRON, POD, DS = "Deployment/ai-qtrd-web", "StatefulSet/redis", "CronJob/redis-backup", "Pod/redis-tools", "DaemonSet/node-agent"
SA = "ServiceAccount/ai-qtrd"
RULE = "no-service-account-token"

CASES = [
    Case("deployment-true", WEB, pod(WEB, "automountServiceAccountToken"), True, RULE),
    Case("statefulset-absent", REDIS, pod(REDIS, "automountServiceAccountToken"), DELETE, RULE),
    Case("cronjob-true", CRON, pod(CRON, "automountServiceAccountToken"), True, RULE),
    Case("pod-absent", POD, pod(POD, "automountServiceAccountToken"), DELETE, RULE),
    Case("daemonset-true", DS, pod(DS, "automountServiceAccountToken"), True, RULE),
    Case("serviceaccount-absent", SA, ("automountServiceAccountToken",), DELETE, RULE),
    Case("serviceaccount-true", SA, ("automountServiceAccountToken",), True, RULE),
]
VARIANTS = [
    ok("named-service-account", WEB, pod(WEB, "serviceAccountName"), "ai-qtrd"),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


@pytest.mark.parametrize("target, path, value, want", [
    (SA, ("automountServiceAccountToken",), DELETE, "automountServiceAccountToken is unset (defaults to true), must be false"),
    (WEB, pod(WEB, "automountServiceAccountToken"), True, "automountServiceAccountToken is true, must be false"),
    (REDIS, pod(REDIS, "automountServiceAccountToken"), "yes", "automountServiceAccountToken is 'yes', must be false"),
])
def test_messages(target, path, value, want):
    assert lines([(target, path, value)]) == [f"mandatory {RULE} {target}: {want}"]
