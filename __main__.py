"""GuShen's production platform on K3s: the Pulumi program.

Config is read and validated first: a bad stack config stops the program before any
resource is registered. Every Kubernetes object goes through one explicit provider.
"""

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from gushen_infra import appenv, config
from gushen_infra.backend import BackendService, BackendServiceArgs
from gushen_infra.frontend import FrontendService, FrontendServiceArgs
from gushen_infra.namespace import AppNamespace, AppNamespaceArgs

settings, secrets = config.load()

provider = k8s.Provider(
    "k3s",
    kubeconfig=secrets.kubeconfig,
    cluster_identifier=settings.cluster_identifier,
    render_yaml_to_directory=settings.render_yaml_to_directory,
    enable_server_side_apply=True,
)
k3s = pulumi.ResourceOptions(provider=provider)

# Generated once and kept in the state: the apps and Redis share them through the Secret.
redis_password = random.RandomPassword("redis-password", length=32, special=False)
nextauth_secret = random.RandomPassword("nextauth-secret", length=48, special=False)

platform = AppNamespace(
    "ai-qtrd",
    AppNamespaceArgs(
        name=settings.namespace,
        secret_data=appenv.secret_data(settings, secrets, redis_password.result, nextauth_secret.result),
        config_data=appenv.config_data(settings),
    ),
    opts=k3s,
)

REDIS_SERVICE, REDIS_PORT = "redis-service", 6379
redis_fqdn = f"{REDIS_SERVICE}.{settings.namespace}.svc.cluster.local"

backend = BackendService(
    "api",
    BackendServiceArgs(
        namespace=platform.namespace,
        settings=settings.api,
        node=settings.nodes.api,
        redis_host=REDIS_SERVICE,
        redis_port=REDIS_PORT,
        secret_name=platform.secret_name,
        config_map_name=platform.config_map_name,
        config_checksum=platform.config_checksum,
    ),
    opts=k3s,
)

frontend = FrontendService(
    "web",
    FrontendServiceArgs(
        namespace=platform.namespace,
        settings=settings.web,
        node=settings.nodes.web,
        redis_host=redis_fqdn,
        redis_port=REDIS_PORT,
        backend_url=backend.url,
        secret_name=platform.secret_name,
        config_map_name=platform.config_map_name,
        config_checksum=platform.config_checksum,
    ),
    opts=k3s,
)


def _fqdn(service: pulumi.Output[str], port: int) -> pulumi.Output[str]:
    return pulumi.Output.concat(service, ".", platform.namespace, ".svc.cluster.local:", str(port))


pulumi.export("namespace", platform.namespace)
pulumi.export("url", appenv.public_url(settings))
pulumi.export("webService", _fqdn(frontend.service_name, frontend.port))
pulumi.export("apiService", _fqdn(backend.service_name, backend.port))
