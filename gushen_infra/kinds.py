"""Built-in kinds registered without their typed SDK package: NetworkPolicy and CronJob.

Importing ``pulumi_kubernetes.networking.v1`` or ``batch.v1`` builds every class and input type
of the API group (Ingress, IPAddress, ServiceCIDR, Job, ...): a twentieth of a render for the
one class each the program uses (bench/run.py). The engine and the provider know a resource by
its type token and inputs, not by the Python class that sent them: pulumi-kubernetes'
``CustomResource`` registers ``kubernetes:<apiVersion>:<kind>`` with ``apiVersion``, ``kind``,
``metadata`` and ``spec``, as the typed class does, and :func:`register` adds the typed class's
aliases. ``pulumi up`` sees the same resource (tests/test_kinds.py compares the requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class Kind:
    """A built-in kind as its typed class in pulumi-kubernetes registers it."""

    api_version: str
    """``apiVersion`` of the objects, e.g. ``networking.k8s.io/v1``."""
    kind: str
    """``kind`` of the objects, e.g. ``NetworkPolicy``."""
    alias_types: tuple[str, ...]
    """The typed class's aliases: type tokens the same objects had in older API versions."""


NETWORK_POLICY = Kind("networking.k8s.io/v1", "NetworkPolicy", ("kubernetes:extensions/v1beta1:NetworkPolicy",))
CRON_JOB = Kind("batch/v1", "CronJob", ("kubernetes:batch/v1beta1:CronJob", "kubernetes:batch/v2alpha1:CronJob"))


def register(
    kind: Kind, name: str, metadata: Any, spec: Any, opts: Optional[pulumi.ResourceOptions] = None
) -> k8s.apiextensions.CustomResource:
    """Register one ``kind`` object as the typed class would (same token, inputs and aliases)."""
    aliases = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=t) for t in kind.alias_types])
    return k8s.apiextensions.CustomResource(
        name, api_version=kind.api_version, kind=kind.kind, metadata=metadata, spec=spec,
        opts=pulumi.ResourceOptions.merge(opts, aliases),
    )
