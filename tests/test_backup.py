"""Backups renders spec 18's Redis and PostgreSQL backups as CronJobs on the data node, from config,
with the passwords only in the Secret, and restore pods that pass the policy pack."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from gushen_infra import backup, config
from policies.base import Obj
from policies.catalog import evaluate

from .conftest import run_stack
from .policy_baseline import prod_settings
from .test_config import SECRET_KEYS, prod_raw, problems_of, with_change
from .test_redis import registrations

DATA_NODE = "cloud-ubuntu-1-16c32g"
SECRET = "ai-qtrd-secrets"
#: The render's stand-ins for the two passwords (see gushen_infra.render.placeholder).
PASSWORDS = ("PLACEHOLDER-redis-password", "PLACEHOLDER-databasePassword")
JOBS = (backup.REDIS_JOB, backup.POSTGRES_JOB)


def pod_of(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container_of(cronjob: dict) -> dict:
    """The dump step: the only container, or with a remote the init container before the off-site step."""
    (container,) = pod_of(cronjob).get("initContainers") or pod_of(cronjob)["containers"]
    return container


def offsite_of(cronjob: dict) -> dict:
    assert "initContainers" in pod_of(cronjob), "the off-site step runs after the dump step"
    (container,) = pod_of(cronjob)["containers"]
    assert container["name"] == "offsite"
    return container


def env_of(container: dict) -> dict:
    out = {}
    for entry in container["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        out[entry["name"]] = ("secret", ref["name"], ref["key"]) if ref else entry["value"]
    return out


def restore_pods(stack) -> dict[str, dict]:
    data = stack.get("ConfigMap", backup.SCRIPTS)["data"]
    pods = [yaml.safe_load(data[key]) for key in (backup.REDIS_RESTORE_POD, backup.POSTGRES_RESTORE_POD)]
    return {p["metadata"]["name"]: p for p in pods}


def test_the_objects_and_their_names(prod):
    (component,) = prod.of_type("gushen:backup:Backups")
    children = {r.name for r in prod.resources if r.parent == component.urn}
    assert children == {"backups", "backup-scripts", "backup-remote", "redis-backup", "postgres-backup"}
    pvc = prod.get("PersistentVolumeClaim", "backups")
    assert pvc["metadata"]["namespace"] == "ai-qtrd"
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path", "resources": {"requests": {"storage": "50Gi"}},
    }
    for name in JOBS:
        job = prod.get("CronJob", name)
        assert job["metadata"]["namespace"] == "ai-qtrd"
        labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        # The NetworkPolicies select these pods by exactly these labels.
        assert labels["app"] == name and labels["app.kubernetes.io/component"] == "backup"
    scripts = prod.get("ConfigMap", "backup-scripts")["data"]
    for name in backup.SCRIPT_FILES:
        assert scripts[name] == (backup.FILES / name).read_text(), "the ConfigMap ships the tested scripts as they are"


def test_the_component_outputs_name_its_claim_scripts_and_jobs(prod):
    """What the state keeps for Backups: the names the runbooks use (``kubectl create job --from=cronjob/...``)."""
    (component,) = prod.of_type("gushen:backup:Backups")
    assert component.outputs == {"pvc_name": "backups", "scripts_config_map": "backup-scripts",
                                 "redis_job": "redis-backup", "postgres_job": "postgres-backup"}
    for kind, key in (("PersistentVolumeClaim", "pvc_name"), ("ConfigMap", "scripts_config_map"),
                      ("CronJob", "redis_job"), ("CronJob", "postgres_job")):
        prod.get(kind, component.outputs[key])


def test_prod_schedules_and_retention_follow_the_spec(prod):
    redis_job, pg_job = (prod.get("CronJob", name)["spec"] for name in JOBS)
    assert redis_job["schedule"] == "0 * * * *" and env_of(container_of(prod.get("CronJob", "redis-backup")))["KEEP"] == "48"
    assert pg_job["schedule"] == "30 3 * * *" and env_of(container_of(prod.get("CronJob", "postgres-backup")))["KEEP"] == "14"
    assert redis_job["timeZone"] == pg_job["timeZone"] == "Asia/Shanghai"


def test_schedules_retention_and_deadlines_come_from_config():
    raw = copy.deepcopy(prod_raw()["backup"])
    raw["timeZone"] = "Etc/UTC"
    raw["redis"].update(schedule="*/30 * * * *", keep=5, startingDeadlineSeconds=120, activeDeadlineSeconds=900)
    raw["postgres"].update(schedule="@weekly", keep=3, image="postgres:16.4-alpine", activeDeadlineSeconds=600)
    raw["storage"].update(size="7Gi", storageClass="fast-local")
    stack = run_stack("prod", {"backup": raw})
    redis_job, pg_job = (stack.get("CronJob", name) for name in JOBS)
    assert redis_job["spec"]["schedule"] == "*/30 * * * *" and pg_job["spec"]["schedule"] == "@weekly"
    assert redis_job["spec"]["timeZone"] == pg_job["spec"]["timeZone"] == "Etc/UTC"
    assert env_of(container_of(redis_job))["KEEP"] == "5" and env_of(container_of(pg_job))["KEEP"] == "3"
    assert redis_job["spec"]["startingDeadlineSeconds"] == 120
    assert redis_job["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 900
    assert pg_job["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 600
    assert container_of(pg_job)["image"] == "postgres:16.4-alpine"
    assert restore_pods(stack)["postgres-restore"]["spec"]["containers"][0]["image"] == "postgres:16.4-alpine"
    pvc = stack.get("PersistentVolumeClaim", "backups")["spec"]
    assert pvc["resources"]["requests"]["storage"] == "7Gi" and pvc["storageClassName"] == "fast-local"


@pytest.mark.parametrize("retain", [True, False])
def test_the_backup_volume_outlives_the_stack(retain):
    raw = copy.deepcopy(prod_raw()["backup"])
    raw["storage"]["retainOnDelete"] = retain
    with registrations() as seen:
        run_stack("prod", {"backup": raw})
    (pvc,) = [r for r in seen if r.type == "kubernetes:core/v1:PersistentVolumeClaim"]
    assert pvc.retainOnDelete is retain, "destroy or switching off must not take the backups with it"
    assert not pvc.protect, "it does not block `pulumi destroy`"


def test_switched_off_there_is_no_backup_object():
    stack = run_stack("prod", {"backup": {**prod_raw()["backup"], "enabled": False}})
    assert stack.of_type("gushen:backup:Backups") == []
    assert stack.all("CronJob") == [] and stack.all("PersistentVolumeClaim") == []
    assert "backup-scripts" not in {m["metadata"]["name"] for m in stack.all("ConfigMap")}


def test_jobs_never_overlap_and_are_bounded(prod):
    for name in JOBS:
        spec = prod.get("CronJob", name)["spec"]
        assert spec["concurrencyPolicy"] == "Forbid" and spec["suspend"] is False
        assert spec["startingDeadlineSeconds"] > 0
        assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 3
        job = spec["jobTemplate"]["spec"]
        assert job["backoffLimit"] == 2 and job["activeDeadlineSeconds"] > 0
        assert job["template"]["spec"]["restartPolicy"] == "Never"
    # An hourly run must give up before the next one is due.
    assert prod.get("CronJob", "redis-backup")["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] < 3600


def test_jobs_run_on_the_data_node_with_the_backup_volume_and_secure_defaults(prod):
    redis_image = prod.get("StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]["image"]
    for name in JOBS:
        job = prod.get("CronJob", name)
        pod, c = pod_of(job), container_of(job)
        assert pod["nodeSelector"] == {"kubernetes.io/hostname": DATA_NODE}, "a local-path volume lives on one node"
        assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
        assert c["imagePullPolicy"] == "Never" and c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"]["limits"] and c["resources"]["requests"]
        assert "livenessProbe" not in c and "readinessProbe" not in c
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[mounts["/backups"]["name"]]["persistentVolumeClaim"] == {"claimName": "backups"}
        assert volumes[mounts["/etc/backup"]["name"]]["configMap"]["name"] == "backup-scripts"
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
        assert not any("redis-data-redis" in repr(v) for v in pod["volumes"]), "Redis data goes over the network"
    assert container_of(prod.get("CronJob", "redis-backup"))["image"] == redis_image
    assert container_of(prod.get("CronJob", "postgres-backup"))["image"] == "postgres:17.6-alpine"


def test_jobs_reach_the_replicas_and_the_database_from_config(prod):
    redis_env = env_of(container_of(prod.get("CronJob", "redis-backup")))
    host, port = prod.exports["redisReplicas"].rsplit(":", 1)
    assert (redis_env["REDIS_HOST"], redis_env["REDIS_PORT"]) == (host, port)
    assert host.startswith("redis-replicas."), "the Service that reaches only in-sync replicas, never the master"
    assert container_of(prod.get("CronJob", "redis-backup"))["command"] == ["sh", "/etc/backup/backup-redis.sh"]
    pg_env = env_of(container_of(prod.get("CronJob", "postgres-backup")))
    pg = prod_raw()["postgres"]
    assert (pg_env["PGHOST"], pg_env["PGPORT"], pg_env["PGDATABASE"], pg_env["PGUSER"]) == (
        pg["host"], str(pg["port"]), pg["database"], pg["user"])


def test_passwords_come_from_the_secret_and_are_on_no_command_line(prod):
    redis_env = env_of(container_of(prod.get("CronJob", "redis-backup")))
    pg_env = env_of(container_of(prod.get("CronJob", "postgres-backup")))
    assert redis_env["REDISCLI_AUTH"] == ("secret", SECRET, "REDIS_PASSWORD")
    assert pg_env["PGPASSWORD"] == ("secret", SECRET, "DATABASE_PASSWORD")
    assert {"REDIS_PASSWORD", "DATABASE_PASSWORD"} <= set(prod.get("Secret", SECRET)["stringData"])
    rendered = [prod.get("CronJob", n) for n in JOBS] + [prod.get("ConfigMap", "backup-scripts")]
    for password in PASSWORDS:
        assert password not in repr(rendered)
    containers = [container_of(prod.get("CronJob", n)) for n in JOBS]
    containers += [p["spec"]["containers"][0] for p in restore_pods(prod).values()]
    for c in containers:
        assert not re.search(r"PASSWORD|AUTH| -a |--pass", repr(c["command"]))
    # The scripts never expand a password into an argument: the clients read it from the env.
    for name in backup.SCRIPT_FILES:
        text = (backup.FILES / name).read_text()
        assert not re.search(r"\$\{?(REDISCLI_AUTH|PGPASSWORD|REDIS_PASSWORD)\b", text), name
        assert not re.search(r"redis-cli[^\n]* -a ", text) and "--password" not in text, name


def test_restore_pods_are_ready_to_apply_and_guarded(prod):
    pods = restore_pods(prod)
    assert set(pods) == {"redis-restore", "postgres-restore"}
    redis_pod = pods["redis-restore"]
    assert redis_pod["metadata"]["namespace"] == "ai-qtrd"
    spec = redis_pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": DATA_NODE} and spec["restartPolicy"] == "Never"
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    redis_labels = prod.get("StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    assert term["labelSelector"]["matchLabels"].items() <= redis_labels.items(), "never beside a running Redis pod"
    assert term["topologyKey"] == "kubernetes.io/hostname"
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    claim = prod.get("StatefulSet", "redis")["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert volumes[mounts["/data"]["name"]]["persistentVolumeClaim"]["claimName"] == f"{claim}-redis-0"
    assert mounts["/backups"]["readOnly"] is True
    assert spec["containers"][0]["image"] == prod.get("StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]["image"]
    pg_pod = pods["postgres-restore"]
    assert pg_pod["metadata"]["labels"]["app"] == "postgres-backup", "the backup job's way to the database"
    assert env_of(pg_pod["spec"]["containers"][0])["PGPASSWORD"] == ("secret", SECRET, "DATABASE_PASSWORD")
    assert pg_pod["spec"]["containers"][0]["volumeMounts"][-1] == {"name": "backups", "mountPath": "/backups", "readOnly": True}


def test_jobs_and_restore_pods_pass_the_policy_pack(prod):
    manifests = prod.manifests + list(restore_pods(prod).values())
    violations = evaluate([Obj.from_manifest(m) for m in manifests], prod_settings())
    ours = {*JOBS, "redis-restore", "postgres-restore", "backups", "backup-scripts"}
    assert [v.line for v in violations if v.name in ours] == []


def test_the_policy_pack_holds_the_jobs_to_the_data_node(prod):
    """The pack does look at them: a backup pod off the data node is a violation."""
    job = copy.deepcopy(prod.get("CronJob", "redis-backup"))
    pod_of(job)["nodeSelector"] = {"kubernetes.io/hostname": "cloud-ubuntu-2-4c8g"}
    lines = [v.line for v in evaluate([Obj.from_manifest(job)], prod_settings()) if v.policy == "node-placement"]
    assert lines and "backup pods must be pinned" in lines[0]


BAD_CASES = [
    ("backup.redis.schedule", "61 * * * *",
     "gushen:backup.redis.schedule: invalid cron expression: minute field: 61 is out of range 0-59 (got '61 * * * *')"),
    ("backup.postgres.schedule", "30 3 * *",
     "gushen:backup.postgres.schedule: invalid cron expression: want 5 fields"),
    ("backup.redis.schedule", "@every 1h", "gushen:backup.redis.schedule: invalid cron expression: unknown macro"),
    ("backup.redis.keep", 0, "gushen:backup.redis.keep: Input should be greater than or equal to 1 (got 0)"),
    ("backup.postgres.keep", -3, "gushen:backup.postgres.keep: Input should be greater than or equal to 1 (got -3)"),
    ("backup.timeZone", "Beijing", "gushen:backup.timeZone: unknown time zone"),
    ("backup.postgres.image", "postgres:latest", "gushen:backup.postgres.image: image is tagged 'latest'"),
    ("backup.postgres.image", "postgres", "gushen:backup.postgres.image: image has no tag"),
    ("backup.storage.size", "50GB", "gushen:backup.storage.size: malformed quantity; Kubernetes spells it '50Gi' (powers of 1024, what memory sizes use) or '50G' (powers of 1000) (got '50GB')"),
    ("backup.redis.resources.requests.memory", "1Gi",
     "gushen:backup.redis.resources.requests.memory: request '1Gi' is above the limit '256Mi'"),
    ("backup.redis.kep", 5, "gushen:backup.redis.kep: unknown key"),
]


@pytest.mark.parametrize("path,value,expected", BAD_CASES, ids=[f"{c[0]}={c[1]!r}" for c in BAD_CASES])
def test_bad_backup_config_is_named(path, value, expected):
    problems = problems_of(with_change(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]
    assert repr(value) in problems[0], "the message quotes the value"


def test_defaults_are_the_spec_values_and_off():
    """A stack without the section (the dev stack, say) gets no backups; the defaults are prod's."""
    raw = prod_raw()
    del raw["backup"]
    settings = config.validate(raw, set(config.SECRET_KEYS))
    assert settings.backup.enabled is False
    assert (settings.backup.redis.schedule, settings.backup.redis.keep) == ("0 * * * *", 48)
    assert (settings.backup.postgres.schedule, settings.backup.postgres.keep) == ("30 3 * * *", 14)
