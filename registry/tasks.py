"""Background jobs of the registry: webhook deliveries."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from registry.models import DeliveryStatus
from registry.webhooks import attempt, backoff, due_deliveries


@shared_task(name="registry.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """One attempt; with a broker, a failure schedules the next attempt after its backoff."""
    delivery = attempt(delivery_id)
    if delivery.status == DeliveryStatus.PENDING and not settings.CELERY_TASK_ALWAYS_EAGER:
        deliver_webhook.apply_async((delivery_id,), countdown=backoff(delivery.attempts).total_seconds())
    return delivery.status


@shared_task(name="registry.retry_due_webhooks")
def retry_due_webhooks() -> int:
    """Attempt every pending delivery that is due (cron or beat; the in-process default relies on this)."""
    due = due_deliveries()
    for delivery_id in due:
        try:
            attempt(delivery_id)
        except Exception:  # one broken delivery must not stop the others
            logging.getLogger("assay.webhooks").exception("webhook delivery %s failed unexpectedly", delivery_id)
    return len(due)
