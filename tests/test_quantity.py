"""Kubernetes quantities: every form the API server parses, and the canonical string it stores.

Expected values are what k8s.io/apimachinery's ``ParseQuantity(x).String()`` returns; the cases
marked "apimachinery" are taken from its pkg/api/resource/quantity_test.go (``TestQuantityString``,
``TestQuantityParseEmit``, ``TestQuantityParse``).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from gushen_infra import quantity
from policies import quantity as pack_quantity

CANONICAL = [
    # A YAML number: the stack file's `cpu: 2`, `cpu: 0.5`, `memory: 536870912`.
    (2, "2"),
    (0.5, "500m"),
    (0.1, "100m"),  # the decimal as written, not the float's binary expansion
    (536870912, "536870912"),  # a plain number stays decimal: Kubernetes shows it in bytes
    (1500, "1500"),
    (2000, "2k"),
    # Strings, as Kubernetes canonicalises them.
    ("1000m", "1"),
    ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"),
    ("2048Ki", "2Mi"),
    ("1023Ki", "1023Ki"),
    ("1.1Gi", "1181116006400m"),  # not a whole number of bytes: shown as decimal, never rounded
    ("512Mi", "512Mi"),
    ("1.5k", "1500"),
    ("1e3", "1e3"),
    ("1E6", "1e6"),
    ("0.0000000001", "1n"),  # finer than 1n is rounded up to 1n
    ("0", "0"),
    # apimachinery
    ("1024Mi", "1Gi"),
    ("1000M", "1G"),
    (".001Ki", "1024m"),
    (".000000000001Ki", "2n"),
    ("1025", "1025"),
    ("80e-3", "80e-3"),
    ("1000E", "1e21"),
    ("3.001n", "4n"),
    ("1.", "1"),
    ("1.G", "1G"),
]


@pytest.mark.parametrize("value, expected", CANONICAL, ids=[repr(v) for v, _ in CANONICAL])
def test_canonical_is_what_the_api_server_stores(value, expected):
    assert quantity.canonical(value) == expected
    assert quantity.parse(expected) == quantity.parse(value), "canonical form keeps the value"


@pytest.mark.parametrize(
    "value, expected",
    [("500m", Fraction(1, 2)), ("512Mi", 2**29), ("1e3", 1000), ("100u", Fraction(1, 10**4)), ("2", 2), (0.5, Fraction(1, 2))],
)
def test_parse_is_exact(value, expected):
    assert quantity.parse(value) == expected


@pytest.mark.parametrize("value", ["500x", "2GB", "", "Mi", "1.2.3", "1 Gi", True, None, float("nan"), "1e", "0x10"])
def test_malformed_quantities_are_refused(value):
    assert not quantity.is_quantity(value)
    with pytest.raises(quantity.QuantityError):
        quantity.parse(value)


@pytest.mark.parametrize(
    "value, expected",
    [("500m", Fraction(1, 2)), ("512Mi", 2**29), ("1.5k", 1500), (".5", Fraction(1, 2)), ("2", 2), (2, 2), (0.5, Fraction(1, 2)),
     ("5n", Fraction(5, 10**9)), ("100u", Fraction(1, 10**4)), ("1e3", 1000), ("80e-3", Fraction(2, 25)), ("1E6", 10**6),
     ("1E", 10**18), ("+1", 1), ("1.", 1)],
)
def test_the_packs_parser_is_exact(value, expected):
    """The policy pack's own parser (policies/quantity.py), which compares requests, limits and caps: it
    reads every form the API server parses (apimachinery quantity.go ``ParseQuantity``), or a valid
    manifest would be reported as "... is not a quantity"."""
    assert pack_quantity.parse(value) == expected


@pytest.mark.parametrize("value", [
    "500x", "2GB", "", "Mi", "1.2.3", "1 Gi", True, None, float("nan"), float("inf"), "0x10", "1e", "1e+", "1e3Mi", "-1",
])
def test_the_packs_parser_refuses_what_is_not_a_quantity_quoting_it(value):
    # QuantityError is what the rules catch to report "... is not a quantity"; anything else was a traceback.
    with pytest.raises(pack_quantity.QuantityError) as refused:
        pack_quantity.parse(value)
    assert str(refused.value) == f"malformed quantity {value!r}"
