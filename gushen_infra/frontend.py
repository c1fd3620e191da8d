"""FrontendService: the Next.js web tier ``ai-qtrd-web`` (spec 3.1, appendix C)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from . import workload
from .tier import TierArgs, TierComponent

NAME = "ai-qtrd-web"
#: Non-secret env this tier reads from the app ConfigMap.
CONFIG_KEYS = ("REDIS_DB", "REDIS_ENABLED", "NEXTAUTH_URL", "LURUS_API_URL")
SECRET_KEYS = ("REDIS_PASSWORD", "NEXTAUTH_SECRET", "LURUS_API_KEY")


@dataclass(frozen=True, kw_only=True)
class FrontendServiceArgs(TierArgs):
    """The web tier's inputs; ``node`` is the node its pods are pinned to (``nodeSelector``)."""

    backend_url: pulumi.Input[str]
    """In-cluster URL of the API tier (``BACKEND_API_URL``)."""


class FrontendService(TierComponent):
    """Deployment and ClusterIP Service ``ai-qtrd-web``, pinned to the web node."""

    def __init__(self, name: str, args: FrontendServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:web:FrontendService", name, None, opts)
        self._deploy(
            NAME, "web", args,
            env=[workload.env_value("BACKEND_API_URL", args.backend_url)],
            placement=workload.pin_to_node(args.node),
            config_keys=CONFIG_KEYS, secret_keys=SECRET_KEYS,
        )
