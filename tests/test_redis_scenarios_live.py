"""Failures of the Redis tier on real redis-server, Sentinel and HAProxy, each with a writer running.

A write is acknowledged when the client got OK and ``WAIT 1`` confirmed a replica has it (what
``min-replicas-to-write 1`` promises). Every scenario asserts that no acknowledged write is lost
and prints the longest gap between two acknowledged writes (``pytest -s`` or ``-rA`` shows it).
Prod's timeouts are used as rendered (down-after 5 s, failover timeout 10 s).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from .redis_harness import (
    LOOPBACK, PASSWORD, Cluster, Rendered, Writer, bring_up, new_master, running, wait_for,
)
from .redis_roll import roll

#: Writes must be accepted again within 30 s of the master's death.
FAILOVER_BUDGET_SECONDS = 30.0


@pytest.fixture(scope="module")
def rendered(prod) -> Rendered:
    return Rendered.of(prod)


@pytest.fixture
def cluster(rendered: Rendered, tmp_path: Path) -> Iterator[Cluster]:
    with running(rendered, tmp_path) as c:
        yield bring_up(c)


def account(cluster: Cluster, writer: Writer, capsys, scenario: str, extra: str = "") -> None:
    """Stop the writer, print the scenario's longest write gap, and assert that no acknowledged
    write is missing on the master or any replica."""
    writer.stop()
    lost = lost_anywhere(cluster, writer)
    with capsys.disabled():
        print(f"\n[redis scenario] {scenario}: longest write gap {writer.longest_gap():.2f}s; "
              f"acknowledged {len(writer.acked)}, lost {len(lost)}{extra}")
    assert lost == []


def master_of_all(cluster: Cluster, timeout: float = 60) -> int:
    """The single master, once every running replica is in sync with it."""
    master = wait_for("a single master", lambda: (m := cluster.masters()) and len(m) == 1 and m[0] + 1, timeout) - 1
    cluster.wait_replicated(master, timeout)
    return master


def lost_anywhere(cluster: Cluster, writer: Writer) -> list[str]:
    """Acknowledged writes missing on the master or on any running replica (once they caught up)."""
    up = [n.ordinal for n in cluster.nodes if n.server is not None and n.server.poll() is None]
    (master,) = cluster.masters()
    assert cluster.node(master).execute_command("WAIT", len(up) - 1, 10_000) == len(up) - 1
    return sorted({key for i in up for key in writer.lost_on(cluster.node(i))})


def epoch_of(cluster: Cluster, master: int) -> str:
    """What redis.sh keeps on a PVC for ``master`` at the config epoch the Sentinels give it now."""
    epoch = cluster.sentinel_view(master)["config-epoch"]
    return f"{epoch} {LOOPBACK} {cluster.nodes[master].port}"


def fail_over_from_redis0(cluster: Cluster, writer: Writer) -> tuple[int, str]:
    """Kill redis-0's pod (the master) and wait for writes on the promoted replica: its ordinal,
    and the newest configuration as the surviving pods keep it on their PVCs."""
    killed_at = time.monotonic()
    cluster.stop_pod(0)
    writer.wait_acked_after(killed_at, "writes after the failover")
    promoted = cluster.served_by(cluster.through_proxy())
    newest = epoch_of(cluster, promoted)
    assert not newest.startswith("0 ")
    wait_for("the other Sentinels remember the failover on their PVCs",
             lambda: cluster.state(1) == cluster.state(2) == newest)
    return promoted, newest


def server_log_from(cluster: Cluster, i: int, offset: int) -> str:
    return (cluster.nodes[i].root / "server.log").read_text()[offset:]


def log_size(cluster: Cluster, i: int) -> int:
    return len((cluster.nodes[i].root / "server.log").read_text())


def restart_everything(cluster: Cluster, order: tuple[int, ...] = (0, 1, 2)) -> None:
    """A reboot of the data node: every container dies at once, the pods come back with new
    emptyDirs and their PVCs, all at once (podManagementPolicy Parallel)."""
    for node in cluster.nodes:
        cluster.stop_pod(node.ordinal)
    for node in cluster.nodes:
        cluster.fresh_run_dir(node.ordinal)
    for i in order:
        cluster.start_pod(i)


def test_1_master_crash_fails_over(cluster, capsys):
    writer = Writer.running(cluster)
    killed_at = time.monotonic()
    cluster.kill(0)
    recovered_at = writer.wait_acked_after(killed_at, "a write acknowledged after the master's death")
    promoted = cluster.served_by(cluster.through_proxy())
    # The old master, restarted by its startup script, rejoins as a replica of the new one.
    cluster.start_server(0, alone=False)
    wait_for("redis-0 in sync with the new master", lambda: cluster.replica_in_sync(0, promoted), 30)
    account(cluster, writer, capsys, "1 master crash", f"; writes again {recovered_at - killed_at:.2f}s after the kill")
    assert writer.longest_gap() < FAILOVER_BUDGET_SECONDS
    assert promoted in (1, 2) and cluster.masters() == [promoted]
    for _ in range(5):  # every new connection through redis-service reaches the one master
        assert cluster.served_by(cluster.through_proxy()) == promoted
    replica = wait_for("HAProxy's replicas frontend", lambda: cluster.served_by(cluster.through_proxy("replicas")) + 1)
    assert replica - 1 != promoted
    with pytest.raises(redis_py.ReadOnlyError):
        cluster.through_proxy("replicas").set("k", "v")


def test_2_master_crash_with_immediate_restart(cluster, capsys):
    """The kubelet restarts the crashed container at once: the Sentinels still name the old
    master, so it waits for them to promote the replica with the acknowledged writes."""
    writer = Writer.running(cluster)
    killed_at = time.monotonic()
    cluster.kill(0)
    cluster.start_server(0, alone=False)
    promoted = new_master(cluster, 0)
    writer.wait_acked_after(killed_at, "writes after the failover")
    wait_for("redis-0 in sync with the new master", lambda: cluster.replica_in_sync(0, promoted), 60)
    account(cluster, writer, capsys, "2 crash + immediate restart")
    assert writer.longest_gap() < FAILOVER_BUDGET_SECONDS
    log = (cluster.nodes[0].root / "server.log").read_text()
    assert "waiting for a failover" in log and "starting as master" not in log.split("waiting for a failover")[-1]


def test_3_everything_restarts_after_a_failover(cluster, capsys):
    """The pod of redis-0 (master) dies, a replica is promoted and takes writes, then every pod
    restarts at once with fresh emptyDirs. redis-0's PVC still says it is the master (epoch 0)."""
    writer = Writer.running(cluster)
    promoted, _ = fail_over_from_redis0(cluster, writer)
    assert cluster.state(0) == f"0 {LOOPBACK} {cluster.nodes[0].port}", "redis-0's pod missed the failover"
    restarted_at = time.monotonic()
    restart_everything(cluster)
    writer.wait_acked_after(restarted_at, "writes after the restart")
    master = master_of_all(cluster)
    account(cluster, writer, capsys, "3 all restart after a failover")
    assert master == promoted, "the newest master (highest config epoch) is master again"


def test_4_everything_restarts_while_a_replica_lags(cluster, capsys):
    writer = Writer.running(cluster)
    cluster.signal_server(2, signal.SIGSTOP)  # redis-2 falls behind; redis-1 acknowledges
    lagging_from = len(writer.acked)
    wait_for("writes redis-2 does not have", lambda: len(writer.acked) > lagging_from + 50)
    restarted_at = time.monotonic()
    restart_everything(cluster, order=(2, 1, 0))  # the lagging pod first
    writer.wait_acked_after(restarted_at, "writes after the restart")
    master = master_of_all(cluster)
    account(cluster, writer, capsys, "4 all restart while a replica lags")
    assert master == 0


def test_5_a_hung_master_is_cut_off_and_rejoins_as_a_replica(cluster, rendered, capsys):
    """SIGSTOP for longer than down-after: HAProxy closes the master's client connections, the
    Sentinels promote a replica, and after SIGCONT the old master takes no write and rejoins."""
    writer = Writer.running(cluster)
    # A client of redis-service that sits idle (a pool's connection), and one of redis-0 itself.
    held = redis_py.Connection(LOOPBACK, cluster.proxy_ports["master"], password=PASSWORD, socket_timeout=15)
    held.send_command("INFO", "server")
    assert f"tcp_port:{cluster.nodes[0].port}\r\n".encode() in held.read_response(), "the idle client is on redis-0"
    direct = cluster.node(0)
    direct.ping()
    stopped_at = time.monotonic()
    cluster.signal_server(0, signal.SIGSTOP)
    # Without on-marked-down shutdown-sessions the idle connection stays open to the hung master
    # (redis-py then times out); with it HAProxy closes it, and the client reconnects.
    with pytest.raises(redis_py.ConnectionError):  # not redis-py's TimeoutError
        held.read_response()
    disconnected = time.monotonic() - stopped_at
    promoted = new_master(cluster, 0)
    writer.wait_acked_after(stopped_at, "writes on the new master")
    down_after = int(cluster.env(cluster.nodes[0], rendered.sentinel)["SENTINEL_DOWN_AFTER_MS"]) / 1000
    assert time.monotonic() - stopped_at > down_after
    cluster.signal_server(0, signal.SIGCONT)
    time.sleep(0.5)  # let it notice that its replicas are gone
    with pytest.raises(redis_py.ResponseError) as refused:
        direct.set("second-master", "x")
    assert isinstance(refused.value, redis_py.ReadOnlyError) or str(refused.value).startswith("NOREPLICAS"), refused.value
    wait_for("redis-0 a replica of the new master", lambda: cluster.replica_in_sync(0, promoted), 40)
    assert cluster.node(promoted).get("second-master") is None
    account(cluster, writer, capsys, "5 hung master", f"; its proxied client cut after {disconnected:.2f}s")
    assert cluster.masters() == [promoted]


def test_6_rolling_restart_in_statefulset_order(cluster, capsys):
    """What a redis.conf change does: highest ordinal first, each pod stopped (Sentinel at once,
    Redis after its preStop hand-over) and back with a fresh emptyDir, the next one only once it
    is Ready (harness ``roll``)."""
    writer = Writer.running(cluster)
    roll(cluster)
    settled_at = time.monotonic()
    writer.wait_acked_after(settled_at, "writes after the roll")
    master = master_of_all(cluster)
    account(cluster, writer, capsys, "6 rolling restart")
    assert master != 0, "redis-0, the master, handed over before it stopped"


def test_7_sentinels_that_disagree_at_start_up_follow_the_highest_epoch(cluster, capsys):
    """redis-0's pod missed a failover (its PVC says epoch 0, redis-0); the Sentinels restart
    with redis-0's first and alone, so it starts on its stale view; then the others, and redis-0's
    server. Everyone must follow the newest configuration, not the first Sentinel that answers."""
    writer = Writer.running(cluster)
    promoted, newest = fail_over_from_redis0(cluster, writer)
    log_from = log_size(cluster, 0)
    for i in (1, 2):
        node = cluster.nodes[i]
        node.sentinel.kill()
        node.sentinel.wait()
        cluster.fresh_run_dir(i)
    cluster.fresh_run_dir(0)
    cluster.start_sentinel(0)
    stale = wait_for("redis-0's Sentinel", lambda: cluster.sentinel_view(0))
    assert (stale["config-epoch"], stale["port"]) == ("0", str(cluster.nodes[0].port)), "it starts on its stale view"
    cluster.start_sentinel(1)
    cluster.start_sentinel(2)
    cluster.start_server(0, alone=False)
    wait_for("redis-0 in sync with the newest master", lambda: cluster.replica_in_sync(0, promoted), 60)

    def agree() -> bool:
        views = [cluster.sentinel_view(n.ordinal) for n in cluster.nodes]
        return all(f"{v['config-epoch']} {LOOPBACK} {v['port']}" == newest for v in views)

    wait_for("every Sentinel on the newest master", agree, 40, interval=0.5)
    wait_for("redis-0's PVC updated by its Sentinel", lambda: cluster.state(0) == newest)
    writer.wait_acked_after(time.monotonic(), "writes after the Sentinels' restart")
    account(cluster, writer, capsys, "7 Sentinels disagree at start-up")
    log = server_log_from(cluster, 0, log_from)
    assert f"starting as replica of {LOOPBACK} {cluster.nodes[promoted].port}" in log
    assert "starting as master" not in log
    assert cluster.masters() == [promoted]
