"""Node capacity (spec 2.1, 8.1, 12.1): at the worst moment, the pods pinned to a node fit on it.

The worst moment is every workload at its maximum replica count (the HPA's ``maxReplicas``
where one scales it) in the middle of a rolling update (``maxSurge`` extra pods for a
Deployment; a StatefulSet replaces pods one by one, so none). Each pod counts with its
limits: its containers' sum, or its largest init container if that is larger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import Any, Optional

from .base import Obj, Rule, as_quantity, fmt_cpu, fmt_memory
from .stack import Stack
from .workloads import Known, placement, pod_limits, pod_spec, replicas, surge

_FMT = {"cpu": fmt_cpu, "memory": fmt_memory}


def _target_nodes(workload: Obj, spec: Optional[Known], cfg: Mapping[str, Any]) -> list[str]:
    where = placement(spec)
    if where.unknown:
        return []
    if workload.kind == "DaemonSet":
        # One pod on every node it may run on.
        return sorted(where.required) if where.required is not None else sorted(cfg["allocatable"])
    if where.pinned:
        return [where.pinned]
    if cfg["includePreferred"] and where.required is None and len(where.preferred) == 1:
        return list(where.preferred)
    return []


def _pods(stack: Stack, workload: Obj) -> int:
    top: Optional[int] = stack.max_replicas(workload)
    count = top if top is not None else replicas(workload)
    return count + surge(workload, count)


def check_node_capacity(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[Obj, str]]:
    """Per pinned node, the pod limits at maximum replicas plus rolling-update surge fit the node's allocatable CPU and memory."""
    totals: dict[str, dict[str, Fraction]] = defaultdict(lambda: {"cpu": Fraction(0), "memory": Fraction(0)})
    parts: dict[str, list[str]] = defaultdict(list)
    for workload in stack.workloads:
        spec = pod_spec(workload)
        nodes = _target_nodes(workload, spec, cfg)
        if not nodes:
            continue
        pods = _pods(stack, workload)
        limits = pod_limits(spec)
        for node in nodes:
            for resource in ("cpu", "memory"):
                totals[node][resource] += pods * limits[resource]
            parts[node].append(
                f"{workload.ref} {pods}x({fmt_cpu(limits['cpu'])}, {fmt_memory(limits['memory'])})"
            )
    for node in sorted(totals):
        target = Obj.synthetic("Node", node)
        capacity = cfg["allocatable"].get(node)
        if capacity is None:
            yield target, (
                f"no allocatable capacity configured for this node (pinned by {', '.join(parts[node])}); "
                "add it to allocatable"
            )
            continue
        for resource in ("cpu", "memory"):
            have = as_quantity(capacity[resource])
            need = totals[node][resource]
            if need > have:
                fmt = _FMT[resource]
                yield target, (
                    f"worst-case {resource} limits {fmt(need)} exceed allocatable {fmt(have)}: "
                    + ", ".join(parts[node])
                )


RULES = [
    Rule("node-capacity", check_node_capacity, stack=True, keys=("allocatable", "includePreferred")),
]
