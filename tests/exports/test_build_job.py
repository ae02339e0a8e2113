"""Evidence bundles as a background job: a request is checked and recorded at once (queued), a job builds it
(building, with progress at each step) and records it (ready, ``export.created``); failures end in ``error``; a build
whose worker was lost is taken over; the API answers 202 with a Location to poll (201 when built in process), and
refuses the download (409) until the bundle is ready."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

import governance.tasks  # noqa: F401 - what the worker's autodiscovery imports (ready() imports it too)
from governance.access.actions import ActionError
from governance.celery import app
from governance.exports import actions
from governance.exports.actions import do_create_export, execute_export, lost_builds
from governance.exports.models import Export, ExportStatus
from governance.exports.tasks import resume_lost_builds
from governance.trail.leaf import text_commitment
from governance.trail.log import Actor
from registry.models import RegisteredModel
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.exports.conftest import API, Evidence, post_export
from tests.registry.conftest import register_model


def ask(cast: Cast, model_name: str, **kwargs: Any) -> Export:
    """Ask for a bundle for regina as the officer; in a test's transaction its build waits (nothing commits)."""
    return do_create_export(
        user=cast.officer.user,
        actor=Actor.for_user(cast.officer.user),
        model=RegisteredModel.objects.get(name=model_name),
        recipient=cast.regulator.user,
        **kwargs,
    )


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str]]:
    """Every progress update a build makes, as the row showed it right after (status, percent, note)."""
    seen: list[tuple[str, int, str]] = []
    original = actions._Progress.__call__

    def record(self: Any, percent: int, note: str) -> None:
        original(self, percent, note)
        row = Export.objects.get(pk=self.export_id)
        seen.append((row.status, row.progress, row.progress_note))

    monkeypatch.setattr(actions._Progress, "__call__", record)
    return seen


def test_queued_then_building_with_rising_progress_then_ready(
    cast: Cast, evidence: Evidence, watched: list[tuple[str, int, str]]
) -> None:
    seq = last_seq()
    export = ask(cast, evidence.model_name)
    assert (export.status, export.progress, export.sha256, export.checkpoint_id) == ("queued", 0, "", None)
    [requested] = events_since(seq)
    assert requested.action == "export.requested"
    assert requested.payload == {
        "model": evidence.model_name,
        "version": None,
        "from": None,
        "to": None,
        "recipient": cast.regulator.user.pk,
        "previous_export": None,
    }
    assert requested.actor_user_id == cast.officer.user.pk

    done = execute_export(export.pk)

    assert done.status == ExportStatus.READY
    assert done.progress == 100
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.started_at <= done.finished_at
    assert {status for status, _, _ in watched} == {"building"}
    percents = [percent for _, percent, _ in watched]
    assert percents == sorted(percents), percents
    assert percents[0] < 10, percents
    assert percents[-1] >= 95, percents
    notes = " | ".join(note for _, _, note in watched)
    steps = ("Collecting", "Signed report 1 of 2", "Signed report 2 of 2", "inclusion proofs", "Writing", "Manifest")
    for step in (*steps, "Storing"):
        assert step in notes, notes
    [created] = events_since(requested.seq, "export.created")
    assert created.payload["sha256"] == done.sha256
    assert done.checkpoint is not None
    assert created.payload["checkpoint_size"] == done.checkpoint.tree_size
    assert created.object_id == requested.object_id == str(export.pk)
    assert execute_export(export.pk).status == "ready"  # a redelivered job changes nothing
    assert events_since(created.seq) == []


def test_the_api_answers_202_with_a_location_then_the_export_shows_its_progress(cast: Cast, evidence: Evidence) -> None:
    client = cast.officer.client()
    response = client.post(f"{API}/exports/", {"model": evidence.model_name}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == f"{API}/exports/{body['id']}/"
    assert (body["status"], body["progress"], body["download"], body["sha256"], body["checkpoint"]) == (
        "queued",
        0,
        None,
        None,
        None,
    )
    polled = client.get(response["Location"]).json()
    assert polled["status"] == "queued"
    assert polled["progress_note"]

    refused = assert_error(client.get(f"{API}/exports/{body['id']}/download"), 409, "export_not_ready")
    assert "is not ready to download: it is queued (0%)" in refused["message"]
    # The list shows it too; its bundle's facts are empty until it is built.
    [listed] = client.get(f"{API}/exports/").json()["results"]
    assert (listed["id"], listed["status"], listed["size"], listed["events"]) == (body["id"], "queued", None, None)

    execute_export(body["id"])
    ready = client.get(response["Location"]).json()
    assert (ready["status"], ready["progress"]) == ("ready", 100)
    assert ready["download"] == f"{API}/exports/{body['id']}/download"
    assert client.get(ready["download"]).status_code == 200


def test_a_second_export_to_the_same_recipient_waits_for_the_first(cast: Cast, evidence: Evidence) -> None:
    """One chain per recipient: while a bundle for regina is being built, another for her is refused (409),
    changing nothing; for someone else it is not. Once the first is ready, the next one chains from it."""
    first = post_export(cast.officer.client(), {"model": evidence.model_name, "recipient": "regina"})
    queued = ask(cast, evidence.model_name)
    before, seq = db_state(), last_seq()
    error = assert_error(
        cast.officer.client().post(
            f"{API}/exports/", {"model": evidence.model_name, "recipient": "regina"}, format="json"
        ),
        409,
        "concurrent_export",
    )
    assert f"Export {queued.pk} to the same recipient is still being built" in error["message"]
    assert db_state() == before
    assert events_since(seq) == []
    for_nobody = do_create_export(
        user=cast.officer.user, actor=Actor.for_user(cast.officer.user), model=queued.model, recipient=None
    )
    assert for_nobody.status == "queued"
    assert for_nobody.previous_id is None
    assert queued.previous_id == first["id"]
    execute_export(queued.pk)
    after = ask(cast, evidence.model_name)
    assert after.previous_id == queued.pk


def test_a_failed_build_ends_in_error_with_the_reason_and_is_recorded(
    cast: Cast, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(actions, "build_bundle", broken)
    export = ask(cast, evidence.model_name)
    seq = last_seq()
    failed = execute_export(export.pk)
    assert failed.status == "error"
    assert failed.error == "The bundle could not be built; the error is in the server log."
    assert failed.finished_at is not None
    assert failed.sha256 == ""
    assert failed.checkpoint_id is None
    [event] = events_since(seq, "export.failed")
    assert event.payload == {"error_sha256": text_commitment(failed.error)}
    assert events_since(seq, "export.created") == []
    client = cast.officer.client()
    body = client.get(f"{API}/exports/{export.pk}/").json()
    assert (body["status"], body["error"], body["download"]) == ("error", failed.error, None)
    refused = assert_error(client.get(f"{API}/exports/{export.pk}/download"), 409, "export_not_ready")
    assert "its build failed" in refused["message"]
    # A failed export does not block the recipient's chain, and is not what the next one chains from.
    monkeypatch.undo()
    assert ask(cast, evidence.model_name).previous_id is None


def test_a_refusal_during_the_build_is_the_error_message(
    cast: Cast, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise actions.ExportError("Audit run 7 is running (40% done); a report can be made once it is complete.")

    monkeypatch.setattr(actions, "build_bundle", refused)
    failed = execute_export(ask(cast, evidence.model_name).pk)
    assert (failed.status, failed.error) == (
        "error",
        "Audit run 7 is running (40% done); a report can be made once it is complete.",
    )


def test_a_stale_build_is_taken_over_and_a_live_one_is_not(cast: Cast, evidence: Evidence, settings: Any) -> None:
    export = ask(cast, evidence.model_name)
    recent = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS - 60)
    Export.objects.filter(pk=export.pk).update(status="building", started_at=recent, progress=40)
    assert execute_export(export.pk).status == "building"  # its worker may still be at it: left alone
    assert Export.objects.get(pk=export.pk).progress == 40

    lost = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS + 60)
    Export.objects.filter(pk=export.pk).update(started_at=lost)
    done = execute_export(export.pk)  # the redelivered job, after its worker died
    assert (done.status, done.progress) == ("ready", 100)
    assert done.started_at is not None
    assert done.started_at > lost


def test_a_stale_export_does_not_block_its_recipient_for_ever(cast: Cast, evidence: Evidence, settings: Any) -> None:
    stuck = ask(cast, evidence.model_name)
    lost = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS + 60)
    Export.objects.filter(pk=stuck.pk).update(status="building", started_at=lost)
    seq = last_seq()
    fresh = ask(cast, evidence.model_name)
    stuck.refresh_from_db()
    assert stuck.status == "error"
    assert "worker was lost" in stuck.error
    assert [e.action for e in events_since(seq)] == ["export.failed", "export.requested"]
    assert fresh.status == "queued"


def test_a_job_that_was_taken_over_records_nothing(
    cast: Cast, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker thought lost that finishes after all: the job that took over owns the export; the late one's bundle
    is not recorded (no second ``export.created``)."""
    export = ask(cast, evidence.model_name)
    build = actions.build_bundle

    def slow_then_taken_over(*args: Any, **kwargs: Any) -> Any:
        built = build(*args, **kwargs)
        Export.objects.filter(pk=export.pk).update(started_at=timezone.now() + dt.timedelta(seconds=1))
        return built

    monkeypatch.setattr(actions, "build_bundle", slow_then_taken_over)
    seq = last_seq()
    late = execute_export(export.pk)
    assert late.status == "building"
    assert events_since(seq, "export.created") == []


def test_an_abandoned_build_that_finishes_late_records_nothing(
    cast: Cast, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build thought lost is abandoned when the next export to its recipient is asked for; the next one is built
    and chains from the last ready bundle. When the lost build finishes after all, its bundle is not recorded."""
    first = ask(cast, evidence.model_name)
    second_id: list[int] = []
    build = actions.build_bundle

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        built = build(*args, **kwargs)
        if not second_id:
            silent_for_a_day = timezone.now() - dt.timedelta(days=1)  # no progress report since: judged lost
            Export.objects.filter(pk=first.pk).update(started_at=silent_for_a_day, progress_at=silent_for_a_day)
            second = ask(cast, evidence.model_name)
            second_id.append(second.pk)
            assert execute_export(second.pk).status == "ready"
        return built

    monkeypatch.setattr(actions, "build_bundle", meanwhile)
    seq = last_seq()
    late = execute_export(first.pk)
    assert late.status == "error"
    assert "worker was lost" in late.error
    assert [e.object_id for e in events_since(seq, "export.created")] == [str(second_id[0])]


def test_a_chain_changed_while_building_is_an_error_not_a_wrong_proof(
    cast: Cast, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last check, as the bundle is recorded: had another export to the same recipient become ready meanwhile
    (by any path), this bundle's consistency proof would start from the wrong checkpoint. It ends in error."""
    export = ask(cast, evidence.model_name)
    build = actions.build_bundle

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        built = build(*args, **kwargs)
        Export.objects.create(
            model=export.model,
            recipient=cast.regulator.user,
            exporter=cast.officer.user,
            status="ready",
            sha256="0" * 64,
            size=1,
            file="exports/elsewhere.zip",
            manifest_sha256="0" * 64,
            checkpoint=built.checkpoint,
            events=0,
        )
        return built

    monkeypatch.setattr(actions, "build_bundle", meanwhile)
    seq = last_seq()
    failed = execute_export(export.pk)
    assert failed.status == "error"
    assert "consistency proof starts from the wrong checkpoint" in failed.error
    assert events_since(seq, "export.created") == []


def test_the_worker_finds_the_export_job() -> None:
    assert "exports.build_export" in app.tasks


@pytest.mark.django_db(transaction=True)
def test_built_in_process_the_api_answers_201_with_the_ready_export(
    cast: Cast, unprotected_trail: None, media_root: Any, request: Any
) -> None:
    """Without a broker (the default), the build runs in the request once it commits: 201 and the export, ready."""
    register_model(cast, "minimal", name="in-process-model")
    request.addfinalizer(lambda: [e.delete() for e in Export.objects.order_by("-id")])
    response = cast.officer.client().post(f"{API}/exports/", {"model": "in-process-model"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["progress"]) == ("ready", 100)
    assert body["sha256"]
    assert body["checkpoint"]["tree_size"] > 0
    assert "Location" not in response
    connection.close()


def test_a_refused_request_stores_nothing(cast: Cast, evidence: Evidence) -> None:
    before, seq = db_state(), last_seq()
    with pytest.raises(ActionError, match="'from' is after 'to'"):
        ask(cast, evidence.model_name, date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 1, 1))
    assert db_state() == before
    assert events_since(seq) == []


def test_the_periodic_sweep_finishes_an_export_whose_job_was_lost(
    cast: Cast, evidence: Evidence, settings: Any
) -> None:
    lost = ask(cast, evidence.model_name)  # queued; its job never ran (the test's transaction never commits)
    assert resume_lost_builds() == []  # queued a moment ago: its job may still come
    assert Export.objects.get(pk=lost.pk).status == "queued"

    long_ago = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS + 60)
    Export.objects.filter(pk=lost.pk).update(created_at=long_ago)
    assert resume_lost_builds() == [lost.pk]
    done = Export.objects.get(pk=lost.pk)
    assert (done.status, done.progress) == ("ready", 100)
    assert resume_lost_builds() == []  # nothing left to resume


def test_a_long_build_that_keeps_reporting_progress_is_not_taken_over(
    cast: Cast, evidence: Evidence, settings: Any
) -> None:
    export = ask(cast, evidence.model_name)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS + 600)
    just_now = timezone.now() - dt.timedelta(seconds=5)
    Export.objects.filter(pk=export.pk).update(
        status="building", started_at=long_ago, progress=70, progress_at=just_now
    )
    assert lost_builds() == []
    assert execute_export(export.pk).status == "building"  # still reporting: left to its job
    assert Export.objects.get(pk=export.pk).progress == 70

    silent = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALE_BUILD_SECONDS + 60)
    Export.objects.filter(pk=export.pk).update(progress_at=silent)
    assert lost_builds() == [export.pk]  # no report for longer than the limit: lost
    assert execute_export(export.pk).status == "ready"
