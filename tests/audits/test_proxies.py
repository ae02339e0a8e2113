"""Proxies count (issue 16, item 6): the share of attribution judged against ``protected_attribute_max_share``
includes the features that determine or nearly determine a protected attribute, by the policy's measure and cut-off,
and the features the column roles declare a protected column is derived from. The result names each feature counted
and why.

Known answers: a column binned from a feature is a function of it, so the contingency table of the two has one
non-empty cell per feature interval and scipy's (uncorrected) Cramér's V of it is exactly 1; a feature drawn
independently of the attribute has a V near 0."""

from __future__ import annotations

import html
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.template.loader import render_to_string
from scipy.stats.contingency import association, crosstab

from audits import actions as audits
from audits.checks.base import FAIL, PASS, CheckContext
from audits.checks.explainability import (
    PROXY_MEASURES,
    ExplainabilityCheck,
    categories,
    determination,
    separating_intervals,
)
from audits.evaluation import ColumnRoles, Evaluation, EvaluationError
from audits.management.commands.run_audit import Command
from audits.policies import POLICY_SCHEMA, PolicyError, builtin_policies, load_policy
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.trail.log import Actor
from registry import actions as registry
from tests.audits.german import FEATURES, German, decisions, evaluation, fitted
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import register_model

BASIS = {"text": "A feature that nearly determines a protected attribute carries it.", "citation": "Test suite"}
LIMIT = {"protected_attribute_max_share": {"value": 0.1, "operator": "<=", "basis": BASIS}}
RULE = {"proxy_association_min": {"value": 0.9, "operator": ">=", "basis": BASIS}, "proxy_measure": "cramers_v"}
SMALL = {"sample_rows": 30, "time_budget_seconds": 120}


def run(evaluation: Evaluation, settings: dict[str, Any]) -> Any:
    return ExplainabilityCheck().run(evaluation, settings, CheckContext())


def counted(outcome: Any) -> dict[str, list[dict[str, Any]]]:
    return {entry["feature"]: entry["because"] for entry in outcome.details["counted_features"]}


def share_of(outcome: Any, feature: str) -> float:
    return next(e["share"] for e in outcome.details["global_importance"] if e["feature"] == feature)


def test_age_determines_age_group_so_its_attribution_counts(german: German) -> None:
    # The demo's case: the model leans on age; age_group (under 25) is protected and is not a model input.
    outcome = run(evaluation(german, decisions(fitted(german, age=1.5, sex=0.0))), SMALL | LIMIT | RULE)

    because = counted(outcome)
    assert set(because) == {"age", "sex"}
    assert because["sex"] == [{"attribute": "sex", "why": "model_input"}]
    [reason] = because["age"]
    assert reason["why"] == "association"
    assert (reason["attribute"], reason["measure"]) == ("age_group", "cramers_v")
    assert reason["value"] >= 0.99
    # age_group is a function of age, so the separating intervals keep it exactly (scipy's V of their table is 1).
    age = german.features[:, FEATURES.index("age")]
    codes = separating_intervals(age, german.age_group, intervals=5)
    assert association(crosstab(german.age_group, codes).count, method="cramer") == pytest.approx(1.0, abs=1e-12)
    assert outcome.details["protected_share"] == pytest.approx(share_of(outcome, "age") + share_of(outcome, "sex"))
    assert outcome.details["protected_share"] > 0.1
    assert outcome.outcome == FAIL
    assert "age: Cramér's V 1.00 with age_group" in outcome.reason
    assert "above the limit of 10%" in outcome.reason
    assert outcome.details["thresholds"]["proxy_association_min"] == {"value": 0.9, "operator": ">=", "basis": BASIS}
    assert outcome.details["proxy_measure"] == "cramers_v"


def test_without_a_cut_off_only_inputs_and_declared_features_count(german: German) -> None:
    outcome = run(evaluation(german, decisions(fitted(german, age=1.5, sex=0.0))), SMALL | LIMIT)

    assert set(counted(outcome)) == {"sex"}
    assert outcome.outcome == PASS
    assert "the policy sets no proxy_association_min" in outcome.reason
    assert "proxy_association_min" not in outcome.details["thresholds"]


def test_a_declared_source_of_a_protected_column_always_counts(german: German) -> None:
    checked = evaluation(german, decisions(fitted(german, age=1.5, sex=0.0)), protected=("age_group",))
    declared = Evaluation(
        **{
            **checked.__dict__,
            "roles": ColumnRoles(
                label="credit_risk",
                protected=("age_group",),
                features=FEATURES,
                derived_from={"age_group": ("age", "not_a_feature")},
            ),
        }
    )
    outcome = run(declared, SMALL | LIMIT)  # no association cut-off: the declaration alone counts

    assert counted(outcome) == {"age": [{"attribute": "age_group", "why": "declared"}]}
    assert outcome.details["derived_from"] == {"age_group": ["age", "not_a_feature"]}
    assert outcome.details["declared_not_inputs"] == ["not_a_feature"]
    assert outcome.details["protected_share"] == pytest.approx(share_of(outcome, "age"))
    assert outcome.outcome == FAIL
    assert "age: age_group is derived from it (declared)" in outcome.reason


def synthetic(rows: int = 1000, *, unknown_share: float = 0.0) -> Evaluation:
    """A numeric feature ``income`` binned into the protected ``band`` (under 49: the median, in the middle of a
    quintile), an independent feature ``noise``, and a model that leans on both."""
    rng = np.random.default_rng(7)
    income = rng.uniform(18, 80, rows)
    noise = rng.normal(0, 1, rows)
    band = np.where(income < 49, "under_49", "49_and_over").astype(object)
    band[rng.random(rows) < unknown_share] = ""
    features = np.column_stack([income, noise])

    def predict(matrix: np.ndarray) -> np.ndarray:
        return (np.asarray(matrix)[:, 0] / 15 + np.asarray(matrix)[:, 1]) > 3.5

    decided = predict(features)
    return Evaluation(
        y_true=decided.astype(np.int8),
        y_pred=decided.astype(np.int8),
        scores=None,
        protected={"band": band},
        roles=ColumnRoles(label="label", protected=("band",), features=("income", "noise")),
        features=features,
        feature_names=("income", "noise"),
        predict=predict,
        rows=rows,
    )


def test_a_feature_binned_into_the_protected_attribute_counts_and_an_independent_one_does_not() -> None:
    data = synthetic()
    outcome = run(data, SMALL | LIMIT | RULE)

    pairs = {pair["feature"]: pair for pair in outcome.details["associations"]}
    assert pairs["income"]["determination"]["value"] >= 0.99
    assert pairs["noise"]["determination"]["value"] < 0.2
    # Quintiles alone miss a cut at the median (the flag's measure): the cut points are searched, not fixed.
    assert pairs["income"]["cramers_v"] < 0.9
    assert counted(outcome) == {
        "income": [
            {
                "attribute": "band",
                "why": "association",
                "measure": "cramers_v",
                "value": pairs["income"]["determination"]["value"],
            }
        ]
    }
    assert outcome.details["protected_share"] == pytest.approx(share_of(outcome, "income"))
    assert share_of(outcome, "noise") > 0.1  # the independent feature matters to the model, and still does not count
    assert outcome.outcome == FAIL


def test_unknown_protected_values_do_not_dilute_the_association() -> None:
    outcome = run(synthetic(unknown_share=0.2), SMALL | LIMIT | RULE)

    pairs = {pair["feature"]: pair for pair in outcome.details["associations"]}
    assert pairs["income"]["determination"]["value"] >= 0.99
    assert set(counted(outcome)) == {"income"}


def test_separating_intervals_recover_any_binning_and_features_with_few_values_keep_them() -> None:
    rng = np.random.default_rng(3)
    income = rng.uniform(0, 100, 2000)
    for edges in ([37.0], [12.5, 61.0], [20.0, 45.0, 70.0]):
        band = np.searchsorted(np.asarray(edges), income).astype(str)
        found = determination(income, band, measure="cramers_v")
        assert found["categorised_by"] == "separating intervals"
        assert found["value"] >= 0.98, edges
    few = rng.integers(0, 4, 500).astype(np.float64)
    found = determination(few, np.where(few < 2, "a", "b"), measure="cramers_v")
    assert found["categorised_by"] == "values"
    assert found["categories"] == len(np.unique(categories(few))) == 4
    with pytest.raises(ValueError, match="proxy_measure 'theils_u' is not one of cramers_v"):
        determination(few, np.where(few < 2, "a", "b"), measure="theils_u")


def test_a_cut_off_without_a_measure_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="proxy_association_min needs proxy_measure"):
        run(synthetic(200), SMALL | {"proxy_association_min": RULE["proxy_association_min"]})


def test_the_policy_schema_needs_a_measure_with_a_cut_off_and_the_built_in_sets_both() -> None:
    explainability = POLICY_SCHEMA["properties"]["checks"]["properties"]["explainability"]
    assert tuple(explainability["properties"]["proxy_measure"]["enum"]) == PROXY_MEASURES
    settings = load_policy(builtin_policies()["eu-ai-act-high-risk"]).document["checks"]["explainability"]
    assert settings["proxy_measure"] == "cramers_v"
    assert (settings["proxy_association_min"]["value"], settings["proxy_association_min"]["operator"]) == (0.9, ">=")
    assert "Assay's default" in settings["proxy_association_min"]["basis"]["citation"]
    with pytest.raises(PolicyError, match="proxy_measure"):
        load_policy(policy_text(measure=False), source="test.yaml")


def policy_text(*, measure: bool = True, rule: bool = True) -> str:
    """A policy of the explainability check alone, on 40 rows, with the proxy rule (and its measure) or not."""
    lines = [
        "name: proxy-test",
        "title: Proxies count",
        "description: Explainability with the proxy rule.",
        "confidence_level: 0.95",
        "min_group_size: 30",
        "checks:",
        "  explainability:",
        "    required: true",
        "    sample_rows: 40",
        "    time_budget_seconds: 300",
        "    protected_attribute_max_share:",
        "      value: 0.1",
        '      operator: "<="',
        "      basis: {text: At most a tenth of the attribution., citation: Test suite}",
    ]
    if measure:
        lines.append("    proxy_measure: cramers_v")
    if rule:
        lines += [
            "    proxy_association_min:",
            "      value: 0.9",
            '      operator: ">="',
            "      basis: {text: Nearly determines the attribute., citation: Test suite}",
        ]
    return "\n".join(lines) + "\n"


DEMO_ROLES = {"label": "credit_risk", "favourable": "1", "protected": ["age_group", "sex"], "features": DEMO_FEATURES}


@pytest.fixture
def demo_v1(cast: Any, media_root: Any) -> dict[str, Any]:
    """The demo's case: credit-scoring v1's model (ONNX, age among its inputs) registered, German credit with age
    groups uploaded, and the proxy-test policy saved."""
    content = german_credit_csv(with_groups=True)
    dataset_version = make_file_version(cast, make_dataset(cast, "german"), content, name="german.csv")
    artifact = Path(tempfile.mkdtemp()) / "model.onnx"
    artifact.write_bytes(train_demo_model(content))
    version = registry.do_register_version(
        model=register_model(cast, "minimal"),
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        artifact_path=artifact,
        artifact_name="model.onnx",
    )
    audits.do_save_policy(user=cast.officer.user, actor=Actor.for_user(cast.officer.user), text=policy_text())
    return {
        "model": version.model.name,
        "version": version.number,
        "dataset": dataset_version.dataset.name,
        "dataset_version": dataset_version.number,
        "policy": "proxy-test",
    }


def assert_age_counted(check: dict[str, Any], reasons: list[str]) -> None:
    assert check["outcome"] == "fail"
    details = check["details"]
    [age] = details["counted_features"]
    assert age["feature"] == "age"
    assert [reason["why"] for reason in age["because"]] == reasons
    assert all(reason["attribute"] == "age_group" for reason in age["because"])
    assert age["because"][-1]["value"] >= 0.99
    assert details["protected_share"] == pytest.approx(age["share"])
    assert details["protected_share"] > 0.1
    assert "age: " in check["reason"]
    assert "above the limit of 10%" in check["reason"]


@pytest.mark.django_db(transaction=True)
def test_through_the_api_the_demo_models_age_counts_for_age_group(
    unprotected_trail: None, cast: Any, demo_v1: dict[str, Any]
) -> None:
    client = cast.owner.client()
    measured = client.post("/api/v1/audits/", {**demo_v1, "column_roles": DEMO_ROLES}, format="json")
    roles = {**DEMO_ROLES, "derived_from": {"age_group": ["age"]}}
    declared = client.post("/api/v1/audits/", {**demo_v1, "column_roles": roles}, format="json")

    assert measured.status_code == declared.status_code == 201, (measured.content, declared.content)
    for response, reasons in ((measured, ["association"]), (declared, ["declared", "association"])):
        run = response.json()
        assert (run["status"], run["verdict"]) == ("done", "fail"), run
        [check] = run["checks"]
        assert_age_counted(check, reasons)
    assert declared.json()["checks"][0]["details"]["derived_from"] == {"age_group": ["age"]}


@pytest.mark.django_db
def test_through_run_audit_json_the_demo_models_age_counts_for_age_group(
    cast: Any, demo_v1: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django closes the connections when a command-line command ends, which would end the test's transaction.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    arguments = ["--as", "omar", "--model", demo_v1["model"], "--version", "1", "--dataset", demo_v1["dataset"]]
    arguments += ["--dataset-version", "1", "--policy", "proxy-test", "--label", "credit_risk", "--json"]
    arguments += ["--protected", "age_group,sex", "--features", ",".join(DEMO_FEATURES)]
    for more, reasons in (([], ["association"]), (["--derived-from", "age_group=age"], ["declared", "association"])):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            Command().run_from_argv(["manage.py", "run_audit", "--skip-checks", *arguments, *more])

        assert exited.value.code == 1  # fail
        result = json.loads(capsys.readouterr().out)
        [check] = [c for c in result["checks"] if c["check"] == "explainability"]
        assert_age_counted(check, reasons)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "run_audit", "--skip-checks", *arguments, "--derived-from", "age"])
    assert exited.value.code == 3
    assert "--derived-from 'age': write it as ROLE=COLUMN" in capsys.readouterr().err


def test_derived_from_is_keyed_by_role_and_bad_values_are_refused_by_name() -> None:
    roles = ColumnRoles.from_json(
        {"label": "y", "protected": {"age_band": "age_group"}, "derived_from": {"age_group": ["age", "age"]}}
    )
    assert roles.derived_from == {"age_band": ("age",)}  # named by its column, kept by its role
    assert roles.as_json()["derived_from"] == {"age_band": ["age"]}
    assert "derived_from" not in ColumnRoles.from_json({"label": "y", "protected": ["sex"]}).as_json()
    for bad, words in (
        ({"income": ["salary"]}, "'income' is not a protected role or column"),
        ({"age_group": "age"}, "give 'age_band' a list of the columns it is derived from"),
        ({"age_group": [""]}, "derived_from: a column of 'age_band' is empty"),
    ):
        with pytest.raises(EvaluationError, match=re.escape(words)) as refused:
            ColumnRoles.from_json({"label": "y", "protected": {"age_band": "age_group"}, "derived_from": bad})
        assert refused.value.field == "derived_from"


def test_the_portal_names_each_counted_feature_and_why(german: German) -> None:
    outcome = run(evaluation(german, decisions(fitted(german, age=1.5, sex=0.0))), SMALL | LIMIT | RULE)
    page = html.unescape(render_to_string("audits/checks/explainability.html", {"d": outcome.details}))

    assert "Features counted in the protected share" in page
    assert "age (rank " in page
    assert "Cramér's V 1.00 with age_group" in page
    assert "sex (rank " in page
    assert "is the protected attribute sex" in page
