"""NetworkIsolation: deny everything in the namespace, then allow exactly the platform's connections.

NetworkPolicies match pod addresses and container ports (a Service's address and port are
translated before they apply), so every edge names the pods' labels and the port the
container listens on, never a Service. Namespaces are matched on ``kubernetes.io/metadata.name``,
the one label every namespace carries. A NetworkPolicy cannot match a DNS name: PostgreSQL is
an address range from config, and the Lurus/AI API is "the internet, not the cluster".
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import pulumi

from . import config, kinds, workload
from .backend import BackendService
from .frontend import FrontendService
from .redis import RedisCluster
from .workload import AppLabels, Json

DEFAULT_DENY = "default-deny"
ALLOW_DNS = "allow-dns"
DNS_PORT = 53
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
_DEFAULT_PORTS = {"https": 443, "http": 80}
#: cert-manager's HTTP-01 solver: a pod it starts in the Certificate's namespace for each
#: challenge, with this label, serving the token on this port; Traefik routes the challenge to it.
SOLVER_POLICY = "acme-http01-solver"
SOLVER_LABELS = {"acme.cert-manager.io/http01-solver": "true"}
SOLVER_PORT = 8089


def url_ports(urls: Sequence[str]) -> tuple[int, ...]:
    """The ports connections to ``urls`` go to (443 for a plain ``https://host``)."""
    ports = {urlsplit(url).port or _DEFAULT_PORTS[urlsplit(url).scheme] for url in urls}
    return tuple(sorted(ports))


@dataclass(frozen=True)
class Prometheus:
    """The Prometheus that scrapes the web and API ports and the Redis pods' metrics port."""

    namespace: str
    """Prometheus's namespace."""
    pod_labels: Mapping[str, str]
    """Prometheus's pod labels; empty: any pod of that namespace."""


@dataclass(frozen=True)
class NetworkIsolationArgs:
    namespace: pulumi.Input[str]
    """Namespace to isolate."""
    settings: config.Network
    """Switch, Traefik and DNS selectors, the PostgreSQL address and the HTTPS egress ranges."""
    web: FrontendService
    """The web tier: reached by Traefik; calls the API, Redis, PostgreSQL and the Lurus API."""
    api: BackendService
    """The API tier: reached by Traefik and the web tier; calls Redis, PostgreSQL and the AI API."""
    redis: RedisCluster
    """The Redis pods and their proxy."""
    postgres_port: int
    """The external PostgreSQL's port."""
    external_urls: Sequence[str]
    """URLs the apps call outside the cluster: their ports are opened to ``httpsEgress``."""
    redis_backup: Optional[AppLabels] = None
    """Pods of the Redis backup job (they read from the replicas' proxy port), if any."""
    postgres_backup: Optional[AppLabels] = None
    """Pods of the PostgreSQL backup job, if any."""
    prometheus: Optional[Prometheus] = None
    """Who scrapes the pods, when monitoring is on."""
    backup_remote: Optional[tuple[str, int]] = None
    """``(cidr, port)`` of the off-cluster restic repository the backup pods copy to, if any."""


def _local(labels: AppLabels) -> Json:
    return {"podSelector": {"matchLabels": labels.selector}}


def _remote(namespace: str, pod_labels: Mapping[str, str]) -> Json:
    peer: Json = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: namespace}}}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(pod_labels)}
    return peer


def _ip_blocks(blocks: Sequence[config.IpBlock]) -> list[Json]:
    return [
        {"ipBlock": {"cidr": b.cidr, **({"except": list(b.except_)} if b.except_ else {})}} for b in blocks
    ]


def _carve(blocks: Sequence[config.IpBlock], cidr: str) -> list[config.IpBlock]:
    """``blocks`` less ``cidr``: the database is reached on its port only, not on the HTTPS one."""
    hole = ipaddress.ip_network(cidr)
    out = []
    for block in blocks:
        outer = ipaddress.ip_network(block.cidr)
        holes = [ipaddress.ip_network(e) for e in block.except_]
        inside = hole.version == outer.version and hole.subnet_of(outer) and hole != outer  # type: ignore[arg-type]
        if inside and not any(hole.subnet_of(h) for h in holes if h.version == hole.version):  # type: ignore[arg-type]
            block = config.IpBlock(cidr=block.cidr, except_=[*block.except_, cidr])
        out.append(block)
    return out


def _ports(ports: Sequence[int], protocol: str = "TCP") -> list[Json]:
    return [{"protocol": protocol, "port": port} for port in ports]


class _Rules:
    """Ingress and egress rules per workload, keyed by the workload's labels."""

    def __init__(self) -> None:
        self.ingress: dict[AppLabels, list[Json]] = defaultdict(list)
        self.egress: dict[AppLabels, list[Json]] = defaultdict(list)
        self.order: list[AppLabels] = []

    def _see(self, labels: AppLabels) -> AppLabels:
        stable = AppLabels(labels.name, labels.component)  # the version never matters to a selector
        if stable not in self.order:
            self.order.append(stable)
        return stable

    def inside(self, source: AppLabels, target: AppLabels, ports: Sequence[int]) -> None:
        """Both ends are ours: egress at the source and ingress at the target."""
        self.egress[self._see(source)].append({"to": [_local(target)], "ports": _ports(ports)})
        self.ingress[self._see(target)].append({"from": [_local(source)], "ports": _ports(ports)})

    def inbound(self, target: AppLabels, peers: list[Json], ports: Sequence[int]) -> None:
        self.ingress[self._see(target)].append({"from": peers, "ports": _ports(ports)})

    def outbound(self, source: AppLabels, peers: list[Json], ports: Sequence[int]) -> None:
        self.egress[self._see(source)].append({"to": peers, "ports": _ports(ports)})


def platform_rules(args: NetworkIsolationArgs) -> _Rules:
    """Every connection the platform makes, and nothing else."""
    s, redis = args.settings, args.redis
    web, api, proxy = args.web.labels, args.api.labels, redis.proxy_labels
    assert s.postgres is not None, "config validation requires network.postgres when enabled"
    postgres = _ip_blocks([config.IpBlock(cidr=s.postgres.cidr)])
    https = _ip_blocks(_carve(s.https_egress, s.postgres.cidr))
    rules = _Rules()
    traefik = [_remote(s.traefik_namespace, s.traefik_pod_labels)]
    rules.inbound(web, traefik, [args.web.port])
    rules.inbound(api, traefik, [args.api.port])
    rules.inside(web, api, [args.api.port])
    for app in (web, api):
        rules.inside(app, proxy, [redis.proxy_master_port])
        rules.outbound(app, postgres, [args.postgres_port])
        rules.outbound(app, https, url_ports(args.external_urls))
    rules.inside(proxy, redis.labels, [redis.server_port])
    # Replication and Sentinel; the failover needs no Kubernetes API.
    rules.inside(redis.labels, redis.labels, redis.peer_ports)
    if args.redis_backup is not None:
        rules.inside(args.redis_backup, proxy, [redis.proxy_replicas_port])
    if args.postgres_backup is not None:
        rules.outbound(args.postgres_backup, postgres, [args.postgres_port])
    if args.backup_remote is not None:
        # The off-site step reaches the repository's address on its port, and nothing else outside.
        cidr, port = args.backup_remote
        for job in (args.redis_backup, args.postgres_backup):
            if job is not None:
                rules.outbound(job, _ip_blocks([config.IpBlock(cidr=cidr)]), [port])
    if args.prometheus is not None:
        scraper = [_remote(args.prometheus.namespace, args.prometheus.pod_labels)]
        rules.inbound(web, scraper, [args.web.port])
        rules.inbound(api, scraper, [args.api.port])
        if redis.metrics_port is not None:
            rules.inbound(redis.labels, scraper, [redis.metrics_port])
    return rules


class NetworkIsolation(pulumi.ComponentResource):
    """NetworkPolicies ``default-deny``, ``allow-dns`` and one per workload (named after it)."""

    policy_names: list[str]
    """Names of the NetworkPolicies (none when the switch is off)."""

    def __init__(self, name: str, args: NetworkIsolationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:network:NetworkIsolation", name, None, opts)
        self.policy_names = []
        if args.settings.enabled:
            s = args.settings
            self._policy(args.namespace, DEFAULT_DENY, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
            # Every pod resolves names (Services, the Redis pods, the database host, the AI API).
            dns = [_remote(s.dns_namespace, s.dns_pod_labels)]
            self._policy(args.namespace, ALLOW_DNS, {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": dns, "ports": _ports([DNS_PORT], "UDP") + _ports([DNS_PORT], "TCP")}],
            })
            # Certificates are issued and renewed only if Traefik reaches the solver; nothing else may.
            self._policy(args.namespace, SOLVER_POLICY, {
                "podSelector": {"matchLabels": dict(SOLVER_LABELS)},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [_remote(s.traefik_namespace, s.traefik_pod_labels)], "ports": _ports([SOLVER_PORT])}],
            }, AppLabels(SOLVER_POLICY, "tls"))
            rules = platform_rules(args)
            for labels in rules.order:
                ingress, egress = rules.ingress.get(labels, []), rules.egress.get(labels, [])
                spec: Json = {
                    "podSelector": {"matchLabels": labels.selector},
                    "policyTypes": [t for t, r in (("Ingress", ingress), ("Egress", egress)) if r],
                }
                spec.update({k: v for k, v in (("ingress", ingress), ("egress", egress)) if v})
                self._policy(args.namespace, labels.name, spec, labels)
        self.register_outputs({"policy_names": self.policy_names})

    def _policy(self, namespace: pulumi.Input[str], name: str, spec: Json, labels: Optional[AppLabels] = None) -> None:
        kinds.register(
            kinds.NETWORK_POLICY, name, workload.metadata(name, namespace, labels or AppLabels(name, "network")),
            spec, pulumi.ResourceOptions(parent=self),
        )
        self.policy_names.append(name)
