"""The Redis hand-over of docs/adoption.md on real processes: from the live StatefulSet of
tests/fixtures/live-cluster.yaml (three plain redis-server pods, redis-0 master by its command
line) to ours (Sentinel, HAProxy), with data in it and a client writing all along.

The runbook's commands, in their order, become processes: each pod is a process group on its own
loopback port and data directory, which both the old and the new pod use (same pod name, same
claim template, so the same PVC). What Kubernetes does in between is done the way its
controllers do it: the new StatefulSet adopts the orphaned pods and rolls them highest ordinal
first (``RollingUpdate``, partition 0), the kubelet sends SIGTERM and waits the grace period, a
pod counts as Ready when its readiness probes pass, and the Service switch of ``pulumi up`` sends
new connections to HAProxy the moment it is applied (before HAProxy is up: the worst case).
Both generations read the password from the same Secret key; the test password stands for it.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py

from .conftest import ROOT, require_binary
from .redis_harness import LOOPBACK, PASSWORD, Cluster, Node, Rendered, wait_for
from .test_adoption import live_objects

RUNBOOK = ROOT / "docs" / "adoption.md"
NAMESPACE = "ai-qtrd"
SEED_KEYS = 20000
#: The runbook's Redis commands, in order; each is run below as what it does to the processes.
BACKUP = "redis-cli --rdb /data/pre-adoption.rdb"
ORPHAN = "kubectl -n ai-qtrd delete statefulset redis --cascade=orphan"
FIRST_REPLICA = "kubectl -n ai-qtrd delete pod redis-1"
UP = "## Step 5: `pulumi up`"


@pytest.fixture(scope="module")
def live() -> dict[str, Any]:
    objects = live_objects()
    sts = objects[("StatefulSet", NAMESPACE, "redis")]
    return {
        "sts": sts,
        "container": sts["spec"]["template"]["spec"]["containers"][0],
        "redis_conf": objects[("ConfigMap", NAMESPACE, "redis-config")]["data"]["redis.conf"],
        "grace": sts["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30),
        "secret": objects[("Secret", NAMESPACE, "ai-qtrd-secrets")],
    }


@pytest.fixture
def cluster(prod, tmp_path: Path) -> Iterator[Cluster]:
    require_binary("redis-server")
    require_binary("haproxy")
    c = Cluster(Rendered.of(prod), tmp_path)
    try:
        yield c
    finally:
        c.close()


class LivePods:
    """The live StatefulSet's pods, started from the fixture's command, config and env."""

    def __init__(self, cluster: Cluster, live: dict[str, Any]):
        self.cluster, self.live = cluster, live
        self.procs: dict[int, subprocess.Popen] = {}

    def script(self, node: Node) -> str:
        master = self.cluster.nodes[0]
        text = self.live["container"]["args"][0]
        text = text.replace("/etc/redis/redis.conf", str(node.root / "live" / "redis.conf"))
        return text.replace(f"redis-0.redis-headless.{NAMESPACE}.svc.cluster.local 6379", f"{LOOPBACK} {master.port}")

    def start(self, node: Node) -> None:
        conf_dir = node.root / "live"
        conf_dir.mkdir(exist_ok=True)
        conf = self.live["redis_conf"].replace("dir /data", f"dir {node.data_dir}")
        (conf_dir / "redis.conf").write_text(f"{conf}bind {LOOPBACK}\nport {node.port}\n")
        argv = [*self.live["container"]["command"], self.script(node)]
        env = {"PATH": os.environ["PATH"], "HOSTNAME": f"redis-{node.ordinal}", "REDIS_PASSWORD": PASSWORD}
        with (node.root / "live.log").open("ab") as log:
            self.procs[node.ordinal] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                        start_new_session=True)

    def terminate(self, ordinal: int) -> float:
        """The kubelet deleting the pod: SIGTERM (no preStop hook), SIGKILL after the grace period."""
        proc = self.procs.pop(ordinal)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.live["grace"])
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        return time.monotonic() - started

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


class Writer(threading.Thread):
    """A client of ``redis-service``: a write is acknowledged when the server answers OK."""

    def __init__(self, cluster: Cluster, target: Callable[[], int]):
        super().__init__(daemon=True)
        self.cluster, self.target = cluster, target
        self.acked: list[tuple[str, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        client, port, n = None, None, 0
        while not self.stopping.is_set():
            try:
                if client is None or port != self.target():
                    port = self.target()
                    client = self.cluster.client(port)
                key = f"w:{n}"
                n += 1
                if client.set(key, key):
                    self.acked.append((key, time.monotonic()))
            except (redis_py.RedisError, OSError):
                client = None
                time.sleep(0.02)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def longest_gap(self, since: float) -> tuple[float, float]:
        """The longest time without an acknowledged write, and when it began (seconds after ``since``)."""
        times = [since] + [t for _, t in self.acked if t >= since]
        length, start = max((b - a, a) for a, b in zip(times, times[1:]))
        return length, start - since


def missing(client: redis_py.Redis, keys: list[str]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.exists(key)
    return [k for k, present in zip(keys, pipe.execute()) if not present]


def test_the_runbook_names_these_steps_in_this_order():
    text = RUNBOOK.read_text()
    text = text[text.index("## Step 1"):]
    positions = [text.find(step) for step in (BACKUP, ORPHAN, FIRST_REPLICA, UP)]
    assert -1 not in positions and positions == sorted(positions), positions


def test_both_generations_read_the_password_from_the_same_secret_key(live, cluster):
    ref = lambda c: next(e["valueFrom"]["secretKeyRef"] for e in c["env"] if e["name"] == "REDIS_PASSWORD")  # noqa: E731
    assert ref(live["container"]) == ref(cluster.rendered.redis)
    assert base64.b64decode(live["secret"]["data"][ref(live["container"])["key"]])


def test_takeover_keeps_every_key_and_every_acknowledged_write(live, cluster, tmp_path, capsys):
    pods = LivePods(cluster, live)
    try:
        _migrate(cluster, pods, tmp_path, capsys)
    finally:
        pods.close()


def _migrate(cluster: Cluster, pods: LivePods, tmp_path: Path, capsys) -> None:
    nodes = cluster.nodes
    for node in nodes:
        pods.start(node)
    wait_for("the live layout: redis-1 and redis-2 replicate redis-0",
             lambda: all(cluster.replica_in_sync(i, 0) for i in (1, 2)), 30)
    master = cluster.node(0)
    pipe = master.pipeline(transaction=False)
    for i in range(SEED_KEYS):
        pipe.set(f"seed:{i}", i)
    pipe.execute()
    assert master.execute_command("WAIT", 2, 5000) == 2
    service = {"port": nodes[0].port}  # redis-service today: ClientIP affinity; at best it is the master
    writer = Writer(cluster, lambda: service["port"])
    writer.start()
    wait_for("acknowledged writes", lambda: len(writer.acked) >= 100)
    began = time.monotonic()

    # 1. Backup from a replica (the runbook's redis-cli --rdb).
    env = {"PATH": os.environ["PATH"], "REDISCLI_AUTH": PASSWORD}
    dump = nodes[1].data_dir / "pre-adoption.rdb"
    subprocess.run(["redis-cli", "-h", LOOPBACK, "-p", str(nodes[1].port), "--rdb", str(dump)],
                   env=env, check=True, capture_output=True, timeout=60)
    assert dump.read_bytes().startswith(b"REDIS")

    # 2. kubectl delete statefulset redis --cascade=orphan: the pods keep running.
    assert all(p.poll() is None for p in pods.procs.values())
    # 3. kubectl delete pod redis-1: nothing recreates it until ours exists; redis-2 still replicates.
    events = {"redis-1 stopped": time.monotonic() - began}
    stops = {1: pods.terminate(1)}

    # 4. pulumi up: HAProxy is created and redis-service switched to it in the same run.
    events["redis-service switched to HAProxy"] = time.monotonic() - began
    cluster.start_proxy()
    service["port"] = cluster.proxy_ports["master"]
    # The new StatefulSet (Parallel) creates the missing redis-1 and rolls the outdated pods from
    # the highest ordinal: redis-2 now, redis-0 when both new pods are Ready. Two new pods, two
    # Sentinels: a majority of the three can answer the start-up election.
    cluster.start_server(1)
    cluster.start_sentinel(1)
    events["redis-2 stopped"] = time.monotonic() - began
    stops[2] = pods.terminate(2)
    cluster.start_server(2)
    cluster.start_sentinel(2)
    for i in (1, 2):
        # Never an empty master: each new pod replicates the live master and has its data.
        wait_for(f"new redis-{i} Ready\n{cluster.logs()}", lambda i=i: cluster.ready(i), 60)
        assert cluster.masters() == [0] and cluster.replica_in_sync(i, 0)
        assert cluster.node(i).dbsize() >= SEED_KEYS
    # The runbook's precondition for the last step, that the new pods' Sentinels list both
    # replicas of redis-0, is part of their readiness now (redis.sh ``ready``): the roll cannot
    # outrun Sentinel's discovery (every 10 s), and nothing here waits for the Sentinels.
    events["redis-0 stopped"] = time.monotonic() - began
    stops[0] = pods.terminate(0)
    cluster.start_server(0)
    cluster.start_sentinel(0)
    # redis-0 (old master, stopped cleanly: its replicas were in sync) either returns as master with
    # its AOF before the Sentinels see it down, or waits while they promote a replica (redis.sh).
    wait_for(f"new redis-0 Ready\n{cluster.logs()}", lambda: cluster.ready(0), 60)
    promoted = wait_for(f"one master after the roll\n{cluster.logs()}",
                        lambda: (m := cluster.masters()) and len(m) == 1 and m[0] + 1, 60) - 1
    cluster.wait_settled(promoted)
    wait_for("writes through HAProxy after the roll", lambda: writer.acked[-1][1] > time.monotonic() - 0.5, 30)
    time.sleep(1)
    writer.stop()
    gap, gap_at = writer.longest_gap(began)

    after = cluster.through_proxy()
    assert cluster.served_by(after) == promoted
    seed = [f"seed:{i}" for i in range(SEED_KEYS)]
    acked = [k for k, _ in writer.acked]
    lost_seed, lost_acked = missing(after, seed), missing(after, acked)
    with capsys.disabled():
        print(f"\nRedis takeover: {SEED_KEYS} keys + {len(acked)} acknowledged writes, lost {len(lost_seed)} + "
              f"{len(lost_acked)}; longest write gap {gap:.2f} s from t={gap_at:.2f} s; master after the roll "
              f"redis-{promoted}; " + ", ".join(f"{e} at t={t:.2f} s" for e, t in events.items())
              + "; shutdowns took " + ", ".join(f"redis-{i} {s:.2f} s" for i, s in stops.items()))
    assert lost_seed == [] and lost_acked == []
    for i in (0, 1, 2):  # every pod is ours now, in sync with the new master
        if i != promoted:
            wait_for(f"redis-{i} in sync with redis-{promoted}", lambda i=i: cluster.replica_in_sync(i, promoted), 30)
            assert cluster.node(i).dbsize() == after.dbsize()
