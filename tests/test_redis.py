"""RedisCluster renders the objects of spec 3.3, 5, 9 and 12.2 with the issue's fixes: the client
Service reaches only the master (through HAProxy), Sentinel fails over, data survives Pulumi."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import pytest
from pulumi.runtime import mocks

from gushen_infra import config, redis_conf

from .conftest import run_stack
from .test_config import SECRET_KEYS, prod_raw, problems_of, with_change

PASSWORD = "PLACEHOLDER-redis-password"
DATA_NODE = "cloud-ubuntu-1-16c32g"


def pod(stack, kind: str, name: str) -> dict:
    return stack.get(kind, name)["spec"]["template"]["spec"]


def containers(stack, kind: str, name: str) -> dict[str, dict]:
    return {c["name"]: c for c in pod(stack, kind, name)["containers"]}


def env_of(container: dict) -> dict:
    """env name -> literal value, or ("secret", name, key) / ("field", path)."""
    out = {}
    for entry in container["env"]:
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            out[entry["name"]] = ("secret", source["secretKeyRef"]["name"], source["secretKeyRef"]["key"])
        elif "fieldRef" in source:
            out[entry["name"]] = ("field", source["fieldRef"]["fieldPath"])
        else:
            out[entry["name"]] = entry["value"]
    return out


def test_the_objects_and_their_names(prod):
    assert {m["metadata"]["name"] for m in prod.all("Service")} >= {
        "redis-headless", "redis-service", "redis-replicas", "redis-sentinel",
    }
    for kind, name in [("StatefulSet", "redis"), ("Deployment", "redis-proxy"), ("ConfigMap", "redis-config"),
                       ("ConfigMap", "redis-proxy-config")]:
        obj = prod.get(kind, name)
        assert obj["metadata"]["namespace"] == "ai-qtrd"
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gushen"
    (component,) = prod.of_type("gushen:redis:RedisCluster")
    assert component.name == "redis"


def _dialled(prod, endpoint: str) -> tuple[str, bool]:
    """The Service an endpoint ``name.namespace.svc.cluster.local:port`` reaches, and whether it has that port."""
    host, port = endpoint.rsplit(":", 1)
    name, namespace, tail = host.split(".", 2)
    assert tail == "svc.cluster.local", endpoint
    service = prod.get("Service", name)
    assert service["metadata"]["namespace"] == namespace, endpoint
    return name, int(port) in {p["port"] for p in service["spec"]["ports"]}


def test_the_component_outputs_reach_its_services_and_carry_its_pod_labels(prod):
    """What the state keeps for RedisCluster (``pulumi stack export``): endpoints an app can dial,
    each a Service of the stack with that port, and the labels its pods and its proxy's pods carry."""
    (component,) = prod.of_type("gushen:redis:RedisCluster")
    out = component.outputs
    assert [_dialled(prod, out[key]) for key in ("master_endpoint", "replicas_endpoint", "sentinel_endpoint")] == [
        ("redis-service", True), ("redis-replicas", True), ("redis-sentinel", True)]
    assert (out["service_name"], out["port"], out["fqdn"]) == ("redis-service", 6379, "redis-service.ai-qtrd.svc.cluster.local")
    assert out["labels"] == prod.get("StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    assert out["proxy_labels"] == prod.get("Deployment", "redis-proxy")["spec"]["template"]["metadata"]["labels"]
    (server,) = [c for c in prod.get("StatefulSet", "redis")["spec"]["template"]["spec"]["containers"] if c["name"] == "redis"]
    assert out["server_port"] in {p["containerPort"] for p in server["ports"]}
    assert out["peer_ports"] == [6379, 26379]
    proxy_ports = {p["containerPort"] for c in prod.get("Deployment", "redis-proxy")["spec"]["template"]["spec"]["containers"]
                   for p in c.get("ports", [])}
    assert {out["proxy_master_port"], out["proxy_replicas_port"]} <= proxy_ports


def test_without_sentinel_the_outputs_name_no_sentinel_endpoint_and_one_peer_port():
    redis = copy.deepcopy(prod_raw()["redis"])
    redis["sentinel"]["enabled"] = False
    (component,) = run_stack("prod", {"redis": redis}).of_type("gushen:redis:RedisCluster")
    assert "sentinel_endpoint" not in component.outputs
    assert component.outputs["peer_ports"] == [6379]


def test_statefulset_matches_the_spec(prod):
    sts = prod.get("StatefulSet", "redis")
    spec = sts["spec"]
    assert spec["serviceName"] == "redis-headless" and spec["replicas"] == 3
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["podManagementPolicy"] == "Parallel"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
        "resources": {"requests": {"storage": "10Gi"}},
    }
    assert "app.kubernetes.io/version" not in claim["metadata"]["labels"], "an image bump must not replace the PVCs"
    template = spec["template"]
    assert spec["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert template["metadata"]["labels"]["app"] == "redis"
    p = template["spec"]
    assert p["nodeSelector"] == {"kubernetes.io/hostname": DATA_NODE}
    assert p["automountServiceAccountToken"] is False
    assert p["securityContext"]["runAsUser"] == 999 and p["securityContext"]["runAsNonRoot"] is True
    # preStop hand-over (up to the failover timeout, 10 s) plus the shutdown save.
    assert p["terminationGracePeriodSeconds"] >= 10 + 30
    c = containers(prod, "StatefulSet", "redis")
    assert set(c) == {"redis", "sentinel"}
    redis = c["redis"]
    assert redis["image"] == "redis:7.2-alpine" and redis["imagePullPolicy"] == "Never"
    assert redis["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                                  "limits": {"cpu": "500m", "memory": "2Gi"}}
    # The claim template (gushen:redis.storage.claimName, the live cluster's name) is what /data mounts.
    claim = prod.get("StatefulSet", "redis")["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert claim == "redis-data" and {"name": claim, "mountPath": "/data"} in redis["volumeMounts"]
    assert redis["command"] == ["sh", redis_conf.SCRIPT, "server"]
    assert redis["lifecycle"]["preStop"]["exec"]["command"] == ["sh", redis_conf.SCRIPT, "pre-stop"]
    for container in c.values():
        sc = container["securityContext"]
        assert sc["runAsUser"] == 999 and sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
        assert {"mountPath": "/run/redis", "name": "run-redis"} in container["volumeMounts"], "runtime config dir"
    sentinel = c["sentinel"]
    assert sentinel["ports"] == [{"name": "sentinel", "containerPort": 26379, "protocol": "TCP"}]
    assert sentinel["resources"]["limits"] == {"cpu": "100m", "memory": "64Mi"}


def test_probes_follow_spec_9_2(prod):
    redis = containers(prod, "StatefulSet", "redis")["redis"]
    live, ready = redis["livenessProbe"], redis["readinessProbe"]
    assert (live["initialDelaySeconds"], live["periodSeconds"]) == (30, 10)
    assert (ready["initialDelaySeconds"], ready["periodSeconds"]) == (5, 5)
    assert live["exec"]["command"] == redis_conf.LIVENESS and "LOADING" in live["exec"]["command"][-1]
    assert ready["exec"]["command"] == ["sh", redis_conf.SCRIPT, "ready"]  # redis.sh: PONG, in sync, known to Sentinel


def test_redis_conf_has_the_spec_persistence_and_memory(prod):
    lines = prod.get("ConfigMap", "redis-config")["data"]["redis.conf"].splitlines()
    for line in ["save 900 1", "save 300 10", "save 60 10000", "appendonly yes", "appendfsync everysec",
                 "maxmemory 1536mb", "maxmemory-policy allkeys-lru", "dir /data", "min-replicas-to-write 1"]:
        assert line in lines
    assert prod.get("ConfigMap", "redis-config")["data"]["redis.sh"] == redis_conf.SCRIPT_TEXT


def test_the_password_is_never_literal_outside_the_secret(prod):
    for manifest in prod.manifests:
        if manifest["kind"] != "Secret":
            assert PASSWORD not in repr(manifest), f"{manifest['kind']}/{manifest['metadata']['name']}"
    for container in containers(prod, "StatefulSet", "redis").values():
        env = env_of(container)
        assert env["REDIS_PASSWORD"] == env["REDISCLI_AUTH"] == ("secret", "ai-qtrd-secrets", "REDIS_PASSWORD")
        commands = [container["command"], container["livenessProbe"], container["readinessProbe"]]
        assert "REDIS_PASSWORD" not in repr(commands) and " -a " not in repr(commands)


def test_the_proxy_needs_no_password_so_a_rotation_leaves_it_running(prod):
    """HAProxy checks as a user without a password that may run PING and INFO only."""
    proxy = prod.get("Deployment", "redis-proxy")["spec"]["template"]
    assert "env" not in proxy["spec"]["containers"][0] and "checksum/secret" not in proxy["metadata"]["annotations"]
    cfg = prod.get("ConfigMap", "redis-proxy-config")["data"]["haproxy.cfg"]
    assert f'"AUTH {redis_conf.HEALTHCHECK_USER} -\\r\\n"' in cfg
    conf = prod.get("ConfigMap", "redis-config")["data"]["redis.conf"].splitlines()
    assert f"user {redis_conf.HEALTHCHECK_USER} on nopass -@all +ping +info" in conf


def test_redis_service_reaches_only_the_proxy_which_checks_the_role(prod):
    proxy_labels = prod.get("Deployment", "redis-proxy")["spec"]["template"]["metadata"]["labels"]
    redis_labels = prod.get("StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    proxy_ports = {p["name"]: p["containerPort"] for p in containers(prod, "Deployment", "redis-proxy")["haproxy"]["ports"]}
    cfg = prod.get("ConfigMap", "redis-proxy-config")["data"]["haproxy.cfg"]
    for name, target, expect in [("redis-service", "redis", "role:master"), ("redis-replicas", "replicas", "role:slave")]:
        spec = prod.get("Service", name)["spec"]
        assert spec["type"] == "ClusterIP" and "sessionAffinity" not in spec, "spec 3.3's ClientIP affinity is gone"
        assert spec["selector"].items() <= proxy_labels.items()
        assert not spec["selector"].items() <= redis_labels.items(), f"{name} must not select the Redis pods"
        (port,) = spec["ports"]
        assert port["port"] == 6379 and port["targetPort"] == target
        frontend = cfg.split(f"frontend redis-{'master' if target == 'redis' else 'replicas'}\n")[1].split("\n\n")[0]
        assert f"bind :{proxy_ports[target]}" in frontend
        assert f"tcp-check expect string {expect}" in cfg
    for i in range(3):
        assert f"redis-{i}.redis-headless.ai-qtrd.svc.cluster.local:6379 check" in cfg


def test_headless_and_sentinel_services(prod):
    headless = prod.get("Service", "redis-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in headless["ports"]} == {"redis": 6379, "sentinel": 26379}
    sentinel = prod.get("Service", "redis-sentinel")["spec"]
    assert sentinel["selector"] == headless["selector"] == {"app": "redis"}  # the live selector (docs/adoption.md)
    assert sentinel["ports"][0]["port"] == 26379


def test_sentinel_settings_reach_the_pods(prod):
    env = env_of(containers(prod, "StatefulSet", "redis")["sentinel"])
    assert env["SENTINEL_MASTER"] == "gushen" and env["SENTINEL_QUORUM"] == "2"
    assert env["SENTINEL_DOWN_AFTER_MS"] == "5000" and env["SENTINEL_FAILOVER_TIMEOUT_MS"] == "10000"
    assert env["SEED_MASTER"] == "redis-0.redis-headless.ai-qtrd.svc.cluster.local:6379"
    assert env["MY_HOST"] == "$(POD_NAME).redis-headless.ai-qtrd.svc.cluster.local"
    assert len(env["SENTINELS"].split()) == 3


def test_proxy_tier(prod):
    dep = prod.get("Deployment", "redis-proxy")
    p = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 2
    assert p["nodeSelector"] == {"kubernetes.io/hostname": DATA_NODE}
    assert p["automountServiceAccountToken"] is False and "serviceAccountName" not in p
    (c,) = p["containers"]
    assert c["image"] == "haproxy:3.0.5-alpine" and c["imagePullPolicy"] == "Never"
    assert c["securityContext"]["runAsUser"] == 99 and c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "redis-proxy"
    # The failover needs no Kubernetes API access: the only identity any binding grants rights to is
    # the CI's read-only gushen-preview, and no pod runs as it.
    bindings = prod.all("RoleBinding") + prod.all("ClusterRoleBinding")
    assert {(s["kind"], s["name"]) for b in bindings for s in b["subjects"]} == {("ServiceAccount", "gushen-preview")}
    pods = [w["spec"]["template"]["spec"] for kind in ("Deployment", "StatefulSet") for w in prod.all(kind)]
    assert all(pod.get("serviceAccountName") in (None, "default") for pod in pods)


def test_pods_pinned_to_the_data_node_get_no_disruption_budget(prod):
    """Their evicted pods could run nowhere else, so a budget would stop a drain of the data node
    for ever (tests/test_drain.py); redis.sh's election makes the restart of all pods safe."""
    names = {m["metadata"]["name"] for m in prod.all("PodDisruptionBudget")}
    assert not names & {"redis", "redis-proxy"}


def test_sentinel_keeps_its_state_on_the_pvc_and_runs_redis_sh_as_its_notification_script(prod):
    c = containers(prod, "StatefulSet", "redis")
    (claim,) = [t["metadata"]["name"] for t in prod.get("StatefulSet", "redis")["spec"]["volumeClaimTemplates"]]
    for name in ("redis", "sentinel"):
        assert {"name": claim, "mountPath": "/data"} in c[name]["volumeMounts"]
    (volume,) = [v for v in pod(prod, "StatefulSet", "redis")["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["defaultMode"] == 0o555, "Sentinel refuses a notification script it cannot execute"


def test_a_config_change_rolls_the_pods(prod):
    changed = run_stack("prod", {"redis": {**prod_raw()["redis"], "maxmemory": "1gb"}})
    before = prod.get("StatefulSet", "redis")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    after = changed.get("StatefulSet", "redis")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert "maxmemory 1gb" in changed.get("ConfigMap", "redis-config")["data"]["redis.conf"]
    assert before != after


def test_without_sentinel_there_is_no_sidecar_and_no_sentinel_service():
    raw = prod_raw()["redis"]
    stack = run_stack("prod", {"redis": {**raw, "sentinel": {**raw["sentinel"], "enabled": False}}})
    assert set(containers(stack, "StatefulSet", "redis")) == {"redis"}
    assert "redis-sentinel" not in {m["metadata"]["name"] for m in stack.all("Service")}
    assert env_of(containers(stack, "StatefulSet", "redis")["redis"])["SENTINELS"] == ""


@contextlib.contextmanager
def registrations() -> Iterator[list]:
    """What the program asks the engine for, resource options included (the mocks drop them)."""
    seen: list = []
    original = mocks.MockMonitor.RegisterResource

    def record(self, request):
        seen.append(request)
        return original(self, request)

    mocks.MockMonitor.RegisterResource = record
    try:
        yield seen
    finally:
        mocks.MockMonitor.RegisterResource = original


@pytest.mark.parametrize("protect", [True, False])
def test_the_statefulset_is_protected_and_replaced_for_new_claim_templates(protect):
    with registrations() as seen:
        run_stack("prod", {"redis": {**prod_raw()["redis"], "protect": protect}})
    (sts,) = [r for r in seen if r.type == "kubernetes:apps/v1:StatefulSet"]
    assert sts.protect is protect
    assert list(sts.replaceOnChanges) == ["spec.volumeClaimTemplates"]
    assert sts.deleteBeforeReplace is True
    # The Namespace holds the volumes: it is protected with the data, and nothing else is.
    (namespace,) = [r for r in seen if r.type == "kubernetes:core/v1:Namespace"]
    assert namespace.protect is protect and namespace.retainOnDelete is protect
    others = [r for r in seen if r.custom and r.type.startswith("kubernetes:") and r.type not in (sts.type, namespace.type)]
    assert others and not any(r.protect for r in others)


def test_prod_redis_config_is_typed():
    redis = config.validate(prod_raw(), SECRET_KEYS).redis
    assert redis.sentinel.enabled and redis.protect and redis.replicas == 3
    # Writes must come back within 30 s of the master's death (asserted live in test_redis_live).
    assert redis.sentinel.down_after_milliseconds + 2 * redis.sentinel.failover_timeout_milliseconds <= 30000


BAD = [
    ("redis.maxmemory", "3gb",
     "gushen:redis.maxmemory: '3gb' is not below the memory limit '2Gi' (the kernel would kill Redis before it evicts)"),
    ("redis.maxmemory", "lots", "gushen:redis.maxmemory: invalid Redis memory size (want e.g. 1536mb or 2gb) (got 'lots')"),
    ("redis.sentinel.quorum", 1, "gushen:redis.sentinel.quorum: want a majority of the 3 Sentinels (2..3), got 1"),
    ("redis.sentinel.quorum", 4, "gushen:redis.sentinel.quorum: want a majority of the 3 Sentinels (2..3), got 4"),
    # 2 of 4 is no majority: two halves of a split could each elect a master.
    ("redis", {"replicas": 4, "sentinel.quorum": 2},
     "gushen:redis.sentinel.quorum: want a majority of the 4 Sentinels (3..4), got 2"),
    # A maxmemory equal to the limit leaves nothing for the process itself.
    ("redis.maxmemory", "2gb",
     "gushen:redis.maxmemory: '2gb' is not below the memory limit '2Gi' (the kernel would kill Redis before it evicts)"),
    ("redis.replicas", 2, "gushen:redis.replicas: Sentinel needs at least 3 pods for a majority (got 2)"),
    ("redis.minReplicasToWrite", 3,
     "gushen:redis.minReplicasToWrite: 3 needs more than 2 replica(s) (replicas: 3), so the master could never write"),
    ("redis.sentinel.resources.requests.memory", "128Mi",
     "gushen:redis.sentinel.resources.requests.memory: request '128Mi' is above the limit '64Mi'"),
    ("redis.persistence.appendfsync", "sometimes",
     "gushen:redis.persistence.appendfsync: Input should be 'always', 'everysec' or 'no' (got 'sometimes')"),
    ("redis.proxy.image", "haproxy:latest", "gushen:redis.proxy.image: image is tagged 'latest' (pin a version) (got 'haproxy:latest')"),
    ("redis.storage.size", "10GB", "gushen:redis.storage.size: malformed quantity; Kubernetes spells it '10Gi' (powers of 1024, what memory sizes use) or '10G' (powers of 1000) (got '10GB')"),
    ("redis.protect", ..., "gushen:redis.protect: required key is missing"),
]


def with_redis(changes: dict) -> dict:
    raw = prod_raw()
    for path, value in changes.items():
        raw = with_change(f"redis.{path}", value, raw)
    return raw


@pytest.mark.parametrize("path,value,message", BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_redis_config_names_the_key_and_value(path, value, message):
    raw = with_redis(value) if path == "redis" else with_change(path, copy.deepcopy(value))
    assert message in problems_of(raw)


@pytest.mark.parametrize("changes", [
    {"sentinel.quorum": 3},  # all three Sentinels must agree: a majority still
    {"replicas": 4, "sentinel.quorum": 3},
    {"minReplicasToWrite": 2},  # both replicas in sync: the most a 3-pod master can ask
    {"maxmemory": "1073741824"},  # plain bytes, as redis.conf takes them
    {"maxmemory": "2000mb"},  # 2000 MiB is below 2Gi
], ids=repr)
def test_redis_limits_at_their_edge_are_accepted(changes):
    assert config.validate(with_redis(changes), SECRET_KEYS).redis
