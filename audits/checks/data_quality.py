"""Data quality (EU AI Act Art. 10): the evaluation dataset's profile and its groups' representation.

- ``max_missing_fraction``: every column's missing fraction (from the upload profile: its missing count over the
  rows, exactly) at most this;
- ``min_group_share``: every protected group at least this share of the rows (all rows of the data), judged exactly
  (the group's count over the rows, as a fraction, against the policy's decimal with its operator);
- ``declared_population_shares`` (``{source, shares: {attribute: {group: share}}, max_abs_difference}``): each
  group's share of the rows whose category is known within ``max_abs_difference`` of the share declared for the
  population served (a population's declared categories have no "unknown" among them).

Groups are the group checks' (``audits.checks.groups``): rows whose value is unknown (an empty cell, or a token the
column roles declare) are in no group, never held to ``min_group_share``; their number and share are reported per
attribute under ``unknown`` (6 RCNY 5-301 states the unknown category's number separately).

No profile (an external dataset) or no threshold at all is insufficient evidence for a required check.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from audits.checks.base import (
    FAIL,
    INSUFFICIENT,
    PASS,
    Check,
    CheckContext,
    CheckOutcome,
    Threshold,
    exact,
    exact_threshold,
    finite,
    threshold,
)
from audits.checks.groups import groupings


class DataQualityCheck(Check):
    name = "data_quality"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        failures: list[str] = []
        unsure: list[str] = []
        judged = 0
        profile = dict(evaluation.profile or {})
        missing_limit = exact_threshold(settings, "max_missing_fraction", default_operator="<=")
        missing = {name: entry.get("fraction") for name, entry in (profile.get("missing") or {}).items()}
        if missing_limit is not None:
            judged += 1
            _judge_missing(profile, missing_limit, failures, unsure)
        counts, unknown = _group_counts(evaluation)
        rows = int(evaluation.rows or len(evaluation.y_pred))
        shares = {
            attribute: {value: finite(count / rows) for value, count in found.items()}
            for attribute, found in counts.items()
        }
        share_min = exact_threshold(settings, "min_group_share", default_operator=">=")
        if share_min is not None:
            judged += 1
            for attribute, found in counts.items():
                for group, count in sorted(found.items()):
                    share = Fraction(count, rows)
                    if not share_min.passes(share):
                        # "at least 15.0%": the pass condition's words (passes_as) with the value as a percentage.
                        condition = share_min.passes_as.rsplit(" ", 1)[0]
                        failures.append(
                            f"{attribute}={group} is {float(share):.1%} of the rows ({condition} {share_min.value:.1%})"
                        )
        population = settings.get("declared_population_shares") or {}
        gap_limit = threshold(population, "max_abs_difference")
        known_shares = {
            attribute: {value: count / sum(found.values()) for value, count in found.items()}
            for attribute, found in counts.items()
        }
        comparison = _compare_population(population, known_shares, failures, unsure)
        if population and gap_limit is not None:
            judged += 1
        details = {
            "missing_fraction": missing,
            "duplicate_rows": profile.get("duplicate_rows"),
            "label_balance": profile.get("label"),
            "group_shares": shares,
            "group_counts": counts,
            "group_shares_exact": {
                attribute: {value: exact(Fraction(count, rows)) for value, count in found.items()}
                for attribute, found in counts.items()
            },
            "unknown": unknown,
            "population_comparison": comparison,
            "thresholds": {
                key: limit.as_json()
                for key, limit in (("max_missing_fraction", missing_limit), ("min_group_share", share_min))
                if limit is not None
            },
            "population_source": population.get("source"),
            "max_abs_difference": gap_limit,
        }
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if unsure:
            return self.outcome(INSUFFICIENT, "; ".join(unsure) + ".", **details)
        if not judged:
            return self.outcome(PASS, "Reported only: the policy sets no data-quality threshold.", **details)
        return self.outcome(PASS, "The data meets every data-quality threshold.", **details)


def _group_counts(evaluation: Any) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """Per protected attribute, each known category's count (by its value), and the attribute's unknown rows
    (``{count, share, share_exact}``), grouped as the group checks group them."""
    counts: dict[str, dict[str, int]] = {}
    unknown: dict[str, Any] = {}
    for grouping in groupings(evaluation, intersections=False):
        (attribute,) = grouping.columns
        counts[attribute] = {
            str(label[0]): int(n) for label, n in zip(grouping.counts.groups.labels, grouping.counts.n, strict=True)
        }
        unknown[attribute] = grouping.unknown_summary()
    return counts, unknown


def _compare_population(
    population: Mapping[str, Any], shares: dict[str, dict[str, float]], failures: list[str], unsure: list[str]
) -> list[dict[str, Any]]:
    """Each declared group's share in the data against its declared share in the population."""
    gap_limit = threshold(population, "max_abs_difference")
    comparison = []
    for attribute, groups in sorted((population.get("shares") or {}).items()):
        if attribute not in shares:
            unsure.append(f"a population share is declared for {attribute!r}, which is not a protected column")
            continue
        for group, expected in sorted(groups.items()):
            observed = shares[attribute].get(str(group), 0.0)
            comparison.append(
                {"attribute": attribute, "group": str(group), "declared": expected, "observed": finite(observed)}
            )
            if gap_limit is not None and abs(observed - float(expected)) > gap_limit:
                failures.append(
                    f"{attribute}={group} is {observed:.1%} of the data against {float(expected):.1%} of the "
                    f"population (at most {gap_limit:.1%} apart)"
                )
    return comparison


def _judge_missing(profile: Mapping[str, Any], limit: Threshold, failures: list[str], unsure: list[str]) -> None:
    """Each column's missing fraction against ``limit``: exactly (its missing count over the profile's rows) when the
    profile has both counts, else as the fraction the profile recorded."""
    if not profile:
        unsure.append("the dataset has no profile (it was not uploaded to Assay), so missing values are unknown")
    rows = profile.get("rows")
    condition = limit.passes_as.rsplit(" ", 1)[0]  # "at most"
    for name, entry in sorted((profile.get("missing") or {}).items()):
        count, fraction = entry.get("count"), entry.get("fraction")
        if isinstance(count, int) and isinstance(rows, int) and rows > 0:
            measured: Fraction | None = Fraction(count, rows)
        elif isinstance(fraction, int | float):
            measured = Fraction(fraction)
        else:
            measured = None
        if measured is not None and not limit.passes(measured):
            failures.append(f"column {name!r} is {float(measured):.1%} missing ({condition} {limit.value:.1%})")
