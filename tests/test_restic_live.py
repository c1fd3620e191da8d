"""The rendered off-site step (offsite.sh in the restic image) and fetch.sh, run on Debian's real
restic against a local-path repository and an SFTP one behind a real sshd on loopback.

Only addresses and directories are rewritten (backup_harness.Runner); the passwords come in as
the kubelet would resolve the Secret references. A wrapper on PATH records every argv of restic
and ssh, so a password on a command line would show.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gushen_infra import backup

from .backup_harness import (
    Recorder, Runner, backups, cronjob_container, offsite_container, restic, restore_command, snapshot_names,
)
from .conftest import Stack, require_binary, run_stack
from .sshd_harness import Sshd, start_sshd
from .test_backup_postgres_live import PASSWORD as DB_PASSWORD, postgres, rewrite as pg_rewrite  # noqa: F401
from .test_config import prod_raw

PROD_REPOSITORY = prod_raw()["backup"]["remote"]["repository"]
REPO_PASSWORD = "Restic-repo-password-3f9a1c"
SECRETS = {
    "RESTIC_PASSWORD": REPO_PASSWORD, "AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": "test-secret-key",
    "REDIS_PASSWORD": "unused-redis-password", "DATABASE_PASSWORD": DB_PASSWORD,
}
#: Small counts so that a test outgrows them: the prod counts (48 hourly, 14 daily) are checked
#: on the render (test_backup.py).
RETENTION = {"redisRetention": {"hourly": 3}, "postgresRetention": {"last": 3}}
SFTP_REPOSITORY = "sftp://backup@192.0.2.20:2222//srv/gushen-restic"
SFTP_KNOWN = "[192.0.2.20]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample0"


def remote_stack(**remote) -> Stack:
    raw = prod_raw()["backup"]
    return run_stack("prod", {"backup": {**raw, "remote": {**raw["remote"], **RETENTION, **remote}}})


@pytest.fixture(scope="module")
def s3_stack() -> Stack:
    return remote_stack()


@pytest.fixture(scope="module")
def sftp_stack() -> Stack:
    return remote_stack(repository=SFTP_REPOSITORY, cidr="192.0.2.20/32", sftpKnownHosts=SFTP_KNOWN)


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    require_binary("restic")
    return Recorder(tmp_path)


@pytest.fixture
def repository(tmp_path: Path, recorder) -> str:
    """A new repository, initialised once by the operator (docs/backups.md)."""
    path = str(tmp_path / "repo")
    restic(path, REPO_PASSWORD, "init")
    return path


def seed(directory: Path, kind: str, hours: range) -> dict[str, bytes]:
    """Dated backups, one per hour of 2026-01-01, with distinct content."""
    directory.mkdir(exist_ok=True)
    suffix = {"redis": ".rdb", "postgres": ".dump"}[kind]
    out = {}
    for hour in hours:
        name = f"{kind}-20260101T{hour:02d}0000Z{suffix}"
        out[name] = os.urandom(48 * 1024) + name.encode()
        (directory / name).write_bytes(out[name])
    return out


def assert_secrets_hidden(recorder: Recorder, *outputs: str, secrets=(REPO_PASSWORD,)) -> None:
    assert recorder.calls("restic"), "the wrapper saw restic run"
    for secret in secrets:
        assert secret not in recorder.text(), "a secret was on a command line"
        for output in outputs:
            assert secret not in output, "a secret was in the log"


def test_copies_new_backups_applies_retention_and_restores_byte_for_byte(s3_stack, repository, recorder, tmp_path):
    runner = Runner(s3_stack, tmp_path, recorder.bin_dir)
    local = tmp_path / "backups"
    container = offsite_container(s3_stack, backup.REDIS_JOB)
    rewrite = {PROD_REPOSITORY: repository, backup.BACKUP_DIR: str(local)}
    content = seed(local, "redis", range(0, 5))

    first = runner.run(container, rewrite, SECRETS)
    assert first.returncode == 0, first.stderr
    # A new repository starts with the newest backup.
    assert snapshot_names(repository, REPO_PASSWORD, "redis") == ["redis-20260101T040000Z.rdb"]

    # Three more runs' backups (e.g. made while the repository was down) all go up, then the
    # retention keeps the newest 3 hours.
    content |= seed(local, "redis", range(5, 8))
    second = runner.run(container, rewrite, SECRETS)
    assert second.returncode == 0, second.stderr
    assert snapshot_names(repository, REPO_PASSWORD, "redis") == [f"redis-20260101T0{h}0000Z.rdb" for h in (5, 6, 7)]
    assert "--keep-hourly=3" in recorder.calls("restic")[-1], "forget with the configured counts"
    snapshots = json.loads(restic(repository, REPO_PASSWORD, "snapshots", "--json"))
    assert sorted(s["time"][:19] for s in snapshots) == [f"2026-01-01T0{h}:00:00" for h in (5, 6, 7)], \
        "each snapshot carries its dump's time, which the hourly retention counts by"
    assert sorted(p.name for p in local.iterdir()) == sorted(content), "the local backups are untouched"

    # Restore: fetch.sh with the job's env, into an empty directory (a new cluster's view).
    restored = tmp_path / "restored"
    for wanted in ("redis-20260101T060000Z.rdb", "latest"):
        fetched = runner.run(container, {**rewrite, backup.BACKUP_DIR: str(restored)}, SECRETS,
                             restore_command("fetch.sh", "redis", wanted))
        assert fetched.returncode == 0, fetched.stderr
        path = Path(fetched.stdout.strip())
        name = "redis-20260101T070000Z.rdb" if wanted == "latest" else wanted
        assert path == restored / name
        assert path.read_bytes() == content[name], "byte for byte"
    missing = runner.run(container, {**rewrite, backup.BACKUP_DIR: str(restored)}, SECRETS,
                         restore_command("fetch.sh", "redis", "redis-20260101T010000Z.rdb"))
    assert missing.returncode != 0 and "no snapshot of redis-20260101T010000Z.rdb" in missing.stderr
    assert_secrets_hidden(recorder, first.stderr, second.stderr, fetched.stderr, fetched.stdout)


def test_a_wrong_repository_password_fails_clearly_and_keeps_everything(s3_stack, repository, recorder, tmp_path):
    runner = Runner(s3_stack, tmp_path, recorder.bin_dir)
    local = tmp_path / "backups"
    content = seed(local, "postgres", range(0, 2))
    container = offsite_container(s3_stack, backup.POSTGRES_JOB)
    wrong = "not-the-repository-password"
    result = runner.run(container, {PROD_REPOSITORY: repository, backup.BACKUP_DIR: str(local)},
                        {**SECRETS, "RESTIC_PASSWORD": wrong})
    assert result.returncode != 0
    assert "off-site copy FAILED: cannot open the repository" in result.stderr
    assert "wrong password" in result.stderr, "restic's own reason is in the log line"
    assert "the local backup postgres-20260101T010000Z.dump stays" in result.stderr
    assert {p.name: p.read_bytes() for p in local.iterdir()} == content
    assert snapshot_names(repository, REPO_PASSWORD, "postgres") == []
    assert_secrets_hidden(recorder, result.stderr, secrets=(wrong, REPO_PASSWORD))


@pytest.fixture
def refused() -> Iterator[str]:
    """An address where nothing accepts connections: a port this test holds bound but never
    listens on, so no other process can take it meanwhile."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_an_unreachable_repository_fails_the_job_and_keeps_the_local_dump(
    s3_stack, postgres, repository, recorder, refused, tmp_path,  # noqa: F811
):
    """The whole pod, on real PostgreSQL: the dump step, then the off-site step, three times:
    repository up, down (S3 endpoint refusing connections), up again."""
    runner = Runner(s3_stack, tmp_path, recorder.bin_dir)
    local = tmp_path / "backups"
    local.mkdir()
    postgres.psql("CREATE TABLE t (v int); INSERT INTO t SELECT generate_series(1, 1000);")
    dump_step, offsite_step = cronjob_container(s3_stack, backup.POSTGRES_JOB), offsite_container(s3_stack, backup.POSTGRES_JOB)
    up = {PROD_REPOSITORY: repository, backup.BACKUP_DIR: str(local)}
    down = {**up, PROD_REPOSITORY: f"s3:http://{refused}/gushen-backups"}

    def run_pod(target: dict[str, str]):
        dumped = runner.run(dump_step, pg_rewrite(postgres, local), SECRETS)
        assert dumped.returncode == 0, dumped.stderr
        time.sleep(1.1)  # backups are named by the second: the next run's gets another name
        return runner.run(offsite_step, target, SECRETS)

    assert run_pod(up).returncode == 0
    failed = run_pod(down)
    assert failed.returncode != 0, "the Job fails, so monitoring sees it"
    (first, during) = backups(local, "postgres")
    assert f"off-site copy FAILED: cannot open the repository" in failed.stderr
    assert f"the local backup {during} stays in {local}" in failed.stderr
    assert "connection refused" in failed.stderr
    assert snapshot_names(repository, REPO_PASSWORD, "postgres") == [first]

    again = run_pod(up)
    assert again.returncode == 0, again.stderr
    every = backups(local, "postgres")
    assert len(every) == 3 and snapshot_names(repository, REPO_PASSWORD, "postgres") == every, \
        "the backup made while the repository was down goes up with the next run"
    assert_secrets_hidden(recorder, failed.stderr, again.stderr, secrets=(REPO_PASSWORD, DB_PASSWORD))


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    server = start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.close()


def test_sftp_repository_through_sshd(sftp_stack, sshd: Sshd, recorder, tmp_path):
    repo_path = tmp_path / "sftp-repo"
    restic(str(repo_path), REPO_PASSWORD, "init")
    runner = Runner(sftp_stack, tmp_path, recorder.bin_dir)
    local = tmp_path / "backups"
    container = offsite_container(sftp_stack, backup.POSTGRES_JOB)
    key = sshd.client_key.read_text()
    secrets = {**SECRETS, "RESTIC_SFTP_KEY": key}
    rewrite = {
        SFTP_REPOSITORY: f"sftp://{sshd.user}@127.0.0.1:{sshd.port}/{repo_path}",
        "backup": sshd.user, "192.0.2.20": "127.0.0.1", "2222": str(sshd.port), SFTP_KNOWN: sshd.known_hosts_line,
        backup.BACKUP_DIR: str(local),
    }
    content = seed(local, "postgres", range(0, 1))
    assert runner.run(container, rewrite, secrets).returncode == 0
    content |= seed(local, "postgres", range(1, 5))
    result = runner.run(container, rewrite, secrets)
    assert result.returncode == 0, result.stderr
    assert "restic check: no errors (read 5% of the data)" in result.stderr, "the daily job checks the repository"
    assert snapshot_names(str(repo_path), REPO_PASSWORD, "postgres") == sorted(content)[-3:], "--keep-last=3"
    ssh_calls = recorder.calls("ssh")
    assert ssh_calls and all("StrictHostKeyChecking=yes" in call for call in ssh_calls), "restic went through sshd"

    restored = tmp_path / "restored"
    fetched = runner.run(container, {**rewrite, backup.BACKUP_DIR: str(restored)}, secrets,
                         restore_command("fetch.sh", "postgres", "latest"))
    assert fetched.returncode == 0, fetched.stderr
    assert (restored / "postgres-20260101T040000Z.dump").read_bytes() == content["postgres-20260101T040000Z.dump"]
    key_body = "".join(key.splitlines()[1:-1])
    assert_secrets_hidden(recorder, result.stderr, fetched.stderr, secrets=(REPO_PASSWORD, key_body[:40]))


def test_sftp_refuses_an_unknown_host_key(sftp_stack, sshd: Sshd, recorder, tmp_path):
    repo_path = tmp_path / "sftp-repo"
    restic(str(repo_path), REPO_PASSWORD, "init")
    runner = Runner(sftp_stack, tmp_path, recorder.bin_dir)
    local = tmp_path / "backups"
    seed(local, "redis", range(0, 1))
    other = sshd.known_hosts_line.rsplit(" ", 1)[0] + " AAAAC3NzaC1lZDI1NTE5AAAAIHdyb25naG9zdGtleXdyb25naG9zdGtleXdyb25naA"
    rewrite = {
        SFTP_REPOSITORY: f"sftp://{sshd.user}@127.0.0.1:{sshd.port}/{repo_path}",
        "backup": sshd.user, "192.0.2.20": "127.0.0.1", "2222": str(sshd.port), SFTP_KNOWN: other,
        backup.BACKUP_DIR: str(local),
    }
    result = runner.run(offsite_container(sftp_stack, backup.REDIS_JOB), rewrite,
                        {**SECRETS, "RESTIC_SFTP_KEY": sshd.client_key.read_text()})
    assert result.returncode != 0 and "off-site copy FAILED" in result.stderr, result.stderr
    assert snapshot_names(str(repo_path), REPO_PASSWORD, "redis") == []
