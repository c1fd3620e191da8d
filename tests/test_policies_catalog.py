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
