"""Table: well-formed-pod-spec (policies/shape.py): a manifest the other policies cannot read is a finding."""

import pytest

from policies.base import UNKNOWN
from policies.catalog import evaluate

from .policy_baseline import Case, DELETE, ctr, expected, manifests, mutate, objects, ok, pod, prod_settings, reported

WEB, CRON, POD = "Deployment/ai-qtrd-web", "CronJob/redis-backup", "Pod/redis-tools"
RULE = "well-formed-pod-spec"

CASES = [
    Case("containers-a-string", WEB, pod(WEB, "containers"), "oops", RULE),
    Case("containers-missing", WEB, pod(WEB, "containers"), DELETE, RULE),
    Case("containers-empty", CRON, pod(CRON, "containers"), [], RULE),
    Case("container-a-string", POD, pod(POD, "containers", 0), "redis", RULE),
    Case("container-without-name", WEB, ctr(WEB, 0, "name"), DELETE, RULE),
    Case("env-a-map", WEB, ctr(WEB, 0, "env"), {"API_URL": "x"}, RULE),
    Case("volumes-a-map", WEB, pod(WEB, "volumes"), {"name": "tmp"}, RULE),
    Case("pod-spec-a-list", WEB, ("spec", "template", "spec"), [], RULE),
]
VARIANTS = [
    ok("args-a-list", WEB, ctr(WEB, 0, "args"), ["--port", "3000"]),
    ok("env-unknown-in-preview", WEB, ctr(WEB, 0, "env"), UNKNOWN),
    ok("volumes-unknown-in-preview", WEB, pod(WEB, "volumes"), UNKNOWN),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    # A malformed spec also starves rules that need containers (probes, resources): only this
    # rule's finding is asserted, and it must be there.
    found = reported(case)
    if case.policy:
        assert expected(case) <= found
    else:
        assert found == set()


def test_the_finding_quotes_the_bad_value_in_yaml_words():
    docs = mutate(manifests(), WEB, pod(WEB, "containers"), "oops")
    lines = [v.line for v in evaluate(objects(docs), prod_settings()) if v.policy == RULE]
    assert lines == [f"mandatory {RULE} {WEB}: containers is 'oops', not a list"]
