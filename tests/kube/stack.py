"""A stack's rendered objects in apply order, and the engine's part in sending them."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from kubernetes.dynamic import DynamicClient

from gushen_infra import render

from .provider import Provider, field_manager_name

PROVIDER_TYPE = "pulumi:providers:kubernetes"


@dataclass(frozen=True)
class Rendered:
    """One object of the stack: its manifest, its resource options, and its provider's settings."""

    manifest: dict[str, Any]
    options: dict[str, Any]
    """protect, deleteBeforeReplace, ignoreChanges, ... as the engine received them (``render.Recorded``)."""
    provider: str
    """The ``kubernetes.Provider``'s name in the program (``k3s``, ``k3s-retained``)."""
    provider_inputs: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str, str]:
        m = self.manifest["metadata"]
        return self.manifest["apiVersion"], self.manifest["kind"], m.get("namespace") or "", m["name"]

    def setting(self, name: str) -> bool:
        """A boolean provider setting (``upsertExistingObjects``, ``enablePatchForce``)."""
        return str(self.provider_inputs.get(name, "")).lower() == "true"


def rendered(stack: str = "prod", overrides: Optional[Mapping[str, Any]] = None) -> list[Rendered]:
    """Every Kubernetes object the program registers for ``stack``, in the render's apply order.

    ``overrides`` replaces top-level ``gushen:`` keys, as :func:`gushen_infra.render.run_program` takes them."""
    return objects_of(render.run_program(stack, render.ROOT, overrides))


def objects_of(resources: list[render.Recorded]) -> list[Rendered]:
    """The Kubernetes objects of a recording (``render.run_program``), in the render's apply order."""
    providers = {r.urn: r for r in resources if r.type == PROVIDER_TYPE}
    objects = []
    for rec in resources:
        if render.is_kubernetes_object(rec):
            prov = providers[(rec.provider or "").rsplit("::", 1)[0]]
            objects.append(Rendered(render.to_manifest(rec), rec.options, prov.name, prov.inputs))
    position = {Rendered(m, {}, "", {}).key: i for i, m in enumerate(render.manifests(resources))}
    return sorted(objects, key=lambda o: position[o.key])


def in_namespace(objects: list[Rendered], namespace: str) -> list[Rendered]:
    """The same objects moved to ``namespace`` (the Namespace object renamed, namespaced objects
    moved): a recording made for the stack's own namespace, applied in a namespace of a test's own.
    References to the old name inside specs (DNS names, selectors) are left: the server does not
    resolve them."""
    out = []
    for obj in objects:
        m = copy.deepcopy(obj.manifest)
        if m["kind"] == "Namespace":
            m["metadata"]["name"] = namespace
        elif m["metadata"].get("namespace"):
            m["metadata"]["namespace"] = namespace
        out.append(dataclasses.replace(obj, manifest=m))
    return out


class Engine:
    """The engine's part, minimally: each object goes through its own provider's settings; one in
    the state is updated, any other created. Each resource keeps the field manager name its first
    ``Check`` chose (``managers``), as the state's ``__fieldManager`` does."""

    def __init__(self, client: DynamicClient):
        self.client = client
        self.providers: dict[str, Provider] = {}
        self.state: dict[tuple, Any] = {}
        self.managers: dict[tuple, str] = {}

    def provider(self, obj: Rendered) -> Provider:
        if obj.provider not in self.providers:
            self.providers[obj.provider] = Provider(
                self.client, enable_patch_force=obj.setting("enablePatchForce"),
                upsert_existing_objects=obj.setting("upsertExistingObjects"))
        return self.providers[obj.provider]

    def up(self, objects: list[Rendered], preview: bool = False) -> list[Any]:
        """Send every object in order (update if in the state, else create); the server's answers."""
        answers = []
        for obj in objects:
            prov, manager = self.provider(obj), self.managers.setdefault(obj.key, field_manager_name())
            send = prov.update if obj.key in self.state else prov.create
            answer = send(obj.manifest, preview, manager)
            if not preview:
                self.state[obj.key] = answer
            answers.append(answer)
        return answers
