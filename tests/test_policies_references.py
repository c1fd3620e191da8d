"""Table: config-references (policies/references.py)."""

import pytest

from policies.base import UNKNOWN

from .policy_baseline import DELETE, Case, case_lines, ctr, expected, lines, ok, pod, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
CRON, DS = "CronJob/redis-backup", "DaemonSet/node-agent"
SECRET = "Secret/ai-qtrd-secrets"
RULE = "config-references"
SECRET_REF = ("valueFrom", "secretKeyRef")
CONFIG_REF = ("valueFrom", "configMapKeyRef")


def projected(name, key):
    return [{"name": "creds", "projected": {"sources": [{"secret": {"name": name, "items": [{"key": key, "path": "k"}]}}]}}]


CASES = [
    Case("secret-missing", WEB, ctr(WEB, 0, "env", 0, *SECRET_REF, "name"), "missing-secret", RULE),
    Case("config-key-missing", WEB, ctr(WEB, 0, "env", 1, *CONFIG_REF, "key"), "NOPE", RULE),
    Case("data-key-missing", API, ctr(API, 0, "env", 1, *SECRET_REF, "key"), "DB_PASS", RULE),
    Case("volume-item-key-missing", REDIS, pod(REDIS, "volumes", 1, "configMap", "items", 0, "key"), "other.conf", RULE),
    Case("volume-config-map-missing", REDIS, pod(REDIS, "volumes", 1, "configMap", "name"), "missing", RULE),
    Case("env-from-missing", API, ctr(API, 0, "envFrom"), [{"configMapRef": {"name": "api-env"}}], RULE),
    Case("projected-secret-missing", DS, pod(DS, "volumes"), projected("agent-secret", "token"), RULE),
    Case("secret-loses-string-data", SECRET, ("stringData",), DELETE, RULE, reported=(WEB, CRON)),
    Case("secret-in-other-namespace", SECRET, ("metadata", "namespace"), "other", RULE, reported=(WEB, API, CRON)),
]
VARIANTS = [
    ok("optional-ref", WEB, ctr(WEB, 0, "env", 0, *SECRET_REF), {"name": "missing", "key": "K", "optional": True}),
    ok("external-secret", WEB, ctr(WEB, 0, "env", 0, *SECRET_REF, "name"), "vault-secret",
       config={RULE: {"externalSecrets": ["vault-secret"]}}),
    ok("certificate-secret", DS, pod(DS, "volumes"), projected("gushen-lurus-cn-tls", "tls.crt")),
    ok("env-from-defined", API, ctr(API, 0, "envFrom"), [{"secretRef": {"name": "ai-qtrd-secrets"}}]),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


# What the user reads for some of the cases above: the object, the field, the value quoted (exact lines).
MESSAGES = {
    "secret-missing": [f"mandatory {RULE} {WEB}: container 'web' env REDIS_PASSWORD refers to Secret 'missing-secret', "
                       "which the stack does not define"],
    "config-key-missing": [f"mandatory {RULE} {WEB}: container 'web' env API_URL refers to key 'NOPE' of ConfigMap "
                           "'ai-qtrd-config', which has no such key"],
    "volume-item-key-missing": [f"mandatory {RULE} {REDIS}: volume 'config' refers to key 'other.conf' of ConfigMap "
                                "'redis-config', which has no such key"],
    "env-from-missing": [f"mandatory {RULE} {API}: container 'api' envFrom refers to ConfigMap 'api-env', "
                         "which the stack does not define"],
}


@pytest.mark.parametrize("case_id, want", MESSAGES.items(), ids=list(MESSAGES))
def test_messages(case_id, want):
    (case,) = [c for c in CASES if c.id == case_id]
    assert case_lines(case) == want


def missing(where, kind, name):
    return f"{where} refers to {kind} {name!r}, which the stack does not define"


# Changes of one or more fields, with the exact config-references lines they give.
SCENARIOS = [
    ("env-from-optional", [(API, ctr(API, 0, "envFrom"), [{"configMapRef": {"name": "api-env", "optional": True}}])], None, []),
    ("env-from-secret-missing", [(API, ctr(API, 0, "envFrom"), [{"secretRef": {"name": "api-env"}}])], None,
     [f"mandatory {RULE} {API}: " + missing("container 'api' envFrom", "Secret", "api-env")]),
    ("secret-volume-missing", [(DS, pod(DS, "volumes"), [{"name": "creds", "secret": {"secretName": "agent-secret"}}])], None,
     [f"mandatory {RULE} {DS}: " + missing("volume 'creds'", "Secret", "agent-secret")]),
    ("secret-volume-optional",
     [(DS, pod(DS, "volumes"), [{"name": "creds", "secret": {"secretName": "agent-secret", "optional": True}}])], None, []),
    ("projected-config-map-key-missing", [(DS, pod(DS, "volumes"), [{"name": "c", "projected": {"sources": [
        {"configMap": {"name": "ai-qtrd-config", "items": [{"key": "NOPE", "path": "x"}]}}]}}])], None,
     [f"mandatory {RULE} {DS}: volume 'c' refers to key 'NOPE' of ConfigMap 'ai-qtrd-config', which has no such key"]),
    ("projected-sources-each-checked", [(DS, pod(DS, "volumes"), [{"name": "c", "projected": {"sources": [
        {"secret": {"name": "agent-secret"}}, {"configMap": {"name": "ai-qtrd-config"}}]}}])], None,
     [f"mandatory {RULE} {DS}: " + missing("volume 'c'", "Secret", "agent-secret")]),
    # A CronJob with no pod template yet (shape's finding) does not stop the workloads after it.
    ("cronjob-without-template-then-a-missing-secret",
     [(CRON, ("spec", "jobTemplate"), DELETE), (WEB, ctr(WEB, 0, "env", 0, *SECRET_REF, "name"), "missing-secret")], None,
     [f"mandatory {RULE} {WEB}: " + missing("container 'web' env REDIS_PASSWORD", "Secret", "missing-secret")]),
    # A Secret is no ConfigMap, whatever keys it holds.
    ("config-map-ref-names-a-secret", [(WEB, ctr(WEB, 0, "env", 1, *CONFIG_REF, "name"), "ai-qtrd-secrets")], None,
     [f"mandatory {RULE} {WEB}: " + missing("container 'web' env API_URL", "ConfigMap", "ai-qtrd-secrets")]),
    ("config-map-binary-data-key", [("ConfigMap/ai-qtrd-config", ("binaryData",), {"LOGO": "AA=="}),
                                    (WEB, ctr(WEB, 0, "env", 1, *CONFIG_REF, "key"), "LOGO")], None, []),
    # What a preview does not know yet (a Secret's data, a name) is judged at `pulumi up`.
    ("secret-data-unknown-in-preview", [(SECRET, ("data",), UNKNOWN), (API, ctr(API, 0, "env", 1, *SECRET_REF, "key"), "DB_PASS")],
     None, []),
    ("name-unknown-in-preview", [(WEB, ctr(WEB, 0, "env", 0, *SECRET_REF, "name"), UNKNOWN)], None, []),
    ("external-config-map", [(WEB, ctr(WEB, 0, "env", 1, *CONFIG_REF, "name"), "shared")],
     {RULE: {"externalConfigMaps": ["shared"]}}, []),
    ("external-secret-then-a-missing-config-map", [(WEB, ctr(WEB, 0, "env", 0, *SECRET_REF, "name"), "vault"),
                                                   (WEB, ctr(WEB, 0, "env", 1, *CONFIG_REF, "name"), "gone")],
     {RULE: {"externalSecrets": ["vault"]}}, [f"mandatory {RULE} {WEB}: " + missing("container 'web' env API_URL", "ConfigMap", "gone")]),
]


@pytest.mark.parametrize("changes, config, want", [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_scenarios(changes, config, want):
    assert [line for line in lines(changes, config) if f" {RULE} " in line] == want
