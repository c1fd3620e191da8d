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
#: A quantity as a string, in a form JSON Schema (and the CLI's Go regexp) accepts too.
PATTERN = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE])?$"
_QUANTITY = re.compile(r"^(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]?)$")


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
    return Fraction(match["num"]) * SUFFIXES[match["suffix"]]
