"""The ISO/IEC 42001 statement of applicability: all 38 Annex A controls listed (undecided until an officer
decides), each decision a trail event, exported as CSV (formula cells neutralised) and as a signed PDF."""

from __future__ import annotations

import csv
import io

import pytest

from audits.reports import signing
from governance.trail.models import Event
from obligations.models import SoaEntry
from tests.api import assert_error
from tests.conftest import Cast
from tests.data.conftest import refused

API = "/api/v1/statement-of-applicability"
DECISION = {
    "applicable": True,
    "justification": "We develop AI systems: the policy is the root of the AIMS.",
    "implementation": "implemented",
    "document_name": "ai-policy-v2.pdf",
    "document_sha256": "e" * 64,
}


def test_every_control_is_listed_and_undecided_until_an_officer_decides(cast: Cast) -> None:
    rows = cast.reviewer.client().get(f"{API}/").json()["results"]
    assert len(rows) == 38
    assert {r["decision"] for r in rows} == {"undecided"}
    response = cast.officer.client().put(f"{API}/A.2.2", DECISION, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["decision"], response.json()["implementation"]) == ("applicable", "implemented")
    event = Event.objects.get(seq=response.json()["trail_event"])
    assert (event.action, event.payload["control"], event.payload["document_sha256"]) == (
        "soa_entry.set",
        "A.2.2",
        "e" * 64,
    )
    excluded = {"applicable": False, "justification": '=HYPERLINK("http://x") We buy no third-party AI.'}
    assert cast.officer.client().put(f"{API}/A.10.3", excluded, format="json").status_code == 200
    rows = {r["control"]: r for r in cast.reviewer.client().get(f"{API}/").json()["results"]}
    assert rows["A.10.3"]["decision"] == "excluded"
    assert sum(r["decision"] == "undecided" for r in rows.values()) == 36


def test_the_csv_has_one_row_per_control_and_no_formula_survives(cast: Cast) -> None:
    cast.officer.client().put(
        f"{API}/A.10.3", {"applicable": False, "justification": "=1+1 no suppliers."}, format="json"
    )
    response = cast.reviewer.client().get(f"{API}.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert len(rows) == 38
    supplier = next(r for r in rows if r["control"] == "A.10.3")
    assert (supplier["decision"], supplier["justification"]) == ("excluded", "'=1+1 no suppliers.")


def test_the_pdf_is_signed_and_validates(cast: Cast) -> None:
    cast.officer.client().put(f"{API}/A.2.2", DECISION, format="json")
    response = cast.regulator.client().get(f"{API}.pdf")
    assert response.status_code == 200
    result = signing.validate_pdf(response.content)
    assert result.valid, result.message


@pytest.mark.parametrize(
    ("control", "body", "status", "field"),
    [
        ("A.99", DECISION, 404, "control"),
        ("A.2.2", {**DECISION, "implementation": "mostly"}, 422, "implementation"),
        ("A.2.2", {**DECISION, "implementation": ""}, 422, "implementation"),
        ("A.2.2", {"applicable": False, "justification": "x", "implementation": "planned"}, 422, "implementation"),
        ("A.2.2", {**DECISION, "justification": "  "}, 422, "justification"),
        ("A.2.2", {**DECISION, "document_sha256": ""}, 422, "document_name"),
        ("A.2.2", {**DECISION, "document_sha256": "e" * 65}, 422, "document_sha256"),
        ("A.2.2", {**DECISION, "applicable": "maybe"}, 422, "applicable"),
    ],
)
def test_a_bad_decision_is_refused_and_changes_nothing(
    cast: Cast, control: str, body: dict, status: int, field: str
) -> None:
    cast.officer.client().get(f"{API}/")  # the built-in catalogues stored first
    error = refused(lambda: cast.officer.client().put(f"{API}/{control}", body, format="json"), status)
    assert field in error["details"], error
    assert not SoaEntry.objects.exists()


def test_only_an_officer_decides(cast: Cast) -> None:
    cast.officer.client().get(f"{API}/")
    for member in (cast.owner, cast.admin, cast.regulator):
        assert_error(member.client().put(f"{API}/A.2.2", DECISION, format="json"), 403)
    assert not SoaEntry.objects.exists()
