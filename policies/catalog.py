"""Every policy of the pack, in report order, and the one evaluator both routes use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Optional

from . import (
    capacity, images, ingress, labels, namespace, placement, probes, references, resources, secrets_env,
    security, services, shape, tokens,
)
from .base import Obj, Rule, Violation
from .config import Setting
from .stack import Stack

RULES: list[Rule] = [
    *shape.RULES,
    *resources.RULES,
    *placement.RULES,
    *tokens.RULES,
    *images.RULES,
    *probes.RULES,
    *security.RULES,
    *services.RULES,
    *secrets_env.RULES,
    *ingress.RULES,
    *namespace.RULES,
    *labels.RULES,
    *references.RULES,
    *capacity.RULES,
]


def level(setting: Setting) -> Optional[str]:
    """The level a violation is reported at; ``None`` for a disabled policy.

    The pack remediates nothing, so ``remediate`` reports as mandatory (as the SDK does).
    """
    if setting.enforcement == "disabled":
        return None
    return "mandatory" if setting.enforcement == "remediate" else setting.enforcement


def evaluate(objects: Iterable[Obj], settings: Mapping[str, Setting]) -> list[Violation]:
    """Every violation of every enabled policy over ``objects`` (in rule order, objects in input order).

    Resource rules run object by object (every rule on one object, then the next), so all of
    them read an object's manifest while it is in the CPU cache: rule by rule, each pass over
    a stack larger than the cache fetched every manifest from memory again, and the time per
    object grew with the stack (bench/run.py). Stack rules run once each, over one index.
    """
    objects = list(objects)
    enabled = [(i, rule, enforcement) for i, rule in enumerate(RULES) if (enforcement := level(settings[rule.name]))]
    found: dict[int, list[Violation]] = {i: [] for i, _, _ in enabled}
    per_object = [(found[i], rule, enforcement, settings[rule.name].values) for i, rule, enforcement in enabled
                  if not rule.stack]
    for obj in objects:
        for out, rule, enforcement, values in per_object:
            if rule.applies_to(obj):
                out += [Violation(rule.name, enforcement, obj.kind, obj.name, msg, obj.urn, obj.source)
                        for msg in rule.check(obj, values)]
    stack: Optional[Stack] = None
    for i, rule, enforcement in enabled:
        if rule.stack:
            stack = stack or Stack(objects)
            found[i] = [Violation(rule.name, enforcement, obj.kind, obj.name, msg, obj.urn, obj.source)
                        for obj, msg in rule.check(stack, settings[rule.name].values)]
    return [v for i, _, _ in enabled for v in found[i]]
