"""Rolling restarts of the Redis StatefulSet on a busy node, on real redis-server, Sentinel and HAProxy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .redis_harness import Cluster, Rendered, Timeline, Writer, bring_up, cpu_hogs, roll, running
from .test_redis_scenarios_live import account

#: A routine roll (redis.conf change, image bump) must not stop acknowledged writes for longer.
ROLL_GAP_LIMIT_SECONDS = 3.0


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
        roll(cluster, timeline)
    account(cluster, writer, capsys, "roll under load", f"; load average {load:.2f}")
    gap, at = writer.gap()
    with capsys.disabled():
        print(f"gap {gap:.2f}s at {at:.3f}\n{timeline.around(at)}\nroot {cluster.root}")
    assert gap <= ROLL_GAP_LIMIT_SECONDS
