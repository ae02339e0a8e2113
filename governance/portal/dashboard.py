"""The dashboard's pictures: models by risk tier and stage, verdicts over time, open findings by kind and age, and
drift per deployed version. Each is a server-drawn SVG chart (``governance.web.portal.svg``) and the table of the
same numbers, which the page shows beside it: nothing is said by the picture alone.

Each function reads what the user may see (the querysets it is given) in a fixed, small number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.db.models.functions import TruncWeek

from audits.models import AuditRun, RunStatus, Verdict
from audits.monitoring.judge import batch_outcome
from governance.web.portal.svg import stacked_bars
from registry.models import Deployment, DriftStatistic, Finding, FindingStatus, MonitoringBatch, VersionState

# Colours (Okabe-Ito, as the report's charts) and what each segment is called in the legend.
STAGE_COLOURS = {
    VersionState.DRAFT: "#BBBBBB",
    VersionState.SUBMITTED: "#E69F00",
    VersionState.APPROVED: "#56B4E9",
    VersionState.REJECTED: "#D55E00",
    VersionState.DEPLOYED: "#009E73",
    VersionState.RETIRED: "#7F7F7F",
    "none": "#FFFFFF",
}
VERDICT_COLOURS = {Verdict.PASS: "#009E73", Verdict.FAIL: "#D55E00", Verdict.INSUFFICIENT: "#E69F00"}
AGES = (  # (label, youngest age in days, oldest age in days or None)
    ("under 7 days", 0, 7),
    ("7 to 30 days", 7, 30),
    ("30 to 90 days", 30, 90),
    ("over 90 days", 90, None),
)
AGE_COLOURS = ("#C6DBEF", "#6BAED6", "#2171B5", "#08306B")
WEEKS = 12
DEPLOYED_SHOWN = 20


def tier_stage_chart(tier_stage: dict[str, Any]) -> str:
    """Models by risk tier, each bar split by the state of the model's newest version (the table's numbers)."""
    stages = tier_stage["stages"]
    return stacked_bars(
        [(label, counts) for _tier, label, counts in tier_stage["rows"]],
        segments=[(label, STAGE_COLOURS[stage]) for stage, label in stages],
        title="Models by risk tier and the stage of their newest version",
    )


def verdicts_over_time(runs: QuerySet[AuditRun], *, now: dt.datetime) -> dict[str, Any]:
    """Finished audits per week (Monday to Sunday, UTC) over the last ``WEEKS`` weeks, by verdict: one query."""
    this_week = (now - dt.timedelta(days=now.weekday())).date()
    first = this_week - dt.timedelta(weeks=WEEKS - 1)
    counts = (
        runs.filter(status=RunStatus.DONE, created_at__date__gte=first)
        .annotate(week=TruncWeek("created_at"))
        .values("week", "verdict")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_week: dict[dt.date, dict[str, int]] = {}
    for row in counts:
        week = row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]
        by_week.setdefault(week, {})[row["verdict"]] = row["n"]
    verdicts = list(Verdict)
    rows = []
    for i in range(WEEKS):
        week = first + dt.timedelta(weeks=i)
        found = by_week.get(week, {})
        rows.append((f"{week:%Y-%m-%d}", [found.get(v.value, 0) for v in verdicts]))
    total = sum(sum(values) for _, values in rows)
    return {
        "verdicts": [v.label for v in verdicts],
        "rows": rows,
        "total": total,
        "chart": stacked_bars(
            rows,
            segments=[(v.label, VERDICT_COLOURS[v]) for v in verdicts],
            title=f"Finished audits per week (by the Monday it starts) and verdict, the last {WEEKS} weeks",
        )
        if total
        else "",
    }


def findings_by_kind_and_age(findings: QuerySet[Finding], *, now: dt.datetime) -> dict[str, Any]:
    """Open findings by kind, each split by how long it has been open: one query."""
    buckets = {}
    for i, (_label, young, old) in enumerate(AGES):
        window = Q(opened_at__lte=now - dt.timedelta(days=young))
        if old is not None:
            window &= Q(opened_at__gt=now - dt.timedelta(days=old))
        buckets[f"age{i}"] = Count("pk", filter=window)
    counts: Any = findings.filter(status=FindingStatus.OPEN).values("kind").annotate(**buckets).order_by("kind")
    rows = [(row["kind"], [row[f"age{i}"] for i in range(len(AGES))]) for row in counts]
    rows.sort(key=lambda row: (-sum(row[1]), row[0]))
    return {
        "ages": [label for label, _, _ in AGES],
        "rows": rows,
        "chart": stacked_bars(
            rows,
            segments=[(label, colour) for (label, _, _), colour in zip(AGES, AGE_COLOURS, strict=True)],
            title="Open findings by kind and by how long they have been open",
        )
        if rows
        else "",
    }


@dataclass(frozen=True)
class DriftRow:
    """One live deployment in the drift table: its version, latest checked batch, that batch's outcome and its
    highest PSI (None when it has no checked batch or no PSI)."""

    deployment: Deployment
    version: Any  # registry.models.ModelVersion
    batch: Any  # registry.models.MonitoringBatch, with its PSI values as ``psi``
    outcome: str
    worst: DriftStatistic | None


def drift_per_deployed_version(models: QuerySet[Any]) -> dict[str, Any]:
    """Each live deployment's version with its latest checked production batch: that batch's outcome and its
    highest population stability index (the feature or output that drifted most). Three queries."""
    live = list(
        Deployment.objects.filter(model__in=models, retired_at__isnull=True)
        .select_related("version__model", "version__monitor")
        .order_by("version__model__name", "environment")[:DEPLOYED_SHOWN]
    )
    versions = {d.version_id for d in live}
    latest = dict(
        MonitoringBatch.objects.filter(version_id__in=versions, status="checked")
        .values("version_id")
        .annotate(n=Max("number"))
        .values_list("version_id", "n")
    )
    psi = Prefetch(  # each batch's PSI values, highest first (one query for all the batches)
        "statistics",
        queryset=DriftStatistic.objects.filter(statistic="psi", value__isnull=False).order_by("-value", "subject"),
        to_attr="psi",
    )
    batches = {b.version_id: b for b in MonitoringBatch.objects.filter(_latest_batches(latest)).prefetch_related(psi)}
    rows = []
    for deployment in live:
        version = deployment.version
        batch = batches.get(version.pk)
        config = getattr(version, "monitor", None)
        protected = tuple((config.spec or {}).get("protected") or ()) if config else ()
        worst = batch.psi[0] if batch is not None and batch.psi else None
        rows.append(DriftRow(deployment, version, batch, _outcome(batch, protected), worst))
    charted: list[tuple[DriftRow, DriftStatistic]] = []
    seen: set[int] = set()
    for row in rows:  # one bar per version (a version live in two environments has one latest batch)
        if row.worst is not None and row.version.pk not in seen:
            seen.add(row.version.pk)
            charted.append((row, row.worst))
    chart = ""
    if charted:
        chart = stacked_bars(
            [
                (
                    f"{row.version.model.name} v{row.version.number}",
                    [(worst.value or 0.0) if _level(worst.level) == level else 0.0 for level, _, _ in PSI_LEVELS],
                )
                for row, worst in charted
            ],
            segments=[(label, colour) for _, label, colour in PSI_LEVELS],
            title="Highest population stability index in each deployed version's latest batch",
            number_format="{:.3f}",
        )
    return {"rows": rows, "chart": chart}


PSI_LEVELS = (  # (level, legend, colour); a level the monitoring stores that is none of these is "not judged"
    ("ok", "ok", "#009E73"),
    ("warning", "warning", "#E69F00"),
    ("alert", "alert", "#D55E00"),
    ("other", "not judged", "#BBBBBB"),
)


def _level(level: str) -> str:
    return level if level in {"ok", "warning", "alert"} else "other"


def _outcome(batch: MonitoringBatch | None, protected: tuple[str, ...]) -> str:
    if batch is None:
        return ""
    results = batch.results or {}
    return batch_outcome(
        batch.status, alerts=batch.alerts, warnings=batch.warnings, results=results, protected=protected
    )


def _latest_batches(latest: dict[int, int]) -> Q:
    """The batches numbered ``latest[version]`` of each version (none when ``latest`` is empty)."""
    query = Q(pk__in=[])
    for version_id, number in latest.items():
        query |= Q(version_id=version_id, number=number)
    return query
