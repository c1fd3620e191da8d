"""Backups: scheduled Redis and PostgreSQL dumps to a PVC on the data node (spec 18, 19.1).

The Redis volumes are ReadWriteOnce and belong to the StatefulSet, so the backup does not
mount them: CronJob ``redis-backup`` pulls a fresh RDB over the network from an in-sync
replica (``redis-replicas``), and ``postgres-backup`` runs ``pg_dump -Fc`` against the external
database. Both write dated files to PVC ``backups`` and keep the newest ``keep``. The scripts
(:file:`backup_files/`) ship in ConfigMap ``backup-scripts``, together with the manifests of
the two restore pods an operator starts by hand (README: "Restore").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Optional, Union

import pulumi
import pulumi_kubernetes as k8s
import yaml

from . import config, redis, redis_conf, workload
from .workload import HOSTNAME_LABEL, AppLabels, Json

COMPONENT = "backup"
PVC = "backups"
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
SCRIPT_FILES = ("common.sh", "backup-redis.sh", "backup-postgres.sh", "restore-redis.sh", "restore-postgres.sh")
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
        pvc = k8s.core.v1.PersistentVolumeClaim(
            PVC, metadata=workload.metadata(PVC, ns, AppLabels(PVC, COMPONENT)), spec=claim["spec"],
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
        redis_job = self._cronjob(
            REDIS_JOB, redis_labels, s.redis, s.time_zone, args, volumes,
            _container(args.redis.image, s.redis.resources, redis_env, "backup-redis.sh", redis.REDIS_UID),
            redis.REDIS_UID,
        )
        pg_labels = AppLabels(POSTGRES_JOB, COMPONENT, workload.image_tag(s.postgres.image))
        pg_env = [*_postgres_env(args), *_storage_env(s.postgres.keep)]
        postgres_job = self._cronjob(
            POSTGRES_JOB, pg_labels, s.postgres, s.time_zone, args, volumes,
            _container(s.postgres.image, s.postgres.resources, pg_env, "backup-postgres.sh", POSTGRES_UID),
            POSTGRES_UID,
        )
        self.redis_job = redis_job.metadata.apply(lambda m: m.name)
        self.postgres_job = postgres_job.metadata.apply(lambda m: m.name)
        self.register_outputs({
            "pvc_name": self.pvc_name, "scripts_config_map": self.scripts_config_map,
            "redis_job": self.redis_job, "postgres_job": self.postgres_job,
        })

    def _cronjob(
        self, name: str, labels: AppLabels, job: Union[config.RedisBackup, config.PostgresBackup],
        time_zone: str, args: BackupsArgs, volumes: list[Json], container: workload.Container, uid: int,
    ) -> k8s.batch.v1.CronJob:
        pod = workload.pod_spec([container], workload.pin_to_node(args.node), volumes=volumes, run_as_user=uid)
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
        return k8s.batch.v1.CronJob(
            name, metadata=workload.metadata(name, args.namespace, labels), spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._after),
        )

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


def _manifest(name: str, namespace: pulumi.Input[str], labels: AppLabels, spec: Json) -> pulumi.Output[str]:
    """A Pod manifest as YAML (``kubectl apply -f -`` takes it)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": workload.metadata(name, namespace, labels), "spec": spec}
    return pulumi.Output.from_input(pod).apply(lambda p: yaml.safe_dump(p, sort_keys=False))
