"""policies/stack.py: selector lookups are indexed by namespace, so many environments of one app stay linear."""

from __future__ import annotations

from typing import Optional

from policies.base import UNKNOWN, Obj
from policies.stack import Stack

LABELS = {"app": "api", "app.kubernetes.io/name": "api"}


def deployment(namespace: Optional[str], name: str = "api", labels: Optional[dict] = None) -> Obj:
    manifest = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": UNKNOWN if namespace is None else namespace},
        "spec": {"template": {"metadata": {"labels": labels or LABELS}, "spec": {"containers": []}}},
    }
    obj = Obj.from_manifest(manifest)
    assert obj is not None
    return obj


def refs(objs: list[Obj]) -> list[tuple[Optional[str], str]]:
    return [(o.namespace, o.name) for o in objs]


def test_same_labels_in_many_namespaces_select_only_their_own():
    stack = Stack([deployment(f"env-{i}") for i in range(50)])
    assert refs(stack.selected("env-7", LABELS)) == [("env-7", "api")]
    assert stack.selected("env-50", LABELS) == []


def test_every_pair_of_the_selector_must_match():
    stack = Stack([deployment("a"), deployment("a", "web", {"app": "web", "app.kubernetes.io/name": "api"})])
    assert refs(stack.selected("a", {"app.kubernetes.io/name": "api"})) == [("a", "api"), ("a", "web")]
    assert refs(stack.selected("a", {"app.kubernetes.io/name": "api", "app": "web"})) == [("a", "web")]
    assert stack.selected("a", {}) == []


def test_unknown_namespaces_match_any_during_preview():
    unknown = deployment(None, "pending")
    stack = Stack([deployment("a"), deployment("b"), unknown])
    # a Service in a known namespace may select a workload whose namespace is not known yet
    assert refs(stack.selected("a", LABELS)) == [("a", "api"), (None, "pending")]
    # a Service whose namespace is unknown may select any of them
    assert len(stack.selected(None, LABELS)) == 3
