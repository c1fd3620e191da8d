"""A model of ``pulumi up`` on an empty namespace: when is every workload ready, and why then.

Input is what the mocks recorded (:class:`gushen_infra.render.Recorded`): each resource's
URN, parent and the URNs it waits for. The engine starts a resource once everything it
depends on is done (a dependency on a component means all of the component's resources).
How long a resource takes to be "done" follows pulumi-kubernetes' await logic:

- Deployment: created, then every replica Ready (pods start in parallel) plus ``minReadySeconds``;
- StatefulSet: the same, but pods one after another unless ``podManagementPolicy: Parallel``;
- DaemonSet: one pod per node, in parallel; a bare Pod: that pod;
- Job: its pod started, plus ``Timing.job_run_s`` (how long it runs is not in the manifest);
- Service with a selector (not headless, not ExternalName): Ready once every pod it selects is
  Ready, plus the 10 s the awaiter waits for straggling endpoints;
- anything else (Secrets, ConfigMaps, custom resources, PDBs, ...): the API call only
  (pulumi-kubernetes awaits custom resources only with ``PULUMI_K8S_AWAIT_ALL``);
- providers, random passwords and components: no time of their own.

A pod is Ready when its init containers have run and each container's readiness probe has
passed ``successThreshold`` times (after its startup probe passed, if it has one). The kubelet
probes on a fixed tick of ``periodSeconds`` that starts with the pod, so the first probe after
``initialDelaySeconds`` comes on average half a period later (``Timing.probe_phase``). The
model assumes every probe succeeds the first time it may: the expected time, not a worst case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from gushen_infra.render import Recorded, is_kubernetes_object, plain

WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
#: Kubernetes' probe defaults.
PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
SKIP_AWAIT = "pulumi.com/skipAwait"


@dataclass(frozen=True)
class Timing:
    """The cluster's own latencies, which the manifests do not say."""

    api_s: float = 1.0
    """One create call and Pulumi's bookkeeping, for an object with nothing to wait for."""
    pod_start_s: float = 3.0
    """Schedule the pod, create its sandbox and start its containers (images already on the node)."""
    init_container_s: float = 2.0
    """Each init container, run to completion."""
    service_settle_s: float = 10.0
    """pulumi-kubernetes' Service awaiter waits this long after an endpoints update for stragglers."""
    probe_phase: float = 0.5
    """Fraction of ``periodSeconds`` between ``initialDelaySeconds`` and the first probe (0.5: expected)."""
    job_run_s: float = 0.0
    """How long a Job's pod runs to completion (pulumi-kubernetes waits for it)."""
    nodes: int = 3
    """Nodes a DaemonSet runs on (reported only: its pods start in parallel)."""


@dataclass
class Step:
    """One resource in the modeled ``pulumi up``."""

    urn: str
    kind: str
    name: str
    start: float = 0.0
    done: float = 0.0
    after: Optional[str] = None
    """URN of what decided this step's timing: the last dependency done, or the pods a Service waited on."""
    why: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Plan:
    steps: dict[str, Step]
    workloads_ready_s: float
    """When the last Deployment/StatefulSet/DaemonSet is Ready."""
    done_s: float
    """When ``pulumi up`` finishes (every resource done, Service awaits included)."""
    chain: list[Step]
    """The critical chain that decides ``workloads_ready_s``, first step first."""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workloads_ready_s": round(self.workloads_ready_s, 1),
            "pulumi_up_done_s": round(self.done_s, 1),
            "chain": [
                {"resource": s.label, "start_s": round(s.start, 1), "done_s": round(s.done, 1), "why": s.why}
                for s in self.chain
            ],
            "warnings": self.warnings,
        }


# --- pods --------------------------------------------------------------------------------------


def _probe(probe: Any) -> Optional[dict[str, float]]:
    if not isinstance(probe, Mapping):
        return None
    return {k: float(probe[k] if probe.get(k) is not None else default) for k, default in PROBE_DEFAULTS.items()}


def _passes(probe: dict[str, float], not_before: float, timing: Timing) -> float:
    """Seconds after container start when ``probe`` has passed ``successThreshold`` times."""
    first = max(probe["initialDelaySeconds"], not_before) + timing.probe_phase * probe["periodSeconds"]
    return first + (max(probe["successThreshold"], 1) - 1) * probe["periodSeconds"]


def container_ready_s(container: Mapping[str, Any], timing: Timing = Timing()) -> float:
    """Seconds from container start to Ready: startup probe, then readiness probe (if any)."""
    started = 0.0
    startup = _probe(container.get("startupProbe"))
    if startup is not None:
        started = _passes(startup, 0.0, timing)
    readiness = _probe(container.get("readinessProbe"))
    return started if readiness is None else _passes(readiness, started, timing)


def pod_ready_s(pod_spec: Mapping[str, Any], timing: Timing = Timing()) -> float:
    """Seconds from pod creation to Ready."""
    init = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") != "Always"]
    sidecars = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    running = [*sidecars, *(pod_spec.get("containers") or [])]
    ready = max((container_ready_s(c, timing) for c in running), default=0.0)
    return timing.pod_start_s + len(init) * timing.init_container_s + ready


def workload_ready_s(manifest: Mapping[str, Any], timing: Timing = Timing()) -> tuple[float, str]:
    """Seconds from the workload's creation to all its pods Ready, and how that adds up."""
    kind = manifest["kind"]
    spec = manifest.get("spec") or {}
    pod = pod_ready_s((spec.get("template") or {}).get("spec") or {}, timing)
    min_ready = float(spec.get("minReadySeconds") or 0)
    replicas = int(spec.get("replicas", 1) if kind != "DaemonSet" else timing.nodes)
    if replicas == 0:
        return 0.0, "0 replicas"
    if kind == "StatefulSet" and spec.get("podManagementPolicy", "OrderedReady") != "Parallel":
        return replicas * (pod + min_ready), f"{replicas} pods one by one, {pod + min_ready:.1f}s each (OrderedReady)"
    return pod + min_ready, f"{replicas} pod(s) in parallel, {pod + min_ready:.1f}s to Ready"


# --- the graph ---------------------------------------------------------------------------------


def _namespace(manifest: Mapping[str, Any]) -> str:
    return manifest["metadata"].get("namespace") or ""


def _selects(service: Mapping[str, Any], workload: Mapping[str, Any]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    labels = ((((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _awaits_pods(service: Mapping[str, Any]) -> bool:
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName"


def model(resources: Iterable[Recorded], timing: Timing = Timing()) -> Plan:
    """The modeled ``pulumi up`` of ``resources`` on an empty namespace (unbounded ``--parallel``, the CLI default)."""
    recs = {r.urn: r for r in resources}
    children: dict[str, list[str]] = defaultdict(list)
    for r in recs.values():
        if r.parent in recs:
            children[r.parent].append(r.urn)
    manifests = {u: plain(r.inputs) for u, r in recs.items() if is_kubernetes_object(r)}
    workloads = [u for u, m in manifests.items() if m["kind"] in WORKLOADS]
    by_namespace: dict[str, list[str]] = defaultdict(list)
    for u in workloads:
        by_namespace[_namespace(manifests[u])].append(u)
    steps: dict[str, Step] = {}
    warnings: list[str] = []
    visiting: set[str] = set()

    def leaves(urn: str) -> list[str]:
        """A dependency on a component waits for everything under it."""
        kids = children.get(urn)
        return [urn] if not kids else [leaf for k in kids for leaf in leaves(k)]

    def step(urn: str) -> Step:
        if urn in steps:
            return steps[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}: pulumi up would wait until its timeout")
        visiting.add(urn)
        rec = recs[urn]
        m = manifests.get(urn)
        s = Step(urn, m["kind"] if m else rec.type, (m or {}).get("metadata", {}).get("name") or rec.name)
        for dep in rec.dependencies:
            for leaf in leaves(dep) if dep in recs else []:
                d = step(leaf)
                if d.done > s.start or s.after is None:
                    s.start, s.after = max(s.start, d.done), leaf
        s.done, s.why = s.start, "no operation of its own"
        if m is not None:
            s.done, s.why = s.start + timing.api_s, "created (nothing to await)"
            annotations = m["metadata"].get("annotations") or {}
            if str(annotations.get(SKIP_AWAIT, "")).lower() == "true":
                s.why = "created (skipAwait)"
            elif m["kind"] in WORKLOADS:
                ready, why = workload_ready_s(m, timing)
                s.done, s.why = s.done + ready, f"created, then {why}"
            elif m["kind"] == "Pod":
                s.done, s.why = s.done + pod_ready_s(m.get("spec") or {}, timing), "created, then its pod Ready"
            elif m["kind"] == "Job":
                template = ((m.get("spec") or {}).get("template") or {}).get("spec") or {}
                init = [c for c in template.get("initContainers") or [] if c.get("restartPolicy") != "Always"]
                s.done += timing.pod_start_s + len(init) * timing.init_container_s + timing.job_run_s
                s.why = f"created, then its pod run ({timing.job_run_s:g}s assumed)"
            elif m["kind"] == "Service" and _awaits_pods(m):
                selected = [w for w in by_namespace[_namespace(m)] if _selects(m, manifests[w])]
                if not selected:
                    warnings.append(f"{s.label} selects no workload of the stack: its await would time out")
                for w in selected:
                    if step(w).done > s.done:
                        s.done, s.after = step(w).done, w
                s.done += timing.service_settle_s
                s.why = f"endpoints Ready, then {timing.service_settle_s:g}s settle"
        visiting.discard(urn)
        steps[urn] = s
        return s

    for urn in recs:
        step(urn)
    ready = [steps[u] for u in workloads]
    last = max(ready, key=lambda s: s.done, default=None)
    chain: list[Step] = []
    cursor = last
    while cursor is not None:
        chain.append(cursor)
        cursor = steps.get(cursor.after) if cursor.after else None
    chain.reverse()
    return Plan(
        steps=steps,
        workloads_ready_s=last.done if last else 0.0,
        done_s=max((s.done for s in steps.values()), default=0.0),
        chain=[s for s in chain if s.urn in manifests],
        warnings=warnings,
    )
