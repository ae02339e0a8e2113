"""The post-market monitoring plan (Art. 72) of a version: built from its monitoring configuration (the demo model
monitored on German credit), every gap shown as a gap, JSON and a PAdES-signed PDF that pyHanko validates and whose
hash (and the plan's) is a trail event."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pypdf
import pytest

from audits.reports import signing
from governance.trail.models import Event
from registry.models import ModelVersion, Webhook
from tests.api import assert_error
from tests.conftest import Cast
from tests.monitoring import arrange
from tests.registry.conftest import register_model

URL = "/api/v1/models/{name}/versions/{number}/monitoring-plan"


@pytest.fixture
def monitored(cast: Cast, media_root: Any) -> ModelVersion:
    return arrange.monitored_demo_version(cast)


def _url(version: ModelVersion, suffix: str = "") -> str:
    return URL.format(name=version.model.name, number=version.number) + suffix


def _section(plan: dict[str, Any], point: str) -> dict[str, Any]:
    return next(s for s in plan["sections"] if s["point"] == point)


def test_the_plan_says_what_is_watched_by_which_thresholds_and_who_is_told(
    cast: Cast, monitored: ModelVersion, settings: Any
) -> None:
    settings.MONITORING_EMAIL_ALERTS = False
    response = cast.reviewer.client().get(_url(monitored))
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["citations"] == ["eu-ai-act/art-72/1", "eu-ai-act/art-72/2"]
    watched = _section(plan, "1")["content"]
    assert watched["inputs"] == [f"{name} (numeric)" for name in arrange.FEATURES]
    assert (watched["prediction"], watched["label"], watched["protected_attributes"]) == (
        "decision",
        "credit_risk",
        ["sex"],
    )
    assert watched["reference_kind"] == "training"
    assert _section(plan, "1")["gaps"] == []  # labels, outputs and a protected attribute are all named
    metrics = _section(plan, "2")["content"]
    by_name = {t["name"]: t for t in metrics["thresholds"]}
    # The demo model is minimal-risk: the baseline policy's thresholds, as the policy file states them.
    assert metrics["policy"].startswith("baseline")
    assert (by_name["psi_alert"]["value"], by_name["psi_alert"]["operator"]) == (0.2, "<=")
    assert (by_name["psi_warning"]["value"], by_name["impact_ratio_alert"]["value"]) == (0.1, 0.8)
    assert by_name["psi_alert"]["basis"]
    assert by_name["min_batch_rows"]["measures"].startswith("Fewest rows")
    assert _section(plan, "3")["content"]["due_checks_every_seconds"] == 300.0
    assert _section(plan, "3")["gaps"] == [
        "3: no cadence of production batches is committed to (Assay checks what it is sent)"
    ]
    told = _section(plan, "4")
    assert (told["content"]["active_webhooks"], told["content"]["email_alerts"]) == (0, False)
    assert told["gaps"] == [
        "4: nobody outside Assay is told of an alert (no active webhook, and no e-mail alert goes out)"
    ]
    assert _section(plan, "5")["gaps"] == ["5: no production batch has been received yet"]
    assert plan["gaps"] == sum(len(s["gaps"]) for s in plan["sections"])
    assert "@" not in json.dumps(plan)  # people are counted, never named


def test_a_webhook_and_a_batch_close_their_gaps(cast: Cast, monitored: ModelVersion, settings: Any) -> None:
    settings.MONITORING_EMAIL_ALERTS = False
    Webhook.objects.create(
        model=monitored.model, url="https://hooks.example.org/assay", secret="s" * 32, created_by=cast.owner.user
    )
    arrange.upload(cast, monitored, arrange.batch_csv(rows=slice(0, 300)))
    plan = cast.owner.client().get(_url(monitored)).json()
    assert _section(plan, "4")["content"]["active_webhooks"] == 1
    assert _section(plan, "4")["gaps"] == []
    assert _section(plan, "5")["content"]["batches"] == 1
    assert _section(plan, "5")["gaps"] == []


def test_a_version_without_monitoring_has_a_plan_of_gaps(cast: Cast, make_version: Any) -> None:
    version = make_version(register_model(cast, "high"))
    plan = cast.owner.client().get(_url(version)).json()
    assert _section(plan, "1")["gaps"] == ["1: monitoring is not configured for this version: nothing is monitored"]
    assert _section(plan, "2")["content"] == {}
    assert plan["gaps"] == 2  # not configured; no batch


def test_another_team_gets_404_and_nothing_is_recorded(cast: Cast, monitored: ModelVersion) -> None:
    assert_error(cast.outsider.client().get(_url(monitored)), 404)
    assert_error(cast.outsider.client().get(_url(monitored, ".pdf")), 404)
    assert not Event.objects.filter(action="monitoring_plan.generated").exists()


def test_the_pdf_is_signed_validates_and_its_hashes_are_in_the_trail(
    cast: Cast, monitored: ModelVersion, settings: Any
) -> None:
    settings.MONITORING_EMAIL_ALERTS = False
    response = cast.owner.client().get(_url(monitored, ".pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    result = signing.validate_pdf(pdf)  # pyHanko
    assert result.valid, result.message
    assert result.covers_whole_file
    event = Event.objects.get(seq=int(response["X-Assay-Trail-Event"]))
    assert event.action == "monitoring_plan.generated"
    assert event.payload["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.payload["signer_certificate_sha256"] == result.signer_certificate_sha256
    text = " ".join("\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
    assert f"Post-market monitoring plan (Art. 72): {monitored.model.name} v{monitored.number}" in text
    assert "Art. 72(1) of Regulation (EU) 2024/1689" in text
    assert "psi_alert" in text
    assert event.payload["gaps"] == text.count("GAP") == 3  # no committed cadence, nobody told, no batch yet
