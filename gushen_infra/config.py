"""Stack configuration: read the ``gushen:`` namespace once and validate it into typed settings.

This is the only module that reads Pulumi config. Components receive the typed
settings (or values taken from them) as arguments. Every problem in the config
is reported at once, one line per problem, naming the key and quoting the value,
before any resource is registered.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional

import pulumi
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from . import cron, quantity

NAMESPACE = "gushen"

#: Secret keys: read with ``require_secret``/``get_secret``, never committed.
REQUIRED_SECRETS = ("deepseekApiKey", "databasePassword", "lurusApiKey")
OPTIONAL_SECRETS = ("kubeconfig",)
#: The off-cluster restic repository's credentials (``backup.remote``), by the env name each
#: reaches the backup pods under (Secret ``backup-remote``).
BACKUP_REMOTE_SECRETS = {
    "resticPassword": "RESTIC_PASSWORD",
    "resticAwsAccessKeyId": "AWS_ACCESS_KEY_ID",
    "resticAwsSecretAccessKey": "AWS_SECRET_ACCESS_KEY",
    "resticSftpKey": "RESTIC_SFTP_KEY",
}
#: The running cluster's own values, kept when this program takes it over (docs/adoption.md).
KEPT_SECRETS = ("redisPassword", "nextauthSecret")
SECRET_KEYS = REQUIRED_SECRETS + OPTIONAL_SECRETS + KEPT_SECRETS + tuple(BACKUP_REMOTE_SECRETS)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^(?P<repo>[a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?)(:(?P<tag>[\w][\w.-]{0,127}))?(@sha256:[0-9a-f]{64})?$")


class ConfigError(pulumi.RunError):
    """Invalid stack config; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack config:\n  " + "\n  ".join(problems))


# --- value types -------------------------------------------------------------------------------


def _quantity(value: Any) -> Any:
    """Any quantity form Kubernetes takes: a string (kept as written) or a YAML number (``cpu: 2``,
    ``cpu: 0.5``), which becomes the string the API server stores (``"2"``, ``"500m"``)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value  # pydantic's "Input should be a valid string" names the type
    try:
        amount = quantity.parse(value)
    except quantity.QuantityError:
        raise ValueError("malformed quantity") from None
    if amount < 0:
        raise ValueError("negative quantity")
    return value.strip() if isinstance(value, str) else quantity.canonical(value)


#: Below this a memory or storage size is a slip of the unit (``512`` bytes for ``512Mi``).
MIN_BYTES = 2**20


def _bytes(value: str) -> str:
    """A memory or storage size: a whole number of bytes, at least :data:`MIN_BYTES`."""
    amount, suffix = quantity.split(value)
    number = re.match(r"[0-9.]*", value)[0] or "1"  # type: ignore[index]
    if suffix == "m":
        raise ValueError(f"{value!r} is {float(amount):g} bytes (m is milli, not mega); did you mean '{number}Mi'?")
    if amount.denominator != 1:
        raise ValueError(f"{value!r} is not a whole number of bytes; did you mean '{number}Mi'?")
    if amount < MIN_BYTES:
        raise ValueError(f"{value!r} is only {amount} bytes; did you mean '{number}Mi'?")
    return value


def _domain(value: str) -> str:
    if "." not in value or not _DNS_SUBDOMAIN.match(value):
        raise ValueError("invalid domain (want a lower-case DNS name such as gushen.lurus.cn)")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError("invalid name (want a DNS-1123 label: lower-case letters, digits, '-')")
    return value


def _node_name(value: str) -> str:
    if not value.strip():
        raise ValueError("empty node name")
    if not _DNS_SUBDOMAIN.match(value):
        raise ValueError("invalid node name (want a DNS-1123 subdomain)")
    return value


def _image(value: str) -> str:
    match = _IMAGE.match(value)
    if not match:
        raise ValueError("invalid image reference")
    if not match["tag"] and "@sha256:" not in value:
        raise ValueError("image has no tag (pin a version: the nodes hold imported images only)")
    if match["tag"] == "latest":
        raise ValueError("image is tagged 'latest' (pin a version)")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise ValueError("invalid URL (want http:// or https://)")
    return value


Quantity = Annotated[str, BeforeValidator(_quantity)]
Bytes = Annotated[str, BeforeValidator(_quantity), AfterValidator(_bytes)]
Domain = Annotated[str, AfterValidator(_domain)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
NodeName = Annotated[str, AfterValidator(_node_name)]
Image = Annotated[str, AfterValidator(_image)]
Url = Annotated[str, AfterValidator(_http_url)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _abs_path(value: str) -> str:
    if not value.startswith("/") or value.rstrip("/") == "" or "//" in value or "/../" in f"{value}/":
        raise ValueError("want an absolute directory path such as /tmp (not /, no '..')")
    return value.rstrip("/")


AbsPath = Annotated[str, AfterValidator(_abs_path)]
Replicas = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, strict=False
    )


# --- settings ----------------------------------------------------------------------------------


class Nodes(_Model):
    """Node names (``kubernetes.io/hostname``) that pin each tier."""

    web: NodeName
    api: NodeName
    data: NodeName


class Compute(_Model):
    cpu: Quantity
    memory: Bytes


class Resources(_Model):
    requests: Compute
    limits: Compute

    def problems(self, key: str) -> list[str]:
        out = []
        for res in ("cpu", "memory"):
            req, lim = getattr(self.requests, res), getattr(self.limits, res)
            if quantity.parse(req) > quantity.parse(lim):
                out.append(f"{key}.requests.{res}: request {req!r} is above the limit {lim!r}")
        return out


class ProbeTiming(_Model):
    initial_delay_seconds: Annotated[int, Field(ge=0)]
    period_seconds: Annotated[int, Field(ge=1)]
    timeout_seconds: Annotated[int, Field(ge=1)]
    failure_threshold: Annotated[int, Field(ge=1)]


class HttpProbes(_Model):
    """Liveness and readiness ``GET <path>`` on the container port."""

    path: Annotated[str, Field(pattern=r"^/")]
    liveness: ProbeTiming
    readiness: ProbeTiming


class Autoscaling(_Model):
    """A HorizontalPodAutoscaler on CPU (spec 8.3, 15.3)."""

    enabled: bool = False
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


class App(_Model):
    """Non-secret application settings, delivered through ConfigMap ``ai-qtrd-config``."""

    deepseek_api_base: Url
    deepseek_model: Annotated[str, Field(min_length=1)]
    lurus_api_url: Url
    cors_origins: Annotated[list[Url], Field(min_length=1)]


class Postgres(_Model):
    """The external PostgreSQL server (outside the cluster's namespace)."""

    host: NodeName
    port: Port
    database: Annotated[str, Field(min_length=1)]
    user: Annotated[str, Field(min_length=1)]


_DURATION = r"^[1-9][0-9]*(ms|s|m|h)$"


class SecurityHeaders(_Model):
    """Headers Middleware on every HTTPS route (HSTS and friends)."""

    enabled: bool = True
    sts_seconds: Annotated[int, Field(ge=0)] = 31536000
    sts_include_subdomains: bool = True


class RateLimit(_Model):
    """RateLimit Middleware on the ``/api`` routes, per client address."""

    enabled: bool = True
    average: Annotated[int, Field(ge=1)] = 100
    period: Annotated[str, Field(pattern=_DURATION)] = "1s"
    burst: Annotated[int, Field(ge=1)] = 200


class Routing(_Model):
    """Traefik IngressRoutes and Middlewares for the domain (spec 4.1-4.2)."""

    #: traefik.io: Traefik 2.10+ and the v3 that K3s bundles; traefik.containo.us: older Traefik 2.
    api_group: Literal["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"] = "traefik.io/v1alpha1"
    min_tls_version: Literal["VersionTLS12", "VersionTLS13"] = "VersionTLS12"
    security_headers: SecurityHeaders = SecurityHeaders()
    rate_limit: RateLimit = RateLimit()


def _email(value: str) -> str:
    if not re.match(r"^[^@\s]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$", value):
        raise ValueError("invalid e-mail address (want name@example.org, domain in lower case)")
    return value


class CertManagerInstall(_Model):
    """Optional install of cert-manager from its Helm chart (off where K3s already has it)."""

    install: bool = False
    chart_version: Annotated[str, Field(pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$")] = "v1.21.1"
    namespace: DnsLabel = "cert-manager"


class Tls(_Model):
    """Let's Encrypt issuers and the domain's certificate (spec 4.3)."""

    acme_email: Annotated[str, AfterValidator(_email)]
    issuer: Literal["letsencrypt-prod", "letsencrypt-staging"] = "letsencrypt-prod"
    staging_issuer: bool = False
    cert_manager: CertManagerInstall = CertManagerInstall()

    def problems(self, key: str) -> list[str]:
        if self.issuer == "letsencrypt-staging" and not self.staging_issuer:
            return [f"{key}.issuer: 'letsencrypt-staging' needs stagingIssuer: true (got stagingIssuer: false)"]
        return []


#: Redis memory sizes: ``1536mb`` (1mb = 1024*1024 bytes), ``2gb``, ``500m`` (1m = 10^6 bytes).
_REDIS_BYTES = re.compile(r"^(?P<num>[0-9]+)(?P<unit>k|kb|m|mb|g|gb)?$", re.IGNORECASE)
_REDIS_UNITS = {None: 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}


def redis_bytes(value: str) -> int:
    match = _REDIS_BYTES.match(value)
    if not match:
        raise ValueError("invalid Redis memory size (want e.g. 1536mb or 2gb)")
    return int(match["num"]) * _REDIS_UNITS[(match["unit"] or "").lower() or None]


def _redis_memory(value: str) -> str:
    redis_bytes(value)
    return value


class RedisStorage(_Model):
    """The PVC template of each Redis pod (``/data``)."""

    storage_class: DnsLabel
    size: Bytes
    claim_name: DnsLabel = "redis-data"
    """The volume claim template's name (PVCs ``<claimName>-redis-N``); it must be the running
    cluster's, or the pods lose their volumes. The spec names none: the default is the most likely
    one; read the real one with ``kubectl -n ai-qtrd get statefulset redis -o
    jsonpath='{.spec.volumeClaimTemplates[*].metadata.name}'`` (docs/adoption.md)."""


class RedisPersistence(_Model):
    """RDB save points and AOF settings (spec 3.3)."""

    save: list[Annotated[str, Field(pattern=r"^[0-9]+ [0-9]+$")]]
    """``"<seconds> <changes>"`` pairs; an empty list disables RDB snapshots."""
    appendonly: bool
    appendfsync: Literal["always", "everysec", "no"]


class RedisProbes(_Model):
    liveness: ProbeTiming
    readiness: ProbeTiming


class RedisSentinel(_Model):
    """Sentinel sidecars that promote a replica when the master dies."""

    enabled: bool
    monitor_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = "gushen"
    quorum: Annotated[int, Field(ge=1)] = 2
    down_after_milliseconds: Annotated[int, Field(ge=1000)]
    failover_timeout_milliseconds: Annotated[int, Field(ge=1000)]
    resources: Resources


class RedisProxy(_Model):
    """The HAProxy tier behind ``redis-service`` (master) and ``redis-replicas``."""

    image: Image
    replicas: Replicas
    resources: Resources


class Redis(_Model):
    """The replicated Redis StatefulSet ``redis`` (spec 3.3, 5, 9)."""

    image: Image
    replicas: Replicas
    resources: Resources
    storage: RedisStorage
    maxmemory: Annotated[str, AfterValidator(_redis_memory)]
    maxmemory_policy: Literal[
        "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu",
        "volatile-random", "allkeys-random", "volatile-ttl", "noeviction",
    ]
    persistence: RedisPersistence
    min_replicas_to_write: Annotated[int, Field(ge=0)] = 1
    """A master with fewer in-sync replicas refuses writes, so a stale master cannot take any."""
    min_replicas_max_lag: Annotated[int, Field(ge=1)] = 10
    probes: RedisProbes = RedisProbes(
        liveness=ProbeTiming(initial_delay_seconds=30, period_seconds=10, timeout_seconds=5, failure_threshold=3),
        readiness=ProbeTiming(initial_delay_seconds=5, period_seconds=5, timeout_seconds=3, failure_threshold=3),
    )
    sentinel: RedisSentinel
    proxy: RedisProxy
    protect: bool

    def problems(self, key: str) -> list[str]:
        out = self.resources.problems(f"{key}.resources")
        out += self.sentinel.resources.problems(f"{key}.sentinel.resources")
        out += self.proxy.resources.problems(f"{key}.proxy.resources")
        limit = quantity.parse(self.resources.limits.memory)
        if redis_bytes(self.maxmemory) >= limit:
            out.append(
                f"{key}.maxmemory: {self.maxmemory!r} is not below the memory limit "
                f"{self.resources.limits.memory!r} (the kernel would kill Redis before it evicts)"
            )
        if self.min_replicas_to_write >= self.replicas:
            out.append(
                f"{key}.minReplicasToWrite: {self.min_replicas_to_write!r} needs more than "
                f"{self.replicas - 1} replica(s) (replicas: {self.replicas}), so the master could never write"
            )
        if self.sentinel.enabled and self.replicas < 3:
            out.append(f"{key}.replicas: Sentinel needs at least 3 pods for a majority (got {self.replicas!r})")
        if self.sentinel.enabled and not self.replicas // 2 < self.sentinel.quorum <= self.replicas:
            out.append(
                f"{key}.sentinel.quorum: want a majority of the {self.replicas} Sentinels "
                f"({self.replicas // 2 + 1}..{self.replicas}), got {self.sentinel.quorum!r}"
            )
        return out


_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        if not _LABEL_KEY.match(key) or len(key.split("/")[0]) > 253:
            raise ValueError(f"invalid label key {key!r}")
        if not _LABEL_VALUE.match(label):
            raise ValueError(f"invalid value {label!r} of label {key!r}")
    return value


def _cidr(value: str) -> str:
    """Every CIDR key: an explicit prefix length, no host bits; returned in canonical form."""
    address, _, prefix = value.partition("/")
    try:
        single = ipaddress.ip_address(address)
    except ValueError:
        single = None
    if not prefix and single is not None:
        raise ValueError(f"no prefix length (one address is {single}/{single.max_prefixlen})")
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        example = f"{single}/{single.max_prefixlen}" if single is not None else "192.0.2.10/32"
        raise ValueError(f"invalid CIDR ({exc}; want e.g. {example})") from None


Labels = Annotated[dict[str, str], AfterValidator(_labels)]
Cidr = Annotated[str, AfterValidator(_cidr)]
#: Private, shared and link-local ranges: the pod and Service CIDRs (10.42/16, 10.43/16), the
#: nodes' Tailscale addresses (100.64/10, with the API server on 6443 and kubelets on 10250)
#: and the cloud metadata endpoint (169.254.169.254).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


class IpBlock(_Model):
    """A NetworkPolicy ``ipBlock``: ``cidr`` less the ``except`` ranges inside it."""

    cidr: Cidr
    except_: Annotated[list[Cidr], Field(alias="except")] = []

    def problems(self, key: str) -> list[str]:
        outer = ipaddress.ip_network(self.cidr)
        out = []
        for i, inner in enumerate(self.except_):
            net = ipaddress.ip_network(inner)
            if net.version != outer.version or not net.subnet_of(outer) or net == outer:  # type: ignore[arg-type]
                out.append(f"{key}.except.{i}: {inner!r} is not a strict subnet of cidr {self.cidr!r}")
        return out


class NetworkPostgres(_Model):
    """Where the external PostgreSQL is (its port is ``gushen:postgres.port``)."""

    cidr: Cidr
    """A NetworkPolicy cannot match a DNS name: the server's address, usually a /32."""


class Network(_Model):
    """NetworkPolicies: default deny in the namespace, then only the platform's edges (spec 16.2)."""

    enabled: bool = False
    traefik_namespace: DnsLabel = "kube-system"
    traefik_pod_labels: Labels = {"app.kubernetes.io/name": "traefik"}
    dns_namespace: DnsLabel = "kube-system"
    dns_pod_labels: Labels = {"k8s-app": "kube-dns"}
    postgres: Optional[NetworkPostgres] = None
    """Required when enabled: the apps and the backup reach only this address on the database port."""
    https_egress: list[IpBlock] = [IpBlock(cidr="0.0.0.0/0", except_=list(PRIVATE_RANGES))]
    """Where the apps may open HTTPS connections (the Lurus/AI API): the internet, not the cluster."""

    def problems(self, key: str) -> list[str]:
        out = [p for i, block in enumerate(self.https_egress) for p in block.problems(f"{key}.httpsEgress.{i}")]
        if self.enabled and self.postgres is None:
            out.append(f"{key}.postgres.cidr: required when enabled is true (the database's address, e.g. 192.0.2.10/32)")
        if self.enabled and not self.https_egress:
            out.append(f"{key}.httpsEgress: empty, so the apps could not reach the AI API (got [])")
        return out


class RedisExporter(_Model):
    """The ``redis-exporter`` sidecar of every Redis pod (``redis_up`` and friends on :9121)."""

    image: Image = "oliver006/redis_exporter:v1.67.0-alpine"
    resources: Resources = Resources(
        requests=Compute(cpu="10m", memory="32Mi"), limits=Compute(cpu="100m", memory="64Mi")
    )


_HTTP_PATH = Annotated[str, Field(pattern=r"^/[^\s]*$")]


class Monitoring(_Model):
    """Prometheus scraping and alerts (spec 17); off until the cluster runs Prometheus."""

    enabled: bool = False
    prometheus_namespace: DnsLabel = "monitoring"
    prometheus_pod_labels: Labels = {}
    """Prometheus's pod labels; empty: any pod of ``prometheusNamespace`` may scrape."""
    prometheus_rule: bool = False
    """Create the PrometheusRule (needs the Prometheus Operator's CRDs on the cluster)."""
    rule_labels: Labels = {}
    """Extra labels on the PrometheusRule, for the operator's ``ruleSelector`` (e.g. release: ...)."""
    web_metrics_path: _HTTP_PATH = "/metrics"
    api_metrics_path: _HTTP_PATH = "/metrics"
    exporter: RedisExporter = RedisExporter()

    def problems(self, key: str) -> list[str]:
        out = self.exporter.resources.problems(f"{key}.exporter.resources")
        if self.prometheus_rule and not self.enabled:
            out.append(f"{key}.prometheusRule: true needs enabled: true (got enabled: false)")
        return out


Cron = Annotated[str, AfterValidator(cron.cron_expression)]
TimeZone = Annotated[str, AfterValidator(cron.time_zone)]


class BackupStorage(_Model):
    """The PVC ``backups`` both CronJobs write to (local-path: it lives on the data node)."""

    storage_class: DnsLabel = "local-path"
    size: Bytes = "20Gi"
    retain_on_delete: bool = True
    """``pulumi destroy`` or switching backups off leaves the PVC (local-path would delete the files with it)."""


class RedisBackup(_Model):
    """CronJob ``redis-backup``: an RDB pulled from an in-sync replica (``redis-cli --rdb``)."""

    schedule: Cron = "0 * * * *"
    keep: Annotated[int, Field(ge=1)] = 48
    """How many of the newest dumps stay; older ones are deleted after each good backup."""
    starting_deadline_seconds: Annotated[int, Field(ge=10)] = 600
    """A run that cannot start this long after its time is skipped (the next one comes soon)."""
    active_deadline_seconds: Annotated[int, Field(ge=60)] = 1800
    resources: Resources = Resources(
        requests=Compute(cpu="50m", memory="64Mi"), limits=Compute(cpu="500m", memory="256Mi")
    )


class PostgresBackup(_Model):
    """CronJob ``postgres-backup``: ``pg_dump -Fc`` of the external PostgreSQL database."""

    schedule: Cron = "30 3 * * *"
    keep: Annotated[int, Field(ge=1)] = 14
    image: Image = "postgres:17.6-alpine"
    """pg_dump refuses a server of a newer major version: keep this major >= the server's."""
    starting_deadline_seconds: Annotated[int, Field(ge=10)] = 3600
    active_deadline_seconds: Annotated[int, Field(ge=60)] = 10800
    resources: Resources = Resources(
        requests=Compute(cpu="100m", memory="128Mi"), limits=Compute(cpu="1000m", memory="512Mi")
    )


Count = Annotated[int, Field(ge=1)]
_RESTIC_REPOSITORY = re.compile(r"^(?P<scheme>s3|sftp|rest):(?P<rest>\S+)$")
_SFTP_URL = re.compile(r"^sftp://(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?/(?P<path>/\S*)$")
_SFTP_SHORT = re.compile(r"^sftp:(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>/\S*)$")
_HTTP_TARGET = re.compile(r"^(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?(/\S*)?$")


def _restic_repository(value: str) -> str:
    match = _RESTIC_REPOSITORY.match(value)
    want = "want s3:https://host/bucket, sftp://user@host:port//path or rest:https://host:port/"
    if not match:
        raise ValueError(f"not an off-cluster restic repository ({want})")
    if match["scheme"] == "sftp":
        if not (_SFTP_URL.match(value) or _SFTP_SHORT.match(value)):
            raise ValueError(f"cannot read user, host and absolute path of the SFTP repository ({want})")
    else:
        target = match["rest"]
        http = _HTTP_TARGET.match(target)
        if not http or "@" in target:
            raise ValueError(f"want an http(s) URL without credentials (they are secrets) ({want})")
    port = (_SFTP_URL.match(value) or _HTTP_TARGET.match(match["rest"]) or {"port": None})["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return value


class ResticRetention(_Model):
    """``restic forget --keep-*`` counts for one kind of backup; unset counts are not passed."""

    last: Optional[Count] = None
    hourly: Optional[Count] = None
    daily: Optional[Count] = None
    weekly: Optional[Count] = None
    monthly: Optional[Count] = None

    def flags(self) -> list[str]:
        return [f"--keep-{name}={value}" for name, value in self.model_dump().items() if value is not None]

    def problems(self, key: str) -> list[str]:
        return [] if self.flags() else [f"{key}: set at least one count, or restic forget would delete everything (got {{}})"]


class BackupRemote(_Model):
    """Off-cluster copies: every new dump also goes to a restic repository outside the cluster."""

    enabled: bool = False
    image: Image = "restic/restic:0.17.3"
    repository: Optional[Annotated[str, AfterValidator(_restic_repository)]] = None
    """``s3:https://host/bucket``, ``sftp://user@host:port//path`` or ``rest:https://host:port/``."""
    cidr: Optional[Cidr] = None
    """The repository's address (a NetworkPolicy matches no DNS name): the backup pods' only egress besides their sources."""
    sftp_known_hosts: Optional[str] = None
    """SFTP only: the server's public host key line(s) (``ssh-keyscan``), checked strictly."""
    redis_retention: ResticRetention = ResticRetention(hourly=48)
    postgres_retention: ResticRetention = ResticRetention(daily=14)
    check_read_data_subset: Annotated[str, Field(pattern=r"^([1-9][0-9]?(\.[0-9]+)?%|[1-9][0-9]*/[1-9][0-9]*)$")] = "5%"
    """``restic check --read-data-subset`` after each PostgreSQL run (daily): how much pack data to re-read."""
    resources: Resources = Resources(
        requests=Compute(cpu="50m", memory="128Mi"), limits=Compute(cpu="1000m", memory="512Mi")
    )

    @property
    def scheme(self) -> str:
        return (self.repository or ":").split(":", 1)[0]

    def sftp_target(self) -> tuple[str, str, int]:
        """``(user, host, port)`` of an SFTP repository."""
        match = _SFTP_URL.match(self.repository or "") or _SFTP_SHORT.match(self.repository or "")
        assert match, "validated"
        return match["user"], match["host"], int(match.groupdict().get("port") or 22)

    def port(self) -> int:
        """The TCP port the repository listens on."""
        if self.scheme == "sftp":
            return self.sftp_target()[2]
        match = _HTTP_TARGET.match((self.repository or "").split(":", 1)[1])
        assert match, "validated"
        return int(match["port"] or (443 if match["scheme"] == "https" else 80))

    def secret_keys(self) -> tuple[str, ...]:
        """The config secrets this repository needs."""
        extra = {"s3": ("resticAwsAccessKeyId", "resticAwsSecretAccessKey"), "sftp": ("resticSftpKey",)}
        return ("resticPassword", *extra.get(self.scheme, ()))

    def problems(self, key: str) -> list[str]:
        out = self.resources.problems(f"{key}.resources")
        out += self.redis_retention.problems(f"{key}.redisRetention")
        out += self.postgres_retention.problems(f"{key}.postgresRetention")
        if not self.enabled:
            return out
        if self.repository is None:
            out.append(f"{key}.repository: required when enabled is true (e.g. s3:https://s3.example.org/gushen-backups)")
        if self.cidr is None:
            out.append(f"{key}.cidr: required when enabled is true (the repository's address, e.g. 192.0.2.30/32)")
        if self.scheme == "sftp" and not (self.sftp_known_hosts or "").strip():
            out.append(f"{key}.sftpKnownHosts: required for an SFTP repository (ssh-keyscan -p PORT HOST) (got {self.sftp_known_hosts!r})")
        return out


class Backup(_Model):
    """Scheduled Redis and PostgreSQL backups to a PVC on the data node (spec 18, 19.1)."""

    enabled: bool = False
    time_zone: TimeZone = "Etc/UTC"
    """The schedules' time zone (CronJob ``timeZone``); dump names are always in UTC."""
    storage: BackupStorage = BackupStorage()
    redis: RedisBackup = RedisBackup()
    postgres: PostgresBackup = PostgresBackup()
    remote: BackupRemote = BackupRemote()

    def problems(self, key: str) -> list[str]:
        return [
            *self.redis.resources.problems(f"{key}.redis.resources"),
            *self.postgres.resources.problems(f"{key}.postgres.resources"),
            *self.remote.problems(f"{key}.remote"),
        ]


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

    enabled: bool = False
    objects: list[ObjectRef] = list(LIVE_OBJECTS)
    """``Kind/name`` of every object that already exists in the cluster and this program manages."""
    force: list[ObjectRef] = []
    """Objects whose field conflicts with managers other than kubectl are overridden in the adoption
    run (``pulumi.com/patchForce``); kubectl's own fields are taken over without force."""

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


class Settings(_Model):
    """Everything under ``gushen:`` except secrets."""

    domain: Domain
    namespace: DnsLabel
    cluster_identifier: Annotated[str, Field(min_length=1)]
    render_yaml_to_directory: Optional[str] = None
    kube_context: Optional[Annotated[str, Field(min_length=1)]] = None
    """The kubeconfig context the provider uses (``None``: the kubeconfig's current context)."""
    explicit_cluster: bool = False
    """The stack names its cluster itself: ``kubeconfig`` and ``kubeContext`` are required (outside
    render mode), so a changed current context or ``KUBECONFIG`` can never redirect it (prod)."""
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
        out = []
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


# --- loading -----------------------------------------------------------------------------------


def _decode(value: Any) -> Any:
    """Config values arrive as strings; structured ones and numbers as JSON text."""
    if not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, (dict, list, int, float, bool)) else value


def _quote(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)


def _model_in(annotation: Any) -> Optional[type[BaseModel]]:
    """The settings model inside a field's type (``Optional[X]``, ``list[X]``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, typing.get_args(annotation)) if m is not None), None)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _keys_at(loc: list[str]) -> list[str]:
    """The keys allowed beside ``loc[-1]`` (the model that holds it), for a did-you-mean."""
    model: Optional[type[BaseModel]] = Settings
    for part in loc[:-1]:
        if part.isdigit():  # a list item: the list's model already stands for it
            continue
        fields = {field.alias or name: field for name, field in model.model_fields.items()}  # type: ignore[union-attr]
        model = _model_in(fields[part].annotation) if part in fields else None
        if model is None:
            return []
    keys = _keys_of(model)  # type: ignore[arg-type]
    return keys + list(SECRET_KEYS) if len(loc) == 1 else keys


def _format(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    key = f"{NAMESPACE}:" + ".".join(loc)
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(loc[-1], _keys_at(loc), n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else " (a typo?)"
        return f"{key}: unknown key{suggestion}, value {_quote(error['input'])}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key}: {message} (got {_quote(error['input'])})"


def _set_command(key: str, value: str = "<value>") -> str:
    """The CLI command that sets a (dotted) key, list items as ``[i]`` as ``--path`` spells them."""
    path = re.sub(r"\.([0-9]+)(?=\.|$)", r"[\1]", key)
    flag = " --path" if "." in key or "[" in path else ""
    return f"pulumi config set{flag} '{NAMESPACE}:{path}' {value}"


def _outside(other: Mapping[str, Any], known: Collection[str]) -> dict[str, str]:
    """Keys in another namespace that were meant for ``gushen:`` (``gushn:domain``, ``gushen-infra:domain``).

    Other namespaces are legitimate (``kubernetes:``, ``pulumi:``): only a key this program knows, or a
    namespace close to ``gushen``, is reported. Returns ``{top-level key it stands for: message}``.
    """
    out = {}
    for full, value in other.items():
        namespace, _, name = full.partition(":")
        head = name.split(".")[0]
        if head in known or difflib.get_close_matches(namespace, [NAMESPACE], n=1, cutoff=0.6):
            out[head] = (
                f"{full}: outside the {NAMESPACE}: namespace, so the program never reads it; did you mean "
                f"{NAMESPACE}:{name}? (set it with {_set_command(name)}, then pulumi config rm '{full}'; "
                f"got {_quote(_decode(value))})"
            )
    return out


def validate(
    raw: Mapping[str, Any], secret_keys: Collection[str] = (), other: Mapping[str, Any] = {}
) -> Settings:
    """Validate the ``gushen:`` config (keys without the namespace prefix) into settings.

    ``secret_keys`` are the keys Pulumi holds as secrets; ``other`` is the config of every other
    namespace (``namespace:key``), checked for keys meant for this one. Raises
    :class:`ConfigError` with every problem found.
    """
    known = _keys_of(Settings) + list(SECRET_KEYS)
    problems: list[str] = []
    plain: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(
                    f"{NAMESPACE}:{key}: must be a secret "
                    f"(pulumi config set --secret {NAMESPACE}:{key} ...), not plain text"
                )
            continue
        if "." in key and key.split(".")[0] in known:
            problems.append(
                f"{NAMESPACE}:{key}: one flat key named {key!r}, not a nested one: set it with "
                f"{_set_command(key)} and remove this one (pulumi config rm '{NAMESPACE}:{key}'); "
                f"got {_quote(_decode(value))}"
            )
            continue
        plain[key] = _decode(value)
    misplaced = _outside(other, known)
    if not plain and not problems:
        raise ConfigError(list(misplaced.values()) or [
            f"{NAMESPACE}: no config at all in the {NAMESPACE}: namespace (an empty stack file, or one "
            f"without a `config:` section?); Pulumi.prod.yaml has every key"
        ])
    problems += misplaced.values()
    for key in REQUIRED_SECRETS:
        if key not in raw and key not in misplaced:
            problems.append(
                f"{NAMESPACE}:{key}: required secret is missing "
                f"(pulumi config set --secret {NAMESPACE}:{key} ...)"
            )
    settings = None
    try:
        settings = Settings.model_validate(plain)
    except ValidationError as exc:
        problems += [
            _format(error) for error in exc.errors()
            if not (error["type"] == "missing" and len(error["loc"]) == 1 and error["loc"][0] in misplaced)
        ]
    if settings is not None:
        problems += settings.problems()
        problems += settings.cluster_problems("kubeconfig" in raw)
        remote = settings.backup.remote
        if settings.backup.enabled and remote.enabled:
            problems += [
                f"{NAMESPACE}:{key}: required secret for backup.remote ({remote.scheme} repository) is missing "
                f"(pulumi config set --secret {NAMESPACE}:{key} ...)"
                for key in remote.secret_keys() if key not in raw
            ]
    if settings is not None and settings.adopt.enabled:
        problems += [
            f"{NAMESPACE}:{key}: required while adopt.enabled is true: the live Secret's value "
            f"(docs/adoption.md; pulumi config set --secret {NAMESPACE}:{key} ...)"
            for key in KEPT_SECRETS if key not in raw
        ]
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return settings


# --- placeholders ------------------------------------------------------------------------------

#: The committed stack files carry these until an operator sets the real values: ``set-me`` in a
#: name or address, a reserved domain (RFC 2606: can never resolve) and the documentation networks
#: (RFC 5737, RFC 3849: route nowhere). ``pulumi up`` refuses them; the render and preview list them.
PLACEHOLDER_WORD = "set-me"
RESERVED_DOMAINS = ("invalid", "example", "example.com", "example.net", "example.org")
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


def is_placeholder(value: str) -> bool:
    text = value.strip().lower()
    if PLACEHOLDER_WORD in text:
        return True
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        hosts = re.split(r"[@/:\s,]+", text)
        return any(h == d or h.endswith("." + d) for h in hosts for d in RESERVED_DOMAINS)
    return any(network.version == doc.version and network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS)  # type: ignore[arg-type]


def placeholders(settings: Settings) -> list[tuple[str, str]]:
    """Every ``(dotted key, value)`` in the settings that is a placeholder, in the settings' order."""
    found: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}.{i}")
        elif isinstance(value, str) and is_placeholder(value):
            found.append((key, value))

    walk(settings.model_dump(mode="json", by_alias=True), "")
    return found


def placeholder_lines(settings: Settings) -> list[str]:
    """One line per placeholder: the key, its value and the command that sets the real one."""
    return [
        f"{NAMESPACE}:{key}: {value!r} is a placeholder; set the real value with {_set_command(key)}"
        for key, value in placeholders(settings)
    ]


def offline() -> bool:
    """Running under Pulumi's mocks (the offline render, the tests), not against an engine."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


def deploying() -> bool:
    """A real ``pulumi up``: the engine is there and this is not a preview."""
    return not pulumi.runtime.is_dry_run() and not offline()


def split_namespace(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``namespace:key`` config as (``gushen:`` keys without the prefix, every other key as is)."""
    prefix = f"{NAMESPACE}:"
    ours = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    return ours, {k: v for k, v in config.items() if not k.startswith(prefix)}


def render_secrets(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The secrets a stack requires, for placeholders in an offline render: ``values`` is the stack
    file's ``gushen:``-prefixed config. An explicit-cluster stack (not in render mode) needs its
    kubeconfig; the off-site backup's credentials are offered whatever the repository's scheme."""
    required = REQUIRED_SECRETS + tuple(BACKUP_REMOTE_SECRETS)
    explicit = str(values.get(f"{NAMESPACE}:explicitCluster", "")).lower() == "true"
    if explicit and not values.get(f"{NAMESPACE}:renderYamlToDirectory"):
        return required + ("kubeconfig",)
    return required


def _raw_pulumi_config() -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    raw, other = split_namespace(merged)
    secret = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    secret |= {k[len(prefix):] for k in runtime_config.get_config_secret_keys_env() if k.startswith(prefix)}
    return raw, secret, other


def load() -> tuple[Settings, Secrets]:
    """Read and validate this stack's config. The program's single entry point to config.

    A real deploy refuses placeholders (:func:`placeholders`); a preview, or an update that only
    writes YAML (``renderYamlToDirectory``), warns about them.
    """
    raw, secret_keys, other = _raw_pulumi_config()
    settings = validate(raw, secret_keys, other)
    unset = placeholder_lines(settings)
    if unset and deploying() and not settings.render_yaml_to_directory:
        raise ConfigError([f"{line} (pulumi up refuses placeholders)" for line in unset])
    if unset and not offline():
        for line in unset:
            pulumi.log.warn(f"{line} (pulumi up will refuse it)")
    cfg = pulumi.Config(NAMESPACE)
    secrets = Secrets(
        deepseek_api_key=cfg.require_secret("deepseekApiKey"),
        database_password=cfg.require_secret("databasePassword"),
        lurus_api_key=cfg.require_secret("lurusApiKey"),
        kubeconfig=cfg.get_secret("kubeconfig"),
        backup_remote={
            BACKUP_REMOTE_SECRETS[key]: cfg.require_secret(key)
            for key in (settings.backup.remote.secret_keys() if settings.backup.enabled and settings.backup.remote.enabled else ())
        },
        redis_password=cfg.get_secret("redisPassword"),
        nextauth_secret=cfg.get_secret("nextauthSecret"),
    )
    return settings, secrets
