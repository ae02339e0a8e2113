"""`make run` seeds real demo data: the numbers a newcomer sees must be the ones the data gives."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from audits.models import AuditRun
from governance.data.consent import coverage
from governance.data.models import DatasetVersion, Purpose
from registry.models import Finding


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_builds_the_german_credit_story_once(tmp_path: Any, django_capture_on_commit_callbacks: Any) -> None:
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the audit job is queued on commit
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

    # The demo model (ONNX) was audited under the four-fifths rule: applicants aged 25 or under are approved at
    # well under four fifths of the older applicants' rate, a real finding at first start.
    [run] = AuditRun.objects.all()
    assert (run.status, run.verdict, run.policy_version.policy.name) == ("done", "fail", "four-fifths")
    assert run.model_version.framework == "onnx"
    impact = run.checks.get(check_name="disparate_impact")
    by_age = next(g for g in impact.details["groupings"] if g["grouping"] == "age_group")
    young = next(row for row in by_age["groups"] if row["group"] == "age_group=<=25")
    assert young["impact_ratio"] < 0.8
    assert young["significant"] is True
    assert "age_group=<=25" in impact.reason

    call_command("seed_demo", stdout=StringIO())  # idempotent: nothing is added twice
    assert DatasetVersion.objects.count() == 1
    assert Finding.objects.count() == 1
