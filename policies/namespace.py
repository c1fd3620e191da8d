"""Namespaces (spec 16.3) carry the Pod Security Standards labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, is_unknown, show

LEVELS = ("privileged", "baseline", "restricted")
PREFIX = "pod-security.kubernetes.io/"


def check_namespace_pod_security(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Namespaces set the Pod Security Standards enforce, audit and warn labels at the configured levels or stricter."""
    if is_unknown(get(obj.body, "metadata", "labels")):
        return  # unknown during preview (or the whole metadata is)
    for mode, minimum in cfg["podSecurity"].items():
        label = PREFIX + mode
        value = obj.labels.get(label)
        if is_unknown(value):
            continue
        if value not in LEVELS:
            yield f"label {label} is {show(value)}, want {minimum} or stricter"
        elif LEVELS.index(value) < LEVELS.index(minimum):
            yield f"label {label} is {show(value)}, weaker than {minimum}"


RULES = [
    Rule(
        "namespace-pod-security", check_namespace_pod_security,
        keys=("podSecurity",), kinds=frozenset({"Namespace"}),
    ),
]
