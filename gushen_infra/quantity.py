"""Kubernetes resource quantities (``500m``, ``512Mi``, ``2Gi``, ``1e3``), parsed exactly.

Shared by the config validation and the policy pack so both agree on what a
quantity means. Values are returned as :class:`fractions.Fraction` to avoid
float rounding when comparing requests, limits and node capacity.

The grammar and the canonical form follow k8s.io/apimachinery
``pkg/api/resource/quantity.go`` (``ParseQuantity``, ``CanonicalizeBytes``): a signed
decimal number, then a binary suffix (``Ki`` .. ``Ei``), a decimal one (``n u m k M G T P E``)
or an exponent (``e3``, ``E-6``). Values finer than 1n are rounded up to 1n, as Kubernetes does.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX = {
    **{suffix: Fraction(10) ** exp for suffix, exp in _DECIMAL.items()},
    **{suffix: Fraction(2**exp) for suffix, exp in _BINARY.items()},
}
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)|[eE](?P<exp>[+-]?[0-9]+))$"
)
_NANO = Fraction(1, 10**9)


class QuantityError(ValueError):
    """Raised for a value that is not a Kubernetes quantity."""


def _number(value: int | float) -> Fraction:
    """A YAML/JSON number as the decimal it was written as (``0.1`` is 1/10, not the float's binary value)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise QuantityError(f"malformed quantity {value!r}")
    try:
        return Fraction(Decimal(repr(value)))
    except (InvalidOperation, ValueError):
        raise QuantityError(f"malformed quantity {value!r}") from None


def _round_up_to_nano(value: Fraction) -> Fraction:
    return Fraction(math.ceil(value / _NANO)) * _NANO


def split(value: str | int | float) -> tuple[Fraction, str]:
    """The quantity's value in base units (cores or bytes) and its suffix as written."""
    if isinstance(value, bool):
        raise QuantityError(f"malformed quantity {value!r}")
    if isinstance(value, (int, float)):
        return _round_up_to_nano(_number(value)), ""
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise QuantityError(f"malformed quantity {value!r}")
    number = Fraction(match["num"])
    if match["exp"] is not None:
        return _round_up_to_nano(number * Fraction(10) ** int(match["exp"])), "e"
    return _round_up_to_nano(number * _SUFFIX[match["suffix"]]), match["suffix"]


def parse(value: str | int | float) -> Fraction:
    """Return the quantity's value in base units (cores or bytes)."""
    return split(value)[0]


def is_quantity(value: object) -> bool:
    try:
        parse(value)  # type: ignore[arg-type]
    except QuantityError:
        return False
    return True


def _decimal(value: Fraction, exponent_form: bool) -> str:
    """The largest exponent (a multiple of 3, -9 at least) that leaves an integer mantissa."""
    exp = -9
    while (value / Fraction(10) ** (exp + 3)).denominator == 1:
        exp += 3
    mantissa = value / Fraction(10) ** exp
    if exponent_form or exp > 18:  # no SI suffix beyond E (10^18)
        return f"{mantissa.numerator}" + (f"e{exp}" if exp else "")
    return f"{mantissa.numerator}{next(s for s, e in _DECIMAL.items() if e == exp)}"


def canonical(value: str | int | float) -> str:
    """The form the API server stores and returns (``Quantity.String()``).

    ``0.5`` -> ``500m``, ``2`` -> ``2``, ``1.5Gi`` -> ``1536Mi``, ``2048Ki`` -> ``2Mi``,
    ``1000m`` -> ``1``, ``536870912`` -> ``536870912`` (a plain number stays decimal).
    """
    amount, suffix = split(value)
    if amount == 0:
        return "0"
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    if suffix in _BINARY and amount >= 1024 and amount.denominator == 1:
        exp = 0
        while exp < 60 and amount % (2 ** (exp + 10)) == 0:
            exp += 10
        unit = next((s for s, e in _BINARY.items() if e == exp), "")
        return f"{sign}{amount // 2**exp}{unit}"
    return sign + _decimal(amount, exponent_form=suffix == "e")
