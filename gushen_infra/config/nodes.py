"""The cluster's nodes, the node each tier runs on, and the stateless HTTP tiers (web, api)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Optional

from pydantic import Field

from .values import AbsPath, Bool, Compute, Image, NodeName, Port, ProbeTiming, Replicas, Resources, _Model


#: ``gushen:clusterNodes``: every node of the cluster by name (its ``kubernetes.io/hostname``), with
#: the CPU and memory it can give to pods (its allocatable). The one place these facts live: the
#: policy pack's config for the stack is generated from them (gushen_infra/policy_config.py).
ClusterNodes = Annotated[dict[NodeName, Compute], Field(min_length=1)]


class Nodes(_Model):
    """The node each tier is pinned to: one of ``gushen:clusterNodes``."""

    web: NodeName
    api: NodeName
    data: NodeName

    def problems(self, key: str, declared: Mapping[str, Compute], declared_key: str) -> list[str]:
        names = ", ".join(declared)
        return [
            f"{key}.{tier}: unknown node {node!r}; {declared_key} declares {names} "
            f"(a renamed node is renamed in both places)"
            for tier, node in self.model_dump().items() if node not in declared
        ]


class HttpProbes(_Model):
    """Liveness and readiness ``GET <path>`` on the container port."""

    path: Annotated[str, Field(pattern=r"^/")]
    liveness: ProbeTiming
    readiness: ProbeTiming


class Autoscaling(_Model):
    """A HorizontalPodAutoscaler on CPU (spec 8.3, 15.3)."""

    enabled: Bool = False
    min_replicas: Replicas
    max_replicas: Replicas
    cpu_utilization: Annotated[int, Field(ge=1, le=100)]
    """Target average CPU utilization, in percent of the request."""


class Tier(_Model):
    """One stateless HTTP tier (web or api)."""

    image: Image
    replicas: Replicas
    """Fixed replica count; ignored while autoscaling is enabled (the HPA owns it then)."""
    port: Port
    resources: Resources
    probes: HttpProbes
    autoscaling: Optional[Autoscaling] = None
    home: Optional[AbsPath] = None
    """``HOME`` of the container, made writable (``None``: the image's)."""
    writable_paths: list[AbsPath] = ["/tmp"]
    """Directories the app writes to, each an empty ``emptyDir`` (the root filesystem is read-only)."""
    seeded_paths: list[AbsPath] = []
    """Writable directories that start as a copy of the image's (an init container copies them)."""

    def problems(self, key: str) -> list[str]:
        out = self.resources.problems(f"{key}.resources")
        scaling = self.autoscaling
        if scaling and scaling.min_replicas > scaling.max_replicas:
            out.append(
                f"{key}.autoscaling.minReplicas: {scaling.min_replicas!r} is above "
                f"maxReplicas {scaling.max_replicas!r}"
            )
        return out


class WebTier(Tier):
    """The Next.js web tier, with what its image writes under a read-only root filesystem."""

    home: AbsPath = "/home/app"
    """``HOME``: an empty writable directory (npm and Next.js keep caches under it)."""
    writable_paths: list[AbsPath] = ["/tmp", "/app/.next/cache"]
    """Empty writable directories: Next.js's image and fetch cache."""
    seeded_paths: list[AbsPath] = ["/app/.next/server"]
    """Writable directories that start as the image's copy: regenerated (ISR) pages are written
    over the built ones in ``.next/server``, so an empty directory would hide the built pages."""


class ApiTier(Tier):
    """The FastAPI tier, with what its image writes under a read-only root filesystem."""

    home: AbsPath = "/home/app"
    """``HOME``: VNPy creates ``~/.vntrader`` (settings, logs, database) when it is imported."""
    writable_paths: list[AbsPath] = ["/tmp"]
    """Empty writable directories: Python's temporary files."""
    seeded_paths: list[AbsPath] = []
    """Writable directories that start as the image's copy (none)."""
