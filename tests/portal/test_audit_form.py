"""The audit form says what an audit needs: the policy the model's risk tier requires by default, the model's input
features in the order its artifact reads them (read from the model when it names them, required when it does not),
and one message after starting, the right one (the run page's own state, never "started" above "could not run").

Real model: the demo's logistic regression as ONNX (one float matrix "X" of the German credit features), trained
and registered by tests.monitoring.arrange on UCI German credit."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.test import Client

from audits.models import AuditRun
from audits.portal.forms import ColumnRolesForm, ModelInputs
from tests.api import db_state
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.portal.conftest import World, signed_in

pytestmark = pytest.mark.django_db
SHIPPED = {"high": "eu-ai-act-high-risk", "limited": "baseline"}  # governance/settings.py's default (tests: none)


@pytest.fixture(autouse=True)
def required_policies(settings: Any) -> None:
    settings.AUDIT_REQUIRED_POLICIES = dict(SHIPPED)


def text(response: Any) -> str:
    return unescape(response.content.decode("utf-8"))


def _selected(page: str, name: str) -> str:
    """The value of the selected option of select ``name`` ('' when the first, empty-valued option is)."""
    select = page.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    return select.split(" selected", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0] if " selected" in select else ""


# --- the policy ----------------------------------------------------------------------------------------------------


def test_the_policy_defaults_to_the_one_the_high_risk_tier_requires(cast: Cast, world: World) -> None:
    owner = signed_in(cast.owner)
    first = text(owner.get("/audits/new", {"model": "credit-scoring", "version": "1"}))
    assert _selected(first, "policy") == ""  # "the policy the model's risk tier requires", listed first
    assert "The policy the model's risk tier requires" in first
    assert "credit-scoring/v1 (requires eu-ai-act-high-risk)" in first
    assert "eu-ai-act-high-risk (required for high risk)" in first
    policies = first.split('name="policy"', 1)[1].split("</select>", 1)[0]
    assert policies.index("eu-ai-act-high-risk") < policies.index("four-fifths")  # required policies first
    second = owner.get(
        "/audits/new", {"model_version": "credit-scoring/v1", "dataset_version": "applications/v1", "policy": ""}
    )
    assert second.status_code == 200
    page = text(second)
    assert 'data-testid="policy">eu-ai-act-high-risk<' in page
    assert 'name="policy" value="eu-ai-act-high-risk"' in page  # what step two posts
    assert 'data-testid="policy-note"' not in page


def test_another_policy_is_allowed_and_said_not_to_count(cast: Cast, world: World) -> None:
    page = text(
        signed_in(cast.owner).get(
            "/audits/new",
            {"model_version": "credit-scoring/v1", "dataset_version": "applications/v1", "policy": "four-fifths"},
        )
    )
    assert 'data-testid="policy">four-fifths<' in page
    note = page.split('data-testid="policy-note">', 1)[1].split("</p>", 1)[0]
    assert "count only audits under eu-ai-act-high-risk" in note


# --- the model's input features ------------------------------------------------------------------------------------


def test_declared_inputs_prefill_the_field_and_missing_ones_are_named() -> None:
    inputs = ModelInputs(framework="skops", names=("age", "income"), count=2)
    blank = ColumnRolesForm(columns=["age", "income", "sex", "label"], inputs=inputs)
    assert blank.fields["features"].initial == "age\nincome"
    assert not blank.features_needed
    posted = {"label": "label", "favourable": "1", "protected": ["sex"], "features": ""}
    lacking = ColumnRolesForm(posted, columns=["age", "sex", "label"], inputs=inputs)
    assert not lacking.is_valid()
    assert "The dataset has no column 'income'" in lacking.errors["features"][0]
    reordered = ColumnRolesForm(
        {**posted, "features": "income, age"}, columns=["age", "income", "sex", "label"], inputs=inputs
    )
    assert not reordered.is_valid()
    assert "in this order: age, income" in reordered.errors["features"][0]


def test_model_inputs_are_read_from_the_stored_input_schema() -> None:
    matrix = ModelInputs.of([{"name": "X", "type": "float", "shape": [None, 7]}], "onnx")
    assert (matrix.names, matrix.count) == ((), 7)
    assert "one matrix of 7 columns" in matrix.said()
    named = ModelInputs.of([{"name": "age", "shape": [None]}, {"name": "income", "shape": [None]}], "skops")
    assert (named.names, named.count) == (("age", "income"), 2)
    assert "in order: age, income" in named.said()
    assert ModelInputs.of([{"name": "X", "shape": [None, None]}], "onnx").count is None


@pytest.fixture
def demo(cast: Cast, world: World) -> Any:
    """The demo ONNX model (inputs: one matrix of the German credit features) and its training data."""
    version = arrange.deployed_demo_version(cast, deploy=False)
    (training,) = version.training_datasets
    return version, f"{training['dataset']}/v{training['version']}"


def _target(demo: Any) -> dict[str, str]:
    version, dataset = demo
    return {"model_version": f"{version.model.name}/v{version.number}", "dataset_version": dataset, "policy": ""}


def _roles(demo: Any, **change: Any) -> dict[str, Any]:
    return {**_target(demo), "label": "credit_risk", "favourable": "1", "protected": ["sex"], **change}


def test_the_onnx_matrix_shape_is_read_from_the_model_and_features_are_required(cast: Cast, demo: Any) -> None:
    owner = signed_in(cast.owner)
    step_two = text(owner.get("/audits/new", _target(demo)))
    width = len(arrange.FEATURES)
    assert f"The ONNX model reads one matrix of {width} columns and does not name them." in step_two
    assert "(needed: the model's artifact does not name its inputs)" in step_two
    assert '<textarea name="features"' in step_two  # a list in order, not checkboxes
    state = db_state()
    missing = owner.post("/audits/new", _roles(demo))
    assert missing.status_code == 400
    assert "list the dataset columns it reads, in its input order" in text(missing)
    short = owner.post("/audits/new", _roles(demo, features="\n".join(arrange.FEATURES[:-1])))
    assert short.status_code == 400
    assert f"the model reads {width} inputs; {width - 1} columns are listed." in text(short)
    unknown = owner.post("/audits/new", _roles(demo, features="nope," + ",".join(arrange.FEATURES[1:])))
    assert unknown.status_code == 400
    assert "not columns of the dataset: 'nope'." in text(unknown)
    assert db_state() == state


def _follow(client: Client, response: Any) -> str:
    assert response.status_code == 302, text(response)[:2000]
    return text(client.get(response["Location"]))


def test_features_in_the_models_order_run_the_audit_and_no_started_message_is_shown(
    cast: Cast, demo: Any, django_capture_on_commit_callbacks: Any
) -> None:
    owner = signed_in(cast.owner)
    runs = AuditRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        sent = owner.post("/audits/new", _roles(demo, features="\n".join(arrange.FEATURES)))
    assert AuditRun.objects.count() == runs + 1
    run = AuditRun.objects.latest("pk")
    assert run.column_roles["features"] == list(arrange.FEATURES)
    assert run.policy_version.policy.name == "baseline"  # a minimal-risk model: its tier requires none
    page = _follow(owner, sent)
    assert "started." not in page
    assert run.status == "done" or AuditRun.objects.get(pk=run.pk).status == "done"
    assert 'data-testid="verdict"' in page


def test_a_run_that_cannot_run_shows_only_why(cast: Cast, demo: Any, django_capture_on_commit_callbacks: Any) -> None:
    """Text columns as the model's inputs: the run fails ("features: the model's input columns must be numeric");
    its page says so, and no "Audit #N started." sits above it."""
    owner = signed_in(cast.owner)
    text_columns = ["sex", "age_group", *arrange.FEATURES[2:]]
    with django_capture_on_commit_callbacks(execute=True):
        sent = owner.post("/audits/new", _roles(demo, features=",".join(text_columns)))
    page = _follow(owner, sent)
    assert "The audit could not run" in page
    assert "features: the model's input columns must be numeric" in page
    assert "started." not in page
    assert 'class="flash' not in page  # one message: the run's own
