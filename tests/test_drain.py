"""Can `kubectl drain` of each node complete? Computed from the rendered objects.

The model of Kubernetes (v1.30+ sources, kubernetes/kubernetes):

- pkg/controller/disruption/disruption.go: ``getExpectedPodCount`` scales ``maxUnavailable``
  against the controllers' replicas, rounding up, and ``desiredHealthy = expected - maxUnavailable``
  (``minAvailable`` gives ``desiredHealthy`` directly); ``countHealthyPods`` counts only Ready
  pods, so a Pending replacement is unhealthy; ``updatePdbStatus`` sets
  ``disruptionsAllowed = currentHealthy - desiredHealthy`` (at least 0).
- pkg/registry/core/pod/storage/eviction.go: an eviction is refused (429, kubectl drain retries
  forever) while ``disruptionsAllowed`` is 0, and refused outright when more than one budget
  selects the pod.

So a drain of node N evicts each budget's pods on N. A pod whose replacement can be scheduled on
another node comes back Ready and gives its disruption back; a pod that can run only on N stays
Pending for good. With k such pods, the j-th eviction needs ``allowed - (j - 1) >= 1``: the drain
completes iff k <= allowed (``expected - desiredHealthy``). The worst case is taken for every
workload: all its pods on N, the HPA at any count between its minimum and maximum. Node capacity
is not modelled (docs/autoscaling.md says where it matters).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import pytest

from gushen_infra import render
from gushen_infra.workload import HOSTNAME_LABEL

from .conftest import ROOT, Stack, run_stack
from .test_config import prod_raw

Json = dict[str, Any]
POD_OWNERS = ("Deployment", "StatefulSet", "Job", "CronJob")


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    labels: dict[str, str]
    counts: tuple[int, ...]
    """Every pod count it can run at (a range under an HPA)."""
    nodes: Optional[frozenset[str]]
    """The only nodes its pods may run on (``None``: any node)."""


def pod_template(manifest: Json) -> Json:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def allowed_nodes(pod_spec: Json) -> Optional[frozenset[str]]:
    """The hostnames a pod can be scheduled on, from nodeSelector and required node affinity."""
    allowed: Optional[set[str]] = None
    if HOSTNAME_LABEL in pod_spec.get("nodeSelector", {}):
        allowed = {pod_spec["nodeSelector"][HOSTNAME_LABEL]}
    required = pod_spec.get("affinity", {}).get("nodeAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    for term in (required or {}).get("nodeSelectorTerms", []):
        for expr in term.get("matchExpressions", []):
            assert expr["key"] == HOSTNAME_LABEL and expr["operator"] == "In", f"not modelled: {expr}"
            allowed = set(expr["values"]) if allowed is None else allowed & set(expr["values"])
    return None if allowed is None else frozenset(allowed)


def workloads(stack: Stack) -> list[Workload]:
    scalers = {m["spec"]["scaleTargetRef"]["name"]: m["spec"] for m in stack.all("HorizontalPodAutoscaler")}
    out = []
    for kind in POD_OWNERS:
        for manifest in stack.all(kind):
            name, template = manifest["metadata"]["name"], pod_template(manifest)
            if name in scalers:
                counts = tuple(range(scalers[name]["minReplicas"], scalers[name]["maxReplicas"] + 1))
            elif kind in ("Deployment", "StatefulSet"):
                counts = (manifest["spec"].get("replicas", 1),)
            else:
                counts = (1,)
            out.append(Workload(kind, name, template["metadata"]["labels"], counts, allowed_nodes(template["spec"])))
    return out


def allowed_disruptions(budget: Json, expected: int) -> int:
    """``expected - desiredHealthy`` of disruption.go, with every pod healthy before the drain."""
    def scaled(value: int | str) -> int:
        if isinstance(value, str):
            return math.ceil(int(value.rstrip("%")) * expected / 100)
        return value
    if "maxUnavailable" in budget:
        return min(scaled(budget["maxUnavailable"]), expected)
    return max(expected - scaled(budget["minAvailable"]), 0)


def blocked_drains(pods: list[Workload], budgets: list[Json], nodes: Iterable[str]) -> list[str]:
    """Why draining each node would never finish (empty: every drain completes)."""
    problems = []
    for node in sorted(set(nodes)):
        for w in pods:
            if w.nodes is not None and node not in w.nodes:
                continue  # none of its pods are on this node
            covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= w.labels.items()]
            if len(covering) > 1:
                problems.append(f"{node}: {w.kind}/{w.name} has {len(covering)} budgets (eviction refuses it)")
            if not covering:
                continue
            elsewhere = w.nodes is None or bool(w.nodes - {node})
            for count in w.counts:
                stuck = 0 if elsewhere else count
                allowed = allowed_disruptions(covering[0]["spec"], count)
                if stuck > allowed:
                    problems.append(
                        f"{node}: {w.kind}/{w.name} at {count} pods: {stuck} cannot run elsewhere, "
                        f"budget {covering[0]['metadata']['name']} allows {allowed}"
                    )
    return problems


def stack_nodes(raw: Json) -> set[str]:
    return set(raw["nodes"].values())


def drains(stack: Stack, raw: Json) -> list[str]:
    return blocked_drains(workloads(stack), stack.all("PodDisruptionBudget"), stack_nodes(raw))


def dev_raw() -> Json:
    values, _ = render.stack_config("dev", ROOT)
    return {k.split(":", 1)[1]: json.loads(v) if v.startswith(("{", "[")) else v for k, v in values.items()}


def autoscaled(raw: Json, lo: int = 2, hi: int = 3) -> Json:
    scaling = {"enabled": True, "minReplicas": lo, "maxReplicas": hi, "cpuUtilization": 70}
    return {name: {**raw[name], "autoscaling": scaling} for name in ("web", "api")}


CASES = {
    "prod": lambda: ("prod", None, prod_raw()),
    "prod-autoscaling": lambda: ("prod", autoscaled(prod_raw()), prod_raw()),
    "prod-fixed-replicas": lambda: ("prod", {n: {**prod_raw()[n], "replicas": 3} for n in ("web", "api")}, prod_raw()),
    "dev": lambda: ("dev", None, dev_raw()),
    "dev-autoscaling": lambda: ("dev", autoscaled(dev_raw()), dev_raw()),
}


@pytest.mark.parametrize("case", CASES)
def test_every_node_drains(case, prod):
    stack_name, overrides, raw = CASES[case]()
    stack = prod if case == "prod" else run_stack(stack_name, overrides)
    assert workloads(stack), "the model sees the workloads"
    assert drains(stack, raw) == []


def test_a_budget_on_pods_pinned_to_one_node_blocks_its_drain(prod):
    """The model catches what the issue found: one-at-a-time budgets on the data node's pods."""
    pinned = [w for w in workloads(prod) if w.name in ("redis", "redis-proxy")]
    assert {w.nodes for w in pinned} == {frozenset({prod_raw()["nodes"]["data"]})}
    old = [{"kind": "PodDisruptionBudget", "metadata": {"name": w.name},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": w.labels}}} for w in pinned]
    problems = blocked_drains(workloads(prod), old, stack_nodes(prod_raw()))
    data = prod_raw()["nodes"]["data"]
    assert f"{data}: StatefulSet/redis at 3 pods: 3 cannot run elsewhere, budget redis allows 1" in problems
    assert any(p.startswith(f"{data}: Deployment/redis-proxy") for p in problems)
    assert not [p for p in problems if not p.startswith(data)], "the other nodes still drain"


def test_a_budget_on_pods_that_can_move_is_kept_and_does_not_block():
    """The API tier (preferred node) keeps its one-at-a-time budget: its pods can move."""
    stack = run_stack("prod", {"api": {**prod_raw()["api"], "replicas": 2}})
    budget = stack.get("PodDisruptionBudget", "ai-qtrd-api")["spec"]
    assert budget["maxUnavailable"] == 1
    (api,) = [w for w in workloads(stack) if w.name == "ai-qtrd-api"]
    assert api.nodes is None
    assert drains(stack, prod_raw()) == []
