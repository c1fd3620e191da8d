"""Taking over the running cluster: the one place that decides how ``pulumi up`` meets objects
that kubectl applied before this program existed (docs/adoption.md).

How the engine and pulumi-kubernetes 4.34 behave, from their source:

* A new resource whose object already exists fails with AlreadyExists (``await.Creation`` in
  ``provider/pkg/await/await.go``) unless the provider has ``upsertExistingObjects``; in a
  *preview* the same create is swallowed (``kubeProvider.Create``: "if k.serverSideApplyMode &&
  apierrors.IsAlreadyExists(awaitErr) { failedPreview = true }``), so only ``up`` fails.
* An upsert is a server-side apply *create*: it keeps every field kubectl owns and we do not set
  (a literal ``env[].value`` beside our ``valueFrom`` makes the object invalid) and conflicts with
  every field kubectl set to another value (``patchForce`` is false outside a preview).
* The ``import`` resource option reads the live object into the state, then the engine diffs it
  against the program and updates it in the same deployment (pulumi 3.174+,
  ``stepGenerator.continueStepsFromImport`` in ``pkg/resource/deploy/step_generator.go``). The
  update is a server-side apply *update*, which first hands every field owned by ``kubectl*`` and
  ``before-first-apply`` managers to Pulumi's manager (``fixCSAFieldManagers`` in ``await.go``),
  so the applied object is exactly ours: kubectl's leftovers are removed. Its *preview* skips that
  hand-over and conflicts with kubectl's fields unless forced: :func:`provider_settings`.

So adoption imports. An imported resource must not need a replacement ("previously-imported
resources that still specify an ID may not be replaced", ``continueStepsFromDiff``), hence:
the import reads the server's ``spec.clusterIP`` into a Service's inputs, and the provider
replaces a Service whose clusterIP changes (``forceNewProperties``): every Service ignores
changes to it; ConfigMap and Secret data must be mutable (the provider's
``enableConfigMapMutable``/``enableSecretMutable``, set in ``__main__.py``: else a data change
replaces them); StatefulSet ``redis`` is replaced by the runbook, not imported. And the imported
Services target port numbers in that run (:func:`numeric_target_ports`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from . import config

PATCH_FORCE = "pulumi.com/patchForce"
#: A Service's clusterIP is set by the API server; an import puts it into the inputs.
SERVICE_IGNORE = ("spec.clusterIP",)
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterIssuer"})
#: Kinds whose ``.spec.replicas`` this program decides and takes back from ``kubectl scale``: the
#: ``scale`` subresource records it under kubectl's manager with subresource ``scale``, which
#: ``fixCSAFieldManagers`` does not hand over (fluxcd ssa ``matchFieldManager`` skips entries with
#: a subresource), so without force the next update of the object conflicts. The PDBs, the
#: capacity policy and Sentinel's quorum are sized from the configured count.
FORCED_KINDS = frozenset({"Deployment", "StatefulSet"})


def import_id(ref: str, namespace: str) -> str:
    """pulumi-kubernetes' import ID of ``Kind/name``: ``<namespace>/<name>``, or ``<name>`` cluster-wide."""
    kind, name = ref.split("/", 1)
    return name if kind in CLUSTER_SCOPED else f"{namespace}/{name}"


def numeric_target_ports(spec: dict[str, Any]) -> dict[str, Any]:
    """The Service's ``targetPort`` names replaced by the port numbers, for the adoption run.

    kubectl's pods declare unnamed container ports: a Service that targets a port *name* has no
    endpoint on them (the EndpointSlice controller skips a pod without the named port), so
    updating the Service before the new pods are Ready would empty it (web, API) or drop the
    Redis pods' DNS names (headless). Every Service here serves on its container's port number,
    which the old and the new pods both expose; the next run names the ports again.
    """
    ports = [{**p, "targetPort": p["port"]} for p in spec.get("ports", [])]
    return {**spec, "ports": ports}


def provider_settings(adopt: config.Adopt) -> dict[str, Any]:
    """Settings of both providers: ``enablePatchForce`` for the adoption run only.

    The run's preview is the provider's ``ssaUpdate`` with ``c.Preview``, where
    ``fixCSAFieldManagers`` returns early (``provider/pkg/await/await.go``): kubectl's fields are
    still kubectl's, and ``patchForce`` forces in a preview only for the provider's own
    client-side managers, so the dry-run apply conflicts on every field kubectl set to another
    value (7 of the 15 objects of the spec's cluster) and ``pulumi up`` stops before it updates.
    Forcing takes only fields this program sets; on these objects the other managers are the
    controllers, which write ``status`` (a subresource: no conflict) or annotations this program
    does not set, and ``kubectl scale``'s ``.spec.replicas``, which the program takes back on
    purpose (docs/adoption.md). Changing the setting updates the provider and replaces nothing
    (``DiffConfig`` replaces only on a cluster change), and after the run it is off again, so a
    conflict with another manager stops ``pulumi up`` as before.
    """
    return {"enable_patch_force": adopt.enabled}


class Adoption:
    """A resource transformation (given to every component, inherited by their children):
    imports the listed objects when adopting, forces where asked and on workloads (their replicas),
    keeps Services' clusterIP."""

    def __init__(self, adopt: config.Adopt, namespace: str):
        self.adopt = adopt
        self.namespace = namespace
        self.matched: set[str] = set()

    def transform(self, args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("kubernetes:") or args.type_.startswith("kubernetes:helm"):
            return None
        props = dict(args.props)
        kind, metadata = props.get("kind"), props.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(kind, str):
            return None
        ref = f"{kind}/{metadata.get('name')}"
        extra: pulumi.ResourceOptions | None = None  # ResourceOptions.merge takes None for none
        if kind == "Service":
            extra = pulumi.ResourceOptions(ignore_changes=list(SERVICE_IGNORE))
        if self.adopt.enabled and ref in self.adopt.objects:
            self.matched.add(ref)
            extra = pulumi.ResourceOptions.merge(
                extra, pulumi.ResourceOptions(import_=import_id(ref, self.namespace))
            )
            if kind == "Service":
                props["spec"] = numeric_target_ports(props["spec"])
        if kind in FORCED_KINDS or (self.adopt.enabled and ref in self.adopt.force):
            annotations = {**(metadata.get("annotations") or {}), PATCH_FORCE: "true"}
            props["metadata"] = {**metadata, "annotations": annotations}
        return pulumi.ResourceTransformationResult(props, pulumi.ResourceOptions.merge(args.opts, extra))

    def unmatched(self) -> list[str]:
        """Listed objects the program does not manage (a typo, or a switched-off feature)."""
        return [ref for ref in self.adopt.objects if ref not in self.matched] if self.adopt.enabled else []

    def warn_unmatched(self) -> None:
        """A listed object the program does not create is not imported: nothing happens to it."""
        for ref in self.unmatched():
            pulumi.log.warn(f"{config.NAMESPACE}:adopt.objects: {ref!r} is not an object of this program; not imported")
