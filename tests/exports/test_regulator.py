"""Regulator access: exactly what is shared, while it is shared, read-only, every access recorded; and the exports
API refusing what it must, changing nothing."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from governance.access.actions import ActionError
from governance.exports.actions import do_create_export
from governance.exports.models import Export, Share
from governance.trail.log import Actor
from governance.trail.models import Event
from registry.actions import do_add_webhook
from registry.models import RegisteredModel
from registry.models import RegisteredModel as Model
from tests.api import assert_error, db_state, events_since, last_seq
from tests.conftest import Cast
from tests.exports.conftest import API, Evidence, post_export
from tests.registry.conftest import register_model


def in_days(days: float) -> str:
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


def share_model(cast: Cast, name: str, *, days: float = 30, regulator: str = "regina") -> dict[str, Any]:
    response = cast.officer.client().post(
        f"{API}/shares/",
        {"model": name, "regulator": regulator, "expires_at": in_days(days), "reason": "Art. 74 market surveillance"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def export(cast: Cast, body: dict[str, Any]) -> dict[str, Any]:
    return post_export(cast.officer.client(), body)


@pytest.fixture
def other_model(cast: Cast) -> RegisteredModel:
    return register_model(cast, "minimal", name="hiring-screen")


def test_a_regulator_sees_nothing_until_something_is_shared(
    cast: Cast, evidence: Evidence, other_model: RegisteredModel
) -> None:
    regulator = cast.regulator.client()
    assert regulator.get(f"{API}/models/").json()["results"] == []
    assert_error(regulator.get(f"{API}/models/{evidence.model_name}/"), 404, "not_found")
    assert_error(regulator.get(f"{API}/audits/{evidence.run_id}/"), 404, "not_found")
    assert regulator.get(f"{API}/exports/").json()["results"] == []


def test_a_regulator_sees_exactly_the_shared_model_and_every_access_is_recorded(
    cast: Cast, evidence: Evidence, other_model: RegisteredModel
) -> None:
    seq = last_seq()
    share = share_model(cast, evidence.model_name)
    [created] = events_since(seq, "share.created")
    assert created.payload["regulator"] == cast.regulator.user.pk
    assert created.payload["model"] == evidence.model_name
    assert "reason" not in created.payload  # free text stays in its row; the trail holds its hash

    regulator = cast.regulator.client()
    assert [m["name"] for m in regulator.get(f"{API}/models/").json()["results"]] == [evidence.model_name]
    seq = last_seq()
    assert regulator.get(f"{API}/models/{evidence.model_name}/").status_code == 200
    assert regulator.get(f"{API}/models/{evidence.model_name}/versions/1/").status_code == 200
    assert regulator.get(f"{API}/audits/{evidence.run_id}/").status_code == 200
    accessed = events_since(seq, "share.accessed")
    seen = [(e.payload["object_type"], e.payload["object_id"], e.payload["kind"]) for e in accessed]
    model_pk = str(evidence.version.model_id)
    assert seen == [
        ("registry.registeredmodel", model_pk, "view"),
        ("registry.registeredmodel", model_pk, "view"),
        ("registry.modelversion", str(evidence.version.pk), "view"),
        ("audits.auditrun", str(evidence.run_id), "view"),
    ]
    assert {(e.object_type, e.object_id) for e in accessed} == {("governance.share", str(share["id"]))}
    assert {e.actor_user_id for e in accessed} == {cast.regulator.user.pk}

    # Nothing else: another model, its audits, datasets, teams, the trail.
    assert_error(regulator.get(f"{API}/models/{other_model.name}/"), 404, "not_found")
    assert regulator.get(f"{API}/datasets/").status_code == 403
    assert regulator.get(f"{API}/trail/events/").status_code == 403
    # Read-only: no write scope, whatever is shared.
    before = db_state()
    assert_error(
        regulator.post(f"{API}/models/{evidence.model_name}/versions/1/approve", {}, format="json"),
        403,
        "permission_denied",
    )
    assert_error(regulator.post(f"{API}/exports/", {"model": evidence.model_name}, format="json"), 403)
    assert_error(regulator.post(f"{API}/shares/{share['id']}/revoke", {"reason": "x"}, format="json"), 403)
    assert db_state() == before

    # The officer reads the access log; so does the regulator, of their own share.
    log = cast.officer.client().get(f"{API}/shares/{share['id']}/accesses").json()
    assert [(a["object_type"], a["kind"]) for a in log["results"]][:2] == [
        ("audits.auditrun", "view"),
        ("registry.modelversion", "view"),
    ]
    assert log["count"] == 4
    assert regulator.get(f"{API}/shares/{share['id']}/accesses").json()["count"] == 4


def test_revocation_and_expiry_cut_access_at_once(cast: Cast, evidence: Evidence) -> None:
    share = share_model(cast, evidence.model_name)
    regulator = cast.regulator.client()
    assert regulator.get(f"{API}/models/{evidence.model_name}/").status_code == 200
    seq = last_seq()
    revoked = cast.officer.client().post(
        f"{API}/shares/{share['id']}/revoke", {"reason": "Inquiry closed"}, format="json"
    )
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["active"] is False
    [event] = events_since(seq, "share.revoked")
    assert event.object_id == str(share["id"])
    assert_error(regulator.get(f"{API}/models/{evidence.model_name}/"), 404, "not_found")
    assert_error(regulator.get(f"{API}/audits/{evidence.run_id}/"), 404, "not_found")
    assert regulator.get(f"{API}/models/").json()["results"] == []
    again = cast.officer.client().post(f"{API}/shares/{share['id']}/revoke", {"reason": "twice"}, format="json")
    assert_error(again, 409, "already_revoked")

    # Expiry: the clock passing the share's expiry (moved here rather than waited for) ends it on the next request.
    second = share_model(cast, evidence.model_name)
    assert regulator.get(f"{API}/models/{evidence.model_name}/versions/1/").status_code == 200
    Share.objects.filter(pk=second["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_error(regulator.get(f"{API}/models/{evidence.model_name}/versions/1/"), 404, "not_found")


def test_a_regulator_downloads_exactly_the_exports_shared_with_them(cast: Cast, evidence: Evidence) -> None:
    for_regina = export(cast, {"model": evidence.model_name, "recipient": "regina"})
    internal = export(cast, {"model": evidence.model_name})
    regulator = cast.regulator.client()
    assert_error(regulator.get(f"{API}/exports/{for_regina['id']}/download"), 404, "not_found")

    share = share_model(cast, evidence.model_name)  # the model: its exports made for regina, not the internal one
    assert [e["id"] for e in regulator.get(f"{API}/exports/").json()["results"]] == [for_regina["id"]]
    seq = last_seq()
    response = regulator.get(f"{API}/exports/{for_regina['id']}/download")
    assert response.status_code == 200
    assert response["ETag"] == f'"{for_regina["sha256"]}"'
    [event] = events_since(seq, "share.accessed")
    assert event.payload == {"object_type": "governance.export", "object_id": str(for_regina["id"]), "kind": "download"}
    assert_error(regulator.get(f"{API}/exports/{internal['id']}/download"), 404, "not_found")

    # One export shared on its own: that one, and not the model behind it.
    cast.officer.client().post(f"{API}/shares/{share['id']}/revoke", {"reason": "done"}, format="json")
    response = cast.officer.client().post(
        f"{API}/shares/",
        {"export": internal["id"], "regulator": "regina", "expires_at": in_days(7), "reason": "Requested"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert regulator.get(f"{API}/exports/{internal['id']}/download").status_code == 200
    assert_error(regulator.get(f"{API}/exports/{for_regina['id']}/"), 404, "not_found")
    assert_error(regulator.get(f"{API}/models/{evidence.model_name}/"), 404, "not_found")


@pytest.mark.parametrize("who", ["owner", "reviewer", "ci", "regulator", "read_only"])
def test_only_officers_and_admins_export_or_share(cast: Cast, evidence: Evidence, who: str) -> None:
    client = getattr(cast, who).client()
    before = db_state()
    assert_error(client.post(f"{API}/exports/", {"model": evidence.model_name}, format="json"), 403)
    body = {"model": evidence.model_name, "regulator": "regina", "expires_at": in_days(3), "reason": "x"}
    assert_error(client.post(f"{API}/shares/", body, format="json"), 403)
    assert db_state() == before


BAD_EXPORTS = [
    ({"model": "no-such-model"}, 404, "There is no model named 'no-such-model'."),
    ({"model": "credit-scoring", "version": 9}, 404, "credit-scoring has no version 9."),
    ({"model": "credit-scoring", "recipient": "omar"}, 422, "'omar' is not an active regulator account"),
    ({"model": "credit-scoring", "recipient": "nobody"}, 422, "There is no user named 'nobody'."),
    ({"model": "credit-scoring", "from": "2026-02-01", "to": "2026-01-01"}, 422, "'from' is after 'to'."),
    ({"model": "credit-scoring", "from": "2026-02-30"}, 422, "from:"),
    ({"model": "credit-scoring", "to": "9999-12-31"}, 422, "'to' must be a date between the years 1900 and 9998"),
    ({"model": "credit-scoring", "from": "0001-01-01"}, 422, "'from' must be a date between the years 1900 and 9998"),
    ({"model": "../../etc/passwd"}, 422, "model:"),
    ({"model": "x" * 5000}, 422, "model:"),
    ({"model": "credit-scoring", "version": 10**30}, 422, "version:"),
    ({"model": "credit-scoring", "version": "1; DROP TABLE"}, 422, "version:"),
    ({"model": "credit-scoring", "recipient": "r" * 1000}, 422, "recipient:"),
    ({"model": "credit-scoring", "evil": True}, 422, "evil:"),
    ([1, 2, 3], 422, "Expected a JSON object"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_EXPORTS, ids=[str(b)[:40] for b, _, _ in BAD_EXPORTS])
def test_bad_export_requests_are_refused_clearly_and_change_nothing(
    cast: Cast, evidence: Evidence, body: Any, status: int, message: str
) -> None:
    before, seq = db_state(), last_seq()
    error = assert_error(cast.officer.client().post(f"{API}/exports/", body, format="json"), status)
    assert message in error["message"], error
    assert db_state() == before
    assert events_since(seq) == []


def _bad_shares() -> list[tuple[dict[str, Any], int, str]]:
    good = {"model": "credit-scoring", "regulator": "regina", "expires_at": in_days(3), "reason": "Inquiry"}
    without_model = {k: v for k, v in good.items() if k != "model"}
    return [
        ({**good, "expires_at": in_days(-1)}, 422, "expires_at must be in the future."),
        ({**good, "expires_at": in_days(366)}, 422, "at most 365 days"),
        ({**good, "expires_at": "2027-01-01T00:00:00"}, 422, "give a time zone"),
        ({**good, "regulator": "olivia"}, 422, "'olivia' is not an active regulator account"),
        ({**good, "regulator": "ghost"}, 422, "There is no user named 'ghost'."),
        ({**good, "reason": "x" * 2001}, 422, "reason:"),
        ({**good, "reason": "   "}, 422, "reason"),
        ({**good, "export": 1}, 422, "exactly one"),
        (without_model, 422, "exactly one"),
        ({**good, "model": "no-such-model"}, 404, "There is no model named 'no-such-model'."),
        ({**without_model, "export": 999999}, 404, "There is no export 999999."),
    ]


@pytest.mark.parametrize("case", range(len(_bad_shares())))
def test_bad_shares_are_refused_clearly_and_change_nothing(cast: Cast, evidence: Evidence, case: int) -> None:
    body, status, message = _bad_shares()[case]
    before, seq = db_state(), last_seq()
    error = assert_error(cast.officer.client().post(f"{API}/shares/", body, format="json"), status)
    assert message in error["message"], error
    assert db_state() == before
    assert events_since(seq) == []


def test_an_inactive_regulator_account_gets_nothing_shared(cast: Cast, evidence: Evidence) -> None:
    cast.regulator.user.is_active = False
    cast.regulator.user.save(update_fields=["is_active"])
    before = db_state()
    body = {"model": evidence.model_name, "regulator": "regina", "expires_at": in_days(3), "reason": "Inquiry"}
    error = assert_error(cast.officer.client().post(f"{API}/shares/", body, format="json"), 422)
    assert "not an active regulator account" in error["message"]
    assert db_state() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_exports_to_one_recipient_keep_one_chain(
    cast: Cast, unprotected_trail: None, media_root: Any, request: Any
) -> None:
    """Each export's consistency proof starts from the previous export to the same recipient; two built at once
    cannot both claim the same predecessor: one commits, the other is refused (409) and records nothing."""
    model = register_model(cast, "minimal", name="concurrent-model")
    barrier = threading.Barrier(3)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(
                do_create_export(
                    user=cast.officer.user,
                    actor=Actor.for_user(cast.officer.user),
                    model=model,
                    recipient=cast.regulator.user,
                )
            )
        except ActionError as error:
            outcomes.append(error)
        finally:
            connection.close()

    request.addfinalizer(_forget_exports)  # before the trail is emptied: exports refer to its checkpoints
    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 3
    refused = [o for o in outcomes if isinstance(o, ActionError)]
    assert all(o.status == 409 and o.code == "concurrent_export" for o in refused), refused
    exports = list(Export.objects.order_by("id"))
    assert len(exports) == 3 - len(refused) >= 1
    assert [e.previous_id for e in exports] == [None, *[e.pk for e in exports[:-1]]]

    assert Event.objects.filter(action="export.created").count() == len(exports)


def _forget_exports() -> None:
    for export in Export.objects.order_by("-id"):
        export.delete()


def test_a_share_shows_a_regulator_the_evidence_not_the_models_webhooks(cast: Cast, evidence: Evidence) -> None:
    model = Model.objects.get(name=evidence.model_name)
    webhook, _ = do_add_webhook(
        model=model, user=cast.owner.user, actor=Actor.system(), url="https://93.184.215.14/hook"
    )
    share_model(cast, evidence.model_name)
    regulator = cast.regulator.client()
    assert regulator.get(f"{API}/models/{evidence.model_name}/").status_code == 200
    assert regulator.get(f"{API}/models/{evidence.model_name}/webhooks/").json()["results"] == []
    assert_error(regulator.get(f"{API}/models/{evidence.model_name}/webhooks/{webhook.pk}/"), 404, "not_found")
    assert_error(
        regulator.get(f"{API}/models/{evidence.model_name}/webhooks/{webhook.pk}/deliveries/"), 404, "not_found"
    )
    # The owning team still sees it.
    owned = cast.owner.client().get(f"{API}/models/{evidence.model_name}/webhooks/").json()["results"]
    assert [w["id"] for w in owned] == [webhook.pk]
