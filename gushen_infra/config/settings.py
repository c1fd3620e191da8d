"""Everything under ``gushen:``: the settings of every component, and the secrets beside them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Optional

import pulumi
from pydantic import Field

from .adoption import Adopt
from .app import App, Postgres
from .backup import Backup
from .keys import NAMESPACE
from .monitoring import Monitoring
from .network import Network
from .nodes import ApiTier, ClusterNodes, Nodes, WebTier
from .redis import Redis
from .routing import Routing, Tls
from .values import Bool, DnsLabel, Domain, _Model


class Settings(_Model):
    """Everything under ``gushen:`` except secrets."""

    domain: Domain
    namespace: DnsLabel
    cluster_identifier: Annotated[str, Field(min_length=1)]
    render_yaml_to_directory: Optional[str] = None
    kube_context: Optional[Annotated[str, Field(min_length=1)]] = None
    """The kubeconfig context the provider uses (``None``: the kubeconfig's current context)."""
    explicit_cluster: Bool = False
    """The stack names its cluster itself: ``kubeconfig`` and ``kubeContext`` are required (outside
    render mode), so a changed current context or ``KUBECONFIG`` can never redirect it (prod)."""
    cluster_nodes: ClusterNodes
    nodes: Nodes
    web: WebTier
    api: ApiTier
    app: App
    postgres: Postgres
    backup: Backup = Backup()
    network: Network = Network()
    monitoring: Monitoring = Monitoring()
    redis: Redis
    routing: Routing = Routing()
    tls: Tls
    adopt: Adopt = Adopt()

    def problems(self) -> list[str]:
        """Cross-field checks that pydantic's per-field validation cannot express."""
        out = self.nodes.problems(f"{NAMESPACE}:nodes", self.cluster_nodes, f"{NAMESPACE}:clusterNodes")
        for tier in ("web", "api"):
            out += getattr(self, tier).problems(f"{NAMESPACE}:{tier}")
        out += self.redis.problems(f"{NAMESPACE}:redis")
        out += self.tls.problems(f"{NAMESPACE}:tls")
        out += self.backup.problems(f"{NAMESPACE}:backup")
        out += self.network.problems(f"{NAMESPACE}:network")
        out += self.monitoring.problems(f"{NAMESPACE}:monitoring")
        out += self.adopt.problems(f"{NAMESPACE}:adopt", self)
        return out

    def cluster_problems(self, has_kubeconfig: bool) -> list[str]:
        """Which cluster the provider aims at: refused before anything registers."""
        out = []
        render_key, render_dir = f"{NAMESPACE}:renderYamlToDirectory", self.render_yaml_to_directory
        if render_dir and has_kubeconfig:
            out.append(
                f"{NAMESPACE}:kubeconfig: not allowed together with {render_key} ({render_dir!r}): the provider "
                f"refuses the pair (render mode talks to no cluster); unset one of them"
            )
        if render_dir and self.kube_context:
            out.append(
                f"{NAMESPACE}:kubeContext: not allowed together with {render_key} ({render_dir!r}): the provider "
                f"refuses the pair; unset one of them"
            )
        if self.explicit_cluster and not render_dir:
            if not has_kubeconfig:
                out.append(
                    f"{NAMESPACE}:kubeconfig: required secret is missing: {NAMESPACE}:explicitCluster is true, so "
                    f"this stack never falls back to KUBECONFIG or ~/.kube/config "
                    f"(pulumi config set --secret {NAMESPACE}:kubeconfig < k3s.yaml)"
                )
            if not self.kube_context:
                out.append(
                    f"{NAMESPACE}:kubeContext: required key is missing: {NAMESPACE}:explicitCluster is true, so "
                    f"the kubeconfig's current context is never used (pulumi config set {NAMESPACE}:kubeContext ...)"
                )
        return out


@dataclass(frozen=True)
class Secrets:
    """Secret config values, as Pulumi secret outputs."""

    deepseek_api_key: pulumi.Output[str]
    """AI model API key (``DEEPSEEK_API_KEY``)."""
    database_password: pulumi.Output[str]
    """PostgreSQL password (``DATABASE_PASSWORD``, and inside ``DATABASE_URL``)."""
    lurus_api_key: pulumi.Output[str]
    """Lurus API key (``LURUS_API_KEY``)."""
    kubeconfig: Optional[pulumi.Output[str]]
    """The K3s kubeconfig; ``None`` means ``KUBECONFIG`` or ``~/.kube/config``."""
    backup_remote: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """The restic repository's credentials by env name (``RESTIC_PASSWORD``, ...); empty while ``backup.remote`` is off."""
    redis_password: Optional[pulumi.Output[str]] = None
    """The running cluster's ``REDIS_PASSWORD``, kept; ``None``: generated and kept in the state."""
    nextauth_secret: Optional[pulumi.Output[str]] = None
    """The running cluster's ``NEXTAUTH_SECRET`` (sessions survive), kept; ``None``: generated."""
