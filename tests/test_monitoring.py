"""Monitoring (spec 17): off in prod; when on, scrape annotations, the redis_exporter sidecar and the
spec's alert rules, and the stack still passes the policy pack."""

from __future__ import annotations

import kubernetes_validate
import pytest

from gushen_infra import config
from policies.base import Obj
from policies.catalog import evaluate

from .conftest import run_stack
from .policy_baseline import prod_settings
from .test_config import problems_of, prod_raw, with_change

NS = "ai-qtrd"
MONITORING_ON = {**prod_raw()["monitoring"], "enabled": True, "prometheusRule": True,
                 "ruleLabels": {"release": "kube-prometheus-stack"}}
EXPORTER_IMAGE = prod_raw()["monitoring"]["exporter"]["image"]
#: Spec 17.3, verbatim.
SPEC_ALERTS = {
    "PodDown": ('up{namespace="ai-qtrd"} == 0', "1m", "critical", "Pod {{ $labels.pod }} is down"),
    "HighMemoryUsage": (
        'container_memory_usage_bytes{namespace="ai-qtrd"} / container_spec_memory_limit_bytes > 0.9',
        "5m", "warning", "Pod {{ $labels.pod }} memory usage > 90%",
    ),
    "RedisDown": ('redis_up{namespace="ai-qtrd"} == 0', "1m", "critical",
                  "Redis instance {{ $labels.instance }} is down"),
}
SCRAPE_KEYS = {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"}


@pytest.fixture(scope="module")
def watched():
    return run_stack("prod", {"monitoring": MONITORING_ON})


def template(stack, kind: str, name: str) -> dict:
    return stack.get(kind, name)["spec"]["template"]


def containers(stack, kind: str, name: str) -> dict[str, dict]:
    return {c["name"]: c for c in template(stack, kind, name)["spec"]["containers"]}


def test_prod_is_off(prod):
    assert prod_raw()["monitoring"]["enabled"] is False
    for kind, name in (("Deployment", "ai-qtrd-web"), ("Deployment", "ai-qtrd-api"), ("StatefulSet", "redis")):
        assert not SCRAPE_KEYS & set(template(prod, kind, name)["metadata"].get("annotations", {}))
    assert "redis-exporter" not in containers(prod, "StatefulSet", "redis")
    assert prod.all("PrometheusRule") == []


@pytest.mark.parametrize("kind, name, port", [
    ("Deployment", "ai-qtrd-web", "3000"), ("Deployment", "ai-qtrd-api", "8000"), ("StatefulSet", "redis", "9121"),
])
def test_pods_carry_scrape_annotations(watched, kind, name, port):
    annotations = template(watched, kind, name)["metadata"]["annotations"]
    assert {k: annotations[k] for k in SCRAPE_KEYS} == {
        "prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics",
    }
    assert "checksum/config" in annotations, "the config checksum still rolls the pods"


def test_metrics_paths_come_from_config():
    stack = run_stack("prod", {"monitoring": {**MONITORING_ON, "webMetricsPath": "/api/metrics"}})
    assert template(stack, "Deployment", "ai-qtrd-web")["metadata"]["annotations"]["prometheus.io/path"] == "/api/metrics"


def test_exporter_sidecar(watched):
    by_name = containers(watched, "StatefulSet", "redis")
    assert list(by_name) == ["redis", "redis-exporter", "sentinel"]
    exporter = by_name["redis-exporter"]
    assert exporter["image"] == EXPORTER_IMAGE and exporter["imagePullPolicy"] == "Never"
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in exporter["env"]}
    assert env["REDIS_ADDR"] == "redis://localhost:6379"
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "ai-qtrd-secrets", "key": "REDIS_PASSWORD"}}
    assert "command" not in exporter and "args" not in exporter, "the password never goes on a command line"
    for probe in ("livenessProbe", "readinessProbe"):
        assert exporter[probe]["httpGet"] == {"path": "/health", "port": "metrics"}
    assert exporter["resources"] == MONITORING_ON["exporter"]["resources"]
    sc = exporter["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["runAsUser"] == 59000, "the image's own non-root user"


def test_prometheus_rule_has_the_spec_alerts(watched):
    (rule,) = watched.all("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == "ai-qtrd-alerts" and rule["metadata"]["namespace"] == NS
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gushen"
    group, backups = rule["spec"]["groups"]
    assert group["name"] == "ai-qtrd-alerts"
    got = {r["alert"]: (r["expr"], r["for"], r["labels"]["severity"], r["annotations"]["summary"])
           for r in group["rules"]}
    assert got == SPEC_ALERTS
    assert backups["name"] == "ai-qtrd-backups"


def test_stale_backup_alerts_follow_each_schedule(watched):
    """Redis hourly: 1 h between runs + 600 s to start + 1800 s to run; PostgreSQL daily: 24 h + 3600 + 10800."""
    (rule,) = watched.all("PrometheusRule")
    rules = rule["spec"]["groups"][1]["rules"]
    assert [r["alert"] for r in rules] == ["BackupStale", "BackupStale"]
    for r, job, seconds in zip(rules, ("redis-backup", "postgres-backup"), (6000, 100800)):
        assert f'kube_cronjob_status_last_successful_time{{namespace="ai-qtrd", cronjob="{job}"}}) > {seconds})' in r["expr"]
        assert r["labels"] == {"severity": "critical", "cronjob": job} and r["for"] == "5m"
    weekly = run_stack("prod", {"monitoring": MONITORING_ON,
                                "backup": {**prod_raw()["backup"], "postgres": {**prod_raw()["backup"]["postgres"], "schedule": "@weekly"}}})
    (rule,) = weekly.all("PrometheusRule")
    assert "> 619200)" in rule["spec"]["groups"][1]["rules"][1]["expr"], "7 days + 3600 + 10800"
    off = run_stack("prod", {"monitoring": MONITORING_ON, "backup": {**prod_raw()["backup"], "enabled": False}})
    (rule,) = off.all("PrometheusRule")
    assert [g["name"] for g in rule["spec"]["groups"]] == ["ai-qtrd-alerts"], "no backups, no stale-backup alert"


def test_rule_follows_the_namespace():
    stack = run_stack("prod", {"monitoring": MONITORING_ON, "namespace": "gushen-staging"})
    (rule,) = stack.all("PrometheusRule")
    assert rule["metadata"]["namespace"] == "gushen-staging"
    assert all('namespace="gushen-staging"' in r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])


def test_no_rule_without_the_operator():
    stack = run_stack("prod", {"monitoring": {**MONITORING_ON, "prometheusRule": False}})
    assert stack.all("PrometheusRule") == []
    assert "redis-exporter" in containers(stack, "StatefulSet", "redis")
    (alerting,) = stack.of_type("gushen:monitoring:Alerting")
    assert "rule_name" not in alerting.outputs


def test_the_outputs_name_the_rule_and_the_exporters_port(watched):
    """What the state keeps: the PrometheusRule to look for, and the port Prometheus scrapes Redis on."""
    (alerting,) = watched.of_type("gushen:monitoring:Alerting")
    (rule,) = watched.all("PrometheusRule")
    assert alerting.outputs == {"rule_name": rule["metadata"]["name"]}
    (redis,) = watched.of_type("gushen:redis:RedisCluster")
    exporter = containers(watched, "StatefulSet", "redis")["redis-exporter"]
    assert [p["containerPort"] for p in exporter["ports"]] == [redis.outputs["metrics_port"]] == [9121]


def test_monitored_stack_is_valid_and_passes_the_policy_pack(watched):
    for kind, name in (("StatefulSet", "redis"), ("Deployment", "ai-qtrd-web"), ("Deployment", "ai-qtrd-api")):
        kubernetes_validate.validate(watched.get(kind, name), "1.32", strict=True)
    violations = evaluate([Obj.from_manifest(m) for m in watched.manifests], prod_settings())
    assert [v.line for v in violations if v.enforcement == "mandatory"] == []
    assert [v.line for v in violations] == [], "no advisory either (labels, read-only root)"


def test_monitored_stack_is_checked_for_real(watched):
    """The pack does look at the sidecar: an exporter without limits is refused."""
    manifests = watched.manifests
    sts = next(m for m in manifests if m["kind"] == "StatefulSet" and m["metadata"]["name"] == "redis")
    exporter = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "redis-exporter")
    exporter["resources"].pop("limits")
    lines = [v.line for v in evaluate([Obj.from_manifest(m) for m in manifests], prod_settings()) if v.enforcement == "mandatory"]
    assert any("redis-exporter" in line and "limits" in line for line in lines), lines


@pytest.mark.parametrize("path, value, expected", [
    ("monitoring.prometheusRule", True, "gushen:monitoring.prometheusRule: true needs enabled: true"),
    ("monitoring.exporter.image", "oliver006/redis_exporter:latest",
     "gushen:monitoring.exporter.image: image is tagged 'latest'"),
    ("monitoring.exporter.resources", {"requests": {"cpu": "200m", "memory": "32Mi"},
                                       "limits": {"cpu": "100m", "memory": "64Mi"}},
     "gushen:monitoring.exporter.resources.requests.cpu: request '200m' is above the limit '100m'"),
    ("monitoring.webMetricsPath", "metrics", "gushen:monitoring.webMetricsPath: String should match"),
    ("monitoring.prometheusNamespace", "Monitoring", "gushen:monitoring.prometheusNamespace: invalid name"),
])
def test_bad_monitoring_config_is_named(path, value, expected):
    problems = problems_of(with_change(path, value))
    assert any(p.startswith(expected) for p in problems), problems


def test_defaults_are_off():
    defaults = config.Monitoring()
    assert not defaults.enabled and not defaults.prometheus_rule
    assert defaults.exporter.image == EXPORTER_IMAGE
