"""Table: image-tag-pinned and image-pull-never (policies/images.py)."""

import pytest

from policies.base import UNKNOWN
from policies.images import image_tag

from .policy_baseline import DELETE, Case, ctr, expected, lines, ok, reported

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


SENTINEL = ctr(REDIS, 1)
# What the user reads: each container named, the image quoted, the fix said (exact lines).
MESSAGES = [
    ("second-container-if-not-present", [(REDIS, (*SENTINEL, "imagePullPolicy"), "IfNotPresent")], None, [
        "mandatory image-pull-never StatefulSet/redis: container 'sentinel' imagePullPolicy is 'IfNotPresent', "
        "must be 'Never' (image 'redis:7.2-alpine')",
    ]),
    ("pull-policy-absent", [(JOB, ctr(JOB, 0, "imagePullPolicy"), DELETE)], None, [
        "mandatory image-pull-never Job/db-migrate: container 'migrate' imagePullPolicy is unset (defaults to "
        "IfNotPresent or Always, which may pull), must be 'Never' (image 'lurus-ai-qtrd:v1.0.4')",
    ]),
    ("excepted-container-then-another", [
        (REDIS, ctr(REDIS, 0, "imagePullPolicy", init=True), "Always"),
        (REDIS, (*SENTINEL, "image"), "localhost:5000/sentinel:7.2"),
        (REDIS, (*SENTINEL, "imagePullPolicy"), "Always"),
    ], {"image-pull-never": {"pullPolicyExceptions": ["redis"]}}, [
        "mandatory image-pull-never StatefulSet/redis: container 'sentinel' imagePullPolicy is 'Always', "
        "must be 'Never' (image 'localhost:5000/sentinel:7.2')",
    ]),
    # A preview's unknown pull policy is judged at `pulumi up`, when it is known.
    ("unknown-pull-policy", [(WEB, ctr(WEB, 0, "imagePullPolicy"), UNKNOWN)], None, []),
    ("no-image-then-untagged", [
        (REDIS, ctr(REDIS, 0, "image", init=True), DELETE), (REDIS, (*SENTINEL, "image"), "redis"),
    ], None, [
        "mandatory image-tag-pinned StatefulSet/redis: container 'sentinel' image 'redis' has no tag (pin a version)",
        "mandatory image-tag-pinned StatefulSet/redis: init container 'init-config' has no image",
    ]),
    ("digest-then-latest", [
        (REDIS, ctr(REDIS, 0, "image", init=True), f"redis@{DIGEST}"), (REDIS, (*SENTINEL, "image"), "redis:latest"),
    ], None, [
        "mandatory image-tag-pinned StatefulSet/redis: container 'sentinel' image 'redis:latest' is tagged 'latest' "
        "(pin a version)",
    ]),
]


@pytest.mark.parametrize("changes, config, want", [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES])
def test_messages(changes, config, want):
    assert lines(changes, config) == want


@pytest.mark.parametrize("image, tag", [
    ("redis", None),
    ("redis:7.2-alpine", "7.2-alpine"),
    ("localhost:5000/redis", None),
    ("localhost:5000/team/redis:latest", "latest"),
    (f"redis@{DIGEST}", None),
    (f"registry:5000/redis:7.2@{DIGEST}", "7.2"),
])
def test_image_tag(image, tag):
    assert image_tag(image) == tag


@pytest.mark.parametrize("image, excepted", [
    ("registry:5000/team/web", True),
    ("registry:5000/team/web:v18", True),
    (f"registry:5000/team/web@{DIGEST}", True),
    (f"registry:5000/team/web:v18@{DIGEST}", True),
    ("registry:5000/team/web-admin:v18", False),
    ("registry:5000/web:v18", False),
    ("web:v18", False),
])
def test_pull_policy_exceptions_name_a_repository_whatever_its_tag_or_digest(image, excepted):
    config = {"image-pull-never": {"pullPolicyExceptions": ["registry:5000/team/web"]}}
    found = lines([(WEB, ctr(WEB, 0, "image"), image), (WEB, ctr(WEB, 0, "imagePullPolicy"), "Always")], config)
    pulls = any("image-pull-never" in line for line in found)
    assert pulls is not excepted, found
