"""Table: recommended-labels (policies/labels.py), an advisory policy."""

import pytest

from policies.catalog import evaluate

from .policy_baseline import Case, DELETE, expected, manifests, mutate, objects, ok, prod_settings, reported

RULE = "recommended-labels"
SECRET, ROUTE = "Secret/ai-qtrd-secrets", "IngressRoute/gushen-web-https"

CASES = [
    Case("unlabelled", SECRET, ("metadata", "labels"), DELETE, RULE),
    Case("no-part-of", ROUTE, ("metadata", "labels", "app.kubernetes.io/part-of"), DELETE, RULE),
    Case("no-managed-by", "Namespace/ai-qtrd", ("metadata", "labels", "app.kubernetes.io/managed-by"), DELETE, RULE),
]
VARIANTS = [
    ok("disabled", SECRET, ("metadata", "labels"), DELETE, config={RULE: "disabled"}),
    ok("configured-labels", ROUTE, ("metadata", "labels", "app.kubernetes.io/part-of"), DELETE,
       config={RULE: {"requiredLabels": ["app.kubernetes.io/name"]}}),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


def test_reported_as_advisory_unless_configured():
    docs = mutate(manifests(), SECRET, ("metadata", "labels"), DELETE)
    default = evaluate(objects(docs), prod_settings())
    raised = evaluate(objects(docs), prod_settings({RULE: "mandatory"}))
    assert [v.enforcement for v in default] == ["advisory"]
    assert [v.enforcement for v in raised] == ["mandatory"]
