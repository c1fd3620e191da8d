"""What the Redis pods run: redis.conf, haproxy.cfg, the start-up script, env and probe commands.

Pure functions of the typed settings, kept apart from the component so the real-process tests
can see exactly what the cluster gets. Addresses, ports and paths are module constants, so a
test can rewrite them (and only them) to loopback ports and temp dirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pulumi

from . import config
from .workload import Json, env_field, env_secret, env_value

NAME = "redis"
HEADLESS = "redis-headless"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
#: HAProxy listens here for ``redis-service`` (master), ``redis-replicas`` and its own probes.
PROXY_MASTER_PORT = 6379
PROXY_REPLICAS_PORT = 6380
PROXY_HEALTH_PORT = 8404
PROXY_HEALTH_PATH = "/healthz"

#: Where the ConfigMaps are mounted; RUN_DIR is the emptyDir that holds the runtime config.
CONFIG_DIR = "/etc/redis"
RUN_DIR = "/run/redis"
DATA_DIR = "/data"
PROXY_CONFIG_DIR = "/usr/local/etc/haproxy"
SCRIPT = f"{CONFIG_DIR}/redis.sh"
SCRIPT_TEXT = (Path(__file__).parent / "redis_files" / "redis.sh").read_text()
#: Mode of the ConfigMap's files: Sentinel runs redis.sh itself (its notification script).
SCRIPT_MODE = 0o555

#: Secret key of the password in ``ai-qtrd-secrets`` (the apps read the same key).
PASSWORD_KEY = "REDIS_PASSWORD"
#: Redis's default (5 s) holds every full resync back, hoping more replicas arrive to share one
#: transfer. Measured (docs/redis.md): a restarted pod always resyncs in full (its AOF carries no
#: replication offset) and alone, so the 5 s only delayed its master link; with Sentinel's
#: discovery gating readiness the roll is no shorter either way, but a second, unplanned
#: failover waits 5 s more per replica. A cold start of all pods does two transfers instead of one.
REPL_DISKLESS_SYNC_DELAY_SECONDS = 0
#: The Redis user HAProxy checks as: no password, PING and INFO only. A rotation of the password
#: can then never fail the checks, and the proxy needs no secret.
HEALTHCHECK_USER = "healthcheck"
#: Clients connect rarely and keep connections open (pools, pub/sub); HAProxy must not cut them.
PROXY_IDLE_TIMEOUT = "1h"


def pod_host(ordinal: int, namespace: str) -> str:
    """The stable DNS name of one pod (``redis-0.redis-headless.ai-qtrd.svc.cluster.local``)."""
    return f"{NAME}-{ordinal}.{HEADLESS}.{namespace}.svc.cluster.local"


def redis_conf(settings: config.Redis) -> str:
    """The static part of redis.conf (spec 3.3); identity, role and password are added at start."""
    persistence = settings.persistence
    lines = [
        "# Rendered from the gushen:redis stack config; redis.sh includes it from the runtime config.",
        "bind * -::*",
        f"dir {DATA_DIR}",
        *(f"save {point}" for point in persistence.save),
        *([] if persistence.save else ['save ""']),
        f"appendonly {'yes' if persistence.appendonly else 'no'}",
        f"appendfsync {persistence.appendfsync}",
        f"maxmemory {settings.maxmemory}",
        f"maxmemory-policy {settings.maxmemory_policy}",
        # A master cut off from its replicas (e.g. an old master back before the Sentinels demote
        # it) refuses writes instead of accepting ones the new master will never see.
        f"min-replicas-to-write {settings.min_replicas_to_write}",
        f"min-replicas-max-lag {settings.min_replicas_max_lag}",
        f"repl-diskless-sync-delay {REPL_DISKLESS_SYNC_DELAY_SECONDS}",
        # HAProxy's check; redis.sh adds the default user (the password) at start.
        f"user {HEALTHCHECK_USER} on nopass -@all +ping +info",
    ]
    return "\n".join(lines) + "\n"


def _tcp_check(expects: Sequence[str]) -> list[str]:
    """AUTH as the check user, then INFO replication must contain every expected line.

    QUIT goes right behind INFO: Redis closes the connection after the reply, so a reply without
    the line fails the check at once instead of after the check timeout.
    """
    return [
        "option tcp-check",
        "tcp-check connect",
        # The user has no password: any one is accepted, AUTH wants one.
        f'tcp-check send "AUTH {HEALTHCHECK_USER} -\\r\\n"',
        "tcp-check expect string +OK",
        'tcp-check send "INFO replication\\r\\nQUIT\\r\\n"',
        *(f"tcp-check expect string {line}" for line in expects),
    ]


def haproxy_cfg(namespace: str, replicas: int) -> str:
    """HAProxy: port 6379 to whichever pod says ``role:master``, 6380 to in-sync replicas."""
    servers = [
        # init-addr none: start even while a pod (and its DNS name) does not exist yet.
        f"server {NAME}-{i} {pod_host(i, namespace)}:{REDIS_PORT} check resolvers cluster init-addr none"
        for i in range(replicas)
    ]
    sections = {
        "global": ["log stdout format raw local0 notice", "maxconn 4096"],
        "defaults": [
            "mode tcp",
            "log global",
            "timeout connect 3s",
            f"timeout client {PROXY_IDLE_TIMEOUT}",
            f"timeout server {PROXY_IDLE_TIMEOUT}",
            "timeout check 2s",
            # Check every second; a demoted master loses its clients at once, so they reconnect
            # to the new one instead of getting READONLY on the old connection.
            "default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
        ],
        # Pod IPs change on every restart: resolve the stable names at run time.
        "resolvers cluster": [
            "parse-resolv-conf",
            "resolve_retries 3",
            "timeout resolve 1s",
            "timeout retry 1s",
            "hold valid 5s",
            "hold obsolete 10s",
        ],
        "frontend redis-master": [f"bind :{PROXY_MASTER_PORT}", "default_backend redis-master"],
        "frontend redis-replicas": [f"bind :{PROXY_REPLICAS_PORT}", "default_backend redis-replicas"],
        "frontend health": ["mode http", f"bind :{PROXY_HEALTH_PORT}", f"monitor-uri {PROXY_HEALTH_PATH}"],
        "backend redis-master": [*_tcp_check(["role:master"]), *servers],
        "backend redis-replicas": [
            "balance leastconn",
            *_tcp_check(["role:slave", "master_link_status:up"]),
            *servers,
        ],
    }
    out = ["# Rendered by gushen_infra/redis_conf.py."]
    for header, lines in sections.items():
        out += [header, *(f"  {line}" for line in lines), ""]
    return "\n".join(out)


def redis_env(
    settings: config.Redis, namespace: pulumi.Input[str], secret_name: pulumi.Input[str]
) -> list[Json]:
    """The env of both containers of a Redis pod (what redis.sh reads)."""
    sentinel = settings.sentinel

    def hosts(ns: str) -> dict[str, str]:
        sentinels = " ".join(f"{pod_host(i, ns)}:{SENTINEL_PORT}" for i in range(settings.replicas))
        return {
            "MY_HOST": f"$(POD_NAME).{HEADLESS}.{ns}.svc.cluster.local",
            "SEED_MASTER": f"{pod_host(0, ns)}:{REDIS_PORT}",
            "SENTINELS": sentinels if sentinel.enabled else "",
        }

    named = pulumi.Output.from_input(namespace).apply(hosts)
    return [
        env_field("POD_NAME", "metadata.name"),
        env_value("MY_HOST", named.apply(lambda h: h["MY_HOST"])),
        env_value("REDIS_PORT", str(REDIS_PORT)),
        env_value("SENTINEL_PORT", str(SENTINEL_PORT)),
        env_value("SEED_MASTER", named.apply(lambda h: h["SEED_MASTER"])),
        env_value("SENTINELS", named.apply(lambda h: h["SENTINELS"])),
        env_value("SENTINEL_MASTER", sentinel.monitor_name),
        env_value("SENTINEL_QUORUM", str(sentinel.quorum)),
        env_value("SENTINEL_DOWN_AFTER_MS", str(sentinel.down_after_milliseconds)),
        env_value("SENTINEL_FAILOVER_TIMEOUT_MS", str(sentinel.failover_timeout_milliseconds)),
        env_secret("REDIS_PASSWORD", secret_name, PASSWORD_KEY),
        # redis-cli reads the password from here: never on a command line, never in a probe.
        env_secret("REDISCLI_AUTH", secret_name, PASSWORD_KEY),
    ]


def _sh(script: str) -> list[str]:
    return ["sh", "-c", script]


#: A replica loading its dataset answers LOADING: it is alive, just not ready.
LIVENESS = _sh('case "$(redis-cli -p "$REDIS_PORT" PING)" in PONG|LOADING*) exit 0;; esac; exit 1')
#: PONG; a replica must be in sync and known to the Sentinels (redis.sh ``ready``): a rolling
#: update then waits for the resync and for Sentinel's discovery of the replica.
READINESS = ["sh", SCRIPT, "ready"]
SENTINEL_PROBE = _sh('[ "$(redis-cli -p "$SENTINEL_PORT" PING)" = PONG ]')

