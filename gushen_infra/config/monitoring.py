"""Prometheus scraping, alerts and the Redis exporter sidecar."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .network import Labels
from .values import Bool, Compute, DnsLabel, Image, Resources, _Model


class RedisExporter(_Model):
    """The ``redis-exporter`` sidecar of every Redis pod (``redis_up`` and friends on :9121)."""

    image: Image = "oliver006/redis_exporter:v1.67.0-alpine"
    resources: Resources = Resources(
        requests=Compute(cpu="10m", memory="32Mi"), limits=Compute(cpu="100m", memory="64Mi")
    )


_HTTP_PATH = Annotated[str, Field(pattern=r"^/[^\s]*$")]


class Monitoring(_Model):
    """Prometheus scraping and alerts (spec 17); off until the cluster runs Prometheus."""

    enabled: Bool = False
    prometheus_namespace: DnsLabel = "monitoring"
    prometheus_pod_labels: Labels = {}
    """Prometheus's pod labels; empty: any pod of ``prometheusNamespace`` may scrape."""
    prometheus_rule: Bool = False
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
