"""The session's K3s cluster on a real control plane: what the ``kube`` fixture yields."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import kubernetes
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from gushen_infra import render

from . import cluster as k3s
from .controlplane import ControlPlane
from .played import Players
from . import provider as pk
from .provider import wait_for
from .stack import Engine, Rendered


@dataclass
class KubeCluster:
    """A running control plane with the K3s cluster built on it, and the clients tests use."""

    control_plane: ControlPlane
    api: kubernetes.client.ApiClient
    nodes: list[k3s.NodeSpec]
    players: Players
    #: Seconds: control plane ready, and the K3s cluster (nodes, class, CRDs) built on it.
    timings: dict[str, float] = field(default_factory=dict)
    _dynamic: DynamicClient | None = None

    @classmethod
    def start(cls, bin_dir: Path, nodes: Iterable[k3s.NodeSpec]) -> "KubeCluster":
        t0 = time.monotonic()
        cp = ControlPlane(bin_dir).start()
        try:
            api = k3s.api_client(cp.url, cp.token, cp.ca_file)
            nodes = list(nodes)
            t1 = time.monotonic()
            k3s.build(api, nodes)
            timings = {"control_plane_ready": t1 - t0, "cluster_built": time.monotonic() - t1}
            return cls(cp, api, nodes, Players(api), timings)
        except BaseException:
            cp.stop()
            raise

    def stop(self) -> None:
        self.api.close()
        self.control_plane.stop()

    @property
    def dynamic(self) -> DynamicClient:
        """A discovery-backed client (built after the CRDs are installed, so it knows them)."""
        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api)
        return self._dynamic

    def engine(self) -> Engine:
        """A fresh engine (empty state, new field managers) sending requests as pulumi-kubernetes does."""
        return Engine(self.dynamic)

    def add_nodes(self, nodes: Iterable[k3s.NodeSpec]) -> list[k3s.NodeSpec]:
        """Add the nodes not there yet (e.g. the dev stack's ``gushen-dev``); the ones added."""
        known = {n.name for n in self.nodes}
        new = [n for n in nodes if n.name not in known]
        k3s.add_nodes(self.api, new)
        self.nodes.extend(new)
        return new

    def remove_nodes(self, names: Iterable[str]) -> None:
        """Delete these Node objects (a test that added them puts the cluster back)."""
        core = kubernetes.client.CoreV1Api(self.api)
        for name in names:
            core.delete_node(name)
        self.nodes = [n for n in self.nodes if n.name not in set(names)]

    @contextlib.contextmanager
    def own_nodes(self, stack: str = "prod") -> Iterator[dict[str, str]]:
        """The stack's nodes again under names of a test's own (same allocatable and role), for a
        test that cordons nodes or fills them; yields the ``gushen:nodes`` override that puts the
        stack on them, and deletes them after."""
        values, _ = render.stack_config(stack, k3s.ROOT)
        tiers = json.loads(values[f"{render.config.NAMESPACE}:nodes"])
        prefix = f"own-{secrets.token_hex(3)}"
        names = {old: f"{prefix}-{i}" for i, old in enumerate(dict.fromkeys(tiers.values()))}
        specs = [dataclasses.replace(n, name=names[n.name]) for n in k3s.stack_nodes(stack)]
        self.add_nodes(specs)
        try:
            yield {tier: names[node] for tier, node in tiers.items()}
        finally:
            self.remove_nodes([n.name for n in specs])

    def declared(self, tiers: dict[str, str], like: Optional[dict[str, str]] = None) -> dict[str, Any]:
        """The config overrides that put a stack on these nodes: ``gushen:nodes`` and the
        ``gushen:clusterNodes`` that declare them (config refuses a tier on an undeclared node).
        A name the cluster lacks (a node renamed in the stack file only) is declared with the
        capacity of the node ``like`` gives its tier."""
        known = {n.name: {"cpu": n.cpu, "memory": n.memory} for n in self.nodes}
        cluster = {name: known[name] if name in known else known[(like or {})[tier]] for tier, name in tiers.items()}
        return {"nodes": dict(tiers), "clusterNodes": cluster}

    def namespace(self, prefix: str = "t") -> str:
        """A new namespace, ready for pods (its default ServiceAccount exists)."""
        return k3s.new_namespace(self.api, f"{prefix}-{secrets.token_hex(3)}")

    def delete_namespace(self, name: str) -> None:
        """Delete a namespace without waiting for the namespace controller to empty it.

        Its pods are removed at once (grace 0, as the played kubelet does): a terminating
        namespace admits no new pod, so no controller brings them back."""
        core = kubernetes.client.CoreV1Api(self.api)
        core.delete_namespace(name)
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)

    def clean(self, objects: Iterable[Rendered], wait: bool = False, timeout: float = 60) -> float:
        """Remove what applying ``objects`` left: their namespaces (and all in them) and their
        cluster-scoped objects. With ``wait``, until the namespaces are gone (about 10 s: the
        namespace controller's pace), so the same namespace can be applied again; a test that
        renders into a namespace of its own (``rendered(stack, {"namespace": ...})``) need not
        wait. Seconds taken."""
        objects = list(objects)
        namespaces = [o.manifest["metadata"]["name"] for o in objects if o.manifest["kind"] == "Namespace"]
        for obj in objects:
            res = self.dynamic.resources.get(api_version=obj.manifest["apiVersion"], kind=obj.manifest["kind"])
            try:
                if not res.namespaced and obj.manifest["kind"] != "Namespace":
                    res.delete(name=obj.manifest["metadata"]["name"])
                elif obj.manifest["kind"] == "Namespace":
                    self.delete_namespace(obj.manifest["metadata"]["name"])
            except (NotFoundError, ApiException) as e:
                if getattr(e, "status", None) != 404:
                    raise  # never applied (a test that failed early): nothing to remove
        if not wait:
            return 0.0
        core = kubernetes.client.CoreV1Api(self.api)

        def gone() -> bool:
            live = {n.metadata.name for n in core.list_namespace().items}
            return not live.intersection(namespaces)

        return wait_for(gone, timeout, f"namespaces {namespaces} deleted", self.players.step)

    def deploy(self, objects: list[Rendered], engine: Engine | None = None, settle: bool = False,
               preview: bool = True) -> Engine:
        """``pulumi up`` of ``objects`` on an empty cluster: the namespaces first, then the server's
        dry-run of every other object (the preview ``up`` runs; not with ``preview=False``), then the objects; with ``settle``,
        every await of the provider is met (the players step between checks). The engine.

        Raises the server's error for an object it refuses; asserts no dry-run was skipped."""
        engine = engine or self.engine()
        namespaces = [o for o in objects if o.manifest["kind"] == "Namespace"]
        rest = [o for o in objects if o.manifest["kind"] != "Namespace"]
        engine.up(namespaces)
        for ns in namespaces:
            k3s.wait_default_service_account(self.api, ns.manifest["metadata"]["name"])
        if preview:
            dry = engine.up(rest, preview=True)
            skipped = [o.key for o, answer in zip(rest, dry) if answer == pk.NAMESPACE_MISSING]
            assert not skipped, f"dry-run skipped for want of a namespace: {skipped}"
        engine.up(rest)
        if settle:
            self.await_all(engine, rest)
        return engine

    def await_all(self, engine: Engine, objects: list[Rendered], created: bool = True, timeout: float = 90) -> float:
        """Wait as the provider does for each of ``objects`` in turn; seconds taken."""
        t0 = time.monotonic()
        for obj in objects:
            if obj.manifest["kind"] in pk.DEFAULT_TIMEOUTS:
                pk.await_ready(engine.provider(obj), obj.manifest, step=self.players.step, timeout=timeout, created=created)
        return time.monotonic() - t0

    def generations(self, engine: Engine, objects: list[Rendered]) -> dict[tuple, object]:
        """Each object's ``metadata.generation`` on the server."""
        return {o.key: (engine.provider(o).get(o.manifest) or {}).get("metadata", {}).get("generation") for o in objects}

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig
