"""The registry's HTTP API end to end, with the cast's tokens: models, risk, versions (JSON and artifact uploads),
transitions and model cards. Every refusal is checked for its JSON error shape, its code, and that it changed
nothing (the trail included); every success for its rows and its trail event.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import numpy
import pytest
import skl2onnx
import skops.io
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from governance.access.actions import do_issue_token
from governance.access.models import User
from governance.access.roles import Role
from governance.citations import EU_AI_ACT_TEXT_VERSION
from governance.data.models import LineageRun
from governance.trail.models import Event
from registry.models import ModelVersion, RegisteredModel, Review
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast, Member, sha256_text
from tests.registry.conftest import MakeVersion, Walk, acting, new_member, register_model, risk_answers

API = "/api/v1/models/"


def url(name: str, *rest: object) -> str:
    """``url("m")`` -> /api/v1/models/m/, ``url("m", "risk")`` -> /api/v1/models/m/risk,
    ``url("m", 1)`` -> /api/v1/models/m/versions/1/, ``url("m", 1, "approve")`` -> .../versions/1/approve."""
    if not rest:
        return f"{API}{name}/"
    if rest == ("versions",):
        return f"{API}{name}/versions/"
    if isinstance(rest[0], int):
        tail = "/".join(str(part) for part in rest[1:])
        return f"{API}{name}/versions/{rest[0]}/" + tail
    return f"{API}{name}/" + "/".join(str(part) for part in rest)


def client_of(cast: Cast, who: str) -> APIClient:
    return APIClient() if who == "anonymous" else getattr(cast, who).client()


def refused(
    response_of: Any, status: int, code: str | None = None, *, allowed_events: tuple[str, ...] = ("access.denied",)
) -> dict[str, Any]:
    """Send a request (``response_of()``) that must be refused; assert the error shape and that nothing changed."""
    before, seq = db_state(), last_seq()
    error = assert_error(response_of(), status, code)
    assert db_state() == before
    assert [e.action for e in events_since(seq) if e.action not in allowed_events] == []
    return error


def registration(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "credit-scoring",
        "team": "credit-risk",
        "purpose": "Score consumer loan applications.",
        "intended_use": "Pre-screening of applications under EUR 50k.",
        "out_of_scope_uses": "Mortgages; employment decisions.",
        "business_kpis": ["approval rate", "default rate at 12 months"],
        "risk_answers": risk_answers("high"),
    }
    return {**body, **changes}


# --- registering models ----------------------------------------------------------------------------------------


def test_an_owner_registers_a_model_classified_by_the_questionnaire(cast: Cast) -> None:
    seq = last_seq()

    response = cast.owner.client().post(API, registration(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("name", "team", "risk_tier", "created_by", "live", "business_kpis")} == {
        "name": "credit-scoring",
        "team": "credit-risk",
        "risk_tier": "high",
        "created_by": "omar",
        "live": {},
        "business_kpis": ["approval rate", "default rate at 12 months"],
    }
    assert "performs profiling of natural persons" in body["risk_rationale"]
    model = RegisteredModel.objects.get(name="credit-scoring")
    assert (model.team.slug, model.risk_tier, model.risk_answers) == ("credit-risk", "high", risk_answers("high"))
    recorded = events_since(seq)
    assert [(e.action, e.object_id, e.payload) for e in recorded] == [
        ("model.registered", str(model.pk), {"name": "credit-scoring", "team": "credit-risk", "risk_tier": "high"})
    ]
    assert (recorded[0].actor_kind, recorded[0].actor_user_id) == ("token", cast.owner.user.pk)


def test_ci_registers_models_for_any_team(cast: Cast) -> None:
    response = cast.ci.client().post(API, registration(risk_answers=risk_answers("minimal")), format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["created_by"], response.json()["risk_tier"]) == ("ci-bot", "minimal")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("reviewer", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
        ("admin", 403, "permission_denied"),  # administrators run the system; teams register their models
        ("read_only", 403, "permission_denied"),
        # An owner, but of team hiring: credit-risk answers like a team that does not exist (names not revealed).
        ("outsider", 422, "validation_failed"),
    ],
)
def test_who_may_not_register_a_model(cast: Cast, who: str, status: int, code: str) -> None:
    refused(lambda: client_of(cast, who).post(API, registration(), format="json"), status, code)

    assert not RegisteredModel.objects.exists()


def test_a_model_name_is_unique(cast: Cast) -> None:
    register_model(cast, "high")

    error = refused(lambda: cast.owner.client().post(API, registration(), format="json"), 409, "duplicate")

    assert "credit-scoring" in error["message"]


def test_bad_questionnaire_answers_are_named_field_by_field(cast: Cast) -> None:
    answers = {**risk_answers("high"), "annex_iii_area": "astrology", "profiles_natural_persons": "perhaps"}
    del answers["human_reviews_each_decision"]

    error = refused(
        lambda: cast.owner.client().post(API, registration(risk_answers=answers), format="json"),
        422,
        "validation_failed",
    )

    assert set(error["details"]["risk_answers"]) == {
        "annex_iii_area",
        "profiles_natural_persons",
        "human_reviews_each_decision",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team": "no-such-team"}, "team"),
        ({"name": "Not A Slug!"}, "name"),
        ({"risk_tier": "minimal"}, "risk_tier"),  # the tier comes from the questionnaire, never from the caller
        ({"risk_answers": None}, "risk_answers"),
        ({"purpose": ""}, "purpose"),
    ],
)
def test_invalid_registrations_name_the_field(cast: Cast, changes: dict[str, Any], field: str) -> None:
    error = refused(
        lambda: cast.owner.client().post(API, registration(**changes), format="json"), 422, "validation_failed"
    )

    assert field in error["details"]


def test_a_malformed_json_body_is_a_json_400(cast: Cast) -> None:
    refused(
        lambda: cast.owner.client().post(API, data="{not json", content_type="application/json"),
        400,
        "malformed_request",
    )


# --- who sees what ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_teams(cast: Cast) -> None:
    register_model(cast, "high")  # credit-scoring, team credit-risk
    response = cast.outsider.client().post(
        API,
        registration(name="cv-screening", team="hiring", risk_answers=risk_answers("high")),
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("who", "names"),
    [
        ("owner", ["credit-scoring"]),
        ("read_only", ["credit-scoring"]),
        ("reviewer", ["credit-scoring"]),
        ("outsider", ["cv-screening"]),
        ("officer", ["credit-scoring", "cv-screening"]),
        ("admin", ["credit-scoring", "cv-screening"]),
        ("ci", ["credit-scoring", "cv-screening"]),
        ("regulator", []),  # regulators see what is shared with them, through exports
    ],
)
def test_the_list_shows_only_what_your_teams_may_see(cast: Cast, two_teams: None, who: str, names: list[str]) -> None:
    response = getattr(cast, who).client().get(API)

    assert response.status_code == 200
    assert [m["name"] for m in response.json()["results"]] == names


def test_the_list_filters_by_tier_and_team_within_what_you_see(cast: Cast, two_teams: None) -> None:
    register_model(cast, "minimal")
    officer = cast.officer.client()

    assert [m["name"] for m in officer.get(API, {"risk_tier": "minimal"}).json()["results"]] == ["document-router"]
    assert [m["name"] for m in officer.get(API, {"team": "hiring"}).json()["results"]] == ["cv-screening"]
    # A filter never widens: the outsider asking for credit-risk still sees nothing of it.
    assert cast.outsider.client().get(API, {"team": "credit-risk"}).json()["results"] == []


@pytest.mark.parametrize(
    "path",
    [
        url("credit-scoring"),
        url("credit-scoring", "versions"),
        url("credit-scoring", 1),
        url("credit-scoring", 1, "model-card"),
        url("credit-scoring", "history"),
    ],
)
def test_another_teams_model_answers_404_exactly_like_a_missing_one(
    cast: Cast, make_version: MakeVersion, path: str
) -> None:
    make_version(register_model(cast, "high"))
    outsider = cast.outsider.client()

    hidden = refused(lambda: outsider.get(path), 404, "not_found")
    missing = assert_error(outsider.get(path.replace("credit-scoring", "no-such-model")), 404, "not_found")

    assert hidden == missing
    # The refusal itself is on the trail (who tried to look at what), without the object's name.
    denied = Event.objects.filter(action="access.denied").order_by("-seq").first()
    assert denied is not None
    assert (denied.actor_user_id, denied.payload["reason"]) == (cast.outsider.user.pk, "out_of_scope")


def test_a_missing_version_of_a_visible_model_is_404(cast: Cast, minimal_risk_model: RegisteredModel) -> None:
    refused(lambda: cast.owner.client().get(url("document-router", 7)), 404, "not_found")


# --- descriptive fields ----------------------------------------------------------------------------------------


def test_the_owner_edits_descriptive_fields_and_the_trail_says_which(
    cast: Cast, high_risk_model: RegisteredModel
) -> None:
    seq = last_seq()

    response = cast.owner.client().patch(
        url("credit-scoring"),
        {"purpose": "Score loans up to EUR 80k.", "business_kpis": ["approval rate"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert (response.json()["purpose"], response.json()["business_kpis"]) == (
        "Score loans up to EUR 80k.",
        ["approval rate"],
    )
    high_risk_model.refresh_from_db()
    assert (high_risk_model.purpose, high_risk_model.business_kpis) == ("Score loans up to EUR 80k.", ["approval rate"])
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        ("model.updated", {"name": "credit-scoring", "changed": ["business_kpis", "purpose"]})
    ]


def test_an_edit_that_changes_nothing_records_nothing(cast: Cast, high_risk_model: RegisteredModel) -> None:
    seq = last_seq()

    response = cast.owner.client().patch(url("credit-scoring"), {"purpose": high_risk_model.purpose}, format="json")

    assert response.status_code == 200
    assert events_since(seq) == []


@pytest.mark.parametrize("field", ["name", "team", "risk_tier", "risk_answers", "created_by"])
def test_identity_and_tier_cannot_be_patched(cast: Cast, high_risk_model: RegisteredModel, field: str) -> None:
    error = refused(
        lambda: cast.owner.client().patch(url("credit-scoring"), {field: "minimal"}, format="json"),
        422,
        "validation_failed",
    )

    assert field in error["details"]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
    ],
)
def test_who_may_not_edit_a_model(
    cast: Cast, high_risk_model: RegisteredModel, who: str, status: int, code: str
) -> None:
    refused(lambda: client_of(cast, who).patch(url("credit-scoring"), {"purpose": "x"}, format="json"), status, code)


# --- the risk tier ---------------------------------------------------------------------------------------------


def test_an_officer_changes_the_tier_with_a_reason_and_it_is_on_the_trail(
    cast: Cast, high_risk_model: RegisteredModel
) -> None:
    seq = last_seq()
    # The current questionnaire: an Annex III use with the Art. 6(3) derogation documented (issue 27).
    answers = {
        "art_5_practices": [],
        "art_5_1_h_objective": "none",
        "annex_i": "none",
        "annex_i_third_party_assessment": False,
        "annex_iii_uses": ["5(b)"],
        "profiles_natural_persons": False,
        "art_6_3_conditions": ["d"],
        "art_6_3_no_significant_risk": True,
        "art_6_3_assessment": "Only gathers the documents a credit officer assesses; assessment CR-4.",
        "transparency": ["50(1)"],
    }

    response = cast.officer.client().post(
        url("credit-scoring", "risk"),
        {"risk_answers": answers, "reason": "A credit officer now reviews every decision."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["risk_tier"] == "limited"
    high_risk_model.refresh_from_db()
    assert (high_risk_model.risk_tier, high_risk_model.risk_answers) == ("limited", answers)
    assert "Art. 6(3)(d)" in high_risk_model.risk_rationale
    assert [(e.action, e.actor_user_id, e.payload) for e in events_since(seq)] == [
        (
            "model.risk_changed",
            cast.officer.user.pk,
            {
                "name": "credit-scoring",
                "old_tier": "high",
                "new_tier": "limited",
                "answers": answers,
                "reason_sha256": sha256_text("A credit officer now reviews every decision."),
                "text_version": EU_AI_ACT_TEXT_VERSION,
            },
        )
    ]


@pytest.mark.parametrize("who", ["owner", "reviewer", "ci", "read_only"])
def test_only_officers_change_a_tier(cast: Cast, high_risk_model: RegisteredModel, who: str) -> None:
    body = {"risk_answers": risk_answers("minimal"), "reason": "we think it is fine"}

    refused(lambda: getattr(cast, who).client().post(url("credit-scoring", "risk"), body, format="json"), 403)

    high_risk_model.refresh_from_db()
    assert high_risk_model.risk_tier == "high"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"risk_answers": risk_answers("minimal")}, "reason"),
        ({"risk_answers": risk_answers("minimal"), "reason": ""}, "reason"),
        ({"reason": "because"}, "risk_answers"),
        ({"risk_answers": {**risk_answers("minimal"), "annex_iii_area": "moon"}, "reason": "because"}, "risk_answers"),
        ({"risk_answers": risk_answers("minimal"), "reason": "because", "risk_tier": "minimal"}, "risk_tier"),
    ],
)
def test_a_tier_change_without_a_reason_or_with_bad_answers_is_422(
    cast: Cast, high_risk_model: RegisteredModel, body: dict[str, Any], field: str
) -> None:
    error = refused(
        lambda: cast.officer.client().post(url("credit-scoring", "risk"), body, format="json"), 422, "validation_failed"
    )

    assert field in error["details"]


def test_a_tier_change_for_a_model_that_does_not_exist_is_404(cast: Cast) -> None:
    body = {"risk_answers": risk_answers("minimal"), "reason": "because"}

    refused(lambda: cast.officer.client().post(url("ghost", "risk"), body, format="json"), 404, "not_found")


# --- versions: predictions only --------------------------------------------------------------------------------


METADATA = {
    "hyperparameters": {"C": 1.0, "penalty": "l2"},
    "metrics": {"auc": 0.83, "accuracy": 0.91},
    "code_repository": "https://git.example.org/credit/scoring",
    "code_commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "training_datasets": [{"dataset": "applications-2025", "version": 3}],
    "model_card": {"model_details": "Logistic regression.", "intended_use": "Pre-screening."},
    "input_schema": [{"name": "income", "type": "float"}, {"name": "age", "type": "int"}],
}


def test_a_predictions_only_version_is_registered_from_json(
    cast: Cast, high_risk_model: RegisteredModel, applications_dataset: Any
) -> None:
    seq = last_seq()

    response = cast.owner.client().post(url("credit-scoring", "versions"), METADATA, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("model", "number", "state", "framework", "artifact_sha256", "artifact_size")} == {
        "model": "credit-scoring",
        "number": 1,
        "state": "draft",
        "framework": "predictions-only",
        "artifact_sha256": "",
        "artifact_size": None,
    }
    for field in ("hyperparameters", "metrics", "code_repository", "code_commit", "training_datasets", "model_card"):
        assert body[field] == METADATA[field], field
    version = ModelVersion.objects.get(model=high_risk_model, number=1)
    assert (version.created_by, version.input_schema, version.artifact.name) == (
        cast.owner.user,
        METADATA["input_schema"],
        "",
    )
    assert [(e.action, e.object_id, e.payload) for e in events_since(seq)] == [
        (
            "model_version.registered",
            str(version.pk),
            {
                "model": "credit-scoring",
                "version": 1,
                "framework": "predictions-only",
                "artifact_sha256": None,
                "artifact_size": None,
            },
        ),
        (
            "lineage_run.recorded",
            str(LineageRun.objects.get(links__model_version=version).pk),
            {
                "run_id": str(LineageRun.objects.get(links__model_version=version).run_id),
                "job": "assay/train/credit-scoring/v1",
                "state": "COMPLETE",
                "source": "registry",
                "inputs": ["dataset:applications-2025/v3"],
                "outputs": ["model:credit-scoring/v1"],
                "openlineage_sha256": None,
            },
        ),
    ]


def test_training_datasets_must_name_dataset_versions_the_caller_can_see(
    cast: Cast, high_risk_model: RegisteredModel, applications_dataset: Any
) -> None:
    for references, expected in (
        ([{"dataset": "applications-2025", "version": 9}], "no dataset version applications-2025 v9"),
        ([{"dataset": "ghost", "version": 1}], "no dataset version ghost v1"),
        ([{"dataset": "applications-2025"}], "must be {"),
        ([{"dataset": "applications-2025", "version": "3"}], "version a number"),
    ):
        before, seq = db_state(), last_seq()
        error = refused(
            lambda references=references: cast.owner.client().post(
                url("credit-scoring", "versions"), {"training_datasets": references}, format="json"
            ),
            422,
            "invalid_training_datasets",
        )
        assert expected in error["message"]
        assert (db_state(), events_since(seq)) == (before, [])


def test_version_numbers_count_up_per_model(
    cast: Cast, high_risk_model: RegisteredModel, minimal_risk_model: RegisteredModel
) -> None:
    owner, ci = cast.owner.client(), cast.ci.client()

    numbers = [
        owner.post(url("credit-scoring", "versions"), {}, format="json").json()["number"],
        ci.post(url("credit-scoring", "versions"), {}, format="json").json()["number"],
        owner.post(url("document-router", "versions"), {}, format="json").json()["number"],
        owner.post(url("credit-scoring", "versions"), {}, format="json").json()["number"],
    ]

    assert numbers == [1, 2, 1, 3]
    listed = owner.get(url("credit-scoring", "versions")).json()["results"]
    assert [(v["number"], v["created_by"]) for v in listed] == [(1, "omar"), (2, "ci-bot"), (3, "omar")]


def test_metadata_may_come_as_a_multipart_field_without_an_artifact(
    cast: Cast, high_risk_model: RegisteredModel, applications_dataset: Any
) -> None:
    response = cast.owner.client().post(
        url("credit-scoring", "versions"), {"metadata": json.dumps(METADATA)}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert (response.json()["framework"], response.json()["metrics"]) == ("predictions-only", METADATA["metrics"])


def test_malformed_metadata_json_is_422_naming_metadata(cast: Cast, high_risk_model: RegisteredModel) -> None:
    error = refused(
        lambda: cast.owner.client().post(
            url("credit-scoring", "versions"), {"metadata": '{"metrics": {"auc": 0.8}'}, format="multipart"
        ),
        422,
        "validation_failed",
    )

    assert list(error["details"]) == ["metadata"]
    assert "metadata" in error["message"]
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"metrics": {"auc": 0.8}, "learning_rate": 0.1}, "learning_rate"),  # not a metadata field
        ({"code_commit": "not-a-sha"}, "code_commit"),
        ({"model_card": {"favourite_colour": "blue"}}, "model_card"),  # not a Model Cards section
        ({"model_card": {"factors": ["age"]}}, "model_card"),  # sections are text
        ({"training_datasets": "applications-2025"}, "training_datasets"),
        ({"hyperparameters": [1, 2]}, "hyperparameters"),
    ],
)
def test_invalid_metadata_is_422_naming_the_field(
    cast: Cast, high_risk_model: RegisteredModel, metadata: dict[str, Any], field: str
) -> None:
    for send in (
        lambda: cast.owner.client().post(url("credit-scoring", "versions"), metadata, format="json"),
        lambda: cast.owner.client().post(
            url("credit-scoring", "versions"), {"metadata": json.dumps(metadata)}, format="multipart"
        ),
    ):
        error = refused(send, 422, "validation_failed")
        assert field in error["details"], error

    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
    ],
)
def test_who_may_not_register_a_version(
    cast: Cast, high_risk_model: RegisteredModel, who: str, status: int, code: str
) -> None:
    refused(lambda: client_of(cast, who).post(url("credit-scoring", "versions"), METADATA, format="json"), status, code)


# --- versions: artifacts ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def artifacts() -> dict[str, bytes]:
    """A real classifier (logistic regression on the breast cancer data) as ONNX, skops and pickle bytes."""
    features, labels = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(features, labels)
    onnx = skl2onnx.to_onnx(model, features[:1].astype(numpy.float32), options={"zipmap": False})
    return {"onnx": onnx.SerializeToString(), "skops": skops.io.dumps(model), "pickle": pickle.dumps(model)}


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Stored artifacts go to a directory of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(member: Member, filename: str, data: bytes, metadata: dict[str, Any] | None = None) -> Any:
    fields: dict[str, Any] = {"artifact": SimpleUploadedFile(filename, data, content_type="application/octet-stream")}
    if metadata is not None:
        fields["metadata"] = json.dumps(metadata)
    return member.client().post(url("credit-scoring", "versions"), fields, format="multipart")


@pytest.mark.parametrize("framework", ["onnx", "skops"])
def test_an_artifact_is_inspected_hashed_and_stored(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path, framework: str
) -> None:
    data, seq = artifacts[framework], last_seq()
    sha256 = hashlib.sha256(data).hexdigest()

    response = upload(cast.owner, f"scorer.{framework}", data, {"metrics": {"auc": 0.99}})

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("number", "framework", "artifact_name", "artifact_sha256", "artifact_size")} == {
        "number": 1,
        "framework": framework,
        "artifact_name": f"scorer.{framework}",
        "artifact_sha256": sha256,
        "artifact_size": len(data),
    }
    # The schema comes from the file itself: 30 float features in, a label and two probabilities out.
    assert [(f["type"], f["shape"]) for f in body["input_schema"]] == [("float", [None, 30])]
    assert {f["name"] for f in body["output_schema"]} == {"label", "probabilities"}
    assert body["metrics"] == {"auc": 0.99}
    version = ModelVersion.objects.get(model=high_risk_model, number=1)
    assert Path(version.artifact.path).read_bytes() == data
    assert stored_files(media_root) == [Path(version.artifact.path)]
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        (
            "model_version.registered",
            {
                "model": "credit-scoring",
                "version": 1,
                "framework": framework,
                "artifact_sha256": sha256,
                "artifact_size": len(data),
            },
        )
    ]


def test_identical_bytes_are_stored_once(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path
) -> None:
    first = upload(cast.owner, "model.onnx", artifacts["onnx"])
    second = upload(cast.ci, "same-model.onnx", artifacts["onnx"])

    assert (first.status_code, second.status_code) == (201, 201)
    assert [first.json()["number"], second.json()["number"]] == [1, 2]
    assert len(stored_files(media_root)) == 1


@pytest.mark.parametrize("filename", ["model.pkl", "model.onnx", "model.skops", "model"])
def test_a_pickle_is_refused_under_any_name_and_nothing_is_created(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path, filename: str
) -> None:
    error = refused(lambda: upload(cast.owner, filename, artifacts["pickle"]), 422, "pickle_refused")

    assert "pickle" in error["message"]
    assert "skops" in error["message"]  # it says what to upload instead
    assert not ModelVersion.objects.exists()
    assert stored_files(media_root) == []


def test_a_file_that_is_not_a_model_is_refused(cast: Cast, high_risk_model: RegisteredModel, media_root: Path) -> None:
    refused(lambda: upload(cast.owner, "model.onnx", b"name,income\nada,42\n"), 422, "not_onnx")

    assert stored_files(media_root) == []


def test_an_artifact_above_the_limit_is_413_and_nothing_is_created(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path
) -> None:
    with override_settings(ARTIFACT_MAX_BYTES=len(artifacts["onnx"]) - 1):
        error = refused(lambda: upload(cast.owner, "model.onnx", artifacts["onnx"]), 413, "too_large")

    assert f"{len(artifacts['onnx']) - 1:,}" in error["message"]
    assert stored_files(media_root) == []


def test_a_body_far_above_the_artifact_limit_is_refused_before_it_is_read(
    cast: Cast, high_risk_model: RegisteredModel, media_root: Path
) -> None:
    with override_settings(ARTIFACT_MAX_BYTES=1024):
        # The limit plus the 1 MiB allowed for multipart framing, plus one more MiB.
        error = refused(lambda: upload(cast.owner, "model.onnx", b"\0" * (2 * 1024 * 1024 + 1024)), 413)

    assert error["code"] == "payload_too_large"
    assert stored_files(media_root) == []


def test_an_artifact_upload_with_malformed_metadata_stores_nothing(
    cast: Cast, high_risk_model: RegisteredModel, artifacts: dict[str, bytes], media_root: Path
) -> None:
    fields = {"artifact": SimpleUploadedFile("model.onnx", artifacts["onnx"]), "metadata": "{"}

    error = refused(
        lambda: cast.owner.client().post(url("credit-scoring", "versions"), fields, format="multipart"), 422
    )

    assert "metadata" in error["details"]
    assert stored_files(media_root) == []


# --- transitions -----------------------------------------------------------------------------------------------


def post(member: Member, path: str, body: dict[str, Any] | None = None) -> Any:
    return member.client().post(path, body or {}, format="json")


def test_a_minimal_risk_version_goes_through_its_whole_life_over_http(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    version = make_version(minimal_risk_model)
    steps = [
        (cast.owner, "submit", {"reason": "ready"}, "submitted", ["model_version.submitted"]),
        (
            cast.reviewer,
            "approve",
            {"reason": "fine"},
            "approved",
            ["model_version.approval_added", "model_version.approved"],
        ),
        (cast.officer, "deploy", {"environment": "staging"}, "deployed", ["model_version.deployed"]),
        (cast.officer, "deploy", {"environment": "production", "reason": "go"}, "deployed", ["model_version.deployed"]),
        (cast.officer, "retire", {"reason": "superseded"}, "retired", ["model_version.retired"] * 2),
    ]
    for member, transition, body, state, expected in steps:
        seq = last_seq()
        response = post(member, url("document-router", 1, transition), body)
        assert response.status_code == 200, (transition, response.content)
        assert response.json()["state"] == state
        version.refresh_from_db()
        assert version.state == state
        recorded = events_since(seq)
        assert [e.action for e in recorded] == expected, transition
        assert {e.actor_user_id for e in recorded} == {member.user.pk}
        assert {e.actor_kind for e in recorded} == {"token"}

    body = cast.owner.client().get(url("document-router", 1)).json()
    assert (body["submitted_by"], [r["reviewer"] for r in body["reviews"]]) == ("omar", ["rhea"])
    assert sorted((d["environment"], d["retired_by"]) for d in body["deployments"]) == [
        ("production", "olivia"),
        ("staging", "olivia"),
    ]


def test_a_high_risk_version_needs_a_second_approver_over_http(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(high_risk_model), "submitted")

    first = post(cast.reviewer, url("credit-scoring", 1, "approve"))
    assert (first.status_code, first.json()["state"]) == (200, "submitted")
    refused(lambda: post(cast.reviewer, url("credit-scoring", 1, "approve")), 409, "duplicate_review")
    second = post(cast.officer, url("credit-scoring", 1, "approve"))

    assert (second.status_code, second.json()["state"]) == (200, "approved")
    assert [r["reviewer"] for r in second.json()["reviews"]] == ["rhea", "olivia"]


@pytest.mark.parametrize(
    ("state", "attempt"),
    [
        ("draft", ("reviewer", "approve", {})),  # approve a draft
        ("draft", ("reviewer", "reject", {"reason": "no"})),
        ("draft", ("officer", "deploy", {})),
        ("rejected", ("officer", "deploy", {})),  # deploy a rejected version
        ("rejected", ("owner", "submit", {})),
        ("approved", ("officer", "retire", {"reason": "x"})),
        ("retired", ("officer", "deploy", {"environment": "staging"})),
        ("submitted", ("owner", "submit", {})),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, state: str, attempt: tuple[str, str, dict[str, Any]]
) -> None:
    who, transition, body = attempt
    walk(minimal_draft, state)

    error = refused(lambda: post(getattr(cast, who), url("document-router", 1, transition), body), 409)

    assert error["code"] == "illegal_transition"
    assert f"it is {state}" in error["message"]


def test_self_approval_is_403_self_review(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    pat = new_member("pat", "owner", ["credit-risk"])
    make_version(minimal_risk_model, by=pat)
    assert post(pat, url("document-router", 1, "submit")).status_code == 200
    # Pat moves to reviewing in the same team; their token now carries models:approve.
    User.objects.filter(pk=pat.user.pk).update(role=Role.REVIEWER)

    seq = last_seq()
    error = refused(lambda: post(pat, url("document-router", 1, "approve")), 403, "self_review")

    assert "separation of duties" in error["message"]
    assert not Review.objects.exists()
    # An authorization failure decided by the action is recorded like a missing scope, with the refusal's code.
    [denied] = events_since(seq)
    assert (denied.action, denied.actor_user_id) == ("access.denied", pat.user.pk)
    assert denied.payload == {
        "method": "POST",
        "path": "api/v1/models/<slug:name>/versions/<int:number>/approve",
        "reason": "self_review",
        "scope": "",
    }


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", (401, {"not_authenticated"})),
        ("owner", (403, {"permission_denied"})),  # no models:approve scope
        ("read_only", (403, {"permission_denied"})),
        ("ci", (403, {"permission_denied"})),
        ("regulator", (403, {"permission_denied"})),
        ("admin", (403, {"permission_denied"})),  # administrators run the system; they do not approve
    ],
)
def test_who_may_not_approve_over_http(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, who: str, expected: tuple[int, set[str]]
) -> None:
    status, codes = expected
    walk(minimal_draft, "submitted")

    error = refused(lambda: client_of(cast, who).post(url("document-router", 1, "approve"), {}, format="json"), status)

    assert error["code"] in codes


def test_a_reviewer_of_another_team_cannot_even_see_the_version(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "submitted")
    hugo = new_member("hugo", "reviewer", ["hiring"])

    refused(lambda: post(hugo, url("document-router", 1, "approve")), 404, "not_found")


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("officer", 403, "permission_denied"),
    ],
)
def test_who_may_not_submit_over_http(
    cast: Cast, minimal_draft: ModelVersion, who: str, status: int, code: str
) -> None:
    refused(lambda: client_of(cast, who).post(url("document-router", 1, "submit"), {}, format="json"), status, code)


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_a_rejection_without_a_reason_is_422(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, body: dict[str, Any]
) -> None:
    walk(make_version(minimal_risk_model), "submitted")

    refused(lambda: post(cast.reviewer, url("document-router", 1, "reject"), body), 422, "reason_required")


def test_a_rejection_with_a_reason_is_recorded(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "submitted")
    seq = last_seq()

    response = post(cast.reviewer, url("document-router", 1, "reject"), {"reason": "No fairness audit."})

    assert (response.status_code, response.json()["state"]) == (200, "rejected")
    assert response.json()["reviews"][0] == {**response.json()["reviews"][0], "decision": "reject"}
    assert [(e.action, e.payload["reason_sha256"]) for e in events_since(seq)] == [
        ("model_version.rejected", sha256_text("No fairness audit."))
    ]
    assert response.json()["reviews"][0]["reason"] == "No fairness audit."  # the text stays in the review


@pytest.mark.parametrize(
    ("attempt", "field"),
    [
        (("retire", {}), "reason"),
        (("retire", {"reason": ""}), "reason"),
        (("retire", {"reason": "x", "environment": "moon"}), "environment"),
        (("deploy", {"environment": "moon"}), "environment"),
        (("deploy", {"environment": "production", "force": True}), "force"),
    ],
)
def test_bad_transition_bodies_are_422_naming_the_field(
    cast: Cast, minimal_draft: ModelVersion, walk: Walk, attempt: tuple[str, dict[str, Any]], field: str
) -> None:
    transition, body = attempt
    walk(minimal_draft, "deployed")

    error = refused(lambda: post(cast.officer, url("document-router", 1, transition), body), 422, "validation_failed")

    assert field in error["details"]


def test_a_blocked_deployment_is_409_and_changes_nothing(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, blocking_check: Any
) -> None:
    walk(make_version(minimal_risk_model), "approved")

    error = refused(lambda: post(cast.officer, url("document-router", 1, "deploy")), 409, "deployment_blocked")

    assert "No passing fairness audit" in error["message"]


def test_deploying_over_http_replaces_the_live_version(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "deployed", environment="production")
    walk(make_version(minimal_risk_model), "approved")

    response = post(cast.officer, url("document-router", 2, "deploy"), {"environment": "production"})

    assert response.status_code == 200, response.content
    model = cast.owner.client().get(url("document-router")).json()
    assert model["live"] == {"production": 2}
    assert cast.owner.client().get(url("document-router", 1)).json()["state"] == "retired"


# --- model cards -----------------------------------------------------------------------------------------------


def card_url(number: int = 1) -> str:
    return url("credit-scoring", number, "model-card")


def test_the_model_card_is_read_and_edited_section_by_section(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    make_version(high_risk_model, model_card={"model_details": "Logistic regression, 30 features."})
    seq = last_seq()

    assert cast.reviewer.client().get(card_url()).json() == {"model_details": "Logistic regression, 30 features."}
    response = cast.owner.client().put(
        card_url(),
        {"factors": "Age band and region.", "caveats_and_recommendations": "Not for mortgages."},
        format="json",
    )

    assert response.status_code == 200, response.content
    card = {
        "model_details": "Logistic regression, 30 features.",
        "factors": "Age band and region.",
        "caveats_and_recommendations": "Not for mortgages.",
    }
    assert response.json() == card
    assert ModelVersion.objects.get(model=high_risk_model, number=1).model_card == card
    digest = hashlib.sha256(json.dumps(card, sort_keys=True).encode()).hexdigest()
    assert [(e.action, e.payload) for e in events_since(seq)] == [
        (
            "model_card.edited",
            {
                "model": "credit-scoring",
                "version": 1,
                "sections": ["caveats_and_recommendations", "factors"],
                "card_sha256": digest,
            },
        )
    ]


def test_a_card_edit_that_changes_nothing_records_nothing(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    make_version(high_risk_model, model_card={"factors": "Age band."})
    seq = last_seq()

    response = cast.owner.client().put(card_url(), {"factors": "Age band."}, format="json")

    assert response.status_code == 200
    assert events_since(seq) == []


def test_the_card_stays_editable_while_under_review(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(high_risk_model), "submitted")
    seq = last_seq()

    response = cast.owner.client().put(card_url(), {"ethical_considerations": "Proxy risk: postcode."}, format="json")

    assert response.status_code == 200, response.content
    assert [e.action for e in events_since(seq)] == ["model_card.edited"]


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"factors": ["age"]}, "factors"),
        ({"metrics": {"auc": 0.8}}, "metrics"),
    ],
)
def test_an_unknown_or_non_text_section_is_422(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, card: dict[str, Any], field: str
) -> None:
    make_version(high_risk_model)

    error = refused(lambda: cast.owner.client().put(card_url(), card, format="json"), 422, "validation_failed")

    assert field in error["details"]


@pytest.mark.parametrize("state", ["approved", "rejected", "deployed", "retired"])
def test_the_card_is_frozen_once_reviewed(
    cast: Cast, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, state: str
) -> None:
    walk(make_version(high_risk_model, model_card={"factors": "Age band."}), state)

    error = refused(lambda: cast.owner.client().put(card_url(), {"factors": "Changed."}, format="json"), 409)

    assert error["code"] == "illegal_transition"
    assert ModelVersion.objects.get(model=high_risk_model, number=1).model_card == {"factors": "Age band."}


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("outsider", 404, "not_found"),
        ("reviewer", 403, "permission_denied"),
        ("read_only", 403, "permission_denied"),
        ("regulator", 403, "permission_denied"),
    ],
)
def test_who_may_not_edit_a_card(cast: Cast, high_risk_draft: ModelVersion, who: str, status: int, code: str) -> None:
    refused(lambda: client_of(cast, who).put(card_url(), {"factors": "x"}, format="json"), status, code)


# --- the error shape everywhere --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/models/credit-scoring/versions/abc/", None),  # not a number: no route
        ("post", "/api/v1/models/credit-scoring/versions/1/promote", {}),  # no such transition
        ("delete", "/api/v1/models/credit-scoring/", None),  # no such method
        ("put", "/api/v1/models/credit-scoring/versions/1/submit", {}),
        ("post", "/api/v1/models/credit-scoring/versions/1/approve", []),  # not an object
        ("post", "/api/v1/models/credit-scoring/risk", "null"),
        ("get", "/api/v1/models/credit-scoring/history?as_of=yesterday", None),
    ],
)
def test_every_refusal_is_the_json_error_shape(
    cast: Cast, high_risk_draft: ModelVersion, method: str, path: str, body: Any
) -> None:
    client = cast.officer.client()

    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)

    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


def test_acting_as_a_read_only_token_of_the_submitter_changes_nothing(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    # A read-only token never writes, whatever its user may do with a full token.
    make_version(minimal_risk_model)
    read_only = do_issue_token(user=cast.owner.user, actor=acting(cast.owner), read_only=True, days=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only.raw}")

    for path in (url("document-router", 1, "submit"), url("document-router", "versions")):
        refused(lambda p=path: client.post(p, {}, format="json"), 403, "permission_denied")


def test_a_name_taken_at_the_same_moment_is_a_conflict_not_a_crash(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two registrations of one name both pass the existence check; the database's uniqueness decides."""
    register_model(cast, "minimal", name="twin")
    real_filter = RegisteredModel.objects.filter

    class SawNothing:
        def exists(self) -> bool:
            return False  # as the second of two concurrent requests would have seen it

    monkeypatch.setattr(
        RegisteredModel.objects,
        "filter",
        lambda **kw: SawNothing() if kw == {"name": "twin"} else real_filter(**kw),
    )
    body = {"name": "twin", "team": "credit-risk", "purpose": "p", "risk_answers": risk_answers("minimal")}
    response = cast.owner.client().post("/api/v1/models/", body, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate"


def test_a_missing_version_of_a_visible_model_is_404_without_a_denial(cast: Cast, make_version: MakeVersion) -> None:
    """Version 2 exists on another model; asking for it on this one is "not there", not "not yours"."""
    first = register_model(cast, "minimal", name="alpha")
    second = register_model(cast, "minimal", name="beta")
    make_version(first)
    make_version(second)
    make_version(second)
    before = Event.objects.filter(action="access.denied").count()
    response = cast.owner.client().get("/api/v1/models/alpha/versions/2/")
    assert response.status_code == 404
    assert Event.objects.filter(action="access.denied").count() == before
