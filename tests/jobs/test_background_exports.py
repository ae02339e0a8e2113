"""Evidence bundles in the embedded default (issue 19): the portal's "Build and sign the bundle" returns at once with
the export queued, a real worker on the embedded broker builds it, and the bundle's page shows the build's progress
until the download.
"""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from governance.exports.models import Export
from tests.conftest import Cast
from tests.crash_helpers import wait_for
from tests.jobs.conftest import jobs_queued
from tests.portal.conftest import build_world, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("workers")]


def fragment(client: Any, export: Export) -> str:
    """The build's fragment, as the page polls it."""
    response = client.get(f"/exports/{export.pk}/?part=build")
    assert response.status_code == 200
    return unescape(response.content.decode())


@pytest.mark.usefixtures("media_root", "unprotected_trail")
def test_the_portal_queues_a_bundle_and_its_page_follows_the_worker_to_the_download(
    cast: Cast, settings: Any, start_worker: Any, request: pytest.FixtureRequest
) -> None:
    # Before the trail is emptied (the exports refer to its checkpoints).
    request.addfinalizer(lambda: [e.delete() for e in Export.objects.order_by("-id")])
    build_world(cast)  # credit-scoring with its audit (run in this process, before jobs are queued)
    with jobs_queued(settings):
        officer = signed_in(cast.officer)
        sent = officer.post("/exports/", {"model": "credit-scoring", "recipient": "regina"})
        export = Export.objects.get()
        assert sent.status_code == 302
        assert sent["Location"] == f"/exports/{export.pk}/"
        assert export.status == "queued"  # no worker yet: the request did not build it
        assert "Queued: 0%" in fragment(officer, export)

        worker = start_worker(hold=True)
        _pid, percent, note = worker.wait_until_held().split(" ", 2)
        building = fragment(officer, export)
        assert 'data-status="building"' in building
        assert f'aria-valuenow="{percent}"' in building
        assert f"Building: {percent}%" in building
        assert note in building
        assert "hx-get" in building  # still polling

        worker.go_on()
        wait_for(
            lambda: not Export.objects.get(pk=export.pk).is_live or worker.process.poll() is not None,
            "the worker to end the build",
        )
    built = Export.objects.get(pk=export.pk)
    assert built.status == "ready", (built.error, worker.text()[-6000:])
    ready = fragment(officer, export)
    assert 'data-status="ready"' in ready
    assert "hx-get" not in ready
    assert f'href="/api/v1/exports/{export.pk}/download"' in ready
    assert "exports.build_export[" in worker.text()
