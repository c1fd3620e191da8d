"""BackendService renders ai-qtrd-api exactly as spec 3.2, 8.2, 9.2 and appendix C describe it."""

from __future__ import annotations

import json

from .tiers import assert_probe, assert_service_reaches, env_of, main_container, resolved_env


def test_deployment_matches_the_spec(prod):
    dep = prod.get("Deployment", "ai-qtrd-api")
    pod = dep["spec"]["template"]["spec"]
    c = main_container(dep)
    assert c["name"] == "api"
    assert c["image"] == "lurus-ai-qtrd:v1.0.4"
    assert c["imagePullPolicy"] == "Never"
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert c["resources"] == {
        "requests": {"cpu": "200m", "memory": "512Mi"},
        "limits": {"cpu": "1000m", "memory": "2Gi"},
    }
    assert "nodeSelector" not in pod, "the api only prefers its node (spec 8.2)"
    (term,) = pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term == {
        "weight": 100,
        "preference": {"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["cloud-ubuntu-2-4c8g"]}
        ]},
    }


def test_probes_use_the_spec_timings(prod):
    c = main_container(prod.get("Deployment", "ai-qtrd-api"))
    assert_probe(c["livenessProbe"], "/health", 8000, 30, 10, 5, 3)
    assert_probe(c["readinessProbe"], "/health", 8000, 10, 5, 3, 2)


def test_env_is_appendix_c(prod):
    env = resolved_env(prod, main_container(prod.get("Deployment", "ai-qtrd-api")))
    assert env == {
        "HOME": "/home/app",  # writable: VNPy creates ~/.vntrader on import
        "WEB_HOST": "0.0.0.0",
        "WEB_PORT": "8000",
        "DEEPSEEK_API_BASE": "https://api.lurus.cn/v1",
        "DEEPSEEK_MODEL": "deepseek-chat",
        "DEEPSEEK_API_KEY": "PLACEHOLDER-deepseekApiKey",
        "DATABASE_URL": "postgresql://postgres:PLACEHOLDER-databasePassword@postgres.set-me.invalid:5432/gushen",
        "DATABASE_PASSWORD": "PLACEHOLDER-databasePassword",
        "REDIS_HOST": "redis-service",
        "REDIS_PORT": "6379",
        "REDIS_PASSWORD": "PLACEHOLDER-redis-password",
        "CORS_ORIGINS": '["https://gushen.lurus.cn"]',
        "WEB_URL": "https://gushen.lurus.cn",
        "API_URL": "https://gushen.lurus.cn/api",
    }
    assert json.loads(env["CORS_ORIGINS"]) == ["https://gushen.lurus.cn"]


def test_secrets_come_only_from_secret_key_refs(prod):
    env = env_of(main_container(prod.get("Deployment", "ai-qtrd-api")))
    for name in ("DEEPSEEK_API_KEY", "DATABASE_URL", "DATABASE_PASSWORD", "REDIS_PASSWORD"):
        assert env[name] == ("secret", "ai-qtrd-secrets", name)


def test_rollout_and_hardening(prod):
    dep = prod.get("Deployment", "ai-qtrd-api")
    pod = dep["spec"]["template"]["spec"]
    sc = main_container(dep)["securityContext"]
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]


def test_service(prod):
    assert_service_reaches(prod, prod.get("Service", "ai-qtrd-api"), prod.get("Deployment", "ai-qtrd-api"), 8000)
