"""The whole stack, indexed once by kind, name and pod label, for the stack policies.

Every lookup is a dict access, so a stack policy costs one pass over the objects it
checks (no nested loops over all resources: the stack may hold thousands of objects).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

from .base import UNKNOWN, Obj, Unknown, get, is_unknown, mapping
from .workloads import KINDS, pod_labels

TRAEFIK_GROUPS = frozenset({"traefik.io", "traefik.containo.us"})
CERT_MANAGER_GROUP = "cert-manager.io"
#: What cert-manager writes into a Certificate's Secret.
CERTIFICATE_KEYS = frozenset({"tls.crt", "tls.key", "ca.crt"})
#: Keys of an object whose data is unknown during preview: any key may exist.
ANY_KEY = frozenset({"*"})
#: Kinds an HPA can scale: those with a ``scale`` subresource (a DaemonSet has none, one pod per node).
SCALABLE = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


class Stack:
    def __init__(self, objects: Iterable[Obj]):
        self.objects = list(objects)
        self.by_kind: dict[str, list[Obj]] = defaultdict(list)
        self._by_key: dict[tuple[str, str, str], Obj] = {}
        self._by_name: dict[tuple[str, str], Obj] = {}
        self._unknown_namespace: dict[tuple[str, str], Obj] = {}
        #: Objects by kind whose name is unknown during preview: any lookup of that kind, in a
        #: namespace they may be in, may be one of them (a Certificate whose secretName is unknown
        #: counts as a Secret: it may be any Secret's).
        self._unnamed: dict[str, list[Obj]] = defaultdict(list)
        # Pod labels by (key, value), and by (namespace, key, value): prod's labels repeat in every
        # namespace (one per environment), so a selector lookup keyed without the namespace
        # would scan every environment's workloads: quadratic in the number of environments.
        self._labels: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        self._labels_in: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
        self._labels_unknown_ns: dict[tuple[str, str], list[Obj]] = defaultdict(list)
        #: Workloads with pod labels unknown during preview (all of them, or some values).
        self._labels_unknown: list[Obj] = []
        self._hpa: dict[tuple[str, str, str], int] = {}
        self._certificates: dict[tuple[str, str], Obj] = {}
        self._certificates_by_name: dict[str, Obj] = {}
        self._certificates_unknown_ns: dict[str, Obj] = {}
        for obj in self.objects:
            self.by_kind[obj.kind].append(obj)
            self._by_key[(obj.kind, obj.namespace or "", obj.name)] = obj
            self._by_name.setdefault((obj.kind, obj.name), obj)
            if obj.namespace is None:
                self._unknown_namespace.setdefault((obj.kind, obj.name), obj)
            if is_unknown(get(obj.body, "metadata", "name")):
                self._unnamed[obj.kind].append(obj)
            if obj.kind in KINDS:
                labels = pod_labels(obj)
                if is_unknown(labels) or any(map(is_unknown, labels.values())):
                    self._labels_unknown.append(obj)
                for key, value in mapping(labels).items():
                    if isinstance(value, str):
                        self._labels[(key, value)].append(obj)
                        if obj.namespace is None:
                            self._labels_unknown_ns[(key, value)].append(obj)
                        else:
                            self._labels_in[(obj.namespace, key, value)].append(obj)
            elif obj.kind == "HorizontalPodAutoscaler":
                target = get(obj.body, "spec", "scaleTargetRef")
                top = get(obj.body, "spec", "maxReplicas")
                kind = get(target, "kind")
                if kind in SCALABLE and isinstance(get(target, "name"), str) and isinstance(top, int):
                    self._hpa[(obj.namespace or "", kind, target["name"])] = top
            elif obj.kind == "Certificate" and obj.group == CERT_MANAGER_GROUP:
                secret = get(obj.body, "spec", "secretName")
                if is_unknown(secret):
                    self._unnamed["Secret"].append(obj)
                elif isinstance(secret, str):
                    self._certificates[(obj.namespace or "", secret)] = obj
                    self._certificates_by_name.setdefault(secret, obj)
                    if obj.namespace is None:
                        self._certificates_unknown_ns.setdefault(secret, obj)

    @property
    def workloads(self) -> list[Obj]:
        return [o for kind in sorted(KINDS) for o in self.by_kind.get(kind, [])]

    def find(self, kind: str, namespace: Optional[str], name: Any) -> Union[Obj, None, Unknown]:
        """The object ``kind/name`` in ``namespace`` (by name alone where a namespace is unknown).

        ``UNKNOWN`` where none is, but an object of the kind whose name is unknown (preview) may be it.
        """
        if not isinstance(name, str):
            return None
        if namespace is None:
            found = self._by_name.get((kind, name))
        else:
            found = self._by_key.get((kind, namespace, name)) or self._unknown_namespace.get((kind, name))
        if found is None and any(_same_namespace(namespace, o) for o in self._unnamed.get(kind, ())):
            return UNKNOWN
        return found

    def data_keys(self, kind: str, namespace: Optional[str], name: Any) -> Optional[frozenset[str]]:
        """Keys of the Secret or ConfigMap ``name`` (a Certificate's Secret counts); ``None`` if undefined.

        ``ANY_KEY`` where an object whose name is unknown (preview) may be it.
        """
        obj = self.find(kind, namespace, name)
        if isinstance(obj, Obj):
            fields = ("data", "stringData") if kind == "Secret" else ("data", "binaryData")
            keys: set[str] = set()
            for f in fields:
                value = obj.body.get(f)
                if is_unknown(value):
                    return ANY_KEY
                keys.update(mapping(value))
            return frozenset(keys)
        if kind == "Secret" and isinstance(name, str):
            cert = (
                self._certificates_by_name.get(name) if namespace is None
                else self._certificates.get((namespace, name)) or self._certificates_unknown_ns.get(name)
            )
            if cert is not None:
                return CERTIFICATE_KEYS
        return ANY_KEY if is_unknown(obj) else None

    def traefik(self, kind: str, namespace: Optional[str], name: Any) -> Union[Obj, None, Unknown]:
        found = self.find(kind, namespace, name)
        return found if is_unknown(found) or (isinstance(found, Obj) and found.group in TRAEFIK_GROUPS) else None

    def selected(self, namespace: Optional[str], selector: Mapping[str, str]) -> list[Obj]:
        """Workloads in ``namespace`` whose pod labels include every pair of ``selector``.

        An unknown namespace (``None``, preview) matches any.
        """
        if namespace is None:
            pools = [self._labels.get((k, v), []) for k, v in selector.items()]
        else:
            pools = [
                self._labels_in.get((namespace, k, v), []) + self._labels_unknown_ns.get((k, v), [])
                for k, v in selector.items()
            ]
        if not pools:
            return []
        # The pools hold only workloads that may be in the namespace.
        return [o for o in min(pools, key=len) if all(get(pod_labels(o), k) == v for k, v in selector.items())]

    def maybe_selected(self, namespace: Optional[str], selector: Mapping[str, str]) -> bool:
        """Whether a workload whose pod labels are unknown (preview) may match ``selector``."""
        return any(
            _same_namespace(namespace, o)
            and all(get(pod_labels(o), k) in (v, UNKNOWN) for k, v in selector.items())
            for o in self._labels_unknown
        )

    def max_replicas(self, obj: Obj) -> Optional[int]:
        """``maxReplicas`` of the HPA that scales ``obj``, if any."""
        return self._hpa.get((obj.namespace or "", obj.kind, obj.name))


def _same_namespace(namespace: Optional[str], obj: Obj) -> bool:
    """Whether ``obj`` may be in ``namespace`` (an unknown namespace, ``None``, may be any)."""
    return namespace is None or obj.namespace is None or obj.namespace == namespace
