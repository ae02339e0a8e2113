"""Webhooks: signed notifications of lifecycle transitions, sent after commit, retried with backoff.

A delivery row is written inside the transition's transaction (so a notification exists exactly when the
transition does) and sent after commit. Each request carries:

    X-Assay-Event: model_version.deployed
    X-Assay-Delivery: 42
    X-Assay-Timestamp: 1767225600
    X-Assay-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

Receivers recompute the HMAC over the timestamp and the raw body with the secret shown when the webhook was
created, compare in constant time, and refuse timestamps older than a few minutes (replay). A failed attempt
(network error or a non-2xx answer) is retried after 30 s, 1 min, 2 min, ... up to ``WEBHOOK_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.trail.models import Event
from registry.models import DeliveryStatus, Webhook, WebhookDelivery

NOTIFIED_ACTIONS = frozenset(
    {
        "model_version.submitted",
        "model_version.approval_added",
        "model_version.approved",
        "model_version.rejected",
        "model_version.deployed",
        "model_version.retired",
    }
)


class WebhookURLError(ValueError):
    """A webhook address Assay refuses to call."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Assay-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def check_url(url: str) -> None:
    """Refuse schemes other than http(s) and, unless allowed, loopback and link-local targets (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookURLError("A webhook URL must be http:// or https:// with a host name.")
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise WebhookURLError("Webhook URLs must use https:// (set WEBHOOK_ALLOW_HTTP=1 to allow http).")
    if settings.WEBHOOK_ALLOW_LOCAL:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except socket.gaierror:
        raise WebhookURLError(f"The host '{parts.hostname}' does not resolve.") from None
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            # Link-local covers cloud metadata services (169.254.169.254): never let a webhook reach them.
            raise WebhookURLError(f"The host '{parts.hostname}' resolves to {ip}, which webhooks may not call.")


def queue_deliveries(event: Event, *, model_id: int) -> list[WebhookDelivery]:
    """Inside a transition's transaction: one pending delivery per active webhook of the model."""
    if event.action not in NOTIFIED_ACTIONS:
        return []
    body = json.dumps(
        {
            "event": event.action,
            "seq": event.seq,
            "occurred_at": event.recorded_at.isoformat(),
            "object": {"type": event.object_type, "id": event.object_id},
            "payload": event.payload,
            "leaf_hash": bytes(event.leaf_hash).hex(),
        },
        sort_keys=True,
    )
    deliveries = [
        WebhookDelivery.objects.create(webhook=hook, event_seq=event.seq, event_action=event.action, body=body)
        for hook in Webhook.objects.filter(model_id=model_id, active=True)
    ]
    if deliveries:
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: _send_later(ids))
    return deliveries


def _send_later(ids: list[int]) -> None:
    from registry.tasks import deliver_webhook

    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: 30 s doubling each time, at most an hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def attempt(delivery_id: int) -> WebhookDelivery:
    """Send one delivery once and record the outcome (the HTTP call happens outside any transaction)."""
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.PENDING:
        return delivery
    body = delivery.body.encode()
    timestamp = int(timezone.now().timestamp())
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) by check_url
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Assay-Webhooks/1",
            "X-Assay-Event": delivery.event_action,
            "X-Assay-Delivery": str(delivery.pk),
            "X-Assay-Timestamp": str(timestamp),
            "X-Assay-Signature": sign(delivery.webhook.secret, timestamp, body),
        },
    )
    status_code: int | None = None
    error = ""
    try:
        check_url(delivery.webhook.url)
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, WebhookURLError) as exc:
        error = str(getattr(exc, "reason", exc))[:500]
    return _record(delivery, status_code=status_code, error=error)


def _record(delivery: WebhookDelivery, *, status_code: int | None, error: str) -> WebhookDelivery:
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, now, ""
    else:
        delivery.last_error = error or f"HTTP {status_code}"
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(
        update_fields=["attempts", "last_status_code", "status", "delivered_at", "last_error", "next_attempt_at"]
    )
    return delivery


def due_deliveries(now: Any = None) -> list[int]:
    """Ids of pending deliveries whose next attempt is due (for the retry sweep)."""
    moment = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=moment).values_list(
            "pk", flat=True
        )
    )
