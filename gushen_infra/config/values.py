"""Value types every settings module uses: quantities, names, images, URLs, paths, and the base model."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .. import quantity

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^(?P<repo>[a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?)(:(?P<tag>[\w][\w.-]{0,127}))?(@sha256:[0-9a-f]{64})?$")


def _quantity(value: Any) -> Any:
    """Any quantity form Kubernetes takes: a string (kept as written) or a YAML number (``cpu: 2``,
    ``cpu: 0.5``), which becomes the string the API server stores (``"2"``, ``"500m"``)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value  # pydantic's "Input should be a valid string" names the type
    try:
        amount = quantity.parse(value)
    except quantity.QuantityError:
        raise ValueError("malformed quantity" + _unit_hint(value)) from None
    if amount < 0:
        raise ValueError("negative quantity")
    return value.strip() if isinstance(value, str) else quantity.canonical(value)


_BYTE_UNIT = re.compile(r"^\s*(?P<number>[0-9]+(\.[0-9]+)?)\s*(?P<prefix>[kmgtpe])i?b\s*$", re.IGNORECASE)


def _unit_hint(value: Any) -> str:
    """``512MB`` and friends: how Kubernetes spells that size (its quantities have no ``B``)."""
    match = _BYTE_UNIT.match(value) if isinstance(value, str) else None
    if not match:
        return ""
    number, prefix = match["number"], match["prefix"].upper()
    binary = f"{number}{prefix}i"
    decimal = f"{number}{'k' if prefix == 'K' else prefix}"
    return f"; Kubernetes spells it {binary!r} (powers of 1024, what memory sizes use) or {decimal!r} (powers of 1000)"


def _bool(value: Any) -> Any:
    """A boolean as Pulumi's own config reads one: ``true``/``false`` (YAML or JSON), or the strings
    ``true``, ``True``, ``false``, ``False`` (pulumi/config.py, ``Config._get_bool``); anything else
    (``"no"``, ``yes``, ``1``) is refused rather than guessed."""
    if isinstance(value, bool):
        return value
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    raise ValueError("not a boolean: want true or false (Pulumi's config reads only true, True, false, False)")


#: Below this a memory or storage size is a slip of the unit (``512`` bytes for ``512Mi``).
MIN_BYTES = 2**20


def _bytes(value: str) -> str:
    """A memory or storage size: a whole number of bytes, at least :data:`MIN_BYTES`."""
    amount, suffix = quantity.split(value)
    number = re.match(r"\+?([0-9.]*)", value)[1]  # type: ignore[index]  # a quantity starts with its number
    if suffix == "m":
        raise ValueError(f"{value!r} is {float(amount):g} bytes (m is milli, not mega); did you mean '{number}Mi'?")
    if amount.denominator != 1:
        raise ValueError(f"{value!r} is not a whole number of bytes; did you mean '{number}Mi'?")
    if amount < MIN_BYTES:
        raise ValueError(f"{value!r} is only {amount} bytes; did you mean '{number}Mi'?")
    return value


def _domain(value: str) -> str:
    if "." not in value or not _DNS_SUBDOMAIN.match(value):
        raise ValueError("invalid domain (want a lower-case DNS name such as gushen.lurus.cn)")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError("invalid name (want a DNS-1123 label: lower-case letters, digits, '-')")
    return value


def _node_name(value: str) -> str:
    if not value.strip():
        raise ValueError("empty node name")
    if not _DNS_SUBDOMAIN.match(value):
        raise ValueError("invalid node name (want a DNS-1123 subdomain)")
    return value


def _image(value: str) -> str:
    match = _IMAGE.match(value)
    if not match:
        raise ValueError("invalid image reference")
    if not match["tag"] and "@sha256:" not in value:
        raise ValueError("image has no tag (pin a version: the nodes hold imported images only)")
    if match["tag"] == "latest":
        raise ValueError("image is tagged 'latest' (pin a version)")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError("invalid URL (want http:// or https://)")
    return value


Quantity = Annotated[str, BeforeValidator(_quantity)]
Bytes = Annotated[str, BeforeValidator(_quantity), AfterValidator(_bytes)]
Domain = Annotated[str, AfterValidator(_domain)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
NodeName = Annotated[str, AfterValidator(_node_name)]
Image = Annotated[str, AfterValidator(_image)]
Url = Annotated[str, AfterValidator(_http_url)]
Port = Annotated[int, Field(ge=1, le=65535)]
Bool = Annotated[bool, BeforeValidator(_bool)]


def _abs_path(value: str) -> str:
    path = value.rstrip("/")  # "/tmp/" is /tmp; "/" alone leaves nothing, and is refused
    if not path.startswith("/") or "//" in value or "/../" in f"{path}/":
        raise ValueError("want an absolute directory path such as /tmp (not /, no '..')")
    return path


AbsPath = Annotated[str, AfterValidator(_abs_path)]
Replicas = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=False
    )


class Compute(_Model):
    cpu: Quantity
    memory: Bytes


class Resources(_Model):
    requests: Compute
    limits: Compute

    def problems(self, key: str) -> list[str]:
        out = []
        for res in ("cpu", "memory"):
            req, lim = getattr(self.requests, res), getattr(self.limits, res)
            if quantity.parse(req) > quantity.parse(lim):
                out.append(f"{key}.requests.{res}: request {req!r} is above the limit {lim!r}")
        return out


class ProbeTiming(_Model):
    initial_delay_seconds: Annotated[int, Field(ge=0)]
    period_seconds: Annotated[int, Field(ge=1)]
    timeout_seconds: Annotated[int, Field(ge=1)]
    failure_threshold: Annotated[int, Field(ge=1)]
