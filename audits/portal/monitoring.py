"""The monitoring parts of a version's portal page: its panel (configuration, batches, drift and impact-ratio charts)
and the batch upload. They plug into the registry's version page and routes through ``registry.hooks``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.safestring import mark_safe

from audits.monitoring import actions as monitoring
from audits.monitoring.judge import INSUFFICIENT, batch_outcome, evidence_gaps
from audits.monitoring.series import checked_statistics
from audits.portal.monitoring_setup import monitoring_setup
from audits.portal.monitoring_source import monitoring_source
from governance.access.actions import ActionError
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view
from governance.web.portal.svg import series_chart
from registry.access import access_version
from registry.models import DriftStatistic, Finding, ModelVersion, MonitorConfig, MonitoringBatch
from registry.portal import forms
from registry.portal.views import version_invalid, version_refused, version_url

CHARTED_BATCHES = 30  # the chart and its table show the latest batches; the API serves the whole series
DRIFT_KINDS = ("feature", "prediction", "score", "label")
MONITORING_FINDINGS = (
    "drift_alert",
    "fairness_alert",
    "performance_alert",
    monitoring.ERROR_KIND,
    monitoring.UNDEPLOYED_KIND,
)


def monitoring_panel(request: HttpRequest, version: ModelVersion, findings: list[Finding]) -> dict[str, Any]:
    """The version's monitoring: configuration, batches (with the findings each one opened or extended), and PSI per
    feature and impact ratio per group over the latest batches, as charts with their tables."""
    config = MonitorConfig.objects.filter(version=version).select_related("reference__dataset", "configured_by").first()
    batches = list(
        MonitoringBatch.objects.filter(version=version).select_related("received_by").order_by("-number")[:50]
    )
    by_batch: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.kind in MONITORING_FINDINGS:  # their details name the batches that raised them
            for number in (finding.details or {}).get("batches", []):
                by_batch.setdefault(number, []).append(finding)
    protected = tuple((config.spec or {}).get("protected") or ()) if config else ()
    result: dict[str, Any] = {
        "config": config,
        "batches": [
            {"batch": b, "findings": by_batch.get(b.number, []), **batch_evidence(b, protected=protected)}
            for b in batches
        ],
        "can_upload": config is not None and may(request, "models:write"),
        "can_configure": may(request, "models:write"),
    }
    if config is None:
        return result
    thresholds: dict[str, Any] = {}
    try:
        thresholds, _rules, result["policy"] = monitoring.monitoring_rules(version, config)
    except monitoring.MonitoringError as exc:
        result["policy_error"] = str(exc)
    numbers = sorted(b.number for b in batches if b.status == "checked")[-CHARTED_BATCHES:]
    rows = checked_statistics(version, statistics=("psi", "impact_ratio"), batch_numbers=numbers).values_list(
        "subject", "kind", "statistic", "batch__number", "value", "level"
    )
    psi: dict[str, dict[int, tuple[float | None, str]]] = {}
    ratios: dict[str, dict[int, tuple[float | None, str]]] = {}
    for subject, kind, statistic, number, value, level in rows:
        if statistic == "psi" and kind in DRIFT_KINDS:
            psi.setdefault(subject, {})[number] = (value, level)
        elif statistic == "impact_ratio" and kind == "group":
            ratios.setdefault(subject.removeprefix("group:"), {})[number] = (value, level)

    def value_of(key: str) -> float | None:
        found = thresholds.get(key, {}).get("value")
        return float(found) if isinstance(found, int | float) else None

    def chart(table: dict[str, dict[int, tuple[float | None, str]]], **kwargs: Any) -> Any:
        if not table:
            return None
        series = [(subject, [(n, cells.get(n, (None, ""))[0]) for n in numbers]) for subject, cells in table.items()]
        return mark_safe(series_chart(series, **kwargs))  # noqa: S308 - svg.py escapes every text

    psi_lines = [
        (v, f"{label} {v:g}", alert)
        for key, label, alert in (("psi_warning", "warning", False), ("psi_alert", "alert", True))
        if (v := value_of(key)) is not None
    ]
    ratio_min = value_of("impact_ratio_alert")
    # Live fairness a batch could not judge is said, never left as an empty cell or a missing chart.
    unjudged = {
        row["batch"].number: [gap["reason"] for gap in row["gaps"] if gap["part"] == "fairness"]
        for row in result["batches"]
        if row["batch"].number in numbers
    }
    unjudged = {number: reasons for number, reasons in unjudged.items() if reasons}
    for cells in ratios.values():
        for number in unjudged:
            cells.setdefault(number, (None, INSUFFICIENT))
    result["fairness_gaps"] = [(number, unjudged[number]) for number in sorted(unjudged, reverse=True)[:5]]
    result |= {
        "numbers": numbers,
        "thresholds": [
            (key, spec.get("value"), (spec.get("basis") or {}).get("citation", ""))
            for key, spec in thresholds.items()
            if isinstance(spec, dict)
        ],
        "psi_chart": chart(psi, title=f"PSI per feature over batches, {version}", lines=psi_lines),
        "psi_rows": [(subject, [cells.get(n, (None, "")) for n in numbers]) for subject, cells in psi.items()],
        "ratio_chart": chart(
            ratios,
            title=f"Impact ratio per group over batches, {version}",
            lines=[(ratio_min, f"alert below {ratio_min:g}", True)] if ratio_min is not None else [],
            above_is_bad=False,
        ),
        "ratio_rows": [(subject, [cells.get(n, (None, "")) for n in numbers]) for subject, cells in ratios.items()],
    }
    return result


def batch_evidence(batch: MonitoringBatch, *, protected: tuple[str, ...] = ()) -> dict[str, Any]:
    """A batch's ``outcome`` (``audits.monitoring.judge.batch_outcome``: never ``ok`` for a part it could not judge)
    and the ``gaps`` that make it ``insufficient_evidence``, each naming what is missing."""
    results = batch.results or {}
    checked = batch.status == "checked"
    return {
        "outcome": batch_outcome(
            batch.status, alerts=batch.alerts, warnings=batch.warnings, results=results, protected=protected
        ),
        "gaps": evidence_gaps(results, protected=protected) if checked else [],
    }


@portal_view(POST="models:write")
def version_batch_upload(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Send a production batch, through the API's own action (``do_upload_batch``): owners of the team and CI."""
    version = access_version(request.user, name, number, request)
    form = forms.BatchUploadForm(request.POST, request.FILES, auto_id="batch_%s")
    if not form.is_valid():
        return version_invalid(request, version, batch_form=form)
    upload = form.cleaned_data["file"]
    try:
        batch = monitoring.do_upload_batch(
            version=version,
            user=portal_user(request),
            actor=Actor.from_request(request),
            # TemporaryFileUploadHandler is the only upload handler: the file is on disk, never in memory.
            file_path=Path(upload.temporary_file_path()),
            file_name=upload.name,
            delimiter=form.cleaned_data.get("delimiter") or ",",
        )
    except ActionError as exc:
        return version_refused(request, version, exc, batch_form=form)
    batch.refresh_from_db()
    config = MonitorConfig.objects.filter(version=version).only("spec").first()
    evidence = batch_evidence(batch, protected=tuple(((config.spec if config else None) or {}).get("protected") or ()))
    outcome = {
        "checked": f"checked: {batch.alerts} alert(s), {batch.warnings} warning(s)",
        "error": "its check failed (an error finding is open)",
    }.get(batch.status, "waiting for its check")
    if evidence["gaps"] and not batch.alerts:
        missing = " ".join(gap["reason"] for gap in evidence["gaps"])
        messages.warning(
            request, f"Batch {batch.number} received ({batch.rows:,} rows), {outcome}: insufficient evidence. {missing}"
        )
        return redirect(version_url(version) + "#monitoring")
    messages.success(request, f"Batch {batch.number} received ({batch.rows:,} rows), {outcome}.")
    return redirect(version_url(version) + "#monitoring")


@portal_view(GET="models:read")
def batch_detail(request: HttpRequest, name: str, number: int, batch: int) -> HttpResponse:
    """One production batch: its outcome and what it could not judge (named), its alerts and warnings, and every
    statistic with its level, as the check stored them."""
    version = access_version(request.user, name, number, request)
    found = MonitoringBatch.objects.filter(version=version, number=batch).select_related("data__dataset").first()
    if found is None:
        raise Http404
    config = MonitorConfig.objects.filter(version=version).only("spec").first()
    protected = tuple(((config.spec if config else None) or {}).get("protected") or ())
    results = found.results or {}
    statistics = DriftStatistic.objects.filter(batch=found).exclude(level="info").order_by("kind", "subject", "id")
    return render(
        request,
        "audits/batch_detail.html",
        {
            "version": version,
            "model": version.model,
            "batch": found,
            **batch_evidence(found, protected=protected),
            "alerts": results.get("alerts") or [],
            "warnings": results.get("warnings") or [],
            "statistics": statistics,
            "evidence": results.get("evidence") or {},
        },
    )


_V = "models/<slug:name>/versions/<int:number>"

# Served under the registry portal's namespace (registry-portal:version-batch-upload), at the same path as before.
PORTAL_ROUTES = [
    path(f"{_V}/monitoring", monitoring_setup, name="version-monitoring"),
    path(f"{_V}/monitoring/source", monitoring_source, name="version-monitoring-source"),
    path(f"{_V}/batches", version_batch_upload, name="version-batch-upload"),
    path(f"{_V}/batches/<int:batch>/", batch_detail, name="version-batch"),
]
