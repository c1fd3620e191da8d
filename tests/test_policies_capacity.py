"""Table: node-capacity (policies/capacity.py).

Baseline worst case: web node 1600m/1664Mi of 2/4Gi (ai-qtrd-web at its HPA's 2 replicas plus
one surge pod, the node agent); data node 2700m/7552Mi of 16/32Gi.
"""

import pytest

from policies.workloads import pod_limits

from .policy_baseline import API_NODE, DATA_NODE, DELETE, WEB_NODE, Case, ctr, expected, lines, ok, pod, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
JOB, CRON, DS, RS = "Job/db-migrate", "CronJob/redis-backup", "DaemonSet/node-agent", "ReplicaSet/worker"
HPA = "HorizontalPodAutoscaler/ai-qtrd-web"
RULE = "node-capacity"
WEB_N, DATA_N = "Node/cloud-ubuntu-3-2c2g", "Node/cloud-ubuntu-1-16c32g"

CASES = [
    Case("hpa-max-too-high", HPA, ("spec", "maxReplicas"), 4, RULE, reported=WEB_N),
    Case("surge-too-high", WEB, ("spec", "strategy", "rollingUpdate", "maxSurge"), 3, RULE, reported=WEB_N),
    Case("surge-percent", WEB, ("spec", "strategy", "rollingUpdate", "maxSurge"), "200%", RULE, reported=WEB_N),
    Case("daemonset-crowds-web-node", DS, ctr(DS, 0, "resources", "limits", "cpu"), "600m", RULE, reported=WEB_N),
    Case("statefulset-replicas", REDIS, ("spec", "replicas"), 30, RULE, reported=DATA_N),
    Case("replicaset-replicas", RS, ("spec", "replicas"), 100, RULE, reported=DATA_N),
    Case("cronjob-parallelism", CRON, ("spec", "jobTemplate", "spec", "parallelism"), 100, RULE, reported=DATA_N),
    Case("unknown-node", JOB, pod(JOB, "nodeSelector", "kubernetes.io/hostname"), "cloud-ubuntu-9", RULE,
         reported="Node/cloud-ubuntu-9"),
    Case("preferred-counted", API, ("spec", "replicas"), 4, RULE, reported="Node/" + API_NODE),
    Case("smaller-node", WEB, (), None, RULE, reported=WEB_N, config={RULE: {"allocatable": {
        WEB_NODE: {"cpu": "1500m", "memory": "4Gi"}, API_NODE: {"cpu": "4", "memory": "8Gi"},
        "cloud-ubuntu-1-16c32g": {"cpu": "16", "memory": "32Gi"}}}}),
]
VARIANTS = [
    ok("recreate-has-no-surge", WEB, ("spec", "strategy"), {"type": "Recreate"}),
    ok("preferred-not-counted-when-off", API, ("spec", "replicas"), 4, config={RULE: {"includePreferred": False}}),
    # 14 pods x 2176Mi + 1Gi of others fits 32Gi; a Deployment's 25% surge (4 more pods) would not.
    ok("statefulset-has-no-surge", REDIS, ("spec", "replicas"), 14),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


def test_pod_limits_take_the_larger_of_init_and_running_containers():
    spec = {
        "initContainers": [{"name": "i", "resources": {"limits": {"cpu": "2", "memory": "64Mi"}}}],
        "containers": [
            {"name": "a", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}},
        ],
    }
    limits = pod_limits(spec)
    assert (limits["cpu"], limits["memory"]) == (2, 2 * 2**30)
    spec["initContainers"][0]["restartPolicy"] = "Always"  # a native sidecar runs beside the others
    limits = pod_limits(spec)
    assert (limits["cpu"], limits["memory"]) == (3, 2 * 2**30 + 64 * 2**20)


AGENT_CPU = (DS, ctr(DS, 0, "resources", "limits", "cpu"), "600m")
ON_WEB = "mandatory node-capacity Node/cloud-ubuntu-3-2c2g: worst-case"
HPA_4 = (HPA, ("spec", "maxReplicas"), 4)
DATA_PODS = ("CronJob/redis-backup 1x(200m, 256Mi), Pod/redis-tools 1x(100m, 128Mi), "
             "ReplicaSet/worker 2x(250m, 256Mi), StatefulSet/redis 3x(600m, 2176Mi)")


def allocatable(**nodes):
    return {RULE: {"allocatable": nodes}}


# What the user reads: the node, the worst case against its allocatable, and every pod counted.
MESSAGES = [
    ("hpa-max", [HPA_4], None, [
        f"{ON_WEB} cpu limits 2600m exceed allocatable 2: "
        "DaemonSet/node-agent 1x(100m, 128Mi), Deployment/ai-qtrd-web 5x(500m, 512Mi)",
    ]),
    ("daemonset-surge", [AGENT_CPU, (DS, ("spec", "updateStrategy"), {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})], None, [
        f"{ON_WEB} cpu limits 2700m exceed allocatable 2: "
        "DaemonSet/node-agent 2x(600m, 128Mi), Deployment/ai-qtrd-web 3x(500m, 512Mi)",
    ]),
    # The HPA controller cannot scale a DaemonSet: its maxReplicas multiplies nothing.
    ("hpa-naming-a-daemonset", [
        (HPA, ("spec", "scaleTargetRef"), {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-agent"}),
        (HPA, ("spec", "maxReplicas"), 20),
    ], None, []),
    ("daemonset-kept-to-one-node", [AGENT_CPU, (DS, pod(DS, "nodeSelector"), {"kubernetes.io/hostname": DATA_NODE})],
     None, []),
    # A workload placed on no node is skipped; the ones after it still count.
    ("unplaced-cronjob-then-others", [(CRON, pod(CRON, "nodeSelector"), DELETE), HPA_4], None, [
        f"{ON_WEB} cpu limits 2600m exceed allocatable 2: "
        "DaemonSet/node-agent 1x(100m, 128Mi), Deployment/ai-qtrd-web 5x(500m, 512Mi)",
    ]),
    ("exactly-full", [], allocatable(**{
        WEB_NODE: {"cpu": "1600m", "memory": "1664Mi"}, API_NODE: {"cpu": "4", "memory": "8Gi"},
        DATA_NODE: {"cpu": "16", "memory": "32Gi"}}), []),
    ("node-not-configured-then-a-full-one", [], allocatable(**{
        WEB_NODE: {"cpu": "1500m", "memory": "4Gi"}, API_NODE: {"cpu": "4", "memory": "8Gi"}}), [
        f"mandatory node-capacity Node/{DATA_NODE}: no allocatable capacity configured for this node "
        f"(pinned by {DATA_PODS}); add it to allocatable",
        f"{ON_WEB} cpu limits 1600m exceed allocatable 1500m: "
        "DaemonSet/node-agent 1x(100m, 128Mi), Deployment/ai-qtrd-web 3x(500m, 512Mi)",
    ]),
]


@pytest.mark.parametrize("changes, config, want", [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES])
def test_messages(changes, config, want):
    assert [line for line in lines(changes, config) if f" {RULE} " in line] == want
