"""Scheduled Redis and PostgreSQL backups and their off-cluster restic copies."""

from __future__ import annotations

import re
from typing import Annotated, Optional

from pydantic import AfterValidator, Field

from .. import cron
from .network import Cidr
from .values import Bool, Bytes, Compute, DnsLabel, Image, Resources, _Model

Cron = Annotated[str, AfterValidator(cron.cron_expression)]
TimeZone = Annotated[str, AfterValidator(cron.time_zone)]


class BackupStorage(_Model):
    """The PVC ``backups`` both CronJobs write to (local-path: it lives on the data node)."""

    storage_class: DnsLabel = "local-path"
    size: Bytes = "20Gi"
    retain_on_delete: Bool = True
    """``pulumi destroy`` or switching backups off leaves the PVC (local-path would delete the files with it)."""


class RedisBackup(_Model):
    """CronJob ``redis-backup``: an RDB pulled from an in-sync replica (``redis-cli --rdb``)."""

    schedule: Cron = "0 * * * *"
    keep: Annotated[int, Field(ge=1)] = 48
    """How many of the newest dumps stay; older ones are deleted after each good backup."""
    starting_deadline_seconds: Annotated[int, Field(ge=10)] = 600
    """A run that cannot start this long after its time is skipped (the next one comes soon)."""
    active_deadline_seconds: Annotated[int, Field(ge=60)] = 1800
    resources: Resources = Resources(
        requests=Compute(cpu="50m", memory="64Mi"), limits=Compute(cpu="500m", memory="256Mi")
    )


class PostgresBackup(_Model):
    """CronJob ``postgres-backup``: ``pg_dump -Fc`` of the external PostgreSQL database."""

    schedule: Cron = "30 3 * * *"
    keep: Annotated[int, Field(ge=1)] = 14
    image: Image = "postgres:17.6-alpine"
    """pg_dump refuses a server of a newer major version: keep this major >= the server's."""
    starting_deadline_seconds: Annotated[int, Field(ge=10)] = 3600
    active_deadline_seconds: Annotated[int, Field(ge=60)] = 10800
    resources: Resources = Resources(
        requests=Compute(cpu="100m", memory="128Mi"), limits=Compute(cpu="1000m", memory="512Mi")
    )


Count = Annotated[int, Field(ge=1)]
_RESTIC_REPOSITORY = re.compile(r"^(?P<scheme>s3|sftp|rest):(?P<rest>\S+)$")
_SFTP_URL = re.compile(r"^sftp://(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?/(?P<path>/\S*)$")
_SFTP_SHORT = re.compile(r"^sftp:(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>/\S*)$")
_HTTP_TARGET = re.compile(r"^(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)(:(?P<port>[0-9]{1,5}))?(/\S*)?$")


_WANT = "want s3:https://host/bucket, sftp://user@host:port//path or rest:https://host:port/"


def _sftp_target(repository: str) -> tuple[str, str, int]:
    """``(user, host, port)`` of an SFTP repository, in either form restic reads."""
    match = _SFTP_URL.match(repository) or _SFTP_SHORT.match(repository)
    if not match:
        raise ValueError(f"cannot read user, host and absolute path of the SFTP repository ({_WANT})")
    return match["user"], match["host"], int(match.groupdict().get("port") or 22)


def _restic_repository(value: str) -> str:
    match = _RESTIC_REPOSITORY.match(value)
    if not match:
        raise ValueError(f"not an off-cluster restic repository ({_WANT})")
    if match["scheme"] == "sftp":
        _sftp_target(value)
    elif not _HTTP_TARGET.match(match["rest"]):  # its host part has no room for user:password@
        raise ValueError(f"want an http(s) URL without credentials (they are secrets) ({_WANT})")
    port = (_SFTP_URL.match(value) or _HTTP_TARGET.match(match["rest"]) or {"port": None})["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return value


class ResticRetention(_Model):
    """``restic forget --keep-*`` counts for one kind of backup; unset counts are not passed."""

    last: Optional[Count] = None
    hourly: Optional[Count] = None
    daily: Optional[Count] = None
    weekly: Optional[Count] = None
    monthly: Optional[Count] = None

    def flags(self) -> list[str]:
        return [f"--keep-{name}={value}" for name, value in self.model_dump().items() if value is not None]

    def problems(self, key: str) -> list[str]:
        return [] if self.flags() else [f"{key}: set at least one count, or restic forget would delete everything (got {{}})"]


class BackupRemote(_Model):
    """Off-cluster copies: every new dump also goes to a restic repository outside the cluster."""

    enabled: Bool = False
    image: Image = "restic/restic:0.17.3"
    repository: Optional[Annotated[str, AfterValidator(_restic_repository)]] = None
    """``s3:https://host/bucket``, ``sftp://user@host:port//path`` or ``rest:https://host:port/``."""
    cidr: Optional[Cidr] = None
    """The repository's address (a NetworkPolicy matches no DNS name): the backup pods' only egress besides their sources."""
    sftp_known_hosts: Optional[str] = None
    """SFTP only: the server's public host key line(s) (``ssh-keyscan``), checked strictly."""
    redis_retention: ResticRetention = ResticRetention(hourly=48)
    postgres_retention: ResticRetention = ResticRetention(daily=14)
    check_read_data_subset: Annotated[str, Field(pattern=r"^([1-9][0-9]?(\.[0-9]+)?%|[1-9][0-9]*/[1-9][0-9]*)$")] = "5%"
    """``restic check --read-data-subset`` after each PostgreSQL run (daily): how much pack data to re-read."""
    resources: Resources = Resources(
        requests=Compute(cpu="50m", memory="128Mi"), limits=Compute(cpu="1000m", memory="512Mi")
    )

    @property
    def scheme(self) -> str:
        return (self.repository or "").partition(":")[0]

    def sftp_target(self) -> tuple[str, str, int]:
        """``(user, host, port)`` of the SFTP repository (only called when ``scheme`` is ``sftp``)."""
        return _sftp_target(str(self.repository))

    def port(self) -> int:
        """The TCP port the repository listens on."""
        if self.scheme == "sftp":
            return self.sftp_target()[2]
        match = _HTTP_TARGET.match(str(self.repository).split(":", 1)[1])
        assert match  # _restic_repository refused any other form
        return int(match["port"] or (443 if match["scheme"] == "https" else 80))

    def secret_keys(self) -> tuple[str, ...]:
        """The config secrets this repository needs."""
        extra = {"s3": ("resticAwsAccessKeyId", "resticAwsSecretAccessKey"), "sftp": ("resticSftpKey",)}
        return ("resticPassword", *extra.get(self.scheme, ()))

    def problems(self, key: str) -> list[str]:
        out = self.resources.problems(f"{key}.resources")
        out += self.redis_retention.problems(f"{key}.redisRetention")
        out += self.postgres_retention.problems(f"{key}.postgresRetention")
        if not self.enabled:
            return out
        if self.repository is None:
            out.append(f"{key}.repository: required when enabled is true (e.g. s3:https://s3.example.org/gushen-backups)")
        if self.cidr is None:
            out.append(f"{key}.cidr: required when enabled is true (the repository's address, e.g. 192.0.2.30/32)")
        if self.scheme == "sftp" and not (self.sftp_known_hosts or "").strip():
            out.append(f"{key}.sftpKnownHosts: required for an SFTP repository (ssh-keyscan -p PORT HOST) (got {self.sftp_known_hosts!r})")
        return out


class Backup(_Model):
    """Scheduled Redis and PostgreSQL backups to a PVC on the data node (spec 18, 19.1)."""

    enabled: Bool = False
    time_zone: TimeZone = "Etc/UTC"
    """The schedules' time zone (CronJob ``timeZone``); dump names are always in UTC."""
    storage: BackupStorage = BackupStorage()
    redis: RedisBackup = RedisBackup()
    postgres: PostgresBackup = PostgresBackup()
    remote: BackupRemote = BackupRemote()

    def problems(self, key: str) -> list[str]:
        return [
            *self.redis.resources.problems(f"{key}.redis.resources"),
            *self.postgres.resources.problems(f"{key}.postgres.resources"),
            *self.remote.problems(f"{key}.remote"),
        ]
