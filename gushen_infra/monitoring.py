"""Monitoring (spec 17): scrape annotations, the redis_exporter sidecar and the alert rules.

Prometheus finds the pods through ``prometheus.io/*`` annotations (the spec's
``kubernetes-pods`` job); the Redis pods get a ``redis-exporter`` sidecar, since Redis speaks no
HTTP. The spec's alerts become a PrometheusRule when the Prometheus Operator's CRDs exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import config, network, redis_conf, workload
from .workload import AppLabels, Json

EXPORTER_NAME = "redis-exporter"
EXPORTER_PORT = 9121
EXPORTER_METRICS_PATH = "/metrics"
EXPORTER_HEALTH_PATH = "/health"
#: The image's own user (``USER 59000:59000`` in its Dockerfile).
EXPORTER_UID = 59000
EXPORTER_LIVENESS = workload.ProbeTiming(10, 15, 3, 3)
EXPORTER_READINESS = workload.ProbeTiming(5, 10, 3, 2)
#: The spec's group name (17.3), also the PrometheusRule's name.
RULE_NAME = "ai-qtrd-alerts"
RULE_API_VERSION = "monitoring.coreos.com/v1"
#: The group of the stale-backup alerts (issue 16), beside the spec's.
BACKUP_GROUP = "ai-qtrd-backups"
#: kube-state-metrics: the completion time of a CronJob's last successful Job, and its creation.
LAST_SUCCESS = "kube_cronjob_status_last_successful_time"
CREATED = "kube_cronjob_created"


def scrape_annotations(settings: config.Monitoring, port: int, path: str) -> dict[str, str]:
    """The annotations the spec's ``kubernetes-pods`` job keeps; none while monitoring is off."""
    if not settings.enabled:
        return {}
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


def redis_exporter(settings: config.Monitoring, secret_name: pulumi.Input[str]) -> Optional[workload.Container]:
    """The sidecar that turns Redis's INFO into metrics; ``None`` while monitoring is off.

    It talks to Redis over the pod's loopback, so no NetworkPolicy edge is needed for it. The
    password comes from the Secret through the env, never on a command line.
    """
    if not settings.enabled:
        return None
    exporter = settings.exporter
    return workload.Container(
        name=EXPORTER_NAME,
        image=exporter.image,
        resources=exporter.resources.model_dump(),
        ports={"metrics": EXPORTER_PORT},
        env=[
            workload.env_value("REDIS_ADDR", f"redis://localhost:{redis_conf.REDIS_PORT}"),
            workload.env_secret("REDIS_PASSWORD", secret_name, redis_conf.PASSWORD_KEY),
            workload.env_value("REDIS_EXPORTER_WEB_LISTEN_ADDRESS", f":{EXPORTER_PORT}"),
            workload.env_value("REDIS_EXPORTER_WEB_TELEMETRY_PATH", EXPORTER_METRICS_PATH),
        ],
        liveness=workload.http_probe(EXPORTER_HEALTH_PATH, "metrics", EXPORTER_LIVENESS),
        readiness=workload.http_probe(EXPORTER_HEALTH_PATH, "metrics", EXPORTER_READINESS),
        # A static binary that writes nothing.
        writable_paths=(),
        run_as_user=EXPORTER_UID,
        pre_stop_sleep_seconds=None,
    )


def redis_annotations(settings: config.Monitoring) -> dict[str, str]:
    """Redis pods are scraped through the exporter sidecar."""
    return scrape_annotations(settings, EXPORTER_PORT, EXPORTER_METRICS_PATH)


def prometheus(settings: config.Monitoring) -> Optional[network.Prometheus]:
    """Who the NetworkPolicies let scrape the pods; ``None`` while monitoring is off."""
    if not settings.enabled:
        return None
    return network.Prometheus(settings.prometheus_namespace, settings.prometheus_pod_labels)


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m"


def backup_rules(namespace: str, freshness: Mapping[str, int]) -> list[Json]:
    """``BackupStale`` per backup CronJob: its last successful run (or, before the first one, its
    creation) is older than the schedule allows. A failed off-site copy fails the run, so a
    backup that stays local only goes stale here too."""
    rules = []
    for cronjob, seconds in freshness.items():
        selector = f'{{namespace="{namespace}", cronjob="{cronjob}"}}'
        last = f"max by (namespace, cronjob) ({LAST_SUCCESS}{selector})"
        created = f"max by (namespace, cronjob) ({CREATED}{selector})"
        rules.append({
            "alert": "BackupStale",
            "expr": f"(time() - {last} > {seconds}) or (time() - {created} > {seconds} unless on (namespace, cronjob) {last})",
            "for": "5m",
            # The job's name (its series carry it too) keeps the rules apart for promtool's lint.
            "labels": {"severity": "critical", "cronjob": cronjob},
            "annotations": {
                "summary": f"No successful {cronjob} run for {{{{ $value | humanizeDuration }}}} (allowed: {_duration(seconds)})",
            },
        })
    return [{"name": BACKUP_GROUP, "rules": rules}] if rules else []


def alert_rules(namespace: str, freshness: Mapping[str, int] = {}) -> list[Json]:  # noqa: B006 (read only)
    """Spec 17.3's alert group, for the platform's namespace, and the stale-backup group."""
    return [{
        "name": RULE_NAME,
        "rules": [
            {
                "alert": "PodDown",
                "expr": f'up{{namespace="{namespace}"}} == 0',
                "for": "1m",
                "labels": {"severity": "critical"},
                "annotations": {"summary": "Pod {{ $labels.pod }} is down"},
            },
            {
                "alert": "HighMemoryUsage",
                "expr": f'container_memory_usage_bytes{{namespace="{namespace}"}} / container_spec_memory_limit_bytes > 0.9',
                "for": "5m",
                "labels": {"severity": "warning"},
                "annotations": {"summary": "Pod {{ $labels.pod }} memory usage > 90%"},
            },
            {
                "alert": "RedisDown",
                "expr": f'redis_up{{namespace="{namespace}"}} == 0',
                "for": "1m",
                "labels": {"severity": "critical"},
                "annotations": {"summary": "Redis instance {{ $labels.instance }} is down"},
            },
        ],
    }, *backup_rules(namespace, freshness)]


@dataclass(frozen=True)
class AlertingArgs:
    namespace: pulumi.Input[str]
    """Namespace of the platform: the rule lives there and its expressions select it."""
    settings: config.Monitoring
    """Switches (``enabled``, ``prometheusRule``) and the rule's extra labels."""
    backup_freshness: Mapping[str, int] = field(default_factory=dict)
    """Backup CronJob name -> the age in seconds its last successful run may reach (``backup.freshness``)."""


class Alerting(pulumi.ComponentResource):
    """PrometheusRule ``ai-qtrd-alerts`` (spec 17.3) when monitoring and ``prometheusRule`` are on."""

    rule_name: Optional[str]
    """Name of the PrometheusRule; ``None`` when none is created."""

    def __init__(self, name: str, args: AlertingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:monitoring:Alerting", name, None, opts)
        s = args.settings
        self.rule_name = None
        if s.enabled and s.prometheus_rule:
            labels = AppLabels(RULE_NAME, "monitoring")
            k8s.apiextensions.CustomResource(
                RULE_NAME,
                api_version=RULE_API_VERSION,
                kind="PrometheusRule",
                metadata={"name": RULE_NAME, "namespace": args.namespace, "labels": {**labels.all, **s.rule_labels}},
                spec={"groups": pulumi.Output.from_input(args.namespace).apply(
                    lambda ns: alert_rules(ns, args.backup_freshness))},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.rule_name = RULE_NAME
        self.register_outputs({"rule_name": self.rule_name})
