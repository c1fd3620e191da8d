"""Findings speak YAML, not Python: no ``None``, ``True`` or ``False`` in any message of any table case."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from policies.catalog import evaluate

from .policy_baseline import DELETE, case_lines, lines, manifests, mutate, objects, pod, prod_settings

PYTHON_WORDS = re.compile(r"\b(None|True|False)\b")
WEB, SA, JOB = "Deployment/ai-qtrd-web", "ServiceAccount/ai-qtrd", "Job/db-migrate"
TABLES = sorted(p.stem for p in Path(__file__).parent.glob("test_policies_*.py"))


def _cases():
    for module in TABLES:
        yield from getattr(importlib.import_module(f"tests.{module}"), "CASES", [])


def test_no_table_case_shows_a_python_value():
    shown = []
    for case in _cases():
        shown += [line for line in case_lines(case) if PYTHON_WORDS.search(line)]
    assert shown == []


@pytest.mark.parametrize("target, path, value, want", [
    (WEB, pod(WEB, "automountServiceAccountToken"), DELETE,
     "automountServiceAccountToken is unset (defaults to true), must be false"),
    (WEB, pod(WEB, "automountServiceAccountToken"), True, "automountServiceAccountToken is true, must be false"),
    (SA, ("automountServiceAccountToken",), DELETE,
     "automountServiceAccountToken is unset (defaults to true), must be false"),
    (WEB, pod(WEB, "nodeSelector"), DELETE, "(got none)"),
    (WEB, pod(WEB, "containers", 0, "imagePullPolicy"), DELETE, "imagePullPolicy is unset (defaults to"),
])
def test_message_words(target, path, value, want):
    found = lines([(target, path, value)])
    assert any(want in line for line in found), found


def test_a_pod_without_component_label_is_named_so():
    docs = mutate(manifests(), JOB, pod(JOB, "nodeSelector"), DELETE)
    docs = mutate(docs, JOB, ("spec", "template", "metadata", "labels"), {"app.kubernetes.io/name": "db-migrate"})
    assert [v.message for v in evaluate(objects(docs), prod_settings()) if v.policy == "node-placement"] == [
        "pods with no app.kubernetes.io/component label have no placement (nodeSelector, nodeName or node affinity)"
    ]
