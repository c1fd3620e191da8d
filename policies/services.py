"""Services (spec 11.2): ClusterIP only, and each one reaches a port some pod really serves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, is_unknown, items, show
from .stack import Stack
from .workloads import containers, pod_spec

EXPOSED_TYPES = ("NodePort", "LoadBalancer")


def check_service_cluster_ip(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Services are ClusterIP (no NodePort, LoadBalancer or external IPs): Traefik is the only way in."""
    kind = obj.spec.get("type")
    if kind in EXPOSED_TYPES:
        yield f"type {kind} exposes the Service outside the cluster; use ClusterIP behind Traefik"
    if items(obj.spec.get("externalIPs")):
        yield "externalIPs expose the Service outside the cluster"


def _ports(workload: Obj) -> tuple[set[str], set[int]]:
    names: set[str] = set()
    numbers: set[int] = set()
    for c in containers(pod_spec(workload)):
        if c.init and not c.sidecar:
            continue
        for port in items(get(c.body, "ports")):
            if isinstance(get(port, "name"), str):
                names.add(port["name"])
            if isinstance(get(port, "containerPort"), int):
                numbers.add(port["containerPort"])
    return names, numbers


def check_service_endpoints(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[Obj, str]]:
    """Every Service selector matches some workload's pod labels, and its targetPorts exist on those pods."""
    runtime = set(cfg["runtimeLabels"])
    for svc in stack.by_kind.get("Service", []):
        selector = svc.spec.get("selector")
        if svc.spec.get("type") == "ExternalName" or not isinstance(selector, Mapping):
            continue  # no selector: its endpoints are managed by hand or by a controller
        if any(not isinstance(v, str) for v in selector.values()):
            continue  # unknown during preview
        wanted = {k: v for k, v in selector.items() if k not in runtime}
        matched = stack.selected(svc.namespace, wanted)  # none for an empty selector
        if wanted and not matched:
            yield svc, f"selector {_labels(selector)} matches no workload's pod labels"
            continue
        ports = {w.ref: _ports(w) for w in matched}
        for port in items(svc.spec.get("ports")):
            target = get(port, "targetPort")
            target = get(port, "port") if target is None else target
            if is_unknown(target) or target is None:
                continue
            for ref, (names, numbers) in ports.items():
                if target not in (names if isinstance(target, str) else numbers):
                    yield svc, f"targetPort {show(target)} of port {show(get(port, 'port'))} is not a container port of {ref}"


def _labels(selector: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in selector.items())


RULES = [
    Rule("service-cluster-ip", check_service_cluster_ip, kinds=frozenset({"Service"})),
    Rule("service-endpoints", check_service_endpoints, stack=True, keys=("runtimeLabels",)),
]
