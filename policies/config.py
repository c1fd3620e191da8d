"""Policy config: every key's default (the spec's rules) and JSON schema, written once.

A stack's nodes and their capacities (``nodes``, ``allocatable``) have no default: they come from
the stack's config, ``policies/config.<stack>.json``, which the program generates from its stack
file (``make policy-config``); a policy that reads them refuses to run without them.

The pack hands each policy's schema to the CLI (which fills in the defaults and validates
what ``--policy-pack-config`` gives); ``python -m policies.check --config FILE`` reads that
same JSON document here::

    {"all": "advisory",
     "node-placement": {"enforcementLevel": "mandatory", "nodes": {"web": "n1", "api": "n1", "data": "n1"}},
     "health-probes": "disabled"}

Values are validated against the schema with the same rules on both routes (one problem per
line, naming the policy and key and quoting the value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import quantity

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
QUANTITY_PATTERN = quantity.PATTERN

_QUANTITY = {"type": "string", "pattern": QUANTITY_PATTERN}
_COMPUTE = {
    "type": "object",
    "properties": {"cpu": _QUANTITY, "memory": _QUANTITY},
    "required": ["cpu", "memory"],
    "additionalProperties": False,
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_PSS_LEVEL = {"type": "string", "enum": ["privileged", "baseline", "restricted"]}


#: Every config key, by name: its JSON schema, description and default. Defaults are the spec's rules
#: (sections 8.1, 16.3). A stack's nodes and their capacities have none: they live in its stack file
#: (gushen:clusterNodes, gushen:nodes), and ``make policy-config`` writes them to
#: policies/config.<stack>.json, the config to run with.
KEYS: dict[str, dict[str, Any]] = {
    "nodes": {
        "type": "object",
        "properties": {t: {"type": "string", "minLength": 1} for t in ("web", "api", "data")},
        "required": ["web", "api", "data"],
        "additionalProperties": False,
        "description": "Node names (kubernetes.io/hostname) of the web, API and data tiers (from the stack file).",
    },
    "dataComponents": {
        **_STRINGS,
        "description": "app.kubernetes.io/component values that must be pinned to the data node.",
        "default": ["redis", "redis-proxy", "backup"],
    },
    "caps": {
        "type": "object",
        "additionalProperties": _COMPUTE,
        "description": "Per-container limit caps by app.kubernetes.io/component (spec 8.1).",
        "default": {
            "web": {"cpu": "500m", "memory": "512Mi"},
            "api": {"cpu": "1000m", "memory": "2Gi"},
            "redis": {"cpu": "500m", "memory": "2Gi"},
        },
    },
    "defaultCap": {
        **_COMPUTE,
        "description": "Per-container limit cap of components not listed in caps.",
        "default": {"cpu": "1000m", "memory": "1Gi"},
    },
    "allocatable": {
        "type": "object",
        "additionalProperties": _COMPUTE,
        "description": "Allocatable CPU and memory by node name (from the stack file).",
    },
    "includePreferred": {
        "type": "boolean",
        "description": (
            "Also count pods that prefer one node (soft affinity, as the API tier does) against it: "
            "that is where they run while the node is up."
        ),
        "default": True,
    },
    "pullPolicyExceptions": {
        **_STRINGS,
        "description": "Images (repository, or repository:tag) allowed to use a pull policy other than Never.",
        "default": [],
    },
    "exemptContainers": {
        **_STRINGS,
        "description": "Container names that need no liveness/readiness probes.",
        "default": [],
    },
    "secretWords": {
        **_STRINGS,
        "description": "Words that make an env var name look secret (matched per word, also as a suffix: APIKEY).",
        "default": ["PASSWORD", "SECRET", "KEY", "TOKEN"],
    },
    "allowedEnvNames": {
        **_STRINGS,
        "description": "Env var names allowed a literal value although they look secret (by name or by value).",
        "default": [],
    },
    "allowedValues": {
        **_STRINGS,
        "description": "Literal env values allowed although they look like credentials (exact strings: public ids, test keys).",
        "default": [],
    },
    "allowedCapabilities": {
        **_STRINGS,
        "description": "Capabilities a container may add (Pod Security 'restricted' allows NET_BIND_SERVICE).",
        "default": ["NET_BIND_SERVICE"],
    },
    "secureEntryPoints": {
        **_STRINGS,
        "description": "Traefik entry points that serve HTTPS.",
        "default": ["websecure"],
    },
    "plainEntryPoints": {
        **_STRINGS,
        "description": "Traefik entry points that serve plain HTTP.",
        "default": ["web"],
    },
    "redirectMiddlewares": {
        **_STRINGS,
        "description": "Middleware names that redirect to HTTPS (what plain-HTTP routes must use).",
        "default": ["redirect-https"],
    },
    "podSecurity": {
        "type": "object",
        "properties": {m: _PSS_LEVEL for m in ("enforce", "audit", "warn")},
        "additionalProperties": False,
        "description": "Minimum Pod Security Standards levels the namespace labels must set (spec 16.3).",
        "default": {"enforce": "baseline", "audit": "restricted", "warn": "restricted"},
    },
    "requiredLabels": {
        **_STRINGS,
        "description": "Labels every object carries (the project's app.kubernetes.io/* convention).",
        "default": ["app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"],
    },
    "runtimeLabels": {
        **_STRINGS,
        "description": "Label keys that controllers set on pods at run time; ignored when matching Service selectors.",
        "default": [],
    },
    "externalSecrets": {
        **_STRINGS,
        "description": "Secrets created outside the stack that pods may reference (any key).",
        "default": [],
    },
    "externalConfigMaps": {
        **_STRINGS,
        "description": "ConfigMaps created outside the stack that pods may reference (any key).",
        "default": [],
    },
}


class PolicyConfigError(ValueError):
    """Invalid policy config; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid policy config:\n  " + "\n  ".join(problems))


def schema(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The config schema properties of a policy that reads ``keys`` (defaults included)."""
    return {k: KEYS[k] for k in keys}


def _quote(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


_TYPES = {
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
}


def check_value(value: Any, sch: Mapping[str, Any], where: str) -> list[str]:
    """The JSON Schema subset the keys above use: type, properties, required, items, enum, pattern."""
    kind = sch.get("type")
    if kind and not _TYPES[kind](value):
        return [f"{where}: expected {kind}, got {_quote(value)}"]
    out: list[str] = []
    if "enum" in sch and value not in sch["enum"]:
        out.append(f"{where}: must be one of {', '.join(sch['enum'])} (got {_quote(value)})")
    if "pattern" in sch and not re.search(sch["pattern"], value):
        out.append(f"{where}: malformed value {_quote(value)}")
    if "minLength" in sch and len(value) < sch["minLength"]:
        out.append(f"{where}: must not be empty")
    if kind == "array":
        for i, item in enumerate(value):
            out += check_value(item, sch["items"], f"{where}[{i}]")
    if kind == "object":
        props = sch.get("properties", {})
        extra = sch.get("additionalProperties")  # absent: any key (JSON Schema's default, true)
        for name in sch.get("required", []):
            if name not in value:
                out.append(f"{where}.{name}: required key is missing")
        for name, item in value.items():
            if name in props:
                out += check_value(item, props[name], f"{where}.{name}")
            elif extra is False:
                out.append(f"{where}.{name}: unknown key (value {_quote(item)})")
            elif isinstance(extra, Mapping):
                out += check_value(item, extra, f"{where}.{name}")
    return out


def values(policy: str, keys: Iterable[str], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The policy's config: defaults, overridden key by key by ``given``; validated.

    Keys the policy does not read are an error (a typo would otherwise be silently ignored).
    """
    keys = tuple(keys)
    given = dict(given or {})
    given.pop("enforcementLevel", None)
    problems = [
        f"{policy}.{k}: unknown key for this policy (it reads: {', '.join(keys) or 'nothing'}), value {_quote(v)}"
        for k, v in given.items() if k not in keys
    ]
    out = {k: given.get(k, KEYS[k].get("default")) for k in keys}
    for k in keys:
        if k in given:
            problems += check_value(given[k], KEYS[k], f"{policy}.{k}")
        elif "default" not in KEYS[k]:
            problems.append(
                f"{policy}.{k}: required: a stack's nodes come from its stack file; run with its generated "
                f"config, --policy-pack-config policies/config.<stack>.json (make policy-config writes it), "
                f"or disable {policy}"
            )
    if problems:
        raise PolicyConfigError(problems)
    return out


@dataclass(frozen=True)
class Setting:
    enforcement: str
    values: dict[str, Any]


def resolve(document: Mapping[str, Any] | None, rules: Iterable[Any]) -> dict[str, Setting]:
    """Each rule's enforcement level and config from a ``--policy-pack-config`` document.

    Same precedence as the CLI: the rule's own level, then ``all``, then the rule's entry.
    """
    document = dict(document or {})
    rules = list(rules)
    names = {r.name for r in rules}
    problems: list[str] = []
    levels: dict[str, str] = {}
    props: dict[str, Mapping[str, Any]] = {}
    for key, entry in document.items():
        if key != "all" and key not in names:
            problems.append(f"{key}: unknown policy (known: {', '.join(sorted(names))})")
            continue
        level = entry if isinstance(entry, str) else entry.get("enforcementLevel") if isinstance(entry, Mapping) else None
        if not isinstance(entry, (str, Mapping)):
            problems.append(f"{key}: must be an enforcement level or an object, got {_quote(entry)}")
            continue
        if level is not None and level not in LEVELS:
            problems.append(f"{key}.enforcementLevel: must be one of {', '.join(LEVELS)} (got {_quote(level)})")
            continue
        if level is not None:
            levels[key] = level
        if isinstance(entry, Mapping):
            rest = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            if key == "all" and rest:
                problems.append(f"all: only an enforcement level applies to every policy (got keys {sorted(rest)})")
            elif rest:
                props[key] = rest
    out: dict[str, Setting] = {}
    for rule in rules:
        level = levels.get(rule.name, levels.get("all", rule.enforcement))
        if level == "disabled":  # a disabled policy needs no config (the stack's nodes included) and reads none
            out[rule.name] = Setting(level, {})
            continue
        try:
            out[rule.name] = Setting(level, values(rule.name, rule.keys, props.get(rule.name)))
        except PolicyConfigError as exc:
            problems += exc.problems
    if problems:
        raise PolicyConfigError(problems)
    return out
