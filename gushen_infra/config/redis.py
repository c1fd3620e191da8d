"""The replicated Redis StatefulSet, its Sentinels and its HAProxy tier."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .. import quantity
from .values import Bool, Bytes, DnsLabel, Image, ProbeTiming, Replicas, Resources, _Model

#: Redis memory sizes: ``1536mb`` (1mb = 1024*1024 bytes), ``2gb``, ``500m`` (1m = 10^6 bytes).
_REDIS_BYTES = re.compile(r"^(?P<num>[0-9]+)(?P<unit>k|kb|m|mb|g|gb)?$", re.IGNORECASE)
_REDIS_UNITS = {None: 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}


def redis_bytes(value: str) -> int:
    match = _REDIS_BYTES.match(value)
    if not match:
        raise ValueError("invalid Redis memory size (want e.g. 1536mb or 2gb)")
    return int(match["num"]) * _REDIS_UNITS[(match["unit"] or "").lower() or None]


def _redis_memory(value: str) -> str:
    redis_bytes(value)
    return value


class RedisStorage(_Model):
    """The PVC template of each Redis pod (``/data``)."""

    storage_class: DnsLabel
    size: Bytes
    claim_name: DnsLabel = "redis-data"
    """The volume claim template's name (PVCs ``<claimName>-redis-N``); it must be the running
    cluster's, or the pods lose their volumes. The spec names none: the default is the most likely
    one; read the real one with ``kubectl -n ai-qtrd get statefulset redis -o
    jsonpath='{.spec.volumeClaimTemplates[*].metadata.name}'`` (docs/adoption.md)."""


class RedisPersistence(_Model):
    """RDB save points and AOF settings (spec 3.3)."""

    save: list[Annotated[str, Field(pattern=r"^[0-9]+ [0-9]+$")]]
    """``"<seconds> <changes>"`` pairs; an empty list disables RDB snapshots."""
    appendonly: Bool
    appendfsync: Literal["always", "everysec", "no"]


class RedisProbes(_Model):
    liveness: ProbeTiming
    readiness: ProbeTiming


class RedisSentinel(_Model):
    """Sentinel sidecars that promote a replica when the master dies."""

    enabled: Bool
    monitor_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = "gushen"
    quorum: Annotated[int, Field(ge=1)] = 2
    down_after_milliseconds: Annotated[int, Field(ge=1000)]
    failover_timeout_milliseconds: Annotated[int, Field(ge=1000)]
    resources: Resources


class RedisProxy(_Model):
    """The HAProxy tier behind ``redis-service`` (master) and ``redis-replicas``."""

    image: Image
    replicas: Replicas
    resources: Resources


class Redis(_Model):
    """The replicated Redis StatefulSet ``redis`` (spec 3.3, 5, 9)."""

    image: Image
    replicas: Replicas
    resources: Resources
    storage: RedisStorage
    maxmemory: Annotated[str, AfterValidator(_redis_memory)]
    maxmemory_policy: Literal[
        "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu",
        "volatile-random", "allkeys-random", "volatile-ttl", "noeviction",
    ]
    persistence: RedisPersistence
    min_replicas_to_write: Annotated[int, Field(ge=0)] = 1
    """A master with fewer in-sync replicas refuses writes, so a stale master cannot take any."""
    min_replicas_max_lag: Annotated[int, Field(ge=1)] = 10
    probes: RedisProbes = RedisProbes(
        liveness=ProbeTiming(initial_delay_seconds=30, period_seconds=10, timeout_seconds=5, failure_threshold=3),
        readiness=ProbeTiming(initial_delay_seconds=5, period_seconds=5, timeout_seconds=3, failure_threshold=3),
    )
    sentinel: RedisSentinel
    proxy: RedisProxy
    protect: Bool

    def problems(self, key: str) -> list[str]:
        out = self.resources.problems(f"{key}.resources")
        out += self.sentinel.resources.problems(f"{key}.sentinel.resources")
        out += self.proxy.resources.problems(f"{key}.proxy.resources")
        limit = quantity.parse(self.resources.limits.memory)
        if redis_bytes(self.maxmemory) >= limit:
            out.append(
                f"{key}.maxmemory: {self.maxmemory!r} is not below the memory limit "
                f"{self.resources.limits.memory!r} (the kernel would kill Redis before it evicts)"
            )
        if self.min_replicas_to_write >= self.replicas:
            out.append(
                f"{key}.minReplicasToWrite: {self.min_replicas_to_write!r} needs more than "
                f"{self.replicas - 1} replica(s) (replicas: {self.replicas}), so the master could never write"
            )
        if self.sentinel.enabled and self.replicas < 3:
            out.append(f"{key}.replicas: Sentinel needs at least 3 pods for a majority (got {self.replicas!r})")
        majority = self.replicas // 2 + 1
        if self.sentinel.enabled and not majority <= self.sentinel.quorum <= self.replicas:
            out.append(
                f"{key}.sentinel.quorum: want a majority of the {self.replicas} Sentinels "
                f"({majority}..{self.replicas}), got {self.sentinel.quorum!r}"
            )
        return out
