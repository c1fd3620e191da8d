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


def probe_timing(timing: config.ProbeTiming) -> workload.ProbeTiming:
    return workload.ProbeTiming(
        timing.initial_delay_seconds, timing.period_seconds, timing.timeout_seconds, timing.failure_threshold
    )


@dataclass(frozen=True)
class HttpTier:
    """The Kubernetes objects of one tier, and how other objects reach it."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    labels: AppLabels
    port: int

    @property
    def service_name(self) -> pulumi.Output[str]:
        return self.service.metadata.apply(lambda m: m.name)


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
) -> HttpTier:
    labels = AppLabels(name, component, workload.image_tag(settings.image))
    probes = settings.probes
    main = workload.Container(
        name=component,
        image=settings.image,
        resources=settings.resources.model_dump(),
        ports={PORT_NAME: settings.port},
        env=env,
        liveness=workload.http_probe(probes.path, settings.port, probe_timing(probes.liveness)),
        readiness=workload.http_probe(probes.path, settings.port, probe_timing(probes.readiness)),
        writable_paths=writable_paths,
    )
    template = workload.pod_template(labels, workload.pod_spec([main], placement), pod_annotations)
    opts = pulumi.ResourceOptions(parent=parent)
    scaling = settings.autoscaling if settings.autoscaling and settings.autoscaling.enabled else None
    service = k8s.core.v1.Service(
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
        opts=opts,
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
    return HttpTier(deployment, service, labels, settings.port)


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
    """Host name of the writable Redis endpoint (``REDIS_HOST``)."""
    redis_port: pulumi.Input[int]
    """Port of the Redis endpoint (``REDIS_PORT``)."""
    secret_name: pulumi.Input[str]
    """Secret holding the tier's secret env (read through ``secretKeyRef`` only)."""
    config_map_name: pulumi.Input[str]
    """ConfigMap holding the tier's non-secret settings."""
    config_checksum: str = ""
    """Digest of that ConfigMap; a change rolls the pods."""
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    """More pod annotations (Prometheus's ``prometheus.io/*``)."""


class TierComponent(pulumi.ComponentResource):
    """Base of FrontendService and BackendService: one HTTP tier and its outputs."""

    service_name: pulumi.Output[str]
    port: int
    labels: AppLabels
    """The pods' labels (NetworkPolicies select the pods by them)."""
    url: pulumi.Output[str]
    """``http://<service>:<port>``: the in-namespace address."""

    def _deploy(
        self,
        name: str,
        component: str,
        args: TierArgs,
        env: Sequence[Json],
        placement: Json,
        writable_paths: Sequence[str],
        config_keys: Sequence[str],
        secret_keys: Sequence[str],
    ) -> None:
        """Build the tier; ``env`` comes first, then the ConfigMap and Secret keys by reference."""
        env = [
            workload.env_value("REDIS_HOST", args.redis_host),
            workload.env_value("REDIS_PORT", pulumi.Output.from_input(args.redis_port).apply(str)),
            *env,
            *(workload.env_config(key, args.config_map_name) for key in config_keys),
            *(workload.env_secret(key, args.secret_name) for key in secret_keys),
        ]
        checksum = {"checksum/config": args.config_checksum} if args.config_checksum else {}
        annotations = {**checksum, **args.pod_annotations} or None
        tier = http_tier(self, name, component, args.namespace, args.settings, env, placement, writable_paths, annotations)
        self.service_name = tier.service_name
        self.port = tier.port
        self.labels = tier.labels
        self.url = self.service_name.apply(lambda n: f"http://{n}:{tier.port}")
        self.register_outputs({
            "service_name": self.service_name, "port": self.port, "labels": self.labels.all, "url": self.url,
        })
