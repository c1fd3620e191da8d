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

The tables and the per-object rules are in ``tests/engine_rules.py``; the planning is here.

API: :func:`plan` (``before``/``after`` recordings from ``render.run_program``, ``live`` objects
already in the cluster) returns ``{urn: Step}``; :func:`by_object` re-keys it by ``(kind, name)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from gushen_infra.render import Recorded, plain

from .engine_rules import (  # noqa: F401 (re-exported: the model's API)
    FORCE_NEW, PATCH_FORCE, SKIP_AWAIT, WAIT_FOR_FIRST_CONSUMER, ProviderFlags, annotated, changed_paths, claim_class,
    dotted_paths, force_new, group_version, ignored, on_branch, preview_conflicts, refused_resize, show,
)

#: Step operations. ``fail`` means ``pulumi up`` would stop there (protected, AlreadyExists).
SAME, UPDATE, REPLACE, CREATE, DELETE, RETAIN, ADOPT, FAIL = (
    "same", "update", "replace", "create", "delete", "retain", "adopt", "fail",
)
PROVIDER_TYPE = "pulumi:providers:kubernetes"


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


def _replace_reasons(
    rec: Recorded, paths: Iterable[tuple], flags: ProviderFlags
) -> list[str]:
    """Which changed paths replace ``rec`` (provider force-new rules, then ``replaceOnChanges``)."""
    if not rec.type.startswith("kubernetes:"):
        # pulumi-random marks every input of RandomPassword ForceNew.
        return [show(p) for p in paths] if rec.type.startswith("random:") else []
    patterns = force_new(plain(rec.inputs), flags)
    roc = dotted_paths(*(f".{p}" for p in rec.options.get("replaceOnChanges", [])))
    out = []
    for p in paths:
        if any(on_branch(p, f) for f in patterns):
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
                conflicts = preview_conflicts(rec, live[ident], flags_of(rec)) \
                    if preview and rec.options.get("importId") else []
                if conflicts:
                    steps[urn] = _step(rec, FAIL, conflicts)
                elif rec.options.get("importId"):
                    steps[urn] = _step(rec, ADOPT, ["exists in the cluster: import adopts it"])
                elif flags_of(rec).upsert:
                    steps[urn] = _step(rec, ADOPT, ["exists in the cluster: upsertExistingObjects adopts it"])
                    if ident[0] == "PersistentVolumeClaim" and claim_class(rec) in WAIT_FOR_FIRST_CONSUMER \
                            and not annotated(rec, SKIP_AWAIT):
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
        paths = [p for p in changed_paths(plain(prev.inputs), plain(rec.inputs)) if not ignored(p, rec)]
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
        elif refused_resize(rec, paths):
            steps[urn] = _step(rec, FAIL, refused_resize(rec, paths))
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
