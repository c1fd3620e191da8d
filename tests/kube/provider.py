"""Requests as pulumi-kubernetes sends them, read from its source; every kube-tier test goes through here.

Source: github.com/pulumi/pulumi-kubernetes, ``provider/pkg`` at commit 94977969d, the newest
snapshot available offline: its CHANGELOG's last release is 4.32.0 while the program pins 4.34.2,
so re-read these functions at tag v4.34.2 when it can be fetched. The provider runs with
``enableServerSideApply`` (``__main__.py``). Not played: the preview of an upsert that meets an
immutable field retries under a generated name (``Creation``). What is played:

* Field manager: ``kubeProvider.fieldManagerName`` (``provider/provider.go``): the
  ``pulumi.com/patchFieldManager`` annotation, else the name kept in the resource's state, else
  ``pulumi-kubernetes-`` plus random characters chosen in ``Check`` (so one name per resource).
* Create (``await.Creation``, ``await/await.go``): a server-side apply only when the provider has
  ``upsertExistingObjects``; otherwise a plain POST with the static manager ``pulumi-kubernetes``
  (an Update entry), so an existing object fails with AlreadyExists. A preview sends the same
  request with ``dryRun=All``; a preview of an object whose namespace does not exist yet is not
  an error (``IsNamespaceNotFoundErr`` -> ``namespaceError``): :data:`NAMESPACE_MISSING`.
* Update (``ssaUpdate``): first ``fixCSAFieldManagers`` hands the fields of kubectl's and CSA's
  managers to ours with a JSON patch of ``managedFields`` (skipped in preview and when the object
  has no managed fields), then a server-side apply, ``force`` from ``patchForce``.
* ``patchForce`` (``await.go``): the ``pulumi.com/patchForce`` annotation, the provider's
  ``enablePatchForce``, or, in a preview only, no live object or a live CSA manager of the provider.
* Delete (``await.Deletion``): propagation ``Foreground`` unless the
  ``pulumi.com/deletionPropagationPolicy`` annotation says ``orphan``/``background``
  (``metadata.DeletionPropagation``), then wait until the object is gone. Delete-before-replace
  (the engine, for fixed names) is :meth:`Provider.replace`.
* Await (``await/awaiters.go`` table, ``deployment.go``, ``statefulset.go``, ``service.go``):
  :func:`ready` and :data:`DEFAULT_TIMEOUTS`; ``pulumi.com/timeoutSeconds`` overrides a timeout
  and ``pulumi.com/skipAwait`` skips it (``metadata/overrides.go``).
"""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError

PATCH_FORCE = "pulumi.com/patchForce"
PATCH_FIELD_MANAGER = "pulumi.com/patchFieldManager"
DELETION_PROPAGATION = "pulumi.com/deletionPropagationPolicy"
SKIP_AWAIT = "pulumi.com/skipAwait"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"
#: The client-side manager name (``await.Creation``'s create, and CSA mode).
CSA_FIELD_MANAGER = "pulumi-kubernetes"
#: (manager name prefix, operation) of the entries ``fixCSAFieldManagers`` hands to the provider's
#: SSA manager: fluxcd ``ssa.PatchReplaceFieldsManagers`` matches ``strings.HasPrefix(entry.Manager,
#: name)`` and only entries without a subresource (``matchFieldManager``), so kubectl's
#: ``kubectl-client-side-apply``, ``kubectl-edit``, ``kubectl-set`` are handed over and
#: ``kubectl-scale`` (the ``scale`` subresource) is not.
HANDED_OVER = (
    ("kubectl", "Apply"), ("kubectl", "Update"), ("before-first-apply", "Update"),
    ("pulumi-kubernetes", "Update"), ("pulumi-kubernetes.exe", "Update"), ("pulumi-resource-kubernetes", "Update"),
)
#: ``patchForce``'s preview-only rule: a live Update entry of one of these managers forces.
_CSA_MANAGERS = ("pulumi-resource-kubernetes", "pulumi-kubernetes", "pulumi-kubernetes.exe")
#: Default await timeouts in seconds: ``DefaultDeploymentTimeoutMins``, ``DefaultStatefulSetTimeoutMins``,
#: ``DefaultServiceTimeoutMins`` (10 min each) and ``untilCoreV1PersistentVolumeClaimReady`` (5 min).
DEFAULT_TIMEOUTS = {"Deployment": 600, "StatefulSet": 600, "Service": 600, "PersistentVolumeClaim": 300}
#: What a preview returns for an object whose namespace is not created yet (the provider shows it
#: as to-be-created without the server having validated it).
NAMESPACE_MISSING = "namespace-missing"


def field_manager_name() -> str:
    """A new SSA manager name as ``fieldManagerName`` makes it (``resource.NewUniqueName``: 8 hex characters)."""
    return "pulumi-kubernetes-" + secrets.token_hex(4)


def _annotation(obj: dict, key: str) -> Optional[str]:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(key)


def patch_force(inputs: dict, live: Optional[dict], enable_patch_force: bool, preview: bool) -> bool:
    """``patchForce`` (``await/await.go``): whether a server-side apply overrides conflicts."""
    if (_annotation(inputs, PATCH_FORCE) or "").lower() == "true" or enable_patch_force:
        return True
    if preview:
        if live is None:
            return True
        return any(m.get("operation") == "Update" and m.get("manager") in _CSA_MANAGERS
                   for m in live["metadata"].get("managedFields") or [])
    return False


def _merge(a: dict, b: dict) -> dict:
    """Union of two ``fieldsV1`` sets (nested maps whose leaves are ``{}``)."""
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def handed_over(live: dict, manager: str) -> Optional[list[dict]]:
    """The ``managedFields`` after ``fixCSAFieldManagers`` (fluxcd ``ssa.PatchReplaceFieldsManagers``), or None if unchanged.

    Every entry of :data:`HANDED_OVER` is removed and its fields merged into ``manager``'s Apply entry.
    """
    entries = live["metadata"].get("managedFields") or []
    taken = [e for e in entries if not e.get("subresource")
             and any((e.get("manager") or "").startswith(name) and e.get("operation") == op for name, op in HANDED_OVER)]
    if not taken:
        return None
    kept = [e for e in entries if e not in taken]
    ours = next((e for e in kept if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    if ours is None:
        ours = {"manager": manager, "operation": "Apply", "apiVersion": live["apiVersion"],
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "fieldsType": "FieldsV1", "fieldsV1": {}}
        kept.append(ours)
    for e in taken:
        ours["fieldsV1"] = _merge(ours.get("fieldsV1") or {}, e.get("fieldsV1") or {})
    return kept


@dataclass
class Provider:
    """One ``kubernetes.Provider`` of the program, talking to the control plane as the real one does."""

    client: DynamicClient
    field_manager: str = field(default_factory=field_manager_name)
    enable_patch_force: bool = False
    upsert_existing_objects: bool = False

    def _resource(self, obj: dict):
        return self.client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])

    def _where(self, obj: dict) -> dict:
        res = self._resource(obj)
        return {"namespace": obj["metadata"].get("namespace")} if res.namespaced else {}

    def manager_for(self, obj: dict, state: Optional[str] = None) -> str:
        """``fieldManagerName``: the annotation, else the name in the state, else this provider's."""
        return _annotation(obj, PATCH_FIELD_MANAGER) or state or self.field_manager

    def get(self, obj: dict) -> Optional[dict]:
        """The live object, or None."""
        try:
            return self._resource(obj).get(name=obj["metadata"]["name"], **self._where(obj)).to_dict()
        except NotFoundError:
            return None

    def create(self, obj: dict, preview: bool = False, manager: Optional[str] = None) -> Any:
        """``await.Creation``: the live object after create (a dry-run's answer in a preview)."""
        res, where = self._resource(obj), self._where(obj)
        dry = {"dry_run": "All"} if preview else {}
        try:
            if self.upsert_existing_objects:
                force = patch_force(obj, None, self.enable_patch_force, preview)
                out = res.server_side_apply(body=obj, name=obj["metadata"]["name"], field_manager=self.manager_for(obj, manager),
                                            force_conflicts=force, query_params=[("fieldValidation", "Warn")], **where, **dry)
            else:
                out = res.create(body=obj, field_manager=CSA_FIELD_MANAGER, **where, **dry)
        except NotFoundError as e:
            if preview and res.namespaced and "namespaces" in str(e.body):
                return NAMESPACE_MISSING
            raise
        return out.to_dict()

    def update(self, obj: dict, preview: bool = False, manager: Optional[str] = None) -> dict:
        """``ssaUpdate``: hand kubectl's fields over (not in preview), then apply with ``patchForce``."""
        res, where = self._resource(obj), self._where(obj)
        name, manager = obj["metadata"]["name"], self.manager_for(obj, manager)
        live = self.get(obj)
        if live is None:
            raise LookupError(f"{obj['kind']}/{name} is not on the cluster: an update needs it")
        if not preview:
            fields = handed_over(live, manager)
            if fields is not None:
                live = res.patch(body=[{"op": "replace", "path": "/metadata/managedFields", "value": fields}],
                                 name=name, content_type="application/json-patch+json", **where).to_dict()
        force = patch_force(obj, live, self.enable_patch_force, preview)
        dry = {"dry_run": "All"} if preview else {}
        return res.server_side_apply(body=obj, name=name, field_manager=manager, force_conflicts=force, **where, **dry).to_dict()

    def delete(self, obj: dict, timeout: float = 60, step: Optional[Callable[[], Any]] = None) -> None:
        """``await.Deletion``: delete with the object's propagation policy and wait until it is gone."""
        res, where = self._resource(obj), self._where(obj)
        policy = {"orphan": "Orphan", "background": "Background"}.get((_annotation(obj, DELETION_PROPAGATION) or "").lower(), "Foreground")
        try:
            res.delete(name=obj["metadata"]["name"], propagation_policy=policy, **where)
        except NotFoundError:
            return
        wait_for(lambda: self.get(obj) is None, timeout, f"{obj['kind']}/{obj['metadata']['name']} deleted", step)

    def replace(self, obj: dict, delete_before_replace: bool = True, step: Optional[Callable[[], Any]] = None) -> Any:
        """The engine's replacement of a fixed-name object: delete, wait until gone, create.

        (Create-before-delete cannot work for a fixed name: the create meets the old object.)
        """
        if not delete_before_replace:
            raise ValueError("create-before-delete of a fixed name fails with AlreadyExists: replace with delete_before_replace")
        self.delete(obj, step=step)
        return self.create(obj)


# --- await -------------------------------------------------------------------------------------


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def deployment_ready(live: dict, replica_sets: list[dict]) -> bool:
    """``deploymentInitAwaiter.checkAndLogStatus``: Available, the new ReplicaSet available (after
    the first revision) and ready (``checkReplicaSetStatus``: readyReplicas >= spec.replicas)."""
    revision = (live["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
    if not revision:
        return False
    cond = _conditions(live)
    available = cond.get("Available", {}).get("status") == "True"
    progressing = cond.get("Progressing", {})
    new_rs_available = progressing.get("status") == "True" and progressing.get("reason") == "NewReplicaSetAvailable"
    current = [rs for rs in replica_sets
               if (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") == revision]
    rs_ready = bool(current) and (current[0].get("status") or {}).get("readyReplicas", 0) >= live["spec"].get("replicas", 1)
    return available and rs_ready and (revision == "1" or new_rs_available)


def statefulset_ready(live: dict) -> bool:
    """``statefulsetInitAwaiter.processStatefulSetEvent`` (``await/statefulset.go``): the status
    observed this generation, ``currentRevision == updateRevision``, and ``replicas``,
    ``readyReplicas`` and ``currentReplicas`` (pods of the current revision) all at the spec's count;
    after the first generation an ``OnDelete`` set needs only the replicas and ready counts.

    ``currentReplicas`` is what keeps the await open while a new StatefulSet replaces pods it adopted:
    the controller starts a new set with ``currentRevision`` = ``updateRevision``, and adopted pods
    of another revision are ready but not current."""
    spec, status = live["spec"], live.get("status") or {}
    generation, want = live["metadata"]["generation"], spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < generation:
        return False
    counted = (status.get("replicas", 0), status.get("readyReplicas", 0))
    if generation > 1 and (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return counted == (want, want)
    revision = bool(status.get("currentRevision")) and status.get("currentRevision") == status.get("updateRevision")
    return revision and counted == (want, want) and status.get("currentReplicas", 0) == want


def service_ready(live: dict, endpoints: Optional[dict]) -> bool:
    """``serviceInitAwaiter``: an address in the Endpoints unless headless, ExternalName or selector-less."""
    spec = live["spec"]
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None" or not spec.get("selector"):
        return True
    return bool(endpoints) and any(s.get("addresses") for s in endpoints.get("subsets") or [])


def pvc_ready(live: dict, binding_mode: str, created: bool) -> bool:
    """``untilCoreV1PersistentVolumeClaimReady``: on create a WaitForFirstConsumer claim is ready Pending."""
    phase = (live.get("status") or {}).get("phase")
    if not created and phase == "Bound":
        return True
    return phase == ("Pending" if binding_mode == "WaitForFirstConsumer" else "Bound")


def ready(provider: Provider, obj: dict, created: bool = True) -> bool:
    """Whether the provider's await for ``obj`` would finish now (kinds without an await: True)."""
    kind, live = obj["kind"], provider.get(obj)
    if live is None:
        return False
    ns = obj["metadata"].get("namespace")
    if kind == "Deployment":
        rs = provider.client.resources.get(api_version="apps/v1", kind="ReplicaSet").get(namespace=ns).to_dict()["items"]
        owned = [r for r in rs if any(o.get("uid") == live["metadata"]["uid"] for o in r["metadata"].get("ownerReferences") or [])]
        return deployment_ready(live, owned)
    if kind == "StatefulSet":
        return statefulset_ready(live)
    if kind == "Service":
        return service_ready(live, provider.get({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": obj["metadata"]["name"], "namespace": ns}}))
    if kind == "PersistentVolumeClaim":
        sc = provider.get({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": live["spec"].get("storageClassName") or ""}})
        return pvc_ready(live, (sc or {}).get("volumeBindingMode", ""), created)
    return True


def timeout_for(obj: dict) -> Optional[float]:
    """The await's timeout in seconds: ``pulumi.com/timeoutSeconds`` or the kind's default (None: no await)."""
    given = _annotation(obj, TIMEOUT_SECONDS)
    return float(given) if given else DEFAULT_TIMEOUTS.get(obj["kind"])


def await_ready(provider: Provider, obj: dict, step: Optional[Callable[[], Any]] = None,
                timeout: Optional[float] = None, created: bool = True) -> float:
    """Wait as the provider does until :func:`ready`; ``step`` (the players) runs between checks. Seconds taken."""
    if (_annotation(obj, SKIP_AWAIT) or "").lower() == "true":
        return 0.0
    limit = timeout if timeout is not None else (timeout_for(obj) or 0)
    return wait_for(lambda: ready(provider, obj, created), limit, f"{obj['kind']}/{obj['metadata']['name']} ready", step)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, step: Optional[Callable[[], Any]] = None) -> float:
    """Poll ``condition`` (stepping the players first) until it holds; seconds taken, TimeoutError after ``timeout``."""
    t0 = time.monotonic()
    while True:
        if step is not None:
            step()
        if condition():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.1)


__all__ = ["Provider", "DynamicApiError", "NAMESPACE_MISSING", "await_ready", "ready", "patch_force",
           "handed_over", "field_manager_name", "timeout_for", "wait_for", "DEFAULT_TIMEOUTS"]
