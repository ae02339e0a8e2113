"""Setting up monitoring in the portal (issue 19): the roles are chosen from the reference version's declared columns,
judged by the API's serializer and configured by the API's action (same trail event); refusals in the form's words
under the field at fault; nothing changed by a refused request; another team's version is 404."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from audits.actions import do_start_audit, ensure_builtin_policies
from audits.models import Policy
from audits.monitoring import actions as monitoring
from governance.data.models import DatasetVersion
from governance.trail.models import Event
from registry.models import MonitorConfig
from tests.api import db_state
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.portal.conftest import World, signed_in
from tests.registry.conftest import acting

pytestmark = pytest.mark.django_db
PAGE = "/models/credit-scoring/versions/1/monitoring"
ROLES = {
    "reference": "applications@1",
    "reference_kind": "training",
    "features": ["income", "age_band"],
    "prediction": "prediction",
    "favourable": "1",
    "label": "label",
    "protected": ["sex"],
}


def text(response: Any) -> str:
    return unescape(response.content.decode("utf-8"))


def errors_of(page: str, field_id: str) -> str:
    marker = f'id="{field_id}-errors">'
    return page.split(marker, 1)[1].split("</ul>", 1)[0] if marker in page else ""


def test_the_form_offers_the_references_columns_and_the_models_declared_features(cast: Cast, world: World) -> None:
    page = text(signed_in(cast.owner).get(PAGE))
    assert '<option value="applications@1" selected>applications v1 (200 rows)</option>' in page
    for column in ("applicant_id", "sex", "age_band", "income", "label", "prediction", "score"):
        assert f'name="features" value="{column}"' in page
        assert f'name="protected" value="{column}"' in page
    # credit-scoring v1 declares one input, income: it is the feature ticked at first.
    assert 'name="features" value="income" id="id_features_3" checked>' in page
    assert 'name="features" value="sex" id="id_features_1">' in page
    # The latest finished audit (four-fifths on applications) judged sex: it is ticked as protected; the reference's
    # own label column is chosen.
    assert 'name="protected" value="sex" id="id_protected_1" checked>' in page
    assert '<option value="label" selected>label</option>' in page
    assert '<option value="" selected>The policy the model\'s risk tier requires (baseline)</option>' in page
    assert '<option value="four-fifths">four-fifths</option>' in page
    version_page = text(signed_in(cast.owner).get("/models/credit-scoring/versions/1/"))
    assert "is not monitored yet" in version_page
    assert f'href="{PAGE}">Set up monitoring</a>' in version_page


def test_an_owner_sets_up_monitoring_with_the_apis_event(cast: Cast, world: World) -> None:
    owner = signed_in(cast.owner)
    sent = owner.post(PAGE, ROLES)
    assert sent.status_code == 302, text(sent)[:3000]
    assert sent["Location"] == "/models/credit-scoring/versions/1/#monitoring"
    config = MonitorConfig.objects.get(version=world.version)
    assert config.spec["features"] == [
        {"name": "income", "kind": "numeric"},
        {"name": "age_band", "kind": "categorical"},
    ]
    assert (config.spec["prediction"], config.spec["label"], config.spec["protected"]) == (
        "prediction",
        "label",
        ["sex"],
    )
    assert config.profile["rows"] == 200
    event = Event.objects.get(action="monitoring.configured")
    assert event.payload["reference"] == "applications@1"
    assert event.payload["features"] == ["income", "age_band"]
    assert event.actor_user_id == cast.owner.user.pk
    landed = text(owner.get(sent["Location"]))
    assert "Monitoring of credit-scoring v1 is set up against applications v1 (profiled once)." in landed
    assert "Send a production batch" in landed
    again = text(owner.get(PAGE))  # the form shows the set-up to change
    assert "Change the monitoring of credit-scoring v1" in again
    assert 'name="protected" value="sex" id="id_protected_1" checked>' in again


def test_a_chosen_policy_is_kept_and_an_unknown_one_refused_in_words(cast: Cast, world: World) -> None:
    owner = signed_in(cast.owner)
    state = db_state()
    unknown = owner.post(PAGE, {**ROLES, "policy": "nope"})
    assert unknown.status_code == 400
    assert "nope is not one of the available choices" in errors_of(text(unknown), "id_policy")
    assert db_state() == state
    sent = owner.post(PAGE, {**ROLES, "policy": "four-fifths"})
    assert sent.status_code == 302
    assert MonitorConfig.objects.get(version=world.version).policy == "four-fifths"
    assert Event.objects.get(action="monitoring.configured").payload["policy"] == "four-fifths"
    assert '<option value="four-fifths" selected>four-fifths</option>' in text(owner.get(PAGE))


def test_refusals_are_in_the_forms_words_under_their_field_and_change_nothing(cast: Cast, world: World) -> None:
    owner = signed_in(cast.owner)
    state = db_state()
    clash = owner.post(PAGE, {**ROLES, "features": ["income", "sex"]})
    assert clash.status_code == 422
    assert "Columns cannot be both a feature and a role: sex." in errors_of(text(clash), "id_features")
    no_threshold = owner.post(PAGE, {**ROLES, "prediction": "", "score": "score"})
    assert no_threshold.status_code == 422
    assert "A score column needs a decision threshold." in errors_of(text(no_threshold), "id_threshold")
    both = owner.post(PAGE, {**ROLES, "score": "score", "threshold": "0.5"})
    assert both.status_code == 422
    page = text(both)
    assert "Name either a prediction column or a score column (with a threshold)." in page
    no_features = owner.post(PAGE, {**ROLES, "features": []})
    assert no_features.status_code == 400
    assert "This field is required." in errors_of(text(no_features), "id_features")
    not_a_column = owner.post(PAGE, {**ROLES, "label": "outcome"})
    assert not_a_column.status_code == 400
    assert "outcome is not one of the available choices" in errors_of(text(not_a_column), "id_label")
    for response in (clash, no_threshold, both):
        shown = text(response).split("<main", 1)[1]
        assert "reference_kind" not in shown.replace('name="reference_kind"', "").replace("id_reference_kind", "")
    assert db_state() == state


def test_who_may_not_set_it_up_is_told_or_refused(cast: Cast, world: World) -> None:
    assert "Monitoring is set up by the owning team or CI." in text(signed_in(cast.reviewer).get(PAGE))
    assert signed_in(cast.reviewer).post(PAGE, ROLES).status_code == 403
    assert signed_in(cast.outsider).get(PAGE).status_code == 404  # another team's version
    assert not MonitorConfig.objects.exists()


def test_a_matrix_model_starts_from_the_features_its_latest_audit_gave(
    cast: Cast, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """The demo ONNX model reads one unnamed matrix: its declared inputs name no column, so the form starts from the
    features (in order) and protected attributes of its latest finished audit."""
    version = arrange.deployed_demo_version(cast, deploy=False)
    (training,) = version.training_datasets
    dataset_version = DatasetVersion.objects.get(dataset__name=training["dataset"], number=training["version"])
    ensure_builtin_policies(only="baseline")
    roles = {"label": "credit_risk", "favourable": "1", "protected": ["sex"], "features": list(arrange.FEATURES)}
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = do_start_audit(
            user=cast.owner.user,
            actor=acting(cast.owner),
            model_version=version,
            dataset_version=dataset_version,
            policy_version=Policy.objects.get(name="baseline").latest_version(),
            column_roles=roles,
        )
    run.refresh_from_db()
    assert run.status == "done"
    page = text(signed_in(cast.owner).get(f"/models/{version.model.name}/versions/1/monitoring"))
    offered = [part.split('"', 1)[0] for part in page.split('name="features" value="')[1:]]
    assert [name for name in offered if _is_checked(page, "features", name)] == [
        name for name in offered if name in arrange.FEATURES
    ]
    assert _is_checked(page, "protected", "sex")
    assert '<option value="credit_risk" selected>credit_risk</option>' in page

    # Saved with the batches' decision column, which the reference lacks (the model scores the reference), and the
    # features ticked in another order: the set-up keeps the order the model reads them in.
    sent = signed_in(cast.owner).post(
        f"/models/{version.model.name}/versions/1/monitoring",
        {
            "reference": f"{dataset_version.dataset.name}@{dataset_version.number}",
            "reference_kind": "training",
            "features": list(reversed(arrange.FEATURES)),
            "prediction": "decision",
            "favourable": "1",
            "label": "credit_risk",
            "protected": ["sex"],
        },
    )
    assert sent.status_code == 302, text(sent)[:3000]
    config = MonitorConfig.objects.get(version=version)
    assert [f["name"] for f in config.spec["features"]] == list(arrange.FEATURES)
    assert config.spec["prediction"] == "decision"
    # The model's decisions on the reference, in its own feature order, are the baseline: the same as the API's set-up.
    assert config.profile["decision_source"] == "the model, scoring the reference"
    assert config.profile["decision"] == _api_profile(cast, version)["decision"]


def _is_checked(page: str, field: str, value: str) -> bool:
    tag = page.split(f'name="{field}" value="{value}"', 1)[1].split(">", 1)[0]
    return "checked" in tag


def _api_profile(cast: Cast, version: Any) -> dict[str, Any]:
    """The profile the API's own set-up (tests.monitoring.arrange.CONFIG, features in the model's order) gives."""
    config = monitoring.do_configure_monitoring(
        version=version, user=cast.owner.user, actor=acting(cast.owner), **arrange.CONFIG
    )
    return dict(config.profile)
