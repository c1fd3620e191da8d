"""backup.remote renders an off-site step after each dump step, restic's secrets only through
Secret ``backup-remote``, the retention and check from config, and egress to the repository only."""

from __future__ import annotations

import re

import pytest

from gushen_infra import backup, config

from .conftest import run_stack
from .test_backup import JOBS, container_of, env_of, offsite_of, pod_of
from .test_config import SECRET_KEYS, problems_of, prod_raw, with_change

PLACEHOLDER_REPOSITORY = "s3:https://s3.set-me.invalid/gushen-backups"
SFTP = {"repository": "sftp://backup@198.51.100.7:2222//srv/restic", "cidr": "198.51.100.7/32",
        "sftpKnownHosts": "[198.51.100.7]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"}


def with_remote(**remote):
    raw = prod_raw()["backup"]
    return run_stack("prod", {"backup": {**raw, "remote": {**raw["remote"], **remote}}})


def test_prod_copies_off_cluster_to_an_obviously_fake_placeholder(prod):
    remote = prod_raw()["backup"]["remote"]
    assert remote["enabled"] is True
    assert remote["repository"] == PLACEHOLDER_REPOSITORY and ".invalid/" in remote["repository"]
    assert remote["cidr"] == "192.0.2.30/32", "TEST-NET-1: routes nowhere"
    for name in JOBS:
        job = prod.get("CronJob", name)
        dump, offsite = container_of(job), offsite_of(job)
        assert dump["name"] == "backup" and offsite["image"] == "restic/restic:0.17.3"
        assert offsite["command"] == ["sh", "/etc/backup/offsite.sh"]
        assert env_of(offsite)["RESTIC_REPOSITORY"] == PLACEHOLDER_REPOSITORY
        assert env_of(offsite)["KIND"] == name.split("-")[0]


def test_retention_follows_the_spec_counts_and_only_the_daily_run_checks(prod):
    redis_env, pg_env = (env_of(offsite_of(prod.get("CronJob", n))) for n in JOBS)
    assert redis_env["RESTIC_KEEP"] == "--keep-hourly=48" and pg_env["RESTIC_KEEP"] == "--keep-daily=14"
    assert "RESTIC_CHECK_SUBSET" not in redis_env and pg_env["RESTIC_CHECK_SUBSET"] == "5%"
    stack = with_remote(redisRetention={"last": 10, "daily": 7}, postgresRetention={"weekly": 8, "monthly": 12},
                        checkReadDataSubset="1/7")
    redis_env, pg_env = (env_of(offsite_of(stack.get("CronJob", n))) for n in JOBS)
    assert redis_env["RESTIC_KEEP"] == "--keep-last=10 --keep-daily=7"
    assert pg_env["RESTIC_KEEP"] == "--keep-weekly=8 --keep-monthly=12" and pg_env["RESTIC_CHECK_SUBSET"] == "1/7"


def test_the_offsite_step_reads_the_dump_through_the_pods_group(prod):
    for name, uid in zip(JOBS, (999, 70)):
        pod = pod_of(prod.get("CronJob", name))
        offsite = offsite_of(prod.get("CronJob", name))
        assert pod["securityContext"]["fsGroup"] == uid == container_of(prod.get("CronJob", name))["securityContext"]["runAsUser"]
        assert offsite["securityContext"]["runAsUser"] == 65534, "nobody: ssh needs a user the image knows"
        assert offsite["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"]: m for m in offsite["volumeMounts"]}
        assert mounts["/backups"]["readOnly"] is True, "the off-site step never changes the local copy"
        assert env_of(offsite)["RESTIC_CACHE_DIR"].startswith("/tmp/") and "/tmp" in mounts
    for script in ("backup-redis.sh", "backup-postgres.sh"):
        assert "umask 027" in (backup.FILES / script).read_text(), "group-readable for the off-site step"


def test_repository_secrets_only_through_the_secret(prod):
    secret = prod.get("Secret", "backup-remote")
    assert set(secret["stringData"]) == {"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    placeholders = list(secret["stringData"].values())
    for name in JOBS:
        offsite = offsite_of(prod.get("CronJob", name))
        env = env_of(offsite)
        for key in ("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env[key] == ("secret", "backup-remote", key)
        assert not any(p in repr(prod.get("CronJob", name)) for p in placeholders)
        assert not re.search(r"PASSWORD|KEY", repr(offsite["command"]))
    for script in ("offsite.sh", "fetch.sh", "restic.sh"):
        text = (backup.FILES / script).read_text()
        assert not re.search(r"--password|\$\{?RESTIC_PASSWORD\b[^:]", text), script


#: Both forms restic reads (restic doc/030_preparing_a_new_repo.rst, "SFTP"); ssh's port is 22 unless named.
SFTP_FORMS = [
    (SFTP["repository"], ("backup", "198.51.100.7", "2222")),
    ("sftp://backup@backup.lurus.cn//srv/restic", ("backup", "backup.lurus.cn", "22")),
    ("sftp:restic-user@198.51.100.7:/srv/restic", ("restic-user", "198.51.100.7", "22")),
]


@pytest.mark.parametrize("repository, target", SFTP_FORMS)
def test_sftp_repository_gets_its_target_and_key(repository, target):
    stack = with_remote(**{**SFTP, "repository": repository})
    env = env_of(offsite_of(stack.get("CronJob", "redis-backup")))
    assert (env["SFTP_USER"], env["SFTP_HOST"], env["SFTP_PORT"]) == target
    assert env["SFTP_KNOWN_HOSTS"] == SFTP["sftpKnownHosts"]
    assert env["RESTIC_SFTP_KEY"] == ("secret", "backup-remote", "RESTIC_SFTP_KEY")
    assert "AWS_ACCESS_KEY_ID" not in env
    assert set(stack.get("Secret", "backup-remote")["stringData"]) == {"RESTIC_PASSWORD", "RESTIC_SFTP_KEY"}


@pytest.mark.parametrize("remote, port", [({}, 443), (SFTP, 2222), ({**SFTP, "repository": SFTP_FORMS[2][0]}, 22),
                                          ({"repository": "rest:http://198.51.100.8:8000/", "cidr": "198.51.100.8/32"}, 8000),
                                          ({"repository": "rest:http://198.51.100.8/", "cidr": "198.51.100.8/32"}, 80)])
def test_backup_pods_may_reach_the_repository_only(remote, port):
    network = {**prod_raw()["network"], "enabled": True}
    raw = prod_raw()["backup"]
    stack = run_stack("prod", {"network": network, "backup": {**raw, "remote": {**raw["remote"], **remote}}})
    cidr = remote.get("cidr", "192.0.2.30/32")
    for name in JOBS:
        egress = stack.get("NetworkPolicy", name)["spec"]["egress"]
        to_repository = [rule for rule in egress if rule["to"] == [{"ipBlock": {"cidr": cidr}}]]
        assert to_repository == [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}]


def test_switched_off_there_is_no_offsite_step():
    stack = with_remote(enabled=False)
    assert "backup-remote" not in {s["metadata"]["name"] for s in stack.all("Secret")}
    for name in JOBS:
        assert "initContainers" not in pod_of(stack.get("CronJob", name))
        assert pod_of(stack.get("CronJob", name))["containers"][0]["name"] == "backup"


WANT = "(want s3:https://host/bucket, sftp://user@host:port//path or rest:https://host:port/)"
BAD_REMOTE = [
    ("backup.remote.repository", "s3:https://KEY:SECRET@s3.example.org/b",
     f"gushen:backup.remote.repository: want an http(s) URL without credentials (they are secrets) {WANT} (got "),
    ("backup.remote.repository", "/srv/restic",
     f"gushen:backup.remote.repository: not an off-cluster restic repository {WANT} (got '/srv/restic')"),
    ("backup.remote.repository", "sftp:backup@host:relative/path",
     f"gushen:backup.remote.repository: cannot read user, host and absolute path of the SFTP repository {WANT} "
     "(got 'sftp:backup@host:relative/path')"),
    ("backup.remote.repository", "sftp://backup@host:99999//srv/restic",
     "gushen:backup.remote.repository: port 99999 is out of range 1-65535"),
    ("backup.remote.repository", "rest:https://198.51.100.8:0/",
     "gushen:backup.remote.repository: port 0 is out of range 1-65535 (got 'rest:https://198.51.100.8:0/')"),
    ("backup.remote.repository", "rest:https://198.51.100.8:65536/",
     "gushen:backup.remote.repository: port 65536 is out of range 1-65535 (got 'rest:https://198.51.100.8:65536/')"),
    ("backup.remote.cidr", "192.0.2.30/24", "gushen:backup.remote.cidr: invalid CIDR"),
    ("backup.remote.checkReadDataSubset", "all", "gushen:backup.remote.checkReadDataSubset: String should match pattern"),
    ("backup.remote.image", "restic/restic", "gushen:backup.remote.image: image has no tag"),
    ("backup.remote.redisRetention", {}, "gushen:backup.remote.redisRetention: set at least one count"),
    ("backup.remote.redisRetention", {"hourly": 0}, "gushen:backup.remote.redisRetention.hourly: Input should be greater"),
]


@pytest.mark.parametrize("path,value,expected", BAD_REMOTE, ids=[f"{c[0]}={c[1]!r}" for c in BAD_REMOTE])
def test_bad_remote_config_is_named(path, value, expected):
    problems = problems_of(with_change(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


@pytest.mark.parametrize("repository, port", [
    ("rest:https://198.51.100.8:1/", 1), ("rest:https://198.51.100.8:65535/", 65535),
    ("sftp://backup@198.51.100.7:65535//srv/restic", 65535), ("s3:https://s3.lurus.cn/gushen-backups/2026@v2", 443),
])
def test_a_repository_at_the_edge_of_the_port_range_is_accepted(repository, port):
    raw = with_change("backup.remote", {**prod_raw()["backup"]["remote"], "repository": repository,
                                        "sftpKnownHosts": SFTP["sftpKnownHosts"]})
    remote = config.validate(raw, SECRET_KEYS).backup.remote
    assert remote.port() == port


def test_an_enabled_remote_needs_its_target_and_secrets():
    raw = with_change("backup.remote", {"enabled": True})
    assert problems_of(raw) == [
        "gushen:backup.remote.repository: required when enabled is true (e.g. s3:https://s3.example.org/gushen-backups)",
        "gushen:backup.remote.cidr: required when enabled is true (the repository's address, e.g. 192.0.2.30/32)",
    ]
    sftp = with_change("backup.remote", {"enabled": True, "repository": SFTP["repository"], "cidr": SFTP["cidr"]})
    assert problems_of(sftp) == [
        "gushen:backup.remote.sftpKnownHosts: required for an SFTP repository (ssh-keyscan -p PORT HOST) (got None)"]
    raw = prod_raw()
    for key in ("resticPassword", "resticAwsSecretAccessKey"):
        del raw[key]
    assert problems_of(raw, SECRET_KEYS) == [
        f"gushen:{key}: required secret for backup.remote (s3 repository) is missing "
        f"(pulumi config set --secret gushen:{key} ...)" for key in ("resticPassword", "resticAwsSecretAccessKey")
    ]
    off = with_change("backup.remote.enabled", False)
    for key in config.BACKUP_REMOTE_SECRETS:
        del off[key]
    assert config.validate(off, SECRET_KEYS).backup.remote.enabled is False, "off: no restic secret is needed"
