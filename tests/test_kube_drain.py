"""Scheduling and drains on the real scheduler, eviction API and disruption controller: every pod
lands on the node its tier pins (``gushen:nodes``), then ``kubectl drain`` (tests/kube/drain.py)
of every node, one after another (each uncordoned and the stack Ready again
before the next), completes in prod, dev and with autoscaling on, and ``tests/test_drain.py``'s
model agrees with the server on every node: the same drains blocked, the same complete.

Each case runs on nodes of its own (the stack's, renamed): cordoning the session's nodes would
disturb other tests."""

from __future__ import annotations

import secrets

import kubernetes
import pytest

from gushen_infra import render

from .conftest import ROOT, Stack
from .kube import drain as kdrain
from .kube import scheduling
from .kube.stack import objects_of
from .test_config import prod_raw
from .test_drain import autoscaled, blocked_drains, workloads

pytestmark = pytest.mark.kube

CASES = {
    "prod": lambda: ("prod", {}),
    "prod-autoscaling": lambda: ("prod", autoscaled(prod_raw())),
    "dev": lambda: ("dev", {}),
}


def one_at_a_time_budgets(stack: Stack) -> list[dict]:
    """What the program once had (test_drain.py): a one-at-a-time budget on the data node's pods."""
    return [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
             "metadata": {"name": w.name, "namespace": stack.get(w.kind, w.name)["metadata"]["namespace"]},
             "spec": {"maxUnavailable": 1, "selector": {"matchLabels": w.labels}}}
            for w in workloads(stack) if w.name in ("redis", "redis-proxy")]


def model_blocked(stack: Stack, budgets: list[dict], nodes: set[str]) -> set[str]:
    return {p.split(":", 1)[0] for p in blocked_drains(workloads(stack), budgets, nodes)}


def all_ready(kube, ns: str) -> bool:
    core = kubernetes.client.CoreV1Api(kube.api)
    pods = [p for p in core.list_namespaced_pod(ns).items if p.metadata.deletion_timestamp is None]
    apps = kubernetes.client.AppsV1Api(kube.api)
    workloads_ok = all((d.status.ready_replicas or 0) == d.spec.replicas for d in apps.list_namespaced_deployment(ns).items) and \
        all((s.status.ready_replicas or 0) == s.spec.replicas for s in apps.list_namespaced_stateful_set(ns).items)
    return workloads_ok and all(kdrain._ready(p) for p in pods)


def moved_or_pending(kube, ns: str, node: str) -> bool:
    """While ``node`` is cordoned, the controllers have replaced its pods: a pod pinned to it is
    Pending, any other runs Ready on another node."""
    for p in kubernetes.client.CoreV1Api(kube.api).list_namespaced_pod(ns).items:
        if p.metadata.deletion_timestamp is not None:
            return False
        pinned = (p.spec.node_selector or {}).get(scheduling.HOSTNAME) == node
        if (p.spec.node_name is not None) if pinned else (p.spec.node_name == node or not kdrain._ready(p)):
            return False
    return True


def drain_each(kube, nodes: set[str], ns: str) -> dict[str, kdrain.Drained]:
    """Drain every node in turn; after each, uncordon it and wait until the stack is Ready again."""
    core = kubernetes.client.CoreV1Api(kube.api)
    out = {}
    for node in sorted(nodes):
        try:
            out[node] = kdrain.drain(kube.api, node, kube.players)
            if not out[node].blocked:
                kube.players.settle(lambda: moved_or_pending(kube, ns, node), 60, f"the pods evicted from {node} replaced")
        finally:
            kdrain.cordon(core, node, False)
        kube.players.settle(lambda: all_ready(kube, ns), 60, f"the stack Ready again after draining {node}")
    return out


@pytest.mark.parametrize("case", CASES)
def test_pods_land_on_their_tiers_node_and_every_node_drains_as_the_model_says(kube, case):
    stack_name, overrides = CASES[case]()
    with kube.own_nodes(stack_name) as nodes:
        ns = f"drain-{case}-{secrets.token_hex(3)}"
        recs = render.run_program(stack_name, ROOT, {**overrides, **kube.declared(nodes), "namespace": ns})
        stack, objects = Stack(recs, {}), objects_of(recs)
        try:
            kube.deploy(objects, settle=True, preview=False)  # test_kube_stacks.py dry-runs the stacks
            kube.players.settle(lambda: all_ready(kube, ns), 60, "every pod Ready")
            placed = scheduling.placements(kube.api, ns)
            assert placed and all(node == nodes[tier] for _, tier, node in placed), placed
            drained = drain_each(kube, set(nodes.values()), ns)
            server = {n for n, d in drained.items() if d.blocked}
            assert server == model_blocked(stack, stack.all("PodDisruptionBudget"), set(nodes.values())) == set(), \
                {n: d.blocked for n, d in drained.items()}
            assert all(d.evicted for d in drained.values()), "every node had pods to evict"
            if case == "prod":
                # The budgets the model caught: both sides see the data node's drain blocked, the others not.
                budgets = one_at_a_time_budgets(stack)
                for b in budgets:
                    kubernetes.client.PolicyV1Api(kube.api).create_namespaced_pod_disruption_budget(ns, b)
                drained = drain_each(kube, set(nodes.values()), ns)
                server = {n for n, d in drained.items() if d.blocked}
                assert server == model_blocked(stack, budgets, set(nodes.values())) == {nodes["data"]}, \
                    {n: d.blocked for n, d in drained.items()}
        finally:
            kube.clean(objects)
