"""The pseudonym key is the same key the database was filled with, or the service does not start.

Data subjects are known only by HMAC-SHA256 of their external id under ``PSEUDONYM_KEY``, and their data keys are
wrapped under a key derived from it. A different key (a lost file, a typo in a secret store) would not fail
anything: every subject would just look new, and a subject with two consent events would silently show none.
So a fingerprint of the key (the HMAC of a fixed label, which reveals nothing of the key) is recorded when the
database is migrated and compared at every start: by the system check ``assay.E010`` (``manage.py`` commands,
``runserver``), by the WSGI/ASGI entry points and by Celery workers.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

PSEUDONYM = "PSEUDONYM_KEY"
_LABEL = b"assay key fingerprint v1: PSEUDONYM_KEY"


def fingerprint() -> str:
    """The fingerprint of the configured pseudonym key."""
    return hmac.new(settings.PSEUDONYM_KEY.encode("utf-8"), _LABEL, hashlib.sha256).hexdigest()


def _holds_pseudonyms() -> bool:
    from governance.data.models import DatasetSubject, Subject  # noqa: PLC0415 - governance.apps imports this before the apps are ready

    return Subject.objects.exists() or DatasetSubject.objects.exists()


def key_problem(*, record: bool = False) -> str | None:
    """Why the configured pseudonym key cannot be used with this database, or None.

    ``record``: store the fingerprint when none is stored yet (at migration), or replace it while the database
    holds no pseudonym at all (nothing depends on the key yet).
    """
    from governance.data.models import KeyFingerprint  # noqa: PLC0415 - governance.apps imports this before the apps are ready

    try:
        if KeyFingerprint._meta.db_table not in connection.introspection.table_names():
            return None  # not migrated yet: the migration's post_migrate records it
        stored = KeyFingerprint.objects.filter(name=PSEUDONYM).first()
        current = fingerprint()
        if stored is not None and hmac.compare_digest(stored.fingerprint, current):
            return None
        if stored is None or not _holds_pseudonyms():
            if record:
                KeyFingerprint.objects.update_or_create(name=PSEUDONYM, defaults={"fingerprint": current})
            return None
    except DatabaseError as exc:
        return f"could not read the key fingerprints: {exc}"
    recorded = stored.recorded_at.date().isoformat()
    return (
        f"PSEUDONYM_KEY is not the key this database's data subjects were pseudonymised with (its fingerprint was "
        f"recorded on {recorded}). With another key every subject would look new and their consent events, "
        "personal records and erasure keys would silently vanish from view. Restore the original key from your "
        "key backup (docs/operations.md); never replace it while subjects exist."
    )


def stop_if_key_changed() -> None:
    """Refuse to start (ImproperlyConfigured) when the pseudonym key differs from the recorded one."""
    problem = key_problem()
    if problem:
        raise ImproperlyConfigured(problem)


@checks.register()
def pseudonym_key_unchanged(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Error ``assay.E010`` when ``PSEUDONYM_KEY`` is not the key the database was filled with."""
    problem = key_problem()
    if problem:
        return [
            checks.Error(
                problem, hint="Set PSEUDONYM_KEY (or PSEUDONYM_KEY_FILE) to the original key.", id="assay.E010"
            )
        ]
    return []


def record_after_migrate(**kwargs: Any) -> None:
    """post_migrate: record the key's fingerprint the first time the database is migrated."""
    problem = key_problem(record=True)
    if problem:
        raise ImproperlyConfigured(problem)
