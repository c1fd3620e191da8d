"""Table: restricted-security-context, no-host-access, read-only-root-filesystem (policies/security.py)."""

import pytest

from policies.base import UNKNOWN

from .policy_baseline import DELETE, Case, ctr, expected, lines, ok, pod, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
JOB, CRON, POD, DS, RS = "Job/db-migrate", "CronJob/redis-backup", "Pod/redis-tools", "DaemonSet/node-agent", "ReplicaSet/worker"
R, H, RO = "restricted-security-context", "no-host-access", "read-only-root-filesystem"


def sc(target, *rest, i=0, init=False):
    return ctr(target, i, "securityContext", *rest, init=init)


CASES = [
    Case("run-as-root-allowed", WEB, sc(WEB, "runAsNonRoot"), False, R),
    Case("uid-0", REDIS, sc(REDIS, "runAsUser"), 0, R),
    Case("escalation-true", JOB, sc(JOB, "allowPrivilegeEscalation"), True, R),
    Case("escalation-absent", CRON, sc(CRON, "allowPrivilegeEscalation"), DELETE, R),
    Case("init-escalation", REDIS, sc(REDIS, "allowPrivilegeEscalation", init=True), True, R),
    Case("capabilities-kept", DS, sc(DS, "capabilities", "drop"), [], R),
    Case("capability-added", POD, sc(POD, "capabilities", "add"), ["NET_ADMIN"], R),
    Case("seccomp-unconfined", RS, sc(RS, "seccompProfile"), {"type": "Unconfined"}, R),
    Case("host-network", WEB, pod(WEB, "hostNetwork"), True, H),
    Case("host-pid", REDIS, pod(REDIS, "hostPID"), True, H),
    Case("host-ipc", API, pod(API, "hostIPC"), True, H),
    Case("host-path", DS, pod(DS, "volumes"), [{"name": "tmp", "hostPath": {"path": "/"}}], H),
    Case("privileged", JOB, sc(JOB, "privileged"), True, H),
    Case("host-port", POD, ctr(POD, 0, "ports"), [{"containerPort": 80, "hostPort": 80}], H),
    Case("host-path-unknown-in-preview", DS, pod(DS, "volumes"), [{"name": "tmp", "hostPath": UNKNOWN}], H),
    Case("drop-without-all-beside-an-unknown-add", WEB, sc(WEB, "capabilities"), {"drop": ["NET_RAW"], "add": [UNKNOWN]}, R),
    Case("writable-root", WEB, sc(WEB, "readOnlyRootFilesystem"), False, RO),
    Case("root-mode-absent", CRON, sc(CRON, "readOnlyRootFilesystem"), DELETE, RO),
]
VARIANTS = [
    ok("container-uid-overrides-pod", API, pod(API, "securityContext", "runAsUser"), 0),
    ok("non-root-from-pod", API, sc(API, "runAsNonRoot"), DELETE),
    ok("seccomp-from-pod", API, sc(API, "seccompProfile"), DELETE),
    ok("bind-low-ports", WEB, sc(WEB, "capabilities", "add"), ["NET_BIND_SERVICE"]),
    ok("container-overrides-pod-seccomp", API, pod(API, "securityContext", "seccompProfile"), {"type": "Unconfined"}),
    ok("localhost-seccomp", RS, sc(RS, "seccompProfile"), {"type": "Localhost", "localhostProfile": "p.json"}),
    # Unknown in preview: judged at `pulumi up`.
    ok("security-context-unknown-in-preview", REDIS, sc(REDIS, i=1), UNKNOWN),
    ok("capabilities-unknown-in-preview", WEB, sc(WEB, "capabilities"), UNKNOWN),
    ok("drop-unknown-in-preview", REDIS, sc(REDIS, "capabilities", "drop", init=True), UNKNOWN),
    ok("a-dropped-capability-unknown-in-preview", JOB, sc(JOB, "capabilities", "drop", 0), UNKNOWN),
    ok("an-added-capability-unknown-in-preview", POD, sc(POD, "capabilities", "add"), [UNKNOWN]),
    ok("volume-unknown-in-preview", REDIS, pod(REDIS, "volumes", 0), UNKNOWN),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


# Exact lines: what is wrong, where, and the value quoted. Values unknown in preview are judged at `pulumi up`.
MESSAGES = [
    ("host-path", [(DS, pod(DS, "volumes"), [{"name": "tmp", "hostPath": {"path": "/"}}])],
     [f"mandatory {H} {DS}: volume 'tmp' is a hostPath"]),
    ("host-port", [(POD, ctr(POD, 0, "ports"), [{"containerPort": 80, "hostPort": 80}])],
     [f"mandatory {H} {POD}: container 'tools' binds hostPort 80"]),
    ("capabilities-added", [(POD, sc(POD, "capabilities", "add"), ["NET_ADMIN", "SYS_TIME"])],
     [f"mandatory {R} {POD}: container 'tools' adds capabilities NET_ADMIN, SYS_TIME"]),
    ("seccomp-unconfined", [(RS, sc(RS, "seccompProfile"), {"type": "Unconfined"})],
     [f"mandatory {R} {RS}: container 'worker' seccompProfile type is 'Unconfined', must be RuntimeDefault (or Localhost)"]),
    # The kubelet takes the pod's runAsUser where the container sets none.
    ("uid-0-from-pod", [(API, sc(API, "runAsUser"), DELETE), (API, pod(API, "securityContext", "runAsUser"), 0)],
     [f"mandatory {R} {API}: container 'api' runs as user 0 (root)"]),
    ("non-root-unknown", [(WEB, sc(WEB, "runAsNonRoot"), UNKNOWN)], []),
    ("seccomp-unknown", [(RS, sc(RS, "seccompProfile"), {"type": UNKNOWN})], []),
    ("read-only-unknown", [(WEB, sc(WEB, "readOnlyRootFilesystem"), UNKNOWN)], []),
]


@pytest.mark.parametrize("changes, want", [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES])
def test_messages(changes, want):
    assert lines(changes) == want
