"""Table: container-resources and resource-caps (policies/resources.py)."""

import pytest

from .policy_baseline import DELETE, Case, ctr, expected, ok, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
JOB, CRON, POD, DS, RS = "Job/db-migrate", "CronJob/redis-backup", "Pod/redis-tools", "DaemonSet/node-agent", "ReplicaSet/worker"
CAPS = {"web": {"cpu": "400m", "memory": "512Mi"}, "api": {"cpu": "1000m", "memory": "2Gi"}, "redis": {"cpu": "500m", "memory": "2Gi"}}

CASES = [
    Case("no-cpu-limit", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), DELETE, "container-resources"),
    Case("no-memory-request", API, ctr(API, 0, "resources", "requests", "memory"), DELETE, "container-resources"),
    Case("request-above-limit", REDIS, ctr(REDIS, 0, "resources", "requests", "cpu"), "600m", "container-resources"),
    Case("malformed-quantity", JOB, ctr(JOB, 0, "resources", "limits", "memory"), "lots", "container-resources"),
    Case("init-no-requests", REDIS, ctr(REDIS, 0, "resources", "requests", init=True), DELETE, "container-resources"),
    Case("cronjob-no-limits", CRON, ctr(CRON, 0, "resources", "limits"), DELETE, "container-resources"),
    Case("pod-no-requests", POD, ctr(POD, 0, "resources", "requests"), DELETE, "container-resources"),
    Case("daemonset-no-memory-limit", DS, ctr(DS, 0, "resources", "limits", "memory"), DELETE, "container-resources"),
    Case("replicaset-no-cpu-request", RS, ctr(RS, 0, "resources", "requests", "cpu"), DELETE, "container-resources"),
    Case("no-resources-at-all", WEB, ctr(WEB, 0, "resources"), DELETE, "container-resources"),
    Case("web-cpu-over-cap", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), "600m", "resource-caps"),
    Case("api-memory-over-cap", API, ctr(API, 0, "resources", "limits", "memory"), "3Gi", "resource-caps"),
    Case("sidecar-over-redis-cap", REDIS, ctr(REDIS, 1, "resources", "limits", "cpu"), "600m", "resource-caps"),
    Case("init-over-redis-cap", REDIS, ctr(REDIS, 0, "resources", "limits", "cpu", init=True), "1", "resource-caps"),
    Case("other-over-default-cap", JOB, ctr(JOB, 0, "resources", "limits", "memory"), "2Gi", "resource-caps"),
    Case("configured-cap", WEB, (), None, "resource-caps", config={"resource-caps": {"caps": CAPS}}),
]
VARIANTS = [
    ok("request-equals-limit", WEB, ctr(WEB, 0, "resources", "requests", "cpu"), "500m"),
    ok("plain-number-cpu", API, ctr(API, 0, "resources", "limits", "cpu"), 1),
    ok("configured-default-cap", JOB, ctr(JOB, 0, "resources", "limits", "memory"), "2Gi",
       config={"resource-caps": {"defaultCap": {"cpu": "1", "memory": "2Gi"}}}),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)
