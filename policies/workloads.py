"""Pod specs out of every workload kind, and what the policies ask of them.

Deployment, StatefulSet, DaemonSet, Job, ReplicaSet, ReplicationController (``spec.template``),
CronJob (``spec.jobTemplate.spec.template``) and bare Pods (``spec``).

During preview any of these may be unknown (computed from another resource): the readers below
then return ``UNKNOWN`` (``get`` reads every field of it as unknown, and it has no containers),
so the rules skip what they cannot know, and ``pulumi up`` still checks it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional, Union

from .base import Obj, Unknown, as_quantity, get, is_unknown, items, mapping

HOSTNAME = "kubernetes.io/hostname"
COMPONENT = "app.kubernetes.io/component"
TEMPLATED = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController"})
KINDS = TEMPLATED | {"CronJob", "Pod"}
#: Workloads whose pods run to completion: no probes expected, no rolling update.
BATCH = frozenset({"Job", "CronJob"})


Known = Union[Mapping[str, Any], Unknown]
"""An object of the manifest, or ``UNKNOWN`` where preview does not know it yet."""


def _object(value: Any) -> Known:
    return value if is_unknown(value) else mapping(value)


def template(obj: Obj) -> Optional[Known]:
    """The pod template (``{"metadata", "spec"}``) of a workload, ``None`` for other kinds."""
    if obj.kind in TEMPLATED:
        return _object(get(obj.body, "spec", "template"))
    if obj.kind == "CronJob":
        return _object(get(obj.body, "spec", "jobTemplate", "spec", "template"))
    if obj.kind == "Pod":
        return obj.body
    return None


def pod_spec(obj: Obj) -> Optional[Known]:
    tpl = template(obj)
    return None if tpl is None else _object(get(tpl, "spec"))


def pod_labels(obj: Obj) -> Known:
    return _object(get(template(obj), "metadata", "labels"))


def component(obj: Obj) -> Union[str, None, Unknown]:
    value = get(pod_labels(obj), COMPONENT)
    return value if isinstance(value, str) or is_unknown(value) else None


@dataclass(frozen=True)
class Container:
    body: Mapping[str, Any]
    init: bool

    @property
    def name(self) -> str:
        name = self.body.get("name")
        return name if isinstance(name, str) else "?"

    @property
    def label(self) -> str:
        return f"{'init container' if self.init else 'container'} {self.name!r}"

    @property
    def sidecar(self) -> bool:
        """A native sidecar: an init container that keeps running beside the app."""
        return self.init and self.body.get("restartPolicy") == "Always"


def containers(spec: Optional[Known]) -> Iterator[Container]:
    """Init containers first, then containers (what runs in the pod, in start order)."""
    for body in items(get(spec, "initContainers")):
        if isinstance(body, Mapping):
            yield Container(body, True)
    for body in items(get(spec, "containers")):
        if isinstance(body, Mapping):
            yield Container(body, False)


def containers_unknown(spec: Optional[Known]) -> bool:
    """Whether preview leaves some container unknown (the spec, a container list or an entry of one).

    What the pod as a whole serves is then not known: a rule about all its containers together
    must skip it, where a rule about each container skips only the unknown ones.
    """
    lists = (get(spec, "initContainers"), get(spec, "containers"))  # both UNKNOWN for an unknown spec
    return any(is_unknown(v) or any(map(is_unknown, items(v))) for v in lists)


def long_running(obj: Obj) -> bool:
    """Pods that serve until stopped (probes make sense), not run-to-completion ones."""
    if obj.kind in BATCH:
        return False
    if obj.kind == "Pod":
        return get(obj.body, "spec", "restartPolicy") in (None, "Always")
    return True


# --- placement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    required: Optional[frozenset[str]]
    """Host names the pod may run on (``None``: not restricted by host name)."""
    preferred: frozenset[str]
    """Host names named by preferred node affinity."""
    selector_node: Optional[str]
    """The host name of ``nodeSelector`` (what the spec uses to pin the web tier)."""
    constrained: bool
    """Any placement at all: nodeSelector, nodeName or node affinity."""
    unknown: bool = False
    """Some placement value is computed and unknown during preview: nothing can be concluded."""

    @property
    def pinned(self) -> Optional[str]:
        """The single node the pod must run on, if its hard constraints name exactly one."""
        return next(iter(self.required)) if self.required is not None and len(self.required) == 1 else None


def _hostnames(term: Any) -> Optional[frozenset[str]]:
    """Host names a node selector term allows (``None``: the term does not restrict them)."""
    allowed: Optional[frozenset[str]] = None
    for expr in items(get(term, "matchExpressions")):
        if get(expr, "key") == HOSTNAME and get(expr, "operator") == "In":
            values = frozenset(v for v in items(get(expr, "values")) if isinstance(v, str))
            allowed = values if allowed is None else allowed & values
    return allowed


def placement(spec: Optional[Known]) -> Placement:
    if is_unknown(spec):
        return Placement(None, frozenset(), None, False, unknown=True)
    spec = spec or {}
    selector = mapping(spec.get("nodeSelector"))
    node_affinity = mapping(get(spec, "affinity", "nodeAffinity"))
    required: Optional[frozenset[str]] = None

    def narrow(allowed: frozenset[str]) -> None:
        nonlocal required
        required = allowed if required is None else required & allowed

    selector_node = selector.get(HOSTNAME) if isinstance(selector.get(HOSTNAME), str) else None
    if selector_node:
        narrow(frozenset({selector_node}))
    if isinstance(spec.get("nodeName"), str) and spec["nodeName"]:
        narrow(frozenset({spec["nodeName"]}))
    terms = items(get(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"))
    if terms:
        # Terms are ORed: the pod is restricted by host name only if every term restricts it.
        per_term = [_hostnames(t) for t in terms]
        if all(t is not None for t in per_term):
            narrow(frozenset().union(*per_term))  # type: ignore[arg-type]
    preferred = frozenset().union(*(
        _hostnames(get(p, "preference")) or frozenset()
        for p in items(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
    ))
    constrained = bool(selector) or bool(spec.get("nodeName")) or bool(node_affinity)
    unknown = any(_has_unknown(spec.get(f)) for f in ("nodeSelector", "nodeName", "affinity"))
    return Placement(required, preferred, selector_node, constrained, unknown)


def _has_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    return isinstance(value, list) and any(_has_unknown(v) for v in value)


# --- sizing ------------------------------------------------------------------------------------


def replicas(obj: Obj) -> int:
    """Pods the workload asks for (a Job's parallelism; one per node for a DaemonSet)."""
    if obj.kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"):
        value = get(obj.body, "spec", "replicas")
    elif obj.kind == "Job":
        value = get(obj.body, "spec", "parallelism")
    elif obj.kind == "CronJob":
        value = get(obj.body, "spec", "jobTemplate", "spec", "parallelism")
    else:
        return 1
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _scaled(value: Any, base: int, default: int) -> int:
    """An int-or-percent rollout parameter (``maxSurge: 25%``), rounded up as Kubernetes does."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return math.ceil(int(value[:-1]) * base / 100)
    return default


def surge(obj: Obj, pods: int) -> int:
    """Extra pods a rolling update starts beside ``pods`` running ones (0 for StatefulSets)."""
    if obj.kind == "Deployment":
        strategy = mapping(get(obj.body, "spec", "strategy"))
        if strategy.get("type") == "Recreate":
            return 0
        return _scaled(get(strategy, "rollingUpdate", "maxSurge"), pods, math.ceil(pods / 4))
    if obj.kind == "DaemonSet":
        return 1 if _scaled(get(obj.body, "spec", "updateStrategy", "rollingUpdate", "maxSurge"), 1, 0) else 0
    return 0


def _limit(container: Container, resource: str) -> Fraction:
    try:
        value = as_quantity(get(container.body, "resources", "limits", resource))
    except ValueError:
        return Fraction(0)  # container-resources reports it
    return value if isinstance(value, Fraction) else Fraction(0)


def pod_limits(spec: Optional[Known]) -> dict[str, Fraction]:
    """The pod's effective limits: running containers (and sidecars) vs. the largest init container."""
    out = {}
    for resource in ("cpu", "memory"):
        running, init = Fraction(0), Fraction(0)
        for c in containers(spec):
            if c.init and not c.sidecar:
                init = max(init, _limit(c, resource))
            else:
                running += _limit(c, resource)
        out[resource] = max(running, init)
    return out
