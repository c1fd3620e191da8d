"""Table: no-literal-secret-env (policies/secrets_env.py)."""

import pytest

from policies.catalog import evaluate
from policies.secrets_env import credential_kind, looks_secret

from .policy_baseline import Case, ctr, expected, lines, manifests, mutate, objects, ok, prod_settings, reported

API, REDIS, CRON = "Deployment/ai-qtrd-api", "StatefulSet/redis", "CronJob/redis-backup"
RULE = "no-literal-secret-env"
WORDS = ["PASSWORD", "SECRET", "KEY", "TOKEN"]
DB_URL = "postgresql://gushen:hunter2@postgres.internal:5432/gushen"
# Made-up values with the issuers' prefixes (no real credentials).
OPENAI = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
TOKEN = "Xy7pQ2mN9vR4tL8wK3jH6gF1dS5aZ0cB"

CASES = [
    Case("password", API, ctr(API, 0, "env", 0, "name"), "REDIS_PASSWORD", RULE),
    Case("api-key", API, ctr(API, 0, "env", 0, "name"), "DEEPSEEK_API_KEY", RULE),
    Case("secret", API, ctr(API, 0, "env", 0, "name"), "NEXTAUTH_SECRET", RULE),
    Case("token", API, ctr(API, 0, "env", 0, "name"), "github-token", RULE),
    Case("suffix-word", API, ctr(API, 0, "env", 0, "name"), "LURUS_APIKEY", RULE),
    Case("init-container", REDIS, ctr(REDIS, 0, "env", init=True), [{"name": "MASTER_PASSWORD", "value": "x"}], RULE),
    Case("cronjob", CRON, ctr(CRON, 0, "env"), [{"name": "REDISCLI_AUTH_TOKEN", "value": "x"}], RULE),
    # By value, whatever the name.
    Case("database-url-with-password", API, ctr(API, 0, "env", 0), {"name": "DATABASE_URL", "value": DB_URL}, RULE),
    Case("redis-url-with-password", API, ctr(API, 0, "env", 0), {"name": "CACHE", "value": "redis://:pw@redis:6379"}, RULE),
    Case("openai-key", API, ctr(API, 0, "env", 0), {"name": "LLM", "value": OPENAI}, RULE),
    Case("github-token", API, ctr(API, 0, "env", 0), {"name": "GH", "value": GITHUB}, RULE),
    Case("aws-key-id", CRON, ctr(CRON, 0, "env"), [{"name": "AWS_ID", "value": "AKIAIOSFODNN7EXAMPLE"}], RULE),
    Case("slack-token", API, ctr(API, 0, "env", 0), {"name": "SLACK", "value": "xoxb-1234567890-abcdefghij"}, RULE),
    Case("random-token", REDIS, ctr(REDIS, 0, "env", init=True), [{"name": "SEED", "value": TOKEN}], RULE),
]
VARIANTS = [
    ok("not-a-secret-word", API, ctr(API, 0, "env", 0, "name"), "KEYCLOAK_URL"),
    ok("empty-value", API, ctr(API, 0, "env", 0), {"name": "REDIS_PASSWORD", "value": ""}),
    ok("allowed-name", API, ctr(API, 0, "env", 0, "name"), "CACHE_KEY_PREFIX",
       config={RULE: {"allowedEnvNames": ["CACHE_KEY_PREFIX"]}}),
    ok("configured-words", API, ctr(API, 0, "env", 0, "name"), "REDIS_PASSWORD",
       config={RULE: {"secretWords": ["CREDENTIAL"]}}),
    ok("url-without-password", API, ctr(API, 0, "env", 0), {"name": "DATABASE_URL", "value": "postgresql://db:5432/x"}),
    ok("url-password-from-env-expansion", API, ctr(API, 0, "env", 0),
       {"name": "DATABASE_URL", "value": "postgresql://gushen:$(DATABASE_PASSWORD)@db/gushen"}),
    ok("cluster-host-names", API, ctr(API, 0, "env", 0),
       {"name": "SENTINELS", "value": "redis-0.redis-headless.ai-qtrd.svc.cluster.local:26379"}),
    ok("allowed-value", API, ctr(API, 0, "env", 0), {"name": "LLM", "value": OPENAI},
       config={RULE: {"allowedValues": [OPENAI]}}),
    ok("allowed-name-by-value", API, ctr(API, 0, "env", 0), {"name": "DATABASE_URL", "value": DB_URL},
       config={RULE: {"allowedEnvNames": ["DATABASE_URL"]}}),
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


@pytest.mark.parametrize("value, kind", [
    (DB_URL, "a URL with a password"),
    ("amqp://user:p%40ss@mq/vhost", "a URL with a password"),
    (OPENAI, "an OpenAI/Anthropic-style API key (sk-...)"),
    (GITHUB, "a GitHub token"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "a private key"),
    ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "a random token"),
    ("https://gushen.lurus.cn/api", None),
    ("/var/lib/postgresql/data/pgdata/base/global", None),
    ("cloud-ubuntu-1-16c32g", None),
    ("registry.lurus.cn:5000/gushen/api:2026.11.30-abcdef1", None),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", None),
    ("sk-short", None),
    ("ApplicationInsightsConnectionStringProviderFactory", None),  # letters only: an identifier
    ("/opt/gushen/models/v2/embeddings/bge3/onnx/model_q4", None),  # 7 "/" in 51 characters: a path
    ("cloud-ubuntu-1-16c32g-gushen-data-node-3", None),  # 7 "-" in 40: a dashed name
    # A base64(url) token holds "/" or "-" by chance: one in 8 characters is still a token.
    ("Xy7p/Q2mN9vR/4tL8wK3/jH6gF1d/S5a", "a random token"),
    ("Xy7p-Q2mN9vR-4tL8wK3-jH6gF1d-S5a", "a random token"),
    # Exactly TOKEN_MIN_ENTROPY (3.5 bits per character: 4 symbols at 1/8, 8 at 1/16).
    ("a1b2a1b2a1b2a1b2cdefghijcdefghij", "a random token"),
])
def test_credential_kinds(value, kind):
    found = credential_kind(value)
    assert (found is None) if kind is None else (found or "").startswith(kind)


def test_a_literal_database_url_with_a_password_is_mandatory_and_the_value_is_not_shown():
    docs = mutate(manifests(), API, ctr(API, 0, "env", 0), {"name": "DATABASE_URL", "value": DB_URL})
    (violation,) = evaluate(objects(docs), prod_settings())
    assert (violation.policy, violation.enforcement) == (RULE, "mandatory")
    assert "DATABASE_URL" in violation.message and "a URL with a password" in violation.message
    assert "hunter2" not in violation.message and DB_URL not in violation.message


WEB = "Deployment/ai-qtrd-web"
FIX = "take it from a Secret (valueFrom.secretKeyRef)"


@pytest.mark.parametrize("env, want", [
    # The first variable (from a Secret) is skipped; the next is still checked.
    ({"name": "API_TOKEN", "value": "abc"}, f"container 'web' sets API_TOKEN to a literal value; {FIX}"),
    ({"name": "DATABASE_URL", "value": DB_URL},
     f"container 'web' sets DATABASE_URL to a literal value that looks like a URL with a password; {FIX}"),
])
def test_messages_name_the_variable_and_the_fix(env, want):
    assert lines([(WEB, ctr(WEB, 0, "env", 1), env)]) == [f"mandatory {RULE} {WEB}: {want}"]
