"""AppNamespace: Pod Security labels, the app Secret and ConfigMap, recommended labels everywhere."""

from __future__ import annotations

from gushen_infra.render import SECRET_SIG


def test_namespace_has_pod_security_labels(prod):
    labels = prod.get("Namespace", "ai-qtrd")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_the_component_outputs_name_its_namespace_secret_and_config_map(prod):
    (component,) = prod.of_type("gushen:core:AppNamespace")
    assert component.outputs == {"namespace": "ai-qtrd", "secret_name": "ai-qtrd-secrets", "config_map_name": "ai-qtrd-config"}
    prod.get("Namespace", "ai-qtrd")
    for kind, key in (("Secret", "secret_name"), ("ConfigMap", "config_map_name")):
        assert prod.get(kind, component.outputs[key])["metadata"]["namespace"] == "ai-qtrd"


def test_every_object_carries_the_recommended_labels(prod):
    for m in prod.manifests:
        labels = m["metadata"].get("labels", {})
        where = f"{m['kind']}/{m['metadata']['name']}"
        assert labels.get("app.kubernetes.io/name"), where
        assert labels.get("app.kubernetes.io/part-of") == "gushen", where
        assert labels.get("app.kubernetes.io/managed-by") == "pulumi", where
        assert labels.get("app.kubernetes.io/component"), where


def test_secret_holds_the_six_keys(prod):
    secret = prod.get("Secret", "ai-qtrd-secrets")
    assert secret["type"] == "Opaque"
    assert set(secret["stringData"]) == {
        "DEEPSEEK_API_KEY", "DATABASE_PASSWORD", "DATABASE_URL", "REDIS_PASSWORD", "NEXTAUTH_SECRET", "LURUS_API_KEY",
    }


def test_secret_values_stay_secret_in_the_engine(prod):
    (secret,) = [r for r in prod.of_type("kubernetes:core/v1:Secret") if r.name == "ai-qtrd-secrets"]
    assert secret.inputs["stringData"].get(SECRET_SIG), "the engine must see stringData as a secret"


def test_generated_passwords_are_random_password_resources(prod):
    names = {r.name: r.inputs for r in prod.of_type("random:index/randomPassword:RandomPassword")}
    assert set(names) >= {"redis-password", "nextauth-secret"}
    assert names["redis-password"]["length"] >= 32
    assert names["redis-password"]["special"] is False, "redis.conf and URLs take it unquoted"


def test_config_map_holds_only_non_secret_env(prod):
    data = prod.get("ConfigMap", "ai-qtrd-config")["data"]
    assert data["DEEPSEEK_MODEL"] == "deepseek-chat"
    assert data["NEXTAUTH_URL"] == "https://gushen.lurus.cn"
    secret_keys = set(prod.get("Secret", "ai-qtrd-secrets")["stringData"])
    assert not secret_keys & set(data)


def _annotations(stack, kind, name):
    (rec,) = [r for r in stack.resources if r.inputs.get("kind") == kind and r.name == name]
    return rec.inputs["spec"]["template"]["metadata"]["annotations"]


def test_secret_checksums_reveal_nothing_and_stay_plain(prod):
    import hashlib

    from gushen_infra.namespace import secret_digest
    from gushen_infra.render import placeholder

    api = _annotations(prod, "Deployment", "ai-qtrd-api")["checksum/secret"]
    assert isinstance(api, str) and len(api) == 64, "unwrapped: a plain value in the pod template"
    values = {k: prod.get("Secret", "ai-qtrd-secrets")["stringData"][k]
              for k in ("DEEPSEEK_API_KEY", "DATABASE_URL", "DATABASE_PASSWORD", "REDIS_PASSWORD")}
    assert api == secret_digest(placeholder("secret-digest-key"), values)
    # Without the key, hashing a guessed value never reproduces it.
    for value in values.values():
        assert hashlib.sha256(value.encode()).hexdigest() != api
    assert secret_digest("another key", values) != api


def test_each_consumer_digests_only_what_it_reads(prod):
    web = _annotations(prod, "Deployment", "ai-qtrd-web")["checksum/secret"]
    api = _annotations(prod, "Deployment", "ai-qtrd-api")["checksum/secret"]
    redis = _annotations(prod, "StatefulSet", "redis")["checksum/secret"]
    assert len({web, api, redis}) == 3, "Redis reads REDIS_PASSWORD only"
    assert "checksum/secret" not in _annotations(prod, "Deployment", "redis-proxy"), "the proxy reads no secret"
