"""Table: well-formed-pod-spec (policies/shape.py): a manifest the other policies cannot read is a finding."""

import pytest

from policies.base import UNKNOWN
from policies.catalog import evaluate

from .policy_baseline import (
    Case, DELETE, ctr, expected, findings, manifests, mutate, objects, ok, pod, prod_settings, reported,
)

WEB, CRON, POD, REDIS = "Deployment/ai-qtrd-web", "CronJob/redis-backup", "Pod/redis-tools", "StatefulSet/redis"
RULE = "well-formed-pod-spec"
#: A container the rule can read but that has no name (the baseline's web container, unnamed).
UNNAMED = {"image": "gushen-web:v18"}

CASES = [
    Case("containers-a-string", WEB, pod(WEB, "containers"), "oops", RULE),
    Case("containers-missing", WEB, pod(WEB, "containers"), DELETE, RULE),
    Case("containers-empty", CRON, pod(CRON, "containers"), [], RULE),
    Case("container-a-string", POD, pod(POD, "containers", 0), "redis", RULE),
    Case("init-container-a-string", REDIS, pod(REDIS, "initContainers", 0), "init", RULE),
    Case("container-without-name", WEB, ctr(WEB, 0, "name"), DELETE, RULE),
    Case("env-a-map", WEB, ctr(WEB, 0, "env"), {"API_URL": "x"}, RULE),
    Case("volumes-a-map", WEB, pod(WEB, "volumes"), {"name": "tmp"}, RULE),
    Case("pod-spec-a-list", WEB, ("spec", "template", "spec"), [], RULE),
    Case("no-pod-template", WEB, ("spec", "template"), DELETE, RULE),
    # One bad container does not hide the next one's problem.
    Case("bad-container-then-unnamed", WEB, pod(WEB, "containers"), ["redis", UNNAMED], RULE),
    Case("unknown-container-then-unnamed", WEB, pod(WEB, "containers"), [UNKNOWN, UNNAMED], RULE),
]
#: Each case's findings, exactly: they name the field (and container) and quote the bad value in YAML words.
FINDINGS = {
    "containers-a-string": ["containers is 'oops', not a list"],
    "containers-missing": ["pod spec has no containers"],
    "containers-empty": ["containers is empty"],
    "container-a-string": ["containers[0] is 'redis', not a container"],
    "init-container-a-string": ["initContainers[0] is 'init', not a container"],
    "container-without-name": ["containers[0] has no name"],
    "env-a-map": ['containers[0].env is {"API_URL": "x"}, not a list'],
    "volumes-a-map": ['volumes is {"name": "tmp"}, not a list'],
    "pod-spec-a-list": ["pod spec is [], not an object"],
    "no-pod-template": ["has no pod spec"],
    "bad-container-then-unnamed": ["containers[0] is 'redis', not a container", "containers[1] has no name"],
    "unknown-container-then-unnamed": ["containers[1] has no name"],
}
VARIANTS = [
    ok("args-a-list", WEB, ctr(WEB, 0, "args"), ["--port", "3000"]),
    ok("env-unknown-in-preview", WEB, ctr(WEB, 0, "env"), UNKNOWN),
    ok("volumes-unknown-in-preview", WEB, pod(WEB, "volumes"), UNKNOWN),
    ok("container-unknown-in-preview", CRON, pod(CRON, "containers", 0), UNKNOWN),
    ok("container-name-unknown-in-preview", WEB, ctr(WEB, 0, "name"), UNKNOWN),
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


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_findings_name_the_field_and_quote_the_value(case):
    assert findings(case) == FINDINGS[case.id]


def test_a_pod_spec_unknown_in_preview_is_not_malformed():
    # Only this rule: the rules that read fields of the spec see them unset (noted in issue 25's report).
    assert findings(Case("pod-spec-unknown", WEB, ("spec", "template", "spec"), UNKNOWN, RULE)) == []


def test_the_line_names_the_level_the_rule_and_the_object():
    docs = mutate(manifests(), WEB, pod(WEB, "containers"), "oops")
    lines = [v.line for v in evaluate(objects(docs), prod_settings()) if v.policy == RULE]
    assert lines == [f"mandatory {RULE} {WEB}: containers is 'oops', not a list"]
