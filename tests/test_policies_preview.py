"""Table: a workload's pod template, pod spec or containers unknown in preview (policies/workloads.py).

A value computed from another resource is unknown during ``pulumi preview``: no rule that reads
pod specs may report it (a pull request's preview must not fail a mandatory policy for it), and a
value that is known, beside it or in the next object, is still reported (``pulumi up`` gets
every finding).
"""

import pytest

from policies.base import UNKNOWN
from policies.workloads import KINDS

from .policy_baseline import DELETE, ctr, lines, manifests, pod

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
WORKLOADS = [
    WEB, API, REDIS, "DaemonSet/node-agent", "ReplicaSet/worker", "Job/db-migrate", "CronJob/redis-backup",
    "Pod/redis-tools",
]
SVC_WEB, SVC_REDIS = "Service/ai-qtrd-web", "Service/redis-headless"
COMPONENT = "app.kubernetes.io/component"


def template(target):
    """Path of the pod template (``()`` for a bare Pod: the Pod is its own template)."""
    return pod(target)[:-1]


def labels(target, *rest):
    return (*template(target), "metadata", "labels", *rest)


UNKNOWN_PARTS = {
    "pod-spec": pod,
    "template": template,
    "first-container": lambda t: ctr(t, 0),
    "containers": lambda t: pod(t, "containers"),
    "pod-labels": labels,
    "component-label": lambda t: labels(t, COMPONENT),
    "ports-of-first-container": lambda t: ctr(t, 0, "ports"),
    "first-port-name": lambda t: ctr(t, 0, "ports", 0, "name"),
}
#: Every workload kind with its spec, template or a container unknown; the Services' workloads (and
#: those over the default cap) with what service-endpoints and resource-caps read of them unknown.
ROWS = [
    *((t, part) for t in WORKLOADS for part in ("pod-spec", "template", "first-container") if t != "Pod/redis-tools"),
    ("Pod/redis-tools", "pod-spec"), ("Pod/redis-tools", "first-container"), ("Pod/redis-tools", "pod-labels"),
    *((t, part) for t in (WEB, API, REDIS)
      for part in ("containers", "pod-labels", "ports-of-first-container", "first-port-name")),
    (API, "component-label"), (REDIS, "component-label"),
]


@pytest.mark.parametrize("target, part", ROWS, ids=[f"{t.split('/')[1]}-{p}" for t, p in ROWS])
def test_an_unknown_part_of_a_workload_is_no_finding_of_any_rule(target, part):
    """Every rule runs on every row: those reading the pod spec, and the stack rules reading all pods."""
    assert lines([(target, UNKNOWN_PARTS[part](target), UNKNOWN)]) == []


def _fields(node, path=()):
    """Every path into ``node``: each mapping value and list entry, at every depth."""
    yield path
    entries = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in entries:
        yield from _fields(value, (*path, key))


WORKLOAD_FIELDS = [
    (f"{doc['kind']}/{doc['metadata']['name']}", path)
    for doc in manifests() if doc["kind"] in KINDS
    for path in _fields(doc) if path and path not in (("kind",), ("apiVersion",))
]


def test_any_field_of_any_workload_unknown_is_no_finding():
    """The rows above, for every field the baseline's workloads set: the pack may guess none of them."""
    found = {}
    for target, path in WORKLOAD_FIELDS:
        reported = lines([(target, path, UNKNOWN)])
        if reported:
            found[(target, path)] = reported
    assert found == {}


# Beside an unknown value, a known bad one is still reported, with the same line as without it.
KNOWN_BAD = [
    ("placement-beside-unknown-containers", [(WEB, pod(WEB, "containers"), UNKNOWN), (WEB, pod(WEB, "nodeSelector"), DELETE)],
     [f"mandatory node-placement {WEB}: web pods must set nodeSelector kubernetes.io/hostname=cloud-ubuntu-3-2c2g (got none)"]),
    ("token-beside-an-unknown-container", [(WEB, ctr(WEB, 0), UNKNOWN), (WEB, pod(WEB, "automountServiceAccountToken"), True)],
     [f"mandatory no-service-account-token {WEB}: automountServiceAccountToken is true, must be false"]),
    ("second-container-beside-an-unknown-first", [(REDIS, ctr(REDIS, 0), UNKNOWN), (REDIS, ctr(REDIS, 1, "image"), "redis:latest")],
     [f"mandatory image-tag-pinned {REDIS}: container 'sentinel' image 'redis:latest' is tagged 'latest' (pin a version)"]),
    ("cap-beside-an-unknown-container", [(REDIS, ctr(REDIS, 0), UNKNOWN), (REDIS, ctr(REDIS, 1, "resources", "limits", "memory"), "3Gi")],
     [f"mandatory resource-caps {REDIS}: container 'sentinel' limits memory to 3Gi, above 2Gi allowed for component 'redis'"]),
    ("template-without-a-spec", [(WEB, pod(WEB), DELETE)], [f"mandatory well-formed-pod-spec {WEB}: has no pod spec"]),
    # A workload's unknown pod labels may match only a selector its known labels do not contradict.
    ("selector-no-unknown-label-can-match", [
        (WEB, labels(WEB, "app.kubernetes.io/name"), UNKNOWN), (SVC_REDIS, ("spec", "selector", "app"), "redis-x")],
     [f"mandatory service-endpoints {SVC_REDIS}: selector app=redis-x matches no workload's pod labels"]),
    # One Service's pods unknown: another Service's missing port is still reported.
    ("port-of-another-service", [(WEB, ctr(WEB, 0), UNKNOWN), (REDIS, ctr(REDIS, 0, "ports", 0, "name"), "tcp-redis")],
     [f"mandatory service-endpoints {SVC_REDIS}: targetPort 'redis' of port 6379 is not a container port of {REDIS}"]),
]


@pytest.mark.parametrize("changes, want", [r[1:] for r in KNOWN_BAD], ids=[r[0] for r in KNOWN_BAD])
def test_a_known_bad_value_beside_an_unknown_one_is_still_reported(changes, want):
    policy = want[0].split()[1]
    assert [line for line in lines(changes) if line.split()[1] == policy] == want
