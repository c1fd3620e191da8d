"""Every policy of the pack, in report order, and the one evaluator both routes use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional

from . import (
    capacity, images, ingress, labels, namespace, placement, probes, references, resources, secrets_env,
    security, services, tokens,
)
from .base import Obj, Rule, Violation
from .config import Setting, resolve
from .stack import Stack

RULES: list[Rule] = [
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


def evaluate(objects: Iterable[Obj], settings: Optional[Mapping[str, Setting]] = None) -> list[Violation]:
    """Every violation of every enabled policy over ``objects`` (in rule order, objects in input order)."""
    objects = list(objects)
    settings = settings if settings is not None else resolve(None, RULES)
    out: list[Violation] = []
    stack: Optional[Stack] = None
    for rule in RULES:
        setting = settings[rule.name]
        enforcement = level(setting)
        if enforcement is None:
            continue
        if rule.stack:
            stack = stack or Stack(objects)
            found: Iterable[Any] = rule.check(stack, setting.values)
        else:
            found = ((obj, msg) for obj in objects if rule.applies_to(obj) for msg in rule.check(obj, setting.values))
        out += [Violation(rule.name, enforcement, obj.kind, obj.name, msg, obj.urn) for obj, msg in found]
    return out
