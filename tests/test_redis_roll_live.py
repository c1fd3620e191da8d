"""Rolling restarts of the Redis StatefulSet on a busy node, on real redis-server, Sentinel and HAProxy."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from gushen_infra import redis_conf as rc

from .redis_harness import PASSWORD, Cluster, Rendered, Timeline, Writer, bring_up, cpu_hogs, roll, running
from .test_redis_scenarios_live import account

#: A routine roll (redis.conf change, image bump) must not stop acknowledged writes for longer.
ROLL_GAP_LIMIT_SECONDS = 3.0
#: The Secret's value after `pulumi up --replace` of the RandomPassword.
ROTATED = "RotatedPassword0123456789abcdefg"


@pytest.fixture(scope="module")
def rendered(prod) -> Rendered:
    return Rendered.of(prod)


@pytest.fixture
def cluster(rendered: Rendered, tmp_path: Path) -> Iterator[Cluster]:
    with running(rendered, tmp_path) as c:
        yield bring_up(c)


def test_a_roll_under_two_cpu_bound_neighbours_stops_writes_for_at_most_3s(cluster, capsys):
    timeline = Timeline()
    writer = Writer.running(cluster)
    with cpu_hogs(2):
        load = os.getloadavg()[0]
        times = roll(cluster, timeline)
    account(cluster, writer, capsys, "roll under load", f"; load average {load:.2f}")
    gap, at = writer.gap()
    with capsys.disabled():
        print(f"gap {gap:.2f}s at {at:.3f}\n{timeline.around(at)}\nroot {cluster.root}")
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
