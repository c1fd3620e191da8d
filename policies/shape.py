"""Well-formed pod specs: a manifest the other policies cannot read is itself a finding.

The other validators skip what is not the shape they expect (a ``containers: "oops"`` has no
container to check), so without this rule a malformed workload would pass the pack silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, is_unknown, show
from .workloads import KINDS, template

#: Pod spec fields that are lists, and the list fields of each container.
POD_LISTS = ("containers", "initContainers", "volumes", "imagePullSecrets", "tolerations")
CONTAINER_LISTS = ("env", "envFrom", "ports", "volumeMounts", "command", "args")


def _not_list(where: str, value: Any) -> str:
    return f"{where} is {show(value)}, not a list"


def check_well_formed_pod_spec(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Workload pod specs are well-formed: a non-empty containers list of named objects, and lists where Kubernetes wants lists."""
    spec = get(template(obj), "spec")
    if is_unknown(spec):
        return
    if not isinstance(spec, Mapping):
        yield f"pod spec is {show(spec)}, not an object" if spec is not None else "has no pod spec"
        return
    for field in POD_LISTS:
        value = spec.get(field)
        if value is not None and not is_unknown(value) and not isinstance(value, list):
            yield _not_list(field, value)
    if spec.get("containers") is None:
        yield "pod spec has no containers"
    elif spec.get("containers") == []:
        yield "containers is empty"
    for field in ("initContainers", "containers"):
        value = spec.get(field)
        for i, container in enumerate(value if isinstance(value, list) else []):
            where = f"{field}[{i}]"
            if is_unknown(container):
                continue
            if not isinstance(container, Mapping):
                yield f"{where} is {show(container)}, not a container"
                continue
            if not isinstance(container.get("name"), str) and not is_unknown(container.get("name")):
                yield f"{where} has no name"
            for key in CONTAINER_LISTS:
                item = container.get(key)
                if item is not None and not is_unknown(item) and not isinstance(item, list):
                    yield _not_list(f"{where}.{key}", item)


RULES = [Rule("well-formed-pod-spec", check_well_formed_pod_spec, kinds=KINDS)]
