"""RedisCluster: the replicated Redis of spec 3.3 with automatic failover (Sentinel + HAProxy).

StatefulSet ``redis`` (master + replicas, a Sentinel sidecar in each pod) on the data node, and
a small HAProxy tier ``redis-proxy`` that health-checks ``role:master``: ``redis-service`` (what
the apps use) reaches only the current writable master, ``redis-replicas`` only in-sync replicas.
No pod needs the Kubernetes API. What the pods run is rendered by :mod:`gushen_infra.redis_conf`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import config, redis_conf, workload
from .redis_conf import (
    HEADLESS, NAME, PROXY_HEALTH_PATH, PROXY_HEALTH_PORT, PROXY_MASTER_PORT, PROXY_REPLICAS_PORT,
    REDIS_PORT, SENTINEL_PORT,
)
from .tier import probe_timing
from .workload import AppLabels, Json

CONFIG_MAP = "redis-config"
PROXY = "redis-proxy"
PROXY_CONFIG_MAP = "redis-proxy-config"
MASTER_SERVICE = "redis-service"
REPLICAS_SERVICE = "redis-replicas"
SENTINEL_SERVICE = "redis-sentinel"
#: The official images' users: redis (uid 999) and haproxy (uid 99).
REDIS_UID = 999
HAPROXY_UID = 99
#: After the preStop hand-over, SIGTERM makes Redis fsync the AOF and write its RDB (up to
#: maxmemory, 1.5 GB) before it exits; this is the time it gets for that.
SHUTDOWN_SECONDS = 60
#: A new Redis pod's turn in a roll after the old one stopped, at most: start (10 s), load its
#: AOF and then resync from the master, each of a full dataset (maxmemory 1.5 GB at 12 MB/s or
#: more: 2 x 128 s), Sentinel's discovery of the new replica, which readiness waits for (its INFO
#: period, 10 s), and the readiness probe's period. Measured on redis-server 7.0 with 221 MB on 2
#: shared cores (load 4.7): AOF load 332 MB/s, full resync 33 MB/s, so 12 MB/s leaves room for a
#: slower disk. The await of the StatefulSet is sized from it (:func:`roll_timeout`); the
#: provider's default, 10 minutes, is less than one roll of three.
POD_START_SECONDS = 300
PROXY_LIVENESS = workload.ProbeTiming(5, 10, 3, 3)
PROXY_READINESS = workload.ProbeTiming(2, 5, 2, 2)


@dataclass(frozen=True)
class RedisClusterArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into."""
    settings: config.Redis
    """Images, replicas, resources, storage, memory, persistence, Sentinel, proxy and protect."""
    node: str
    """The data node: every Redis and proxy pod is pinned there (``nodeSelector``)."""
    secret_name: str
    """Secret whose ``REDIS_PASSWORD`` key is the password (the default user's and masterauth); a fixed name."""
    secret_checksum: pulumi.Input[str] = ""
    """Digest (revealing nothing) of that password: a rotation rolls the Redis pods (docs/redis.md)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """The Secret: created before the pods that read it."""
    metrics_sidecar: Optional[workload.Container] = None
    """A metrics exporter to run beside Redis in every pod (monitoring), or none; its first port serves the metrics."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """More annotations of the Redis pods (Prometheus's ``prometheus.io/*``)."""


class RedisCluster(pulumi.ComponentResource):
    """StatefulSet ``redis``, its Services, PodDisruptionBudget and the ``redis-proxy`` tier."""

    service_name: str
    """``redis-service``: the short name the apps use inside the namespace (a plain name: no one waits for it)."""
    port: int
    fqdn: pulumi.Output[str]
    """``redis-service.<ns>.svc.cluster.local``."""
    master_endpoint: pulumi.Output[str]
    """``host:port`` of the writable master (through HAProxy)."""
    replicas_endpoint: pulumi.Output[str]
    """``host:port`` of the read-only replicas (through HAProxy)."""
    sentinel_endpoint: Optional[pulumi.Output[str]]
    """``host:port`` of the Sentinels; ``None`` without Sentinel."""
    labels: AppLabels
    """Labels of the Redis pods."""
    proxy_labels: AppLabels
    """Labels of the ``redis-proxy`` pods."""
    server_port: int
    """Redis's port on the Redis pods (the proxy connects to it)."""
    peer_ports: tuple[int, ...]
    """Ports the Redis pods connect to each other on: replication, and Sentinel when on."""
    proxy_master_port: int
    """The proxy pods' port behind ``redis-service`` (the master)."""
    proxy_replicas_port: int
    """The proxy pods' port behind ``redis-replicas`` (in-sync replicas)."""
    metrics_port: Optional[int]
    """The metrics sidecar's port on the Redis pods; ``None`` without one."""

    def __init__(self, name: str, args: RedisClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:redis:RedisCluster", name, None, opts)
        s, ns = args.settings, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        labels = AppLabels(NAME, "redis", workload.image_tag(s.image))
        proxy_labels = AppLabels(PROXY, PROXY, workload.image_tag(s.proxy.image))

        data = {"redis.conf": redis_conf.redis_conf(s), "redis.sh": redis_conf.SCRIPT_TEXT}
        config_map = k8s.core.v1.ConfigMap(
            CONFIG_MAP, metadata=workload.metadata(CONFIG_MAP, ns, AppLabels(CONFIG_MAP, "config")),
            data=data, opts=child,
        )
        headless_ports = {"redis": REDIS_PORT, **({"sentinel": SENTINEL_PORT} if s.sentinel.enabled else {})}
        # Pods must be resolvable while not ready: replicas find the master, Sentinels each other.
        headless = k8s.core.v1.Service(
            HEADLESS, metadata=workload.metadata(HEADLESS, ns, labels),
            spec=workload.service_spec(labels, headless_ports, clusterIP="None", publishNotReadyAddresses=True),
            opts=child,
        )
        statefulset = k8s.apps.v1.StatefulSet(
            NAME,
            metadata=workload.metadata(
                NAME, ns, labels,
                # A replacement (new volumeClaimTemplates) leaves the pods running; the new
                # StatefulSet adopts them and rolls them one at a time.
                annotations={"pulumi.com/deletionPropagationPolicy": "orphan"},
            ),
            spec=workload.statefulset_spec(
                labels, s.replicas,
                workload.pod_template(
                    labels, self._redis_pod(args),
                    {"checksum/config": workload.checksum(data), **_secret_checksum(args), **args.pod_annotations},
                ),
                HEADLESS,
                [workload.volume_claim(s.storage.claim_name, labels, s.storage.storage_class, s.storage.size)],
                # Start all at once: redis.sh decides the roles (Sentinel's view, else ordinal 0),
                # so the order does not matter, and a slow redis-0 must not hold the others back.
                pod_management_policy="Parallel",
            ),
            opts=pulumi.ResourceOptions(
                parent=self, protect=s.protect, delete_before_replace=True,
                # Names, not outputs: the ConfigMap, Secret and headless Service are only waited for.
                depends_on=[config_map, headless, *args.depends_on],
                # Kubernetes refuses to update volumeClaimTemplates in place.
                replace_on_changes=["spec.volumeClaimTemplates"],
                custom_timeouts=roll_timeout(s.replicas, self._grace(s)),
            ),
        )
        budget = workload.disruption_budget_spec(labels, workload.pin_to_node(args.node))
        if budget:  # pinned to the data node: none (see disruption_budget_spec and docs/redis.md)
            k8s.policy.v1.PodDisruptionBudget(
                NAME, metadata=workload.metadata(NAME, ns, labels), spec=budget,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[statefulset]),
            )
        if s.sentinel.enabled:
            k8s.core.v1.Service(
                SENTINEL_SERVICE, metadata=workload.metadata(SENTINEL_SERVICE, ns, labels),
                spec=workload.service_spec(labels, {"sentinel": SENTINEL_PORT}), opts=child,
            )
            self.sentinel_endpoint = _endpoint(SENTINEL_SERVICE, ns, SENTINEL_PORT)
        else:
            self.sentinel_endpoint = None

        self._proxy(args, proxy_labels)
        k8s.core.v1.Service(
            MASTER_SERVICE, metadata=workload.metadata(MASTER_SERVICE, ns, proxy_labels),
            spec=workload.service_spec(proxy_labels, {"redis": REDIS_PORT}), opts=child,
        )
        k8s.core.v1.Service(
            REPLICAS_SERVICE, metadata=workload.metadata(REPLICAS_SERVICE, ns, proxy_labels),
            spec=workload.service_spec(proxy_labels, {"replicas": REDIS_PORT}), opts=child,
        )
        self.port = REDIS_PORT
        self.labels, self.proxy_labels = labels, proxy_labels
        self.server_port = REDIS_PORT
        self.peer_ports = (REDIS_PORT, SENTINEL_PORT) if s.sentinel.enabled else (REDIS_PORT,)
        self.proxy_master_port, self.proxy_replicas_port = PROXY_MASTER_PORT, PROXY_REPLICAS_PORT
        sidecar = args.metrics_sidecar
        self.metrics_port = next(iter(sidecar.ports.values())) if sidecar and sidecar.ports else None
        self.service_name = MASTER_SERVICE
        self.fqdn = pulumi.Output.concat(MASTER_SERVICE, ".", ns, ".svc.cluster.local")
        self.master_endpoint = _endpoint(MASTER_SERVICE, ns, REDIS_PORT)
        self.replicas_endpoint = _endpoint(REPLICAS_SERVICE, ns, REDIS_PORT)
        self.register_outputs({
            "service_name": self.service_name, "port": self.port, "fqdn": self.fqdn,
            "master_endpoint": self.master_endpoint, "replicas_endpoint": self.replicas_endpoint,
            "sentinel_endpoint": self.sentinel_endpoint,
            "labels": labels.all, "proxy_labels": proxy_labels.all, "server_port": self.server_port,
            "peer_ports": list(self.peer_ports), "proxy_master_port": self.proxy_master_port,
            "proxy_replicas_port": self.proxy_replicas_port, "metrics_port": self.metrics_port,
        })

    def _redis_pod(self, args: RedisClusterArgs) -> Json:
        s = args.settings
        env = redis_conf.redis_env(s, args.namespace, args.secret_name)
        config_mount = {"name": "config", "mountPath": redis_conf.CONFIG_DIR, "readOnly": True}
        data_mount = {"name": s.storage.claim_name, "mountPath": redis_conf.DATA_DIR}
        command = ["sh", redis_conf.SCRIPT]
        redis = workload.Container(
            name="redis", image=s.image, resources=s.resources.model_dump(), ports={"redis": REDIS_PORT},
            env=env, command=[*command, "server"],
            liveness=workload.exec_probe(redis_conf.LIVENESS, probe_timing(s.probes.liveness)),
            readiness=workload.exec_probe(redis_conf.READINESS, probe_timing(s.probes.readiness)),
            writable_paths=(redis_conf.RUN_DIR,),
            volume_mounts=[config_mount, data_mount],
            run_as_user=REDIS_UID, pre_stop=[*command, "pre-stop"],
        )
        containers = [redis, *([args.metrics_sidecar] if args.metrics_sidecar else [])]
        if s.sentinel.enabled:
            timing = probe_timing(s.probes.readiness)
            containers.append(workload.Container(
                name="sentinel", image=s.image, resources=s.sentinel.resources.model_dump(),
                ports={"sentinel": SENTINEL_PORT}, env=env, command=[*command, "sentinel"],
                liveness=workload.exec_probe(redis_conf.SENTINEL_PROBE, probe_timing(s.probes.liveness)),
                readiness=workload.exec_probe(redis_conf.SENTINEL_PROBE, timing),
                # The PVC too: redis.sh keeps the newest master Sentinel has seen there.
                writable_paths=(redis_conf.RUN_DIR,), volume_mounts=[config_mount, data_mount],
                run_as_user=REDIS_UID, pre_stop_sleep_seconds=None,
            ))
        # Executable: Sentinel runs redis.sh as its notification script.
        volume = {"name": "config", "configMap": {"name": CONFIG_MAP, "defaultMode": redis_conf.SCRIPT_MODE}}
        return workload.pod_spec(
            containers, workload.pin_to_node(args.node), volumes=[volume],
            run_as_user=REDIS_UID, termination_grace_seconds=self._grace(s),
        )

    @staticmethod
    def _grace(s: config.Redis) -> int:
        """The hand-over waits up to the failover timeout, then Redis needs time to save."""
        return -(-s.sentinel.failover_timeout_milliseconds // 1000) + SHUTDOWN_SECONDS

    def _proxy(self, args: RedisClusterArgs, labels: AppLabels) -> None:
        s, ns = args.settings, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        cfg = pulumi.Output.from_input(ns).apply(lambda n: redis_conf.haproxy_cfg(n, s.replicas))
        config_map = k8s.core.v1.ConfigMap(
            PROXY_CONFIG_MAP, metadata=workload.metadata(PROXY_CONFIG_MAP, ns, AppLabels(PROXY_CONFIG_MAP, "config")),
            data={"haproxy.cfg": cfg}, opts=child,
        )
        haproxy = workload.Container(
            name="haproxy", image=s.proxy.image, resources=s.proxy.resources.model_dump(),
            ports={"redis": PROXY_MASTER_PORT, "replicas": PROXY_REPLICAS_PORT, "health": PROXY_HEALTH_PORT},
            command=["haproxy", "-W", "-db", "-f", f"{redis_conf.PROXY_CONFIG_DIR}/haproxy.cfg"],
            liveness=workload.http_probe(PROXY_HEALTH_PATH, "health", PROXY_LIVENESS),
            readiness=workload.http_probe(PROXY_HEALTH_PATH, "health", PROXY_READINESS),
            writable_paths=(),
            volume_mounts=[{"name": "config", "mountPath": redis_conf.PROXY_CONFIG_DIR, "readOnly": True}],
            run_as_user=HAPROXY_UID,
        )
        volume = {"name": "config", "configMap": {"name": PROXY_CONFIG_MAP}}
        spec = workload.pod_spec([haproxy], workload.pin_to_node(args.node), volumes=[volume], run_as_user=HAPROXY_UID)
        # No password: the checks log in as redis_conf.HEALTHCHECK_USER, so a rotation leaves the
        # proxies running.
        template = workload.pod_template(
            labels, spec, {"checksum/config": cfg.apply(lambda c: workload.checksum({"haproxy.cfg": c}))},
        )
        deployment = k8s.apps.v1.Deployment(
            PROXY, metadata=workload.metadata(PROXY, ns, labels),
            spec=workload.deployment_spec(labels, s.proxy.replicas, template),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[config_map]),
        )
        budget = workload.disruption_budget_spec(labels, workload.pin_to_node(args.node))
        if budget:
            k8s.policy.v1.PodDisruptionBudget(
                PROXY, metadata=workload.metadata(PROXY, ns, labels), spec=budget,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
            )


def _endpoint(service: str, namespace: pulumi.Input[str], port: int) -> pulumi.Output[str]:
    return pulumi.Output.concat(service, ".", namespace, f".svc.cluster.local:{port}")


def _secret_checksum(args: RedisClusterArgs) -> dict[str, pulumi.Input[str]]:
    return {"checksum/secret": args.secret_checksum} if args.secret_checksum else {}


def roll_timeout(replicas: int, grace_seconds: int) -> pulumi.CustomTimeouts:
    """The StatefulSet's await (``customTimeouts``: ``metadata.TimeoutDuration`` in
    pulumi-kubernetes prefers it to its 10-minute default): a roll replaces the pods one at a time,
    each stopping within its grace period and starting within :data:`POD_START_SECONDS`."""
    seconds = replicas * (grace_seconds + POD_START_SECONDS)
    return pulumi.CustomTimeouts(create=f"{seconds}s", update=f"{seconds}s")
