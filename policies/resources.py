"""Container requests and limits (spec 8.1): present, request ≤ limit, limits within the caps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, as_quantity, fmt_cpu, fmt_memory, get, is_unknown, show
from .quantity import QuantityError
from .workloads import KINDS, component, containers, pod_spec

RESOURCES = ("cpu", "memory")
_FMT = {"cpu": fmt_cpu, "memory": fmt_memory}


def check_container_resources(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Every container sets CPU and memory requests and limits, with each request at most its limit."""
    for c in containers(pod_spec(obj)):
        # Unknown resources (preview) need no check of their own: ``get`` reads every field of
        # them as unknown, and an unknown quantity is neither missing nor compared.
        res = get(c.body, "resources")
        for resource in RESOURCES:
            parsed = {}
            for kind in ("requests", "limits"):
                raw = get(res, kind, resource)
                if raw is None:
                    yield f"{c.label} sets no {kind}.{resource}"
                    continue
                try:
                    parsed[kind] = as_quantity(raw)
                except QuantityError:
                    yield f"{c.label} {kind}.{resource} {show(raw)} is not a quantity"
            req, lim = parsed.get("requests"), parsed.get("limits")
            if req is not None and lim is not None and not is_unknown(req) and not is_unknown(lim) and req > lim:
                yield (
                    f"{c.label} requests {resource} {show(get(res, 'requests', resource))} "
                    f"above its limit {show(get(res, 'limits', resource))}"
                )


def check_resource_caps(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Container limits stay within the cap of the workload's component (spec 8.1 quotas)."""
    tier = component(obj)
    if is_unknown(tier):
        return  # which cap applies is known at `pulumi up`
    cap = cfg["caps"].get(tier)
    cap_name = f"component {tier!r}" if cap else "the default cap"
    cap = cap or cfg["defaultCap"]
    for c in containers(pod_spec(obj)):
        for resource in RESOURCES:
            try:
                limit = as_quantity(get(c.body, "resources", "limits", resource))
            except QuantityError:
                continue  # container-resources reports it
            if limit is None or is_unknown(limit):
                continue
            top = as_quantity(cap[resource])
            if limit > top:
                fmt = _FMT[resource]
                yield f"{c.label} limits {resource} to {fmt(limit)}, above {fmt(top)} allowed for {cap_name}"


RULES = [
    Rule("container-resources", check_container_resources, kinds=KINDS),
    Rule("resource-caps", check_resource_caps, keys=("caps", "defaultCap"), kinds=KINDS),
]
