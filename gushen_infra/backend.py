"""BackendService: the FastAPI tier ``ai-qtrd-api`` (spec 3.2, appendix C)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

import pulumi

from . import config, workload
from .tier import http_tier
from .workload import AppLabels, env_config, env_secret, env_value

NAME = "ai-qtrd-api"
#: Python writes temp files and caches; the root filesystem is read-only.
WRITABLE_PATHS = ("/tmp",)
#: Address the server binds to inside the pod.
BIND_HOST = "0.0.0.0"
CONFIG_KEYS = ("DEEPSEEK_API_BASE", "DEEPSEEK_MODEL", "CORS_ORIGINS", "WEB_URL", "API_URL")
SECRET_KEYS = ("DEEPSEEK_API_KEY", "DATABASE_URL", "DATABASE_PASSWORD", "REDIS_PASSWORD")


@dataclass(frozen=True)
class BackendServiceArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into."""
    settings: config.Tier
    """Image, replicas, port, resources and probes of the tier."""
    node: str
    """Node the pods prefer (preferred node affinity, weight 100)."""
    redis_host: pulumi.Input[str]
    """Host name of the writable Redis endpoint (``REDIS_HOST``)."""
    redis_port: pulumi.Input[int]
    """Port of the Redis endpoint (``REDIS_PORT``)."""
    secret_name: pulumi.Input[str]
    """Secret holding the API keys, database credentials and Redis password."""
    config_map_name: pulumi.Input[str]
    """ConfigMap holding the tier's non-secret settings."""
    config_checksum: str = ""
    """Digest of that ConfigMap; a change rolls the pods."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """More pod annotations (Prometheus's ``prometheus.io/*``)."""


class BackendService(pulumi.ComponentResource):
    """Deployment and ClusterIP Service ``ai-qtrd-api``, preferring the API node."""

    service_name: pulumi.Output[str]
    port: int
    labels: AppLabels
    """The pods' labels (NetworkPolicies select the pods by them)."""
    url: pulumi.Output[str]
    """``http://ai-qtrd-api:8000``: the in-namespace address."""

    def __init__(self, name: str, args: BackendServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:api:BackendService", name, None, opts)
        port = args.settings.port
        env = [
            env_value("WEB_HOST", BIND_HOST),
            env_value("WEB_PORT", str(port)),
            env_value("REDIS_HOST", args.redis_host),
            env_value("REDIS_PORT", pulumi.Output.from_input(args.redis_port).apply(str)),
            *(env_config(key, args.config_map_name) for key in CONFIG_KEYS),
            *(env_secret(key, args.secret_name) for key in SECRET_KEYS),
        ]
        checksum = {"checksum/config": args.config_checksum} if args.config_checksum else {}
        annotations = {**checksum, **args.pod_annotations} or None
        tier = http_tier(
            self, NAME, "api", args.namespace, args.settings, env,
            workload.prefer_node(args.node), WRITABLE_PATHS, annotations,
        )
        self.service_name = tier.service_name
        self.port = tier.port
        self.labels = tier.labels
        self.url = self.service_name.apply(lambda n: f"http://{n}:{port}")
        self.register_outputs({
            "service_name": self.service_name, "port": self.port, "labels": self.labels.all, "url": self.url,
        })
