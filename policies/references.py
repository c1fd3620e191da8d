"""Secret and ConfigMap references (spec 11.1): every one names an object, and a key, the stack defines.

A pod whose ``secretKeyRef`` names a missing key does not start (CreateContainerConfigError);
this finds it at preview time instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .base import Obj, Rule, get, items, show
from .stack import ANY_KEY, Stack
from .workloads import containers, pod_spec

#: (kind, field naming the object) of each volume source that reads one.
VOLUME_SOURCES = {"secret": ("Secret", "secretName"), "configMap": ("ConfigMap", "name")}
PROJECTED_SOURCES = {"secret": ("Secret", "name"), "configMap": ("ConfigMap", "name")}


def _refs(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any, Optional[str], str]]:
    """``(kind, name, key or None, where)`` for every reference the pod spec makes."""
    for c in containers(spec):
        for env in items(get(c.body, "env")):
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = get(env, "valueFrom", field)
                if isinstance(ref, Mapping) and ref.get("optional") is not True:
                    yield kind, ref.get("name"), ref.get("key"), f"{c.label} env {get(env, 'name')}"
        for source in items(get(c.body, "envFrom")):
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = get(source, field)
                if isinstance(ref, Mapping) and ref.get("optional") is not True:
                    yield kind, ref.get("name"), None, f"{c.label} envFrom"
    for volume in items(spec.get("volumes")):
        where = f"volume {show(get(volume, 'name'))}"
        sources = [(get(volume, f), VOLUME_SOURCES[f]) for f in VOLUME_SOURCES]
        for projected in items(get(volume, "projected", "sources")):
            sources += [(get(projected, f), PROJECTED_SOURCES[f]) for f in PROJECTED_SOURCES]
        for source, (kind, name_field) in sources:
            if not isinstance(source, Mapping) or source.get("optional") is True:
                continue
            keys = [get(i, "key") for i in items(source.get("items"))] or [None]
            for key in keys:
                yield kind, source.get(name_field), key, where


def check_config_references(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[Obj, str]]:
    """Every secretKeyRef, configMapKeyRef, envFrom and volume names a Secret or ConfigMap, and a key, of the stack."""
    external = {"Secret": set(cfg["externalSecrets"]), "ConfigMap": set(cfg["externalConfigMaps"])}
    for workload in stack.workloads:
        spec = pod_spec(workload)
        if not spec:
            continue
        for kind, name, key, where in _refs(spec):
            if not isinstance(name, str) or name in external[kind]:
                continue  # unknown during preview, or created outside the stack
            keys = stack.data_keys(kind, workload.namespace, name)
            if keys is None:
                yield workload, f"{where} refers to {kind} {name!r}, which the stack does not define"
            elif isinstance(key, str) and keys is not ANY_KEY and key not in keys:
                yield workload, f"{where} refers to key {key!r} of {kind} {name!r}, which has no such key"


RULES = [
    Rule(
        "config-references", check_config_references, stack=True,
        keys=("externalSecrets", "externalConfigMaps"),
    ),
]
