"""policies/workloads.py: what the policies read from a workload of any kind (its pod spec and
component, its containers, where it may run, how many pods it runs at most), exactly.

The rule tables see these through one finding or none; here each reading is its own row, so a
wrong host-name set or surge count shows as itself (node-placement and node-capacity build on them).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from policies.base import UNKNOWN, Obj
from policies.workloads import (
    COMPONENT, HOSTNAME, Placement, containers, containers_unknown, long_running, placement, pod_limits, pod_spec, replicas, surge,
)
from policies.workloads import component as component_of

SPEC = {"containers": [{"name": "app"}]}
TEMPLATE = {"metadata": {"labels": {COMPONENT: "web"}}, "spec": SPEC}


def obj(kind: str, **body) -> Obj:
    return Obj.from_manifest({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}, **body})  # type: ignore[return-value]


@pytest.mark.parametrize("workload, spec, component", [
    *((obj(kind, spec={"template": TEMPLATE}), SPEC, "web")
      for kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController")),
    (obj("CronJob", spec={"jobTemplate": {"spec": {"template": TEMPLATE}}}), SPEC, "web"),
    (obj("Pod", spec=SPEC), SPEC, None),
    (Obj.from_manifest({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": {COMPONENT: "tools"}},
                        "spec": SPEC}), SPEC, "tools"),
    (obj("Deployment", spec={"template": {"metadata": {"labels": {COMPONENT: 3}}}}), {}, None),
    (obj("Deployment", spec={}), {}, None),
    (obj("Service", spec={"template": TEMPLATE}), None, None),
    # Unknown in preview: the rules skip what they read of it (rather than read an empty pod).
    (obj("Deployment", spec={"template": UNKNOWN}), UNKNOWN, UNKNOWN),
    (obj("CronJob", spec={"jobTemplate": {"spec": UNKNOWN}}), UNKNOWN, UNKNOWN),
    (obj("StatefulSet", spec={"template": {"metadata": UNKNOWN, "spec": UNKNOWN}}), UNKNOWN, UNKNOWN),
    (obj("Pod", spec=UNKNOWN), UNKNOWN, None),
    (obj("Job", spec={"template": {**TEMPLATE, "metadata": {"labels": {COMPONENT: UNKNOWN}}}}), SPEC, UNKNOWN),
], ids=["deployment", "statefulset", "daemonset", "job", "replicaset", "replicationcontroller", "cronjob", "pod",
        "pod-labelled", "component-not-a-string", "no-template", "not-a-workload", "template-unknown",
        "job-template-unknown", "spec-and-labels-unknown", "pod-spec-unknown", "component-unknown"])
def test_the_pod_spec_and_component_of_every_kind(workload, spec, component):
    assert (pod_spec(workload), component_of(workload)) == (spec, component)


def test_containers_in_start_order_named_as_findings_name_them():
    spec = {
        "initContainers": [{"name": "setup"}, "not-a-container", {"name": "proxy", "restartPolicy": "Always"}],
        "containers": [{"name": "app", "restartPolicy": "Always"}, {"image": "unnamed:1"}],
    }
    found = [(c.label, c.sidecar) for c in containers(spec)]
    assert found == [
        ("init container 'setup'", False),
        ("init container 'proxy'", True),  # a native sidecar: runs beside the app
        ("container 'app'", False),
        ("container '?'", False),
    ]
    assert list(containers(None)) == []
    assert list(containers(UNKNOWN)) == []


@pytest.mark.parametrize("spec, unknown", [
    (SPEC, False),
    ({"initContainers": [{"name": "setup", "image": UNKNOWN}], "containers": [{"name": "app", "ports": UNKNOWN}]}, False),
    (None, False),
    (UNKNOWN, True),
    ({"containers": UNKNOWN}, True),
    ({"initContainers": UNKNOWN, "containers": [{"name": "app"}]}, True),
    ({"containers": [{"name": "app"}, UNKNOWN]}, True),
    ({"initContainers": [UNKNOWN], "containers": [{"name": "app"}]}, True),
], ids=["known", "fields-unknown", "no-spec", "spec", "containers", "init-containers", "a-container", "an-init-container"])
def test_which_pods_have_containers_unknown_in_preview(spec, unknown):
    """Which pods a rule over all containers at once (service-endpoints) must skip in preview."""
    assert containers_unknown(spec) is unknown


@pytest.mark.parametrize("workload, serves", [
    (obj("Deployment"), True),
    (obj("StatefulSet"), True),
    (obj("DaemonSet"), True),
    (obj("Job"), False),
    (obj("CronJob"), False),
    (obj("Pod", spec={}), True),
    (obj("Pod", spec={"restartPolicy": "Always"}), True),
    (obj("Pod", spec={"restartPolicy": "OnFailure"}), False),
    (obj("Pod", spec={"restartPolicy": "Never"}), False),
], ids=["deployment", "statefulset", "daemonset", "job", "cronjob", "pod", "pod-always", "pod-on-failure", "pod-never"])
def test_long_running_pods_are_the_ones_that_serve_until_stopped(workload, serves):
    assert long_running(workload) is serves


def required(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def term(*expressions):
    return {"matchExpressions": list(expressions)}


def hosts(*names, operator="In", key=HOSTNAME):
    return {"key": key, "operator": operator, "values": list(names)}


def preferred(*terms):
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": t} for t in terms]}}


NONE, A, AB = frozenset(), frozenset({"a"}), frozenset({"a", "b"})


@pytest.mark.parametrize("spec, want", [
    (None, Placement(None, NONE, None, False)),
    ({}, Placement(None, NONE, None, False)),
    ({"nodeSelector": {HOSTNAME: "a"}}, Placement(A, NONE, "a", True)),
    ({"nodeSelector": {"disk": "ssd"}}, Placement(None, NONE, None, True)),
    ({"nodeSelector": {HOSTNAME: ""}}, Placement(None, NONE, "", True)),
    ({"nodeName": "a"}, Placement(A, NONE, None, True)),
    ({"nodeName": ""}, Placement(None, NONE, None, False)),
    ({"nodeSelector": {HOSTNAME: "a"}, "nodeName": "b"}, Placement(NONE, NONE, "a", True)),
    ({"affinity": required(term(hosts("a", "b")))}, Placement(AB, NONE, None, True)),
    ({"affinity": required(term(hosts("a", 7)))}, Placement(A, NONE, None, True)),
    ({"affinity": required(term(hosts("a")), term(hosts("b")))}, Placement(AB, NONE, None, True)),
    ({"affinity": required(term(hosts("a")), term(hosts("ssd", key="disk")))}, Placement(None, NONE, None, True)),
    ({"affinity": required(term(hosts("a", "b"), hosts("b", "c")))}, Placement(frozenset({"b"}), NONE, None, True)),
    ({"affinity": required(term(hosts("a"), hosts("ssd", key="disk")))}, Placement(A, NONE, None, True)),
    ({"affinity": required(term(hosts("a", operator="NotIn")))}, Placement(None, NONE, None, True)),
    ({"nodeSelector": {HOSTNAME: "a"}, "affinity": required(term(hosts("a", "b")))}, Placement(A, NONE, "a", True)),
    ({"affinity": preferred(term(hosts("a")), term(hosts("b")))}, Placement(None, AB, None, True)),
    ({"affinity": preferred(term(hosts("ssd", key="disk")))}, Placement(None, NONE, None, True)),
    ({"nodeSelector": {HOSTNAME: UNKNOWN}}, Placement(None, NONE, None, True, unknown=True)),
    ({"nodeName": UNKNOWN}, Placement(None, NONE, None, False, unknown=True)),
    ({"affinity": required(term(hosts(UNKNOWN)))}, Placement(NONE, NONE, None, True, unknown=True)),
    (UNKNOWN, Placement(None, NONE, None, False, unknown=True)),
], ids=[
    "unset", "none", "selector", "selector-not-by-host", "selector-empty-host", "node-name", "node-name-empty",
    "selector-and-node-name-disagree", "required-two-hosts", "required-non-string-host", "terms-are-ored",
    "a-term-not-by-host-frees-it", "expressions-are-anded", "expression-not-by-host-ignored", "not-in-ignored",
    "selector-narrows-affinity", "preferred", "preferred-not-by-host", "selector-unknown", "node-name-unknown",
    "affinity-unknown", "pod-spec-unknown",
])
def test_where_a_pod_may_run(spec, want):
    assert placement(spec) == want


@pytest.mark.parametrize("spec, pinned", [
    ({"nodeSelector": {HOSTNAME: "a"}}, "a"),
    ({"affinity": required(term(hosts("a", "b")))}, None),
    ({"nodeSelector": {HOSTNAME: "a"}, "nodeName": "b"}, None),
    ({}, None),
], ids=["one-node", "two-nodes", "no-node", "unrestricted"])
def test_a_pod_is_pinned_only_to_exactly_one_node(spec, pinned):
    assert placement(spec).pinned == pinned


@pytest.mark.parametrize("workload, pods", [
    (obj("Deployment", spec={"replicas": 3}), 3),
    (obj("StatefulSet", spec={"replicas": 3}), 3),
    (obj("ReplicaSet", spec={"replicas": 3}), 3),
    (obj("ReplicationController", spec={"replicas": 3}), 3),
    (obj("Deployment", spec={}), 1),
    (obj("Deployment", spec={"replicas": False}), 1),
    (obj("Deployment", spec={"replicas": "3"}), 1),
    (obj("Deployment", spec={"replicas": UNKNOWN}), 1),
    (obj("Job", spec={"parallelism": 4, "replicas": 9}), 4),
    (obj("CronJob", spec={"jobTemplate": {"spec": {"parallelism": 5}}, "parallelism": 9}), 5),
    (obj("DaemonSet", spec={"replicas": 9}), 1),
    (obj("Pod", spec={"replicas": 9}), 1),
], ids=["deployment", "statefulset", "replicaset", "replicationcontroller", "default", "bool", "string", "unknown",
        "job-parallelism", "cronjob-parallelism", "daemonset", "pod"])
def test_the_pods_a_workload_asks_for(workload, pods):
    assert replicas(workload) == pods


def deployment(**strategy):
    return obj("Deployment", spec={"strategy": strategy} if strategy else {})


def daemonset(max_surge):
    return obj("DaemonSet", spec={"updateStrategy": {"rollingUpdate": {"maxSurge": max_surge}}})


@pytest.mark.parametrize("workload, pods, extra", [
    (deployment(), 4, 1),  # Kubernetes' default maxSurge: 25 %, rounded up
    (deployment(), 5, 2),
    (deployment(), 1, 1),
    (deployment(), 0, 0),
    (deployment(type="Recreate", rollingUpdate={"maxSurge": 3}), 4, 0),
    (deployment(type="RollingUpdate", rollingUpdate={"maxSurge": 3}), 4, 3),
    (deployment(rollingUpdate={"maxSurge": 0}), 4, 0),
    (deployment(rollingUpdate={"maxSurge": "50%"}), 3, 2),
    (deployment(rollingUpdate={"maxSurge": "67%"}), 3, 3),  # 2.01 pods: rounded up, not down
    (deployment(rollingUpdate={"maxSurge": "100%"}), 3, 3),
    (deployment(rollingUpdate={"maxSurge": "0%"}), 3, 0),
    (deployment(rollingUpdate={"maxSurge": "x%"}), 8, 2),
    (deployment(rollingUpdate={"maxSurge": "2.5%"}), 8, 2),
    (deployment(rollingUpdate={"maxSurge": "3"}), 8, 2),
    (deployment(rollingUpdate={"maxSurge": True}), 8, 2),
    (deployment(rollingUpdate={"maxSurge": UNKNOWN}), 8, 2),
    (daemonset(1), 1, 1),
    (daemonset("10%"), 1, 1),
    (daemonset(0), 1, 0),
    (daemonset("0%"), 1, 0),
    (obj("DaemonSet", spec={}), 1, 0),
    (obj("StatefulSet", spec={"updateStrategy": {"rollingUpdate": {"maxSurge": 2}}}), 3, 0),
    (obj("Job", spec={}), 3, 0),
], ids=["default-4", "default-5", "default-1", "default-0", "recreate", "count", "zero", "percent-rounded-up",
        "percent-just-above-two", "percent-all", "percent-zero", "percent-malformed", "percent-not-whole", "string-number", "bool", "unknown", "daemonset-one",
        "daemonset-percent", "daemonset-zero", "daemonset-zero-percent", "daemonset-default", "statefulset", "job"])
def test_the_extra_pods_a_rolling_update_starts(workload, pods, extra):
    assert surge(workload, pods) == extra


def limits(cpu, memory="64Mi"):
    return {"resources": {"limits": {"cpu": cpu, "memory": memory}}}


MI = 2**20


@pytest.mark.parametrize("spec, cpu, memory", [
    ({"containers": [limits("500m"), limits("250m", "32Mi")]}, Fraction(3, 4), 96 * MI),
    ({"containers": [limits("500m"), limits("lots", "lots"), limits(UNKNOWN, UNKNOWN), {"name": "none"}]},
     Fraction(1, 2), 64 * MI),
    ({"initContainers": [limits("2", "32Mi")], "containers": [limits("500m")]}, 2, 64 * MI),
    ({"initContainers": [limits("2"), limits("1", "1Gi")], "containers": [limits("500m")]}, 2, 1024 * MI),
    ({"initContainers": [{**limits("2"), "restartPolicy": "Always"}], "containers": [limits("500m")]}, Fraction(5, 2),
     128 * MI),
    (None, 0, 0),
], ids=["containers-add-up", "unset-or-malformed-count-nothing", "largest-init-container",
        "init-containers-run-one-at-a-time", "sidecar-runs-beside", "no-spec"])
def test_a_pods_limits_are_what_runs_at_once(spec, cpu, memory):
    assert pod_limits(spec) == {"cpu": cpu, "memory": memory}
