"""The cluster-loss drill of docs/recovery.md, on real programs: the rendered backup pods (dump
step, then off-site step) copy Redis and PostgreSQL to a restic repository; then the cluster is
lost (Redis's volume, the backup PVC and the database are gone) and the runbook's data steps
(fetch.sh from the repository, restore-redis.sh, restore-postgres.sh) bring the data back.

It prints the recovery point (the age of the restored data when the loss happened) and how long
the data steps took; docs/recovery.md quotes them.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
from pathlib import Path

import pytest

from gushen_infra import backup

from .backup_harness import Recorder, Runner, cronjob_container, offsite_container, restic, restore_command, restore_container
from .conftest import Stack, require_binary
from .redis_harness import LOOPBACK, PASSWORD as REDIS_PASSWORD, Cluster, Rendered, wait_for
from .test_backup_postgres_live import PASSWORD as DB_PASSWORD, postgres, rewrite as pg_rewrite  # noqa: F401
from .test_config import prod_raw

REPOSITORY = prod_raw()["backup"]["remote"]["repository"]
REPO_PASSWORD = "Drill-repo-password-81c2"
SECRETS = {"RESTIC_PASSWORD": REPO_PASSWORD, "AWS_ACCESS_KEY_ID": "drill-key-id", "AWS_SECRET_ACCESS_KEY": "drill-secret",
           "REDIS_PASSWORD": REDIS_PASSWORD, "DATABASE_PASSWORD": DB_PASSWORD}
PORT_TAKEN = ("Address already in use", "Could not create server TCP listening socket")


def restore_redis(prod: Stack, runner: Runner, data_dir: Path, rdb: Path):
    """restore-redis.sh binds a loopback port for its own redis-server: try another port if taken."""
    container = restore_container(prod, backup.REDIS_RESTORE_POD)
    for _ in range(10):
        port = random.randint(20000, 60999)
        rewrite = {"/data": str(data_dir), backup.BACKUP_DIR: str(rdb.parent), "6379": str(port)}
        result = runner.run(container, rewrite, SECRETS, restore_command("restore-redis.sh", str(rdb)))
        if result.returncode == 0 or not any(reason in result.stderr for reason in PORT_TAKEN):
            return result
    raise AssertionError("no free port for restore-redis.sh")


@pytest.mark.parametrize("keys", [20000])
def test_cluster_loss_drill(prod, postgres, tmp_path, keys, capsys):  # noqa: F811
    require_binary("redis-server")
    require_binary("restic")
    recorder = Recorder(tmp_path)
    runner = Runner(prod, tmp_path, recorder.bin_dir)
    repo = str(tmp_path / "repository")
    restic(repo, REPO_PASSWORD, "init")
    pvc = tmp_path / "backups"
    pvc.mkdir()
    cluster = Cluster(Rendered.of(prod), tmp_path / "redis")
    try:
        cluster.start_all(sentinels=False)
        cluster.wait_replicated(0)
        master = cluster.node(0)
        pipe = master.pipeline(transaction=False)
        for i in range(keys):
            pipe.hset(f"quote:{i:06d}", mapping={"code": f"{i:06d}", "price": str(i * 0.01)})
        pipe.execute()
        assert master.execute_command("WAIT", 2, 5000) == 2
        postgres.psql("CREATE TABLE quotes (code text PRIMARY KEY, price numeric);"
                      f"INSERT INTO quotes SELECT lpad(i::text, 6, '0'), i * 0.01 FROM generate_series(1, {keys}) i;")

        # The hourly and the daily CronJob, each pod as the kubelet runs it: dump step, then off-site step.
        redis_dump = {prod.exports["redisReplicas"].rsplit(":", 1)[0]: LOOPBACK, "6379": str(cluster.nodes[1].port),
                      backup.BACKUP_DIR: str(pvc)}
        for job, dump_rewrite in ((backup.REDIS_JOB, redis_dump), (backup.POSTGRES_JOB, pg_rewrite(postgres, pvc))):
            dumped = runner.run(cronjob_container(prod, job), dump_rewrite, SECRETS)
            assert dumped.returncode == 0, dumped.stderr
            copied = runner.run(offsite_container(prod, job), {REPOSITORY: repo, backup.BACKUP_DIR: str(pvc)}, SECRETS)
            assert copied.returncode == 0, copied.stderr
        backed_up = dt.datetime.now(dt.timezone.utc)

        # Writes after the last backup: what the loss takes with it.
        master.set("after:backup", "lost")
        assert master.execute_command("WAIT", 2, 5000) == 2
        postgres.psql("INSERT INTO quotes VALUES ('after', 1); DELETE FROM quotes WHERE code = '000001';")
        time.sleep(1)

        # The loss: Redis's volume, the backup PVC and the database's contents are gone.
        lost_at = dt.datetime.now(dt.timezone.utc)
        for node in cluster.nodes:
            cluster.kill(node.ordinal)
            shutil.rmtree(node.data_dir)
            node.data_dir.mkdir()
        shutil.rmtree(pvc)
        postgres.psql("DROP TABLE quotes;")

        # The runbook's data steps, timed: fetch both from the repository, restore, verify.
        started = time.monotonic()
        workstation = tmp_path / "workstation"
        fetch_env = {REPOSITORY: repo, backup.BACKUP_DIR: str(workstation)}
        fetched = {}
        for kind, job in (("redis", backup.REDIS_JOB), ("postgres", backup.POSTGRES_JOB)):
            result = runner.run(offsite_container(prod, job), fetch_env, SECRETS, restore_command("fetch.sh", kind, "latest"))
            assert result.returncode == 0, result.stderr
            fetched[kind] = Path(result.stdout.strip())
        restored = restore_redis(prod, runner, cluster.nodes[0].data_dir, fetched["redis"])
        assert restored.returncode == 0, restored.stderr
        cluster.start_server(0)
        wait_for("redis-0 after the restore", lambda: cluster.node(0).ping())
        pg = runner.run(restore_container(prod, backup.POSTGRES_RESTORE_POD), pg_rewrite(postgres, workstation), SECRETS,
                        restore_command("restore-postgres.sh", str(fetched["postgres"])))
        assert pg.returncode == 0, pg.stderr
        redis_keys = cluster.node(0).dbsize()
        pg_rows = postgres.psql("SELECT count(*), sum(price) FROM quotes")
        data_steps = time.monotonic() - started

        assert redis_keys == keys and cluster.node(0).hget("quote:000042", "price") == b"0.42"
        assert cluster.node(0).get("after:backup") is None, "written after the backup: lost"
        assert pg_rows == f"{keys}|{sum(i * 0.01 for i in range(1, keys + 1)):.2f}", "the backup's rows, not later ones"
        stamp = dt.datetime.strptime(fetched["redis"].name[6:22], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        recovery_point = (lost_at - stamp).total_seconds()
        assert 0 < recovery_point <= (lost_at - backed_up).total_seconds() + 120
        assert REPO_PASSWORD not in recorder.text()
        with capsys.disabled():
            print(f"\ncluster-loss drill: {keys} Redis keys + {keys} PostgreSQL rows; recovery point "
                  f"{recovery_point:.1f} s (newest off-site copy's age at the loss; with the hourly schedule "
                  f"up to 1 h + a run); data steps (fetch x2, restore Redis, start it, restore PostgreSQL, "
                  f"verify) {data_steps:.1f} s")
    finally:
        cluster.close()
