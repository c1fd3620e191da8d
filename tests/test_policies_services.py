"""Table: service-cluster-ip and service-endpoints (policies/services.py)."""

import pytest

from .policy_baseline import DELETE, Case, ctr, expected, ok, reported

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
