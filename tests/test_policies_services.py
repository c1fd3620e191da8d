"""Table: service-cluster-ip and service-endpoints (policies/services.py)."""

import pytest

from policies.base import UNKNOWN

from .policy_baseline import DELETE, Case, case_lines, ctr, expected, lines, ok, reported

SVC_WEB, SVC_API, SVC_REDIS = "Service/ai-qtrd-web", "Service/ai-qtrd-api", "Service/redis-headless"
WEB, REDIS = "Deployment/ai-qtrd-web", "StatefulSet/redis"
E = "service-endpoints"

CASES = [
    Case("node-port", SVC_WEB, ("spec", "type"), "NodePort", "service-cluster-ip"),
    Case("load-balancer", SVC_API, ("spec", "type"), "LoadBalancer", "service-cluster-ip"),
    Case("external-ips", SVC_REDIS, ("spec", "externalIPs"), ["203.0.113.7"], "service-cluster-ip"),
    Case("selector-typo", SVC_WEB, ("spec", "selector", "app"), "ai-qtrd-webb", E),
    Case("extra-selector-label", SVC_REDIS, ("spec", "selector", "role"), "master", E),
    Case("other-namespace", SVC_REDIS, ("metadata", "namespace"), "other", E),
    Case("numeric-target-missing", SVC_API, ("spec", "ports", 0, "targetPort"), 8080, E),
    Case("named-target-missing", SVC_REDIS, ("spec", "ports", 0, "targetPort"), "redis-port", E),
    Case("pods-lose-port", WEB, ctr(WEB, 0, "ports"), DELETE, E, reported=SVC_WEB),
    Case("port-renamed-on-pods", REDIS, ctr(REDIS, 0, "ports", 0, "name"), "tcp-redis", E, reported=SVC_REDIS),
]
VARIANTS = [
    ok("target-defaults-to-port", SVC_WEB, ("spec", "ports", 0, "targetPort"), DELETE),
    ok("runtime-role-label", SVC_REDIS, ("spec", "selector", "role"), "master",
       config={"service-endpoints": {"runtimeLabels": ["role"]}}),
    ok("selectorless-service", SVC_API, ("spec", "selector"), DELETE),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


# What the user reads for some of the cases above: the object, the field, the value quoted (exact lines).
MESSAGES = {
    "node-port": ["mandatory service-cluster-ip Service/ai-qtrd-web: type NodePort exposes the Service outside the "
                  "cluster; use ClusterIP behind Traefik"],
    "external-ips": ["mandatory service-cluster-ip Service/redis-headless: externalIPs expose the Service outside the cluster"],
    "extra-selector-label": [f"mandatory {E} Service/redis-headless: selector app=redis,role=master matches no workload's "
                             "pod labels"],
    "numeric-target-missing": [f"mandatory {E} Service/ai-qtrd-api: targetPort 8080 of port 8000 is not a container "
                               "port of Deployment/ai-qtrd-api"],
    "named-target-missing": [f"mandatory {E} Service/redis-headless: targetPort 'redis-port' of port 6379 is not a "
                             "container port of StatefulSet/redis"],
}


@pytest.mark.parametrize("case_id, want", MESSAGES.items(), ids=list(MESSAGES))
def test_messages(case_id, want):
    (case,) = [c for c in CASES if c.id == case_id]
    assert case_lines(case) == want


INIT = ctr(REDIS, 0, init=True)
METRICS = (REDIS, (*INIT, "ports"), [{"name": "metrics", "containerPort": 9121}])
SIDECAR = (REDIS, (*INIT, "restartPolicy"), "Always")


def to_metrics(target):
    return (SVC_REDIS, ("spec", "ports", 0, "targetPort"), target)


# Changes of more than one field, with the exact service-endpoints lines they give.
SCENARIOS = [
    # An init container's port serves nothing once the pod runs; a native sidecar's does.
    ("port-of-an-init-container", [METRICS, to_metrics("metrics")],
     [f"mandatory {E} {SVC_REDIS}: targetPort 'metrics' of port 6379 is not a container port of {REDIS}"]),
    ("port-name-of-a-sidecar", [METRICS, SIDECAR, to_metrics("metrics")], []),
    ("port-number-of-a-sidecar", [METRICS, SIDECAR, to_metrics(9121)], []),
    ("port-of-what-may-be-a-sidecar-in-preview", [METRICS, (*SIDECAR[:2], UNKNOWN), to_metrics("metrics")], []),
    # Values a preview does not know yet are judged at `pulumi up`.
    ("selector-unknown-in-preview", [(SVC_WEB, ("spec", "selector", "app"), UNKNOWN)], []),
    ("target-port-unknown-in-preview", [(SVC_API, ("spec", "ports", 0, "targetPort"), UNKNOWN)], []),
    # Without targetPort, the port number is the container port.
    ("port-number-as-target", [(SVC_API, ("spec", "ports", 0, "port"), 8080), (SVC_API, ("spec", "ports", 0, "targetPort"), DELETE)],
     [f"mandatory {E} {SVC_API}: targetPort 8080 of port 8080 is not a container port of Deployment/ai-qtrd-api"]),
    # A Service skipped (no selector, a selector unknown in preview, a port unknown) does not stop the others.
    ("selectorless-then-a-bad-port", [(SVC_WEB, ("spec", "selector"), DELETE), to_metrics("metrics")],
     [f"mandatory {E} {SVC_REDIS}: targetPort 'metrics' of port 6379 is not a container port of {REDIS}"]),
    ("selector-typo-then-a-bad-port", [(SVC_WEB, ("spec", "selector", "app"), "ai-qtrd-webb"), to_metrics("metrics")], [
        f"mandatory {E} {SVC_WEB}: selector app=ai-qtrd-webb matches no workload's pod labels",
        f"mandatory {E} {SVC_REDIS}: targetPort 'metrics' of port 6379 is not a container port of {REDIS}",
    ]),
    ("unknown-selector-then-a-bad-port", [(SVC_WEB, ("spec", "selector", "app"), UNKNOWN), to_metrics("metrics")],
     [f"mandatory {E} {SVC_REDIS}: targetPort 'metrics' of port 6379 is not a container port of {REDIS}"]),
    ("unknown-port-then-a-bad-one", [(SVC_API, ("spec", "ports"), [
        {"name": "a", "port": 8000, "targetPort": UNKNOWN}, {"name": "b", "port": 9000, "targetPort": 9000}])],
     [f"mandatory {E} {SVC_API}: targetPort 9000 of port 9000 is not a container port of Deployment/ai-qtrd-api"]),
    # An ExternalName Service has no pods behind it: its ports are the outside host's.
    ("external-name", [(SVC_API, ("spec", "type"), "ExternalName"), (SVC_API, ("spec", "ports", 0, "targetPort"), 5432)], []),
]


@pytest.mark.parametrize("changes, want", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_scenarios(changes, want):
    assert [line for line in lines(changes) if f" {E} " in line] == want


def test_a_selector_of_runtime_labels_only_is_not_checked():
    """``role`` is set by the failover controller at run time: no manifest carries it."""
    found = lines([(SVC_REDIS, ("spec", "selector"), {"role": "master"})], {E: {"runtimeLabels": ["role"]}})
    assert [line for line in found if f" {E} " in line] == []
