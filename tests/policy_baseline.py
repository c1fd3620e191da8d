"""The compliant baseline the policy tables mutate: a small stack with every workload kind.

Pod specs come from the project's workload builder (what the program itself uses), so the
baseline also proves the builder's defaults pass the pack. Each table case changes one
field of one object and names the one policy (and object) it must trip.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from gushen_infra import workload as w
from gushen_infra.workload import AppLabels
from policies.base import Obj, Violation
from policies.catalog import RULES, evaluate
from policies.config import resolve

NS = "ai-qtrd"
#: The prod stack's policy config, generated from Pulumi.prod.yaml (make policy-config): the pack has
#: no nodes of its own, so the baseline, on prod's nodes, is checked with prod's config.
PROD_POLICY_CONFIG: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent.parent / "policies" / "config.prod.json").read_text()
)
WEB_NODE, API_NODE, DATA_NODE = (PROD_POLICY_CONFIG["node-placement"]["nodes"][t] for t in ("web", "api", "data"))
TIMING = w.ProbeTiming(10, 5, 3, 2)
DELETE = object()
Json = dict[str, Any]


def _res(cpu_req: str, mem_req: str, cpu_lim: str, mem_lim: str) -> Json:
    return {"requests": {"cpu": cpu_req, "memory": mem_req}, "limits": {"cpu": cpu_lim, "memory": mem_lim}}


def _meta(name: str, component: str, **extra: Any) -> Json:
    return w.metadata(name, NS, AppLabels(name, component, "v1"), **extra)


def _http(name: str, image: str, port: int, resources: Json, **kw: Any) -> w.Container:
    probe = w.http_probe("/health", port, TIMING)
    return w.Container(name, image, resources, ports={"http": port}, liveness=probe, readiness=probe, **kw)


def _exec(name: str, image: str, resources: Json, **kw: Any) -> w.Container:
    probe = w.exec_probe(["true"], TIMING)
    return w.Container(name, image, resources, liveness=probe, readiness=probe, **kw)


def _deployment(name: str, component: str, replicas: int, spec: Json) -> Json:
    labels = AppLabels(name, component, "v1")
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, component),
        "spec": w.deployment_spec(labels, replicas, w.pod_template(labels, spec)),
    }


def _templated(kind: str, api: str, name: str, component: str, spec: Json, **extra: Any) -> Json:
    labels = AppLabels(name, component, "v1")
    return {
        "apiVersion": api, "kind": kind, "metadata": _meta(name, component),
        "spec": {"selector": {"matchLabels": labels.selector}, "template": w.pod_template(labels, spec), **extra},
    }


def _service(name: str, component: str, port: int, target: Union[int, str], **extra: Any) -> Json:
    labels = AppLabels(name, component, "v1")
    spec = w.service_spec(labels, {"http": port}, **extra)
    spec["ports"][0]["targetPort"] = target
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, component), "spec": spec}


def _traefik(kind: str, name: str, spec: Json) -> Json:
    return {"apiVersion": "traefik.io/v1alpha1", "kind": kind, "metadata": _meta(name, "routing"), "spec": spec}


def manifests() -> list[Json]:
    web = _http(
        "web", "gushen-web:v18", 3000, _res("100m", "256Mi", "500m", "512Mi"),
        env=[w.env_secret("REDIS_PASSWORD", "ai-qtrd-secrets"), w.env_config("API_URL", "ai-qtrd-config")],
    )
    api = _http(
        "api", "lurus-ai-qtrd:v1.0.4", 8000, _res("200m", "512Mi", "1000m", "2Gi"),
        env=[w.env_value("REDIS_HOST", "redis-service"), w.env_secret("DATABASE_PASSWORD", "ai-qtrd-secrets")],
    )
    redis = _exec(
        "redis", "redis:7.2-alpine", _res("100m", "256Mi", "500m", "2Gi"), ports={"redis": 6379},
        run_as_user=999, volume_mounts=[{"name": "config", "mountPath": "/etc/redis"}],
    )
    sentinel = _exec("sentinel", "redis:7.2-alpine", _res("50m", "64Mi", "100m", "128Mi"), run_as_user=999)
    init = w.Container("init-config", "redis:7.2-alpine", _res("50m", "32Mi", "100m", "64Mi"), run_as_user=999)
    redis_volumes = [{"name": "config", "configMap": {"name": "redis-config", "items": [{"key": "redis.conf", "path": "redis.conf"}]}}]
    backup = w.Container(
        "backup", "redis:7.2-alpine", _res("100m", "128Mi", "200m", "256Mi"), run_as_user=999,
        env=[w.env_secret("REDISCLI_AUTH", "ai-qtrd-secrets", "REDIS_PASSWORD")],
    )
    backup_spec = {**w.pod_spec([backup], w.pin_to_node(DATA_NODE), run_as_user=999), "restartPolicy": "OnFailure"}
    migrate = w.Container(
        "migrate", "lurus-ai-qtrd:v1.0.4", _res("100m", "128Mi", "500m", "512Mi"),
        env=[w.env_config("API_URL", "ai-qtrd-config")],
    )
    migrate_spec = {**w.pod_spec([migrate], w.pin_to_node(API_NODE)), "restartPolicy": "Never"}
    agent = _exec("agent", "node-agent:1.2.0", _res("20m", "32Mi", "100m", "128Mi"))
    worker = _exec("worker", "lurus-ai-qtrd:v1.0.4", _res("100m", "128Mi", "250m", "256Mi"))
    tools = _exec("tools", "redis:7.2-alpine", _res("10m", "16Mi", "100m", "128Mi"), run_as_user=999)
    tools_spec = w.pod_spec([tools], w.pin_to_node(DATA_NODE), run_as_user=999)
    redis_labels = AppLabels("redis", "redis", "v1")
    return [
        {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NS, "labels": {
                **AppLabels(NS, "namespace").all,
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }},
        },
        {
            "apiVersion": "v1", "kind": "Secret", "metadata": _meta("ai-qtrd-secrets", "config"), "type": "Opaque",
            "stringData": {"REDIS_PASSWORD": "x"}, "data": {"DATABASE_PASSWORD": "eA=="},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("ai-qtrd-config", "config"), "data": {"API_URL": "u"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("redis-config", "config"), "data": {"redis.conf": ""}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("ai-qtrd", "identity"), "automountServiceAccountToken": False},
        _deployment("ai-qtrd-web", "web", 1, w.pod_spec([web], w.pin_to_node(WEB_NODE))),
        _deployment("ai-qtrd-api", "api", 1, w.pod_spec([api], w.prefer_node(API_NODE))),
        _templated(
            "StatefulSet", "apps/v1", "redis", "redis",
            w.pod_spec([redis, sentinel], w.pin_to_node(DATA_NODE), init_containers=[init], volumes=redis_volumes, run_as_user=999),
            replicas=3, serviceName="redis-headless",
        ),
        _templated("DaemonSet", "apps/v1", "node-agent", "agent", w.pod_spec([agent], {})),
        _templated("ReplicaSet", "apps/v1", "worker", "worker", w.pod_spec([worker], w.pin_to_node(DATA_NODE)), replicas=2),
        {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("db-migrate", "migrate"),
            "spec": {"template": w.pod_template(AppLabels("db-migrate", "migrate", "v1"), migrate_spec)},
        },
        {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta("redis-backup", "backup"),
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {
                "template": w.pod_template(AppLabels("redis-backup", "backup", "v1"), backup_spec),
            }}},
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": _meta("redis-tools", "tools"), "spec": tools_spec},
        _service("ai-qtrd-web", "web", 3000, "http"),
        _service("ai-qtrd-api", "api", 8000, 8000),
        {
            "apiVersion": "v1", "kind": "Service", "metadata": _meta("redis-headless", "redis"),
            "spec": {"clusterIP": "None", "selector": redis_labels.selector,
                     "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}]},
        },
        {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta("ai-qtrd-web", "web"),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ai-qtrd-web"},
                     "minReplicas": 1, "maxReplicas": 2},
        },
        {
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta("gushen-lurus-cn-tls", "tls"),
            "spec": {"secretName": "gushen-lurus-cn-tls", "dnsNames": ["gushen.lurus.cn"],
                     "issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt-prod"}},
        },
        _traefik("Middleware", "redirect-https", {"redirectScheme": {"scheme": "https", "permanent": True}}),
        _traefik("TLSOption", "gushen-tls", {"minVersion": "VersionTLS12"}),
        _traefik("IngressRoute", "gushen-web-https", {
            "entryPoints": ["websecure"],
            "routes": [
                {"kind": "Rule", "match": "Host(`gushen.lurus.cn`) && PathPrefix(`/api`)", "priority": 20,
                 "services": [{"kind": "Service", "name": "ai-qtrd-api", "port": 8000}]},
                {"kind": "Rule", "match": "Host(`gushen.lurus.cn`)", "priority": 10,
                 "services": [{"kind": "Service", "name": "ai-qtrd-web", "port": "http"}]},
            ],
            "tls": {"secretName": "gushen-lurus-cn-tls", "options": {"name": "gushen-tls"}},
        }),
        _traefik("IngressRoute", "gushen-web-http", {
            "entryPoints": ["web"],
            "routes": [{"kind": "Rule", "match": "Host(`gushen.lurus.cn`)", "priority": 1,
                        "middlewares": [{"name": "redirect-https"}],
                        "services": [{"kind": "TraefikService", "name": "noop@internal"}]}],
        }),
    ]


def objects(docs: Optional[list[Json]] = None) -> list[Obj]:
    return [Obj.from_manifest(d) for d in (docs if docs is not None else manifests())]  # type: ignore[misc]


Path = tuple[Union[str, int], ...]


@dataclass(frozen=True)
class Case:
    """One field of one baseline object changed, and the one ``(policy, Kind/name)`` it must trip."""

    id: str
    target: str
    """``Kind/name`` of the object to change."""
    path: Path
    value: Any
    """The new value (``DELETE`` removes the field)."""
    policy: str
    reported: Union[str, tuple[str, ...], None] = None
    """``Kind/name`` (or several) the violations name (default: ``target``)."""
    config: Optional[dict[str, Any]] = None
    """Policy config (the ``--policy-pack-config`` document) for this case."""


def ok(id: str, target: str, path: Path, value: Any, config: Optional[dict[str, Any]] = None) -> Case:
    """A change the pack must accept (a compliant variant of the baseline)."""
    return Case(id, target, path, value, policy="", config=config)


_POD = {
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


def pod(target: str, *rest: Union[str, int]) -> Path:
    """Path into the pod spec of the workload ``Kind/name``."""
    return (*_POD.get(target.split("/", 1)[0], ("spec", "template", "spec")), *rest)


def ctr(target: str, index: int, *rest: Union[str, int], init: bool = False) -> Path:
    """Path into container ``index`` (an init container with ``init``) of ``Kind/name``."""
    return pod(target, "initContainers" if init else "containers", index, *rest)


def mutate(docs: list[Json], target: str, path: Path, value: Any) -> list[Json]:
    docs = copy.deepcopy(docs)
    if not path:
        return docs
    kind, name = target.split("/", 1)
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"baseline has no single {target}"
    node: Any = found[0]
    for step in path[:-1]:
        node = node[step]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return docs


def with_prod(document: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``document`` over the prod policy config, policy by policy (its keys or level over prod's)."""
    out = copy.deepcopy(PROD_POLICY_CONFIG)
    for name, entry in (document or {}).items():
        base = out.get(name)
        if isinstance(base, Mapping) and isinstance(entry, (Mapping, str)):
            out[name] = {**base, **(entry if isinstance(entry, Mapping) else {"enforcementLevel": entry})}
        else:
            out[name] = entry
    return out


def prod_settings(document: Optional[Mapping[str, Any]] = None) -> Any:
    """The pack's settings for ``document`` over the prod policy config."""
    return resolve(with_prod(document), RULES)


Change = tuple[str, Path, Any]
"""``(Kind/name, path, value)``: one field of one baseline object changed."""


def violations(changes: list[Change], config: Optional[dict[str, Any]] = None) -> list[Violation]:
    """What the pack reports, in its order, for the baseline with ``changes`` under ``config``."""
    docs = manifests()
    for target, path, value in changes:
        docs = mutate(docs, target, path, value)
    return evaluate(objects(docs), prod_settings(config))


def _of(case: Case) -> list[Violation]:
    return violations([(case.target, case.path, case.value)], case.config)


def reported(case: Case) -> set[tuple[str, str]]:
    """What the pack reports for the baseline with the case's change."""
    return {(v.policy, f"{v.kind}/{v.name}") for v in _of(case)}


def expected(case: Case) -> set[tuple[str, str]]:
    if not case.policy:
        return set()
    refs = case.reported or case.target
    return {(case.policy, ref) for ref in ((refs,) if isinstance(refs, str) else refs)}


def findings(case: Case) -> list[str]:
    """The messages the case's policy reports, in order, for the baseline with the case's change."""
    return [v.message for v in _of(case) if v.policy == case.policy]


def lines(changes: list[Change], config: Optional[dict[str, Any]] = None) -> list[str]:
    """The pack's findings, as ``pulumi preview`` prints them, for the baseline with ``changes``."""
    return sorted(v.line for v in violations(changes, config))


def case_lines(case: Case) -> list[str]:
    """``lines`` for the baseline with one table case's change, under the case's config."""
    return sorted(v.line for v in _of(case))
