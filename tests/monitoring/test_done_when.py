"""The issue's "done when": a deliberately shifted batch (credit_amount's mean moved by one standard deviation,
women's approvals halved) sent to a deployed version of the demo model opens the right alerts, with numbers equal
to scipy's and to a PSI computed here by hand, and a reviewer's decision on them is in the trail."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from scipy import stats

from governance.trail.models import Event
from registry.models import Finding, MonitoringBatch, Webhook, WebhookDelivery
from tests.conftest import Cast, sha256_text
from tests.monitoring import arrange
from tests.monitoring.data import german_table

URL = "/api/v1/models/{name}/versions/{number}"


def _hand_psi(reference: np.ndarray, batch: np.ndarray) -> float:
    """PSI on the reference's deciles (numpy's default quantiles), right-closed bins, 0.5 added to every count."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    bounds = [-math.inf, *edges, math.inf]
    ref_counts = [((reference > lo) & (reference <= hi)).sum() for lo, hi in itertools.pairwise(bounds)]
    new_counts = [((batch > lo) & (batch <= hi)).sum() for lo, hi in itertools.pairwise(bounds)]
    k = len(ref_counts)
    total = 0.0
    for r, b in zip(ref_counts, new_counts, strict=True):
        p = (r + 0.5) / (len(reference) + 0.5 * k)
        q = (b + 0.5) / (len(batch) + 0.5 * k)
        total += (q - p) * math.log(q / p)
    return total


@pytest.fixture
def version(cast: Cast, media_root: Any) -> Any:
    return arrange.deployed_demo_version(cast)


def _send(member: Any, path: str, data: bytes, capture: Any, name: str = "batch.csv") -> Any:
    with capture(execute=True):
        sent = member.client().post(path, {"file": SimpleUploadedFile(name, data)}, format="multipart")
    if sent.status_code != 201:
        return sent
    # The check ran when the upload committed: read the batch back, as a client polling it would.
    return member.client().get(f"{path}{sent.json()['batch']}/")


def test_a_shifted_batch_opens_the_right_alerts_and_a_reviewers_decision_is_in_the_trail(
    cast: Cast, version: Any, django_capture_on_commit_callbacks: Any
) -> None:
    base = URL.format(name=version.model.name, number=version.number)
    owner = cast.owner.client()
    for member, address in ((cast.owner, "omar@example.org"), (cast.reviewer, "rhea@example.org")):
        member.user.email = address
        member.user.save(update_fields=["email"])
    webhook = Webhook.objects.create(
        model=version.model, url="https://93.184.215.14/hook", secret="s", created_by=cast.owner.user
    )
    configured = owner.put(f"{base}/monitoring", arrange.CONFIG, format="json")
    assert configured.status_code == 200, configured.content
    assert configured.json()["profile"]["decision_source"] == "the model, scoring the reference"

    # A control batch: the reference rows themselves, with the model's decisions. Nothing drifts, nothing alerts.
    control = _send(cast.owner, f"{base}/batches/", arrange.batch_csv(), django_capture_on_commit_callbacks)
    assert control.status_code == 200, control.content
    body = control.json()
    assert body["status"] == "checked"
    assert body["alerts"] == 0
    assert all(f["psi"] == pytest.approx(0.0, abs=1e-12) for f in body["results"]["features"].values())
    assert all(f["ks"] == 0.0 for f in body["results"]["features"].values())
    fairness = body["results"]["fairness"]
    female = next(g for g in fairness["groupings"][0]["groups"] if g["group"] == "sex=female")
    assert female["impact_ratio"] > 0.8

    shifted = _send(
        cast.owner,
        f"{base}/batches/",
        arrange.batch_csv(shift_credit_amount_sd=1.0, halve_female_approvals=True),
        django_capture_on_commit_callbacks,
    )
    assert shifted.status_code == 200, shifted.content
    results = shifted.json()["results"]
    kinds = {(a["kind"], a["subject"]) for a in results["alerts"]}
    assert kinds == {("drift_alert", "credit_amount"), ("fairness_alert", "group:sex=female")}

    # Numbers: PSI by hand, KS equal to scipy's ks_2samp, impact ratio by hand.
    table = german_table()
    reference = table.column("credit_amount").to_numpy().astype(float)
    moved = reference + reference.std(ddof=1)
    amount = results["features"]["credit_amount"]
    assert amount["psi"] == pytest.approx(_hand_psi(reference, moved), rel=1e-12)
    assert amount["psi"] > 0.2
    expected = stats.ks_2samp(reference, moved, method="asymp")
    assert amount["ks"] == expected.statistic
    assert amount["ks_p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert amount["mean_shift_in_reference_sd"] == pytest.approx(1.0, rel=1e-9)
    others = [f for name, f in results["features"].items() if name != "credit_amount"]
    assert all(f["psi"] == pytest.approx(0.0, abs=1e-12) for f in others)

    decisions = arrange.model_decisions().copy()
    sex = np.array(table.column("sex").to_pylist())
    approved = np.flatnonzero((sex == "female") & (decisions == 1))
    decisions[approved[::2]] = 2
    rate_f, rate_m = (decisions[sex == "female"] == 1).mean(), (decisions[sex == "male"] == 1).mean()
    group = next(g for g in results["fairness"]["groupings"][0]["groups"] if g["group"] == "sex=female")
    assert group["impact_ratio"] == pytest.approx(rate_f / rate_m, rel=1e-12)
    assert group["selection_rate"] == pytest.approx(control_rate(control) / 2, abs=1 / 310)

    # Findings, webhook deliveries, e-mail, events.
    findings = Finding.objects.filter(version=version, status="open").order_by("kind")
    assert [f.kind for f in findings] == ["drift_alert", "fairness_alert"]
    assert WebhookDelivery.objects.filter(webhook=webhook, event_action="monitoring.alert_raised").count() == 2
    assert len(mail.outbox) == 1
    assert "2 monitoring finding(s)" in mail.outbox[0].subject
    assert sorted(mail.outbox[0].to) == ["omar@example.org", "rhea@example.org"]  # the team, nobody else
    raised = Event.objects.filter(action="monitoring.alert_raised").order_by("seq")
    assert {e.payload["subject"] for e in raised} == {"credit_amount", "group:sex=female"}

    # The time series shows both batches.
    series = owner.get(f"{base}/drift", {"feature": "credit_amount", "statistic": "psi"}).json()["series"]["psi"]
    assert [(p["batch"], p["level"]) for p in series] == [(1, "ok"), (2, "alert")]

    # A reviewer decides: accept the fairness alert with a reason, and the trail holds the decision.
    fair = findings.get(kind="fairness_alert")
    reason = "Confirmed with the credit team: a campaign changed who applies; re-audit scheduled."
    decided = cast.reviewer.client().post(
        f"{base}/findings/{fair.pk}/resolve", {"resolution": "accept", "reason": reason}, format="json"
    )
    assert decided.status_code == 200, decided.content
    event = Event.objects.filter(action="finding.resolved").latest("seq")
    assert event.payload == {
        "model": version.model.name,
        "version": version.number,
        "finding": fair.pk,
        "resolution": "accept",
        "reason_sha256": sha256_text(reason),
    }
    assert event.actor_user_id == cast.reviewer.user.pk
    assert MonitoringBatch.objects.filter(version=version).count() == 2


def control_rate(response: Any) -> float:
    groups = response.json()["results"]["fairness"]["groupings"][0]["groups"]
    return next(g for g in groups if g["group"] == "sex=female")["selection_rate"]
