"""Table: image-tag-pinned and image-pull-never (policies/images.py)."""

import pytest

from .policy_baseline import DELETE, Case, ctr, expected, ok, reported

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
JOB, CRON, POD = "Job/db-migrate", "CronJob/redis-backup", "Pod/redis-tools"
DIGEST = "sha256:" + "0" * 64

CASES = [
    Case("untagged", WEB, ctr(WEB, 0, "image"), "gushen-web", "image-tag-pinned"),
    Case("latest", API, ctr(API, 0, "image"), "lurus-ai-qtrd:latest", "image-tag-pinned"),
    Case("untagged-init", REDIS, ctr(REDIS, 0, "image", init=True), "redis", "image-tag-pinned"),
    Case("registry-port-untagged", POD, ctr(POD, 0, "image"), "localhost:5000/redis", "image-tag-pinned"),
    Case("no-image", JOB, ctr(JOB, 0, "image"), DELETE, "image-tag-pinned"),
    Case("if-not-present", WEB, ctr(WEB, 0, "imagePullPolicy"), "IfNotPresent", "image-pull-never"),
    Case("pull-policy-absent", JOB, ctr(JOB, 0, "imagePullPolicy"), DELETE, "image-pull-never"),
    Case("always-in-cronjob", CRON, ctr(CRON, 0, "imagePullPolicy"), "Always", "image-pull-never"),
    Case("init-if-not-present", REDIS, ctr(REDIS, 0, "imagePullPolicy", init=True), "IfNotPresent", "image-pull-never"),
]
VARIANTS = [
    ok("digest-pinned", API, ctr(API, 0, "image"), f"lurus-ai-qtrd@{DIGEST}"),
    ok("registry-port-tagged", POD, ctr(POD, 0, "image"), "localhost:5000/redis:7.2-alpine"),
    ok("excepted-repository", WEB, ctr(WEB, 0, "imagePullPolicy"), "IfNotPresent",
       config={"image-pull-never": {"pullPolicyExceptions": ["gushen-web"]}}),
    ok("excepted-image", WEB, ctr(WEB, 0, "imagePullPolicy"), "Always",
       config={"image-pull-never": {"pullPolicyExceptions": ["gushen-web:v18"]}}),
    ok("policy-disabled", WEB, ctr(WEB, 0, "imagePullPolicy"), "Always", config={"image-pull-never": "disabled"}),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)
