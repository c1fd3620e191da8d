"""Node pinning (spec 8.2): each tier on its node, and no workload left to chance."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, is_unknown, show
from .workloads import COMPONENT, HOSTNAME, KINDS, component, placement, pod_spec


def check_node_placement(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Web pods pinned to the web node, API pods with affinity to the API node, data pods on the data node."""
    nodes = cfg["nodes"]
    tier = component(obj)
    where = placement(pod_spec(obj))
    if where.unknown:
        return
    if is_unknown(tier):
        # Where the pods belong depends on the component, unknown until `pulumi up`; but no tier
        # accepts pods placed nowhere, so that is reported whatever the label turns out to be.
        if obj.kind != "DaemonSet" and not where.constrained:
            yield f"pods have no placement (nodeSelector, nodeName or node affinity), whatever their {COMPONENT} label turns out to be"
        return
    if tier == "web":
        if where.selector_node != nodes["web"]:
            yield f"web pods must set nodeSelector {HOSTNAME}={nodes['web']} (got {show(where.selector_node) if where.selector_node else 'none'})"
    elif tier == "api":
        api = nodes["api"]
        allowed = where.required is None or api in where.required
        if not allowed or not (api in where.preferred or where.required == {api}):
            yield f"API pods need node affinity (preferred or required) to {api}"
    elif tier in cfg["dataComponents"]:
        if where.pinned != nodes["data"]:
            pinned = f"pinned to {where.pinned}" if where.pinned else "not pinned to one node"
            yield f"{tier} pods must be pinned (nodeSelector or required affinity) to {nodes['data']} ({pinned})"
    elif obj.kind != "DaemonSet" and not where.constrained:
        # A DaemonSet places itself (one pod per node); anything else must say where it runs.
        what = f"pods of component {tier!r}" if tier else f"pods with no {COMPONENT} label"
        yield f"{what} have no placement (nodeSelector, nodeName or node affinity)"


RULES = [Rule("node-placement", check_node_placement, keys=("nodes", "dataComponents"), kinds=KINDS)]
