"""What RedisCluster renders, run on real redis-server, Sentinel and HAProxy processes on loopback.

Debian's redis-server 7.0 stands in for the image's 7.2 (redis.conf and sentinel.conf use no
7.2-only directive); `redis-server --sentinel` is Sentinel. The prod failover timeouts are used
as rendered, so the measured failover time is the one the cluster gets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from .conftest import require_binary, run_stack
from .redis_harness import PASSWORD, Cluster, Rendered, wait_for
from .test_config import prod_raw

#: What the issue requires: writes accepted again within 30 s of the master's death.
FAILOVER_BUDGET_SECONDS = 30.0


@pytest.fixture(scope="module")
def rendered(prod) -> Rendered:
    return Rendered.of(prod)


@pytest.fixture(scope="module")
def without_sentinel() -> Rendered:
    """Prod with Sentinel off: ordinal 0 is always the master."""
    raw = prod_raw()["redis"]
    return Rendered.of(run_stack("prod", {"redis": {**raw, "sentinel": {**raw["sentinel"], "enabled": False}}}))


@contextlib.contextmanager
def running(rendered: Rendered, root: Path) -> Iterator[Cluster]:
    """A cluster that is torn down afterwards; redis-cli never saw the password on its command line."""
    require_binary("redis-server")
    c = Cluster(rendered, root)
    try:
        yield c
    finally:
        c.close()
    calls = c.cli_calls()
    assert not [argv for argv in calls if PASSWORD in " ".join(argv) or "-a" in argv], "password on a redis-cli command line"


@pytest.fixture
def cluster(rendered: Rendered, tmp_path: Path) -> Iterator[Cluster]:
    with running(rendered, tmp_path) as c:
        yield c


@pytest.fixture
def proxied(cluster: Cluster) -> Cluster:
    """All three pods with their Sentinels, settled on redis-0, and HAProxy in front."""
    require_binary("haproxy")
    cluster.start_all()
    cluster.wait_settled(0)
    cluster.start_proxy()
    wait_for("HAProxy routing to redis-0", lambda: cluster.served_by(cluster.through_proxy()) == 0)
    return cluster


class Writer(threading.Thread):
    """Writes through HAProxy (what `redis-service` gives the apps); a write counts as
    acknowledged once ``WAIT 1`` confirms a replica has it."""

    @classmethod
    def running(cls, cluster: Cluster) -> "Writer":
        """A started writer that already has acknowledged writes, so a failure has data to lose."""
        writer = cls(cluster)
        writer.start()
        wait_for("acknowledged writes", lambda: len(writer.acked) >= 50)
        return writer

    def __init__(self, cluster: Cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.acked: list[tuple[str, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        client, n = None, 0
        while not self.stopping.is_set():
            try:
                client = client or self.cluster.client(self.cluster.proxy_ports["master"])
                key = f"w:{n}"
                n += 1
                client.set(key, key)
                if client.execute_command("WAIT", 1, 1000) >= 1:
                    self.acked.append((key, time.monotonic()))
            except (redis_py.RedisError, OSError):
                client = None
                time.sleep(0.05)

    def acked_after(self, moment: float) -> float | None:
        return next((t for _, t in self.acked if t > moment), None)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def lost_on(self, client: redis_py.Redis) -> list[str]:
        keys = [k for k, _ in self.acked]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.exists(key)
        return [k for k, present in zip(keys, pipe.execute()) if not present]


def new_master(cluster: Cluster, old: int) -> int:
    def other() -> int | None:
        found = cluster.masters()
        return found[0] + 1 if found and found != [old] and len(found) == 1 else None
    return wait_for(f"a single master other than redis-{old}", other, 40) - 1


def loading(cluster: Cluster, i: int) -> bool:
    """The server answers LOADING (asked with redis-cli: redis-py's handshake fails on it)."""
    env = {"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD}
    ping = subprocess.run(["redis-cli", "-p", str(cluster.nodes[i].port), "PING"], env=env,
                          capture_output=True, text=True, timeout=10)
    return ping.stdout.startswith("LOADING")


def test_master_and_two_replicas_replicate_and_replicas_refuse_writes(cluster):
    cluster.start_all()  # all pods at once, as podManagementPolicy: Parallel does
    cluster.wait_settled(0)
    assert cluster.masters() == [0], "a cold start elects exactly one master, redis-0"
    master = cluster.node(0)
    for i in range(100):
        master.set(f"k{i}", i)
    assert master.execute_command("WAIT", 2, 5000) == 2
    for replica in (1, 2):
        assert cluster.node(replica).get("k99") == b"99"
        with pytest.raises(redis_py.ReadOnlyError):
            cluster.node(replica).set("k", "v")


def test_probes_pass_with_the_password_only_in_the_environment(cluster, rendered):
    cluster.start_all()
    cluster.wait_settled(0)
    for container in (rendered.redis, rendered.sentinel):
        for probe in ("livenessProbe", "readinessProbe"):
            assert PASSWORD not in repr(container[probe])
            for node in cluster.nodes:
                ok = cluster.run_probe(node.ordinal, container, probe)
                assert ok.returncode == 0, (container["name"], probe, ok)
                wrong = cluster.run_probe(node.ordinal, container, probe, password="wrong")
                assert wrong.returncode != 0, f"{container['name']} {probe} passes without the password"
    for node in cluster.nodes:
        for proc in (node.server, node.sentinel):
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            assert PASSWORD.encode() not in cmdline and b"redis-server" in cmdline
        for conf in ("redis.conf", "sentinel.conf"):
            assert stat.S_IMODE((node.run_dir / conf).stat().st_mode) == 0o600


def test_restart_from_the_aof_keeps_the_data_and_liveness_accepts_loading(without_sentinel, tmp_path):
    with running(without_sentinel, tmp_path) as cluster:
        restart_from_the_aof(cluster, without_sentinel)


def restart_from_the_aof(cluster: Cluster, rendered: Rendered) -> None:
    cluster.start_server(0)
    cluster.start_server(1)  # the master writes only with an in-sync replica (min-replicas-to-write 1)
    cluster.wait_replicated(0)
    master = cluster.node(0)
    pipe = master.pipeline(transaction=False)
    for i in range(20_000):
        pipe.set(f"aof:{i}", f"{i:0200d}")
    pipe.execute()
    # Move the data into the AOF's base file so that loading it takes a while (see below).
    master.bgrewriteaof()
    wait_for("the AOF rewrite", lambda: master.info("persistence")["aof_rewrite_in_progress"] == 0
             and master.info("persistence")["aof_rewrite_scheduled"] == 0)
    master.set("aof:last", "after-rewrite")
    time.sleep(1.5)  # appendfsync everysec: give the incr file its fsync before the crash
    cluster.kill(0)
    for rdb in cluster.nodes[0].data_dir.glob("*.rdb"):
        rdb.unlink()  # prove the data comes from the AOF, not from a snapshot
    # Test-only debug settings: a slow load (250 us per key, ~5 s) that answers clients often,
    # so the probes can be run while Redis is loading.
    with (cluster.nodes[0].conf_dir / "redis.conf").open("a") as conf:
        conf.write("key-load-delay 250\nloading-process-events-interval-bytes 1024\n")
    cluster.start_server(0)
    wait_for("redis-0 loading its dataset", lambda: loading(cluster, 0), 10, 0.02)
    assert cluster.run_probe(0, rendered.redis, "livenessProbe").returncode == 0, "LOADING counts as alive"
    assert cluster.run_probe(0, rendered.redis, "readinessProbe").returncode != 0, "LOADING is not ready"
    wait_for("redis-0 loaded", lambda: cluster.node(0).ping(), 60)
    restarted = cluster.node(0)
    assert restarted.dbsize() == 20_001
    assert restarted.get("aof:19999") == f"{19999:0200d}".encode() and restarted.get("aof:last") == b"after-rewrite"
    assert cluster.run_probe(0, rendered.redis, "readinessProbe").returncode == 0


def test_sentinel_failover_through_haproxy_loses_no_acknowledged_write(proxied, capsys):
    cluster = proxied
    writer = Writer.running(cluster)
    killed_at = time.monotonic()
    cluster.kill(0)
    recovered_at = wait_for("a write acknowledged after the master's death",
                            lambda: writer.acked_after(killed_at), 60)
    wait_for("more writes", lambda: writer.acked[-1][1] > recovered_at + 1)
    writer.stop()
    failover = recovered_at - killed_at
    promoted = cluster.served_by(cluster.through_proxy())
    assert promoted in (1, 2)
    lost = writer.lost_on(cluster.node(promoted))
    with capsys.disabled():
        print(f"\n[redis failover] master SIGKILLed -> writes acknowledged again through HAProxy after "
              f"{failover:.2f}s; acknowledged writes: {len(writer.acked)}, lost: {len(lost)}")
    assert lost == []
    assert failover < FAILOVER_BUDGET_SECONDS

    # The old master, restarted by its startup script, rejoins as a replica of the new one.
    cluster.start_server(0)
    wait_for("redis-0 in sync with the new master", lambda: cluster.replica_in_sync(0, promoted), 30)
    assert cluster.node(0).get(writer.acked[-1][0]) is not None
    assert cluster.masters() == [promoted]
    for _ in range(5):  # every new connection through redis-service reaches the one master
        assert cluster.served_by(cluster.through_proxy()) == promoted
    cluster.wait_settled(promoted)
    replica = wait_for("HAProxy's replicas frontend", lambda: cluster.served_by(cluster.through_proxy("replicas")) + 1)
    assert replica - 1 != promoted
    with pytest.raises(redis_py.ReadOnlyError):
        cluster.through_proxy("replicas").set("k", "v")


def test_a_master_that_restarts_at_once_waits_for_the_failover(proxied):
    """A crash the kubelet restarts within seconds: the Sentinels still name the old master, so it
    waits for them to promote the replica with the acknowledged writes, and rejoins as its replica."""
    cluster = proxied
    writer = Writer.running(cluster)
    killed_at = time.monotonic()
    cluster.kill(0)
    cluster.start_server(0)
    promoted = new_master(cluster, 0)
    recovered_at = wait_for("writes after the failover", lambda: writer.acked_after(killed_at), 60)
    wait_for("redis-0 in sync with the new master", lambda: cluster.replica_in_sync(0, promoted), 60)
    writer.stop()
    assert recovered_at - killed_at < FAILOVER_BUDGET_SECONDS
    assert writer.lost_on(cluster.node(promoted)) == []
    log = (cluster.nodes[0].root / "server.log").read_text()
    assert "waiting for a failover" in log and "starting as master" not in log.split("waiting for a failover")[-1]


def test_pre_stop_hands_the_master_role_over(proxied, rendered, capsys):
    cluster = proxied
    writer = Writer.running(cluster)
    node = cluster.nodes[0]
    started = time.monotonic()
    hook = rendered.redis["lifecycle"]["preStop"]["exec"]["command"]
    done = subprocess.run(cluster.command(node, hook), env=cluster.env(node, rendered.redis),
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0, done
    assert cluster.role(0) == "slave", "redis-0 demoted itself before SIGTERM"
    promoted = cluster.replication(0)["master_port"]
    cluster.kill(0, signal.SIGTERM)  # what the kubelet does after the hook
    stopped = time.monotonic()
    wait_for("writes after the hand-over", lambda: writer.acked_after(stopped), 30)
    writer.stop()
    gaps = [b - a for (_, a), (_, b) in zip(writer.acked, writer.acked[1:])]
    ordinal = next(n.ordinal for n in cluster.nodes if n.port == promoted)
    lost = writer.lost_on(cluster.node(ordinal))
    with capsys.disabled():
        print(f"\n[redis pre-stop] hand-over took {took:.2f}s; longest gap between acknowledged writes "
              f"{max(gaps):.2f}s; acknowledged: {len(writer.acked)}, lost: {len(lost)}")
    assert lost == []
    assert took < int(cluster.env(node, rendered.redis)["SENTINEL_FAILOVER_TIMEOUT_MS"]) / 1000


def test_without_sentinel_ordinal_zero_is_the_master(without_sentinel, tmp_path):
    with running(without_sentinel, tmp_path) as cluster:
        cluster.start_all(sentinels=False)
        cluster.wait_replicated(0)
        assert cluster.masters() == [0]
