"""GuShen's production platform on K3s: the Pulumi program.

Config is read and validated first: a bad stack config stops the program before any
resource is registered. Every Kubernetes object goes through one explicit provider.
"""

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from gushen_infra import adoption, appenv, backup, config, monitoring
from gushen_infra.backup import Backups, BackupsArgs
from gushen_infra.backend import BackendService, BackendServiceArgs
from gushen_infra.frontend import FrontendService, FrontendServiceArgs
from gushen_infra.namespace import AppNamespace, AppNamespaceArgs
from gushen_infra.network import NetworkIsolation, NetworkIsolationArgs
from gushen_infra.redis import RedisCluster, RedisClusterArgs
from gushen_infra.routing import ServiceRef, TraefikRouting, TraefikRoutingArgs
from gushen_infra.tls import TlsCertificate, TlsCertificateArgs
from gushen_infra.workload import AppLabels

settings, secrets = config.load()
# Imports what kubectl applied when adopting (docs/adoption.md); every object inherits it.
adopting = adoption.Adoption(settings.adopt, settings.namespace)

provider = k8s.Provider(
    "k3s",
    kubeconfig=secrets.kubeconfig,
    cluster_identifier=settings.cluster_identifier,
    render_yaml_to_directory=settings.render_yaml_to_directory,
    enable_server_side_apply=True,
    **adoption.provider_options(settings.adopt),
)
k3s = pulumi.ResourceOptions(provider=provider, transformations=[adopting.transform])

# Generated once and kept in the state: the apps and Redis share them through the Secret.
# A cluster taken over keeps its own (gushen:redisPassword / gushen:nextauthSecret).
redis_password = secrets.redis_password or random.RandomPassword("redis-password", length=32, special=False).result
nextauth_secret = secrets.nextauth_secret or random.RandomPassword("nextauth-secret", length=48, special=False).result

platform = AppNamespace(
    "ai-qtrd",
    AppNamespaceArgs(
        name=settings.namespace,
        secret_data=appenv.secret_data(settings, secrets, redis_password, nextauth_secret),
        config_data=appenv.config_data(settings),
    ),
    opts=k3s,
)

redis = RedisCluster(
    "redis",
    RedisClusterArgs(
        namespace=platform.namespace,
        settings=settings.redis,
        node=settings.nodes.data,
        secret_name=platform.secret_name,
        metrics_sidecar=monitoring.redis_exporter(settings.monitoring, platform.secret_name),
        pod_annotations=monitoring.redis_annotations(settings.monitoring),
    ),
    opts=k3s,
)

if settings.backup.enabled:
    Backups(
        "backups",
        BackupsArgs(
            namespace=platform.namespace,
            settings=settings.backup,
            node=settings.nodes.data,
            secret_name=platform.secret_name,
            redis=settings.redis,
            redis_replicas=redis.replicas_endpoint,
            postgres=settings.postgres,
        ),
        opts=k3s,
    )

# What both HTTP tiers share: where they run, the app Secret and ConfigMap, the Redis port.
tier_inputs = dict(
    namespace=platform.namespace,
    redis_port=redis.port,
    secret_name=platform.secret_name,
    config_map_name=platform.config_map_name,
    config_checksum=platform.config_checksum,
)

backend = BackendService(
    "api",
    BackendServiceArgs(
        **tier_inputs,
        settings=settings.api,
        node=settings.nodes.api,
        redis_host=redis.service_name,  # spec appendix C: the short name for the API
        pod_annotations=monitoring.scrape_annotations(
            settings.monitoring, settings.api.port, settings.monitoring.api_metrics_path
        ),
    ),
    opts=k3s,
)

frontend = FrontendService(
    "web",
    FrontendServiceArgs(
        **tier_inputs,
        settings=settings.web,
        node=settings.nodes.web,
        redis_host=redis.fqdn,  # spec appendix C: the FQDN for the web tier
        backend_url=backend.url,
        pod_annotations=monitoring.scrape_annotations(
            settings.monitoring, settings.web.port, settings.monitoring.web_metrics_path
        ),
    ),
    opts=k3s,
)


certificate = TlsCertificate(
    "tls",
    TlsCertificateArgs(namespace=platform.namespace, domain=settings.domain, settings=settings.tls),
    opts=k3s,
)

routing = TraefikRouting(
    "routing",
    TraefikRoutingArgs(
        namespace=platform.namespace,
        domain=settings.domain,
        settings=settings.routing,
        frontend=ServiceRef(frontend.service_name, frontend.port),
        backend=ServiceRef(backend.service_name, backend.port),
        tls_secret_name=certificate.secret_name,
    ),
    opts=k3s,
)

monitoring.Alerting(
    "monitoring", monitoring.AlertingArgs(namespace=platform.namespace, settings=settings.monitoring), opts=k3s
)

# Last: the policies name the pods of every component above.
NetworkIsolation(
    "network",
    NetworkIsolationArgs(
        namespace=platform.namespace,
        settings=settings.network,
        web=frontend,
        api=backend,
        redis=redis,
        postgres_port=settings.postgres.port,
        external_urls=[settings.app.lurus_api_url, settings.app.deepseek_api_base],
        # Selectors use the name only: the jobs' labels, from backup.py's constants.
        redis_backup=AppLabels(backup.REDIS_JOB, backup.COMPONENT) if settings.backup.enabled else None,
        postgres_backup=AppLabels(backup.POSTGRES_JOB, backup.COMPONENT) if settings.backup.enabled else None,
        prometheus=monitoring.prometheus(settings.monitoring),
    ),
    opts=k3s,
)


def _fqdn(service: pulumi.Output[str], port: int) -> pulumi.Output[str]:
    return pulumi.Output.concat(service, ".", platform.namespace, ".svc.cluster.local:", str(port))


pulumi.export("namespace", platform.namespace)
pulumi.export("url", appenv.public_url(settings))
pulumi.export("webService", _fqdn(frontend.service_name, frontend.port))
pulumi.export("apiService", _fqdn(backend.service_name, backend.port))
pulumi.export("redisMaster", redis.master_endpoint)
pulumi.export("redisReplicas", redis.replicas_endpoint)
if redis.sentinel_endpoint is not None:
    pulumi.export("redisSentinel", redis.sentinel_endpoint)
adopting.warn_unmatched()
