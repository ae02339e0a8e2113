"""Reading consent: the state of (subject, purpose) at any instant, and a dataset version's coverage.

The state is derived from the events, never stored: the latest event at or before the instant decides (events at
the same instant are taken in the order they were recorded).

- ``given`` -> ``consenting``, unless the consent had an ``expires_at`` at or before the instant -> ``expired``;
- ``withdrawn`` -> ``withdrawn``; ``expired`` -> ``expired``;
- no event yet -> ``never_asked``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.conf import settings

from governance.data.lineage import node_id
from governance.data.models import ConsentEvent, ConsentKind, DatasetSubject, DatasetVersion, Purpose, Subject

STATES = ("consenting", "withdrawn", "expired", "never_asked")


class CoverageTooSmall(Exception):
    """Coverage over fewer than ``COVERAGE_MIN_SUBJECTS`` subjects, asked by someone who does not keep consent."""

    def __init__(self, version: DatasetVersion, minimum: int) -> None:
        super().__init__(
            f"{node_id(version)} holds fewer than {minimum} subjects; coverage this small would identify people "
            "(a compliance officer can see it)."
        )
        self.minimum = minimum


def state_of(kind: str | None, expires_at: datetime | None, at: datetime) -> str:
    """The state that the latest event (its ``kind`` and ``expires_at``) gives at instant ``at``."""
    if kind is None:
        return "never_asked"
    if kind == ConsentKind.GIVEN:
        return "expired" if expires_at is not None and expires_at <= at else "consenting"
    return str(kind)


def latest_event(subject: Subject, purpose: Purpose, at: datetime) -> ConsentEvent | None:
    """The event that decides the state of (subject, purpose) at ``at``, or None."""
    return (
        ConsentEvent.objects.filter(subject=subject, purpose=purpose, occurred_at__lte=at)
        .order_by("-occurred_at", "-id")
        .first()
    )


def subject_states(subject: Subject, at: datetime) -> list[dict[str, Any]]:
    """The state of every purpose for one subject at ``at`` (purposes never asked included)."""
    rows = []
    for purpose in Purpose.objects.all():
        event = latest_event(subject, purpose, at)
        rows.append(
            {
                "purpose": purpose.code,
                "legal_basis": purpose.legal_basis,
                "state": state_of(event.kind if event else None, event.expires_at if event else None, at),
                "since": event.occurred_at.isoformat() if event else None,
                "notice_version": event.notice_version if event else None,
            }
        )
    return rows


def coverage(version: DatasetVersion, purpose: Purpose, at: datetime) -> dict[str, Any]:
    """How many of the subjects in ``version`` consent to ``purpose`` at ``at``: counts only, never who.

    One pass over the purpose's events for the subjects in the version's index (ordered so the last row seen for
    each subject is the deciding one); no file is read. Subjects with no event are "never asked".
    """
    in_version = DatasetSubject.objects.filter(version=version).values("pseudonym")
    rows = (
        ConsentEvent.objects.filter(purpose=purpose, occurred_at__lte=at, subject_id__in=in_version)
        .order_by("subject_id", "occurred_at", "id")
        .values_list("subject_id", "kind", "expires_at")
    )
    counts: Counter[str] = Counter()
    current: str | None = None
    state = "never_asked"
    for pseudonym, kind, expires_at in rows.iterator(chunk_size=10_000):
        if pseudonym != current:
            if current is not None:
                counts[state] += 1
            current = pseudonym
        state = state_of(kind, expires_at, at)
    if current is not None:
        counts[state] += 1
    total = DatasetSubject.objects.filter(version=version).count()
    counts["never_asked"] = total - sum(counts.values())
    return {
        "dataset": version.dataset.name,
        "version": version.number,
        "purpose": purpose.code,
        "at": at.isoformat(),
        "subjects": total,
        **{name: counts.get(name, 0) for name in STATES},
    }


def coverage_for(version: DatasetVersion, purpose: Purpose, at: datetime, *, consent_keeper: bool) -> dict[str, Any]:
    """``coverage`` as a caller may see it: the privacy floor every entry point (API, portal) obeys.

    Counts over fewer than ``COVERAGE_MIN_SUBJECTS`` subjects would tell someone one person's consent, so only
    consent keepers (holders of ``consent:read``) see them; anyone else gets ``CoverageTooSmall``.
    """
    counts = coverage(version, purpose, at)
    minimum = settings.COVERAGE_MIN_SUBJECTS
    if counts["subjects"] < minimum and not consent_keeper:
        raise CoverageTooSmall(version, minimum)
    return counts
