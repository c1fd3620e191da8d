"""Synthetic stacks for the benchmarks: the real components, instantiated many times.

Each copy is one environment of the platform's stateless part, in its own namespace:
``AppNamespace`` (Namespace, Secret, ConfigMap) plus ``BackendService`` and
``FrontendService`` (a Deployment and a Service each), wired as ``__main__.py`` wires them.
Copies share the labels and object names of prod and differ by namespace, which is what
makes the cross-resource policies (selector and reference lookups) work for their answer.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from gushen_infra import appenv, config, render
from gushen_infra.backend import BackendService, BackendServiceArgs
from gushen_infra.frontend import FrontendService, FrontendServiceArgs
from gushen_infra.namespace import AppNamespace, AppNamespaceArgs

#: Redis is not part of a copy; the tiers point at a fixed in-namespace name.
REDIS_HOST, REDIS_PORT = "ai-qtrd-redis", 6379


@functools.lru_cache(maxsize=None)
def objects_per_copy() -> int:
    """Kubernetes objects one copy renders to with the prod settings (7 while autoscaling is off)."""
    return len(render.manifests(run(1)))


def copies_for(objects: int, per_copy: int = 0) -> int:
    """Copies that render to about ``objects`` Kubernetes objects (at least one)."""
    return max(1, round(objects / (per_copy or objects_per_copy())))


def program(copies: int) -> Callable[[], None]:
    """A Pulumi program (run it with ``render.run_program(program=...)``) of ``copies`` copies."""

    def run() -> None:
        settings, secrets = config.load()
        provider = k8s.Provider("k3s", cluster_identifier=settings.cluster_identifier)
        k3s = pulumi.ResourceOptions(provider=provider)
        redis_password = random.RandomPassword("redis-password", length=32, special=False)
        nextauth_secret = random.RandomPassword("nextauth-secret", length=48, special=False)
        secret_data = appenv.secret_data(settings, secrets, redis_password.result, nextauth_secret.result)
        for i in range(copies):
            platform = AppNamespace(
                f"ns-{i}",
                AppNamespaceArgs(
                    name=f"{settings.namespace}-{i:04d}",
                    secret_data=secret_data,
                    config_data=appenv.config_data(settings),
                ),
                opts=k3s,
            )
            shared: dict[str, Any] = dict(
                namespace=platform.namespace,
                redis_host=REDIS_HOST,
                redis_port=REDIS_PORT,
                secret_name=platform.secret_name,
                config_map_name=platform.config_map_name,
                config_checksum=platform.config_checksum,
                # No digest key here: the annotation is empty, as in a stack without one.
                secret_checksum=platform.secret_checksum(()),
            )
            backend = BackendService(
                f"api-{i}", BackendServiceArgs(settings=settings.api, node=settings.nodes.api, **shared), opts=k3s
            )
            FrontendService(
                f"web-{i}",
                FrontendServiceArgs(
                    settings=settings.web, node=settings.nodes.web, backend_url=backend.url, **shared
                ),
                opts=k3s,
            )

    return run


def run(copies: int, root: Path = render.ROOT) -> list[render.Recorded]:
    """Every registration of a ``copies``-copy stack, recorded under the mocks (prod settings)."""
    return render.run_program("prod", root, program=program(copies))


def repeat(docs: list[dict[str, Any]], objects: int) -> list[dict[str, Any]]:
    """``objects`` manifests: ``docs`` (a render) over and over, each copy under new names.

    Copy 0 is ``docs`` as they are; copy ``i`` moves every namespaced object to the namespace
    ``<namespace>-<i:04d>`` and renames every cluster-scoped one (the Namespace itself
    included) ``<name>-<i:04d>``, so no two objects share a kind, namespace and name. The
    last copy is cut short at ``objects``. This is the file ``policies.check`` and checkov are
    timed on (bench/run.py): a real render's manifests, at a size a render does not reach.
    """
    if not docs:
        raise ValueError("nothing to repeat: the render has no objects")
    out: list[dict[str, Any]] = []
    copy_number = 0
    while len(out) < objects:
        for doc in docs[: objects - len(out)]:
            doc = copy.deepcopy(doc)
            meta = doc.setdefault("metadata", {})
            if copy_number:
                if meta.get("namespace"):
                    meta["namespace"] = f"{meta['namespace']}-{copy_number:04d}"
                else:
                    meta["name"] = f"{meta['name']}-{copy_number:04d}"
            out.append(doc)
        copy_number += 1
    return out
