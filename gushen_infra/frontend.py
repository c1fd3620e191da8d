"""FrontendService: the Next.js web tier ``ai-qtrd-web`` (spec 3.1, appendix C)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

import pulumi

from . import config, workload
from .tier import http_tier
from .workload import AppLabels, env_config, env_secret, env_value

NAME = "ai-qtrd-web"
#: Next.js writes its image/page cache under .next/cache; the root filesystem is read-only.
WRITABLE_PATHS = ("/tmp", "/app/.next/cache")
#: Non-secret env this tier reads from the app ConfigMap.
CONFIG_KEYS = ("REDIS_DB", "REDIS_ENABLED", "NEXTAUTH_URL", "LURUS_API_URL")
SECRET_KEYS = ("REDIS_PASSWORD", "NEXTAUTH_SECRET", "LURUS_API_KEY")


@dataclass(frozen=True)
class FrontendServiceArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into."""
    settings: config.Tier
    """Image, replicas, port, resources and probes of the tier."""
    node: str
    """Node the pods are pinned to (``nodeSelector``)."""
    redis_host: pulumi.Input[str]
    """Host name of the writable Redis endpoint (``REDIS_HOST``)."""
    redis_port: pulumi.Input[int]
    """Port of the Redis endpoint (``REDIS_PORT``)."""
    backend_url: pulumi.Input[str]
    """In-cluster URL of the API tier (``BACKEND_API_URL``)."""
    secret_name: pulumi.Input[str]
    """Secret holding REDIS_PASSWORD, NEXTAUTH_SECRET and LURUS_API_KEY."""
    config_map_name: pulumi.Input[str]
    """ConfigMap holding the tier's non-secret settings."""
    config_checksum: str = ""
    """Digest of that ConfigMap; a change rolls the pods."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """More pod annotations (Prometheus's ``prometheus.io/*``)."""


class FrontendService(pulumi.ComponentResource):
    """Deployment and ClusterIP Service ``ai-qtrd-web``, pinned to the web node."""

    service_name: pulumi.Output[str]
    port: int
    labels: AppLabels
    """The pods' labels (NetworkPolicies select the pods by them)."""
    url: pulumi.Output[str]
    """``http://ai-qtrd-web:3000``: the in-namespace address."""

    def __init__(self, name: str, args: FrontendServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:web:FrontendService", name, None, opts)
        env = [
            env_value("REDIS_HOST", args.redis_host),
            env_value("REDIS_PORT", pulumi.Output.from_input(args.redis_port).apply(str)),
            env_value("BACKEND_API_URL", args.backend_url),
            *(env_config(key, args.config_map_name) for key in CONFIG_KEYS),
            *(env_secret(key, args.secret_name) for key in SECRET_KEYS),
        ]
        checksum = {"checksum/config": args.config_checksum} if args.config_checksum else {}
        annotations = {**checksum, **args.pod_annotations} or None
        tier = http_tier(
            self, NAME, "web", args.namespace, args.settings, env,
            workload.pin_to_node(args.node), WRITABLE_PATHS, annotations,
        )
        self.service_name = tier.service_name
        self.port = tier.port
        self.labels = tier.labels
        self.url = self.service_name.apply(lambda n: f"http://{n}:{tier.port}")
        self.register_outputs({
            "service_name": self.service_name, "port": self.port, "labels": self.labels.all, "url": self.url,
        })
