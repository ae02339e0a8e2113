"""A regulator's download of a signed report is recorded as a download in the share's access log, not a view."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tests.api import events_since, last_seq
from tests.conftest import Cast
from tests.exports.conftest import API, Evidence


def test_a_regulators_report_download_is_recorded_as_a_download(cast: Cast, evidence: Evidence) -> None:
    made = cast.officer.client().post(f"{API}/audits/{evidence.run_id}/reports/", {}, format="json")
    assert made.status_code == 201, made.content
    report = made.json()["id"]
    expires = (timezone.now() + dt.timedelta(days=30)).isoformat()
    shared = cast.officer.client().post(
        f"{API}/shares/",
        {"model": evidence.model_name, "regulator": "regina", "expires_at": expires, "reason": "Art. 74"},
        format="json",
    )
    assert shared.status_code == 201, shared.content

    regulator = cast.regulator.client()
    seq = last_seq()
    assert regulator.get(f"{API}/reports/{report}/").status_code == 200
    pdf = regulator.get(f"{API}/reports/{report}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    kinds = [(e.payload["object_type"], e.payload["kind"]) for e in events_since(seq, "share.accessed")]
    assert kinds == [("audits.report", "view"), ("audits.report", "download")]
