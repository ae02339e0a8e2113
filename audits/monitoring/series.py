"""The statistics of a monitored version over its batches: one query shape for the API's time series and the
portal's charts, so both show the same rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from registry.models import DriftStatistic


def checked_statistics(
    version: Any,
    *,
    subject: str | None = None,
    statistics: Iterable[str] | None = None,
    batch_numbers: Iterable[int] | None = None,
) -> QuerySet[Any]:
    """Drift statistics of ``version`` from the batches that were checked (not those that failed or wait), in batch
    order; narrowed to one ``subject`` (a feature, ``(prediction)``, ``group:<name>``, ...), some ``statistics``
    (psi, ks, impact_ratio, ...) or some batches when given."""
    rows = DriftStatistic.objects.filter(version=version, batch__status="checked")
    if subject is not None:
        rows = rows.filter(subject=subject)
    if statistics is not None:
        rows = rows.filter(statistic__in=list(statistics))
    if batch_numbers is not None:
        rows = rows.filter(batch__number__in=list(batch_numbers))
    return rows.order_by("batch__number", "id")
