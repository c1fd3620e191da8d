"""One real control plane on loopback: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.

The flags are those ../shared/tools/kube/README.md found to work. Each process runs in its own
process group and is stopped by that group's id (:meth:`ControlPlane.stop`, also registered with
``atexit``), so nothing outlives the session even when a test fails or pytest is interrupted.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

#: K3s's service CIDR (``--service-cidr`` default); the apiserver allocates ClusterIPs from it.
SERVICE_CIDR = "10.43.0.0/16"
START_TIMEOUT = 60.0


def free_port() -> int:
    """A loopback port free right now (the kernel picks it; nothing else on loopback asks for it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler, started from ``bin_dir``."""

    bin_dir: Path
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gushen-kube-")))
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    url: str = ""
    kubeconfig: Path = Path()
    #: Seconds from the first process start to each component being ready.
    ready_after: dict[str, float] = field(default_factory=dict)
    #: Seconds each component took to stop.
    stopped_after: dict[str, float] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "ControlPlane":
        atexit.register(self.stop)
        t0 = time.monotonic()
        try:
            etcd = self._start_etcd()
            self._wait("etcd", lambda: _http_ok(f"{etcd}/health"), t0)
            self._start_apiserver(etcd)
            self._wait("kube-apiserver", lambda: self._api_ok("/readyz"), t0)
            self._write_kubeconfig()
            self._start_controller_manager()
            scheduler_port = self._start_scheduler()
            self._wait("kube-scheduler", lambda: _https_ok(f"https://127.0.0.1:{scheduler_port}/readyz"), t0)
            # The service-account controller is the controller-manager's first visible work:
            # without the `default` ServiceAccount no pod is admitted.
            self._wait("kube-controller-manager", lambda: self._api_ok("/api/v1/namespaces/default/serviceaccounts/default"), t0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process this control plane started (by process group), then remove its files."""
        for name in reversed(list(self._procs)):
            t0 = time.monotonic()
            proc = self._procs.pop(name)
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=10)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            self.stopped_after[name] = time.monotonic() - t0
        shutil.rmtree(self.run_dir, ignore_errors=True)

    # --- processes -------------------------------------------------------------------------------

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.run_dir / f"{name}.log").open("wb")
        self._procs[name] = subprocess.Popen(
            [str(self.bin_dir / name), *args], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own process group: stop() ends all of it
            preexec_fn=_die_with_parent,
        )
        log.close()

    def _wait(self, name: str, ready: Callable[[], bool], t0: float) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            dead = [n for n, p in self._procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{dead[0]} exited" if dead else f"{name} not ready after {START_TIMEOUT:.0f} s"
                culprit = dead[0] if dead else name
                raise RuntimeError(f"control plane: {why}; last lines of its log:\n{_tail(self.run_dir / (culprit + '.log'))}")
            time.sleep(0.05)
        self.ready_after[name] = time.monotonic() - t0

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        self._spawn(
            "etcd", "--data-dir", str(self.run_dir / "etcd"), "--name", "default",
            "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",  # a throw-away store: durability buys nothing, fsyncs cost seconds
            "--log-level", "warn",
        )
        return f"http://127.0.0.1:{client}"

    def _start_apiserver(self, etcd: str) -> None:
        port = free_port()
        self.url = f"https://127.0.0.1:{port}"
        sa_key = self.run_dir / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"], check=True, capture_output=True)
        tokens = self.run_dir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        self._spawn(
            "kube-apiserver", "--etcd-servers", etcd, "--bind-address", "127.0.0.1", "--secure-port", str(port),
            "--cert-dir", str(self.run_dir / "certs"),
            "--service-account-key-file", str(sa_key), "--service-account-signing-key-file", str(sa_key),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--token-auth-file", str(tokens), "--authorization-mode", "RBAC",
            "--service-cluster-ip-range", SERVICE_CIDR, "--endpoint-reconciler-type", "none",
            "--allow-privileged=true",  # as K3s runs it
        )

    def _write_kubeconfig(self) -> None:
        self.kubeconfig = self.run_dir / "kubeconfig"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: kube\n  cluster:\n    server: {self.url}\n    certificate-authority: {self.ca_file}\n"
            f"users:\n- name: admin\n  user:\n    token: {self.token}\n"
            "contexts:\n- name: kube\n  context:\n    cluster: kube\n    user: admin\ncurrent-context: kube\n"
        )

    def _start_controller_manager(self) -> None:
        self._spawn(
            "kube-controller-manager", "--kubeconfig", str(self.kubeconfig),
            # No kubelet sends heartbeats: the node lifecycle controller would mark every node unreachable.
            "--controllers", "*,-nodelifecycle", "--leader-elect=false", "--secure-port", "0",
            "--use-service-account-credentials=false",
            "--service-account-private-key-file", str(self.run_dir / "sa.key"),
            "--root-ca-file", str(self.ca_file),
            "--flex-volume-plugin-dir", str(self.run_dir / "flexvolume"),
        )

    def _start_scheduler(self) -> int:
        port = free_port()
        kc = str(self.kubeconfig)
        self._spawn(
            "kube-scheduler", "--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
            "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(port),
        )
        return port

    @property
    def ca_file(self) -> Path:
        """The apiserver's self-signed certificate (``--cert-dir``), with its CA: what clients verify."""
        return self.run_dir / "certs" / "apiserver.crt"

    def _api_ok(self, path: str) -> bool:
        return _https_ok(self.url + path, self.token)


def _die_with_parent() -> None:
    """In the child: killed when pytest dies, even by SIGKILL (no atexit then): Linux's PR_SET_PDEATHSIG."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: stop() and atexit remain


_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
# Readiness probes only: they poll before the apiserver has written its certificate, and the
# scheduler's serving certificate is self-signed by itself. Clients verify (``ca_file``).
_INSECURE.verify_mode = ssl.CERT_NONE


def _https_ok(url: str, token: Optional[str] = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2, context=_INSECURE) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
