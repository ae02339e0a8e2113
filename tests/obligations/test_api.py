"""The obligations API: a version's status and its OSCAL export (validated with compliance-trestle's OSCAL models,
generated from NIST's OSCAL JSON schemas), the officer's decisions and scope, catalogue versions; not yours is 404,
and malformed or hostile bodies are refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog

from governance.trail.models import Event
from obligations.models import CatalogueVersion, ObligationDecision
from registry.models import ModelVersion
from tests.api import assert_error
from tests.conftest import Cast
from tests.data.conftest import refused
from tests.registry.conftest import register_model

API = "/api/v1"
V = f"{API}/models/credit-scoring/versions/1"
DECISION = f"{V}/obligations/eu-ai-act-high-risk/art-17-quality-management/decisions"
ATTEST = {
    "decision": "attested",
    "reason": "QMS manual adopted.",
    "document_name": "qms.pdf",
    "document_sha256": "c" * 64,
}


@pytest.fixture
def credit(cast: Cast, make_version: Any) -> ModelVersion:
    return make_version(register_model(cast, "high"), model_card={"intended_use": "Consumer credit decisions."})


def test_the_status_lists_the_obligations_with_their_evidence(cast: Cast, credit: ModelVersion) -> None:
    response = cast.reviewer.client().get(f"{V}/obligations/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["model"], body["version"], body["risk_tier"]) == ("credit-scoring", 1, "high")
    assert [c["name"] for c in body["catalogues"]] == ["eu-ai-act-high-risk", "nist-ai-rmf"]
    map1 = next(o for o in body["catalogues"][1]["obligations"] if o["id"] == "MAP-1")
    assert map1["status"] == "met"
    proof = cast.reviewer.client().get(map1["evidence"][0]["event"]["inclusion_proof"])
    assert proof.status_code == 200, proof.content
    assert proof.json()["leaf_index"] == map1["evidence"][0]["event"]["seq"]


def test_another_teams_member_gets_404_for_status_oscal_scope_and_decisions(cast: Cast, credit: ModelVersion) -> None:
    outsider = cast.outsider.client()
    for path in (f"{V}/obligations/", f"{V}/obligations/oscal", f"{API}/models/credit-scoring/obligation-scope"):
        assert_error(outsider.get(path), 404)
    # An officer of the organisation sees it, and a missing version is the same 404 as a hidden one.
    assert cast.officer.client().get(f"{V}/obligations/").status_code == 200
    assert_error(cast.officer.client().get(f"{API}/models/credit-scoring/versions/9/obligations/"), 404)


def test_an_officer_attests_and_the_status_shows_it(cast: Cast, credit: ModelVersion) -> None:
    response = cast.officer.client().post(DECISION, ATTEST, format="json")
    assert response.status_code == 201, response.content
    seq = response.json()["event_seq"]
    event = Event.objects.get(seq=seq)
    assert (event.action, event.object_type, event.object_id) == (
        "obligation.attested",
        "registry.modelversion",
        str(credit.pk),
    )
    assert event.payload["document_sha256"] == "c" * 64
    status = cast.owner.client().get(f"{V}/obligations/").json()
    qms = next(o for o in status["catalogues"][0]["obligations"] if o["id"] == "art-17-quality-management")
    assert qms["status"] == "attested"
    assert qms["decision"]["decided_by"] == "olivia"


@pytest.mark.parametrize(
    ("sent", "status", "field"),
    [
        ((DECISION, {**ATTEST, "document_sha256": "c" * 63}), 422, "document_sha256"),
        ((DECISION, {**ATTEST, "document_sha256": "<script>" + "c" * 56}), 422, "document_sha256"),
        ((DECISION, {**ATTEST, "decision": "waived"}), 422, "decision"),
        ((DECISION, {**ATTEST, "reason": ""}), 422, "reason"),
        ((DECISION, {**ATTEST, "reason": "x" * 5001}), 422, "reason"),
        ((DECISION, {**ATTEST, "extra": 1}), 422, "extra"),
        ((DECISION, {**ATTEST, "reason": ["a list"]}), 422, "reason"),
        ((DECISION, {**ATTEST, "document_name": ""}), 422, "document_name"),
        ((DECISION.replace("art-17-quality-management", "art-72-post-market-monitoring"), ATTEST), 422, "decision"),
        ((DECISION.replace("art-17-quality-management", "art-99"), ATTEST), 404, "obligation"),
        ((DECISION.replace("eu-ai-act-high-risk", "no-such-catalogue"), ATTEST), 404, "catalogue"),
    ],
)
def test_a_bad_decision_is_refused_and_changes_nothing(
    cast: Cast, credit: ModelVersion, sent: tuple[str, dict], status: int, field: str
) -> None:
    path, body = sent
    cast.officer.client().get(f"{V}/obligations/")  # the built-in catalogues stored first
    error = refused(lambda: cast.officer.client().post(path, body, format="json"), status)
    assert field in error["details"], error
    assert not ObligationDecision.objects.exists()


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"text"', b'{"decision": ', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(cast: Cast, credit: ModelVersion, raw: bytes) -> None:
    response = cast.officer.client().post(DECISION, raw, content_type="application/json")
    assert response.status_code in (400, 422), response.content
    assert not ObligationDecision.objects.exists()


def test_a_path_that_climbs_out_of_the_route_is_no_endpoint(cast: Cast, credit: ModelVersion) -> None:
    assert_error(
        cast.officer.client().post(
            DECISION.replace("art-17-quality-management", "..%2F..%2Fetc"), ATTEST, format="json"
        ),
        404,
    )
    assert not ObligationDecision.objects.exists()


def test_the_owner_may_not_decide(cast: Cast, credit: ModelVersion) -> None:
    refused(lambda: cast.owner.client().post(DECISION, ATTEST, format="json"), 403)


def test_the_scope_is_set_by_an_officer_and_checked(cast: Cast, credit: ModelVersion) -> None:
    path = f"{API}/models/credit-scoring/obligation-scope"
    cast.officer.client().get(f"{V}/obligations/")  # the built-in catalogues stored first
    assert cast.owner.client().get(path).json() == {
        "model": "credit-scoring",
        "roles": ["deployer", "provider"],
        "catalogues": ["eu-ai-act-high-risk", "nist-ai-rmf"],
        "declared": False,
    }
    for bad, field in (
        ({"roles": ["importer"], "catalogues": ["nist-ai-rmf"], "reason": "r"}, "roles"),
        ({"roles": ["provider"], "catalogues": ["colorado"], "reason": "r"}, "catalogues"),
        ({"roles": ["provider", "provider"], "catalogues": ["nist-ai-rmf"], "reason": "r"}, "roles"),
        ({"roles": [], "catalogues": ["nist-ai-rmf"], "reason": "r"}, "roles"),
        ({"roles": ["provider"], "catalogues": ["nist-ai-rmf"]}, "reason"),
    ):
        error = refused(lambda bad=bad: cast.officer.client().put(path, bad, format="json"), 422)
        assert field in error["details"], error
    body = {"roles": ["deployer"], "catalogues": ["nyc-ll144"], "reason": "We use a vendor's hiring tool."}
    response = cast.officer.client().put(path, body, format="json")
    assert response.status_code == 200, response.content
    assert Event.objects.get(seq=response.json()["event_seq"]).action == "obligation_scope.set"
    status = cast.owner.client().get(f"{V}/obligations/").json()
    assert [c["name"] for c in status["catalogues"]] == ["nyc-ll144"]
    assert {o["id"] for o in status["catalogues"][0]["obligations"]} == {"bias-audit", "published-results", "notices"}


def test_a_catalogue_version_is_stored_with_its_event_and_errors_name_line_and_field(cast: Cast) -> None:
    officer = cast.officer.client()
    listed = officer.get(f"{API}/obligation-catalogues/").json()["results"]
    assert {c["name"] for c in listed} == {
        "colorado-ai-act",
        "eu-ai-act-high-risk",
        "iso-42001",
        "nist-ai-rmf",
        "nyc-ll144",
    }
    text = officer.get(f"{API}/obligation-catalogues/nyc-ll144/").json()["text"]
    changed = text.replace("within_days: 365", "within_days: 300")
    response = officer.post(f"{API}/obligation-catalogues/", {"text": changed, "reason": "Stricter."}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 2
    event = Event.objects.filter(action="obligation_catalogue.saved").order_by("-seq").first()
    assert event is not None
    assert (event.payload["catalogue"], event.payload["version"]) == ("nyc-ll144", 2)
    assert officer.get(f"{API}/obligation-catalogues/nyc-ll144/?version=1").json()["version"] == 1
    assert_error(officer.get(f"{API}/obligation-catalogues/nyc-ll144/?version=x"), 404)
    broken = changed.replace("nyc-rcny/5-304]", "nyc-rcny/5-399]")
    error = refused(
        lambda: officer.post(f"{API}/obligation-catalogues/", {"text": broken}, format="json"), 422, "invalid_catalogue"
    )
    assert "obligations[2].citations[1]" in error["details"], error
    line = broken[: broken.index("nyc-rcny/5-399")].count("\n") + 1
    assert error["message"].startswith(
        f"line {line}, obligations[2].citations[1]: unknown citation id 'nyc-rcny/5-399'"
    )
    assert CatalogueVersion.objects.filter(catalogue__name="nyc-ll144").count() == 2


def test_the_oscal_export_validates_against_the_oscal_models(cast: Cast, credit: ModelVersion) -> None:
    cast.officer.client().post(DECISION, ATTEST, format="json")
    workers = DECISION.replace("art-17-quality-management", "art-26-7-inform-workers")
    cast.officer.client().post(workers, {"decision": "not_applicable", "reason": "No workplace use."}, format="json")
    response = cast.owner.client().get(f"{V}/obligations/oscal")
    assert response.status_code == 200, response.content
    document = response.json()
    model = AssessmentResults.model_validate(document["assessment-results"])  # extra fields forbidden
    (result,) = model.results
    (selection,) = result.reviewed_controls.control_selections
    included = {c.control_id for c in selection.include_controls}
    assert "eu-ai-act-high-risk_art-17-quality-management" in included
    assert {c.control_id for c in selection.exclude_controls} == {"eu-ai-act-high-risk_art-26-7-inform-workers"}
    findings = {f.target.target_id: f.target.status.state.value for f in result.findings}
    assert findings["eu-ai-act-high-risk_art-17-quality-management"] == "satisfied"
    assert findings["eu-ai-act-high-risk_art-9-risk-management"] == "not-satisfied"
    assert findings["nist-ai-rmf_MAP-1"] == "satisfied"
    assert len(findings) == 18 - 1 + 19
    # Every finding's observations exist, and every evidence link is an inclusion proof the API serves.
    observations = {o.uuid: o for o in result.observations}
    for finding in result.findings:
        for related in finding.related_observations or []:
            assert related.observation_uuid in observations
    hrefs = [e.href for o in result.observations for e in (o.relevant_evidence or [])]
    assert hrefs
    assert all(cast.owner.client().get(h).status_code == 200 for h in hrefs[:3])
    # The same status exports the same ids.
    assert cast.owner.client().get(f"{V}/obligations/oscal").json()["assessment-results"]["uuid"] != ""


@pytest.mark.parametrize(
    ("name", "controls"),
    [("eu-ai-act-high-risk", 18), ("nist-ai-rmf", 19), ("nyc-ll144", 3), ("iso-42001", 38), ("colorado-ai-act", 12)],
)
def test_each_catalogue_exports_as_an_oscal_catalog(cast: Cast, name: str, controls: int) -> None:
    response = cast.regulator.client().get(f"{API}/obligation-catalogues/{name}/oscal")
    assert response.status_code == 200, response.content
    model = Catalog.model_validate(response.json()["catalog"])  # extra fields forbidden, tokens and UUIDs checked
    assert len(model.controls) == controls
    first = model.controls[0]
    assert first.parts[0].name == "statement"
    if name == "eu-ai-act-high-risk":
        assert first.id == "art-9-risk-management"
        assert [(link.href, link.text) for link in first.links] == [
            ("https://eur-lex.europa.eu/eli/reg/2024/1689/oj", "Art. 9 of Regulation (EU) 2024/1689")
        ]
    if name == "iso-42001":
        assert (first.id, first.props[0].value, first.links) == ("A.2.2", "A.2.2", None)
    assert_error(cast.regulator.client().get(f"{API}/obligation-catalogues/{name}/oscal?version=99"), 404)
