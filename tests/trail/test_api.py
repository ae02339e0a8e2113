"""The trail over HTTP: events, checkpoints, proofs that verify with the standalone verifier, published keys."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from governance.trail import checkpoints, verifier
from governance.trail.checkpoints import checkpoint_is_due, issue_checkpoint
from governance.trail.models import Checkpoint, Event, SigningKey
from tests.conftest import Cast
from tests.trail.helpers import append, as_attacker, run_verify_trail

pytestmark = pytest.mark.django_db


def trusted_keys(client) -> list[verifier.VerifierKey]:
    text = client.get("/.well-known/assay-keys").content.decode()
    return [verifier.parse_verifier_key(line) for line in text.splitlines()]


def test_inclusion_proofs_verify_for_every_event(cast: Cast) -> None:
    append(37)
    issue_checkpoint()
    client = cast.officer.client()
    latest = client.get("/api/v1/trail/checkpoints/latest").json()
    checkpoint = verifier.verify_checkpoint(latest["note"], keys=trusted_keys(client), origin="assay.local/trail")
    assert checkpoint.tree_size == latest["tree_size"]
    for seq in range(checkpoint.tree_size):
        body = client.get(f"/api/v1/trail/proofs/inclusion?seq={seq}").json()
        leaf = bytes(Event.objects.get(seq=seq).leaf)
        assert body["leaf_hash"] == verifier.leaf_hash(leaf).hex()
        assert body["root"] == checkpoint.root.hex()
        verifier.verify_inclusion(
            leaf_hash=bytes.fromhex(body["leaf_hash"]),
            index=seq,
            tree_size=body["tree_size"],
            proof=[bytes.fromhex(p) for p in body["proof"]],
            root=checkpoint.root,
        )


def test_consistency_proofs_between_checkpoints_verify(cast: Cast) -> None:
    client = cast.regulator.client()  # proofs are for outsiders: regulators may read them
    append(5)
    first = issue_checkpoint()
    append(17, start=5)
    second = issue_checkpoint()
    body = client.get(f"/api/v1/trail/proofs/consistency?from={first.tree_size}&to={second.tree_size}").json()
    keys = trusted_keys(client)
    old = verifier.verify_checkpoint(body["first_checkpoint"], keys=keys)
    new = verifier.verify_checkpoint(body["second_checkpoint"], keys=keys)
    verifier.verify_consistency(
        first_size=old.tree_size,
        second_size=new.tree_size,
        first_root=old.root,
        second_root=new.root,
        proof=[bytes.fromhex(p) for p in body["proof"]],
    )
    with pytest.raises(verifier.VerificationError):
        verifier.verify_consistency(
            first_size=old.tree_size,
            second_size=new.tree_size,
            first_root=old.root,
            second_root=new.root,
            proof=[bytes.fromhex(p) for p in body["proof"]][:-1],
        )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("seq=abc&tree_size=3", "'abc' is not an integer"),
        ("tree_size=3", "seq: This query parameter is required"),
        ("seq=-1&tree_size=3", "Must be zero or more"),
        ("seq=5&tree_size=3", "seq must be between 0 and tree_size - 1"),
        ("seq=0&tree_size=999", "tree_size must be between 1 and the trail's size"),
        ("seq=0&tree_size=99999999999999999999999", "tree_size must be between"),
    ],
)
def test_bad_inclusion_queries_get_a_clear_error(cast: Cast, query: str, message: str) -> None:
    append(3)
    response = cast.officer.client().get(f"/api/v1/trail/proofs/inclusion?{query}")
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]


def test_consistency_from_after_to_is_refused(cast: Cast) -> None:
    append(3)
    response = cast.officer.client().get("/api/v1/trail/proofs/consistency?from=3&to=2")
    assert response.status_code == 422
    assert "0 <= from <= to" in response.json()["error"]["message"]


def test_no_checkpoint_yet(cast: Cast) -> None:
    Checkpoint.objects.all()  # none issued: the cast's events only queue checkpoints on commit
    response = cast.officer.client().get("/api/v1/trail/checkpoints/latest")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No checkpoint has been issued yet."


def test_events_filter_and_paginate(cast: Cast) -> None:
    append(12)
    client = cast.officer.client()
    body = client.get("/api/v1/trail/events/?action=team.created&object_type=test&page_size=5").json()
    assert body["count"] == 12
    assert [e["payload"]["slug"] for e in body["results"]] == ["t0", "t1", "t2", "t3", "t4"]
    one = client.get("/api/v1/trail/events/?object_type=test&object_id=7").json()
    assert [e["object_id"] for e in one["results"]] == ["7"]
    by_actor = client.get(f"/api/v1/trail/events/?actor={cast.owner.user.pk}").json()
    assert by_actor["count"] == 0  # the cast was created by the system, not by the owner
    bad = client.get("/api/v1/trail/events/?since=yesterday")
    assert bad.status_code == 422
    assert "ISO 8601" in bad.json()["error"]["message"]


def test_event_detail_returns_exact_leaf_bytes(cast: Cast) -> None:
    append(2)
    seq = Event.objects.filter(action="team.created").first().seq
    body = cast.officer.client().get(f"/api/v1/trail/events/{seq}/").json()
    assert body["leaf"].encode() == bytes(Event.objects.get(seq=seq).leaf)
    assert body["leaf_hash"] == verifier.leaf_hash(body["leaf"].encode()).hex()
    assert cast.officer.client().get("/api/v1/trail/events/99999/").status_code == 404


def test_officer_issues_checkpoint_on_demand_and_owner_cannot(cast: Cast) -> None:
    before = Checkpoint.objects.count()
    refused = cast.owner.client().post("/api/v1/trail/checkpoints/")
    assert refused.status_code == 403
    assert Checkpoint.objects.count() == before
    response = cast.officer.client().post("/api/v1/trail/checkpoints/")
    assert response.status_code == 201
    assert response.json()["reason"] == "on-demand"
    assert response.json()["tree_size"] == Event.objects.count()


def test_key_rotation_keeps_old_checkpoints_verifiable(cast: Cast, settings) -> None:
    append(3)
    old = issue_checkpoint()
    new_pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    settings.TRAIL_SIGNING_KEY = new_pem
    settings.TRAIL_SIGNING_KEY_NAME = "assay-trail-2027"
    new = issue_checkpoint()
    assert new.key_id != old.key_id
    rotation = Event.objects.filter(action="trail.key_added").order_by("-seq").first()
    assert rotation.payload["previous_key_id"] == old.key.key_id
    assert rotation.payload["key_id"] == new.key.key_id
    published = cast.officer.client().get("/.well-known/assay-keys").content.decode().splitlines()
    assert published == [old.key.verifier_key, new.key.verifier_key]
    keys = [verifier.parse_verifier_key(k) for k in published]
    verifier.verify_checkpoint(old.note, keys=keys)
    verifier.verify_checkpoint(new.note, keys=keys)
    assert SigningKey.objects.count() == 2
    code, output = run_verify_trail()
    assert code == 0, output


def test_a_non_ed25519_or_garbage_key_is_refused_with_its_name(settings) -> None:
    settings.TRAIL_SIGNING_KEY = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ImproperlyConfigured, match="TRAIL_SIGNING_KEY is not an unencrypted PEM private key"):
        issue_checkpoint()


@override_settings(TRAIL_CHECKPOINT_EVERY_EVENTS=10, TRAIL_CHECKPOINT_EVERY_SECONDS=3600)
def test_checkpoints_are_due_every_n_events_or_t_seconds() -> None:
    append(1)
    assert checkpoint_is_due()  # no checkpoint yet
    checkpoint = issue_checkpoint()
    assert not checkpoint_is_due()
    append(5)
    assert not checkpoint_is_due()
    assert checkpoint_is_due(now=checkpoint.issued_at + dt.timedelta(seconds=3601))
    append(5, start=5)
    assert checkpoint_is_due()


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_follows_automatically_after_enough_events(unprotected_trail: None, settings) -> None:
    settings.TRAIL_CHECKPOINT_EVERY_EVENTS = 4
    append(9)
    sizes = list(Checkpoint.objects.order_by("id").values_list("tree_size", flat=True))
    # The first append is due at once (no checkpoint yet), then every four more events.
    assert sizes == [2, 6, 10]


def test_a_checkpoint_whose_clock_goes_backwards_is_refused(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    append(2)
    first = issue_checkpoint()
    monkeypatch.setattr(checkpoints.timezone, "now", lambda: first.issued_at - dt.timedelta(minutes=5))
    with pytest.raises(checkpoints.CheckpointRefused, match="before the last checkpoint's time"):
        issue_checkpoint()
    assert Checkpoint.objects.count() == 1


def test_an_edited_column_is_never_shown_as_evidence(cast: Cast) -> None:
    """The red team edited an event's payload and action columns: verify_trail caught it, but the API and the
    portal showed the edited values. Both now show what the leaf bytes (what the log commits to) say."""
    append(3)
    seq = Event.objects.get(object_type="test", object_id="1").seq
    as_attacker(
        lambda cursor: cursor.execute(
            "UPDATE governance_event SET payload = %s, action = 'forged.action', object_id = '999' WHERE seq = %s",
            ['{"slug": "forged"}', seq],
        )
    )
    body = cast.officer.client().get(f"/api/v1/trail/events/{seq}/").json()
    assert (body["action"], body["object_id"], body["payload"]) == ("team.created", "1", {"slug": "t1"})
    assert body["leaf_verified"] is True  # the leaf itself is intact; the columns are what changed
    listed = cast.officer.client().get("/api/v1/trail/events/?object_type=test").json()["results"]
    assert {e["payload"]["slug"] for e in listed} == {"t0", "t1", "t2"}
    portal = Client()
    portal.force_login(cast.officer.user)
    assert "forged" not in portal.get(f"/trail/events/{seq}/").content.decode()
    assert "forged" not in portal.get("/trail/events/").content.decode()
    assert run_verify_trail()[0] == 1  # and the edit is still reported


def test_an_altered_leaf_is_flagged_where_it_is_shown(cast: Cast) -> None:
    append(2)
    as_attacker(lambda cursor: cursor.execute("UPDATE governance_event SET leaf = %s WHERE seq = 1", [b"not a leaf"]))
    body = cast.officer.client().get("/api/v1/trail/events/1/").json()
    assert body["leaf_verified"] is False
    assert body["action"] == ""
