"""Adding a check is one registration (issue 18): a check defined here, registered in one place (the fixture), is
accepted by the policy schema, run by the engine, shown on the portal's run page and in the signed PDF report, and
gone again once it is removed from the registry."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from fractions import Fraction
from functools import partial
from typing import Any

import pytest
from django.urls import reverse
from pypdf import PdfReader

from audits import actions as audits
from audits import policies
from audits.checks import registry
from audits.checks.base import FAIL, PASS, Check, CheckContext, CheckOutcome, exact_threshold
from audits.checks.registry import CheckSpec
from audits.checks.settings import settings_schema, threshold_schema
from audits.engine import check_classes
from audits.models import AuditRun, Policy
from audits.policies import PolicyError, load_policy
from audits.reports.charts import PlannedChart, draw_figure
from audits.reports.document.builder import _Builder, fmt_number
from audits.reports.service import report_for_run
from governance.trail.log import Actor
from tests.audits.conftest import FAILING_RATES, PREDICTION_ROLES, decision_rows, predictions_only_version, upload
from tests.conftest import Cast
from tests.portal.conftest import signed_in

NAME = "row_count_at_least"
TITLE = "Row count"
BASIS = "basis: {text: Enough rows to judge anything., citation: Test rule 1}"


class RowCountAtLeast(Check):
    """Passes when the evaluation data has at least ``rows_min`` rows."""

    name = NAME

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        minimum = exact_threshold(settings, "rows_min", default_operator=">=")
        assert minimum is not None  # the schema requires rows_min
        rows = int(evaluation.rows)
        passed = minimum.passes(Fraction(rows))
        words = f"at least {minimum.value:g}" if passed else minimum.fails_as
        return self.outcome(
            PASS if passed else FAIL,
            f"The evaluation data has {rows} rows, {words}.",
            rows=rows,
            thresholds={"rows_min": minimum.as_json()},
        )


def _section(b: _Builder, details: Mapping[str, Any]) -> None:
    b.pairs([("Rows counted by the row-count check", fmt_number(details["rows"]))])


def _bars(details: Mapping[str, Any], *, fmt: Any = "png") -> bytes | str:
    minimum = details["thresholds"]["rows_min"]["value"]

    def paint(ax: Any) -> None:
        ax.barh(["rows", "minimum"], [details["rows"], minimum])

    return draw_figure(fmt, 2, paint)


def _charts(details: Mapping[str, Any]) -> list[PlannedChart]:
    return [
        PlannedChart(
            key="row_count",
            check=NAME,
            title="Rows against the minimum",
            caption="The evaluation rows beside the policy's minimum row count.",
            draw=partial(_bars, details),
        )
    ]


@pytest.fixture
def row_count_check() -> Iterator[CheckSpec]:
    """The one place the example check is declared; removed again after the test."""
    spec = registry.register(
        CheckSpec(
            name=NAME,
            title=TITLE,
            check=RowCountAtLeast,
            settings=settings_schema(
                "The evaluation data has enough rows.",
                {"rows_min": threshold_schema("min", "Fewest rows that pass.", minimum=1)},
                required=("rows_min",),
            ),
            report_charts=_charts,
            report_section=_section,
            why_it_matters="Too few rows and no figure means anything.",
        )
    )
    yield spec
    registry.unregister(NAME)


def policy_text(minimum: int, *, key: str = "rows_min") -> str:
    return f"""
name: row-count
title: Row count and four-fifths
description: The example check beside a built-in one.
confidence_level: 0.95
min_group_size: 30
checks:
  {NAME}:
    required: true
    {key}: {{value: {minimum}, operator: ">=", {BASIS}}}
  disparate_impact:
    required: true
    impact_ratio_min: {{value: 0.8, operator: ">=", {BASIS}}}
"""


def test_the_policy_schema_knows_a_check_only_while_it_is_registered() -> None:
    with pytest.raises(PolicyError, match=f"unknown key '{NAME}'"):
        load_policy(policy_text(100))
    spec = registry.register(
        CheckSpec(name=NAME, title=TITLE, check=RowCountAtLeast, settings=settings_schema("Rows.", {}))
    )
    try:
        assert NAME in registry.names()
        assert NAME in policies.CHECK_NAMES
        assert registry.spec(NAME) is spec
        with pytest.raises(ValueError, match="already registered"):
            registry.register(spec)
        with pytest.raises(PolicyError, match="unknown key 'rows_min'"):  # the settings are the check's own
            load_policy(policy_text(100))
    finally:
        registry.unregister(NAME)
    assert NAME not in registry.names()
    assert NAME not in policies.CHECK_NAMES
    with pytest.raises(KeyError, match=f"no check named '{NAME}'; registered: group_fairness"):
        registry.spec(NAME)


def test_a_registered_check_is_validated_by_its_own_settings(row_count_check: CheckSpec) -> None:
    policy = load_policy(policy_text(100))
    assert policy.checks[NAME]["rows_min"]["value"] == 100
    with pytest.raises(PolicyError, match="unknown key 'rows_mni'"):
        load_policy(policy_text(100, key="rows_mni"))
    with pytest.raises(PolicyError, match="must be at least 1, got 0"):
        load_policy(policy_text(0))
    assert check_classes()[NAME] is RowCountAtLeast


def test_a_check_class_must_carry_the_name_it_is_registered_under() -> None:
    spec = CheckSpec(name="another_name", title="x", check=RowCountAtLeast, settings=settings_schema("x", {}))
    with pytest.raises(ValueError, match="named 'row_count_at_least', not 'another_name'"):
        spec.load()
    with pytest.raises(ValueError, match="lowercase letters"):
        registry.register(CheckSpec(name="Row-Count", title="x", check=RowCountAtLeast, settings={"type": "object"}))


def pdf_text(pdf: bytes) -> str:
    """The PDF's text, each run of white space as one space (tables wrap their cells), as tests/reports reads it."""
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))


def _run(cast: Cast, minimum: int) -> AuditRun:
    version = predictions_only_version(cast)
    dataset_version = upload(cast, decision_rows(FAILING_RATES))  # 200 rows, F selected at half M's rate
    audits.ensure_builtin_policies()
    saved = audits.do_save_policy(
        user=cast.officer.user, actor=Actor.for_user(cast.officer.user), text=policy_text(minimum)
    )
    run, _ = audits.do_start_audit(
        user=cast.owner.user,
        actor=Actor.for_user(cast.owner.user),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=saved,
        column_roles=dict(PREDICTION_ROLES),
    )
    return audits.execute_audit(run.pk)


@pytest.mark.django_db
def test_the_registered_check_runs_in_the_engine_and_shows_on_the_portal_and_in_the_pdf(
    cast: Cast, media_root: Any, row_count_check: CheckSpec
) -> None:
    run = _run(cast, 150)
    assert run.status == "done", run.error
    assert Policy.objects.filter(name="row-count").exists()

    # The engine ran it beside the built-in check, and judged it from the data.
    check = run.results["checks"][NAME]
    assert check["outcome"] == PASS
    assert check["rows"] == 200
    assert check["reason"] == "The evaluation data has 200 rows, at least 150."
    assert run.results["checks"]["disparate_impact"]["outcome"] == FAIL  # 0.25 / 0.5 = 0.5 < 0.8
    assert {c.check_name for c in run.checks.all()} == {NAME, "disparate_impact"}

    # The portal's run page: its section, reason, its chart (drawn by the report's chart code) and its numbers.
    page = signed_in(cast.owner).get(reverse("audits-portal:run-detail", args=[run.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="check-{NAME}"' in html
    assert "The evaluation data has 200 rows, at least 150." in html
    assert 'alt="Rows against the minimum. The evaluation rows beside the policy&#x27;s minimum row count."' in html

    # The signed PDF: its section titled as registered, its table, its chart's caption, its threshold's basis.
    report = report_for_run(run, actor=Actor.for_user(cast.owner.user))
    text = pdf_text(report.read_bytes())
    assert f"{TITLE}: PASS (run #{run.pk})" in text
    assert "Rows counted by the row-count check 200" in text
    assert "Figure: Rows against the minimum. The evaluation rows beside the policy's minimum row count." in text
    assert "Thresholds and their basis Threshold Value Basis (citation) rows min 150.000 Test rule 1" in text
    assert "Disparate impact: FAIL" in text


@pytest.mark.django_db
def test_a_failing_registered_check_fails_the_audit_and_says_why_it_matters(
    cast: Cast, media_root: Any, row_count_check: CheckSpec
) -> None:
    run = _run(cast, 500)
    assert run.status == "done", run.error
    assert run.results["checks"][NAME]["outcome"] == FAIL
    assert any(
        reason.startswith(f"{NAME}: The evaluation data has 200 rows, is below 500") for reason in run.verdict_reasons
    )
    report = report_for_run(run, actor=Actor.for_user(cast.owner.user))
    text = re.sub(
        r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(report.read_bytes())).pages)
    )
    assert "Why it matters: Too few rows and no figure means anything." in text
