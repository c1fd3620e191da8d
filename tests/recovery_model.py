"""Spec 19.1's recovery objectives, computed from the rendered objects.

For each scenario the model derives, from where the render places every pod and volume (node
selectors, preferred affinity, local-path claims), the replica counts, readiness probes, the
Redis and Sentinel settings in the rendered env and config, and the backup CronJobs (schedules,
deadlines, an off-site step or not): what stops, for how long, what is lost, and where the
recovery points are. ``table`` renders it beside the spec's numbers; docs/recovery.md holds that
table and tests/test_recovery.py checks the two agree.

Inputs that are not in the render are named here, each with its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from gushen_infra import backup

from .conftest import Stack

#: Spec section 2's placement table: PostgreSQL runs on the data node (cloud-ubuntu-1-16c32g),
#: outside the cluster's objects, so the render cannot say where it is.
POSTGRES_ON_DATA_NODE = True
#: kube-controller-manager's --node-monitor-grace-period (default 40 s): a silent node is NotReady.
NODE_GRACE_SECONDS = 40
#: The DefaultTolerationSeconds admission plugin: pods tolerate an unreachable node 300 s, then go.
TOLERATION_SECONDS = 300
#: HAProxy's health check of the Redis pods (redis_conf: inter 1s fall 2).
PROXY_CHECK_SECONDS = 2
#: Spec 19.1, verbatim: scenario -> (RTO, RPO).
SPEC = {
    "pod": ("2 min", "0"),
    "node": ("5 min", "0"),
    "redis-master": ("10 min", "< 1 s (AOF)"),
    "cluster": ("1 h", "< 1 h"),
    "database": ("2 h", "< 24 h"),
}
#: What the site needs: both tiers, Redis (its pods and the proxy in front) and PostgreSQL.
ESSENTIAL = ("ai-qtrd-web", "ai-qtrd-api", "redis", "redis-proxy", "postgres")


@dataclass(frozen=True)
class Workload:
    name: str
    replicas: int
    pinned: Optional[str]
    """Node of a ``nodeSelector`` (the pods never run elsewhere)."""
    preferred: Optional[str]
    """Node of a preferred affinity (the pods move elsewhere when it is gone)."""
    ready_seconds: int
    """Readiness initialDelay + one period: the soonest a new pod serves."""
    local_volumes: bool


@dataclass(frozen=True)
class Facts:
    nodes: tuple[str, ...]
    workloads: dict[str, Workload]
    appendfsync: str
    min_replicas_max_lag: int
    down_after_seconds: float
    failover_timeout_seconds: float
    backup_node: Optional[str]
    """Where PVC ``backups`` lives (the node its users are pinned to)."""
    offsite: bool
    redis_gap: int
    redis_run: int
    postgres_gap: int
    postgres_run: int


def _pod(manifest: dict) -> dict:
    spec = manifest["spec"]
    return (spec["jobTemplate"]["spec"]["template"] if manifest["kind"] == "CronJob" else spec["template"])["spec"]


def _workload(manifest: dict, claims: dict[str, str]) -> Workload:
    pod = _pod(manifest)
    pinned = pod.get("nodeSelector", {}).get("kubernetes.io/hostname")
    preferred = None
    for term in pod.get("affinity", {}).get("nodeAffinity", {}).get("preferredDuringSchedulingIgnoredDuringExecution", []):
        (expression,) = term["preference"]["matchExpressions"]
        preferred = expression["values"][0]
    probes = [c["readinessProbe"] for c in pod["containers"] if "readinessProbe" in c]
    ready = max((p.get("initialDelaySeconds", 0) + p.get("periodSeconds", 10) for p in probes), default=0)
    templates = manifest["spec"].get("volumeClaimTemplates", [])
    local = any(t["spec"].get("storageClassName") == "local-path" for t in templates) or any(
        claims.get(v.get("persistentVolumeClaim", {}).get("claimName")) == "local-path" for v in pod.get("volumes", []))
    assert not pod.get("tolerations"), "the model assumes the default not-ready/unreachable tolerations"
    return Workload(manifest["metadata"]["name"], manifest["spec"].get("replicas", 1), pinned, preferred, ready, local)


def _env(manifest: dict, container: str) -> dict[str, str]:
    (c,) = [c for c in _pod(manifest)["containers"] + _pod(manifest).get("initContainers", []) if c["name"] == container]
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def facts(stack: Stack, nodes: tuple[str, ...]) -> Facts:
    claims = {m["metadata"]["name"]: m["spec"].get("storageClassName") for m in stack.all("PersistentVolumeClaim")}
    kinds = ("Deployment", "StatefulSet")
    workloads = {m["metadata"]["name"]: _workload(m, claims) for m in stack.manifests if m["kind"] in kinds}
    conf = stack.get("ConfigMap", "redis-config")["data"]["redis.conf"]
    setting = lambda key: re.search(rf"^{key} (\S+)$", conf, re.M)[1]  # noqa: E731
    sentinel = _env(stack.get("StatefulSet", "redis"), "redis")
    jobs = {m["metadata"]["name"]: m for m in stack.all("CronJob")}
    redis_job, pg_job = jobs.get(backup.REDIS_JOB), jobs.get(backup.POSTGRES_JOB)

    def timing(job: Optional[dict]) -> tuple[int, int]:
        if job is None:
            return 0, 0
        spec = job["spec"]
        return (backup.schedule_gap_seconds(spec["schedule"]),
                spec["startingDeadlineSeconds"] + spec["jobTemplate"]["spec"]["activeDeadlineSeconds"])

    return Facts(
        nodes=nodes,
        workloads=workloads,
        appendfsync=setting("appendfsync"),
        min_replicas_max_lag=int(setting("min-replicas-max-lag")),
        down_after_seconds=int(sentinel.get("SENTINEL_DOWN_AFTER_MS") or 0) / 1000,
        failover_timeout_seconds=int(sentinel.get("SENTINEL_FAILOVER_TIMEOUT_MS") or 0) / 1000,
        backup_node=_pod(redis_job).get("nodeSelector", {}).get("kubernetes.io/hostname") if redis_job else None,
        offsite=bool(redis_job and _pod(redis_job).get("initContainers")),
        redis_gap=timing(redis_job)[0], redis_run=timing(redis_job)[1],
        postgres_gap=timing(pg_job)[0], postgres_run=timing(pg_job)[1],
    )


@dataclass(frozen=True)
class Outcome:
    scenario: str
    spec: tuple[str, str]
    rto_seconds: Optional[float]
    """None: until a node (or the cluster) is back or rebuilt: no bound from the design."""
    rto: str
    rpo: str
    down: tuple[str, ...]
    recovery_points: str
    meets: bool
    gap: str


def _hm(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds % 60:02d} s"


def _offsite_rpo(f: Facts) -> str:
    if not f.offsite:
        return "everything since the data node's disk was lost: no copy leaves the node"
    return (f"Redis ≤ {_hm(f.redis_gap)} + a run (≤ {_hm(f.redis_gap + f.redis_run)} before BackupStale), "
            f"PostgreSQL ≤ {_hm(f.postgres_gap)} + a run")


def pod_failure(f: Facts) -> Outcome:
    single = [w for w in f.workloads.values() if w.replicas == 1]
    rto = max((w.ready_seconds for w in single), default=0)
    down = tuple(w.name for w in single)
    return Outcome(
        "Pod failure", SPEC["pod"], rto, f"≈ {rto} s + container start ({', '.join(down)} run 1 pod)" if single else "0",
        "0 (stateless tiers; Redis restarts on its own volume and AOF)", down,
        "the pod's own volume (Redis: AOF + RDB on its local-path PVC)", rto <= 120,
        "" if rto <= 120 else "a single-replica tier is down until its pod is back",
    )


def node_failure(f: Facts, node: str) -> Outcome:
    down, moved = [], []
    for w in f.workloads.values():
        if w.pinned == node:
            down.append(w.name)
        elif w.preferred == node or (w.pinned is None and w.preferred is None and w.replicas == 1):
            moved.append(w)
    if POSTGRES_ON_DATA_NODE and node == f.workloads["redis"].pinned:
        down.append("postgres")
    move_seconds = max((NODE_GRACE_SECONDS + TOLERATION_SECONDS + w.ready_seconds for w in moved), default=0)
    essential_down = [name for name in down if name in ESSENTIAL]
    holds_data = any(f.workloads[n].local_volumes for n in down if n in f.workloads) or "postgres" in down
    holds_data |= f.backup_node == node
    if essential_down:
        rto_seconds, rto = None, f"until the node is back or replaced ({', '.join(essential_down)} cannot move)"
    else:
        rto_seconds = float(move_seconds)
        rto = f"{_hm(move_seconds)} ({', '.join(w.name for w in moved)}: {NODE_GRACE_SECONDS} s to NotReady + " \
              f"{TOLERATION_SECONDS} s toleration + readiness)" if moved else "0"
    if holds_data:
        rpo = (f"0 if the disk survives (≤ 1 s of Redis writes on power loss: appendfsync {f.appendfsync}); "
               f"disk lost: {_offsite_rpo(f)}")
        points = "the node's disk; off-site restic repository" if f.offsite else "the node's disk only"
    else:
        rpo, points = "0 (no data on this node)", "-"
    meets = rto_seconds is not None and rto_seconds <= 300 and not holds_data
    gap = ""
    if rto_seconds is None:
        gap = f"{', '.join(essential_down)} pinned to {node}: an outage until it is back"
    elif rto_seconds > 300:
        gap = f"rescheduling alone takes {_hm(rto_seconds)} (> 5 min)"
    elif holds_data:
        gap = "RPO 0 only if the disk survives"
    return Outcome(f"Node failure: {node}", SPEC["node"], rto_seconds, rto, rpo, tuple(down), points, meets, gap)


def redis_master_failure(f: Facts) -> Outcome:
    typical = f.down_after_seconds + PROXY_CHECK_SECONDS
    bound = f.down_after_seconds + f.failover_timeout_seconds + PROXY_CHECK_SECONDS
    return Outcome(
        "Redis master failure", SPEC["redis-master"], bound,
        f"≈ {typical:.0f} s (down-after {f.down_after_seconds:.0f} s + election + proxy check), ≤ {bound:.0f} s",
        f"writes the new master had not received: usually ms, at most {f.min_replicas_max_lag} s "
        "(min-replicas-max-lag; replication is asynchronous)", ("redis writes",),
        "the replicas (in-sync copies); hourly RDB", bound <= 600 and f.min_replicas_max_lag < 1,
        f"< 1 s is not guaranteed: AOF protects a restart, not a failover; the bound is {f.min_replicas_max_lag} s",
    )


def cluster_loss(f: Facts) -> Outcome:
    meets_rpo = f.offsite and f.redis_gap <= 3600 and f.postgres_gap <= 3600
    gap = []
    if not f.offsite:
        gap.append("no copy leaves the cluster: the data is gone")
    elif f.postgres_gap > 3600:
        gap.append(f"PostgreSQL is dumped every {_hm(f.postgres_gap)}: RPO < 1 h needs WAL archiving or hourly dumps")
    gap.append("RTO: the data steps are drilled; K3s, image import and pulumi up are not measured")
    return Outcome(
        "Whole cluster lost", SPEC["cluster"], None,
        "new nodes + K3s + images + pulumi up + data steps (docs/recovery.md runbook)",
        _offsite_rpo(f), tuple(ESSENTIAL), "off-site restic repository" if f.offsite else "none",
        meets_rpo, "; ".join(gap),
    )


def database_corruption(f: Facts) -> Outcome:
    worst = f.postgres_gap
    return Outcome(
        "Database corruption", SPEC["database"], None,
        "pg_restore of a dump (docs/backups.md): minutes at today's size; not measured at production size",
        f"≤ {_hm(worst)} + the dump's duration", ("postgres writes",),
        "PVC backups (14 daily) and the off-site repository (14 daily)" if f.offsite else "PVC backups (14 daily)",
        worst < 24 * 3600,
        f"the worst case is {_hm(worst)} plus a dump's duration, not < 24 h: dump twice a day to be inside it"
        if worst >= 24 * 3600 else "",
    )


def model(stack: Stack, nodes: tuple[str, ...]) -> list[Outcome]:
    f = facts(stack, nodes)
    return [pod_failure(f), *(node_failure(f, n) for n in nodes), redis_master_failure(f), cluster_loss(f),
            database_corruption(f)]


def table(outcomes: list[Outcome]) -> str:
    """The Markdown table docs/recovery.md shows."""
    rows = ["| Scenario | Spec RTO | Spec RPO | Computed RTO | Computed RPO | Meets | Gap |", "|---|---|---|---|---|---|---|"]
    for o in outcomes:
        rows.append(f"| {o.scenario} | {o.spec[0]} | {o.spec[1]} | {o.rto} | {o.rpo} | {'yes' if o.meets else '**no**'} | {o.gap or '-'} |")
    return "\n".join(rows)
