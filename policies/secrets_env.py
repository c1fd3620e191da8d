"""Secrets in env (spec 11.1): a credential comes from a Secret, never a literal value.

Two signals, either is enough: the variable's name looks secret (``DB_PASSWORD``, ``APIKEY``),
or its value looks like a credential whatever the name (``DATABASE_URL=postgresql://u:p@h/db``,
``sk-...``, ``ghp_...``, ``AKIA...``, a long random token). Messages never quote the value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .base import Obj, Rule, get, items
from .workloads import KINDS, containers, pod_spec

_WORD = re.compile(r"[A-Za-z0-9]+")
#: ``scheme://user:password@host``; a password that is only ``$(VAR)`` is Kubernetes' env
#: expansion of another variable (taken from a Secret), not a literal.
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]*:(?P<password>[^\s/@]+)@", re.IGNORECASE)
_ENV_REFERENCE = re.compile(r"^(\$\([A-Za-z_][A-Za-z0-9_.-]*\))+$")
#: Issuers' documented key prefixes, each with the length of what follows it.
KEY_PREFIXES = (
    ("an OpenAI/Anthropic-style API key (sk-...)", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Google API key", re.compile(r"\bAIza[A-Za-z0-9_-]{35}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)
#: A run of token characters this long, this random, is a credential (a 32-character random
#: hex string has about 3.8 bits per character, base64 about 4.5-5; words and paths far less).
TOKEN_MIN_LENGTH = 32
TOKEN_MIN_ENTROPY = 3.5
#: Token characters (base64, base64url, hex); not ``.`` or ``:``, which split host names and URLs.
_TOKEN = re.compile(r"[A-Za-z0-9+/=_~-]{%d,}" % TOKEN_MIN_LENGTH)


def looks_secret(name: str, words: list[str]) -> bool:
    """Whether a word of ``name`` is, or ends with, a secret word (DB_PASSWORD, APIKEY; not KEYCLOAK_URL)."""
    parts = [p.upper() for p in _WORD.findall(name)]
    return any(part.endswith(word.upper()) for part in parts for word in words)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _random_token(token: str) -> bool:
    if not (any(c.isdigit() for c in token) and any(c.isalpha() for c in token)):
        return False
    if token.count("/") * 8 > len(token) or token.count("-") * 8 > len(token):
        return False  # over one in 8: a path or a dashed name (node ubuntu-1-16c32g-...), not a token
    return entropy(token) >= TOKEN_MIN_ENTROPY


def credential_kind(value: str) -> Optional[str]:
    """What credential ``value`` looks like (``None`` if it looks like none)."""
    for match in _URL_PASSWORD.finditer(value):
        if not _ENV_REFERENCE.match(match["password"]):
            return "a URL with a password"
    for kind, pattern in KEY_PREFIXES:
        if pattern.search(value):
            return kind
    if any(_random_token(t) for t in _TOKEN.findall(value)):
        return f"a random token ({TOKEN_MIN_LENGTH}+ characters, high entropy)"
    return None


def check_no_literal_secret_env(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Env vars that look secret by name (PASSWORD, SECRET, KEY, TOKEN) or hold a credential-looking value take no literal: use secretKeyRef."""
    allowed_names, allowed_values = set(cfg["allowedEnvNames"]), set(cfg["allowedValues"])
    for c in containers(pod_spec(obj)):
        for env in items(get(c.body, "env")):
            name, value = get(env, "name"), get(env, "value")
            if not isinstance(name, str) or name in allowed_names or not isinstance(value, str) or value == "":
                continue
            fix = "take it from a Secret (valueFrom.secretKeyRef)"
            if looks_secret(name, cfg["secretWords"]):
                yield f"{c.label} sets {name} to a literal value; {fix}"
            elif value not in allowed_values and (kind := credential_kind(value)):
                yield f"{c.label} sets {name} to a literal value that looks like {kind}; {fix}"


RULES = [
    Rule(
        "no-literal-secret-env", check_no_literal_secret_env,
        keys=("secretWords", "allowedEnvNames", "allowedValues"), kinds=KINDS,
    ),
]
