"""Kubernetes resource quantities (``500m``, ``512Mi``, ``1``, ``536870912``), parsed exactly.

The pack's own parser: a guard that shared the guarded program's parser would change what it
enforces whenever the program changed. Values are :class:`fractions.Fraction` (cores or bytes),
so comparing requests, limits and node capacity has no float rounding. Accepts what the API
server accepts and what it writes back (``cpu: 1``, ``memory: "536870912"``).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Union

SUFFIXES = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
#: A quantity as a string, in a form JSON Schema (and the CLI's Go regexp) accepts too: what the
#: pack's own config (caps, allocatable) takes, a subset of what a manifest may hold.
PATTERN = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE])?$"
#: What the API server parses (k8s.io/apimachinery pkg/api/resource/quantity.go ``ParseQuantity``):
#: an optional ``+`` (a negative request or limit is refused by the API server, and here), a decimal,
#: then a binary suffix, a decimal one or an exponent (``1e3``, ``80e-3``).
_QUANTITY = re.compile(
    r"^(?P<num>\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)|[eE](?P<exp>[+-]?[0-9]+))$"
)


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity."""


def parse(value: Union[str, int, float]) -> Fraction:
    """The quantity's value in base units (cores or bytes)."""
    # YAML's .nan and .inf are floats too (a traceback in `policies.check` before, not a finding).
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise QuantityError(f"malformed quantity {value!r}")
    if isinstance(value, (int, float)):
        return Fraction(value)
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise QuantityError(f"malformed quantity {value!r}")
    scale = SUFFIXES[match["suffix"]] if match["exp"] is None else Fraction(10) ** int(match["exp"])
    return Fraction(match["num"]) * scale
