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
import http.client
import ipaddress
import json
import logging
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from governance.jobs import enqueue
from governance.trail.models import Event
from registry.models import DeliveryStatus, Webhook, WebhookDelivery

NOTIFIED_ACTIONS = frozenset(
    {
        "model_version.submitted",
        "model_version.approval_added",
        "model_version.approved",
        "model_version.returned_to_review",
        "model_version.rejected",
        "model_version.deployed",
        "model_version.retired",
        # Monitoring: a threshold crossed (a finding opened or added to), or a batch that could not be checked.
        "monitoring.alert_raised",
        "monitoring.check_failed",
    }
)


logger = logging.getLogger("assay.webhooks")


class WebhookURLError(ValueError):
    """A webhook address Assay refuses to call."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Assay-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def check_url(url: str) -> list[str]:
    """The addresses ``url`` may be sent to; refuses other schemes and, unless allowed, non-public addresses.

    Only globally routable addresses are allowed by default: loopback, private networks, carrier-grade NAT,
    link-local (cloud metadata services at 169.254.169.254 and 100.100.100.200) and multicast addresses are refused
    (SSRF), and so is an IPv6 address embedding one of them (IPv4-mapped or -compatible, NAT64, 6to4, Teredo).
    ``WEBHOOK_ALLOW_LOCAL=1`` allows internal targets.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookURLError("A webhook URL must be http:// or https:// with a host name.")
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise WebhookURLError("Webhook URLs must use https:// (set WEBHOOK_ALLOW_HTTP=1 to allow http).")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError, UnicodeError):
        raise WebhookURLError(f"The host '{parts.hostname}' does not resolve.") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        refused = None if settings.WEBHOOK_ALLOW_LOCAL else _not_public(ip)
        if refused:
            raise WebhookURLError(
                f"The host '{parts.hostname}' resolves to {ip}, which is not a public address ({refused}); "
                "webhooks may not call it (set WEBHOOK_ALLOW_LOCAL=1 for internal receivers)."
            )
        addresses.append(str(ip))
    return addresses


# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 4291 IPv4-compatible, RFC 6052 NAT64
# well-known prefix): a gateway on the path may deliver them to that IPv4 address.
_V4_IN_LAST_32_BITS = (ipaddress.ip_network("::/96"), ipaddress.ip_network("64:ff9b::/96"))
# Local-use NAT64 (RFC 8215): the operator's own translator, whose IPv4 layout depends on its prefix length.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address can reach through a standard embedding (mapped, compatible, NAT64,
    6to4, Teredo server and client)."""
    if ip.version == 4:
        return []
    assert isinstance(ip, ipaddress.IPv6Address)
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found += list(ip.teredo)
    if any(ip in network for network in _V4_IN_LAST_32_BITS) and int(ip) > 1:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why ``ip`` may not be a webhook target ("" when it may): the address, and every IPv4 address embedded in
    it, must be globally routable and not multicast."""
    if ip.version == 6 and ip in _LOCAL_NAT64:
        return "local-use NAT64 prefix 64:ff9b:1::/48"
    for candidate in (ip, *_embedded_ipv4(ip)):
        if candidate.is_multicast:
            return f"{candidate} is multicast"
        if not candidate.is_global:
            return f"{candidate} is not globally routable" if candidate != ip else "not globally routable"
    return ""


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand, with the certificate verified for the URL's host name.

    Connecting to the checked address (not resolving the name again) closes the DNS-rebinding gap between the
    check and the request.
    """

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST once to a checked, pinned address; redirects are not followed (a 3xx counts as a failure)."""
    parts = urlsplit(url)
    address = check_url(url)[0]
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname or "", port, address=address, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers={**headers, "Host": parts.netloc})
        response = connection.getresponse()
        response.read(65536)  # drain a little; the answer's body is not used
        return response.status
    finally:
        connection.close()


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
        # robust: a failing notification must never turn a committed transition into an error.
        transaction.on_commit(lambda: _send_later(ids), robust=True)
    return deliveries


def _send_later(ids: list[int]) -> None:
    for delivery_id in ids:
        try:
            enqueue("registry.deliver_webhook", delivery_id)  # registry.tasks runs it (and imports this module)
        except Exception:
            logger.exception("webhook delivery %s could not be started; the retry sweep will pick it up", delivery_id)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: 30 s doubling each time, at most an hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


# What a delivery's last_error says while an attempt is in flight: the claim's time. An attempt whose worker died
# never replaces it, so the next claim knows the previous attempt was lost, and when it started.
SENDING = "Sending since "


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def attempt(delivery_id: int, *, now: dt.datetime | None = None) -> WebhookDelivery:
    """Send one delivery once, if it is due and nobody else is sending it, and record the outcome.

    The delivery is claimed first with a conditional UPDATE (a lease: ``next_attempt_at`` moves past the longest an
    attempt takes), so a worker's own retry and the beat sweep can never send it twice at once. The claim counts the
    attempt, so one whose worker is killed mid-request counts too: once the lease has passed, the next sweep takes
    the delivery over, or, when that was the last attempt, ends it ``failed`` with "The worker stopped answering
    during attempt <n> (started at <time>)". The HTTP call happens outside any transaction.
    """
    now = now or timezone.now()
    lease = now + dt.timedelta(seconds=2 * settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    due = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    lost = due.filter(attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS, last_error__startswith=SENDING).first()
    if lost is not None:  # the last attempt's worker died before recording its outcome
        since = lost.last_error.removeprefix(SENDING).split(" ", 1)[0]
        due.filter(last_error=lost.last_error).update(
            status=DeliveryStatus.FAILED,
            last_error=f"The worker stopped answering during attempt {lost.attempts} (started at {since}); "
            "not tried again.",
        )
        return WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    claimed = due.filter(attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS).update(
        next_attempt_at=lease, attempts=F("attempts") + 1, last_error=f"{SENDING}{_utc(now)} (no answer yet)."
    )
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if not claimed:
        return delivery
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Assay-Webhooks/1",
        "X-Assay-Event": delivery.event_action,
        "X-Assay-Delivery": str(delivery.pk),
        "X-Assay-Timestamp": str(timestamp),
        "X-Assay-Signature": sign(delivery.webhook.secret, timestamp, body),
    }
    status_code: int | None = None
    error = ""
    try:
        status_code = _post(delivery.webhook.url, body, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except WebhookURLError as exc:
        error = str(exc)
    except Exception as exc:  # a hostile or broken receiver: any failure is a failed attempt, never a crash
        error = f"{type(exc).__name__}: {exc}"
    return _record(delivery, status_code=status_code, error=error[:500])


def _record(delivery: WebhookDelivery, *, status_code: int | None, error: str) -> WebhookDelivery:
    now = timezone.now()
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.DELIVERED, now, ""
    else:
        delivery.last_error = error or f"HTTP {status_code}"
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(update_fields=["last_status_code", "status", "delivered_at", "last_error", "next_attempt_at"])
    return delivery


def due_deliveries(now: Any = None) -> list[int]:
    """Ids of pending deliveries whose next attempt is due (for the retry sweep)."""
    moment = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=moment).values_list(
            "pk", flat=True
        )
    )
