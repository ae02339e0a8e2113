"""Adding and removing a model's webhooks (the deliveries themselves are ``registry.webhooks``)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from governance.access.models import User
from governance.trail.log import Actor, record_event
from registry import events
from registry.actions.common import RegistryError, _in_team, _require_scope
from registry.models import RegisteredModel, Webhook
from registry.webhooks import WebhookURLError, check_url


def do_add_webhook(*, model: RegisteredModel, user: User, actor: Actor, url: str) -> tuple[Webhook, str]:
    """Register a webhook for a model's transitions; returns it with its signing secret (shown once)."""
    _require_scope(user, "webhooks:write", "add webhooks")
    if not _in_team(user, model):
        raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
    try:
        check_url(url)
    except WebhookURLError as exc:
        raise RegistryError(str(exc), code="invalid_webhook_url", status=422) from None
    secret = secrets.token_hex(32)
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        if Webhook.objects.filter(model=model, active=True).count() >= settings.WEBHOOK_MAX_PER_MODEL:
            # Each webhook is called on every transition: a bounded number keeps transitions prompt.
            raise RegistryError(
                f"A model can have at most {settings.WEBHOOK_MAX_PER_MODEL} active webhooks.", code="too_many_webhooks"
            )
        webhook = Webhook.objects.create(model=model, url=url, secret=secret, created_by=user)
        # The host only: a URL may carry credentials in its path or query.
        record_event(events.WEBHOOK_ADDED, actor=actor, obj=webhook, payload={"model": model.name, "host": _host(url)})
    return webhook, secret


def do_remove_webhook(*, webhook: Webhook, user: User, actor: Actor) -> Webhook:
    """Stop notifying a webhook (kept, with its deliveries, for the record)."""
    _require_scope(user, "webhooks:write", "remove webhooks")
    with transaction.atomic():
        locked = Webhook.objects.select_for_update().select_related("model").get(pk=webhook.pk)
        if not _in_team(user, locked.model):
            raise RegistryError("You are not in this model's team.", code="not_in_team", status=403)
        if not locked.active:
            raise RegistryError("This webhook is already removed.", code="already_removed")
        locked.active = False
        locked.save(update_fields=["active"])
        record_event(
            events.WEBHOOK_REMOVED,
            actor=actor,
            obj=locked,
            payload={"model": locked.model.name, "host": _host(locked.url)},
        )
    return locked


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""
