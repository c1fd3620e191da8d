"""e2e.yml's Redis check on the real K3s: writes through ``redis-service`` reach the master, and
deleting the master pod fails over with no acknowledged write lost.

The writer is the live tests' (``tests/redis_harness.py``, ``Writer``: a write counts once ``WAIT 1``
says a replica has it); here it writes through ``kubectl port-forward`` to the Service the apps use.
Run from the repository root with the program's venv:
``.venv/bin/python .github/workflows/e2e_failover.py <namespace>`` (the stack's ``gushen:namespace``).
Exit status 0 means every check passed; the reasons for a failure are printed.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis as redis_py
from redis.backoff import NoBackoff
from redis.retry import Retry

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.redis_harness import Writer, wait_for  # noqa: E402 (after the path)

NAMESPACE = sys.argv[1] if len(sys.argv) > 1 else "ai-qtrd"
LOCAL_PORT = 16379


def kubectl(*args: str) -> str:
    return subprocess.run(["kubectl", "-n", NAMESPACE, *args], check=True, capture_output=True, text=True).stdout


class ThroughService:
    """What Writer needs of a cluster: clients on the port that leads to the master (redis-service)."""

    def __init__(self, password: str):
        self.password = password
        self.proxy_ports = {"master": LOCAL_PORT}

    def client(self, port: int) -> redis_py.Redis:
        return redis_py.Redis("127.0.0.1", port, password=self.password, socket_timeout=3,
                              socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))


def master_pod(service: ThroughService) -> str:
    """The pod redis-service leads to, after checking it is the master and every other pod its replica.

    Replicas announce their pod's DNS name (``replica-announce-ip``, redis.sh), ``redis-N.<headless>...``.
    """
    info = service.client(LOCAL_PORT).info("replication")
    assert info["role"] == "master", f"redis-service led to a {info['role']}"
    announced = {str(info[k]["ip"]) for k in info if k.startswith("slave") and isinstance(info[k], dict)}
    pods = json.loads(kubectl("get", "pods", "-l", "app=redis", "-o", "json"))["items"]
    names = {p["metadata"]["name"]: p["status"].get("podIP") for p in pods}
    replicas = {name for name, ip in names.items() if ip in announced or name in {a.split(".")[0] for a in announced}}
    (master,) = set(names) - replicas  # ValueError until every other pod replicates
    return master


def new_master(service: ThroughService, old: str | None) -> str | None:
    """The master's pod once it is not ``old`` and the others replicate it; None until then."""
    try:
        master = master_pod(service)
    except (AssertionError, ValueError, redis_py.RedisError, OSError):
        return None
    return master if master != old else None


def port_open() -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", LOCAL_PORT)) == 0


def main() -> int:
    secret = json.loads(kubectl("get", "secret", "ai-qtrd-secrets", "-o", "json"))
    password = base64.b64decode(secret["data"]["REDIS_PASSWORD"]).decode()
    forward = subprocess.Popen(["kubectl", "-n", NAMESPACE, "port-forward", "svc/redis-service", f"{LOCAL_PORT}:6379"])
    try:
        wait_for("the port-forward to redis-service", port_open, timeout=30)
        service = ThroughService(password)
        old = wait_for("a master replicated by every other pod", lambda: new_master(service, None), timeout=120)
        print(f"writes through redis-service reach the master, {old}")
        writer = Writer.running(service)  # type: ignore[arg-type]  # duck-typed: client() and proxy_ports
        deleted_at = time.monotonic()
        kubectl("delete", "pod", old, "--wait=false")
        writer.wait_acked_after(deleted_at, f"writes acknowledged after deleting {old}", timeout=90)
        writer.stop()
        # The deleted pod comes back as a replica of the new master.
        new = wait_for("a new master replicated by every other pod", lambda: new_master(service, old), timeout=120)
        lost = writer.lost_on(service.client(LOCAL_PORT))
        print(f"failover {old} -> {new}: {len(writer.acked)} acknowledged writes, {len(lost)} lost, "
              f"longest gap {writer.longest_gap():.1f} s")
        assert not lost, f"acknowledged writes lost: {lost[:10]}"
        return 0
    finally:
        forward.terminate()
        forward.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
