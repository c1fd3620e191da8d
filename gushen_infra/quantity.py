"""Kubernetes resource quantities (``500m``, ``512Mi``, ``2Gi``), parsed exactly.

Shared by the config validation and the policy pack so both agree on what a
quantity means. Values are returned as :class:`fractions.Fraction` to avoid
float rounding when comparing requests, limits and node capacity.
"""

from __future__ import annotations

import re
from fractions import Fraction

_SUFFIX = {
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
_QUANTITY = re.compile(r"^(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]?)$")


class QuantityError(ValueError):
    """Raised for a string that is not a Kubernetes quantity."""


def parse(value: str | int | float) -> Fraction:
    """Return the quantity's value in base units (cores or bytes)."""
    if isinstance(value, bool):
        raise QuantityError(f"malformed quantity {value!r}")
    if isinstance(value, (int, float)):
        return Fraction(value)
    match = _QUANTITY.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise QuantityError(f"malformed quantity {value!r}")
    return Fraction(match["num"]) * _SUFFIX[match["suffix"]]


def is_quantity(value: object) -> bool:
    try:
        parse(value)  # type: ignore[arg-type]
    except QuantityError:
        return False
    return True
