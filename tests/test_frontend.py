"""FrontendService renders ai-qtrd-web exactly as spec 3.1, 9.2, 12 and appendix C describe it."""

from __future__ import annotations

from .tiers import assert_probe, assert_service_reaches, env_of, main_container, resolved_env


def test_deployment_matches_the_spec(prod):
    dep = prod.get("Deployment", "ai-qtrd-web")
    pod = dep["spec"]["template"]["spec"]
    c = main_container(dep)
    assert dep["metadata"]["namespace"] == "ai-qtrd"
    assert c["name"] == "web", "spec 12.1 runs `kubectl set image ... web=gushen-web:v19`"
    assert c["image"] == "gushen-web:v18"
    assert c["imagePullPolicy"] == "Never"
    assert c["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    assert c["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "cloud-ubuntu-3-2c2g"}
    assert dep["spec"]["replicas"] == 1


def test_probes_use_the_spec_timings(prod):
    c = main_container(prod.get("Deployment", "ai-qtrd-web"))
    assert_probe(c["livenessProbe"], "/api/health", 3000, 30, 10, 5, 3)
    assert_probe(c["readinessProbe"], "/api/health", 3000, 10, 5, 3, 2)


def test_zero_downtime_rollout(prod):
    dep = prod.get("Deployment", "ai-qtrd-web")
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert pod["terminationGracePeriodSeconds"] == 30
    assert main_container(dep)["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sh", "-c", "sleep 5"]


def test_read_only_root_with_writable_tmp_and_next_cache(prod):
    dep = prod.get("Deployment", "ai-qtrd-web")
    c = main_container(dep)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    mounted = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/tmp", "/app/.next/cache"} <= mounted
    assert dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_env_is_appendix_c(prod):
    c = main_container(prod.get("Deployment", "ai-qtrd-web"))
    env = resolved_env(prod, c)
    assert env == {
        "HOME": "/home/app",
        "REDIS_HOST": "redis-service.ai-qtrd.svc.cluster.local",
        "REDIS_PORT": "6379",
        "REDIS_PASSWORD": "PLACEHOLDER-redis-password",
        "REDIS_DB": "0",
        "REDIS_ENABLED": "true",
        "NEXTAUTH_URL": "https://gushen.lurus.cn",
        "NEXTAUTH_SECRET": "PLACEHOLDER-nextauth-secret",
        "BACKEND_API_URL": "http://ai-qtrd-api:8000",
        "LURUS_API_URL": "https://api.lurus.cn",
        "LURUS_API_KEY": "PLACEHOLDER-lurusApiKey",
    }


def test_secrets_come_only_from_secret_key_refs(prod):
    env = env_of(main_container(prod.get("Deployment", "ai-qtrd-web")))
    for name in ("REDIS_PASSWORD", "NEXTAUTH_SECRET", "LURUS_API_KEY"):
        assert env[name] == ("secret", "ai-qtrd-secrets", name)


def test_service(prod):
    assert_service_reaches(prod, prod.get("Service", "ai-qtrd-web"), prod.get("Deployment", "ai-qtrd-web"), 3000)


def test_config_change_rolls_the_pods(prod):
    from .conftest import run_stack

    def annotations(stack, name):
        return stack.get("Deployment", name)["spec"]["template"]["metadata"]["annotations"]

    app = {
        "deepseekApiBase": "https://api.lurus.cn/v1", "deepseekModel": "deepseek-chat",
        "lurusApiUrl": "https://api.lurus.cn", "corsOrigins": ["https://gushen.lurus.cn"],
    }
    # Only the pods that read the changed key roll: LURUS_API_URL is the web tier's, DEEPSEEK_MODEL the API's.
    lurus = run_stack("prod", {"app": {**app, "lurusApiUrl": "https://api2.lurus.cn"}})
    model = run_stack("prod", {"app": {**app, "deepseekModel": "deepseek-reasoner"}})
    web, api = "ai-qtrd-web", "ai-qtrd-api"
    assert annotations(lurus, web)["checksum/config"] != annotations(prod, web)["checksum/config"]
    assert annotations(lurus, api)["checksum/config"] == annotations(prod, api)["checksum/config"]
    assert annotations(model, web)["checksum/config"] == annotations(prod, web)["checksum/config"]
    assert annotations(model, api)["checksum/config"] != annotations(prod, api)["checksum/config"]
