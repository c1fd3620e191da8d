"""An OpenSSH server on loopback for the SFTP restic repository: its own host key, one client
key in its own authorized_keys, everything in a temp dir. The port is picked at random and sshd
binds it itself; a port someone else holds makes sshd exit, and the next port is tried."""

from __future__ import annotations

import getpass
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .conftest import require_binary, stop_process
from .redis_harness import LOOPBACK

BIND_FAILED = ("Address already in use", "Cannot bind any address")


@dataclass
class Sshd:
    process: subprocess.Popen
    port: int
    user: str
    client_key: Path
    known_hosts_line: str

    def close(self) -> None:
        stop_process(self.process)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


def start_sshd(root: Path, attempts: int = 20) -> Sshd:
    sshd = require_binary("sshd")  # an absolute path: sshd re-executes itself
    require_binary("ssh-keygen")
    root.mkdir(parents=True, exist_ok=True)
    host_key, client_key = root / "host_ed25519", root / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    (root / "authorized_keys").write_text((root / "client_ed25519.pub").read_text())
    if os.geteuid() == 0:
        # sshd started as root insists on its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    for _ in range(attempts):
        port = random.randint(20000, 60999)
        config = root / "sshd_config"
        config.write_text("\n".join([
            f"Port {port}", f"ListenAddress {LOOPBACK}", f"HostKey {host_key}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}", "PidFile none", "StrictModes no", "UsePAM no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp", "LogLevel VERBOSE", "",
        ]))
        log = root / f"sshd-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if f"Server listening on {LOOPBACK} port {port}" in text:
                known = f"[{LOOPBACK}]:{port} " + " ".join((root / "host_ed25519.pub").read_text().split()[:2])
                return Sshd(process, port, getpass.getuser(), client_key, known)
            if process.poll() is not None:
                break
            time.sleep(0.05)
        stop_process(process)
        text = log.read_text(errors="replace")
        if not any(reason in text for reason in BIND_FAILED):
            raise AssertionError(f"sshd did not start: {text}")
    raise AssertionError(f"sshd found no free port in {attempts} attempts")
