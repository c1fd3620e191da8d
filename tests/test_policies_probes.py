"""Table: health-probes (policies/probes.py).

The baseline's Job, CronJob and init containers have no probes: the empty baseline report
proves those need none.
"""

import pytest

from .policy_baseline import DELETE, Case, ctr, expected, lines, ok, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
POD, DS, RS = "Pod/redis-tools", "DaemonSet/node-agent", "ReplicaSet/worker"
RULE = "health-probes"

CASES = [
    Case("web-no-liveness", WEB, ctr(WEB, 0, "livenessProbe"), DELETE, RULE),
    Case("api-no-readiness", API, ctr(API, 0, "readinessProbe"), DELETE, RULE),
    Case("sidecar-no-liveness", REDIS, ctr(REDIS, 1, "livenessProbe"), DELETE, RULE),
    Case("daemonset-no-readiness", DS, ctr(DS, 0, "readinessProbe"), DELETE, RULE),
    Case("replicaset-no-liveness", RS, ctr(RS, 0, "livenessProbe"), DELETE, RULE),
    Case("pod-always-no-liveness", POD, ctr(POD, 0, "livenessProbe"), DELETE, RULE),
]
VARIANTS = [
    ok("exempt-container", WEB, ctr(WEB, 0, "livenessProbe"), DELETE,
       config={"health-probes": {"exemptContainers": ["web"]}}),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


@pytest.mark.parametrize("deleted, want", [
    (["livenessProbe"], "container 'web' has no livenessProbe"),
    (["livenessProbe", "readinessProbe"], "container 'web' has no livenessProbe or readinessProbe"),
])
def test_messages_name_every_missing_probe(deleted, want):
    assert lines([(WEB, ctr(WEB, 0, probe), DELETE) for probe in deleted]) == [f"mandatory {RULE} {WEB}: {want}"]
