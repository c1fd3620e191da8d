"""What the real scheduler decides for a stack: where each pod lands, and whether the capacity
policy's worst moment fits.

The capacity policy (``policies/capacity.py``) judges each pinned node at its worst moment: every
workload at its maximum replica count (the HPA's ``maxReplicas``), every Deployment mid-rollout
(``maxSurge`` extra pods), each pod counted at its *limits*. The scheduler judges *requests*.
:func:`worst_case` therefore sends the scheduler that moment with requests raised to the limits
(a Guaranteed pod's requests): replicas at the HPA's maximum (the HPA left out: no metrics here)
plus each Deployment's ``maxSurge`` (mid-rollout, the surge pods are the same size as the old
ones: the scheduler sees the same pods a rollout would show it), a StatefulSet's pods made at
once (``Parallel``: pods of one size, so the order does not change which fit), a Job from each CronJob
(``kubectl create job --from``). The verdict is per node: the nodes some pod meant for was not
placed on (Pending, or a preferred node's pod placed elsewhere).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Optional

import kubernetes

from .stack import Rendered

HOSTNAME = "kubernetes.io/hostname"
#: ``app.kubernetes.io/component`` -> the tier of ``gushen:nodes`` it runs on (the placement
#: policy's ``dataComponents`` are the data tier).
TIERS = {"web": "web", "api": "api", "redis": "data", "redis-proxy": "data", "backup": "data"}


def target(pod_spec: dict) -> Optional[str]:
    """The node a pod is meant for: its ``nodeSelector`` hostname, else its one preferred hostname."""
    pinned = (pod_spec.get("nodeSelector") or {}).get(HOSTNAME)
    if pinned:
        return pinned
    preferred = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or []
    hosts = {v for p in preferred for e in p["preference"].get("matchExpressions", []) if e["key"] == HOSTNAME for v in e["values"]}
    return hosts.pop() if len(hosts) == 1 else None


def _pods(api: kubernetes.client.ApiClient, namespace: str) -> list[dict]:
    items = kubernetes.client.CoreV1Api(api).list_namespaced_pod(namespace).items
    return [kubernetes.client.ApiClient().sanitize_for_serialization(p) for p in items if p.metadata.deletion_timestamp is None]


def placements(api: kubernetes.client.ApiClient, namespace: str) -> list[tuple[str, Optional[str], Optional[str]]]:
    """(pod, component tier, node) of every pod in ``namespace``."""
    return [(p["metadata"]["name"], TIERS.get((p["metadata"].get("labels") or {}).get("app.kubernetes.io/component", "")),
             p["spec"].get("nodeName")) for p in _pods(api, namespace)]


def unplaced(api: kubernetes.client.ApiClient, namespace: str) -> set[str]:
    """The nodes some pod of ``namespace`` is meant for but not on."""
    return {t for p in _pods(api, namespace) if (t := target(p["spec"])) and p["spec"].get("nodeName") != t}


def decided(api: kubernetes.client.ApiClient, namespace: str) -> bool:
    """Every pod placed, or found no node by the scheduler (``PodScheduled=False``, Unschedulable)."""
    def done(p: dict) -> bool:
        return bool(p["spec"].get("nodeName")) or any(
            c["type"] == "PodScheduled" and c["status"] == "False" and c.get("reason") == "Unschedulable"
            for c in (p.get("status") or {}).get("conditions") or [])
    return all(done(p) for p in _pods(api, namespace))


def settled(api: kubernetes.client.ApiClient, namespace: str) -> bool:
    """Each workload has made every pod it will (a StatefulSet stops at its first unplaceable pod),
    each pod is placed or unplaceable, and the placed ones are Ready."""
    pods = _pods(api, namespace)
    if not decided(api, namespace) or any(p["spec"].get("nodeName") and not _is_ready(p) for p in pods):
        return False
    apps = kubernetes.client.AppsV1Api(api)
    owned = {}
    for p in pods:
        for ref in p["metadata"].get("ownerReferences") or []:
            owned.setdefault((ref["kind"], ref["name"]), []).append(p)
    for rs in apps.list_namespaced_replica_set(namespace).items:
        if len(owned.get(("ReplicaSet", rs.metadata.name), [])) != rs.spec.replicas:
            return False
    for sts in apps.list_namespaced_stateful_set(namespace).items:
        mine = owned.get(("StatefulSet", sts.metadata.name), [])
        if len(mine) != sts.spec.replicas and all(p["spec"].get("nodeName") for p in mine):
            return False
    jobs = kubernetes.client.BatchV1Api(api).list_namespaced_job(namespace).items
    if any(not owned.get(("Job", j.metadata.name)) for j in jobs):
        return False
    return len(apps.list_namespaced_replica_set(namespace).items) == len(apps.list_namespaced_deployment(namespace).items)


def _is_ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])


def _guaranteed(pod_spec: dict) -> None:
    for c in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        res = c.setdefault("resources", {})
        res["requests"] = {**(res.get("requests") or {}), **(res.get("limits") or {})}


def surge(manifest: dict) -> int:
    """A Deployment's ``maxSurge`` in pods (percentages round up, as the deployment controller does)."""
    strategy = manifest["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    replicas = manifest["spec"].get("replicas", 1)
    return math.ceil(int(value[:-1]) * replicas / 100) if isinstance(value, str) else int(value)


def worst_case(objects: list[Rendered]) -> list[Rendered]:
    """The workloads of ``objects`` at their worst moment but the surge (see the module's doc)."""
    scaled = {o.manifest["spec"]["scaleTargetRef"]["name"]: o.manifest["spec"]["maxReplicas"]
              for o in objects if o.manifest["kind"] == "HorizontalPodAutoscaler"}
    out = []
    for obj in objects:
        m = copy.deepcopy(obj.manifest)
        kind = m["kind"]
        if kind == "HorizontalPodAutoscaler":
            continue
        if kind in ("Deployment", "StatefulSet"):
            if m["metadata"]["name"] in scaled:
                m["spec"]["replicas"] = scaled[m["metadata"]["name"]]
            if kind == "Deployment":
                m["spec"]["replicas"] = m["spec"].get("replicas", 1) + surge(m)
            else:
                m["spec"]["podManagementPolicy"] = "Parallel"  # which pods fit does not depend on their order
            _guaranteed(m["spec"]["template"]["spec"])
        elif kind == "CronJob":
            job = copy.deepcopy(m["spec"]["jobTemplate"])
            _guaranteed(job["spec"]["template"]["spec"])
            out.append(dataclasses.replace(obj, manifest={
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": f"{m['metadata']['name']}-manual", "namespace": m["metadata"]["namespace"],
                             "labels": job.get("metadata", {}).get("labels") or {}},
                "spec": job["spec"]}))
        out.append(dataclasses.replace(obj, manifest=m))
    return out
