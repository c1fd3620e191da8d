"""``kubectl drain`` as kubectl does it, on the real eviction API (``k8s.io/kubectl/pkg/drain``).

``RunCordonOrUncordon`` sets ``spec.unschedulable``; ``GetPodsForDeletion`` lists the node's pods
(DaemonSet pods skipped with ``--ignore-daemonsets``, none here); ``evictPods`` posts a policy/v1
``Eviction`` for each pod and, on 429 TooManyRequests (a PodDisruptionBudget allows no disruption
now), retries (kubectl after 5 s, here after the players' next step: the controllers' pace is
the same); a 404 means the pod is gone. Then ``waitForDelete``. The real disruption controller
sets each budget's ``disruptionsAllowed`` from its pods' Ready condition, which the played kubelet
reports; the ReplicaSet and StatefulSet controllers recreate evicted pods and the scheduler places
them elsewhere where their affinity allows, or leaves them Pending.

A drain kubectl would retry forever is told apart without a clock: :func:`drain` returns it as
*blocked* once an eviction is refused while nothing can change the budget's mind (every pod it
selects that is not Ready is one the scheduler found no node for, the controller has counted the
Ready ones, and the players have nothing left to do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import kubernetes
from kubernetes.client.rest import ApiException

from .played import Players


@dataclass
class Drained:
    """What a drain of one node did: the pods evicted, or the eviction a budget blocks for good."""

    node: str
    evicted: list[str] = field(default_factory=list)
    blocked: Optional[str] = None


def cordon(core: kubernetes.client.CoreV1Api, node: str, unschedulable: bool = True) -> None:
    core.patch_node(node, {"spec": {"unschedulable": unschedulable or None}})


def _pods_on(core: kubernetes.client.CoreV1Api, node: str) -> list:
    pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    return [p for p in pods if not any(o.kind == "DaemonSet" for o in p.metadata.owner_references or [])]


def _ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _unschedulable(pod) -> bool:
    return any(c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable" for c in pod.status.conditions or [])


def _stuck(api: kubernetes.client.ApiClient, pod, players: Players) -> Optional[str]:
    """Why the refused eviction of ``pod`` can never succeed, or None while something may still change."""
    if players.step():
        return None
    policy = kubernetes.client.PolicyV1Api(api)
    core = kubernetes.client.CoreV1Api(api)
    ns = pod.metadata.namespace
    for pdb in policy.list_namespaced_pod_disruption_budget(ns).items:
        labels = pdb.spec.selector.match_labels or {}
        if not labels.items() <= (pod.metadata.labels or {}).items():
            continue
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        pods = [p for p in core.list_namespaced_pod(ns, label_selector=selector).items if p.metadata.deletion_timestamp is None]
        ready = sum(_ready(p) for p in pods)
        status = pdb.status
        settled = status and status.observed_generation == pdb.metadata.generation and status.current_healthy == ready
        waiting = [p.metadata.name for p in pods if not _ready(p)]
        if settled and status.disruptions_allowed == 0 and all(_unschedulable(p) for p in pods if not _ready(p)):
            return (f"PodDisruptionBudget/{pdb.metadata.name} allows no disruption: {ready} Ready, "
                    f"{status.desired_healthy} required, unschedulable: {waiting}")
    return None


def drain(api: kubernetes.client.ApiClient, node: str, players: Players, timeout: float = 60) -> Drained:
    """Cordon ``node`` and evict every pod on it; returns when all are gone or one is blocked for good.

    The node stays cordoned: :func:`cordon` with ``unschedulable=False`` undoes it."""
    core = kubernetes.client.CoreV1Api(api)
    cordon(core, node)
    result = Drained(node)
    evicted: set[str] = set()
    deadline = time.monotonic() + timeout
    for pod in _pods_on(core, node):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace}}
        while True:
            try:
                core.create_namespaced_pod_eviction(pod.metadata.name, pod.metadata.namespace, body)
                result.evicted.append(f"{pod.metadata.namespace}/{pod.metadata.name}")
                evicted.add(pod.metadata.uid)
                break
            except ApiException as e:
                if e.status == 404:
                    break
                if e.status != 429:
                    raise
            why = _stuck(api, pod, players)
            if why:
                result.blocked = f"{pod.metadata.name}: {why}"
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"drain of {node}: eviction of {pod.metadata.name} still refused after {timeout:.0f} s")
            time.sleep(0.1)
    # waitForDelete: the evicted pods (by uid: a StatefulSet's replacement keeps the name) are gone.
    players.settle(lambda: not [p for p in _pods_on(core, node) if p.metadata.uid in evicted],
                   timeout, f"the pods evicted from {node} deleted")
    return result
