"""Helpers for asserting on a rendered tier (shared by the web and api tests)."""

from __future__ import annotations

from typing import Any


def main_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """env name -> literal value, ("secret", name, key) or ("config", name, key)."""
    out: dict[str, Any] = {}
    for entry in container.get("env", []):
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            out[entry["name"]] = ("secret", ref["name"], ref["key"])
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            out[entry["name"]] = ("config", ref["name"], ref["key"])
        else:
            out[entry["name"]] = entry["value"]
    return out


def resolved_env(stack, container: dict[str, Any]) -> dict[str, str]:
    """The env as the pod would see it, with ConfigMap/Secret references resolved from the stack."""
    out = {}
    for name, value in env_of(container).items():
        if isinstance(value, tuple):
            kind, obj, key = value
            if kind == "config":
                out[name] = stack.get("ConfigMap", obj)["data"][key]
            else:
                out[name] = stack.get("Secret", obj)["stringData"][key]
        else:
            out[name] = value
    return out


def assert_probe(probe: dict[str, Any], path: str, port: int, delay: int, period: int, timeout: int, failures: int):
    assert probe["httpGet"] == {"path": path, "port": port}
    assert (probe["initialDelaySeconds"], probe["periodSeconds"]) == (delay, period)
    assert (probe["timeoutSeconds"], probe["failureThreshold"]) == (timeout, failures)


def assert_service_reaches(stack, service: dict[str, Any], deployment: dict[str, Any], port: int):
    """ClusterIP Service whose selector matches the pods and whose targetPort names their port."""
    spec = service["spec"]
    assert spec["type"] == "ClusterIP"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"] == spec["selector"]
    (svc_port,) = spec["ports"]
    assert svc_port["port"] == port
    container_ports = {p["name"]: p["containerPort"] for p in main_container(deployment)["ports"]}
    assert container_ports[svc_port["targetPort"]] == port
