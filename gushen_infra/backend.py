"""BackendService: the FastAPI tier ``ai-qtrd-api`` (spec 3.2, appendix C)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from . import workload
from .tier import TierArgs, TierComponent

NAME = "ai-qtrd-api"
#: Address the server binds to inside the pod.
BIND_HOST = "0.0.0.0"
CONFIG_KEYS = ("DEEPSEEK_API_BASE", "DEEPSEEK_MODEL", "CORS_ORIGINS", "WEB_URL", "API_URL")
SECRET_KEYS = ("DEEPSEEK_API_KEY", "DATABASE_URL", "DATABASE_PASSWORD", "REDIS_PASSWORD")


@dataclass(frozen=True, kw_only=True)
class BackendServiceArgs(TierArgs):
    """The API tier's inputs; ``node`` is the node its pods prefer (node affinity, weight 100)."""


class BackendService(TierComponent):
    """Deployment and ClusterIP Service ``ai-qtrd-api``, preferring the API node."""

    def __init__(self, name: str, args: BackendServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:api:BackendService", name, None, opts)
        port = str(args.settings.port)
        self._deploy(
            NAME, "api", args,
            env=[workload.env_value("WEB_HOST", BIND_HOST), workload.env_value("WEB_PORT", port)],
            placement=workload.prefer_node(args.node),
            config_keys=CONFIG_KEYS, secret_keys=SECRET_KEYS,
        )
