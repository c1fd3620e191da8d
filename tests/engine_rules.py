"""pulumi-kubernetes' rules that tests/engine_model.py plans with: its ``forceNew`` table, the
provider settings that change a plan, and what the API server does with a request (preview
conflicts of imported objects, the claim await, a refused claim resize). Each is cited in
engine_model's docstring."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from gushen_infra.render import Recorded, plain

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


def dotted_paths(*dotted: str) -> list[tuple[str, ...]]:
    return [tuple(p.replace("[*]", ".*").strip(".").split(".")) for p in dotted]


def _selector(prefix: str) -> list[tuple[str, ...]]:
    return dotted_paths(prefix, *(f"{prefix}.{k}" for k in _LABEL_SELECTOR))


#: diff.go's ``forceNew`` table, by (group, version) then kind ("" and "core" are the core group).
_APPS = {
    "DaemonSet": _selector(".spec.selector"),
    "Deployment": _selector(".spec.selector"),
    "StatefulSet": dotted_paths(
        ".spec.podManagementPolicy", ".spec.revisionHistoryLimit", ".spec.serviceName", ".spec.volumeClaimTemplates"
    ) + _selector(".spec.selector"),
}
_JOB = dotted_paths(".spec.completions", ".spec.parallelism", ".spec.template") + _selector(".spec.selector")
_CORE = {
    "PersistentVolumeClaim": dotted_paths(
        ".spec.accessModes", ".spec.storageClassName", ".spec.volumeName"
    ) + _selector(".spec.selector"),
    "Pod": dotted_paths(*(f".spec.{f}" for f in _POD))
    + dotted_paths(*(f".spec.{c}[*].{f}" for c in ("containers", "initContainers") for f in _CONTAINER)),
    "ResourceQuota": dotted_paths(".spec.scopes"),
    "Secret": dotted_paths(".type"),
    "Service": dotted_paths(".spec.clusterIP"),
}
FORCE_NEW: dict[tuple[str, str], dict[str, list[tuple[str, ...]]]] = {
    ("apps", "v1"): _APPS, ("apps", "v1beta2"): _APPS,
    ("apps", "v1beta1"): {"StatefulSet": _APPS["StatefulSet"]},
    ("", "v1"): _CORE, ("core", "v1"): _CORE,
    ("policy", "v1beta1"): {"PodDisruptionBudget": dotted_paths(".spec")},
    ("rbac.authorization.k8s.io", "v1"): {"ClusterRoleBinding": dotted_paths(".roleRef"), "RoleBinding": dotted_paths(".roleRef")},
    ("storage.k8s.io", "v1"): {"StorageClass": dotted_paths(".parameters", ".provisioner")},
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


def group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def force_new(inputs: Mapping[str, Any], flags: ProviderFlags) -> list[tuple[str, ...]]:
    """``kubeProvider.forceNewProperties``: the paths whose change replaces this object."""
    props = dotted_paths(".metadata.name", ".metadata.namespace")
    key = group_version(str(inputs.get("apiVersion", "")))
    kind = str(inputs.get("kind", ""))
    if key not in FORCE_NEW:
        return props
    immutable = bool(inputs.get("immutable"))
    kinds = FORCE_NEW[key]
    if kind == "Secret" and (not flags.secret_mutable or immutable):
        return props + dotted_paths(".type", ".stringData", ".data")
    if kind in kinds:
        return props + kinds[kind]
    if kind == "ConfigMap" and (not flags.config_map_mutable or immutable):
        return props + dotted_paths(".binaryData", ".data")
    return props


def on_branch(path: tuple, pattern: tuple[str, ...]) -> bool:
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


def annotated(rec: Recorded, key: str) -> bool:
    meta = plain(rec.inputs).get("metadata") or {}
    return str((meta.get("annotations") or {}).get(key, "")).lower() == "true"


def ignored(path: tuple, rec: Recorded) -> bool:
    return any(path[: len(p)] == p for p in dotted_paths(*(f".{i}" for i in rec.options.get("ignoreChanges", []))))


def claim_class(rec: Recorded) -> str:
    return (plain(rec.inputs).get("spec") or {}).get("storageClassName") or DEFAULT_STORAGE_CLASS


def refused_resize(rec: Recorded, paths: Iterable[tuple]) -> list[str]:
    """A claim's storage request changed on a class that cannot expand: the API server refuses the update."""
    if plain(rec.inputs).get("kind") != "PersistentVolumeClaim" or claim_class(rec) not in NOT_EXPANDABLE:
        return []
    return [f"{show(p)}: the API server refuses the resize ({claim_class(rec)} has no allowVolumeExpansion)"
            for p in paths if p[:3] == ("spec", "resources", "requests")]


def preview_conflicts(rec: Recorded, live: Any, flags: ProviderFlags) -> list[str]:
    """An imported object's update dry-run: the fields kubectl set to other values than ours conflict."""
    if flags.patch_force or annotated(rec, PATCH_FORCE) or not isinstance(live, Mapping):
        return []
    ours = plain(rec.inputs)
    theirs = {k: live[k] for k in ours if k in live}
    paths = [p for p in _conflicts(theirs, ours) if not ignored(p, rec) and (p[0] != "metadata" or p[1] == "labels")]
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
