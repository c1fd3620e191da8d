"""Rolling restarts of the loopback Redis cluster (tests/redis_harness.py), as the StatefulSet
controller and the kubelet run them, and CPU-bound neighbours to run them on a busy node."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Optional

from .redis_harness import Cluster, wait_for


class Timeline:
    """Wall-clock marks of what a test did, to read beside the processes' logs."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, str]] = []

    def mark(self, event: str) -> None:
        self.marks.append((time.time(), event))

    def around(self, moment: float, before: float = 3.0, after: float = 15.0) -> str:
        return "\n".join(f"  {t - moment:+7.2f}s {event}" for t, event in self.marks
                         if moment - before <= t <= moment + after)


def roll(cluster: Cluster, timeline: Optional[Timeline] = None, order: Sequence[int] = (2, 1, 0),
         ready_timeout: float = 90, on_ready: Callable[[int], None] = lambda i: None) -> dict[int, tuple[float, float]]:
    """A rolling update as the StatefulSet controller runs one (RollingUpdate, partition 0):
    highest ordinal first, each pod stopped (preStop hook, then SIGTERM) and back with a fresh
    emptyDir and its PVC, the next one only once it is Ready. Returns, per pod, the seconds from
    its start to its master link up (replicas) and to Ready."""
    timeline = timeline or Timeline()
    times: dict[int, tuple[float, float]] = {}
    hook = cluster.rendered.redis["lifecycle"]["preStop"]["exec"]["command"]
    for i in order:
        # The kubelet stops a pod's containers in parallel, each after its own preStop hook:
        # Sentinel (no hook) gets SIGTERM at once, Redis once its hook is done.
        timeline.mark(f"redis-{i} terminating: Sentinel SIGTERM, Redis preStop")
        cluster.stop_sentinel(i)
        done = cluster.run_hook(i, hook, cluster.rendered.redis)
        assert done.returncode == 0, done
        timeline.mark(f"redis-{i} preStop done: {done.stderr.strip()!r}; SIGTERM")
        cluster.stop_pod(i, signal.SIGTERM)
        cluster.fresh_run_dir(i)
        timeline.mark(f"redis-{i} stopped; started again")
        cluster.start_pod(i)
        started, linked = time.monotonic(), []

        def is_ready(i: int = i) -> bool:
            if not linked and cluster.replication(i).get("master_link_status") == "up":
                linked.append(time.monotonic())
                timeline.mark(f"redis-{i} master link up")
            return cluster.ready(i)

        wait_for(f"redis-{i} Ready\n{cluster.logs()}", is_ready, ready_timeout, interval=0.2)
        timeline.mark(f"redis-{i} Ready")
        times[i] = ((linked or [started])[0] - started, time.monotonic() - started)
        assert cluster.nodes[i].server.poll() is None
        on_ready(i)
    return times


@contextlib.contextmanager
def cpu_hogs(count: int = 2, seconds: int = 300) -> Iterator[None]:
    """``count`` CPU-bound neighbours (a busy node), each ended by ``timeout`` at the latest and
    killed on exit."""
    procs = [subprocess.Popen(["timeout", str(seconds), sys.executable, "-c", "while True: pass"],
                              start_new_session=True) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
