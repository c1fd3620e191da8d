"""Recommended labels: every object says what it is and who manages it (the project's convention)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, is_unknown


def check_recommended_labels(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Every object carries the app.kubernetes.io/* labels (name, part-of, managed-by)."""
    if is_unknown(get(obj.body, "metadata", "labels")):
        return  # computed during preview: checked at `pulumi up`
    missing = [label for label in cfg["requiredLabels"] if label not in obj.labels]
    if missing:
        yield f"missing labels {', '.join(missing)}"


RULES = [Rule("recommended-labels", check_recommended_labels, keys=("requiredLabels",), enforcement="advisory")]
