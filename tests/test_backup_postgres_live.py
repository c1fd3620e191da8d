"""The rendered PostgreSQL backup and restore, run against a real PostgreSQL server on loopback.

Debian's PostgreSQL 15 stands in for the external server (and its pg_dump for the image's 17:
the scripts use nothing version-specific). The server refuses to run as root, so as root it
runs as the ``postgres`` user the package creates.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gushen_infra import backup

from .backup_harness import Runner, backups, cronjob_container, restore_command, restore_container, stamp_time
from .conftest import IN_CI, Stack, require_binary
from .redis_harness import LOOPBACK, free_port, wait_for

PASSWORD = "Test-db-password-0123456789"
KEEP = 14


def server_binary(name: str) -> str:
    """Debian keeps the server's binaries off PATH, under /usr/lib/postgresql/<major>/bin."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{name} is required in CI (.ci/run installs postgresql) but was not found")
    pytest.skip(f"{name} not installed (apt-get install postgresql); runs in CI")


@dataclass
class Postgres:
    port: int
    settings: dict

    def run_psql(self, sql: str) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ["PATH"], "PGPASSWORD": PASSWORD}
        argv = ["psql", "-h", LOOPBACK, "-p", str(self.port), "-U", self.settings["user"], "-d", self.settings["database"],
                "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)

    def psql(self, sql: str) -> str:
        result = self.run_psql(sql)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture
def postgres(prod: Stack) -> Iterator[Postgres]:
    initdb, server = server_binary("initdb"), server_binary("postgres")
    for client in ("psql", "pg_dump", "pg_restore"):
        require_binary(client)
    settings = {k: v for k, v in _pg_env(prod).items()}
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="gushen-pg-"))
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        pwfile = root / "pwfile"
        pwfile.write_text(PASSWORD)
        if as_user:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [*as_user, initdb, "-D", str(root / "data"), "-U", settings["user"], f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )
        port = free_port()
        with (root / "server.log").open("ab") as log:
            proc = subprocess.Popen(
                [*as_user, server, "-D", str(root / "data"), "-p", str(port), "-k", str(root),
                 "-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            db = Postgres(port, {**settings, "database": "postgres"})
            # "the database system is starting up" until it accepts connections.
            wait_for(f"PostgreSQL on {port}", lambda: db.run_psql("SELECT 1").returncode == 0, timeout=30)
            db.psql(f"CREATE DATABASE {settings['database']}")
            yield Postgres(port, settings)
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _pg_env(prod: Stack) -> dict[str, str]:
    env = {e["name"]: e.get("value") for e in cronjob_container(prod, backup.POSTGRES_JOB)["env"]}
    return {"host": env["PGHOST"], "port": env["PGPORT"], "user": env["PGUSER"], "database": env["PGDATABASE"]}


def rewrite(db: Postgres, backup_dir: Path) -> dict[str, str]:
    return {db.settings["host"]: LOOPBACK, db.settings["port"]: str(db.port), backup.BACKUP_DIR: str(backup_dir)}


def test_dump_retention_and_restore_on_real_postgres(prod, postgres, tmp_path):
    runner = Runner(prod, tmp_path)
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    postgres.psql("CREATE TABLE stocks (code text PRIMARY KEY, name text, price numeric);"
                  "INSERT INTO stocks SELECT lpad(i::text, 6, '0'), 'stock ' || i, i * 1.5 FROM generate_series(1, 100) i;"
                  "CREATE TABLE strategies (id serial PRIMARY KEY, body jsonb);"
                  """INSERT INTO strategies (body) VALUES ('{"ma": [5, 20]}');""")
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    seeded = [f"postgres-{start + dt.timedelta(days=i):%Y%m%dT%H%M%SZ}.dump" for i in range(KEEP + 2)]
    for name in seeded:
        (backup_dir / name).write_bytes(b"PGDMP an older dump")
    (backup_dir / "redis-20200101T000000Z.rdb").write_bytes(b"REDIS0010")

    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    result = runner.run(cronjob_container(prod, backup.POSTGRES_JOB), rewrite(postgres, backup_dir),
                        {"DATABASE_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stderr
    kept = backups(backup_dir, "postgres")
    (new,) = [n for n in kept if n not in seeded]
    assert started <= stamp_time(new) <= dt.datetime.now(dt.timezone.utc)
    assert kept == seeded[-(KEEP - 1):] + [new], "exactly the newest 14 remain"
    assert (backup_dir / "redis-20200101T000000Z.rdb").exists(), "the Redis backups are not this job's to prune"

    # The incident: rows deleted and updated, a table dropped.
    postgres.psql("DELETE FROM stocks WHERE code < '000051'; UPDATE stocks SET price = 0; DROP TABLE strategies;")

    container = restore_container(prod, backup.POSTGRES_RESTORE_POD)
    result = runner.run(container, rewrite(postgres, backup_dir), {"DATABASE_PASSWORD": PASSWORD},
                        restore_command("restore-postgres.sh", "latest"))
    assert result.returncode == 0, result.stderr
    assert postgres.psql("SELECT count(*), sum(price) FROM stocks") == "100|7575.0"
    assert postgres.psql("SELECT body->>'ma' FROM strategies") == "[5, 20]"


def test_a_failed_dump_keeps_nothing_and_prunes_nothing(prod, postgres, tmp_path):
    runner = Runner(prod, tmp_path)
    backup_dir = tmp_path / "backups"
    backup_dir.mkdir()
    seeded = [f"postgres-202001{d:02d}T000000Z.dump" for d in range(1, KEEP + 3)]
    for name in seeded:
        (backup_dir / name).write_bytes(b"PGDMP an older dump")
    result = runner.run(cronjob_container(prod, backup.POSTGRES_JOB), rewrite(postgres, backup_dir),
                        {"DATABASE_PASSWORD": "a-wrong-password"})
    assert result.returncode != 0 and "pg_dump failed; nothing kept" in result.stderr, result.stderr
    assert "a-wrong-password" not in result.stderr
    assert sorted(p.name for p in backup_dir.iterdir()) == seeded, "no partial dump, no pruning"
