"""The CrossGuard side: each rule as a pulumi_policy policy over the engine's props.

The engine sends props as protobuf values (ints as floats, secrets wrapped, unknowns as
sentinels, wrapped in the SDK's unknown-checking proxy); they are normalised once into a
plain manifest and handed to the same validators ``python -m policies.check`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from . import config
from .base import UNKNOWN, Obj, Rule, plain
from .catalog import RULES
from .stack import Stack

NAME = "gushen-policies"
DESCRIPTION = "GuShen K3s platform: limits, node pinning, token automount, Pod Security and cross-resource checks."


def _unproxy(value: Any) -> Any:
    """The SDK's proxies as plain dicts and lists, an unknown value (preview) as ``UNKNOWN``."""
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            try:
                out[key] = _unproxy(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        seq = []
        for i in range(len(value)):
            try:
                seq.append(_unproxy(value[i]))
            except UnknownValueError:
                seq.append(UNKNOWN)
        return seq
    return value


def to_obj(resource_type: str, props: Any, name: str, urn: str) -> Optional[Obj]:
    """The Kubernetes object a registration describes (``None`` for providers, Helm releases, ...)."""
    if not resource_type.startswith("kubernetes:"):
        return None
    return Obj.from_manifest(plain(_unproxy(props)), urn=urn, fallback_name=name)


def _message(obj: Obj, message: str) -> str:
    # The object's kind and name lead, as in `python -m policies.check` output.
    return f"{obj.ref}: {message}"


def _resource_validator(rule: Rule) -> Callable[[ResourceValidationArgs, Any], None]:
    def validate(args: ResourceValidationArgs, report_violation: Any) -> None:
        obj = to_obj(args.resource_type, args.props, args.name, args.urn)
        if obj is None or not rule.applies_to(obj):
            return
        cfg = config.values(rule.name, rule.keys, args.get_config())
        for message in rule.check(obj, cfg):
            report_violation(_message(obj, message))

    return validate


def _stack_validator(rule: Rule) -> Callable[[StackValidationArgs, Any], None]:
    def validate(args: StackValidationArgs, report_violation: Any) -> None:
        objects = [to_obj(r.resource_type, r.props, r.name, r.urn) for r in args.resources]
        stack = Stack(o for o in objects if o is not None)
        cfg = config.values(rule.name, rule.keys, args.get_config())
        for obj, message in rule.check(stack, cfg):
            report_violation(_message(obj, message), obj.urn or None)

    return validate


def policies() -> list[Any]:
    out: list[Any] = []
    for rule in RULES:
        common = {
            "name": rule.name,
            "description": rule.description,
            "enforcement_level": EnforcementLevel(rule.enforcement),
            "config_schema": PolicyConfigSchema(properties=config.schema(rule.keys)) if rule.keys else None,
        }
        if rule.stack:
            out.append(StackValidationPolicy(validate=_stack_validator(rule), **common))
        else:
            out.append(ResourceValidationPolicy(validate=_resource_validator(rule), **common))
    return out
