"""GuShen's production platform on K3s: the Pulumi program.

Config is read and validated first: a bad stack config stops the program before any
resource is registered. Every Kubernetes object goes through one explicit provider.
"""

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from gushen_infra import adoption, appenv, backup, config, monitoring, redis_conf
from gushen_infra import backend as api_tier
from gushen_infra import frontend as web_tier
from gushen_infra.backup import Backups, BackupsArgs
from gushen_infra.backend import BackendService, BackendServiceArgs
from gushen_infra.frontend import FrontendService, FrontendServiceArgs
from gushen_infra.namespace import AppNamespace, AppNamespaceArgs
from gushen_infra.network import NetworkIsolation, NetworkIsolationArgs
from gushen_infra.preview_identity import PreviewIdentity, PreviewIdentityArgs
from gushen_infra.redis import RedisCluster, RedisClusterArgs
from gushen_infra.routing import ServiceRef, TraefikRouting, TraefikRoutingArgs
from gushen_infra.tls import TlsCertificate, TlsCertificateArgs
from gushen_infra.workload import AppLabels

settings, secrets = config.load()
# Imports what kubectl applied when adopting (docs/adoption.md); every object inherits it.
adopting = adoption.Adoption(settings.adopt, settings.namespace)

# Both providers aim at the one cluster the config names (prod: an explicit kubeconfig and context).
cluster = dict(
    kubeconfig=secrets.kubeconfig,
    context=settings.kube_context,
    cluster_identifier=settings.cluster_identifier,
    render_yaml_to_directory=settings.render_yaml_to_directory,
    enable_server_side_apply=True,
    **adoption.provider_settings(settings.adopt),
)
provider = k8s.Provider(
    "k3s",
    **cluster,
    # Data changes update ConfigMaps and Secrets in place. Off (the default), the provider replaces
    # them (delete first: the names are fixed), and the engine replaces with them every object
    # whose inputs came from them. The pods' checksum annotations roll exactly the pods that read
    # what changed (docs/changes.md).
    enable_config_map_mutable=True,
    enable_secret_mutable=True,
)
k3s = pulumi.ResourceOptions(provider=provider, transformations=[adopting.transform])
# The one place objects are adopted on create: those that outlive this stack on purpose (the
# retained backup claim, the cluster-wide ClusterIssuers) go through this provider, which updates
# an existing object instead of failing with AlreadyExists. Each of them is retainOnDelete, so
# upsert's hazard (a renamed resource's create-then-delete removing the object) cannot occur.
retained = k8s.Provider("k3s-retained", **cluster, upsert_existing_objects=True)

# Generated once and kept in the state: the apps and Redis share them through the Secret.
# A cluster taken over keeps its own (gushen:redisPassword / gushen:nextauthSecret).
redis_password = secrets.redis_password or random.RandomPassword("redis-password", length=32, special=False).result
nextauth_secret = secrets.nextauth_secret or random.RandomPassword("nextauth-secret", length=48, special=False).result
# Keys the pods' checksum/secret digests (HMAC): the annotation reveals nothing about the values.
digest_key = random.RandomPassword("secret-digest-key", length=48, special=False)

platform = AppNamespace(
    "ai-qtrd",
    AppNamespaceArgs(
        name=settings.namespace,
        secret_data=appenv.secret_data(settings, secrets, redis_password, nextauth_secret),
        config_data=appenv.config_data(settings),
        digest_key=digest_key.result,
        # Deleting the Namespace deletes Redis's volumes with it: it is protected with the data.
        protect=settings.redis.protect,
    ),
    opts=k3s,
)
secret_first = list(platform.config_objects)

# Read-only ServiceAccount for previews and the drift check: no writes, no Secrets (docs/ci.md).
PreviewIdentity("preview-identity", PreviewIdentityArgs(namespace=platform.namespace, cluster_suffix=settings.namespace), opts=k3s)

redis = RedisCluster(
    "redis",
    RedisClusterArgs(
        namespace=platform.namespace,
        settings=settings.redis,
        node=settings.nodes.data,
        secret_name=platform.secret_name,
        secret_checksum=platform.secret_checksum([redis_conf.PASSWORD_KEY]),
        depends_on=secret_first,
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
            depends_on=secret_first,
            claim_provider=retained,
            remote_secrets=secrets.backup_remote,
        ),
        opts=k3s,
    )

# What both HTTP tiers share: where they run, the app Secret and ConfigMap, the Redis port.
tier_inputs = dict(
    namespace=platform.namespace,
    redis_port=redis.port,
    secret_name=platform.secret_name,
    config_map_name=platform.config_map_name,
    depends_on=secret_first,
)

backend = BackendService(
    "api",
    BackendServiceArgs(
        **tier_inputs,
        settings=settings.api,
        node=settings.nodes.api,
        redis_host=redis.service_name,  # spec appendix C: the short name for the API
        config_checksum=platform.config_checksum_of(api_tier.CONFIG_KEYS),
        secret_checksum=platform.secret_checksum(api_tier.SECRET_KEYS),
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
        backend_url=backend.url,  # a plain name: the web tier does not wait for the API's pods
        config_checksum=platform.config_checksum_of(web_tier.CONFIG_KEYS),
        secret_checksum=platform.secret_checksum(web_tier.SECRET_KEYS),
        pod_annotations=monitoring.scrape_annotations(
            settings.monitoring, settings.web.port, settings.monitoring.web_metrics_path
        ),
    ),
    opts=k3s,
)


certificate = TlsCertificate(
    "tls",
    TlsCertificateArgs(
        namespace=platform.namespace, domain=settings.domain, settings=settings.tls, issuer_provider=retained
    ),
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
    "monitoring",
    monitoring.AlertingArgs(
        namespace=platform.namespace, settings=settings.monitoring, backup_freshness=backup.freshness(settings.backup),
    ),
    opts=k3s,
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
        backup_remote=backup.egress_target(settings.backup),
    ),
    opts=k3s,
)


def _fqdn(service: str, port: int) -> pulumi.Output[str]:
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
