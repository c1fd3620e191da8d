"""Run what RedisCluster renders on real redis-server, Sentinel and HAProxy processes.

The redis.conf, redis.sh and haproxy.cfg come from the rendered ConfigMaps, the commands,
env and probes from the rendered pod specs. Only addresses, ports and paths are rewritten:
each pod's stable DNS name becomes 127.0.0.1, its ports random free loopback ports, and the
mount paths temp dirs (and HAProxy's log lines get timestamps, to read beside Redis's). Every
process is started in its own session and killed on close. Rolling restarts: tests/redis_roll.py.

Ports are reserved, not guessed: the harness keeps a bound (never listening) socket with
SO_REUSEADDR on each port for the cluster's lifetime. Redis, Sentinel and HAProxy set
SO_REUSEADDR too, so they can bind and listen on it, while the kernel hands the port to no one
else (no port-0 bind, no outgoing connection), also while a process is down between restarts.

``redis-cli`` is wrapped: every argv the scripts and probes pass to it is recorded, so a test can
prove the password never reaches a command line.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TypeVar

import redis as redis_py
from redis.backoff import NoBackoff
from redis.retry import Retry

from gushen_infra import redis_conf as rc

from .conftest import Stack, require_binary

PASSWORD = "TestPassword0123456789abcdefghij"
LOOPBACK = "127.0.0.1"
T = TypeVar("T")
Json = dict[str, Any]


_HELD: list[socket.socket] = []


def reserve_port(holder: Optional[list[socket.socket]] = None) -> int:
    """A loopback port nobody else gets while its socket is in ``holder`` (see the module doc)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    (_HELD if holder is None else holder).append(sock)
    return sock.getsockname()[1]


def free_port() -> int:
    """A reserved port, held until the test process exits (for callers without a Cluster)."""
    return reserve_port()


def wait_for(what: str, check: Callable[[], Optional[T]], timeout: float = 20.0, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (redis_py.RedisError, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class Rendered:
    """The parts of the render that the processes run."""

    namespace: str
    replicas: int
    config: Mapping[str, str]
    """ConfigMap redis-config: redis.conf and redis.sh."""
    haproxy_cfg: str
    redis: Json
    sentinel: Json
    haproxy: Json
    grace_seconds: int
    """The pods' terminationGracePeriodSeconds: how long the kubelet waits after SIGTERM before SIGKILL."""

    @classmethod
    def of(cls, stack: Stack) -> "Rendered":
        sts = stack.get("StatefulSet", rc.NAME)
        containers = {c["name"]: c for c in sts["spec"]["template"]["spec"]["containers"]}
        proxy = stack.get("Deployment", "redis-proxy")["spec"]["template"]["spec"]["containers"][0]
        return cls(
            namespace=sts["metadata"]["namespace"],
            replicas=sts["spec"]["replicas"],
            config=stack.get("ConfigMap", "redis-config")["data"],
            haproxy_cfg=stack.get("ConfigMap", "redis-proxy-config")["data"]["haproxy.cfg"],
            redis=containers["redis"],
            sentinel=containers.get("sentinel", {}),
            haproxy=proxy,
            grace_seconds=sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        )


@dataclass
class Node:
    ordinal: int
    port: int
    sentinel_port: int
    root: Path
    server: Optional[subprocess.Popen] = None
    sentinel: Optional[subprocess.Popen] = None

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


@dataclass
class Cluster:
    """A loopback copy of the StatefulSet (and, on demand, of the HAProxy tier)."""

    rendered: Rendered
    root: Path
    nodes: list[Node] = field(default_factory=list)
    proxy: Optional[subprocess.Popen] = None
    proxy_ports: dict[str, int] = field(default_factory=dict)
    sockets: list[socket.socket] = field(default_factory=list)
    """The sockets that hold the cluster's ports (closed last)."""
    password: str = PASSWORD
    """The Secret's password: what pods started from now on get (a rotation changes it)."""
    forced: list[str] = field(default_factory=list)
    """Processes still running when their grace period ended, so SIGKILLed (the kubelet's stop, played)."""

    def __post_init__(self) -> None:
        self._wrap_redis_cli()
        for i in range(self.rendered.replicas):
            node = Node(i, reserve_port(self.sockets), reserve_port(self.sockets), self.root / f"redis-{i}")
            for path in (node.conf_dir, node.run_dir, node.data_dir):
                path.mkdir(parents=True)
            conf = self.rendered.config["redis.conf"]
            conf = conf.replace("bind * -::*", f"bind {LOOPBACK}").replace(f"dir {rc.DATA_DIR}", f"dir {node.data_dir}")
            (node.conf_dir / "redis.conf").write_text(conf)
            script = self.paths(node, self.rendered.config["redis.sh"])
            script = script.replace(f"DATA_DIR={rc.DATA_DIR}\n", f"DATA_DIR={node.data_dir}\n")
            (node.conf_dir / "redis.sh").write_text(script)
            (node.conf_dir / "redis.sh").chmod(rc.SCRIPT_MODE)  # the ConfigMap volume's defaultMode
            self.nodes.append(node)

    def _wrap_redis_cli(self) -> None:
        real = shutil.which("redis-cli")
        assert real, "redis-cli not on PATH"
        self.bin_dir.mkdir(parents=True)
        wrapper = self.bin_dir / "redis-cli"
        # One line per call, arguments separated by US (0x1f).
        wrapper.write_text(
            "#!/bin/sh\n"
            f"{{ printf '%s\\037' \"$@\"; echo; }} >> '{self.cli_log}'\n"
            f"exec '{real}' \"$@\"\n"
        )
        wrapper.chmod(0o755)

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def cli_log(self) -> Path:
        return self.root / "redis-cli.argv"

    def cli_calls(self) -> list[list[str]]:
        """Every argv the scripts and probes passed to redis-cli so far."""
        if not self.cli_log.exists():
            return []
        return [line.split("\x1f")[:-1] for line in self.cli_log.read_text().splitlines()]

    # --- rewriting ----------------------------------------------------------------------------

    def paths(self, node: Node, text: str) -> str:
        return text.replace(rc.CONFIG_DIR, str(node.conf_dir)).replace(rc.RUN_DIR, str(node.run_dir))

    def addresses(self, text: str) -> str:
        for other in self.nodes:
            host = rc.pod_host(other.ordinal, self.rendered.namespace)
            text = text.replace(f"{host}:{rc.REDIS_PORT}", f"{LOOPBACK}:{other.port}")
            text = text.replace(f"{host}:{rc.SENTINEL_PORT}", f"{LOOPBACK}:{other.sentinel_port}")
            text = text.replace(host, LOOPBACK)
        return text

    def env(self, node: Node, container: Json, password: Optional[str] = None) -> dict[str, str]:
        """The container's env as the kubelet would set it, with addresses and ports rewritten."""
        env = {"PATH": f"{self.bin_dir}:{os.environ['PATH']}"}
        own_ports = {str(rc.REDIS_PORT): str(node.port), str(rc.SENTINEL_PORT): str(node.sentinel_port)}
        for var in container["env"]:
            source = var.get("valueFrom", {})
            if "value" in var:
                value = re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], var["value"])
                value = own_ports.get(value, self.addresses(value))
            elif source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
                value = f"{rc.NAME}-{node.ordinal}"
            elif "secretKeyRef" in source:
                assert source["secretKeyRef"]["key"] == rc.PASSWORD_KEY, var
                value = password or self.password
            else:
                raise AssertionError(f"env source not emulated: {var}")
            env[var["name"]] = value
        return env

    def command(self, node: Node, argv: Sequence[str]) -> list[str]:
        return [self.paths(node, arg) for arg in argv]

    # --- processes ----------------------------------------------------------------------------

    def _spawn(self, argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
        with log.open("ab") as out:
            return subprocess.Popen(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def start_server(self, i: int, alone: Optional[bool] = None) -> None:
        """Start pod ``i``'s redis container.

        ``alone``: run it as a stack without Sentinel does (``SENTINELS`` empty: ordinal 0 is the
        master), for tests that want plain replication; by default, when no Sentinel of the
        cluster is running. With Sentinel, redis.sh waits for a majority of them to answer.
        """
        node = self.nodes[i]
        if alone is None:
            alone = not any(n.sentinel is not None and n.sentinel.poll() is None for n in self.nodes)
        env = self.env(node, self.rendered.redis)
        if alone:
            env["SENTINELS"] = ""
        argv = self.command(node, self.rendered.redis["command"])
        node.server = self._spawn(argv, env, node.root / "server.log")

    def start_sentinel(self, i: int) -> None:
        node = self.nodes[i]
        argv = self.command(node, self.rendered.sentinel["command"])
        node.sentinel = self._spawn(argv, self.env(node, self.rendered.sentinel), node.root / "sentinel.log")

    def start_all(self, sentinels: bool = True) -> None:
        """All pods at once, as podManagementPolicy Parallel starts them."""
        for i in range(len(self.nodes)):
            self.start_server(i, alone=not sentinels)
            if sentinels:
                self.start_sentinel(i)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Signal pod ``i``'s Redis and wait for its exit (SIGTERM: as the kubelet stops it)."""
        proc = self.nodes[i].server
        assert proc is not None
        self._stop([(proc, f"redis-{i}")], sig)

    def _stop(self, processes: list[tuple[subprocess.Popen, str]], sig: int) -> None:
        """Send ``sig`` to each process that runs and wait for every one to exit.

        SIGTERM is the kubelet's stop, played: what still runs when the pod's grace period ends gets
        SIGKILL. Redis refuses a SIGTERM it cannot honour and keeps running: a replica writing its
        first AOF after a full sync ("Writing initial AOF, can't exit": redis ``src/server.c``
        ``prepareForShutdown``), or a master whose final save fails.
        """
        for proc, _ in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
        if sig == signal.SIGTERM:
            deadline = time.monotonic() + self.rendered.grace_seconds
            for proc, name in processes:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.forced.append(name)
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc, name in processes:
            self._exited(proc, name, 30)

    def _exited(self, proc: subprocess.Popen, name: str, timeout: float) -> None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} still runs {timeout:g} s after the signal\n{self.logs()}") from None

    def signal_server(self, i: int, sig: int) -> None:
        """Send a signal without waiting for an exit (SIGSTOP, SIGCONT)."""
        proc = self.nodes[i].server
        assert proc is not None
        os.killpg(proc.pid, sig)

    def stop_pod(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Stop both containers of pod ``i`` (a crash with SIGKILL, the kubelet's stop with SIGTERM)."""
        node = self.nodes[i]
        self._stop([(proc, name) for proc, name in ((node.server, f"redis-{i}"), (node.sentinel, f"sentinel-{i}"))
                    if proc is not None], sig)

    def stop_sentinel(self, i: int, sig: int = signal.SIGTERM) -> None:
        """Stop pod ``i``'s Sentinel container, without waiting for its exit."""
        proc = self.nodes[i].sentinel
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)

    def fresh_run_dir(self, i: int) -> None:
        """A new pod gets a new emptyDir: the runtime configs (sentinel.conf included) are gone."""
        run_dir = self.nodes[i].run_dir
        shutil.rmtree(run_dir)
        run_dir.mkdir()

    def start_pod(self, i: int, sentinel: bool = True) -> None:
        self.start_server(i, alone=not sentinel)
        if sentinel:
            self.start_sentinel(i)

    def start_proxy(self) -> None:
        root = self.root / "haproxy"
        root.mkdir()
        self.proxy_ports = {name: reserve_port(self.sockets) for name in ("master", "replicas", "health")}
        # Timestamped lines (the kubelet timestamps the pod's raw lines), to line them up with
        # Redis's and Sentinel's logs.
        cfg = self.addresses(self.rendered.haproxy_cfg).replace("format raw", "format iso")
        for name, port in (("master", rc.PROXY_MASTER_PORT), ("replicas", rc.PROXY_REPLICAS_PORT),
                           ("health", rc.PROXY_HEALTH_PORT)):
            cfg = cfg.replace(f"bind :{port}\n", f"bind {LOOPBACK}:{self.proxy_ports[name]}\n")
        (root / "haproxy.cfg").write_text(cfg)
        argv = [arg.replace(rc.PROXY_CONFIG_DIR, str(root)) for arg in self.rendered.haproxy["command"]]
        self.proxy = self._spawn(argv, {"PATH": os.environ["PATH"]}, root / "haproxy.log")

    def close(self) -> None:
        procs = [self.proxy] + [p for n in self.nodes for p in (n.server, n.sentinel)]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        for sock in self.sockets:
            sock.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.root.rglob("*.log")))

    def state(self, i: int) -> Optional[str]:
        """What pod ``i``'s PVC remembers of the newest master (redis.sh's state file), if anything."""
        path = self.nodes[i].data_dir / "sentinel-master"
        return path.read_text().strip() if path.exists() else None

    # --- clients ------------------------------------------------------------------------------

    def client(self, port: int, password: Optional[str] = None) -> redis_py.Redis:
        # No retries: redis-py 8 retries a failed command 10 times by default, which would hide a
        # dropped connection from the tests and turn a 3 s timeout into a minute.
        return redis_py.Redis(LOOPBACK, port, password=password or self.password, socket_timeout=3, socket_connect_timeout=2,
                              retry=Retry(NoBackoff(), 0))

    def node(self, i: int) -> redis_py.Redis:
        return self.client(self.nodes[i].port)

    def through_proxy(self, frontend: str = "master") -> redis_py.Redis:
        return self.client(self.proxy_ports[frontend])

    def replication(self, i: int) -> dict[str, Any]:
        return self.node(i).info("replication")

    def role(self, i: int) -> str:
        return self.replication(i)["role"]

    def masters(self) -> list[int]:
        found = []
        for node in self.nodes:
            try:
                if self.role(node.ordinal) == "master":
                    found.append(node.ordinal)
            except redis_py.RedisError:
                pass
        return found

    def replica_in_sync(self, i: int, master: int) -> bool:
        info = self.replication(i)
        return (
            info["role"] == "slave"
            and info["master_port"] == self.nodes[master].port
            and info["master_link_status"] == "up"
        )

    def wait_replicated(self, master: int, timeout: float = 30.0) -> None:
        for node in self.nodes:
            if node.ordinal != master and node.server is not None and node.server.poll() is None:
                wait_for(f"redis-{node.ordinal} in sync with redis-{master}\n{self.logs()}",
                         lambda n=node.ordinal: self.replica_in_sync(n, master), timeout)

    def sentinel_view(self, i: int) -> dict[str, str]:
        name = self.env(self.nodes[i], self.rendered.sentinel)["SENTINEL_MASTER"]
        reply = self.client(self.nodes[i].sentinel_port).execute_command("SENTINEL", "MASTER", name)
        return {k.decode(): v.decode() for k, v in reply.items()}

    def wait_settled(self, master: int, timeout: float = 40.0) -> None:
        """Every Sentinel monitors ``master`` and knows all replicas and all other Sentinels."""
        others = str(len(self.nodes) - 1)

        def settled() -> bool:
            views = [self.sentinel_view(n.ordinal) for n in self.nodes]
            return all(
                v["port"] == str(self.nodes[master].port) and v["num-slaves"] == others
                and v["num-other-sentinels"] == others and v["flags"] == "master"
                for v in views
            )

        self.wait_replicated(master, timeout)
        wait_for(f"Sentinels settled on redis-{master}\n{self.logs()}", settled, timeout, interval=0.5)

    def served_by(self, client: redis_py.Redis) -> int:
        """The ordinal of the node a (proxied) connection reached."""
        port = client.info("server")["tcp_port"]
        return next(n.ordinal for n in self.nodes if n.port == port)

    def run_hook(self, i: int, argv: Sequence[str], container: Json) -> subprocess.CompletedProcess:
        """Run a command as the kubelet runs a hook in the container (its env, its paths)."""
        node = self.nodes[i]
        return subprocess.run(self.command(node, argv), env=self.env(node, container),
                              capture_output=True, text=True, timeout=120)

    def run_probe(self, i: int, container: Json, probe: str, password: Optional[str] = None) -> subprocess.CompletedProcess:
        node = self.nodes[i]
        argv = self.command(node, container[probe]["exec"]["command"])
        env = self.env(node, container, password)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)

    def ready(self, i: int, password: Optional[str] = None) -> bool:
        """Pod ``i`` is Ready: the readiness probes of its Redis and Sentinel containers pass."""
        containers = [self.rendered.redis, *([self.rendered.sentinel] if self.rendered.sentinel else [])]
        return all(self.run_probe(i, c, "readinessProbe", password).returncode == 0 for c in containers)


@contextlib.contextmanager
def running(rendered: Rendered, root: Path) -> Iterator[Cluster]:
    """A cluster that is torn down afterwards, and whose scripts and probes never passed the
    password (or ``-a``) to redis-cli on a command line."""
    require_binary("redis-server")
    cluster = Cluster(rendered, root)
    try:
        yield cluster
    finally:
        cluster.close()
    passwords = {PASSWORD, cluster.password}
    leaked = [argv for argv in cluster.cli_calls() if "-a" in argv or any(p in arg for p in passwords for arg in argv)]
    assert not leaked, f"the password on a redis-cli command line: {leaked[:3]}"


def bring_up(cluster: Cluster) -> Cluster:
    """All three pods with their Sentinels, settled on redis-0, and HAProxy in front."""
    require_binary("haproxy")
    cluster.start_all()
    cluster.wait_replicated(0)
    # Sentinel learns replicas from the master's INFO, every 10 s; its first INFO often comes
    # before the replicas connected. A reset makes it ask again at once (test speed only).
    for node in cluster.nodes:
        cluster.client(node.sentinel_port).execute_command("SENTINEL", "RESET", "*")
    cluster.wait_settled(0)
    cluster.start_proxy()
    # HAProxy starts with every server up until its checks say otherwise: wait until several new
    # connections in a row (round robin over the servers it thinks up) all reach redis-0.
    wait_for("HAProxy routing only to redis-0",
             lambda: all(cluster.served_by(cluster.through_proxy()) == 0 for _ in range(6)))
    return cluster


def new_master(cluster: Cluster, old: int, timeout: float = 40) -> int:
    """The ordinal of the single master, once it is not ``old``."""
    def other() -> Optional[int]:
        found = cluster.masters()
        return found[0] + 1 if found and found != [old] and len(found) == 1 else None
    return wait_for(f"a single master other than redis-{old}", other, timeout) - 1


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
        self.started_at = time.monotonic()
        self.password = cluster.password
        """What the app authenticates with; set it to reconnect with another one (a rotation)."""

    def run(self) -> None:
        client, n, password = None, 0, self.password
        while not self.stopping.is_set():
            try:
                if password != self.password:
                    client, password = None, self.password
                client = client or self.cluster.client(self.cluster.proxy_ports["master"], password)
                key = f"w:{n}"
                n += 1
                client.set(key, key)
                if client.execute_command("WAIT", 1, 1000) >= 1:
                    self.acked.append((key, time.monotonic()))
            except (redis_py.RedisError, OSError):
                client = None
                time.sleep(0.05)

    def acked_after(self, moment: float) -> Optional[float]:
        return next((t for _, t in self.acked if t > moment), None)

    def wait_acked_after(self, moment: float, what: str, timeout: float = 60) -> float:
        """When the first write after ``moment`` was acknowledged, and a second more of writes."""
        at = wait_for(what, lambda: self.acked_after(moment), timeout)
        wait_for(f"more writes after {what}", lambda: self.acked[-1][1] > at + 1, 20)
        return at

    def longest_gap(self) -> float:
        """The longest time between two acknowledged writes (the clients' outage)."""
        return self.gap()[0]

    def gap(self) -> tuple[float, float]:
        """The longest gap between two acknowledged writes, and its start (wall clock, to match
        the processes' logs)."""
        times = [t for _, t in self.acked]
        length, start = max((b - a, a) for a, b in zip(times, times[1:]))
        return length, start - time.monotonic() + time.time()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)

    def lost_on(self, client: redis_py.Redis) -> list[str]:
        keys = [k for k, _ in self.acked]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.exists(key)
        return [k for k, present in zip(keys, pipe.execute()) if not present]
