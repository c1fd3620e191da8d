"""What every policy shares: the object model, engine-value normalisation and the rule record.

Validators are pure functions over plain camelCase manifests (the shape the engine sends as
props for pulumi-kubernetes resources, and the shape of any YAML manifest), so the policy
pack and ``python -m policies.check`` run the very same code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Optional, Union

from . import quantity

#: The engine's signature key: a map carrying it wraps a secret (``{sig: ..., "value": v}``).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: What the engine sends for a value not known until the update (preview of a computed output).
UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})

Json = dict[str, Any]


class Unknown:
    """A value the engine cannot know during preview; validators skip what depends on it."""

    _instance: Optional["Unknown"] = None

    def __new__(cls) -> "Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return False


UNKNOWN = Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Engine values as plain data: secrets unwrapped, integral floats to ints, unknowns marked.

    Also marks the preview's unknown sentinels (an offline render never holds those).
    """
    if isinstance(value, Mapping):
        if SECRET_SIG in value and "value" in value:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return UNKNOWN
    return value


def get(data: Any, *path: Union[str, int]) -> Any:
    """``data[p0][p1]...``; ``None`` where a step is missing, ``UNKNOWN`` where it is unknown."""
    for step in path:
        if data is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(data, list) or step >= len(data):
                return None
            data = data[step]
        else:
            # ``type(...) is dict`` first: manifests are plain dicts, and the ABC check costs
            # several times as much (a sixth of the pack's time on 1,000 objects, bench/run.py).
            if type(data) is not dict and not isinstance(data, Mapping):
                return None
            data = data.get(step)
    return data


def mapping(value: Any) -> Mapping[str, Any]:
    return value if type(value) is dict or isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_quantity(value: Any) -> Union[Fraction, None, Unknown]:
    """The quantity's value; ``None`` if absent; raises ``QuantityError`` if malformed."""
    if value is None or value is UNKNOWN:
        return value
    return quantity.parse(value)


def show(value: Any) -> str:
    """A manifest value as a message shows it: YAML words, not Python's (``unset``, ``true``, ``'web'``)."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def fmt_cpu(value: Fraction) -> str:
    millis = value * 1000
    if value.denominator == 1:
        return str(value.numerator)
    return f"{int(millis)}m" if millis.denominator == 1 else f"{float(value):g}"


def fmt_memory(value: Fraction) -> str:
    for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        whole, rest = divmod(value, size)
        if value and not rest:
            return f"{whole}{unit}"
    # Not a whole number of Ki: bytes, whole or in millis, as Kubernetes writes them (``%g`` would
    # show 2147484000 as 2.14748e+09, which reads as less than the 2Gi it is above).
    return fmt_cpu(value)


# --- objects -----------------------------------------------------------------------------------


@dataclass
class Obj:
    """One Kubernetes object: its manifest plus where it came from (the engine's URN, if any)."""

    kind: str
    name: str
    namespace: Optional[str]
    """``""`` when the manifest sets none; ``None`` when it is unknown (preview)."""
    body: Json
    api_version: str = ""
    urn: str = ""
    source: str = ""
    """The file the manifest was read from (``policies.check``), if any."""

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def group(self) -> str:
        return self.api_version.rsplit("/", 1)[0] if "/" in self.api_version else ""

    @property
    def labels(self) -> Mapping[str, Any]:
        return mapping(get(self.body, "metadata", "labels"))

    @property
    def spec(self) -> Mapping[str, Any]:
        return mapping(self.body.get("spec"))

    @classmethod
    def from_manifest(cls, manifest: Any, urn: str = "", fallback_name: str = "") -> Optional["Obj"]:
        """The object, or ``None`` for anything that is not a Kubernetes manifest."""
        if not isinstance(manifest, Mapping):
            return None
        kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str):
            return None
        name = get(manifest, "metadata", "name")
        namespace = get(manifest, "metadata", "namespace")
        return cls(
            kind=kind,
            name=name if isinstance(name, str) else (fallback_name or "<unnamed>"),
            namespace=None if namespace is UNKNOWN else (namespace if isinstance(namespace, str) else ""),
            body=dict(manifest),
            api_version=api_version,
            urn=urn,
        )

    @classmethod
    def synthetic(cls, kind: str, name: str) -> "Obj":
        """Something a stack policy reports on that is not an object of the stack (a node)."""
        return cls(kind=kind, name=name, namespace="", body={})


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    """``mandatory`` or ``advisory``."""
    kind: str
    name: str
    message: str
    urn: str = ""
    source: str = ""
    """The file of the object reported on (``policies.check``), if any."""

    @property
    def line(self) -> str:
        return f"{self.enforcement} {self.policy} {self.kind}/{self.name}: {self.message}"


@dataclass(frozen=True)
class Rule:
    """One policy: a kebab-case name, a validator and the config keys it reads.

    Resource validators take ``(obj, config)`` and yield messages; stack validators take
    ``(stack, config)`` and yield ``(obj, message)``. The description is the first line of
    the validator's docstring.
    """

    name: str
    check: Callable[..., Iterable[Any]]
    stack: bool = False
    keys: tuple[str, ...] = ()
    enforcement: str = "mandatory"
    kinds: Optional[frozenset[str]] = field(default=None)
    """Kinds a resource validator looks at (``None``: every kind)."""

    @property
    def description(self) -> str:
        doc = (self.check.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.name

    def applies_to(self, obj: Obj) -> bool:
        return self.kinds is None or obj.kind in self.kinds
