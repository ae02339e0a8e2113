"""A consent finding names the data subject's pseudonym: only those who handle consent see it, never a regulator
(who gets counts only) or the model's team."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tests.conftest import Cast
from tests.exports.conftest import API, Evidence


def _findings(client, evidence: Evidence) -> list[dict]:
    response = client.get(f"{API}/models/{evidence.model_name}/versions/{evidence.version.number}/findings/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_only_consent_handlers_see_which_subject_a_finding_is_about(cast: Cast, evidence: Evidence) -> None:
    expires = (timezone.now() + dt.timedelta(days=30)).isoformat()
    shared = cast.officer.client().post(
        f"{API}/shares/",
        {"model": evidence.model_name, "regulator": "regina", "expires_at": expires, "reason": "Art. 74"},
        format="json",
    )
    assert shared.status_code == 201, shared.content

    [for_officer] = _findings(cast.officer.client(), evidence)
    assert for_officer["kind"] == "consent_withdrawn"
    assert len(for_officer["details"]["subject"]) == 64  # the pseudonym, for the people who answer for consent

    for member in (cast.regulator, cast.owner, cast.reviewer):
        [seen] = _findings(member.client(), evidence)
        assert seen["id"] == for_officer["id"]
        assert "subject" not in seen["details"], member
        assert for_officer["details"]["subject"] not in str(seen)
