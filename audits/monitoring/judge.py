"""A batch's statistics judged by a policy's ``monitoring`` thresholds (pure: plain values in, plain values out).

- PSI of a feature, the decisions (``(prediction)``), the score (``(score)``) or the label (``(label)``): above
  ``psi_alert`` an alert, above ``psi_warning`` a warning; but on fewer rows than the policy's ``min_batch_rows``
  the level is ``insufficient_evidence`` whatever the value (PSI's sampling noise grows as the batch shrinks: by
  chance alone a one-row batch is "drift"), reported, never an alert, a warning or a pass.
- Live fairness: judged by the audits' disparate-impact check, with ``impact_ratio_alert`` as its threshold. The
  level of a group is read from the row's ``status`` and ``passes``, as the check decided them (exact fractions of
  the counts, the threshold's operator), never from a second comparison of the float ratio: one rule. A judged
  group whose impact ratio does not meet it (``passes`` false) is an alert; the reference group and a judged group
  that passes are ``ok``; a group the check does not judge (too small, or compared with a reference that is, or
  with an undefined rate), or a row that does not say how it was judged, is ``insufficient_evidence``, reported,
  never an alert and never a pass; an excluded group is reported (``info``). The unknown, excluded, insufficient
  and undefined facts are kept in ``evidence["group_facts"]`` and said in ``evidence["reason"]``, from
  ``audits.checks.facts.group_facts``: the same facts, in the same words, as the audits' gate and reports.
- Performance decay (labels known): the baseline's figure minus the batch's; above ``accuracy_drop_alert`` (and
  ``recall_drop_alert``, ``roc_auc_drop_alert`` when the policy sets them) an alert; on fewer labelled rows than
  ``min_batch_rows``, ``insufficient_evidence`` (one wrong decision is not a 100-point fall in accuracy).

A batch's outcome (``batch_outcome``) is ``alert`` when it raised one, else ``insufficient_evidence`` when any part
of it could not be judged (``evidence_gaps``: too few rows or labelled rows for the policy's ``min_batch_rows``, a
configured protected column absent from the batch, live fairness the disparate-impact check could not judge, groups
below the minimum group size or with undefined rates, as ``group_facts`` says them), else ``warning``, else ``ok``:
a batch is ``ok`` only when every part it was configured for was judged and passed.

Only alerts open findings; warnings are kept in the results, the time series and the ``monitoring.batch_checked``
event. Each alert names a ``cause`` that does not mention the batch, so a shift that persists keeps one open
finding (later batches add to it) until a person resolves it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from audits.checks.base import exact_threshold
from audits.checks.facts import group_facts

ALERT, WARNING, OK, INSUFFICIENT, INFO = "alert", "warning", "ok", "insufficient_evidence", "info"
PREDICTION, SCORE, LABEL = "(prediction)", "(score)", "(label)"
DROPS = (("accuracy", "accuracy_drop_alert"), ("recall", "recall_drop_alert"), ("roc_auc", "roc_auc_drop_alert"))


@dataclass
class Alert:
    """One crossed threshold."""

    level: str  # alert or warning
    kind: str  # the finding kind: drift_alert, fairness_alert, performance_alert
    subject: str
    statistic: str
    value: float
    threshold: float
    basis: Mapping[str, Any] | None
    title: str
    cause: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Judgement:
    alerts: list[Alert]
    warnings: list[Alert]
    statistics: list[dict[str, Any]]  # {subject, kind, statistic, value, p_value, level}
    # {min_batch_rows, rows, drift: "sufficient" | "insufficient_evidence", reason, basis}: kept in the results
    evidence: dict[str, Any] = field(default_factory=dict)


def cause_for(*parts: str) -> str:
    """``monitoring:<parts>``, at most 200 characters (long names are shortened with a hash, still unique)."""
    cause = "monitoring:" + ":".join(parts)
    if len(cause) <= 200:
        return cause
    return cause[:130] + "#" + hashlib.sha256(cause.encode()).hexdigest()


def _value(thresholds: Mapping[str, Any], key: str) -> float | None:
    entry = thresholds.get(key)
    return None if entry is None else float(entry["value"])


def _basis(thresholds: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    entry = thresholds.get(key)
    return None if entry is None else dict(entry.get("basis") or {})


def _evidence(results: Mapping[str, Any], thresholds: Mapping[str, Any]) -> dict[str, Any]:
    minimum = _value(thresholds, "min_batch_rows")
    rows = int(results.get("rows") or 0)
    enough = minimum is None or rows >= minimum
    evidence: dict[str, Any] = {
        "min_batch_rows": None if minimum is None else int(minimum),
        "rows": rows,
        "drift": "sufficient" if enough else INSUFFICIENT,
        "basis": _basis(thresholds, "min_batch_rows"),
    }
    reasons = []
    if not enough:
        reasons.append(
            f"The batch has {rows} rows, fewer than the policy's min_batch_rows ({minimum:g}): drift statistics are "
            "reported but not judged (insufficient_evidence: no alert, no warning, no pass)."
        )
    performance = results.get("performance")
    if performance:
        labelled = int(performance.get("rows") or 0)
        evidence["labelled_rows"] = labelled
        evidence["performance"] = "sufficient" if minimum is None or labelled >= minimum else INSUFFICIENT
        if evidence["performance"] == INSUFFICIENT:
            reasons.append(
                f"{labelled} rows have labels, fewer than min_batch_rows ({minimum:g}): performance decay is "
                "reported but not judged."
            )
    evidence["reason"] = " ".join(reasons)
    return evidence


def judge(results: Mapping[str, Any], *, thresholds: Mapping[str, Any], baseline: Mapping[str, Any]) -> Judgement:
    """Levels for every statistic of a batch, and the alerts and warnings among them."""
    alerts: list[Alert] = []
    warnings: list[Alert] = []
    rows: list[dict[str, Any]] = []
    psi_alert, psi_warning = _value(thresholds, "psi_alert"), _value(thresholds, "psi_warning")
    minimum = _value(thresholds, "min_batch_rows")
    evidence = _evidence(results, thresholds)

    def drift(subject: str, kind: str, stats: Mapping[str, Any] | None) -> None:
        if not stats:
            return
        psi = stats.get("psi")
        counted = stats.get("rows")
        counted = evidence["rows"] if counted is None else int(counted)
        level = OK
        if psi is not None and minimum is not None and counted < minimum:
            level = INSUFFICIENT
        elif psi is not None and psi_alert is not None and psi > psi_alert:
            level = ALERT
        elif psi is not None and psi_warning is not None and psi > psi_warning:
            level = WARNING
        rows.append(
            {"subject": subject, "kind": kind, "statistic": "psi", "value": psi, "p_value": None, "level": level}
        )
        if stats.get("kind") == "numeric":
            rows.append(_info(subject, kind, "ks", stats.get("ks"), stats.get("ks_p_value")))
            rows.append(_info(subject, kind, "mean_shift_sd", stats.get("mean_shift_in_reference_sd")))
        else:
            rows.append(_info(subject, kind, "chi2", stats.get("chi2"), stats.get("chi2_p_value")))
        rows.append(_info(subject, kind, "js_distance", stats.get("js_distance")))
        if level in (ALERT, WARNING):
            key = "psi_alert" if level == ALERT else "psi_warning"
            limit = psi_alert if level == ALERT else psi_warning
            what = {"feature": f"feature {subject!r}", "prediction": "the decisions", "score": "the score"}.get(
                kind, "the labels"
            )
            found = Alert(
                level=level,
                kind="drift_alert",
                subject=subject,
                statistic="psi",
                value=float(psi or 0.0),
                threshold=float(limit or 0),
                basis=_basis(thresholds, key),
                title=f"Drift in {what}: PSI {psi:.3f} above {limit:g}",
                cause=cause_for("psi", kind, subject),
                details={"ks": stats.get("ks"), "ks_p_value": stats.get("ks_p_value"), "chi2": stats.get("chi2")},
            )
            (alerts if level == ALERT else warnings).append(found)

    for name, stats in (results.get("features") or {}).items():
        drift(name, "feature", stats)
    drift(PREDICTION, "prediction", results.get("prediction"))
    drift(SCORE, "score", results.get("score"))
    drift(LABEL, "label", results.get("label"))
    _fairness(results.get("fairness"), thresholds, alerts, rows, evidence)
    _performance(results.get("performance"), thresholds, baseline, alerts, rows)
    gaps = evidence_gaps({**results, "evidence": evidence})
    evidence["insufficient"] = gaps
    evidence["status"] = INSUFFICIENT if gaps else "sufficient"
    missing = [gap["reason"] for gap in gaps if gap["missing"] == "protected column"]
    if missing:
        evidence["reason"] = " ".join([evidence["reason"], *missing]).strip()
    return Judgement(alerts=alerts, warnings=warnings, statistics=rows, evidence=evidence)


def _info(subject: str, kind: str, statistic: str, value: Any, p_value: Any = None) -> dict[str, Any]:
    return {"subject": subject, "kind": kind, "statistic": statistic, "value": value, "p_value": p_value, "level": INFO}


# The level of a live-fairness group the check did not judge, by its status (audits.checks.disparate_impact).
_NOT_JUDGED_LEVELS = {
    "insufficient_small_group": INSUFFICIENT,
    "undefined": INSUFFICIENT,
    "excluded_small_group": INFO,
    "excluded_below_share": INFO,
}


def _level(group: Mapping[str, Any]) -> str:
    """A live-fairness group's level from its row as the disparate-impact check judged it (status and passes)."""
    status = group.get("status")
    if status in _NOT_JUDGED_LEVELS:
        return _NOT_JUDGED_LEVELS[status]
    if status == "reference" or (status == "judged" and group.get("passes") is True):
        return OK
    if status == "judged" and group.get("passes") is False:
        return ALERT
    return INSUFFICIENT  # a row that does not say how it was judged is never a pass


def _fails_as(fairness: Mapping[str, Any], minimum: Any) -> str:
    """The threshold a failing ratio did not meet, in the operator's words (``is below 0.8``), as the check says it."""
    limit = exact_threshold(
        fairness.get("thresholds") or {}, "impact_ratio_min", default_operator=">=", default=float(minimum or 0.8)
    )
    assert limit is not None  # a default is given
    return limit.fails_as


def _fairness(
    fairness: Mapping[str, Any] | None,
    thresholds: Mapping[str, Any],
    alerts: list[Alert],
    rows: list[dict[str, Any]],
    evidence: dict[str, Any],
) -> None:
    if not fairness:
        return
    facts = group_facts(fairness)
    evidence["group_facts"] = facts
    if facts:
        said = "Live fairness, groups not judged: " + "; ".join(fact["reason"].rstrip(".") for fact in facts) + "."
        evidence["reason"] = f"{evidence['reason']} {said}".strip()
    minimum = fairness.get("impact_ratio_min")
    for grouping in fairness.get("groupings", []):
        groups = grouping["groups"]
        reference = next((g for g in groups if g["reference"]), None)
        for group in groups:
            subject = f"group:{group['group']}"
            rows.append(_info(subject, "group", "selection_rate", group["selection_rate"]))
            rows.append(_info(subject, "group", "count", group["count"]))
            ratio = group.get("impact_ratio")
            level = _level(group)
            rows.append({**_info(subject, "group", "impact_ratio", ratio, group.get("p_value")), "level": level})
            if level == ALERT:
                alerts.append(
                    Alert(
                        level=ALERT,
                        kind="fairness_alert",
                        subject=subject,
                        statistic="impact_ratio",
                        value=float(ratio or 0.0),
                        threshold=float(minimum or 0.0),
                        basis=_basis(thresholds, "impact_ratio_alert"),
                        title=(
                            f"Live fairness: {group['group']} impact ratio {ratio:.3f} against "
                            f"{grouping['reference_group']} {_fails_as(fairness, minimum)}"
                        ),
                        cause=cause_for("impact_ratio", group["group"]),
                        details={
                            "selection_rate": group["selection_rate"],
                            "count": group["count"],
                            "reference_group": grouping["reference_group"],
                            "reference_selection_rate": reference["selection_rate"] if reference else None,
                            "p_value": group.get("p_value"),
                            "test": group.get("test"),
                        },
                    )
                )


def _performance(
    performance: Mapping[str, Any] | None,
    thresholds: Mapping[str, Any],
    baseline: Mapping[str, Any],
    alerts: list[Alert],
    rows: list[dict[str, Any]],
) -> None:
    if not performance:
        return
    minimum = _value(thresholds, "min_batch_rows")
    labelled = int(performance.get("rows") or 0)
    for metric, key in DROPS:
        value = performance.get(metric)
        rows.append(_info("performance", "performance", metric, value))
        reference, limit = baseline.get(metric), _value(thresholds, key)
        if value is None or reference is None:
            continue
        drop = float(reference) - float(value)
        if minimum is not None and labelled < minimum:
            level = INSUFFICIENT
        else:
            level = ALERT if limit is not None and drop > limit else OK
        rows.append({**_info("performance", "performance", f"{metric}_drop", drop), "level": level})
        if level == ALERT:
            alerts.append(
                Alert(
                    level=ALERT,
                    kind="performance_alert",
                    subject="performance",
                    statistic=f"{metric}_drop",
                    value=drop,
                    threshold=float(limit or 0),
                    basis=_basis(thresholds, key),
                    title=f"Performance decay: {metric} {value:.3f}, {drop:.3f} below the baseline {reference:.3f}",
                    cause=cause_for("performance", metric),
                    details={"baseline": reference, "value": value, "baseline_source": baseline.get("source")},
                )
            )


# --- what a batch could not judge, and its outcome -------------------------------------------------------------------

# The live-fairness outcomes of the disparate-impact check that are a judgement; any other is not (never a pass).
_JUDGED_FAIRNESS = ("pass", "fail")
# The group facts (audits.checks.facts) that leave live fairness short of evidence; excluded groups are the
# policy's own decision (with its justification) and unknown rows count only when the check could not judge.
_GAP_FACTS = {"insufficient": "group rows", "undefined": "defined rates"}


def evidence_gaps(results: Mapping[str, Any], *, protected: Sequence[str] = ()) -> list[dict[str, str]]:
    """What a checked batch could not judge for want of evidence, each ``{"part", "missing", "reason"}``.

    ``results`` are a batch's stored results (their ``evidence`` as :func:`judge` wrote it, ``fairness`` as the
    disparate-impact check returned it, ``protected_missing`` as ``batch.compute`` found it). ``protected`` is the
    configuration's protected columns, for results stored before ``protected_missing`` was: a batch configured
    with protected columns that has no live fairness is missing them. ``missing`` names what is missing: ``rows``,
    ``labelled rows``, ``protected column``, ``group rows``, ``defined rates`` or ``known protected values``.
    Small groups and undefined rates are read from :func:`audits.checks.facts.group_facts`, the audits' rule."""
    evidence = results.get("evidence") or {}
    gaps: list[dict[str, str]] = []
    minimum = evidence.get("min_batch_rows")
    if evidence.get("drift") == INSUFFICIENT:
        gaps.append(
            {
                "part": "drift",
                "missing": "rows",
                "reason": f"Drift: the batch has {evidence.get('rows')} rows, fewer than the policy's "
                f"min_batch_rows ({minimum}).",
            }
        )
    if evidence.get("performance") == INSUFFICIENT:
        gaps.append(
            {
                "part": "performance",
                "missing": "labelled rows",
                "reason": f"Performance: {evidence.get('labelled_rows')} rows have labels, fewer than the policy's "
                f"min_batch_rows ({minimum}).",
            }
        )
    fairness = results.get("fairness")
    absent = results.get("protected_missing")
    if absent is None:
        absent = [] if fairness else list(protected)
    gaps.extend(
        {
            "part": "fairness",
            "missing": "protected column",
            "reason": f"Live fairness: the batch has no column {name!r} (a protected attribute of the monitoring "
            "configuration), so fairness by it is not judged.",
        }
        for name in absent
    )
    if fairness:
        judged = fairness.get("outcome") in _JUDGED_FAIRNESS
        facts = group_facts(fairness)
        for fact in facts:
            missing = _GAP_FACTS.get(fact["kind"])
            if missing is None and fact["kind"] == "unknown" and not judged:
                missing = "known protected values"
            if missing:
                gaps.append({"part": "fairness", "missing": missing, "reason": f"Live fairness: {fact['reason']}."})
        if not judged and not any(gap["part"] == "fairness" and gap["missing"] != "protected column" for gap in gaps):
            gaps.append(
                {
                    "part": "fairness",
                    "missing": "group rows",
                    "reason": f"Live fairness: {fairness.get('reason') or 'not judged by the check'}",
                }
            )
    return gaps


def batch_outcome(
    status: str, *, alerts: int, warnings: int, results: Mapping[str, Any] | None, protected: Sequence[str] = ()
) -> str:
    """A batch's outcome for every surface (batch list, version panel, API, trail): the check's state while it is
    not checked (``pending``, ``running``, ``error``); once checked ``alert``, else ``insufficient_evidence`` when
    :func:`evidence_gaps` finds any, else ``warning``, else ``ok``. Never ``ok`` for a part that was not judged."""
    if status != "checked":
        return status
    if alerts:
        return ALERT
    if evidence_gaps(results or {}, protected=protected):
        return INSUFFICIENT
    return WARNING if warnings else OK
