"""Registering in the portal (issue 19, item 1): a model with the risk questionnaire and a version with its file,
through the registry's actions, with the API's trail events, roles and validation. Bad input (malformed,
oversized, hostile, concurrent) is refused naming the problem in the form's words, keeps what was typed and
changes nothing; nothing answers 500.

Known answers come from outside the form: the tier of the questionnaire's answers is the one the API gives for
the same answers, the artifact's hash is hashlib's over the uploaded bytes, and a real scikit-learn model exported
by skl2onnx is what is uploaded.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from html import escape
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from registry.models import ModelVersion, RegisteredModel
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.data.conftest import media_root  # noqa: F401 - the fixture
from tests.hostile import GiB, skops_bomb
from tests.portal.conftest import signed_in
from tests.registry.conftest import new_member, register_model
from tests.storage_files import stored_names

# Stored files go to a directory of each test's own (tests.data.conftest.media_root).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

HIGH = {  # credit scoring: Annex III 5(b), profiling natural persons -> high (registry.risk's rules)
    "art_5_1_h_objective": "none",
    "annex_i": "none",
    "annex_iii_uses": "5(b)",
    "profiles_natural_persons": "on",
}


def text(response: Any) -> str:
    return response.content.decode("utf-8")


def model_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "loan-pricing",
        "team": "credit-risk",
        "purpose": "Prices personal loans for applicants.",
        "intended_use": "Pricing within the bank's credit policy.",
        "business_kpis": "default rate\napproval rate",
        **HIGH,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture(scope="module")
def onnx_model() -> bytes:
    """A real classifier (scikit-learn's bundled iris data, no download), exported by skl2onnx."""
    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    return to_onnx(model, x[:1].astype(np.float32), options={"zipmap": False}).SerializeToString()


# --- a model ---------------------------------------------------------------------------------------------------


def test_the_empty_model_list_offers_registration_to_owners_and_says_who_to_the_others(cast: Cast) -> None:
    owner_page = text(signed_in(cast.owner).get("/models/"))
    assert "No models match." in owner_page
    assert 'href="/models/new"' in owner_page
    reviewer_page = text(signed_in(cast.reviewer).get("/models/"))
    assert "No models match." in reviewer_page
    assert 'href="/models/new"' not in reviewer_page
    assert "registered by their owning team" in reviewer_page
    filtered = text(signed_in(cast.owner).get("/models/?tier=high"))
    assert "show every model you may see" in filtered


def test_owner_registers_a_model_with_the_same_event_and_tier_as_the_api(cast: Cast) -> None:
    before = last_seq()
    owner = signed_in(cast.owner)
    response = owner.post("/models/new", model_form())
    assert response.status_code == 302, text(response)
    assert response["Location"] == "/models/loan-pricing/"
    portal = RegisteredModel.objects.get(name="loan-pricing")
    assert (portal.team.slug, portal.created_by, portal.risk_tier) == ("credit-risk", cast.owner.user, "high")
    assert portal.business_kpis == ["default rate", "approval rate"]
    [event] = events_since(before)

    # The same answers through the API: the same tier, rationale and event (only the name differs).
    answers = {
        "art_5_practices": [],
        "art_5_1_h_objective": "none",
        "annex_i": "none",
        "annex_iii_uses": ["5(b)"],
        "profiles_natural_persons": True,
        "transparency": [],
    }
    body = {"name": "loan-pricing-api", "team": "credit-risk", "purpose": "x", "risk_answers": answers}
    api = cast.owner.client().post("/api/v1/models/", body, format="json")
    assert api.status_code == 201, api.content
    [api_event] = events_since(event.seq)
    assert (event.action, api_event.action) == ("model.registered", "model.registered")
    assert {**event.payload, "name": "-"} == {**api_event.payload, "name": "-"}
    assert api.json()["risk_rationale"] == portal.risk_rationale
    assert api.json()["risk_answers"] == portal.risk_answers
    page = text(owner.get(response["Location"]))
    assert "loan-pricing is registered, classified: High risk (Art. 6, Annex III)." in page


def test_the_classification_is_shown_before_saving_and_nothing_is_saved(cast: Cast) -> None:
    state = db_state()
    response = signed_in(cast.owner).post("/models/new", {**model_form(), "preview": "1"})
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="risk-preview"' in page
    assert "high</span>" in page
    assert "Annex III" in page  # the rationale cites the point
    assert 'value="loan-pricing"' in page  # the form keeps what was typed
    assert db_state() == state


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"name": None}, "Model name: This field is required."),
        ({"name": "Loan Pricing!"}, "Model name: Enter a valid"),
        ({"name": "x" * 101}, "Model name: Ensure this value has at most 100 characters"),
        ({"purpose": ""}, "Intended purpose: This field is required."),
        ({"purpose": "p" * 5001}, "Intended purpose: Ensure this value has at most 5000 characters"),
        ({"purpose": "null\x00byte"}, "Intended purpose: Null characters are not allowed."),
        ({"team": "hiring"}, "Team: There is no such team among yours."),
        ({"business_kpis": "\n".join(f"kpi {i}" for i in range(51))}, "At most 50 KPIs, one per line; there are 51."),
        ({"business_kpis": "k" * 501}, "Line 1 has more than 500 characters."),
        ({"annex_iii_uses": "9(z)"}, "Select a valid choice. 9(z) is not one of the available choices."),
        ({"art_5_1_h_objective": "<script>"}, "Select a valid choice."),
    ],
    ids=["no-name", "bad-slug", "long-name", "no-purpose", "long-purpose", "nul", "other-team", "51-kpis",
         "long-kpi", "unknown-use", "hostile-choice"],
)  # fmt: skip
def test_malformed_oversized_and_hostile_model_input_is_refused_and_kept(
    cast: Cast, overrides: dict[str, Any], problem: str
) -> None:
    state = db_state()
    data = model_form(intended_use="<script>alert('kept')</script>", **overrides)
    response = signed_in(cast.owner).post("/models/new", data)
    assert response.status_code == 400
    page = text(response)
    assert escape(problem, quote=False) in page or problem in page, page[:3000]
    assert "Please correct the problems marked below." in page
    assert escape("<script>alert('kept')</script>") in page  # kept, escaped: never run
    assert "<script>alert(" not in page
    assert db_state() == state


def test_a_taken_name_is_said_under_the_name_and_nothing_else_changes(cast: Cast) -> None:
    register_model(cast, "high")  # credit-scoring
    state = db_state()
    response = signed_in(cast.owner).post("/models/new", model_form(name="credit-scoring"))
    assert response.status_code == 409
    assert "Model name: A model named &#x27;credit-scoring&#x27; already exists." in text(response)
    assert "Prices personal loans for applicants." in text(response)
    assert db_state() == state


@pytest.mark.parametrize("role", ["reviewer", "officer", "admin", "regulator"])
def test_roles_without_models_write_get_403_recorded(cast: Cast, role: str) -> None:
    before = last_seq()
    client = signed_in(getattr(cast, role))
    assert client.get("/models/new").status_code == 403
    assert client.post("/models/new", model_form()).status_code == 403
    assert [e.action for e in events_since(before)] == ["access.denied", "access.denied"]
    assert not RegisteredModel.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/models/new")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/models/new")


def test_an_owner_in_no_team_is_told_so(cast: Cast) -> None:
    loner = new_member("lone", "owner", [])
    page = text(signed_in(loner).get("/models/new"))
    assert "You are in no team" in page
    response = signed_in(loner).post("/models/new", model_form())
    assert response.status_code == 400
    assert "There is no such team among yours." in text(response)


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("registry-concurrency")
def test_two_people_registering_the_same_name_at_once_make_one_model(unprotected_trail: None, cast: Cast) -> None:
    ci = signed_in(cast.ci)
    owner = signed_in(cast.owner)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def post(client: Client) -> None:
        barrier.wait()
        try:
            statuses.append(client.post("/models/new", model_form()).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(c,)) for c in (ci, owner)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [302, 409]
    assert RegisteredModel.objects.filter(name="loan-pricing").count() == 1
    assert len(events_since(0, "model.registered")) == 1


# --- a version -------------------------------------------------------------------------------------------------


def test_owner_uploads_an_onnx_version_with_the_apis_event(cast: Cast, onnx_model: bytes) -> None:
    register_model(cast, "high")
    before = last_seq()
    owner = signed_in(cast.owner)
    assert "Register a new version" in text(owner.get("/models/credit-scoring/"))
    form = text(owner.get("/models/credit-scoring/versions/new"))
    assert "Register credit-scoring v1" in form
    response = owner.post(
        "/models/credit-scoring/versions/new",
        {
            "artifact": SimpleUploadedFile("iris.onnx", onnx_model),
            "code_repository": "https://git.example/credit",
            "code_commit": "a1b2c3d4",
            "metrics": '{"auc": 0.81}',
            "intended_use": "Pre-screening.",
        },
    )
    assert response.status_code == 302, text(response)
    assert response["Location"] == "/models/credit-scoring/versions/1/"
    version = ModelVersion.objects.get(model__name="credit-scoring", number=1)
    assert (version.framework, version.state, version.artifact_name) == ("onnx", "draft", "iris.onnx")
    assert version.artifact_sha256 == hashlib.sha256(onnx_model).hexdigest()
    assert (version.metrics, version.code_commit, version.model_card) == (
        {"auc": 0.81},
        "a1b2c3d4",
        {"intended_use": "Pre-screening."},
    )
    assert [f["name"] for f in version.input_schema] == ["X"]  # skl2onnx's input, read from the graph
    [event] = events_since(before)
    assert event.action == "model_version.registered"
    assert event.payload == {
        "model": "credit-scoring",
        "version": 1,
        "framework": "onnx",
        "artifact_sha256": hashlib.sha256(onnx_model).hexdigest(),
        "artifact_size": len(onnx_model),
    }
    assert "credit-scoring v1 is registered (ONNX), as a draft." in text(owner.get(response["Location"]))


def test_a_predictions_only_version_takes_its_features_in_order(cast: Cast) -> None:
    register_model(cast, "minimal", name="chat-router")
    response = signed_in(cast.ci).post(
        "/models/chat-router/versions/new", {"input_features": "income:int\n\nage\n  region : str  "}
    )
    assert response.status_code == 302, text(response)
    version = ModelVersion.objects.get(model__name="chat-router")
    assert version.framework == "predictions-only"
    assert version.input_schema == [
        {"name": "income", "type": "int"},
        {"name": "age"},
        {"name": "region", "type": "str"},
    ]


def _post_version(cast: Cast, data: dict[str, Any]) -> Any:
    return signed_in(cast.owner).post("/models/credit-scoring/versions/new", data)


@pytest.mark.parametrize(
    ("data", "status", "problem"),
    [
        ({"metrics": "{auc: 1}"}, 400, "Metrics (JSON object): Not valid JSON: Expecting property name"),
        ({"metrics": "[1, 2]"}, 400, "Metrics (JSON object): Give a JSON object ({...}), not a list."),
        ({"hyperparameters": '{"a": "\\u0000"}'}, 400, "contains a NUL character"),
        ({"metrics": "[" * 5000 + "]" * 5000}, 400, "Metrics (JSON object): The JSON is nested"),
        ({"metrics": '{"a": ' * 40 + "1" + "}" * 40}, 400, "nested more than"),
        ({"code_commit": "not-a-hash"}, 400, "Code commit: "),
        ({"training_datasets": "applications"}, 400, "Training datasets: Line 1 (&#x27;applications&#x27;)"),
        ({"training_datasets": "nowhere/1"}, 422, "Training datasets: "),
        ({"input_features": ":int"}, 400, "Input features (predictions-only versions): Line 1 has no feature name."),
        ({"metrics": "x" * 100_001}, 400, "Metrics (JSON object): Ensure this value has at most 100000 characters"),
    ],
    ids=["bad-json", "json-list", "nul", "recursion", "deep", "commit", "dataset-syntax", "no-dataset", "feature",
         "long"],
)  # fmt: skip
def test_malformed_version_metadata_is_refused_in_the_forms_words_and_kept(
    cast: Cast,
    data: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    register_model(cast, "high")
    state = db_state()
    response = _post_version(cast, {"code_repository": "https://git.example/kept", "input_features": "income", **data})
    assert response.status_code == status, text(response)[:2000]
    page = text(response)
    assert problem in page, page[:4000]
    assert "https://git.example/kept" in page
    assert "metadata" not in page.split("<main", 1)[1].lower()  # no API field names
    assert db_state() == state


class Booby:
    """Unpickling this would call ``print``: proof enough that a pickle was never loaded is that it is refused
    before any reading of its objects."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("unpickled",))


@pytest.mark.parametrize(
    ("name", "content", "status", "problem"),
    [
        ("model.onnx", pickle.dumps(Booby()), 422, "runs whatever code"),
        ("model.pkl", pickle.dumps({"a": 1}), 422, "skops.io.dump(model, &#x27;model.skops&#x27;)"),
        ("model.onnx", b"\x00garbage" * 100, 422, "model.onnx was refused"),
        ("model.onnx", b"", 400, "The submitted file is empty."),
        ("bomb.skops", skops_bomb(2 * GiB), 413, "ARTIFACT_MAX_MEMBER_BYTES"),
        ("<img src=x onerror=alert(1)>.onnx", b"junk", 422, "&lt;img src=x onerror=alert(1)&gt;.onnx was refused"),
    ],
    ids=["pickle-as-onnx", "pickle", "garbage", "empty", "zip-bomb", "hostile-name"],
)
def test_hostile_files_are_refused_in_words_under_the_file_field(
    cast: Cast,
    name: str,
    content: bytes,
    status: int,
    problem: str,
) -> None:
    register_model(cast, "high")
    state = db_state()
    response = _post_version(
        cast, {"artifact": SimpleUploadedFile(name, content), "code_repository": "https://git.example/kept"}
    )
    assert response.status_code == status
    page = text(response)
    assert problem in page, page[:4000]
    assert "https://git.example/kept" in page
    assert "<img src=x" not in page
    assert db_state() == state
    assert stored_names("artifacts") == []


def test_an_oversized_upload_is_refused_before_its_body_is_read(cast: Cast) -> None:
    register_model(cast, "high")
    state = db_state()
    with override_settings(ARTIFACT_MAX_BYTES=1024):
        response = _post_version(cast, {"artifact": SimpleUploadedFile("big.onnx", b"0" * (3 * 1024 * 1024))})
    assert response.status_code == 413
    assert "a model file may have at most 1,024 bytes (the ARTIFACT_MAX_BYTES setting)" in text(response)
    assert db_state() == state


def test_a_file_over_the_limit_but_under_the_framing_is_refused_by_the_action(
    cast: Cast,
    onnx_model: bytes,
) -> None:
    register_model(cast, "high")
    with override_settings(ARTIFACT_MAX_BYTES=len(onnx_model) - 1):
        response = _post_version(cast, {"artifact": SimpleUploadedFile("iris.onnx", onnx_model)})
    assert response.status_code == 413
    assert "iris.onnx was refused" in text(response)
    assert not ModelVersion.objects.exists()


def test_versions_of_another_teams_model_are_404_and_roles_without_write_403(cast: Cast) -> None:
    register_model(cast, "high")
    url = "/models/credit-scoring/versions/new"
    assert signed_in(cast.outsider).get(url).status_code == 404
    assert signed_in(cast.outsider).post(url, {"input_features": "a"}).status_code == 404
    assert signed_in(cast.regulator).get(url).status_code == 403
    assert signed_in(cast.reviewer).post(url, {"input_features": "a"}).status_code == 403
    assert signed_in(cast.owner).get("/models/no-such-model/versions/new").status_code == 404
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("registry-concurrency")
def test_two_versions_uploaded_at_once_get_numbers_1_and_2(
    unprotected_trail: None,
    cast: Cast,
    onnx_model: bytes,
) -> None:
    register_model(cast, "high")
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def post(member: Any) -> None:
        barrier.wait()
        try:
            data = {"artifact": SimpleUploadedFile("iris.onnx", onnx_model)}
            statuses.append(signed_in(member).post("/models/credit-scoring/versions/new", data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(m,)) for m in (cast.owner, cast.ci)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [302, 302]
    assert sorted(ModelVersion.objects.values_list("number", flat=True)) == [1, 2]


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        ({}, {}),
        ({"code_commit": "a1b2c3d4"}, {"CONTENT_LENGTH": "abc"}),
        (b"--xx\r\ngarbage", {"content_type": "multipart/form-data; boundary=xx"}),
        (b"not a form", {"content_type": "application/octet-stream"}),
    ],
    ids=["empty", "bad-length", "broken-multipart", "not-a-form"],
)
def test_an_empty_or_malformed_body_registers_nothing(cast: Cast, body: Any, extra: dict[str, str]) -> None:
    register_model(cast, "high")
    state = db_state()
    response = _post_version_raw(cast, body, extra)
    assert response.status_code == 400
    assert "Choose the model file; for a model that lives elsewhere, list its input features instead." in text(response)
    assert db_state() == state


def test_a_multipart_body_without_a_boundary_is_a_bad_request_not_an_error(cast: Cast) -> None:
    register_model(cast, "high")
    client = signed_in(cast.owner, raise_request_exception=False)
    response = client.post("/models/credit-scoring/versions/new", b"--", content_type="multipart/form-data")
    assert response.status_code == 400


def _post_version_raw(cast: Cast, body: Any, extra: dict[str, str]) -> Any:
    return signed_in(cast.owner).post("/models/credit-scoring/versions/new", body, **extra)
