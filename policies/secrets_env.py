"""Secrets in env (spec 11.1): a secret-looking variable comes from a Secret, never a literal."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, items
from .workloads import KINDS, containers, pod_spec

_WORD = re.compile(r"[A-Za-z0-9]+")


def looks_secret(name: str, words: list[str]) -> bool:
    """Whether a word of ``name`` is, or ends with, a secret word (DB_PASSWORD, APIKEY; not KEYCLOAK_URL)."""
    parts = [p.upper() for p in _WORD.findall(name)]
    return any(part.endswith(word.upper()) for part in parts for word in words)


def check_no_literal_secret_env(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Env vars whose names look secret (PASSWORD, SECRET, KEY, TOKEN) take no literal value: use secretKeyRef."""
    allowed = set(cfg["allowedEnvNames"])
    for c in containers(pod_spec(obj)):
        for env in items(get(c.body, "env")):
            name = get(env, "name")
            if not isinstance(name, str) or name in allowed or get(env, "value") in (None, ""):
                continue
            if looks_secret(name, cfg["secretWords"]):
                yield f"{c.label} sets {name} to a literal value; take it from a Secret (valueFrom.secretKeyRef)"


RULES = [
    Rule(
        "no-literal-secret-env", check_no_literal_secret_env,
        keys=("secretWords", "allowedEnvNames"), kinds=KINDS,
    ),
]
