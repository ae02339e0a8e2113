"""Access to datasets, lineage runs and subjects: one chokepoint each; not yours and not there both answer 404.

Consent data and subjects are organisation-level records kept by compliance officers (and administrators);
the ``consent:*`` scopes already keep everyone else out, so there is no team filter on them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from governance.access.scoping import get_visible_or_404
from governance.data.crypto import is_pseudonym
from governance.data.models import Dataset, DatasetVersion, LineageRun, Subject


def datasets_visible_to(user: Any) -> QuerySet[Dataset]:
    """Datasets the user may see: their teams' (owners, reviewers) or all (officers, admins, CI)."""
    return Dataset.objects.visible_to(user).select_related("team")


def access_dataset(user: Any, name: str, request: Any = None) -> Dataset:
    """The dataset named ``name`` if ``user`` may see it, else 404."""
    return get_visible_or_404(datasets_visible_to(user), user, request, name=name)


def access_dataset_version(user: Any, name: str, number: int, request: Any = None) -> DatasetVersion:
    """Version ``number`` of dataset ``name`` if ``user`` may see the dataset, else 404."""
    dataset = access_dataset(user, name, request)
    return get_visible_or_404(
        DatasetVersion.objects.filter(dataset=dataset).select_related("dataset", "dataset__team"),
        user,
        request,
        within_visible_parent=True,
        number=number,
    )


def runs_visible_to(user: Any) -> QuerySet[LineageRun]:
    """Lineage runs the user may see (their teams' runs; organisation-wide roles see all)."""
    return LineageRun.objects.visible_to(user).select_related("team")


def access_run(user: Any, run_id: Any, request: Any = None) -> LineageRun:
    """The run with ``run_id`` if ``user`` may see it, else 404."""
    return get_visible_or_404(runs_visible_to(user), user, request, run_id=run_id)


def access_subject(user: Any, pseudonym: str) -> Subject:
    """The subject with this pseudonym (the caller's scopes were checked by the view), else 404."""
    if not is_pseudonym(pseudonym):
        raise Http404
    try:
        return Subject.objects.get(pseudonym=pseudonym)
    except Subject.DoesNotExist:
        raise Http404 from None
