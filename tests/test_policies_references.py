"""Table: config-references (policies/references.py)."""

import pytest

from .policy_baseline import DELETE, Case, ctr, expected, lines, ok, pod, reported

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
    assert lines([(case.target, case.path, case.value)], case.config) == want
