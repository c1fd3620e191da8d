"""A stateless HTTP tier (Deployment + ClusterIP Service), shared by the web and API components."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import config, workload
from .workload import AppLabels, Json

PORT_NAME = "http"
#: Where the seed init container mounts the writable copies of the image's directories.
SEED_DIR = "/seed"


def _seeded_volume(path: str) -> str:
    """Volume name of a seeded path (``/app/.next/server`` -> ``seed-app-next-server``)."""
    return f"seed-{workload.volume_name(path)}"


def tier_url(service: str, port: int) -> str:
    """The in-namespace URL of a tier's Service (a plain string: the name is fixed)."""
    return f"http://{service}:{port}"


def probe_timing(timing: config.ProbeTiming) -> workload.ProbeTiming:
    return workload.ProbeTiming(
        timing.initial_delay_seconds, timing.period_seconds, timing.timeout_seconds, timing.failure_threshold
    )


@dataclass(frozen=True)
class HttpTier:
    """How other objects reach one tier (its pods' labels, its Service's port and name)."""

    labels: AppLabels
    port: int
    service_name: str
    """The Service's fixed name: a plain string, so whoever dials it does not wait for it."""


def http_tier(
    parent: pulumi.Resource,
    name: str,
    component: str,
    namespace: pulumi.Input[str],
    settings: config.Tier,
    env: Sequence[Json],
    placement: Json,
    writable_paths: Sequence[str],
    pod_annotations: Optional[Mapping[str, pulumi.Input[str]]] = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> HttpTier:
    labels = AppLabels(name, component, workload.image_tag(settings.image))
    probes = settings.probes
    seeded = [_seeded_volume(path) for path in settings.seeded_paths]
    main = workload.Container(
        name=component,
        image=settings.image,
        resources=settings.resources.model_dump(),
        ports={PORT_NAME: settings.port},
        env=env,
        liveness=workload.http_probe(probes.path, settings.port, probe_timing(probes.liveness)),
        readiness=workload.http_probe(probes.path, settings.port, probe_timing(probes.readiness)),
        writable_paths=writable_paths,
        volume_mounts=[{"name": v, "mountPath": path} for v, path in zip(seeded, settings.seeded_paths)],
    )
    init = []
    if seeded:
        # The image's files, copied into the writable directories before the app starts.
        copies = " && ".join(f"cp -a {path}/. {SEED_DIR}/{v}/" for v, path in zip(seeded, settings.seeded_paths))
        init.append(workload.Container(
            name="seed", image=settings.image, resources=settings.resources.model_dump(),
            command=["sh", "-c", copies], writable_paths=(), pre_stop_sleep_seconds=None,
            volume_mounts=[{"name": v, "mountPath": f"{SEED_DIR}/{v}"} for v in seeded],
        ))
    spec = workload.pod_spec(
        [main], placement, init_containers=init, volumes=[{"name": v, "emptyDir": {}} for v in seeded]
    )
    template = workload.pod_template(labels, spec, pod_annotations)
    opts = pulumi.ResourceOptions(parent=parent)
    scaling = settings.autoscaling if settings.autoscaling and settings.autoscaling.enabled else None
    k8s.core.v1.Service(
        name,
        metadata=workload.metadata(name, namespace, labels),
        spec=workload.service_spec(labels, {PORT_NAME: settings.port}),
        opts=opts,
    )
    deployment = k8s.apps.v1.Deployment(
        name,
        metadata=workload.metadata(name, namespace, labels),
        # With an HPA the Deployment sets no replicas: under server-side apply, Pulumi would
        # otherwise own the field and reset the HPA's count on every `pulumi up`.
        spec=workload.deployment_spec(labels, None if scaling else settings.replicas, template),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
    if scaling:
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=workload.metadata(f"{name}-hpa", namespace, labels),
            spec=workload.autoscaler_spec(
                name, scaling.min_replicas, scaling.max_replicas, scaling.cpu_utilization
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[deployment]),
        )
    budget = workload.disruption_budget_spec(labels, placement)
    if budget and (scaling.min_replicas if scaling else settings.replicas) > 1:
        k8s.policy.v1.PodDisruptionBudget(
            name,
            metadata=workload.metadata(name, namespace, labels),
            spec=budget,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[deployment]),
        )
    return HttpTier(labels, settings.port, name)


@dataclass(frozen=True, kw_only=True)
class TierArgs:
    """What both HTTP tiers take; each component's args add what only it connects to."""

    namespace: pulumi.Input[str]
    """Namespace to deploy into."""
    settings: config.Tier
    """Image, replicas, port, resources, probes and autoscaling of the tier."""
    node: str
    """The tier's node (pinned or preferred, per component)."""
    redis_host: pulumi.Input[str]
    """Host name of the writable Redis endpoint (``REDIS_HOST``): a name, not a Service output, so the
    tier does not wait for Redis."""
    redis_port: pulumi.Input[int]
    """Port of the Redis endpoint (``REDIS_PORT``)."""
    secret_name: str
    """Secret holding the tier's secret env (read through ``secretKeyRef`` only); a fixed name."""
    config_map_name: str
    """ConfigMap holding the tier's non-secret settings; a fixed name."""
    config_checksum: str
    """Digest of the ConfigMap keys the tier reads; a change rolls the pods."""
    secret_checksum: pulumi.Input[str]
    """Digest (revealing nothing) of the Secret keys the tier reads; a change rolls the pods."""
    depends_on: Sequence[pulumi.Resource] = ()
    """What the pods read at start (the Secret and ConfigMap): created before the Deployment."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """More pod annotations (Prometheus's ``prometheus.io/*``)."""


class TierComponent(pulumi.ComponentResource):
    """Base of FrontendService and BackendService: one HTTP tier and its outputs."""

    service_name: str
    port: int
    labels: AppLabels
    """The pods' labels (NetworkPolicies select the pods by them)."""
    url: str
    """``http://<service>:<port>``: the in-namespace address."""

    def _deploy(
        self,
        name: str,
        component: str,
        args: TierArgs,
        env: Sequence[Json],
        placement: Json,
        config_keys: Sequence[str],
        secret_keys: Sequence[str],
    ) -> None:
        """Build the tier; its env: HOME (if set), the Redis address, ``env``, then the ConfigMap and
        Secret keys by reference."""
        settings = args.settings
        env = [
            *([workload.env_value("HOME", settings.home)] if settings.home else []),
            workload.env_value("REDIS_HOST", args.redis_host),
            workload.env_value("REDIS_PORT", pulumi.Output.from_input(args.redis_port).apply(str)),
            *env,
            *(workload.env_config(key, args.config_map_name) for key in config_keys),
            *(workload.env_secret(key, args.secret_name) for key in secret_keys),
        ]
        writable = [*settings.writable_paths, *([settings.home] if settings.home else [])]
        annotations = {
            "checksum/config": args.config_checksum, "checksum/secret": args.secret_checksum, **args.pod_annotations,
        }
        tier = http_tier(
            self, name, component, args.namespace, settings, env, placement, writable, annotations, args.depends_on,
        )
        self.service_name = tier.service_name
        self.port = tier.port
        self.labels = tier.labels
        self.url = tier_url(name, tier.port)
        self.register_outputs({
            "service_name": self.service_name, "port": self.port, "labels": self.labels.all, "url": self.url,
        })
