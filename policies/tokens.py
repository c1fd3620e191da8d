"""Service-account tokens (spec 11.3): the apps never call the Kubernetes API, so no pod gets one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, is_unknown, show
from .workloads import KINDS, pod_spec


def check_no_service_account_token(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Pod specs and ServiceAccounts set automountServiceAccountToken: false (absent counts as true)."""
    if obj.kind == "ServiceAccount":
        value = get(obj.body, "automountServiceAccountToken")
    else:
        value = get(pod_spec(obj), "automountServiceAccountToken")
    if value is None:
        yield "automountServiceAccountToken is unset (defaults to true), must be false"
    elif value is not False and not is_unknown(value):
        yield f"automountServiceAccountToken is {show(value)}, must be false"


RULES = [
    Rule(
        "no-service-account-token", check_no_service_account_token,
        kinds=KINDS | {"ServiceAccount"},
    ),
]
