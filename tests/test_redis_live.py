"""What RedisCluster renders, run on real redis-server, Sentinel and HAProxy processes on loopback.

Debian's redis-server 7.0 stands in for the image's 7.2 (redis.conf and sentinel.conf use no
7.2-only directive); `redis-server --sentinel` is Sentinel. The prod failover timeouts are used
as rendered, so the measured failover time is the one the cluster gets.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from .conftest import require_binary, run_stack
from .redis_harness import PASSWORD, Cluster, Rendered, Writer, bring_up, running, wait_for
from .test_config import prod_raw
from .test_redis_roll_live import ROLL_GAP_LIMIT_SECONDS

@pytest.fixture(scope="module")
def rendered(prod) -> Rendered:
    return Rendered.of(prod)


@pytest.fixture(scope="module")
def without_sentinel() -> Rendered:
    """Prod with Sentinel off: ordinal 0 is always the master."""
    raw = prod_raw()["redis"]
    return Rendered.of(run_stack("prod", {"redis": {**raw, "sentinel": {**raw["sentinel"], "enabled": False}}}))


@pytest.fixture
def cluster(rendered: Rendered, tmp_path: Path) -> Iterator[Cluster]:
    with running(rendered, tmp_path) as c:
        yield c


@pytest.fixture
def proxied(cluster: Cluster) -> Cluster:
    return bring_up(cluster)


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


def test_a_server_waits_for_a_majority_of_the_sentinels(cluster):
    """With one Sentinel of three answering (the other pods down, or cut off), the redis container
    does not start: that one Sentinel's view may be stale, and only a majority is sure to include
    the newest master (redis.sh ``elect``). It starts once a second Sentinel answers."""
    cluster.start_sentinel(0)
    wait_for("redis-0's Sentinel", lambda: cluster.sentinel_view(0))
    cluster.start_server(0, alone=False)
    log = cluster.nodes[0].root / "server.log"
    said = wait_for("redis-0 waiting or started", lambda: re.search(
        r"waiting for a majority of the Sentinels \(1 of \d+ answer\)|starting as \w+", log.read_text()))
    assert said[0] == "waiting for a majority of the Sentinels (1 of 2 answer)", said[0]
    with pytest.raises(redis_py.ConnectionError):
        cluster.node(0).ping()
    cluster.start_sentinel(1)
    wait_for("redis-0 up once two Sentinels answer", lambda: cluster.node(0).ping(), 30)
    assert "starting as master" in log.read_text()


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


def test_a_replica_that_refuses_sigterm_is_killed_when_its_grace_period_ends_and_resyncs(without_sentinel, tmp_path):
    """Redis refuses SIGTERM while a replica writes its first AOF after a full sync ("Writing initial
    AOF, can't exit", redis ``src/server.c`` ``prepareForShutdown``) and runs on: the kubelet SIGKILLs
    it when the pod's grace period ends. CI met it stopping the replicas right after a restart. Here
    the state is held open: AOF switched off and on again (what a full sync does), the rewrite slowed
    by ``rdb-key-save-delay`` (a test-only setting, microseconds per key)."""
    rendered = dataclasses.replace(without_sentinel, grace_seconds=2)  # the render's 70 s, shortened
    with running(rendered, tmp_path) as cluster:
        cluster.start_all(sentinels=False)
        cluster.wait_replicated(0)
        master = cluster.node(0)
        for i in range(20):
            master.set(f"k:{i}", i)
        assert master.execute_command("WAIT", 2, 5000) == 2
        replica = cluster.node(1)
        replica.config_set("rdb-key-save-delay", 1_000_000)
        replica.config_set("appendonly", "no")
        replica.config_set("appendonly", "yes")
        wait_for("redis-1 writing its first AOF", lambda: replica.info("persistence")["aof_rewrite_in_progress"] == 1)
        cluster.kill(1, signal.SIGTERM)
        assert cluster.forced == ["redis-1"]
        assert "Writing initial AOF, can't exit" in (cluster.nodes[1].root / "server.log").read_text()
        cluster.start_server(1)
        wait_for("redis-1 in sync with redis-0", lambda: cluster.replica_in_sync(1, 0), 30)
        assert sorted(cluster.node(1).keys("k:*")) == sorted(f"k:{i}".encode() for i in range(20))


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
    # The hook asks for the failover: writes must not wait for the Sentinels to see the master down.
    assert max(gaps) <= ROLL_GAP_LIMIT_SECONDS


def test_without_sentinel_ordinal_zero_is_the_master(without_sentinel, tmp_path):
    with running(without_sentinel, tmp_path) as cluster:
        cluster.start_all(sentinels=False)
        cluster.wait_replicated(0)
        assert cluster.masters() == [0]


def test_sentinel_runs_with_the_configured_quorum_and_timeouts(tmp_path):
    """What Sentinel reports, for settings other than the defaults (a constant in redis.sh that
    happened to equal the default would pass a test of the defaults)."""
    raw = prod_raw()["redis"]
    sentinel = {**raw["sentinel"], "quorum": 3, "downAfterMilliseconds": 4321, "failoverTimeoutMilliseconds": 12345}
    rendered = Rendered.of(run_stack("prod", {"redis": {**raw, "sentinel": sentinel}}))
    with running(rendered, tmp_path) as cluster:
        cluster.start_all()
        cluster.wait_replicated(0)
        for node in cluster.nodes:
            view = cluster.sentinel_view(node.ordinal)
            got = (view["quorum"], view["down-after-milliseconds"], view["failover-timeout"], view["port"])
            assert got == ("3", "4321", "12345", str(cluster.nodes[0].port)), view


def test_readiness_fails_on_a_replica_whose_master_link_is_down(without_sentinel, tmp_path):
    with running(without_sentinel, tmp_path) as cluster:
        cluster.start_all(sentinels=False)
        cluster.wait_replicated(0)
        assert cluster.run_probe(1, without_sentinel.redis, "readinessProbe").returncode == 0
        cluster.kill(0)
        wait_for("redis-1's master link down", lambda: cluster.replication(1)["master_link_status"] == "down")
        assert cluster.run_probe(1, without_sentinel.redis, "livenessProbe").returncode == 0, "the replica is alive"
        ready = cluster.run_probe(1, without_sentinel.redis, "readinessProbe")
        assert ready.returncode != 0, "a replica without its master must not be ready"


def test_every_redis_cli_call_is_recorded_and_none_carries_the_password(tmp_path, rendered):
    """The wrapper sees the scripts' and the probes' calls (so `running` can check them all)."""
    cluster = Cluster(rendered, tmp_path)
    try:
        cluster.start_all()
        cluster.wait_settled(0)
        assert cluster.run_probe(1, rendered.redis, "readinessProbe").returncode == 0
    finally:
        cluster.close()
    calls = cluster.cli_calls()
    assert any(argv[-3:] == ["SENTINEL", "MASTER", "gushen"] for argv in calls), calls[:5]
    assert any(argv[-2:] == ["INFO", "replication"] for argv in calls), "the readiness probe's call"
    assert not [argv for argv in calls if "-a" in argv or any(PASSWORD in arg for arg in argv)]
