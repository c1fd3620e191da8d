"""Placeholder values of the committed stack files: found, listed, and refused by a real deploy."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from .keys import NAMESPACE
from .messages import _set_command
from .settings import Settings


#: The committed stack files carry these until an operator sets the real values: ``set-me`` in a
#: name or address, a reserved domain (RFC 2606: can never resolve) and the documentation networks
#: (RFC 5737, RFC 3849: route nowhere). ``pulumi up`` refuses them; the render and preview list them.
PLACEHOLDER_WORD = "set-me"
RESERVED_DOMAINS = ("invalid", "example", "example.com", "example.net", "example.org")
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def is_placeholder(value: str) -> bool:
    text = value.strip().lower()
    if PLACEHOLDER_WORD in text:
        return True
    try:
        network = ipaddress.ip_interface(text).network  # an address with any prefix length
    except ValueError:
        hosts = re.split(r"[@/:\s,]+", text)
        return any(h == d or h.endswith("." + d) for h in hosts for d in RESERVED_DOMAINS)
    return any(network.version == doc.version and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS)  # type: ignore[arg-type]


def placeholders(settings: Settings) -> list[tuple[str, str]]:
    """Every ``(dotted key, value)`` in the settings that is a placeholder, in the settings' order."""
    found: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{key}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}.{i}")
        elif isinstance(value, str) and is_placeholder(value):
            found.append((key, value))

    # Every value the settings hold dumps as str, int, bool, None, list or dict (the JSON mode's too).
    for key, value in settings.model_dump(by_alias=True).items():
        walk(value, key)
    return found


def placeholder_lines(settings: Settings) -> list[str]:
    """One line per placeholder: the key, its value and the command that sets the real one."""
    return [
        f"{NAMESPACE}:{key}: {value!r} is a placeholder; set the real value with {_set_command(key)}"
        for key, value in placeholders(settings)
    ]
