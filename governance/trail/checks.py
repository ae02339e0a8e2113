"""System checks: the append-only triggers must be present once the trail's tables exist; the signing key and the
witnesses configured must be usable (found at start, not at the first checkpoint); no queued event may be refused
or left waiting (batched sequencing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.utils import timezone

from governance.trail.db import installed_triggers, trigger_names
from governance.trail.keys import load_signing_key
from governance.trail.models import QueuedEvent
from governance.trail.witnesses import parse_witness_setting


@checks.register()
def trail_signing_key_loads(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Error ``assay.E003`` when a configured checkpoint signing key cannot be loaded (found at start, not later)."""
    if not settings.TRAIL_SIGNING_KEY:
        return []  # development: a key is generated on first use
    try:
        load_signing_key()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Create one with 'python manage.py trail_keygen'.", id="assay.E003")]
    return []


@checks.register()
def trail_triggers_present(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Error ``assay.E001`` when any protective trigger is missing from a migrated database."""
    if connection.vendor not in ("sqlite", "postgresql"):
        return [checks.Error(f"the trail has no append-only triggers for {connection.vendor}", id="assay.E002")]
    try:
        if "governance_event" not in connection.introspection.table_names():
            return []  # not migrated yet: the migration installs them
        missing = trigger_names(connection.vendor) - installed_triggers(connection)
    except DatabaseError as exc:
        return [checks.Warning(f"could not inspect the trail's triggers: {exc}", id="assay.W001")]
    if missing:
        return [
            checks.Error(
                f"append-only triggers missing on the trail tables: {', '.join(sorted(missing))}",
                hint="Run 'python manage.py install_trail_triggers' and find out who dropped them: "
                "then run 'python manage.py verify_trail'.",
                id="assay.E001",
            )
        ]
    return []


@checks.register()
def trail_witnesses_configured(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Error ``assay.E004`` when ``TRAIL_WITNESSES`` is malformed (a URL and a witness key per item)."""
    try:
        parse_witness_setting(list(settings.TRAIL_WITNESSES))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="See docs/witnesses.md.", id="assay.E004")]
    return []


# Longer than any sweep interval: a queued event still waiting after this had its sweeper stopped or failing.
QUEUE_STALE_AFTER = dt.timedelta(minutes=15)


@checks.register()
def trail_queue_clear(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warning ``assay.W002`` when queued events were refused, or wait longer than ``QUEUE_STALE_AFTER``.

    Either is a committed change whose event is not in the log. A refusal is the sequencer's (logged as an error)
    or someone's who set ``rejected`` by hand, which the queue's triggers cannot tell apart.
    """
    try:
        if QueuedEvent._meta.db_table not in connection.introspection.table_names():
            return []
        refused = QueuedEvent.objects.exclude(rejected="").count()
        stale = QueuedEvent.objects.filter(
            seq=None, rejected="", queued_at__lt=timezone.now() - QUEUE_STALE_AFTER
        ).count()
    except DatabaseError as exc:
        return [checks.Warning(f"could not read the trail's queue: {exc}", id="assay.W001")]
    problems = [f"{refused} refused by the sequencer"] * bool(refused)
    problems += [f"{stale} waiting longer than {QUEUE_STALE_AFTER}"] * bool(stale)
    if not problems:
        return []
    return [
        checks.Warning(
            f"queued trail events: {' and '.join(problems)}: changes committed without their event in the log",
            hint="See docs/trail.md, 'What the queue cannot do': "
            "SELECT id, queued_at, action, rejected FROM governance_queuedevent WHERE seq IS NULL.",
            id="assay.W002",
        )
    ]
