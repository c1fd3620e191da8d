"""The rendered monitoring on real programs: the exporter sidecar's env against a real redis-server,
and the rendered alert rules under promtool's rule unit tests (the alerts fire when they should)."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gushen_infra import monitoring, redis_conf

from .conftest import require_binary, run_stack
from .redis_harness import LOOPBACK, PASSWORD, Cluster, Rendered, free_port, wait_for
from .test_monitoring import MONITORING_ON


@pytest.fixture(scope="module")
def watched():
    return run_stack("prod", {"monitoring": MONITORING_ON})


@pytest.fixture
def redis_pod(watched, tmp_path: Path) -> Iterator[Cluster]:
    """redis-0 of the rendered StatefulSet on loopback (it starts as master: nothing else runs)."""
    require_binary("redis-server")
    cluster = Cluster(Rendered.of(watched), tmp_path)
    try:
        cluster.start_server(0)
        wait_for("redis-0 to answer", lambda: cluster.node(0).ping())
        yield cluster
    finally:
        cluster.close()


def exporter_container(stack) -> dict:
    pod = stack.get("StatefulSet", "redis")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == monitoring.EXPORTER_NAME)


@pytest.fixture
def exporter(watched, redis_pod: Cluster, tmp_path: Path, request) -> Iterator[str]:
    """The exporter with the rendered env; the pod's loopback and ports become the test's."""
    binary = require_binary("prometheus-redis-exporter")
    password = getattr(request, "param", PASSWORD)
    node = redis_pod.nodes[0]
    port = free_port()
    env = redis_pod.env(node, exporter_container(watched), password)
    env["REDIS_ADDR"] = env["REDIS_ADDR"].replace(f"localhost:{redis_conf.REDIS_PORT}", f"{LOOPBACK}:{node.port}")
    env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"].replace(
        f":{monitoring.EXPORTER_PORT}", f"{LOOPBACK}:{port}"
    )
    with (tmp_path / "exporter.log").open("wb") as log:
        proc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://{LOOPBACK}:{port}"
        wait_for("the exporter to listen", lambda: get(f"{base}{monitoring.EXPORTER_HEALTH_PATH}"))
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def redis_up(base: str) -> str:
    lines = [line for line in get(base + monitoring.EXPORTER_METRICS_PATH).splitlines() if line.startswith("redis_up ")]
    assert len(lines) == 1, lines
    return lines[0].split()[1]


def test_exporter_reports_redis_up_then_down(exporter: str, redis_pod: Cluster):
    assert get(exporter + monitoring.EXPORTER_HEALTH_PATH) == "ok"
    assert redis_up(exporter) == "1", "the password from the Secret reached Redis through the env"
    redis_pod.kill(0)
    assert redis_up(exporter) == "0"  # what RedisDown alerts on


@pytest.mark.parametrize("exporter", ["not-the-password"], indirect=True)
def test_exporter_without_the_right_password_reports_down(exporter: str):
    assert redis_up(exporter) == "0"


# --- alert rules -------------------------------------------------------------------------------

#: Series as Prometheus would hold them (cAdvisor's and the exporter's label sets, plus the
#: namespace/pod labels the scrape job adds), sampled every 15 s.
RULE_TESTS = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "15s",
    "tests": [{
        "interval": "15s",
        "input_series": [
            # Down from 60 s on.
            {"series": 'up{namespace="ai-qtrd", pod="ai-qtrd-web-0", job="kubernetes-pods"}', "values": "1x3 0x20"},
            {"series": 'up{namespace="ai-qtrd", pod="ai-qtrd-api-0", job="kubernetes-pods"}', "values": "1x24"},
            {"series": 'up{namespace="monitoring", pod="grafana-0", job="kubernetes-pods"}', "values": "0x24"},
            # 95 % of the limit for the API, 85 % for the web tier.
            {"series": 'container_memory_usage_bytes{namespace="ai-qtrd", pod="ai-qtrd-api-0", container="api"}',
             "values": "1900x40"},
            {"series": 'container_spec_memory_limit_bytes{namespace="ai-qtrd", pod="ai-qtrd-api-0", container="api"}',
             "values": "2000x40"},
            {"series": 'container_memory_usage_bytes{namespace="ai-qtrd", pod="ai-qtrd-web-0", container="web"}',
             "values": "1700x40"},
            {"series": 'container_spec_memory_limit_bytes{namespace="ai-qtrd", pod="ai-qtrd-web-0", container="web"}',
             "values": "2000x40"},
            {"series": 'redis_up{namespace="ai-qtrd", pod="redis-1", instance="10.42.0.12:9121"}', "values": "1x3 0x20"},
        ],
        "alert_rule_test": [
            {"eval_time": "105s", "alertname": "PodDown", "exp_alerts": []},
            {"eval_time": "2m", "alertname": "PodDown", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "namespace": "ai-qtrd", "pod": "ai-qtrd-web-0",
                               "job": "kubernetes-pods"},
                "exp_annotations": {"summary": "Pod ai-qtrd-web-0 is down"},
            }]},
            {"eval_time": "285s", "alertname": "HighMemoryUsage", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "HighMemoryUsage", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "namespace": "ai-qtrd", "pod": "ai-qtrd-api-0",
                               "container": "api"},
                "exp_annotations": {"summary": "Pod ai-qtrd-api-0 memory usage > 90%"},
            }]},
            {"eval_time": "105s", "alertname": "RedisDown", "exp_alerts": []},
            {"eval_time": "2m", "alertname": "RedisDown", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "namespace": "ai-qtrd", "pod": "redis-1",
                               "instance": "10.42.0.12:9121"},
                "exp_annotations": {"summary": "Redis instance 10.42.0.12:9121 is down"},
            }]},
        ],
    }],
}


def promtool(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    binary = require_binary("promtool")
    return subprocess.run([binary, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_rendered_rules_fire_when_the_spec_says(watched, tmp_path: Path):
    (rule,) = watched.all("PrometheusRule")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(RULE_TESTS))
    checked = promtool(tmp_path, "check", "rules", "rules.yml")
    assert checked.returncode == 0 and "5 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = promtool(tmp_path, "test", "rules", "tests.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rule_tests_can_fail(watched, tmp_path: Path):
    """The unit tests above really compare: a rule with another `for` fails them."""
    (rule,) = watched.all("PrometheusRule")
    groups = rule["spec"]["groups"]
    groups[0]["rules"][0]["for"] = "2m"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(RULE_TESTS))
    tested = promtool(tmp_path, "test", "rules", "tests.yml")
    assert tested.returncode != 0 and "PodDown" in tested.stdout + tested.stderr


#: kube-state-metrics' series for the backup CronJobs (values: Unix seconds; promtool's clock
#: starts at 0), sampled every minute. Prod allows 6000 s for redis-backup, 100800 s for
#: postgres-backup (test_monitoring.py), then the alert waits 5 minutes.
KSM = 'job="kube-state-metrics", instance="10.42.0.9:8080"'
STALE = {"severity": "critical", "namespace": "ai-qtrd"}
BACKUP_RULE_TESTS = {
    "rule_files": ["rules.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            # Both succeeded at 0 and never again.
            "interval": "1m",
            "input_series": [
                {"series": f'kube_cronjob_status_last_successful_time{{namespace="ai-qtrd", cronjob="redis-backup", {KSM}}}',
                 "values": "0x1800"},
                {"series": f'kube_cronjob_status_last_successful_time{{namespace="ai-qtrd", cronjob="postgres-backup", {KSM}}}',
                 "values": "0x1800"},
                {"series": f'kube_cronjob_created{{namespace="ai-qtrd", cronjob="redis-backup", {KSM}}}', "values": "0x1800"},
            ],
            "alert_rule_test": [
                {"eval_time": "105m", "alertname": "BackupStale", "exp_alerts": []},
                {"eval_time": "106m", "alertname": "BackupStale", "exp_alerts": [{
                    "exp_labels": {**STALE, "cronjob": "redis-backup"},
                    "exp_annotations": {"summary": "No successful redis-backup run for 1h 46m 0s (allowed: 1h40m)"},
                }]},
                {"eval_time": "1685m", "alertname": "BackupStale", "exp_alerts": [{
                    "exp_labels": {**STALE, "cronjob": "redis-backup"},
                    "exp_annotations": {"summary": "No successful redis-backup run for 1d 4h 5m 0s (allowed: 1h40m)"},
                }]},
                {"eval_time": "1686m", "alertname": "BackupStale", "exp_alerts": [
                    {"exp_labels": {**STALE, "cronjob": "redis-backup"},
                     "exp_annotations": {"summary": "No successful redis-backup run for 1d 4h 6m 0s (allowed: 1h40m)"}},
                    {"exp_labels": {**STALE, "cronjob": "postgres-backup"},
                     "exp_annotations": {"summary": "No successful postgres-backup run for 1d 4h 6m 0s (allowed: 28h00m)"}},
                ]},
            ],
        },
        {
            # A run succeeded at 90 m (its time, 5400, shows from 91 m on): not stale at 106 m.
            "interval": "1m",
            "input_series": [
                {"series": f'kube_cronjob_status_last_successful_time{{namespace="ai-qtrd", cronjob="redis-backup", {KSM}}}',
                 "values": "0x90 5400x200"},
            ],
            "alert_rule_test": [
                {"eval_time": "106m", "alertname": "BackupStale", "exp_alerts": []},
                {"eval_time": "196m", "alertname": "BackupStale", "exp_alerts": [{
                    "exp_labels": {**STALE, "cronjob": "redis-backup"},
                    "exp_annotations": {"summary": "No successful redis-backup run for 1h 46m 0s (allowed: 1h40m)"},
                }]},
            ],
        },
        {
            # Created at 0, never a successful run (e.g. the off-site copy fails every time).
            "interval": "1m",
            "input_series": [
                {"series": f'kube_cronjob_created{{namespace="ai-qtrd", cronjob="redis-backup", {KSM}}}', "values": "0x200"},
                {"series": f'kube_cronjob_created{{namespace="other", cronjob="redis-backup", {KSM}}}', "values": "0x200"},
            ],
            "alert_rule_test": [
                {"eval_time": "105m", "alertname": "BackupStale", "exp_alerts": []},
                {"eval_time": "106m", "alertname": "BackupStale", "exp_alerts": [{
                    "exp_labels": {**STALE, "cronjob": "redis-backup"},
                    "exp_annotations": {"summary": "No successful redis-backup run for 1h 46m 0s (allowed: 1h40m)"},
                }]},
            ],
        },
    ],
}


def test_stale_backup_alert_fires_when_a_run_is_missed(watched, tmp_path: Path):
    (rule,) = watched.all("PrometheusRule")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(BACKUP_RULE_TESTS))
    tested = promtool(tmp_path, "test", "rules", "tests.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_stale_backup_cases_can_fail(watched, tmp_path: Path):
    """A threshold of one more hour for Redis (say, the schedule's gap counted twice) fails them."""
    (rule,) = watched.all("PrometheusRule")
    groups = rule["spec"]["groups"]
    groups[1]["rules"][0]["expr"] = groups[1]["rules"][0]["expr"].replace("> 6000", "> 9600")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(BACKUP_RULE_TESTS))
    tested = promtool(tmp_path, "test", "rules", "tests.yml")
    assert tested.returncode != 0 and "BackupStale" in tested.stdout + tested.stderr
