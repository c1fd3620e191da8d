"""The engine model meets the server: every everyday change of ``docs/changes.md`` (and the changes
only the server shows) applied on top of its "before" stack on a real kube-apiserver 1.36.

For each row :mod:`tests.engine_model` plans the steps; each object the plan sends is sent as
pulumi-kubernetes would send it, as a dry-run on the live "before" objects (an update is
``ssaUpdate``'s server-side apply, a create ``await.Creation``): where the model says *update in
place* (or create, adopt) the server must accept it, where it says *replace* (or the update
fails: protected, AlreadyExists, a refused resize) the server must refuse the in-place request.
:func:`disagreements` is the comparison; an empty list is the proof.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Optional

import kubernetes
import pytest
from kubernetes.dynamic.exceptions import DynamicApiError

from gushen_infra import render

from . import engine_model as em
from .kube.stack import in_namespace, objects_of
from .test_change_impact import CHANGES, REDIS, WEB, Change, _freeze, _run

pytestmark = pytest.mark.kube

ACCEPTS = (em.UPDATE, em.CREATE, em.ADOPT)
REFUSES = (em.REPLACE, em.FAIL)
Recording = list[render.Recorded]
PROD = str([])  # the state key of rows that start from the prod stack as it is
WITH_JOB = "with-job"  # ... plus a backup Job, its claim bound


@dataclass(frozen=True)
class Row:
    """One change: the recordings before and after, the objects already in the cluster, the plan."""

    title: str
    before: Callable[[], Recording]
    after: Callable[[], Recording]
    plan: Callable[[], dict[str, em.Step]]
    live: tuple[tuple[str, str, str], ...] = ()
    state: str = PROD
    """Which "before" cluster the row starts from (rows sharing one share the deployed objects)."""


def config_row(change: Change) -> Row:
    before = lambda: _run(tuple(sorted(_freeze(change.before).items())), frozenset())  # noqa: E731
    after = lambda: _run(tuple(sorted(_freeze(change.after).items())), change.rotate)  # noqa: E731
    return Row(change.title, before, after, change.plan, change.live, str(sorted(_freeze(change.before).items())))


def _edited(recs: Recording, kind: str, name: str, edit: Callable[[dict], Any]) -> Recording:
    out = []
    for r in recs:
        if r.inputs.get("kind") == kind and r.name == name:
            inputs = copy.deepcopy(r.inputs)
            edit(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        out.append(r)
    return out


def _prod() -> Recording:
    return _run((), frozenset())


def edit_row(title: str, kind: str, name: str, edit: Callable[[dict], Any],
             base: Callable[[], Recording] = _prod, state: str = PROD) -> Row:
    """A change of one object's inputs that no everyday config key makes (a manifest edited by
    hand, a new program version), on top of ``base``."""
    after = lambda: _edited(base(), kind, name, edit)  # noqa: E731
    return Row(title, base, after, lambda: em.plan(base(), after()), state=state)


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def edit(inputs: dict) -> None:
        node = inputs
        *parents, last = path.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    return edit


def _toggle_pod_management(inputs: dict) -> None:
    spec = inputs["spec"]
    spec["podManagementPolicy"] = "OrderedReady" if spec.get("podManagementPolicy") == "Parallel" else "Parallel"


def _selector_changed(inputs: dict) -> None:
    """A new selector label, on the pods too (else the server refuses a selector that misses them)."""
    spec = inputs["spec"]
    spec["selector"]["matchLabels"] = {**spec["selector"]["matchLabels"], "app.kubernetes.io/track": "stable"}
    spec["template"]["metadata"]["labels"] = {**spec["template"]["metadata"]["labels"], "app.kubernetes.io/track": "stable"}


def _with_job() -> Recording:
    """The prod program plus a Job made from CronJob redis-backup (``kubectl create job --from``)."""
    recs = _prod()
    cron = next(r for r in recs if r.inputs.get("kind") == "CronJob" and r.name == "redis-backup")
    inputs = copy.deepcopy(cron.inputs)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {**inputs["metadata"], "name": "redis-backup-manual"},
           "spec": inputs["spec"]["jobTemplate"]["spec"]}
    rec = dataclasses.replace(cron, type="kubernetes:batch/v1:Job", name="redis-backup-manual", inputs=job,
                              urn=cron.urn.replace("batch/v1:CronJob::redis-backup", "batch/v1:Job::redis-backup-manual"))
    return [*recs, rec]


def _job_image(inputs: dict) -> None:
    inputs["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:7.4.2-alpine"


#: Changes the server shows and the docs' table lacks.
SERVER_ROWS = [
    # The claim bound, as in prod (a backup Job has used it): the resize meets the admission check.
    edit_row("backup claim resized on local-path (what `backup.storage.size` changes)", "PersistentVolumeClaim", "backups",
             _set("spec.resources.requests.storage", "60Gi"), _with_job, WITH_JOB),
    edit_row("StatefulSet podManagementPolicy", "StatefulSet", REDIS, _toggle_pod_management),
    edit_row("StatefulSet serviceName", "StatefulSet", REDIS, _set("spec.serviceName", "redis-service")),
    edit_row("StatefulSet volumeClaimTemplates access mode", "StatefulSet", REDIS,
             _set("spec.volumeClaimTemplates.0.spec.accessModes", ["ReadWriteOncePod"])),
    edit_row("Deployment selector", "Deployment", WEB, _selector_changed),
    edit_row("Job template (`kubectl create job --from=cronjob/redis-backup`, then its image)", "Job", "redis-backup-manual",
             _job_image, _with_job, WITH_JOB),
]
#: issue 21 teaches the model that a claim's resize on a class without expansion fails (``up``
#: fails: the provider sends an update the server refuses). Until it lands the model says update.
ROWS = sorted([config_row(c) for c in CHANGES] + SERVER_ROWS, key=lambda r: r.state)


@dataclass
class Sent:
    """What the server answered one object of a row."""

    kind: str
    name: str
    model: str
    reasons: tuple[str, ...]
    refused: Optional[str]
    """The server's refusal (None: accepted)."""

    @property
    def agrees(self) -> bool:
        return (self.model in ACCEPTS and self.refused is None) or (self.model in REFUSES and self.refused is not None)


def disagreements(sent: list[Sent]) -> list[str]:
    """Where model and server differ: the model's step, its reasons, and the server's answer."""
    return [f"{s.kind}/{s.name}: model {s.model} {list(s.reasons)}, server " + (f"refused: {s.refused}" if s.refused else "accepted")
            for s in sent if not s.agrees]


class States:
    """The "before" clusters, one deployed at a time (each row's own namespace would cost ~1.5 s)."""

    def __init__(self, kube):
        self.kube, self.key, self.objects, self.engine = kube, None, [], None

    def get(self, row: Row):
        if row.state != self.key:
            self.close()
            ns = f"changes-{secrets.token_hex(3)}"
            before = in_namespace(objects_of(row.before()), ns)
            self.engine = self.kube.deploy(before, preview=False)  # test_kube_stacks.py dry-runs the stacks
            if any(o.manifest["kind"] == "Job" for o in before):
                self.kube.players.settle(lambda: self._bound(ns), 60, "the backup claim bound")
            live = {(kind, name) for kind, _, name in row.live}
            retained = [o for o in in_namespace(objects_of(row.after()), ns) if (o.manifest["kind"], o.manifest["metadata"]["name"]) in live]
            self.engine.up(retained)  # left in the cluster by the earlier `pulumi up` that switched them off
            for o in retained:
                del self.engine.state[o.key]
            self.key, self.objects = row.state, before + retained
        return self.engine, self.objects[0].manifest["metadata"]["name"]

    def _bound(self, namespace: str) -> bool:
        claims = kubernetes.client.CoreV1Api(self.kube.api).list_namespaced_persistent_volume_claim(namespace).items
        return bool(claims) and all(c.status.phase == "Bound" for c in claims)

    def close(self) -> None:
        if self.objects:
            self.kube.clean(self.objects)
        self.key, self.objects = None, []


@pytest.fixture(scope="module")
def states(kube):
    s = States(kube)
    yield s
    s.close()


def send(engine, row: Row, namespace: str) -> list[Sent]:
    """Each object the plan changes, sent in place as the provider would, as a dry-run."""
    steps = em.by_object(row.plan())
    out = []
    after = objects_of(row.after())
    for original, obj in zip(after, in_namespace(after, namespace)):
        step = steps[(original.manifest["kind"], original.manifest["metadata"]["name"])]
        if step.op in (em.SAME, em.DELETE, em.RETAIN):
            continue
        prov = engine.provider(obj)
        try:
            if obj.key in engine.state:
                prov.update(obj.manifest, preview=True, manager=engine.managers[obj.key])
            else:
                prov.create(obj.manifest, preview=True, manager=engine.managers.setdefault(obj.key, prov.field_manager))
            refused = None
        except DynamicApiError as e:
            refused = f"{e.status} {e.summary()}"
        out.append(Sent(step.kind, step.name, step.op, step.reasons, refused))
    return out


@pytest.mark.parametrize("row", ROWS, ids=[r.title for r in ROWS])
def test_model_and_server_agree(states, row):
    engine, ns = states.get(row)
    sent = send(engine, row, ns)
    # Providers, RandomPasswords and components (types with a ':') change no object the server sees.
    assert sent or all(s.op in (em.SAME, em.DELETE, em.RETAIN) or ":" in s.kind for s in row.plan().values()), \
        f"{row.title}: nothing sent"
    problems = disagreements(sent)
    assert problems == []
    if row in SERVER_ROWS:
        assert any(s.refused for s in sent), f"{row.title}: the server accepts it in place (not a row of its own)"
