"""Services (spec 11.2): ClusterIP only, and each one reaches a port some pod really serves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .base import Obj, Rule, get, is_unknown, items, show
from .stack import Stack
from .workloads import containers, containers_unknown, pod_spec

EXPOSED_TYPES = ("NodePort", "LoadBalancer")


def check_service_cluster_ip(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Services are ClusterIP (no NodePort, LoadBalancer or external IPs): Traefik is the only way in."""
    kind = obj.spec.get("type")
    if kind in EXPOSED_TYPES:
        yield f"type {kind} exposes the Service outside the cluster; use ClusterIP behind Traefik"
    if items(obj.spec.get("externalIPs")):
        yield "externalIPs expose the Service outside the cluster"


def _ports(workload: Obj) -> Optional[tuple[set[str], set[int]]]:
    """Port names and numbers the workload's pods serve; ``None`` where preview leaves one unknown."""
    spec = pod_spec(workload)
    if containers_unknown(spec):
        return None
    names: set[str] = set()
    numbers: set[int] = set()
    for c in containers(spec):
        if c.init and not c.sidecar and not is_unknown(c.body.get("restartPolicy")):
            continue  # it exits before the pod serves (one whose restartPolicy is unknown may be a sidecar)
        ports = get(c.body, "ports")
        if is_unknown(ports):
            return None
        for port in items(ports):
            name, number = get(port, "name"), get(port, "containerPort")
            if is_unknown(name) or is_unknown(number):
                return None
            if isinstance(name, str):
                names.add(name)
            if isinstance(number, int):
                numbers.add(number)
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
            if not stack.maybe_selected(svc.namespace, wanted):
                yield svc, f"selector {_labels(selector)} matches no workload's pod labels"
            continue
        ports = {w.ref: served for w in matched if (served := _ports(w)) is not None}
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
