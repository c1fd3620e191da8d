"""The two parts of a K3s cluster no binary plays here, played explicitly and named for it.

Everything else (the scheduler's placement, ReplicaSets, StatefulSet ordering, endpoints, the
garbage collector, the PV controller's binding, evictions) is the real controller-manager's and
scheduler's work. These players only report what a kubelet and the local-path-provisioner would;
they run when a test calls :func:`settle` (or their ``step()``), never in the background, so a
test decides when the cluster moves and nothing races it.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Optional

import kubernetes
from kubernetes.client.rest import ApiException

from .cluster import rfc3339_now
from .provider import wait_for

#: K3s's pod CIDR (``--cluster-cidr`` default): the played kubelet hands pod IPs out of it.
POD_CIDR = ipaddress.ip_network("10.42.0.0/16")
SELECTED_NODE = "volume.kubernetes.io/selected-node"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"


class PlayedKubelet:
    """Plays every node's kubelet status reports: a bound pod runs and is Ready at once.

    Assumes what a real kubelet would have to prove: the image is on the node (the stack pulls
    with ``Never``), every container starts and stays up, and every readiness probe passes on the
    first try (probes are not executed: nothing runs). Init containers are reported completed.
    A pod being deleted is removed at once (``gracePeriodSeconds=0``), as a kubelet does when its
    containers have stopped: without that, rollouts and drains would wait forever.
    Jobs' pods are reported running, never completed.
    """

    def __init__(self, client: kubernetes.client.ApiClient):
        self.core = kubernetes.client.CoreV1Api(client)
        self._ips = (str(ip) for ip in POD_CIDR.hosts())

    def step(self) -> int:
        """One pass over every pod; returns how many it changed."""
        changed = 0
        self._hosts = {n.metadata.name: next((a.address for a in n.status.addresses or [] if a.type == "InternalIP"), None)
                       for n in self.core.list_node().items}
        for pod in self.core.list_pod_for_all_namespaces().items:
            meta, spec, status = pod.metadata, pod.spec, pod.status
            if meta.deletion_timestamp is not None and spec.node_name:
                try:
                    self.core.delete_namespaced_pod(meta.name, meta.namespace, grace_period_seconds=0)
                except ApiException as e:
                    if e.status != 404:
                        raise
                changed += 1
            elif spec.node_name and not _ready(pod):
                _tolerating(404, self.core.patch_namespaced_pod_status, meta.name, meta.namespace, {"status": self._running(pod)})
                changed += 1
        return changed

    def _running(self, pod) -> dict:
        now = rfc3339_now()
        ip = pod.status.pod_ip or next(self._ips)
        host = self._hosts.get(pod.spec.node_name)

        def container_status(c, init: bool) -> dict:
            state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}} if init \
                else {"running": {"startedAt": now}}
            return {"name": c.name, "image": c.image, "imageID": "", "ready": not init, "started": not init,
                    "restartCount": 0, "state": state}

        return {
            "phase": "Running",
            **({"hostIP": host, "hostIPs": [{"ip": host}]} if host else {}), "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "initContainerStatuses": [container_status(c, True) for c in pod.spec.init_containers or []],
            "containerStatuses": [container_status(c, False) for c in pod.spec.containers],
        }


def _ready(pod) -> bool:
    return pod.status.phase == "Running" and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


class PlayedProvisioner:
    """Plays K3s's local-path-provisioner: a volume on the node the scheduler picked.

    For a Pending claim of a ``rancher.io/local-path`` class carrying the scheduler's
    ``volume.kubernetes.io/selected-node`` annotation, it creates a hostPath PV (as the provisioner
    does, under ``/var/lib/rancher/k3s/storage``) with node affinity to that node and a ``claimRef``
    to the claim; the real PV controller binds the two. A Released volume of a ``Delete`` class is
    deleted (the provisioner removes the directory and the PV). Nothing is written to disk.
    """

    def __init__(self, client: kubernetes.client.ApiClient):
        self.core = kubernetes.client.CoreV1Api(client)
        self.storage = kubernetes.client.StorageV1Api(client)

    def step(self) -> int:
        classes = {sc.metadata.name: sc for sc in self.storage.list_storage_class().items
                   if sc.provisioner == LOCAL_PATH_PROVISIONER}
        pvs = self.core.list_persistent_volume().items
        claimed = {pv.spec.claim_ref.uid for pv in pvs if pv.spec.claim_ref}
        changed = 0
        for pvc in self.core.list_persistent_volume_claim_for_all_namespaces().items:
            meta = pvc.metadata
            node = (meta.annotations or {}).get(SELECTED_NODE)
            if pvc.status.phase == "Pending" and node and pvc.spec.storage_class_name in classes and meta.uid not in claimed:
                _tolerating(409, self.core.create_persistent_volume, self._volume(pvc, node, classes[pvc.spec.storage_class_name]))
                changed += 1
        for pv in pvs:
            if pv.status.phase == "Released" and pv.spec.persistent_volume_reclaim_policy == "Delete" \
                    and (pv.metadata.annotations or {}).get("pv.kubernetes.io/provisioned-by") == LOCAL_PATH_PROVISIONER:
                _tolerating(404, self.core.delete_persistent_volume, pv.metadata.name)
                changed += 1
        return changed

    @staticmethod
    def _volume(pvc, node: str, sc) -> dict:
        meta = pvc.metadata
        name = f"pvc-{meta.uid}"
        return {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": LOCAL_PATH_PROVISIONER,
                                                       "local.path.provisioner/selected-node": node}},
            "spec": {
                "capacity": {"storage": pvc.spec.resources.requests["storage"]},
                "accessModes": pvc.spec.access_modes,
                "persistentVolumeReclaimPolicy": sc.reclaim_policy or "Delete",
                "storageClassName": sc.metadata.name,
                "volumeMode": pvc.spec.volume_mode or "Filesystem",
                "hostPath": {"path": f"/var/lib/rancher/k3s/storage/{name}_{meta.namespace}_{meta.name}", "type": "DirectoryOrCreate"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta.namespace,
                             "name": meta.name, "uid": meta.uid, "resourceVersion": meta.resource_version},
            },
        }


def _tolerating(status: int, call: Callable[..., Any], *args: Any) -> None:
    """``call``, where an answer of ``status`` means another step already did it (lists go stale
    between a step's read and its write while the controllers move)."""
    try:
        call(*args)
    except ApiException as e:
        if e.status != status:
            raise


class Players:
    """The played kubelet and provisioner together (what :func:`settle` steps)."""

    def __init__(self, client: kubernetes.client.ApiClient):
        self.kubelet = PlayedKubelet(client)
        self.provisioner = PlayedProvisioner(client)

    def step(self) -> int:
        return self.provisioner.step() + self.kubelet.step()

    def settle(self, until: Callable[[], bool], timeout: float = 60, what: Optional[str] = None) -> float:
        """Step the players until ``until()`` holds (the controllers move between steps); seconds taken.

        Raises ``TimeoutError`` naming ``what`` when it does not hold within ``timeout`` seconds.
        """
        return wait_for(until, timeout, what or "settled", self.step)
