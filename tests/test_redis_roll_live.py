"""Rolling restarts of the Redis StatefulSet on a busy node, on real redis-server, Sentinel and HAProxy."""

from __future__ import annotations

import os
import signal
import time

import redis as redis_py

from gushen_infra import redis_conf as rc

from .redis_harness import LOOPBACK, PASSWORD, Cluster, Writer, wait_for
from .redis_roll import Timeline, cpu_hogs, roll
# The same three pods, Sentinels and HAProxy as the scenarios (pytest finds imported fixtures).
from .test_redis_scenarios_live import account, cluster, rendered  # noqa: F401

#: A routine roll (redis.conf change, image bump) must not stop acknowledged writes for longer.
ROLL_GAP_LIMIT_SECONDS = 3.0
#: The Secret's value after `pulumi up --replace` of the RandomPassword.
ROTATED = "RotatedPassword0123456789abcdefg"


def test_a_roll_under_two_cpu_bound_neighbours_stops_writes_for_at_most_3s(cluster, capsys):
    timeline = Timeline()
    writer = Writer.running(cluster)
    with cpu_hogs(2):
        load = os.getloadavg()[0]
        times = roll(cluster, timeline)
    account(cluster, writer, capsys, "roll under load", f"; load average {load:.2f}")
    gap, at = writer.gap()
    with capsys.disabled():
        print(f"gap {gap:.2f}s at {at:.3f}\n{timeline.around(at)}")
        print("start -> link up / Ready: " + ", ".join(f"redis-{i} {a:.2f}/{b:.2f}s" for i, (a, b) in times.items()))
    assert gap <= ROLL_GAP_LIMIT_SECONDS


def accepts(cluster: Cluster, port: int, password: str) -> bool:
    try:
        return cluster.client(port, password).ping()
    except redis_py.AuthenticationError:
        return False


def test_rotating_the_password_rolls_the_pods_without_a_lost_write_or_a_stall(cluster, rendered, capsys):
    """`pulumi up --replace` of the RandomPassword: the Secret changes and the pods roll onto the
    new password one by one, while the apps move from the old one to the new one."""
    writer = Writer.running(cluster)
    old_app = cluster.client(cluster.proxy_ports["master"], PASSWORD)  # an app pod not rolled yet
    cluster.password = ROTATED
    timeline = Timeline()

    def pod_ready(i: int) -> None:
        # Old and new passwords work everywhere from the first new pod on: the apps may move.
        if i == 2:
            writer.password = ROTATED
        assert old_app.set(f"old-password-after-redis-{i}", i)

    roll(cluster, timeline, on_ready=pod_ready)
    master = cluster.served_by(cluster.through_proxy())
    cluster.wait_settled(master)  # every Sentinel reaches every Redis and Sentinel on the new password
    writer.wait_acked_after(time.monotonic(), "writes on the new password after the roll")
    assert writer.password == ROTATED

    # Once no client uses the old password: forget it in every pod.
    forget = ["sh", rc.SCRIPT, "forget-previous"]
    for node in cluster.nodes:
        done = cluster.run_hook(node.ordinal, forget, rendered.redis)
        assert done.returncode == 0, done
    for node in cluster.nodes:
        for port in (node.port, node.sentinel_port):
            assert not accepts(cluster, port, PASSWORD) and accepts(cluster, port, ROTATED), port
    writer.wait_acked_after(time.monotonic(), "writes after the old password is forgotten")
    account(cluster, writer, capsys, "password rotation roll")
    gap, at = writer.gap()
    with capsys.disabled():
        print(timeline.around(at))
    assert gap <= ROLL_GAP_LIMIT_SECONDS
    cluster.wait_settled(master)


def test_the_hand_over_is_complete_when_the_pre_stop_hook_returns(cluster, rendered):
    """The master's pod is killed right after its hook (a kubelet out of grace period): the
    Sentinels left and the other replica must already be on the new master, so nothing waits for
    down-after and no second failover starts from a replica still chained to the dead pod."""
    cluster.stop_sentinel(0)  # the kubelet stops the Sentinel container at once
    done = cluster.run_hook(0, rendered.redis["lifecycle"]["preStop"]["exec"]["command"], rendered.redis)
    assert done.returncode == 0, done
    cluster.stop_pod(0)
    (master,) = [i for i in (1, 2) if cluster.role(i) == "master"]
    other = 3 - master
    for i in (1, 2):
        view = cluster.sentinel_view(i)
        assert (view["port"], view["flags"]) == (str(cluster.nodes[master].port), "master"), view
    wait_for(f"redis-{other} in sync with redis-{master}", lambda: cluster.replica_in_sync(other, master), 2)


def test_a_restarted_replica_is_ready_only_once_every_sentinel_lists_it(cluster):
    """Sentinel learns replicas from the master's INFO every 10 s; a replica it does not list is
    not reconfigured by a failover. The readiness probe waits for all of them (redis.sh ``ready``)."""
    cluster.stop_pod(2, signal.SIGTERM)
    cluster.fresh_run_dir(2)
    cluster.start_pod(2)
    wait_for("redis-2 Ready", lambda: cluster.ready(2), 60, interval=0.2)
    me = f"{LOOPBACK}:{cluster.nodes[2].port}"
    for node in cluster.nodes:
        name = cluster.env(node, cluster.rendered.sentinel)["SENTINEL_MASTER"]
        replicas = cluster.client(node.sentinel_port).execute_command("SENTINEL", "REPLICAS", name)
        flags = {r[b"name"].decode(): r[b"flags"].decode() for r in (_pairs(r) for r in replicas)}
        assert flags.get(me) == "slave", (node.ordinal, flags)


def _pairs(reply) -> dict:
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))
