"""`make run` seeds real demo data: the numbers a newcomer sees must be the ones the data gives."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from governance.data.consent import coverage
from governance.data.models import DatasetVersion, Purpose
from registry.models import Finding


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_builds_the_german_credit_story_once(tmp_path: Any) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)

    version = DatasetVersion.objects.get(dataset__name="german-credit", number=1)
    # UCI German Credit: 1000 applicants, 700 good (1) and 300 bad (2) credit risks (german.doc).
    assert (version.row_count, version.subject_count) == (1000, 1000)
    assert version.profile["label"]["counts"] == {"1": 700, "2": 300}
    counts = coverage(version, Purpose.objects.get(code="model_training"), dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert {k: counts[k] for k in ("consenting", "withdrawn", "expired", "never_asked")} == {
        "consenting": 899,
        "withdrawn": 1,
        "expired": 0,
        "never_asked": 100,
    }
    [finding] = Finding.objects.all()
    assert (finding.version.model.name, finding.version.number, finding.kind) == (
        "credit-scoring",
        1,
        "consent_withdrawn",
    )
    assert "german-credit" in out.getvalue()

    call_command("seed_demo", stdout=StringIO())  # idempotent: nothing is added twice
    assert DatasetVersion.objects.count() == 1
    assert Finding.objects.count() == 1
