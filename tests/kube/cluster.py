"""The cluster as K3s has it, on the real control plane: nodes, the local-path class, the CRDs.

Facts come from where the project keeps them, never restated here: the nodes, their CPU and memory
from the stack file (``gushen:clusterNodes``, which ``policies/config.<stack>.json`` is generated
from) and the tiers' nodes (``gushen:nodes``), the CRDs from ``../shared/crds/upstream``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import kubernetes
import yaml
from kubernetes.client.rest import ApiException

from gushen_infra import render

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT.parent / "shared" / "crds" / "upstream"
CRD_FILES = (
    "traefik_traefik-v3.7.9/kubernetes-crd-definition-v1.yml",
    "cert-manager_cert-manager-v1.21.1/cert-manager.io_certificaterequests.yaml",
    "cert-manager_cert-manager-v1.21.1/cert-manager.io_certificates.yaml",
    "cert-manager_cert-manager-v1.21.1/cert-manager.io_clusterissuers.yaml",
    "cert-manager_cert-manager-v1.21.1/cert-manager.io_issuers.yaml",
)
#: What K3s reports as kubelet version and runtime (informational: nothing here reads them).
K3S_VERSION = "v1.36.2+k3s1"

#: The class K3s ships in ``manifests/local-storage.yaml`` (the local-path-provisioner):
#: volumes bind where the first pod lands, are deleted with their claim and never expand.
LOCAL_PATH = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": "rancher.io/local-path",
    "volumeBindingMode": "WaitForFirstConsumer",
    "reclaimPolicy": "Delete",
}


@dataclass(frozen=True)
class NodeSpec:
    """One K3s node: its name, allocatable CPU and memory, and whether it is the K3s server."""

    name: str
    cpu: str
    memory: str
    server: bool = False


def stack_nodes(stack: str = "prod", server: Optional[str] = None) -> list[NodeSpec]:
    """The stack's distinct tier nodes (``gushen:nodes``) with their allocatable (``gushen:clusterNodes``).

    The spec draws the control plane apart but names no server node; ``server`` picks it and
    defaults to the data tier's node (it carries the embedded etcd in a K3s ``--cluster-init``).
    """
    values, _ = render.stack_config(stack, ROOT)
    tiers = json.loads(values[f"{render.config.NAMESPACE}:nodes"])
    allocatable = json.loads(values[f"{render.config.NAMESPACE}:clusterNodes"])
    server = server or tiers["data"]
    names = list(dict.fromkeys(tiers.values()))
    return [NodeSpec(n, allocatable[n]["cpu"], allocatable[n]["memory"], server=n == server) for n in names]


def node_labels(node: NodeSpec) -> dict[str, str]:
    """The labels K3s puts on a node (k3s ``pkg/agent``/``pkg/node``: roles ``"true"``, instance type ``k3s``)."""
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "k3s",
        "beta.kubernetes.io/instance-type": "k3s",
    }
    if node.server:
        for role in ("control-plane", "master", "etcd"):
            labels[f"node-role.kubernetes.io/{role}"] = "true"
    return labels


def api_client(url: str, token: str, ca_file: Path) -> kubernetes.client.ApiClient:
    """A client of the loopback apiserver, verifying the certificate it generated for this session."""
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    configuration.api_key = {"authorization": f"Bearer {token}"}
    configuration.ssl_ca_cert = str(ca_file)
    return kubernetes.client.ApiClient(configuration)


def add_nodes(client: kubernetes.client.ApiClient, nodes: Iterable[NodeSpec]) -> None:
    """Register each node as a kubelet would, report it Ready, and lift the not-ready taint.

    The apiserver taints a new node ``node.kubernetes.io/not-ready:NoSchedule`` at admission; the
    node lifecycle controller that would lift it is off (no heartbeats), so this does.
    """
    core = kubernetes.client.CoreV1Api(client)
    for i, node in enumerate(nodes, start=1):
        core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name, "labels": node_labels(node)}})
        amounts = {"cpu": node.cpu, "memory": node.memory, "pods": "110", "ephemeral-storage": "100Gi"}
        now = rfc3339_now()
        healthy = [("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False"), ("Ready", "True")]
        status = {
            "capacity": amounts,
            "allocatable": amounts,  # K3s reserves nothing for system or kube by default
            "conditions": [
                {"type": t, "status": s, "reason": "KubeletReady" if t == "Ready" else "KubeletHasSufficient",
                 "lastHeartbeatTime": now, "lastTransitionTime": now}
                for t, s in healthy
            ],
            # Documentation addresses (TEST-NET-1): nothing connects to a node here.
            "addresses": [{"type": "InternalIP", "address": f"192.0.2.{i}"}, {"type": "Hostname", "address": node.name}],
            "nodeInfo": {
                "architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": K3S_VERSION,
                "kubeProxyVersion": K3S_VERSION, "containerRuntimeVersion": "containerd://2.1.5-k3s1",
                "osImage": "Ubuntu 22.04 LTS", "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": "",
            },
        }
        core.patch_node_status(node.name, {"status": status})
        core.patch_node(node.name, {"spec": {"taints": None}})


def install_crds(client: kubernetes.client.ApiClient, files: Iterable[str] = CRD_FILES, timeout: float = 30) -> list[str]:
    """Create the Traefik v3 and cert-manager CRDs and wait until each is Established; their names."""
    ext = kubernetes.client.ApiextensionsV1Api(client)
    names = []
    for rel in files:
        for doc in yaml.safe_load_all((CRDS / rel).read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                ext.create_custom_resource_definition(doc)
                names.append(doc["metadata"]["name"])
    deadline = time.monotonic() + timeout
    for name in names:
        while not any(c.type == "Established" and c.status == "True" for c in (ext.read_custom_resource_definition(name).status.conditions or [])):
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established after {timeout} s")
            time.sleep(0.05)
    return names


def build(client: kubernetes.client.ApiClient, nodes: Iterable[NodeSpec]) -> None:
    """The K3s cluster: nodes Ready, the local-path class, the Traefik and cert-manager CRDs."""
    add_nodes(client, nodes)
    kubernetes.client.StorageV1Api(client).create_storage_class(LOCAL_PATH)
    install_crds(client)


def new_namespace(client: kubernetes.client.ApiClient, name: str, timeout: float = 30) -> str:
    """Create a namespace and wait for its ``default`` ServiceAccount (no pod is admitted before it)."""
    core = kubernetes.client.CoreV1Api(client)
    core.create_namespace({"metadata": {"name": name}})
    wait_default_service_account(client, name, timeout)
    return name


def wait_default_service_account(client: kubernetes.client.ApiClient, namespace: str, timeout: float = 30) -> None:
    core = kubernetes.client.CoreV1Api(client)
    deadline = time.monotonic() + timeout
    while True:
        try:
            core.read_namespaced_service_account("default", namespace)
            return
        except ApiException as e:
            if e.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def rfc3339_now() -> str:
    """Now, as the API's timestamps are written."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def as_dict(obj: Any) -> dict[str, Any]:
    """A typed client object as the API's JSON (camelCase keys)."""
    return kubernetes.client.ApiClient().sanitize_for_serialization(obj)
