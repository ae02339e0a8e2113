"""A bundle that is not built yet can be neither shared nor downloaded, and a refused download is not recorded as
one: the trail says a regulator downloaded a bundle only when its bytes were sent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from governance.exports.models import Export, Share
from tests.api import assert_error, events_since, last_seq
from tests.conftest import Cast
from tests.exports.conftest import API, Evidence


def _share(cast: Cast, body: dict) -> object:
    expires = (timezone.now() + dt.timedelta(days=7)).isoformat()
    return cast.officer.client().post(
        f"{API}/shares/", {**body, "regulator": "regina", "expires_at": expires, "reason": "Art. 74"}, format="json"
    )


def test_a_queued_bundle_cannot_be_shared_and_a_refused_download_is_a_view(cast: Cast, evidence: Evidence) -> None:
    # The export's job never runs here (the test's transaction never commits): it stays queued.
    response = cast.officer.client().post(
        f"{API}/exports/", {"model": evidence.model_name, "recipient": "regina"}, format="json"
    )
    assert response.status_code == 202, response.content
    queued = response.json()["id"]
    assert Export.objects.get(pk=queued).status == "queued"

    refused_share = assert_error(_share(cast, {"export": queued}), 422, "refused")
    assert "still queued" in refused_share["message"]
    assert not Share.objects.exists()

    # Shared through its model instead, the regulator can see it, but a download is refused and is not a download.
    assert _share(cast, {"model": evidence.model_name}).status_code == 201
    seq = last_seq()
    assert_error(cast.regulator.client().get(f"{API}/exports/{queued}/download"), 409, "export_not_ready")
    kinds = [e.payload["kind"] for e in events_since(seq, "share.accessed")]
    assert kinds == ["view"]
