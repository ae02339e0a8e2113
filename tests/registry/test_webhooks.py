"""Webhooks: signed, sent after commit to a real local HTTP server, retried with backoff, recorded."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from governance.trail.models import Event
from registry import actions
from registry.models import DeliveryStatus, ModelVersion, Webhook, WebhookDelivery
from registry.tasks import retry_due_webhooks
from registry.webhooks import _not_public, attempt, backoff, sign
from tests.conftest import Cast
from tests.registry.conftest import acting

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server on localhost that records what it receives and answers a scripted status."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API names it so
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    with override_settings(WEBHOOK_ALLOW_LOCAL=True, WEBHOOK_ALLOW_HTTP=True):
        yield server
    server.close()


def verify_signature(secret: str, request: dict[str, Any]) -> bool:
    """What a receiver does (docs/registry.md's recipe), written independently of registry.webhooks.sign."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    message = headers["x-assay-timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-assay-signature"])


def test_transitions_are_delivered_signed_after_commit(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    webhook, secret = actions.do_add_webhook(
        model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url
    )
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_submit(version=minimal_draft, user=cast.owner.user, actor=acting(cast.owner))
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert verify_signature(secret, request)
    assert not verify_signature("another secret", request)
    body = json.loads(request["body"])
    event = Event.objects.get(seq=body["seq"])
    assert body["event"] == event.action == "model_version.submitted"
    assert body["leaf_hash"] == bytes(event.leaf_hash).hex()
    assert {k.lower(): v for k, v in request["headers"].items()}["x-assay-event"] == "model_version.submitted"
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 204)


def test_a_failed_delivery_is_retried_with_backoff_until_it_succeeds(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    actions.do_add_webhook(model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url)
    receiver.statuses = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_submit(version=minimal_draft, user=cast.owner.user, actor=acting(cast.owner))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.PENDING, 1, "HTTP 500")
    assert retry_due_webhooks() == 0  # not due yet: the backoff holds it back
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    assert retry_due_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 2, 503)
    assert delivery.next_attempt_at - delivery.created_at >= backoff(2)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    retry_due_webhooks()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len(receiver.requests) == 3
    assert len({r["body"] for r in receiver.requests}) == 1  # the same notification each time


@override_settings(WEBHOOK_MAX_ATTEMPTS=2)
def test_a_delivery_gives_up_after_the_maximum_attempts(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    actions.do_add_webhook(model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url)
    receiver.statuses = [500, 500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_submit(version=minimal_draft, user=cast.owner.user, actor=acting(cast.owner))
    WebhookDelivery.objects.update(next_attempt_at=WebhookDelivery.objects.get().created_at)
    retry_due_webhooks()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    assert retry_due_webhooks() == 0


def test_no_delivery_without_the_transition(cast: Cast, minimal_draft: ModelVersion, receiver: Receiver) -> None:
    """A refused transition leaves no delivery behind (the delivery is written in the transition's transaction)."""
    actions.do_add_webhook(model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url)
    with pytest.raises(actions.RegistryError):
        actions.do_approve(version=minimal_draft, user=cast.reviewer.user, actor=acting(cast.reviewer))
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30).total_seconds() == 3600


def test_sign_matches_an_independent_hmac() -> None:
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, b"{}") == f"sha256={expected}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/hook", "must be http:// or https://"),
        ("http://127.0.0.1:9/hook", "may not call"),
        ("https://169.254.169.254/latest/meta-data", "may not call"),
        ("https://localhost/hook", "may not call"),
    ],
)
@override_settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_LOCAL=False)
def test_unsafe_webhook_urls_are_refused(cast: Cast, minimal_draft: ModelVersion, url: str, message: str) -> None:
    client = cast.owner.client()
    response = client.post(f"/api/v1/models/{minimal_draft.model.name}/webhooks/", {"url": url}, format="json")
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert Webhook.objects.count() == 0


@override_settings(WEBHOOK_ALLOW_HTTP=False)
def test_plain_http_is_refused_unless_allowed(cast: Cast, minimal_draft: ModelVersion) -> None:
    response = cast.owner.client().post(
        f"/api/v1/models/{minimal_draft.model.name}/webhooks/", {"url": "http://example.org/hook"}, format="json"
    )
    assert response.status_code == 422
    assert "https://" in response.json()["error"]["message"]


def test_webhook_api_shows_the_secret_once_and_records_only_the_host(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver
) -> None:
    name = minimal_draft.model.name
    client = cast.owner.client()
    created = client.post(
        f"/api/v1/models/{name}/webhooks/", {"url": receiver.url + "?token=sekrit-query-value"}, format="json"
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert len(secret) == 64
    listed = client.get(f"/api/v1/models/{name}/webhooks/").json()["results"]
    assert [w["id"] for w in listed] == [created.json()["id"]]
    assert "secret" not in listed[0]
    event = Event.objects.get(action="webhook.added")
    assert event.payload == {"model": name, "host": "127.0.0.1"}
    assert b"sekrit" not in bytes(event.leaf)  # not hex: cannot appear in a hash by chance
    assert cast.outsider.client().get(f"/api/v1/models/{name}/webhooks/").status_code == 404
    removed = client.delete(f"/api/v1/models/{name}/webhooks/{created.json()['id']}/")
    assert removed.status_code == 200
    assert removed.json()["active"] is False
    again = client.delete(f"/api/v1/models/{name}/webhooks/{created.json()['id']}/")
    assert again.status_code == 409
    deliveries = client.get(f"/api/v1/models/{name}/webhooks/{created.json()['id']}/deliveries/")
    assert deliveries.status_code == 200
    assert deliveries.json()["count"] == 0


def test_the_deliver_webhooks_command_retries_what_is_due(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    actions.do_add_webhook(model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url)
    receiver.statuses = [502]
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_submit(version=minimal_draft, user=cast.owner.user, actor=acting(cast.owner))
    WebhookDelivery.objects.update(next_attempt_at=WebhookDelivery.objects.get().created_at)
    out = StringIO()
    call_command("deliver_webhooks", stdout=out)
    assert out.getvalue().strip() == "1 deliveries attempted."
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]:6379/",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://100.100.100.200/latest/meta-data",
        "http://0.0.0.0/hook",
        # IPv6 embeddings of local addresses: IPv4-compatible, NAT64 (well-known and local-use), 6to4, Teredo.
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b:1::5db8:d822]/",
        "http://[2002:7f00:1::]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        # Multicast, IPv4 and IPv6.
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://[ff02::1]/",
        "http://[ff0e::1]/",
    ],
)
@override_settings(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_ALLOW_LOCAL=False)
def test_non_public_addresses_are_refused_in_every_spelling(cast: Cast, minimal_draft: ModelVersion, url: str) -> None:
    response = cast.owner.client().post(
        f"/api/v1/models/{minimal_draft.model.name}/webhooks/", {"url": url}, format="json"
    )
    assert response.status_code == 422, response.json()
    assert "not a public address" in response.json()["error"]["message"]
    assert Webhook.objects.count() == 0


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",  # a public IPv4 address
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",  # a public IPv6 address
        "64:ff9b::5db8:d70e",  # NAT64 of a public IPv4 address
        "2002:5db8:d70e::1",  # 6to4 of a public IPv4 address
    ],
)
def test_public_addresses_and_their_embeddings_are_allowed(address: str) -> None:
    assert _not_public(ipaddress.ip_address(address)) == ""


class Redirector(Receiver):
    """Answers every POST with a redirect to another local server (the target SSRF would reach)."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location
        handler = self.server.RequestHandlerClass
        outer = self

        def do_post(self: Any) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            outer.requests.append({"headers": dict(self.headers), "body": b""})
            self.send_response(302)
            self.send_header("Location", outer.location)
            self.end_headers()

        handler.do_POST = do_post  # type: ignore[attr-defined]


def test_redirects_are_not_followed(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    redirector = Redirector(location=receiver.url)
    try:
        actions.do_add_webhook(
            model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=redirector.url
        )
        with django_capture_on_commit_callbacks(execute=True):
            actions.do_submit(version=minimal_draft, user=cast.owner.user, actor=acting(cast.owner))
    finally:
        redirector.close()
    assert len(redirector.requests) == 1
    assert receiver.requests == []  # the redirect target was never contacted
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.PENDING,
        302,
        "HTTP 302",
    )


def test_a_receiver_that_does_not_speak_http_is_a_failed_attempt_not_an_error(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_garbage() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    actions.do_add_webhook(model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=url)
    client = cast.owner.client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/models/{minimal_draft.model.name}/versions/1/submit", {}, format="json")
    thread.join(timeout=10)
    listener.close()
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "BadStatusLine" in delivery.last_error or "RemoteDisconnected" in delivery.last_error


@override_settings(WEBHOOK_MAX_PER_MODEL=2)
def test_a_model_has_a_bounded_number_of_webhooks(cast: Cast, minimal_draft: ModelVersion, receiver: Receiver) -> None:
    for _ in range(2):
        actions.do_add_webhook(
            model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url
        )
    with pytest.raises(actions.RegistryError, match="at most 2 active webhooks"):
        actions.do_add_webhook(
            model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url
        )
    assert Webhook.objects.count() == 2


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        # The registry's rule: the owning team, its pipelines and officers manage webhooks; nobody else does.
        ("owner", None),
        ("ci", None),
        ("officer", None),
        ("reviewer", "Only ci, officer, owner may {what} webhooks; you are reviewer."),
        ("admin", "Only ci, officer, owner may {what} webhooks; you are admin."),
        ("regulator", "Only ci, officer, owner may {what} webhooks; you are regulator."),
    ],
)
def test_who_may_add_and_remove_webhooks(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, who: str, refusal: str | None
) -> None:
    member = getattr(cast, who)
    model = minimal_draft.model
    if refusal is not None:
        with pytest.raises(actions.RegistryError) as refused:
            actions.do_add_webhook(model=model, user=member.user, actor=acting(member), url=receiver.url)
        assert (str(refused.value), refused.value.status, refused.value.code) == (
            refusal.format(what="add"),
            403,
            "role_refused",
        )
        assert Webhook.objects.count() == 0
        webhook, _ = actions.do_add_webhook(
            model=model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url
        )
        with pytest.raises(actions.RegistryError) as refused:
            actions.do_remove_webhook(webhook=webhook, user=member.user, actor=acting(member))
        assert str(refused.value) == refusal.format(what="remove")
        assert Webhook.objects.get(pk=webhook.pk).active
        return
    webhook, _ = actions.do_add_webhook(model=model, user=member.user, actor=acting(member), url=receiver.url)
    assert Webhook.objects.get(pk=webhook.pk).created_by == member.user
    actions.do_remove_webhook(webhook=webhook, user=member.user, actor=acting(member))
    assert not Webhook.objects.get(pk=webhook.pk).active


def test_a_claimed_delivery_is_not_sent_twice(
    cast: Cast, minimal_draft: ModelVersion, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    actions.do_add_webhook(model=minimal_draft.model, user=cast.owner.user, actor=acting(cast.owner), url=receiver.url)
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_submit(version=minimal_draft, user=cast.owner.user, actor=acting(cast.owner))
    delivery = WebhookDelivery.objects.get()
    attempt(delivery.pk)  # not due (backing off): nothing is sent
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1
