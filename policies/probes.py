"""Health checks (spec 9.2): long-running containers have liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get
from .workloads import KINDS, containers, long_running, pod_spec


def check_health_probes(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Long-running containers define liveness and readiness probes (Jobs, CronJobs and init containers need none)."""
    if not long_running(obj):
        return
    exempt = set(cfg["exemptContainers"])
    for c in containers(pod_spec(obj)):
        if c.init or c.name in exempt:
            continue
        missing = [p for p in ("livenessProbe", "readinessProbe") if get(c.body, p) is None]
        if missing:
            yield f"{c.label} has no {' or '.join(missing)}"


RULES = [Rule("health-probes", check_health_probes, keys=("exemptContainers",), kinds=KINDS)]
