"""The catalog as a whole (policies/catalog.py): the baseline is clean, every policy has a table, previews with unknowns pass."""

import importlib
import re
from pathlib import Path

import pytest

from policies.base import UNKNOWN
from policies.catalog import RULES, evaluate

from .policy_baseline import ctr, manifests, mutate, objects, pod, prod_settings

TABLES = sorted(p.stem for p in Path(__file__).parent.glob("test_policies_*.py"))


def test_baseline_reports_nothing():
    assert [v.line for v in evaluate(objects(), prod_settings())] == []


def test_rules_are_named_and_described():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+", rule.name), rule.name
        assert rule.description == rule.check.__doc__.strip().splitlines()[0]
        assert rule.enforcement in ("mandatory", "advisory")


def test_every_policy_has_a_table_case():
    covered = set()
    for module in TABLES:
        covered |= {c.policy for c in getattr(importlib.import_module(f"tests.{module}"), "CASES", [])}
    assert {r.name for r in RULES} <= covered


@pytest.mark.parametrize("target, path", [
    ("Namespace/ai-qtrd", ("metadata", "labels", "pod-security.kubernetes.io/enforce")),
    ("Deployment/ai-qtrd-web", ("metadata", "namespace")),
    ("Deployment/ai-qtrd-web", ctr("Deployment/ai-qtrd-web", 0, "env", 0, "valueFrom", "secretKeyRef", "name")),
    ("Deployment/ai-qtrd-web", ctr("Deployment/ai-qtrd-web", 0, "image")),
    ("Deployment/ai-qtrd-web", ctr("Deployment/ai-qtrd-web", 0, "resources", "limits", "cpu")),
    ("Deployment/ai-qtrd-web", pod("Deployment/ai-qtrd-web", "nodeSelector", "kubernetes.io/hostname")),
    ("Deployment/ai-qtrd-web", pod("Deployment/ai-qtrd-web", "automountServiceAccountToken")),
    ("Deployment/ai-qtrd-api", ctr("Deployment/ai-qtrd-api", 0, "securityContext", "allowPrivilegeEscalation")),
    ("Deployment/ai-qtrd-web", ctr("Deployment/ai-qtrd-web", 0, "ports", 0, "hostPort")),
    ("Secret/ai-qtrd-secrets", ("stringData",)),
    ("Secret/ai-qtrd-secrets", ("metadata", "namespace")),
    ("Service/ai-qtrd-api", ("metadata", "namespace")),
    ("Service/ai-qtrd-api", ("metadata", "labels")),
    ("Service/ai-qtrd-web", ("spec", "selector", "app")),
    ("Service/ai-qtrd-web", ("spec", "ports", 0, "targetPort")),
    ("IngressRoute/gushen-web-https", ("spec", "routes", 0, "services", 0, "name")),
    ("IngressRoute/gushen-web-http", ("spec", "routes", 0, "middlewares", 0, "name")),
    ("IngressRoute/gushen-web-https", ("spec", "tls", "secretName")),
    ("IngressRoute/gushen-web-https", ("spec", "tls")),
    ("HorizontalPodAutoscaler/ai-qtrd-web", ("spec", "maxReplicas")),
])
def test_unknown_values_during_preview_are_not_violations(target, path):
    """A value computed from another resource is unknown in preview: no policy may guess."""
    assert [v.line for v in evaluate(objects(mutate(manifests(), target, path, UNKNOWN)), prod_settings())] == []


def test_findings_in_rule_order_then_object_order_at_their_levels():
    """``remediate`` reports as mandatory (the pack fixes nothing); a disabled policy reports nothing."""
    web, api, hpa = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "HorizontalPodAutoscaler/ai-qtrd-web"
    docs = mutate(manifests(), api, ctr(api, 0, "image"), "lurus-ai-qtrd")
    docs = mutate(docs, web, ctr(web, 0, "image"), "gushen-web")
    docs = mutate(docs, web, ctr(web, 0, "livenessProbe"), None)
    docs = mutate(docs, web, pod(web, "automountServiceAccountToken"), True)
    docs = mutate(docs, hpa, ("spec", "maxReplicas"), 4)
    config = {"image-tag-pinned": "remediate", "health-probes": "advisory", "no-service-account-token": "disabled"}
    assert [(v.enforcement, v.policy, v.name) for v in evaluate(objects(docs), prod_settings(config))] == [
        ("mandatory", "image-tag-pinned", "ai-qtrd-web"),
        ("mandatory", "image-tag-pinned", "ai-qtrd-api"),
        ("advisory", "health-probes", "ai-qtrd-web"),
        ("mandatory", "node-capacity", "cloud-ubuntu-3-2c2g"),
    ]


def test_a_stack_with_only_a_namespace_reports_nothing():
    """No Services, routes or workloads: every stack policy has nothing to look at (and does not fail)."""
    assert [v.line for v in evaluate(objects(manifests()[:1]), prod_settings())] == []


def test_findings_carry_the_urn_and_file_of_the_object():
    """The pack reports on the engine's URN; ``policies.check`` names the file a finding is in."""
    web, hpa = "Deployment/ai-qtrd-web", "HorizontalPodAutoscaler/ai-qtrd-web"
    docs = mutate(mutate(manifests(), web, ctr(web, 0, "image"), "gushen-web"), hpa, ("spec", "maxReplicas"), 4)
    docs = mutate(docs, web, ctr(web, 0, "env", 0, "valueFrom", "secretKeyRef", "name"), "missing")
    found = objects(docs)
    for obj in found:
        obj.urn, obj.source = f"urn:{obj.kind}/{obj.name}", f"{obj.name}.yaml"
    assert [(v.policy, v.urn, v.source) for v in evaluate(found, prod_settings())] == [
        ("image-tag-pinned", "urn:Deployment/ai-qtrd-web", "ai-qtrd-web.yaml"),
        ("config-references", "urn:Deployment/ai-qtrd-web", "ai-qtrd-web.yaml"),
        ("node-capacity", "", ""),  # a node is no object of the stack
    ]
