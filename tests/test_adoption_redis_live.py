"""An old Redis pod that restarts after the adoption run updated ConfigMap ``redis-config`` but
before our StatefulSet replaced it (docs/adoption.md, step 5), on real ``redis-server``.

The old pods mount the whole ConfigMap at ``/etc/redis`` and run ``redis-server
/etc/redis/redis.conf`` with their role on the command line (tests/fixtures/live-cluster.yaml);
the kubelet refreshes the mounted file, so a container restart (liveness, OOM) reads this
program's ``redis.conf`` with the old command line. The kube tier shows the file is the new one
(tests/test_kube_runbook.py); here is what redis-server does with it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import redis as redis_py
import yaml

from .conftest import stop_process
from .redis_harness import LOOPBACK, PASSWORD, free_port, require_binary, wait_for
from .test_adoption import FIXTURE

#: Directives an old pod may read anew without risk: where it listens (``bind``), when a master
#: refuses writes (``min-replicas-*``), how it starts a full sync (``repl-diskless-sync-delay``),
#: and ACL users (``user``: HAProxy's PING/INFO-only health check; the old command line's
#: ``--requirepass`` still sets the default user's password). The rest (persistence, dir, memory)
#: must be the live values, or its restart loads other data (``appendonly no`` ignores the AOF:
#: every write since the last RDB is gone) or evicts keys (a smaller ``maxmemory``).
SAFE_TO_CHANGE = {"bind", "min-replicas-to-write", "min-replicas-max-lag", "repl-diskless-sync-delay", "user"}
KEYS = 2000


def directives(conf: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in conf.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            out.setdefault(name, []).append(value)
    return out


def live_conf() -> str:
    doc = next(d for d in yaml.safe_load_all(FIXTURE.read_text()) if d and d["metadata"]["name"] == "redis-config")
    return doc["data"]["redis.conf"]


def new_conf(prod) -> str:
    cm = next(r for r in prod.resources if r.inputs.get("kind") == "ConfigMap"
              and r.inputs["metadata"]["name"] == "redis-config")
    return cm.inputs["data"]["redis.conf"]


def test_an_old_pod_reads_only_safe_changes_in_the_new_config(prod):
    """Persistence, data directory and memory lines are the live ones: only ``SAFE_TO_CHANGE`` differ."""
    old, new = directives(live_conf()), directives(new_conf(prod))
    changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    assert changed <= SAFE_TO_CHANGE, changed


class Server:
    """redis-server as the old pod runs it: the config file, then its role on the command line."""

    def __init__(self, conf: str, data: Path, port: int, *role: str):
        # The pod's /data is ``data`` here (redis-server changes into it while reading the file;
        # the dir line itself is the live one, test above).
        path = data.parent / f"{data.name}-{port}.conf"
        path.write_text(re.sub(r"(?m)^dir .*$", f"dir {data}", conf))
        args = [require_binary("redis-server"), str(path), "--port", str(port),
                "--bind", LOOPBACK, "--requirepass", PASSWORD, *role]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.client = redis_py.Redis(LOOPBACK, port, password=PASSWORD, socket_timeout=5)
        wait_for(f"redis on {port} loaded", lambda: self.client.ping() and
                 self.client.info("persistence")["loading"] == 0)

    def stop(self) -> None:
        stop_process(self.process)  # SIGTERM: what the kubelet sends before a restart


def test_an_old_master_restarting_with_the_new_config_keeps_its_data_and_takes_no_write_alone(prod, tmp_path):
    old_conf, conf = live_conf(), new_conf(prod)
    data, replica_data = tmp_path / "data", tmp_path / "replica"
    data.mkdir()
    replica_data.mkdir()
    port = free_port()
    master = Server(old_conf, data, port)
    servers = [master]
    try:
        pipe = master.client.pipeline()
        for i in range(KEYS):
            pipe.set(f"k{i}", i)
        pipe.execute()
        master.stop()
        # The container restarts: same volume, same command line (redis-0: master), the new file.
        master = Server(conf, data, port)
        servers.append(master)
        assert master.client.dbsize() == KEYS
        # No replica yet (step 4 deleted redis-1, the roll is replacing redis-2): a lone master takes
        # no write, so a failover the new Sentinels ran meanwhile cannot lose what it acknowledged.
        with pytest.raises(redis_py.ResponseError, match="NOREPLICAS"):
            master.client.set("during", "1")
        replica = Server(conf, replica_data, free_port(), "--replicaof", LOOPBACK, str(port), "--masterauth", PASSWORD)
        servers.append(replica)
        wait_for("the replica in sync", lambda: replica.client.info("replication")["master_link_status"] == "up"
                 and master.client.info("replication")["connected_slaves"] == 1)
        assert master.client.set("after", "1")
    finally:
        for s in servers:
            if s.process.poll() is None:
                s.stop()
