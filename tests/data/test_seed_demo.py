"""`make run` seeds real demo data: the numbers a newcomer sees must be the ones the data gives, and every feature
has something to show (a version under review, a signed report, a second version that passes the audit its high
risk tier requires and is approved, so the approval gate answers pass for it with the demo CI token, a deployed and
monitored model with open drift and live-fairness findings, a share with the regulator, an evidence bundle)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from audits.gate.token import verify_gate_token
from audits.models import AuditRun, Report
from governance.data.consent import coverage
from governance.data.demo import DEMO_FEATURES, audit_roles
from governance.data.models import DatasetVersion, LineageRun, Purpose
from governance.exports.models import Export, Share
from registry.models import MODEL_CARD_SECTIONS, DriftStatistic, Finding, ModelVersion, MonitoringBatch
from tests.data.conftest import media_root  # noqa: F401 - the fixture


@pytest.fixture
def trail_emptied_after(unprotected_trail: None) -> Iterator[None]:
    """``unprotected_trail``, with the demo's share and bundle removed first (a bundle refers to its checkpoint)."""
    yield
    Share.objects.all().delete()
    Export.objects.all().delete()


# Transactional, as `make run` is: the audit, the batch checks and the bundle run as their transactions commit.
@pytest.mark.django_db(transaction=True)
# The service's default (governance/settings.py), which the test settings turn off: as under `make run`, the gate
# and deployments judge the audit each tier requires.
@override_settings(DEBUG=True, AUDIT_REQUIRED_POLICIES={"high": "eu-ai-act-high-risk", "limited": "baseline"})
def test_seed_demo_builds_the_german_credit_story_once_and_the_demo_ci_token_gets_its_gate_answers(
    trail_emptied_after: None,
    media_root: Any,  # noqa: F811 - the fixture
) -> None:
    out = StringIO()
    _seed(out)

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
    [finding] = Finding.objects.filter(version__model__name="credit-scoring")
    assert (finding.version.number, finding.kind) == (1, "consent_withdrawn")
    assert "german-credit" in out.getvalue()

    # The demo model (ONNX) was audited under the four-fifths rule: applicants aged 25 or under are approved at
    # well under four fifths of the older applicants' rate, a real finding at first start.
    [run] = AuditRun.objects.filter(model_version__number=1, model_version__model__name="credit-scoring")
    assert (run.status, run.verdict, run.policy_version.policy.name) == ("done", "fail", "four-fifths")
    assert run.model_version.framework == "onnx"
    impact = run.checks.get(check_name="disparate_impact")
    by_age = next(g for g in impact.details["groupings"] if g["grouping"] == "age_group")
    young = next(row for row in by_age["groups"] if row["group"] == "age_group=<=25")
    assert young["impact_ratio"] < 0.8
    assert young["significant"] is True
    assert "age_group=<=25" in impact.reason

    # Under review, so the approvals inbox is not empty; its failing audit has a signed report.
    credit = ModelVersion.objects.get(model__name="credit-scoring", number=1)
    assert credit.state == "submitted"
    [report] = Report.objects.filter(run=run)
    assert report.sha256

    # credit-scoring v2: trained without age on german-credit v2 (v1 with indicator columns, without the applicant who
    # withdrew consent; a lineage run from v1 to v2), it passes every check of eu-ai-act-high-risk, age group and sex
    # both audited, and is approved by two reviewers (a high-risk version needs four eyes).
    v2_data = DatasetVersion.objects.get(dataset__name="german-credit", number=2)
    assert (v2_data.row_count, v2_data.subject_count) == (999, 999)
    [derived] = LineageRun.objects.filter(links__dataset_version=v2_data, links__direction="output")
    assert [(link.direction, link.dataset_version) for link in derived.links.all()] == [
        ("input", version),
        ("output", v2_data),
    ]
    v2 = ModelVersion.objects.get(model__name="credit-scoring", number=2)
    assert (v2.state, v2.framework) == ("approved", "onnx")
    assert sorted(v2.reviews.values_list("reviewer__username", flat=True)) == ["olivia", "rhea"]
    [passed] = AuditRun.objects.filter(model_version=v2)
    assert (passed.status, passed.verdict, passed.policy_version.policy.name) == ("done", "pass", "eu-ai-act-high-risk")
    assert passed.dataset_version == v2_data
    assert passed.column_roles["protected"] == ["age_group", "sex"]
    assert "age" not in passed.column_roles["features"]
    checks = passed.results["checks"]
    assert {name: check["outcome"] for name, check in checks.items()} == {
        "data_quality": "pass",
        "performance": "pass",
        "group_fairness": "pass",
        "explainability": "pass",
        "adversarial": "pass",
    }
    assert checks["performance"]["overall"]["roc_auc"] >= 0.7
    summaries = {g["grouping"]: g["summary"] for g in checks["group_fairness"]["groupings"]}
    assert set(summaries) == {"age_group", "sex"}
    assert all(s["demographic_parity_difference"] <= 0.1 for s in summaries.values())

    # A second model, approved and deployed, monitored: batch 1 is ordinary; batch 2 (credit_amount up one standard
    # deviation, female approvals halved) opens drift and live-fairness findings with the monitoring's own numbers.
    monitored = ModelVersion.objects.get(model__name="loan-provisioning", number=1)
    assert (monitored.state, monitored.model.risk_tier) == ("deployed", "minimal")
    first, second = MonitoringBatch.objects.filter(version=monitored).order_by("number")
    assert (first.status, first.alerts, second.status) == ("checked", 0, "checked")
    assert second.alerts >= 2
    open_findings = Finding.objects.filter(version=monitored, status="open")
    assert {f.kind for f in open_findings} == {"drift_alert", "fairness_alert"}
    assert any("credit_amount" in f.title for f in open_findings)
    fairness = open_findings.get(kind="fairness_alert")
    ratio = DriftStatistic.objects.get(batch=second, subject="group:sex=female", statistic="impact_ratio")
    assert (ratio.level, ratio.value is not None and ratio.value < 0.8) == ("alert", True)
    assert "sex=female" in fairness.title

    # credit-scoring is shared with the demo regulator, and one evidence bundle was made for her.
    [share] = Share.objects.all()
    assert (share.model, share.regulator.username, share.is_active()) == (credit.model, "regina", True)
    [export] = Export.objects.all()
    assert (export.model, export.recipient) == (credit.model, share.regulator)
    assert export.status == "ready"

    # Idempotent: a second run adds nothing, to the data or to the trail.
    counts = _counts()
    again = StringIO()
    _seed(again)
    assert _counts() == counts

    _assert_cards_figures_and_token_hints(out.getvalue(), again.getvalue())

    # The gate, asked with the printed CI token: v1 fails, v2 passes with a signed token.
    _assert_gate_answers(out)


README = Path(__file__).resolve().parents[2] / "README.md"


def _assert_cards_figures_and_token_hints(first: str, second: str) -> None:
    """Issue 19, item 8: the demo's model cards are filled; what `make run` prints is what README says (its audit
    figures, where the tokens come from), and a second start says where to get tokens instead of printing none."""
    for version in ModelVersion.objects.all():
        assert set(version.model_card) == set(MODEL_CARD_SECTIONS), version
        assert all(len(text) > 20 for text in version.model_card.values()), version

    figures = r"approves (\d+) of the (\d+) applicants aged 25 or under \((0\.\d\d)\) against (\d+) of the (\d+) older"
    figures += r" ones \((0\.\d\d)\), an impact ratio of (0\.\d\d)"
    readme = " ".join(README.read_text().split())
    [printed] = re.findall(figures, first)
    assert re.findall(figures, readme) == [printed]
    assert re.search(figures, second)  # every start prints them

    assert "CI token for ci-bot (shown once)" in first
    assert "CI token for ci-bot (shown once)" not in second
    assert "make demo-tokens" in second
    assert re.search(r"^demo-tokens:", (README.parent / "Makefile").read_text(), re.MULTILINE)

    out = StringIO()
    call_command("demo_tokens", stdout=out)
    assigned = dict(re.findall(r"^(\w+)=(assay_\S+)", out.getvalue(), re.MULTILINE))
    # The variables the docs' examples use: README's gate curl ($CI), docs/registry.md's ($OWNER, ...).
    assert set(assigned) == {"OWNER", "REVIEWER", "OFFICER", "CI"}
    registry_doc = (README.parent / "docs" / "registry.md").read_text()
    assert "make -s demo-tokens" in registry_doc
    for variable, username in (("OWNER", "omar"), ("REVIEWER", "rhea"), ("OFFICER", "olivia"), ("CI", "ci-bot")):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {assigned[variable]}")
        me = client.get("/api/v1/me")
        assert (me.status_code, me.json()["username"]) == (200, username)


GATE = "/api/v1/gates/check"
# docs/gate.md's bodies: v1 with the column roles that start an audit under the policy its tier requires, v2 judged on
# its latest audit (the one seed_demo ran).
V1_BODY = {
    "model": "credit-scoring",
    "version": 1,
    "environment": "production",
    "dataset": "german-credit",
    "dataset_version": 1,
    "wait_seconds": 30,
    "column_roles": audit_roles(DEMO_FEATURES),  # docs/gate.md's roles
}
V2_BODY = {"model": "credit-scoring", "version": 2, "environment": "production"}


def _assert_gate_answers(out: StringIO) -> None:
    [token] = re.findall(r"CI token for ci-bot \(shown once\): (\S+)", out.getvalue())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    v1 = client.post(GATE, V1_BODY, format="json")

    assert v1.status_code == 412, v1.json()
    assert v1.json()["decision"] == "fail", v1.json()
    assert any("group_fairness: age_group" in reason for reason in v1.json()["reasons"]), v1.json()["reasons"]

    v2 = client.post(GATE, V2_BODY, format="json")

    assert v2.status_code == 200, v2.json()
    body = v2.json()
    assert body["decision"] == "pass"
    claims = verify_gate_token(body["token"])
    version = ModelVersion.objects.get(model__name="credit-scoring", number=2)
    assert (claims.decision, claims.model, claims.version, claims.environment) == (
        "pass",
        "credit-scoring",
        2,
        "production",
    )
    assert claims.artifact_sha256 == version.artifact_sha256
    assert claims.policy.startswith("eu-ai-act-high-risk/")
    assert sorted(claims.approvers) == sorted(str(pk) for pk in version.reviews.values_list("reviewer_id", flat=True))


def _seed(out: StringIO) -> None:
    """``seed_demo`` in a thread of its own, as in its own process under `make run`: no event loop left running by
    another test of this worker (Playwright's) is in the way of the report signing's ``asyncio.run``."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            call_command("seed_demo", stdout=out)
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in ("governance", "registry", "audits")
    }
