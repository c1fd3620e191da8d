"""Table: container-resources and resource-caps (policies/resources.py)."""

import pytest

from policies.base import UNKNOWN

from .policy_baseline import DELETE, Case, ctr, expected, findings, ok, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
JOB, CRON, POD, DS, RS = "Job/db-migrate", "CronJob/redis-backup", "Pod/redis-tools", "DaemonSet/node-agent", "ReplicaSet/worker"
#: container-resources off: a case about the caps alone (a malformed or missing limit is its finding).
CAPS_ONLY = {"container-resources": "disabled"}
CAPS = {"web": {"cpu": "400m", "memory": "512Mi"}, "api": {"cpu": "1000m", "memory": "2Gi"}, "redis": {"cpu": "500m", "memory": "2Gi"}}

CASES = [
    Case("no-cpu-limit", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), DELETE, "container-resources"),
    Case("no-memory-request", API, ctr(API, 0, "resources", "requests", "memory"), DELETE, "container-resources"),
    Case("request-above-limit", REDIS, ctr(REDIS, 0, "resources", "requests", "cpu"), "600m", "container-resources"),
    Case("malformed-quantity", JOB, ctr(JOB, 0, "resources", "limits", "memory"), "lots", "container-resources"),
    Case("cpu-limit-not-a-number", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), float("nan"), "container-resources"),
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
    Case("web-memory-over-cap-in-mi", WEB, ctr(WEB, 0, "resources", "limits", "memory"), "768Mi", "resource-caps"),
    Case("memory-over-cap-in-ki", JOB, ctr(JOB, 0, "resources", "limits", "memory"), "1048577Ki", "resource-caps"),
    Case("memory-over-cap-in-bytes", API, ctr(API, 0, "resources", "limits", "memory"), "2147484000", "resource-caps"),
    Case("cpu-over-cap-finer-than-a-millicore", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), "0.5005", "resource-caps"),
    Case("cap-checked-past-a-malformed-limit", API, ctr(API, 0, "resources", "limits"), {"cpu": "lots", "memory": "3Gi"},
         "resource-caps", config=CAPS_ONLY),
    Case("cap-checked-past-a-missing-limit", API, ctr(API, 0, "resources", "limits"), {"memory": "3Gi"},
         "resource-caps", config=CAPS_ONLY),
]
#: Each case's findings, exactly: the container, the field, the value as written (requests) or as
#: Kubernetes writes it (limits and caps), and which cap applies.
FINDINGS = {
    "no-cpu-limit": ["container 'web' sets no limits.cpu"],
    "no-memory-request": ["container 'api' sets no requests.memory"],
    "request-above-limit": ["container 'redis' requests cpu '600m' above its limit '500m'"],
    "malformed-quantity": ["container 'migrate' limits.memory 'lots' is not a quantity"],
    "cpu-limit-not-a-number": ["container 'web' limits.cpu nan is not a quantity"],
    "init-no-requests": ["init container 'init-config' sets no requests.cpu", "init container 'init-config' sets no requests.memory"],
    "cronjob-no-limits": ["container 'backup' sets no limits.cpu", "container 'backup' sets no limits.memory"],
    "pod-no-requests": ["container 'tools' sets no requests.cpu", "container 'tools' sets no requests.memory"],
    "daemonset-no-memory-limit": ["container 'agent' sets no limits.memory"],
    "replicaset-no-cpu-request": ["container 'worker' sets no requests.cpu"],
    "no-resources-at-all": [
        "container 'web' sets no requests.cpu", "container 'web' sets no limits.cpu",
        "container 'web' sets no requests.memory", "container 'web' sets no limits.memory",
    ],
    "web-cpu-over-cap": ["container 'web' limits cpu to 600m, above 500m allowed for component 'web'"],
    "api-memory-over-cap": ["container 'api' limits memory to 3Gi, above 2Gi allowed for component 'api'"],
    "sidecar-over-redis-cap": ["container 'sentinel' limits cpu to 600m, above 500m allowed for component 'redis'"],
    "init-over-redis-cap": ["init container 'init-config' limits cpu to 1, above 500m allowed for component 'redis'"],
    "other-over-default-cap": ["container 'migrate' limits memory to 2Gi, above 1Gi allowed for the default cap"],
    "configured-cap": ["container 'web' limits cpu to 500m, above 400m allowed for component 'web'"],
    "web-memory-over-cap-in-mi": ["container 'web' limits memory to 768Mi, above 512Mi allowed for component 'web'"],
    "memory-over-cap-in-ki": ["container 'migrate' limits memory to 1048577Ki, above 1Gi allowed for the default cap"],
    # In bytes, as Kubernetes shows a plain number: never 2.14748e+09, which reads as less than 2Gi.
    "memory-over-cap-in-bytes": ["container 'api' limits memory to 2147484000, above 2Gi allowed for component 'api'"],
    "cpu-over-cap-finer-than-a-millicore": ["container 'web' limits cpu to 0.5005, above 500m allowed for component 'web'"],
    "cap-checked-past-a-malformed-limit": ["container 'api' limits memory to 3Gi, above 2Gi allowed for component 'api'"],
    "cap-checked-past-a-missing-limit": ["container 'api' limits memory to 3Gi, above 2Gi allowed for component 'api'"],
}
VARIANTS = [
    ok("request-equals-limit", WEB, ctr(WEB, 0, "resources", "requests", "cpu"), "500m"),
    ok("plain-number-cpu", API, ctr(API, 0, "resources", "limits", "cpu"), 1),
    ok("configured-default-cap", JOB, ctr(JOB, 0, "resources", "limits", "memory"), "2Gi",
       config={"resource-caps": {"defaultCap": {"cpu": "1", "memory": "2Gi"}}}),
    ok("cpu-limit-with-an-exponent", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), "5e-1"),
    ok("cpu-request-in-microcores", WEB, ctr(WEB, 0, "resources", "requests", "cpu"), "100000u"),
    ok("resources-unknown-in-preview", WEB, ctr(WEB, 0, "resources"), UNKNOWN),
    ok("cpu-request-unknown-in-preview", WEB, ctr(WEB, 0, "resources", "requests", "cpu"), UNKNOWN),
    ok("cpu-limit-unknown-in-preview", WEB, ctr(WEB, 0, "resources", "limits", "cpu"), UNKNOWN),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_findings_name_the_container_the_field_and_the_value(case):
    assert findings(case) == FINDINGS[case.id]
