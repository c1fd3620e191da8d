"""Taking over the cluster kubectl built (docs/adoption.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from .keys import NAMESPACE
from .values import Bool, _Model

if TYPE_CHECKING:
    from .settings import Settings

_OBJECT_REF = r"^[A-Z][A-Za-z]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
ObjectRef = Annotated[str, Field(pattern=_OBJECT_REF)]
#: What the spec's cluster runs, applied with kubectl (spec 2.2, 3, 4, 11.1): imported by the first
#: ``pulumi up`` in adoption mode. StatefulSet ``redis`` is not here: it cannot be updated into
#: ours (podManagementPolicy and volumeClaimTemplates are immutable); the runbook replaces it.
LIVE_OBJECTS = (
    "Namespace/ai-qtrd", "Secret/ai-qtrd-secrets", "ConfigMap/ai-qtrd-config", "ConfigMap/redis-config",
    "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "Service/ai-qtrd-web", "Service/ai-qtrd-api",
    "Service/redis-service", "Service/redis-headless", "IngressRoute/gushen-web-https",
    "IngressRoute/gushen-web-http", "Middleware/redirect-https", "Certificate/gushen-lurus-cn-tls",
    "ClusterIssuer/letsencrypt-prod",
)
#: Objects whose immutable fields differ from ours: importing them would make the engine replace
#: an imported resource, which it refuses. docs/adoption.md replaces them step by step.
NOT_IMPORTABLE = {"StatefulSet/redis": "its podManagementPolicy and volumeClaimTemplates are immutable"}


class Adopt(_Model):
    """Taking over a cluster that kubectl built (docs/adoption.md): the first ``pulumi up`` imports
    the live objects and updates them in place instead of failing with AlreadyExists."""

    enabled: Bool = False
    objects: list[ObjectRef] = list(LIVE_OBJECTS)
    """``Kind/name`` of every object that already exists in the cluster and this program manages."""
    force: list[ObjectRef] = []
    """Objects given ``pulumi.com/patchForce`` in the adoption run. No longer needed: that run turns
    the providers' ``enablePatchForce`` on for every object (docs/adoption.md); kept so stack files
    that set it stay valid."""

    def problems(self, key: str, settings: "Settings") -> list[str]:
        out = [
            f"{key}.objects: {ref!r} cannot be imported: {why} (docs/adoption.md replaces it)"
            for ref, why in NOT_IMPORTABLE.items() if ref in self.objects
        ]
        out += [f"{key}.force: {ref!r} is not in {key}.objects" for ref in self.force if ref not in self.objects]
        if self.enabled and settings.network.enabled:
            out.append(
                f"{NAMESPACE}:network.enabled: must be false while adopt.enabled is true (default-deny "
                "would cut the running pods' connections mid-migration; enable it in the next run) (got true)"
            )
        return out
