"""The CrossGuard side: each rule as a pulumi_policy policy over the engine's props.

The engine sends props as protobuf values (ints as floats, secrets wrapped, unknowns as
sentinels, wrapped in the SDK's unknown-checking proxy); they are normalised once into a
plain manifest and handed to the same validators ``python -m policies.check`` runs.

Policy config under the CLI: the CLI fills in each policy's schema defaults, merges
``--policy-pack-config`` over them, checks the result against the schemas and sends it to
``Configure`` -- including entries for policy names the pack does not have (pulumi/pulumi,
``pkg/resource/analyzer/config.go``: ``applyConfig`` adds every given name to the result).
The pack records that whole request, and the stack policy ``policy-pack-config`` reports,
one violation per problem, what ``python -m policies.check --config`` refuses: unknown policy
names, keys a policy does not read, values the schema cannot express. Policies whose config
is bad skip their checks instead of raising (a raise in ``validate`` would surface as a
gRPC traceback that aborts the preview).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

from google.protobuf import json_format
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as sdk_policy
from pulumi_policy.proxy import UnknownValueError

from . import config
from .base import UNKNOWN, Obj, Rule, plain
from .config import PolicyConfigError
from .catalog import RULES
from .stack import Stack

NAME = "gushen-policies"
#: The stack policy that reports a bad ``--policy-pack-config`` (it has no config of its own).
CONFIG_POLICY = "policy-pack-config"
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


#: Each policy's properties as the engine last sent them to ``Configure`` (every name it sent).
CONFIGURED: dict[str, dict[str, Any]] = {}


def _recording(configure: Callable[..., Any]) -> Callable[..., Any]:
    def Configure(self: Any, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        CONFIGURED.clear()
        CONFIGURED.update({
            name: json_format.MessageToDict(request.policyConfig[name].properties) for name in request.policyConfig
        })
        return configure(self, request, context)

    Configure.recording = True  # type: ignore[attr-defined]
    return Configure


def config_problems(configured: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What is wrong with the config the engine sent, in ``policies.check --config`` wording."""
    document = {name: dict(props) for name, props in configured.items() if name != CONFIG_POLICY}
    try:
        config.resolve(document, RULES)
    except PolicyConfigError as exc:
        return exc.problems
    return []


def _settings(rule: Rule, given: Any) -> Optional[dict[str, Any]]:
    """The rule's config values; ``None`` if they are bad (``policy-pack-config`` reports them)."""
    try:
        return config.values(rule.name, rule.keys, given)
    except PolicyConfigError:
        return None


def _resource_validator(rule: Rule) -> Callable[[ResourceValidationArgs, Any], None]:
    def validate(args: ResourceValidationArgs, report_violation: Any) -> None:
        obj = to_obj(args.resource_type, args.props, args.name, args.urn)
        if obj is None or not rule.applies_to(obj):
            return
        cfg = _settings(rule, args.get_config())
        if cfg is None:
            return
        for message in rule.check(obj, cfg):
            report_violation(_message(obj, message))

    return validate


def _stack_validator(rule: Rule) -> Callable[[StackValidationArgs, Any], None]:
    def validate(args: StackValidationArgs, report_violation: Any) -> None:
        objects = [to_obj(r.resource_type, r.props, r.name, r.urn) for r in args.resources]
        stack = Stack(o for o in objects if o is not None)
        cfg = _settings(rule, args.get_config())
        if cfg is None:
            return
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
    out.append(StackValidationPolicy(
        name=CONFIG_POLICY,
        description=check_config.__doc__.strip().splitlines()[0],  # type: ignore[union-attr]
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=check_config,
    ))
    return out


def check_config(args: StackValidationArgs, report_violation: Any) -> None:
    """The --policy-pack-config names only policies of this pack, and keys and values they read."""
    for problem in config_problems(CONFIGURED):
        report_violation(problem)


def serve() -> None:
    """Serve the pack to the engine until stopped (what ``__main__`` runs)."""
    servicer = sdk_policy._PolicyAnalyzerServicer  # pinned pulumi-policy: the class PolicyPack serves
    if not getattr(servicer.Configure, "recording", False):
        servicer.Configure = _recording(servicer.Configure)
    PolicyPack(
        name=NAME,
        description=DESCRIPTION,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=policies(),
    )
