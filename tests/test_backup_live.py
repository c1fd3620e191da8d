"""The rendered Redis backup and restore, run on real redis-server, Sentinel and HAProxy processes.

The StatefulSet comes from tests/redis_harness.py (the rendered redis.conf and redis.sh on
loopback ports); the backup job and the restore are the scripts of ConfigMap backup-scripts with
the env of the rendered CronJob and restore pod (only host, port and directories rewritten).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis as redis_py

from gushen_infra import backup

from .backup_harness import Runner, backups, cronjob_container, restore_command, restore_container, stamp_time
from .conftest import Stack, require_binary
from .redis_harness import LOOPBACK, PASSWORD, Cluster, Rendered, free_port, wait_for

SECRETS = {"REDIS_PASSWORD": PASSWORD}
KEEP = 48


@pytest.fixture
def cluster(prod: Stack, tmp_path: Path) -> Iterator[Cluster]:
    require_binary("redis-server")
    require_binary("redis-check-rdb")
    c = Cluster(Rendered.of(prod), tmp_path / "redis")
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def runner(prod: Stack, tmp_path: Path) -> Runner:
    return Runner(prod, tmp_path)


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    path = tmp_path / "backups"
    path.mkdir()
    return path


def run_backup(prod: Stack, runner: Runner, port: int, backup_dir: Path) -> subprocess.CompletedProcess:
    host = prod.exports["redisReplicas"].rsplit(":", 1)[0]
    rewrite = {host: LOOPBACK, "6379": str(port), backup.BACKUP_DIR: str(backup_dir)}
    return runner.run(cronjob_container(prod, backup.REDIS_JOB), rewrite, SECRETS)


def stats(cluster: Cluster, i: int) -> tuple[int, int]:
    info = cluster.node(i).info("stats")
    return info["sync_full"], info["total_forks"]


@contextmanager
def loaded(path: Path, appendonly: str = "no") -> Iterator[redis_py.Redis]:
    """A throwaway redis-server that loads ``path`` (an RDB, or a data dir with its AOF)."""
    data_dir, name = (path, "dump.rdb") if path.is_dir() else (path.parent, path.name)
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", LOOPBACK, "--port", str(port), "--dir", str(data_dir), "--dbfilename", name,
         "--appendonly", appendonly, "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        client = redis_py.Redis(LOOPBACK, port, socket_timeout=5)
        wait_for(f"redis-server loading {path}", lambda: client.ping())
        yield client
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def seed_old_backups(directory: Path, count: int) -> list[str]:
    """``count`` hourly dumps from 2020, plus files the retention must leave alone."""
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    names = [f"redis-{(start + dt.timedelta(hours=i)):%Y%m%dT%H%M%SZ}.rdb" for i in range(count)]
    for name in names:
        (directory / name).write_bytes(b"REDIS0010 an older dump")
    for other in ("notes.txt", "redis-before-upgrade.rdb", "postgres-20200101T000000Z.dump"):
        (directory / other).write_text("not a dated Redis backup")
    (directory / ".redis-20200101T000000Z.rdb.partial").write_text("left by a killed run")
    return names


def fill(client: redis_py.Redis, prefix: str, count: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"{prefix}:{i}", f"{prefix}-value-{i}")
    pipe.execute()


def test_backup_pulls_a_dated_rdb_from_a_replica_and_keeps_the_newest(prod, cluster, runner, backup_dir):
    require_binary("haproxy")
    cluster.start_all(sentinels=False)
    cluster.wait_replicated(0)
    cluster.start_proxy()
    wait_for("HAProxy's replicas frontend", lambda: cluster.served_by(cluster.through_proxy("replicas")) in (1, 2))
    fill(cluster.node(0), "k", 1000)
    assert cluster.node(0).execute_command("WAIT", 2, 5000) == 2
    seeded = seed_old_backups(backup_dir, 50)
    before = {i: stats(cluster, i) for i in range(3)}

    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    result = run_backup(prod, runner, cluster.proxy_ports["replicas"], backup_dir)  # the redis-replicas Service
    finished = dt.datetime.now(dt.timezone.utc)
    assert result.returncode == 0, result.stderr

    after = {i: stats(cluster, i) for i in range(3)}
    assert after[0] == before[0], "the master served no sync and forked no child for the backup"
    served = [i for i in (1, 2) if after[i][0] == before[i][0] + 1]
    assert len(served) == 1 and after[served[0]][1] > before[served[0]][1], "one replica forked and sent the RDB"

    kept = backups(backup_dir, "redis")
    new = [name for name in kept if name not in seeded]
    assert len(new) == 1 and started <= stamp_time(new[0]) <= finished, "named by the UTC time of the run"
    assert kept == seeded[-(KEEP - 1):] + new, "exactly the newest 48 remain"
    assert (backup_dir / new[0]).read_bytes()[:5] == b"REDIS"
    for other in ("notes.txt", "redis-before-upgrade.rdb", "postgres-20200101T000000Z.dump"):
        assert (backup_dir / other).exists(), f"{other} is not the job's to prune"
    assert not list(backup_dir.glob(".*.partial")), "a killed run's leftover is cleaned up"
    with loaded(backup_dir / new[0]) as restored:
        assert restored.dbsize() == 1000 and restored.get("k:999") == b"k-value-999"


def test_a_failed_pull_keeps_nothing_and_prunes_nothing(prod, cluster, runner, backup_dir):
    cluster.start_all(sentinels=False)
    cluster.wait_replicated(0)
    seeded = seed_old_backups(backup_dir, KEEP + 2)
    cluster.kill(0)  # the replica loses its master and refuses to serve a sync (NOMASTERLINK)
    wait_for("redis-1's master link down", lambda: cluster.replication(1)["master_link_status"] == "down")

    result = run_backup(prod, runner, cluster.nodes[1].port, backup_dir)
    assert result.returncode != 0 and "no good RDB" in result.stderr, result.stderr
    assert backups(backup_dir, "redis") == seeded, "without a good new backup the old ones all stay"
    assert [p.name for p in backup_dir.glob(".*.partial")] == [], "no partial file is left behind"


def scale_to_zero(cluster: Cluster) -> None:
    """What `kubectl scale statefulset redis --replicas=0` does: SIGTERM to Redis, and the pods
    (with their emptyDir, where Sentinel keeps its state) are gone."""
    for node in cluster.nodes:
        if node.server is not None and node.server.poll() is None:
            cluster.kill(node.ordinal, signal.SIGTERM)
        if node.sentinel is not None and node.sentinel.poll() is None:
            os.killpg(node.sentinel.pid, signal.SIGKILL)
            node.sentinel.wait(timeout=10)
        for leftover in node.run_dir.iterdir():
            leftover.unlink()


def holds_backup_state(client: redis_py.Redis) -> bool:
    """The data of the backup: k:0..499, none of the later writes, and no key lost since."""
    return client.dbsize() == 500 and client.get("k:0") == b"k-value-0" and client.get("late:0") is None


def test_restore_brings_the_backup_back_where_a_naive_copy_does_not(prod, cluster, runner, backup_dir):
    # Sentinel only matters for the cold start after the restore; without it the steps before are quicker.
    cluster.start_all(sentinels=False)
    cluster.wait_replicated(0)
    master = cluster.node(0)
    fill(master, "k", 500)
    assert master.execute_command("WAIT", 2, 5000) == 2
    result = run_backup(prod, runner, cluster.nodes[1].port, backup_dir)
    assert result.returncode == 0, result.stderr
    (dump,) = backups(backup_dir, "redis")

    # The incident: later writes, and keys deleted by mistake.
    fill(master, "late", 200)
    master.delete(*[f"k:{i}" for i in range(100)])
    assert master.execute_command("WAIT", 2, 5000) == 2

    # Spec 5.2's procedure: copy the dump over dump.rdb and restart. Redis loads the AOF instead.
    scale_to_zero(cluster)
    shutil.copy(backup_dir / dump, cluster.nodes[0].data_dir / "dump.rdb")
    cluster.start_all(sentinels=False)
    cluster.wait_replicated(0)
    assert cluster.node(0).get("late:0") is not None and cluster.node(0).get("k:0") is None
    assert not holds_backup_state(cluster.node(0)), "the naive copy restored nothing"

    # The procedure (docs/backups.md, "Restore Redis"): scale to 0, run the restore in the restore pod, scale up.
    scale_to_zero(cluster)
    container = restore_container(prod, backup.REDIS_RESTORE_POD)
    rewrite = {"/data": str(cluster.nodes[0].data_dir), backup.BACKUP_DIR: str(backup_dir), "6379": str(free_port())}
    result = runner.run(container, rewrite, SECRETS, restore_command("restore-redis.sh", "latest"))
    assert result.returncode == 0, result.stderr
    assert "restored 500 keys" in result.stderr
    aside = [p for p in cluster.nodes[0].data_dir.iterdir() if p.name.startswith("pre-restore-")]
    assert len(aside) == 1 and (aside[0] / "appendonlydir").is_dir(), "the replaced data is kept to undo"

    cluster.start_all()  # a cold start: Sentinel remembers nothing, redis-0 is the master
    cluster.wait_settled(0)
    for i in range(3):
        assert holds_backup_state(cluster.node(i)), f"redis-{i} holds the backup's data"
    # It is in redis-0's AOF now: a restart (what the StatefulSet does) loads it again.
    scale_to_zero(cluster)
    with loaded(cluster.nodes[0].data_dir, appendonly="yes") as again:
        assert holds_backup_state(again)


def test_restore_refuses_a_bad_dump_and_changes_nothing(prod, cluster, runner, backup_dir):
    data = cluster.nodes[0].data_dir
    (data / "appendonlydir").mkdir()
    (data / "appendonlydir" / "appendonly.aof.1.incr.aof").write_text("*1\r\n$4\r\nPING\r\n")
    (data / "dump.rdb").write_bytes(b"REDIS0010 the live data")
    (backup_dir / "redis-20260101T000000Z.rdb").write_bytes(b"REDIS0010" + os.urandom(64))
    before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))

    container = restore_container(prod, backup.REDIS_RESTORE_POD)
    rewrite = {"/data": str(data), backup.BACKUP_DIR: str(backup_dir), "6379": str(free_port())}
    result = runner.run(container, rewrite, SECRETS, restore_command("restore-redis.sh", "latest"))
    assert result.returncode != 0 and "not a good RDB; nothing changed" in result.stderr, result.stderr
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == before
    assert (data / "dump.rdb").read_bytes() == b"REDIS0010 the live data"
