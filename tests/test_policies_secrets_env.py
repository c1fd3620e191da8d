"""Table: no-literal-secret-env (policies/secrets_env.py)."""

import pytest

from policies.secrets_env import looks_secret

from .policy_baseline import Case, ctr, expected, ok, reported

API, REDIS, CRON = "Deployment/ai-qtrd-api", "StatefulSet/redis", "CronJob/redis-backup"
RULE = "no-literal-secret-env"
WORDS = ["PASSWORD", "SECRET", "KEY", "TOKEN"]

CASES = [
    Case("password", API, ctr(API, 0, "env", 0, "name"), "REDIS_PASSWORD", RULE),
    Case("api-key", API, ctr(API, 0, "env", 0, "name"), "DEEPSEEK_API_KEY", RULE),
    Case("secret", API, ctr(API, 0, "env", 0, "name"), "NEXTAUTH_SECRET", RULE),
    Case("token", API, ctr(API, 0, "env", 0, "name"), "github-token", RULE),
    Case("suffix-word", API, ctr(API, 0, "env", 0, "name"), "LURUS_APIKEY", RULE),
    Case("init-container", REDIS, ctr(REDIS, 0, "env", init=True), [{"name": "MASTER_PASSWORD", "value": "x"}], RULE),
    Case("cronjob", CRON, ctr(CRON, 0, "env"), [{"name": "REDISCLI_AUTH_TOKEN", "value": "x"}], RULE),
]
VARIANTS = [
    ok("not-a-secret-word", API, ctr(API, 0, "env", 0, "name"), "KEYCLOAK_URL"),
    ok("empty-value", API, ctr(API, 0, "env", 0), {"name": "REDIS_PASSWORD", "value": ""}),
    ok("allowed-name", API, ctr(API, 0, "env", 0, "name"), "CACHE_KEY_PREFIX",
       config={RULE: {"allowedEnvNames": ["CACHE_KEY_PREFIX"]}}),
    ok("configured-words", API, ctr(API, 0, "env", 0, "name"), "REDIS_PASSWORD",
       config={RULE: {"secretWords": ["CREDENTIAL"]}}),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


@pytest.mark.parametrize("name, secret", [
    ("DATABASE_PASSWORD", True), ("db.password", True), ("APIKEY", True), ("PUBLIC_KEY", True),
    ("REDIS_HOST", False), ("TOKENIZER_PATH", False), ("KEYCLOAK_URL", False), ("SECRETARY", False),
])
def test_secret_looking_names(name, secret):
    assert looks_secret(name, WORDS) is secret
