"""Table: node-placement (policies/placement.py)."""

import pytest

from .policy_baseline import API_NODE, DATA_NODE, DELETE, WEB_NODE, Case, expected, lines, ok, pod, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
JOB, CRON, POD, DS, RS = "Job/db-migrate", "CronJob/redis-backup", "Pod/redis-tools", "DaemonSet/node-agent", "ReplicaSet/worker"
HOST = "kubernetes.io/hostname"
PREFERRED = ("affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "preference",
             "matchExpressions", 0, "values", 0)


def required(node):
    term = {"matchExpressions": [{"key": HOST, "operator": "In", "values": [node]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


NO_CAPACITY = {"node-capacity": "disabled"}
CASES = [
    # Moving a tier onto another node also overflows that node: node-capacity has its own table.
    Case("web-on-api-node", WEB, pod(WEB, "nodeSelector", HOST), API_NODE, "node-placement", config=NO_CAPACITY),
    Case("web-unpinned", WEB, pod(WEB, "nodeSelector"), DELETE, "node-placement"),
    Case("web-other-selector", WEB, pod(WEB, "nodeSelector"), {"disk": "ssd"}, "node-placement"),
    Case("api-no-affinity", API, pod(API, "affinity"), DELETE, "node-placement"),
    Case("api-prefers-web-node", API, pod(API, *PREFERRED), WEB_NODE, "node-placement", config=NO_CAPACITY),
    Case("api-required-elsewhere", API, pod(API, "nodeSelector"), {HOST: DATA_NODE}, "node-placement"),
    Case("redis-on-api-node", REDIS, pod(REDIS, "nodeSelector", HOST), API_NODE, "node-placement", config=NO_CAPACITY),
    Case("redis-unpinned", REDIS, pod(REDIS, "nodeSelector"), DELETE, "node-placement"),
    Case("backup-unpinned", CRON, pod(CRON, "nodeSelector"), DELETE, "node-placement"),
    Case("job-no-placement", JOB, pod(JOB, "nodeSelector"), DELETE, "node-placement"),
    Case("pod-no-placement", POD, pod(POD, "nodeSelector"), DELETE, "node-placement"),
    Case("replicaset-no-placement", RS, pod(RS, "nodeSelector"), DELETE, "node-placement"),
    Case("job-becomes-data-component", JOB, ("spec", "template", "metadata", "labels", "app.kubernetes.io/component"),
         "backup", "node-placement"),
    Case("configured-web-node", WEB, (), None, "node-placement",
         config={"node-placement": {"nodes": {"web": "other-node", "api": API_NODE, "data": DATA_NODE}}}),
    Case("configured-data-components", JOB, (), None, "node-placement",
         config={"node-placement": {"dataComponents": ["redis", "backup", "migrate"]}}),
]
VARIANTS = [
    ok("api-required-affinity", API, pod(API, "affinity"), required(API_NODE)),
    ok("api-pinned-by-selector", API, pod(API, "nodeSelector"), {HOST: API_NODE}),
    ok("redis-by-required-affinity", REDIS, pod(REDIS, "affinity"), required(DATA_NODE)),
    ok("job-any-node-selector", JOB, pod(JOB, "nodeSelector"), {"node-role.kubernetes.io/worker": "true"}),
    ok("daemonset-on-one-node", DS, pod(DS, "nodeSelector"), {HOST: DATA_NODE}),
    ok("pod-by-node-name", POD, pod(POD, "nodeName"), DATA_NODE),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


@pytest.mark.parametrize("target, path, value, want", [
    (REDIS, pod(REDIS, "nodeSelector"), DELETE, f"redis pods must be pinned (nodeSelector or required affinity) to {DATA_NODE} "
     "(not pinned to one node)"),
    (REDIS, pod(REDIS, "nodeSelector", HOST), API_NODE, f"redis pods must be pinned (nodeSelector or required affinity) to "
     f"{DATA_NODE} (pinned to {API_NODE})"),
    (RS, pod(RS, "nodeSelector"), DELETE, "pods of component 'worker' have no placement (nodeSelector, nodeName or node affinity)"),
], ids=["data-unpinned", "data-elsewhere", "other-component-unplaced"])
def test_messages_say_where_pods_go(target, path, value, want):
    assert [line for line in lines([(target, path, value)], NO_CAPACITY) if " node-placement " in line] == [
        f"mandatory node-placement {target}: {want}"]
