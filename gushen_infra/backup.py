"""Backups: scheduled Redis and PostgreSQL dumps to a PVC on the data node (spec 18, 19.1).

The Redis volumes are ReadWriteOnce and belong to the StatefulSet, so the backup does not
mount them: CronJob ``redis-backup`` pulls a fresh RDB over the network from an in-sync
replica (``redis-replicas``), and ``postgres-backup`` runs ``pg_dump -Fc`` against the external
database. Both write dated files to PVC ``backups`` and keep the newest ``keep``. With
``remote`` on, a second step in the restic image copies each new file to an off-cluster restic
repository and applies the retention there (spec 19.1: the data node's disk, or the whole
cluster, can be lost with every local backup on it). The scripts
(:file:`backup_files/`) ship in ConfigMap ``backup-scripts``, together with the manifests of
the two restore pods an operator starts by hand (README: "Restore").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Optional, Union

import pulumi
import pulumi_kubernetes as k8s
import yaml

from . import config, cron, kinds, redis, redis_conf, workload
from .workload import HOSTNAME_LABEL, AppLabels, Json

COMPONENT = "backup"
PVC = "backups"
#: pulumi-kubernetes' annotation that skips the await after create and update (metadata/overrides.go).
SKIP_AWAIT = "pulumi.com/skipAwait"
SCRIPTS = "backup-scripts"
REDIS_JOB = "redis-backup"
POSTGRES_JOB = "postgres-backup"
REDIS_RESTORE = "redis-restore"
POSTGRES_RESTORE = "postgres-restore"
#: The pod specs of the restore pods, as kubectl takes them, in ConfigMap ``backup-scripts``.
REDIS_RESTORE_POD = f"{REDIS_RESTORE}-pod.yaml"
POSTGRES_RESTORE_POD = f"{POSTGRES_RESTORE}-pod.yaml"

SCRIPT_DIR = "/etc/backup"
BACKUP_DIR = "/backups"
FILES = Path(__file__).parent / "backup_files"
SCRIPT_FILES = (
    "common.sh", "backup-redis.sh", "backup-postgres.sh", "restore-redis.sh", "restore-postgres.sh",
    "restic.sh", "offsite.sh", "fetch.sh",
)
#: Secret with the restic repository's password and credentials (env names as keys).
REMOTE_SECRET = "backup-remote"
#: The off-site step runs as ``nobody`` (ssh needs a user the image knows) and reads the new
#: dump through the pod's fsGroup, the dump step's group.
OFFSITE_UID = 65534
#: restic's cache, on the step's emptyDir.
RESTIC_CACHE = "/tmp/restic-cache"
RESTORE_PORT = redis_conf.REDIS_PORT
#: The postgres user of the official image (alpine variant).
POSTGRES_UID = 70
BACKOFF_LIMIT = 2
HISTORY_LIMIT = 3
#: The restore pods idle this long for the operator's `kubectl exec`, then end.
RESTORE_POD_SECONDS = 4 * 3600


@dataclass(frozen=True)
class BackupsArgs:
    namespace: pulumi.Input[str]
    """Namespace to deploy into."""
    settings: config.Backup
    """Storage, time zone, and each job's schedule, retention, deadlines and resources."""
    node: str
    """The data node: the backup PVC (local-path) lives there, so every pod using it is pinned there."""
    secret_name: str
    """Secret with ``REDIS_PASSWORD`` and ``DATABASE_PASSWORD``; a fixed name (each run's pod reads it anew)."""
    redis: config.Redis
    """The Redis settings: the backup and restore use its pinned image (already on the data node)."""
    redis_replicas: pulumi.Input[str]
    """``host:port`` of the Service that reaches only in-sync replicas (``RedisCluster.replicas_endpoint``)."""
    postgres: config.Postgres
    """The external PostgreSQL server: host, port, database and user."""
    depends_on: Sequence[pulumi.Resource] = ()
    """The Secret: created before the CronJobs whose pods read it."""
    claim_provider: Optional[pulumi.ProviderResource] = None
    """Provider of PVC ``backups``: one that upserts adopts the claim a previous ``retainOnDelete`` left
    behind when backups are turned on again (none: the component's)."""
    remote_secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The restic repository's password and credentials by env name (``settings.remote`` on)."""


class Backups(pulumi.ComponentResource):
    """PVC ``backups``, ConfigMap ``backup-scripts`` and CronJobs ``redis-backup`` and ``postgres-backup``."""

    pvc_name: str
    scripts_config_map: str
    redis_job: pulumi.Output[str]
    postgres_job: pulumi.Output[str]

    def __init__(self, name: str, args: BackupsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:backup:Backups", name, None, opts)
        s, ns = args.settings, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        claim = workload.volume_claim(PVC, AppLabels(PVC, COMPONENT), s.storage.storage_class, s.storage.size)
        # No await: the provider's claim await (untilCoreV1PersistentVolumeClaimReady) accepts only
        # Pending on create for a WaitForFirstConsumer class, so the create that adopts the Bound
        # claim retainOnDelete kept would wait out its fixed 5 minutes and fail `pulumi up`; a new
        # claim is Pending at once, so skipping loses nothing (docs/changes.md).
        pvc = k8s.core.v1.PersistentVolumeClaim(
            PVC, metadata=workload.metadata(PVC, ns, AppLabels(PVC, COMPONENT), annotations={SKIP_AWAIT: "true"}),
            spec=claim["spec"],
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=s.storage.retain_on_delete, provider=args.claim_provider
            ),
        )
        self.pvc_name = PVC
        # The restore pods name the ConfigMap they live in: its name is fixed, not an output.
        data: dict[str, pulumi.Input[str]] = {f: (FILES / f).read_text() for f in SCRIPT_FILES}
        data[REDIS_RESTORE_POD] = _manifest(REDIS_RESTORE, ns, *self._redis_restore(args))
        data[POSTGRES_RESTORE_POD] = _manifest(POSTGRES_RESTORE, ns, *self._postgres_restore(args))
        scripts = k8s.core.v1.ConfigMap(
            SCRIPTS, metadata=workload.metadata(SCRIPTS, ns, AppLabels(SCRIPTS, "config")), data=data, opts=child,
        )
        self.scripts_config_map = SCRIPTS
        # The jobs name the claim and the ConfigMap (constants) and wait for them: an input taken
        # from their outputs would make the engine replace the jobs with them.
        self._after = [pvc, scripts, *args.depends_on]
        # Each run starts fresh pods, so they always read the current scripts; the digest makes a
        # script change visible on the CronJobs in a preview.
        self._scripts_checksum = pulumi.Output.from_input(data).apply(workload.checksum)

        redis_labels = AppLabels(REDIS_JOB, COMPONENT, workload.image_tag(args.redis.image))
        endpoint = pulumi.Output.from_input(args.redis_replicas)
        redis_env = [
            workload.env_value("REDIS_HOST", endpoint.apply(lambda e: e.rsplit(":", 1)[0])),
            workload.env_value("REDIS_PORT", endpoint.apply(lambda e: e.rsplit(":", 1)[1])),
            # redis-cli reads the password from here: it is on no command line.
            workload.env_secret("REDISCLI_AUTH", args.secret_name, redis_conf.PASSWORD_KEY),
            *_storage_env(s.redis.keep),
        ]
        volumes = _volumes(self.scripts_config_map, self.pvc_name)
        remote = s.remote if s.remote.enabled else None
        remote_secret = self._remote_secret(args) if remote else None
        redis_job = self._cronjob(
            REDIS_JOB, redis_labels, s.redis, s.time_zone, args, volumes,
            _container(args.redis.image, s.redis.resources, redis_env, "backup-redis.sh", redis.REDIS_UID),
            redis.REDIS_UID, _offsite(remote, "redis", remote_secret, check=False),
        )
        pg_labels = AppLabels(POSTGRES_JOB, COMPONENT, workload.image_tag(s.postgres.image))
        pg_env = [*_postgres_env(args), *_storage_env(s.postgres.keep)]
        postgres_job = self._cronjob(
            POSTGRES_JOB, pg_labels, s.postgres, s.time_zone, args, volumes,
            _container(s.postgres.image, s.postgres.resources, pg_env, "backup-postgres.sh", POSTGRES_UID),
            POSTGRES_UID, _offsite(remote, "postgres", remote_secret, check=True),
        )
        self.redis_job = redis_job.metadata["name"]
        self.postgres_job = postgres_job.metadata["name"]
        self.register_outputs({
            "pvc_name": self.pvc_name, "scripts_config_map": self.scripts_config_map,
            "redis_job": self.redis_job, "postgres_job": self.postgres_job,
        })

    def _cronjob(
        self, name: str, labels: AppLabels, job: Union[config.RedisBackup, config.PostgresBackup],
        time_zone: str, args: BackupsArgs, volumes: list[Json], container: workload.Container, uid: int,
        offsite: Optional[workload.Container] = None,
    ) -> k8s.apiextensions.CustomResource:
        # With a remote, the dump is the init step: the off-site copy starts only after a good
        # local backup, and a failed copy fails the pod with the local backup in place.
        steps = dict(init_containers=[container], containers=[offsite]) if offsite else dict(containers=[container])
        pod = workload.pod_spec(
            steps.pop("containers"), workload.pin_to_node(args.node), volumes=volumes, run_as_user=uid, **steps,
        )
        # A failed run leaves its pod for `kubectl logs`; the Job retries in a fresh one.
        pod["restartPolicy"] = "Never"
        spec = {
            "schedule": job.schedule,
            "timeZone": time_zone,
            # A slow run is never joined by the next one (both would prune the same files).
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": job.starting_deadline_seconds,
            "successfulJobsHistoryLimit": HISTORY_LIMIT,
            "failedJobsHistoryLimit": HISTORY_LIMIT,
            "suspend": False,
            "jobTemplate": {
                "metadata": {"labels": labels.all},
                "spec": {
                    "backoffLimit": BACKOFF_LIMIT,
                    "activeDeadlineSeconds": job.active_deadline_seconds,
                    "template": workload.pod_template(labels, pod, {"checksum/config": self._scripts_checksum}),
                },
            },
        }
        return kinds.register(
            kinds.CRON_JOB, name, workload.metadata(name, args.namespace, labels), spec,
            pulumi.ResourceOptions(parent=self, depends_on=self._after),
        )

    def _remote_secret(self, args: BackupsArgs) -> str:
        """Secret ``backup-remote``; its fixed name (not an output) reaches the pods, so a changed
        credential updates the Secret in place instead of replacing the CronJobs (issue 10)."""
        secret = k8s.core.v1.Secret(
            REMOTE_SECRET,
            metadata=workload.metadata(REMOTE_SECRET, args.namespace, AppLabels(REMOTE_SECRET, "config")),
            type="Opaque",
            string_data={k: pulumi.Output.secret(v) for k, v in args.remote_secrets.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._after.append(secret)
        return REMOTE_SECRET

    def _redis_restore(self, args: BackupsArgs) -> tuple[AppLabels, Json]:
        r = args.redis
        env = [
            workload.env_value("DATA_DIR", redis_conf.DATA_DIR),
            workload.env_value("BACKUP_DIR", BACKUP_DIR),
            workload.env_value("RESTORE_PORT", str(RESTORE_PORT)),
        ]
        container = _container(r.image, r.resources, env, None, redis.REDIS_UID, data_mount=True)
        # Never beside a Redis pod: it must not start while redis-0 uses the volume, and (the
        # scheduler keeps required anti-affinity both ways) Redis pods wait while it runs.
        avoid_redis = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchLabels": AppLabels(redis_conf.NAME, "redis").selector},
                    "topologyKey": HOSTNAME_LABEL,
                }]
            }
        }
        # The restore pod mounts redis-0's volume: after a scale-down no Sentinel remembers a
        # master, so redis-0 is the one that starts as master (redis.sh) and the replicas resync.
        claim = f"{args.redis.storage.claim_name}-{redis_conf.NAME}-0"
        data_volume = {"name": "data", "persistentVolumeClaim": {"claimName": claim}}
        spec = workload.pod_spec(
            [container], {**workload.pin_to_node(args.node), "affinity": avoid_redis},
            volumes=[*_volumes(SCRIPTS, PVC), data_volume], run_as_user=redis.REDIS_UID,
        )
        spec["restartPolicy"] = "Never"
        # A Redis server on Redis's data, with Redis's resources (and the policy pack's Redis cap).
        return AppLabels(REDIS_RESTORE, "redis", workload.image_tag(r.image)), spec

    def _postgres_restore(self, args: BackupsArgs) -> tuple[AppLabels, Json]:
        p = args.settings.postgres
        env = [*_postgres_env(args), workload.env_value("BACKUP_DIR", BACKUP_DIR)]
        container = _container(p.image, p.resources, env, None, POSTGRES_UID)
        spec = workload.pod_spec(
            [container], workload.pin_to_node(args.node), volumes=_volumes(SCRIPTS, PVC), run_as_user=POSTGRES_UID
        )
        spec["restartPolicy"] = "Never"
        # The backup job's labels: the NetworkPolicies give it the same way to the database.
        return AppLabels(POSTGRES_JOB, COMPONENT, workload.image_tag(p.image)), spec


def _offsite(
    remote: Optional[config.BackupRemote], kind: str, secret: Optional[pulumi.Input[str]], check: bool,
) -> Optional[workload.Container]:
    """The off-site step of a backup job (``offsite.sh`` in the restic image), or ``None``."""
    if remote is None or secret is None:
        return None
    assert remote.repository is not None, "config validation requires it when enabled"
    retention = remote.redis_retention if kind == "redis" else remote.postgres_retention
    env = [
        workload.env_value("KIND", kind),
        workload.env_value("BACKUP_DIR", BACKUP_DIR),
        workload.env_value("HOME", "/tmp"),
        workload.env_value("RESTIC_CACHE_DIR", RESTIC_CACHE),
        workload.env_value("RESTIC_REPOSITORY", remote.repository),
        workload.env_value("RESTIC_KEEP", " ".join(retention.flags())),
        # restic reads these from the env: they are on no command line.
        *(workload.env_secret(config.BACKUP_REMOTE_SECRETS[key], secret, config.BACKUP_REMOTE_SECRETS[key])
          for key in remote.secret_keys()),
    ]
    if remote.scheme == "sftp":
        user, host, port = remote.sftp_target()
        env += [
            workload.env_value("SFTP_USER", user),
            workload.env_value("SFTP_HOST", host),
            workload.env_value("SFTP_PORT", str(port)),
            workload.env_value("SFTP_KNOWN_HOSTS", (remote.sftp_known_hosts or "").strip()),
        ]
    if check:
        env.append(workload.env_value("RESTIC_CHECK_SUBSET", remote.check_read_data_subset))
    mounts = [
        {"name": "scripts", "mountPath": SCRIPT_DIR, "readOnly": True},
        {"name": "backups", "mountPath": BACKUP_DIR, "readOnly": True},
    ]
    return workload.Container(
        name="offsite", image=remote.image, resources=remote.resources.model_dump(), env=env,
        command=["sh", f"{SCRIPT_DIR}/offsite.sh"], writable_paths=("/tmp",), volume_mounts=mounts,
        run_as_user=OFFSITE_UID, pre_stop_sleep_seconds=None,
    )


def egress_target(settings: config.Backup) -> Optional[tuple[str, int]]:
    """``(cidr, port)`` the backup pods must reach for the off-site copy; ``None`` without one."""
    remote = settings.remote
    if not (settings.enabled and remote.enabled):
        return None
    assert remote.cidr is not None, "config validation requires it when enabled"
    return remote.cidr, remote.port()


def _storage_env(keep: int) -> list[Json]:
    return [workload.env_value("BACKUP_DIR", BACKUP_DIR), workload.env_value("KEEP", str(keep))]


def _postgres_env(args: BackupsArgs) -> list[Json]:
    pg = args.postgres
    return [
        workload.env_value("PGHOST", pg.host),
        workload.env_value("PGPORT", str(pg.port)),
        workload.env_value("PGDATABASE", pg.database),
        workload.env_value("PGUSER", pg.user),
        # libpq reads the password from here: it is on no command line.
        workload.env_secret("PGPASSWORD", args.secret_name, "DATABASE_PASSWORD"),
        workload.env_value("PGCONNECT_TIMEOUT", "30"),
    ]


def _volumes(scripts: pulumi.Input[str], pvc: pulumi.Input[str]) -> list[Json]:
    return [
        {"name": "scripts", "configMap": {"name": scripts, "defaultMode": 0o444}},
        {"name": "backups", "persistentVolumeClaim": {"claimName": pvc}},
    ]


def _container(
    image: str, resources: config.Resources, env: list[Json], script: Optional[str], uid: int,
    data_mount: bool = False,
) -> workload.Container:
    """A backup job's container (runs ``script``), or with ``script=None`` a restore pod's,
    which idles for the operator's ``kubectl exec`` and mounts the backups read-only."""
    mounts = [
        {"name": "scripts", "mountPath": SCRIPT_DIR, "readOnly": True},
        {"name": "backups", "mountPath": BACKUP_DIR, "readOnly": script is None},
    ]
    if data_mount:
        mounts.append({"name": "data", "mountPath": redis_conf.DATA_DIR})
    command = ["sh", f"{SCRIPT_DIR}/{script}"] if script else ["sleep", str(RESTORE_POD_SECONDS)]
    return workload.Container(
        name="backup" if script else "restore", image=image, resources=resources.model_dump(), env=env,
        command=command, writable_paths=("/tmp",), volume_mounts=mounts, run_as_user=uid,
        pre_stop_sleep_seconds=None,
    )


#: libyaml's emitter where present (the same text as ``yaml.safe_dump``'s, four times sooner).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _manifest(name: str, namespace: pulumi.Input[str], labels: AppLabels, spec: Json) -> pulumi.Output[str]:
    """A Pod manifest as YAML (``kubectl apply -f -`` takes it)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": workload.metadata(name, namespace, labels), "spec": spec}
    return pulumi.Output.from_input(pod).apply(lambda p: yaml.dump(p, Dumper=_DUMPER, sort_keys=False))


# --- how old the last good backup may be (the stale-backup alert) ---------------------------

_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def _cron_values(text: str, low: int, high: int, names: Mapping[str, int]) -> tuple[set[int], bool]:
    """The values a (validated) cron field matches, and whether it is a ``*``/``?`` wildcard."""
    out: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        if span in ("*", "?"):
            first, last = low, high
        else:
            a, _, b = span.partition("-")
            first = names[a.upper()] if a.upper() in names else int(a)
            last = (names[b.upper()] if b.upper() in names else int(b)) if b else (high if step else first)
        out.update(range(first, last + 1, int(step or 1)))
    return out, text.startswith(("*", "?"))


def schedule_gap_seconds(schedule: str) -> int:
    """The longest time between two runs of a (validated) CronJob schedule, over eight years.

    The days of month and week follow robfig/cron: when both are restricted, either matches.
    """
    fields = _MACROS.get(schedule, schedule).split()
    minutes, _ = _cron_values(fields[0], 0, 59, {})
    hours, _ = _cron_values(fields[1], 0, 23, {})
    doms, dom_star = _cron_values(fields[2], 1, 31, {})
    months, _ = _cron_values(fields[3], 1, 12, cron._MONTHS)
    dows, dow_star = _cron_values(fields[4], 0, 6, cron._DAYS)
    times = sorted(h * 3600 + m * 60 for h in hours for m in minutes)
    start, span = dt.date(2024, 1, 1), 8 * 365 + 2
    runs_days = []
    for offset in range(span):
        day = start + dt.timedelta(days=offset)
        dom_ok, dow_ok = day.day in doms, day.isoweekday() % 7 in dows
        if day.month in months and ((dom_ok and dow_ok) if (dom_star or dow_star) else (dom_ok or dow_ok)):
            runs_days.append(offset)
    assert runs_days and times, f"{schedule!r} never runs"
    gap = max((b - a for a, b in zip(times, times[1:])), default=0)
    for a, b in zip(runs_days, runs_days[1:]):
        gap = max(gap, (b - a) * 86400 - times[-1] + times[0])
    return gap


def stale_after_seconds(job: Union[config.RedisBackup, config.PostgresBackup]) -> int:
    """The age of the last successful run beyond which a run has certainly been missed: the
    longest gap between runs, plus the time a run may wait to start and then take."""
    return schedule_gap_seconds(job.schedule) + job.starting_deadline_seconds + job.active_deadline_seconds


def freshness(settings: config.Backup) -> dict[str, int]:
    """CronJob name -> the age (seconds) its last successful run may reach; empty with backups off."""
    if not settings.enabled:
        return {}
    return {REDIS_JOB: stale_after_seconds(settings.redis), POSTGRES_JOB: stale_after_seconds(settings.postgres)}
