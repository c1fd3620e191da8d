"""What the real engine and pulumi-kubernetes 4.34 would do with a change: a model of their plan.

The mocks (``gushen_infra.render.RecordingMonitor``) record what the engine *receives*: each
resource's inputs, per-property dependencies and options. This module turns two such
recordings (before and after a change) into the steps ``pulumi up`` would take, object by
object, using the rules of the engine and the provider as their source states them:

* Provider replacement rules, ``provider/pkg/provider/diff.go`` in pulumi-kubernetes
  (``forceNewProperties`` and the ``forceNew`` table): ``.metadata.name``/``.namespace`` always;
  Secret ``.type``/``.data``/``.stringData`` and ConfigMap ``.data``/``.binaryData`` unless
  ``enableSecretMutable``/``enableConfigMapMutable`` is on (and the object is not
  ``immutable``); Deployment/DaemonSet ``.spec.selector``; StatefulSet ``podManagementPolicy``,
  ``revisionHistoryLimit``, ``selector``, ``serviceName``, ``volumeClaimTemplates``; Service
  ``.spec.clusterIP``; PVC ``accessModes``/``selector``/``storageClassName``/``volumeName``;
  Job ``completions``/``parallelism``/``selector``/``template``; policy/v1beta1 PDB ``.spec``
  (not policy/v1); StorageClass ``parameters``/``provisioner``; RoleBinding ``roleRef``.
  Custom resources: name and namespace only. Nothing else of a Service is force-new (a ``type``
  change is an update the API server may reject); CronJob and policy/v1 PDB are absent from the
  table, so they always update in place.
* A changed field under a force-new path is a replacement (``convertPatchToDiff`` with
  ``openapi.PatchPropertiesChanged``); delete-before-replace when the new object keeps its
  user-set name and namespace (``kubeProvider.Diff``, "Delete before replacement if ...").
* The provider itself (``kubeProvider.DiffConfig``): a changed ``clusterIdentifier`` replaces it;
  so does a changed ``renderYamlToDirectory`` (or, without ``clusterIdentifier``, a changed
  active cluster), except that with a ``clusterIdentifier`` set and unchanged a deferred function
  clears every replace ("we ignore replacements when the identifier is unchanged"). Any other
  setting (``enablePatchForce``, ...) updates it.
  Every resource of a replaced provider is replaced (``stepGenerator.providerChanged`` in
  pulumi's ``pkg/resource/deploy/step_generator.go``).
* The engine (``pkg/resource/deploy/step_generator.go``): ``replaceOnChanges`` forces a
  replacement (``applyReplaceOnChanges``); the ``deleteBeforeReplace`` option overrides the
  provider's choice (``continueStepsFromDiff``); a protected resource cannot be replaced or
  deleted (same function and ``GenerateDeletes``); a delete-before-replace walks the old
  dependents (``calculateDependentReplacements``): a dependent any of whose top-level inputs
  came from a resource in the replace set gets those inputs as *unknown* and is diffed again; if
  that diff replaces it, it joins the replace set (and is deleted first). A dependent whose
  protected flag is set stops the update. The dependent diff is taken conservatively: an unknown
  top-level input (``spec``) replaces the object when a force-new path lies under it
  (pulumi-kubernetes issue 1567 shows Deployments replaced this way).
* Values are compared as ``pulumi up`` sees them, known (a preview may show more unknowns). A
  replaced ``RandomPassword`` (``--replace``, or changed inputs: pulumi-random makes them all
  ForceNew) has a new ``result``: record the "after" run with mocks that return a new one, and its
  consumers show the change (the tests' ``rotated`` mocks).
* ``ignoreChanges`` (the engine's ``processIgnoreChanges``, then ``kubeProvider.Diff`` drops the
  ignored paths again): a change under an ignored path is no change.
* A resource whose last update failed to become ready (an await timeout: the engine keeps its
  ``InitErrors``) is updated again by the next ``up`` even without a diff (``hasInitErrors`` in
  ``stepGenerator.continueStepsFromDiff``; replaced only with ``replaceOnChanges: ["*"]``).
* Conflicts in a preview only (``plan(..., preview=True)``): an imported object's update
  dry-run runs without ``fixCSAFieldManagers`` (it returns early in a preview), so each field
  kubectl set to another value than ours conflicts with ``kubectl-client-side-apply`` unless
  ``patchForce`` forces (the ``pulumi.com/patchForce`` annotation or the provider's
  ``enablePatchForce``); ``up`` hands those fields over first and does not conflict.
* The claim await (``untilCoreV1PersistentVolumeClaimReady``, ``await/awaiters.go``): after a
  create, a claim of a WaitForFirstConsumer class (K3s's ``local-path``) must be Pending, and it
  waits a fixed 5 minutes; an adopted claim that is Bound fails ``up`` unless
  ``pulumi.com/skipAwait``. A claim in ``live`` is taken as Bound (one that a pod used).
* A claim's storage request is not in the ``forceNew`` table, so a resize is an update, which
  the API server refuses for a class without ``allowVolumeExpansion`` (``local-path``):
  ``up`` fails on it.
* A removed resource is deleted unless ``retainOnDelete`` (then it stays in the cluster); a new
  one whose object already exists fails with AlreadyExists unless the provider has
  ``upsertExistingObjects`` or the resource an ``import`` id (4.34: ``upsertExistingObjects``
  docstring in ``pulumi_kubernetes/provider.py``; ``await.Creation``).

API: :func:`plan` (``before``/``after`` recordings from ``render.run_program``, ``live`` objects
already in the cluster) returns ``{urn: Step}``; :func:`by_object` re-keys it by ``(kind, name)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from gushen_infra.render import Recorded, plain

#: Step operations. ``fail`` means ``pulumi up`` would stop there (protected, AlreadyExists).
SAME, UPDATE, REPLACE, CREATE, DELETE, RETAIN, ADOPT, FAIL = (
    "same", "update", "replace", "create", "delete", "retain", "adopt", "fail",
)
PROVIDER_TYPE = "pulumi:providers:kubernetes"

_LABEL_SELECTOR = ("matchExpressions", "matchLabels")
_CONTAINER = (
    "args", "command", "env", "image", "imagePullPolicy", "lifecycle", "livenessProbe", "ports", "readinessProbe",
    "resources", "securityContext", "stdin", "stdinOnce", "terminationMessagePath", "terminationMessagePolicy",
    "tty", "volumeDevices", "volumeMounts", "workingDir",
)
_POD = (
    "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy", "enableServiceLinks", "hostAliases",
    "hostIPC", "hostNetwork", "hostPID", "hostname", "imagePullSecrets", "nodeName", "nodeSelector", "overhead",
    "preemptionPolicy", "priority", "priorityClassName", "readinessGates", "restartPolicy", "runtimeClassName",
    "schedulerName", "securityContext", "serviceAccount", "serviceAccountName", "shareProcessNamespace",
    "subdomain", "terminationGracePeriodSeconds", "volumes",
)


def _paths(*dotted: str) -> list[tuple[str, ...]]:
    return [tuple(p.replace("[*]", ".*").strip(".").split(".")) for p in dotted]


def _selector(prefix: str) -> list[tuple[str, ...]]:
    return _paths(prefix, *(f"{prefix}.{k}" for k in _LABEL_SELECTOR))


#: diff.go's ``forceNew`` table, by (group, version) then kind ("" and "core" are the core group).
_APPS = {
    "DaemonSet": _selector(".spec.selector"),
    "Deployment": _selector(".spec.selector"),
    "StatefulSet": _paths(
        ".spec.podManagementPolicy", ".spec.revisionHistoryLimit", ".spec.serviceName", ".spec.volumeClaimTemplates"
    ) + _selector(".spec.selector"),
}
_JOB = _paths(".spec.completions", ".spec.parallelism", ".spec.template") + _selector(".spec.selector")
_CORE = {
    "PersistentVolumeClaim": _paths(
        ".spec.accessModes", ".spec.storageClassName", ".spec.volumeName"
    ) + _selector(".spec.selector"),
    "Pod": _paths(*(f".spec.{f}" for f in _POD))
    + _paths(*(f".spec.{c}[*].{f}" for c in ("containers", "initContainers") for f in _CONTAINER)),
    "ResourceQuota": _paths(".spec.scopes"),
    "Secret": _paths(".type"),
    "Service": _paths(".spec.clusterIP"),
}
FORCE_NEW: dict[tuple[str, str], dict[str, list[tuple[str, ...]]]] = {
    ("apps", "v1"): _APPS, ("apps", "v1beta2"): _APPS,
    ("apps", "v1beta1"): {"StatefulSet": _APPS["StatefulSet"]},
    ("", "v1"): _CORE, ("core", "v1"): _CORE,
    ("policy", "v1beta1"): {"PodDisruptionBudget": _paths(".spec")},
    ("rbac.authorization.k8s.io", "v1"): {"ClusterRoleBinding": _paths(".roleRef"), "RoleBinding": _paths(".roleRef")},
    ("storage.k8s.io", "v1"): {"StorageClass": _paths(".parameters", ".provisioner")},
    ("batch", "v1"): {"Job": _JOB},
}


#: StorageClasses of the cluster (K3s's): WaitForFirstConsumer, no ``allowVolumeExpansion``.
WAIT_FOR_FIRST_CONSUMER = frozenset({"local-path"})
NOT_EXPANDABLE = frozenset({"local-path"})
DEFAULT_STORAGE_CLASS = "local-path"
PATCH_FORCE, SKIP_AWAIT = "pulumi.com/patchForce", "pulumi.com/skipAwait"


@dataclass(frozen=True)
class ProviderFlags:
    """The explicit kubernetes provider's settings that change the plan."""

    config_map_mutable: bool = False
    secret_mutable: bool = False
    upsert: bool = False
    patch_force: bool = False

    @classmethod
    def of(cls, rec: Optional[Recorded]) -> "ProviderFlags":
        inputs = plain(rec.inputs) if rec else {}
        on = lambda key: str(inputs.get(key, "")).lower() == "true"  # noqa: E731 (provider inputs are strings)
        return cls(on("enableConfigMapMutable"), on("enableSecretMutable"), on("upsertExistingObjects"),
                   on("enablePatchForce"))


@dataclass(frozen=True)
class Step:
    """What ``pulumi up`` does with one resource."""

    op: str
    """One of same, update, replace, create, delete, retain (left in the cluster), adopt (created over an
    existing object), fail (the engine or provider stops the update)."""
    reasons: tuple[str, ...] = ()
    """Why: the changed paths that force a replacement, the resource whose replacement propagated, ..."""
    kind: str = ""
    name: str = ""
    delete_before_replace: bool = False


def group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def force_new(inputs: Mapping[str, Any], flags: ProviderFlags) -> list[tuple[str, ...]]:
    """``kubeProvider.forceNewProperties``: the paths whose change replaces this object."""
    props = _paths(".metadata.name", ".metadata.namespace")
    key = group_version(str(inputs.get("apiVersion", "")))
    kind = str(inputs.get("kind", ""))
    if key not in FORCE_NEW:
        return props
    immutable = bool(inputs.get("immutable"))
    kinds = FORCE_NEW[key]
    if kind == "Secret" and (not flags.secret_mutable or immutable):
        return props + _paths(".type", ".stringData", ".data")
    if kind in kinds:
        return props + kinds[kind]
    if kind == "ConfigMap" and (not flags.config_map_mutable or immutable):
        return props + _paths(".binaryData", ".data")
    return props


def _matches(path: tuple, pattern: tuple[str, ...]) -> bool:
    """``pattern`` (with ``*`` for any list index) lies on ``path``'s branch: one contains the other."""
    for a, b in zip(path, pattern):
        if b == "*" and isinstance(a, int):
            continue
        if a != b:
            return False
    return True


def changed_paths(old: Any, new: Any, path: tuple = ()) -> list[tuple]:
    """Leaf paths where two plain values differ (a list of another length differs as a whole)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[tuple] = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                out.append(path + (key,))
            else:
                out += changed_paths(old[key], new[key], path + (key,))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out += changed_paths(a, b, path + (i,))
        return out
    return [] if old == new else [path]


def show(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _replace_reasons(
    rec: Recorded, paths: Iterable[tuple], flags: ProviderFlags
) -> list[str]:
    """Which changed paths replace ``rec`` (provider force-new rules, then ``replaceOnChanges``)."""
    if not rec.type.startswith("kubernetes:"):
        # pulumi-random marks every input of RandomPassword ForceNew.
        return [show(p) for p in paths] if rec.type.startswith("random:") else []
    patterns = force_new(plain(rec.inputs), flags)
    roc = _paths(*(f".{p}" for p in rec.options.get("replaceOnChanges", [])))
    out = []
    for p in paths:
        if any(_matches(p, f) for f in patterns):
            out.append(f"{show(p)} (provider: force-new)")
        elif any(r == ("*",) or p[: len(r)] == r for r in roc):
            out.append(f"{show(p)} (replaceOnChanges)")
    return out


def _delete_before_replace(old: Recorded, new: Recorded) -> bool:
    option = new.options.get("deleteBeforeReplace")
    if option is not None:
        return bool(option)
    if not new.type.startswith("kubernetes:"):
        return False
    om, nm = plain(old.inputs).get("metadata") or {}, plain(new.inputs).get("metadata") or {}
    return bool(nm.get("name")) and om.get("name") == nm.get("name") and om.get("namespace") == nm.get("namespace")


def _ident(rec: Recorded) -> tuple[str, str, str]:
    inputs = plain(rec.inputs)
    meta = inputs.get("metadata") or {}
    return str(inputs.get("kind", rec.type)), str(meta.get("namespace", "")), str(meta.get("name", rec.name))


def _step(rec: Recorded, op: str, reasons: Sequence[str] = (), dbr: bool = False) -> Step:
    kind, _, name = _ident(rec)
    return Step(op, tuple(reasons), kind, name, dbr)


def _provider_replaced(old: Recorded, new: Recorded) -> list[str]:
    """``kubeProvider.DiffConfig`` on the recorded provider inputs."""
    o, n = plain(old.inputs), plain(new.inputs)
    out = []
    if o.get("clusterIdentifier") != n.get("clusterIdentifier") and o.get("clusterIdentifier") and n.get("clusterIdentifier"):
        out.append("clusterIdentifier")
    if o.get("clusterIdentifier") == n.get("clusterIdentifier") and n.get("clusterIdentifier"):
        return []  # the deferred reset of resp.Replaces
    if o.get("renderYamlToDirectory") != n.get("renderYamlToDirectory"):
        out.append("renderYamlToDirectory")
    if not n.get("clusterIdentifier"):
        out += [k for k in ("kubeconfig", "context", "cluster") if o.get(k) != n.get(k)]
    return out


def _annotation(rec: Recorded, key: str) -> bool:
    meta = plain(rec.inputs).get("metadata") or {}
    return str((meta.get("annotations") or {}).get(key, "")).lower() == "true"


def _ignored(path: tuple, rec: Recorded) -> bool:
    return any(path[: len(p)] == p for p in _paths(*(f".{i}" for i in rec.options.get("ignoreChanges", []))))


def _claim_class(rec: Recorded) -> str:
    return (plain(rec.inputs).get("spec") or {}).get("storageClassName") or DEFAULT_STORAGE_CLASS


def _refused_resize(rec: Recorded, paths: Iterable[tuple]) -> list[str]:
    """A claim's storage request changed on a class that cannot expand: the API server refuses the update."""
    if plain(rec.inputs).get("kind") != "PersistentVolumeClaim" or _claim_class(rec) not in NOT_EXPANDABLE:
        return []
    return [f"{show(p)}: the API server refuses the resize ({_claim_class(rec)} has no allowVolumeExpansion)"
            for p in paths if p[:3] == ("spec", "resources", "requests")]


def _preview_conflicts(rec: Recorded, live: Any, flags: ProviderFlags) -> list[str]:
    """An imported object's update dry-run: the fields kubectl set to other values than ours conflict."""
    if flags.patch_force or _annotation(rec, PATCH_FORCE) or not isinstance(live, Mapping):
        return []
    ours = plain(rec.inputs)
    theirs = {k: live[k] for k in ours if k in live}
    paths = [p for p in _conflicts(theirs, ours) if not _ignored(p, rec) and (p[0] != "metadata" or p[1] == "labels")]
    return [f"{show(p)}: conflicts with kubectl-client-side-apply in the preview" for p in paths]


#: Merge keys of the map-lists here (the schema's ``x-kubernetes-list-map-keys``/patch merge keys):
#: their items are matched by key, not by position; any other list is atomic.
_MERGE_KEYS = ("name", "port", "containerPort", "mountPath")


def _conflicts(theirs: Any, ours: Any, path: tuple = ()) -> list[tuple]:
    """Fields both set to different values: one only kubectl set, or only we set, is no conflict."""
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        return [p for k in ours if k in theirs for p in _conflicts(theirs[k], ours[k], path + (k,))]
    if isinstance(theirs, list) and isinstance(ours, list) and ours and all(isinstance(i, Mapping) for i in theirs + ours):
        key = next((k for k in _MERGE_KEYS if all(k in i for i in theirs + ours)), None)
        if key is not None:
            mine = {i[key]: i for i in theirs}
            return [p for n, i in enumerate(ours) if i[key] in mine for p in _conflicts(mine[i[key]], i, path + (n,))]
    return [] if theirs == ours else [path]



def plan(
    before: Optional[Sequence[Recorded]],
    after: Sequence[Recorded],
    live: Optional[Mapping[tuple[str, str, str], Any]] = None,
    replace: Iterable[str] = (),
    unready: Iterable[str] = (),
    preview: bool = False,
) -> dict[str, Step]:
    """The steps of ``pulumi up`` from state ``before`` (``None``: a first up) to program ``after``.

    ``live``: objects already in the cluster, keyed ``(kind, namespace, name)`` (cluster-scoped
    objects with namespace ``""``), for the first up (the object itself, or ``True``).
    ``replace``: URNs given to ``--replace``. ``unready``: URNs whose last update failed to become
    ready. ``preview``: the plan of ``pulumi preview`` (conflicts of imported objects).
    Components are left out: they have no provider and no steps of their own.
    """
    old = {r.urn: r for r in before or () if _custom(r)}
    new = {r.urn: r for r in after if _custom(r)}
    live = live or {}
    forced = set(replace)
    providers = {r.urn: ProviderFlags.of(r) for r in after if r.type == PROVIDER_TYPE}

    def flags_of(rec: Recorded) -> ProviderFlags:
        return providers.get(_provider_urn(rec.provider or ""), ProviderFlags())
    steps: dict[str, Step] = {}
    replaced_providers: set[str] = set()

    for urn, rec in new.items():  # registration order: dependencies come first
        prev = old.get(urn)
        if prev is None:
            ident = _ident(rec)
            if rec.type.startswith("kubernetes:") and ident in live:
                conflicts = _preview_conflicts(rec, live[ident], flags_of(rec)) \
                    if preview and rec.options.get("importId") else []
                if conflicts:
                    steps[urn] = _step(rec, FAIL, conflicts)
                elif rec.options.get("importId"):
                    steps[urn] = _step(rec, ADOPT, ["exists in the cluster: import adopts it"])
                elif flags_of(rec).upsert:
                    steps[urn] = _step(rec, ADOPT, ["exists in the cluster: upsertExistingObjects adopts it"])
                    if ident[0] == "PersistentVolumeClaim" and _claim_class(rec) in WAIT_FOR_FIRST_CONSUMER \
                            and not _annotation(rec, SKIP_AWAIT):
                        steps[urn] = _step(rec, FAIL, [
                            "adopted claim is Bound: the create await of a WaitForFirstConsumer claim wants "
                            "Pending and times out after 5 minutes (no pulumi.com/skipAwait)"])
                else:
                    steps[urn] = _step(rec, FAIL, ["exists in the cluster: AlreadyExists (no upsert, no import)"])
            else:
                steps[urn] = _step(rec, CREATE)
            continue
        if rec.provider and _provider_urn(rec.provider) in replaced_providers:
            steps[urn] = _guard(prev, _step(rec, REPLACE, ["its provider is replaced"], True), rec)
            continue
        paths = [p for p in changed_paths(plain(prev.inputs), plain(rec.inputs)) if not _ignored(p, rec)]
        if rec.type == PROVIDER_TYPE:
            why = _provider_replaced(prev, rec)
            if why:
                steps[urn] = _step(rec, REPLACE, why)
                replaced_providers.add(urn)
            else:
                steps[urn] = _step(rec, UPDATE if paths else SAME, [show(p) for p in paths])
            continue
        reasons = _replace_reasons(rec, paths, flags_of(rec))
        if urn in forced:
            reasons.append("--replace")
        if urn in unready and "*" in rec.options.get("replaceOnChanges", []):
            reasons.append("its last update did not become ready (replaceOnChanges: *)")
        if reasons:
            steps[urn] = _guard(prev, _step(rec, REPLACE, reasons, _delete_before_replace(prev, rec)), rec)
        elif _refused_resize(rec, paths):
            steps[urn] = _step(rec, FAIL, _refused_resize(rec, paths))
        elif urn in unready:
            steps[urn] = _step(rec, UPDATE, ["its last update did not become ready: updated again", *map(show, paths)])
        else:
            steps[urn] = _step(rec, UPDATE if paths else SAME, [show(p) for p in paths])

    _propagate(old, new, steps, flags_of)
    for urn, prev in old.items():
        if urn not in new:
            if prev.options.get("protect"):
                steps[urn] = _step(prev, FAIL, ["protected: cannot be deleted"])
            elif prev.options.get("retainOnDelete"):
                steps[urn] = _step(prev, RETAIN, ["retainOnDelete: removed from the state, left in the cluster"])
            else:
                steps[urn] = _step(prev, DELETE)
    return steps


def _custom(rec: Recorded) -> bool:
    return rec.type.startswith(("kubernetes:", "random:", "pulumi:providers:"))


def _provider_urn(ref: str) -> str:
    """The URN of a provider reference ``<urn>::<id>``."""
    return ref.rsplit("::", 1)[0] if "::" in ref else ref


def _guard(prev: Recorded, step: Step, new: Optional[Recorded] = None) -> Step:
    """A protected resource cannot be replaced: the engine stops. ``continueStepsFromDiff`` refuses
    when the old state *and* the program protect it (``pulumi state unprotect`` lifts it for one
    update); the dependent-replace walk refuses on the old state's flag alone."""
    protected = prev.options.get("protect") and (new is None or new.options.get("protect"))
    if protected and step.op == REPLACE:
        return Step(FAIL, ("protected: cannot be replaced", *step.reasons), step.kind, step.name, step.delete_before_replace)
    return step


def _propagate(
    old: Mapping[str, Recorded], new: Mapping[str, Recorded], steps: dict[str, Step],
    flags_of: Callable[[Recorded], ProviderFlags],
) -> None:
    """``calculateDependentReplacements`` for every delete-before-replace, over the *old* dependency graph."""
    roots = [u for u, s in steps.items() if s.delete_before_replace and s.op in (REPLACE, FAIL)]
    for root in roots:
        replace_set = {root}
        for urn, rec in old.items():  # old registration order is dependency order
            if urn in replace_set or urn not in new:
                continue
            unknown = [k for k, deps in rec.property_dependencies.items() if replace_set.intersection(deps)]
            if not unknown:
                continue
            reasons = _replace_reasons(new[urn], [(k,) for k in unknown], flags_of(new[urn]))
            if not reasons:
                continue
            replace_set.add(urn)
            kind, _, name = _ident(old[root])
            why = f"reads {kind}/{name} (replaced delete-before-replace): " + ", ".join(reasons)
            current = steps.get(urn)
            extra = current.reasons if current and current.op in (REPLACE, FAIL) else ()
            steps[urn] = _guard(rec, _step(new[urn], REPLACE, [why, *extra], True))


def by_object(steps: Mapping[str, Step]) -> dict[tuple[str, str], Step]:
    """The plan keyed by ``(kind, name)`` (names are unique per kind in this stack)."""
    return {(s.kind, s.name): s for s in steps.values()}


def changes(steps: Mapping[str, Step]) -> dict[tuple[str, str], Step]:
    """Only the objects that do something (not ``same``)."""
    return {k: s for k, s in by_object(steps).items() if s.op != SAME}
